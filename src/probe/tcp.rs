//! (Tcp probe: not written yet.)

use crate::target::Target;

use super::ProbeError;

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
        let _ = &self.target;
        todo!("tcp probe")
    }
}
