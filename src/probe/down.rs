//! Waiting until a target is down (`#down`): the inverse of its probe.
//!
//! One try runs the target's own probe once. Its failure, whatever it is,
//! is this probe's success: a refused or reset connection, a name that does
//! not resolve (any more), a file that is gone, a server answering "not
//! yet" or "shutting down", a fatal answer (a server that no longer lets
//! us in is not serving). Its success is "not yet": the target still
//! serves. A try that does not end before its deadline (a peer that
//! accepts and says nothing) is "not yet" too, as for every probe: some
//! process still holds the port.
//!
//! Uses: an old instance gone before a new one starts (`tcp://old:8080#down`),
//! a lock file removed (`file:///run/app.lock#down`), a port released.

use crate::target::Target;

use super::{Probe, ProbeError};

#[derive(Debug, Clone)]
pub struct Down {
    inner: Box<Probe>,
}

impl Down {
    pub fn new(target: &Target) -> Self {
        Down {
            inner: Box::new(Probe::of(target)),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        match Box::pin(self.inner.check()).await {
            Ok(()) => Err(ProbeError::NotReady(
                "still up (waiting until it is down)".into(),
            )),
            Err(e) => {
                tracing::debug!("down: {e}");
                Ok(())
            }
        }
    }
}
