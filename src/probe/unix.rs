//! Unix socket (`unix:///run/app.sock`): the socket accepts = ready.
//!
//! Sends nothing and closes at once. A path that does not exist yet, or a
//! socket file nobody listens on any more (refused: the server died and left
//! it behind), is "not yet" with that reason.
//!
//! Deliberately not checked: what speaks on the socket.

use std::io;
use std::path::PathBuf;

use tokio::net::UnixStream;

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct Unix {
    path: PathBuf,
}

impl Unix {
    pub fn new(target: &Target) -> Self {
        Unix {
            path: PathBuf::from(&target.path),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        match UnixStream::connect(&self.path).await {
            Ok(stream) => {
                drop(stream);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ProbeError::NotReady(format!(
                "no socket at {} yet",
                self.path.display()
            ))),
            Err(e) => Err(ProbeError::Connect(e)),
        }
    }
}
