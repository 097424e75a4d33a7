//! Plain TCP: the connection is accepted = ready.
//!
//! Sends nothing. Resolves the name anew and races every address it has
//! ([`net::connect`]); a name that does not resolve yet is
//! [`ProbeError::NameNotResolved`], a refusal is [`ProbeError::Connect`].
//! The socket is closed at once.
//!
//! Deliberately not checked: that anything speaks behind the port. A
//! docker-proxy publishing a port for a container that is not up yet accepts
//! and closes, and counts as ready here: use a protocol probe (`postgres://`,
//! `redis://`, `http://`...) when one exists.

use crate::target::Target;

use super::{ProbeError, net};

#[derive(Debug, Clone)]
pub struct Tcp {
    host: String,
    port: u16,
}

impl Tcp {
    pub fn new(target: &Target) -> Self {
        Tcp {
            host: target.host.clone(),
            port: target.port,
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let stream = net::connect(&self.host, self.port).await?;
        drop(stream);
        Ok(())
    }
}
