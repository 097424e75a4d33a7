//! (Redis probe: not written yet.)

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct Redis {
    target: Target,
}

impl Redis {
    pub fn new(target: &Target) -> Self {
        Redis {
            target: target.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let _ = &self.target;
        todo!("redis probe")
    }
}
