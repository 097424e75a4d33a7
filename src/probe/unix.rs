//! (Unix probe: not written yet.)

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct Unix {
    target: Target,
}

impl Unix {
    pub fn new(target: &Target) -> Self {
        Unix {
            target: target.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let _ = &self.target;
        todo!("unix probe")
    }
}
