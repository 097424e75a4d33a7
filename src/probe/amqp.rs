//! (Amqp probe: not written yet.)

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct Amqp {
    target: Target,
}

impl Amqp {
    pub fn new(target: &Target) -> Self {
        Amqp {
            target: target.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let _ = &self.target;
        todo!("amqp probe")
    }
}
