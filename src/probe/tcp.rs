//! Plain TCP: ready when a connection is accepted.
//!
//! THROWAWAY body from the `wait` branch, so the scheduler's integration tests
//! and benchmarks can run; the tcp probe of the http/tcp branch replaces it.

use crate::target::Target;

use super::{ProbeError, net};

#[derive(Debug, Clone)]
pub struct Tcp {
    target: Target,
}

impl Tcp {
    pub fn new(target: &Target) -> Self {
        Tcp {
            target: target.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        net::connect(&self.target.host, self.target.port)
            .await
            .map(drop)
    }
}
