//! (Postgres probe: not written yet.)

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct Postgres {
    target: Target,
}

impl Postgres {
    pub fn new(target: &Target) -> Self {
        Postgres {
            target: target.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let _ = &self.target;
        todo!("postgres probe")
    }
}
