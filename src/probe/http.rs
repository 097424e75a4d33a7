//! (Http probe: not written yet.)

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct Http {
    target: Target,
}

impl Http {
    pub fn new(target: &Target) -> Self {
        Http {
            target: target.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let _ = &self.target;
        todo!("http probe")
    }
}
