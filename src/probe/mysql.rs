//! (Mysql probe: not written yet.)

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct Mysql {
    target: Target,
}

impl Mysql {
    pub fn new(target: &Target) -> Self {
        Mysql {
            target: target.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let _ = &self.target;
        todo!("mysql probe")
    }
}
