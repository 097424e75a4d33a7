//! (File probe: not written yet.)

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct File {
    target: Target,
}

impl File {
    pub fn new(target: &Target) -> Self {
        File {
            target: target.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let _ = &self.target;
        todo!("file probe")
    }
}
