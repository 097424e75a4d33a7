//! File (`file:///tmp/ready`): the path exists = ready.
//!
//! One `stat` (following symlinks, so a dangling link is "not yet"); any
//! kind of file counts, a directory too. A missing path is
//! [`ProbeError::NotReady`] naming it.
//!
//! The `stat` runs on tokio's blocking pool rather than inline: on a stale
//! NFS or FUSE mount it can block for minutes, and inline it would freeze
//! every other probe and the wait's deadline with it. Dropped at the
//! deadline, the try is abandoned and its thread finishes on its own.
//!
//! Deliberately not checked: the file's content, size or age.

use std::io;
use std::path::PathBuf;

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct File {
    path: PathBuf,
}

impl File {
    pub fn new(target: &Target) -> Self {
        File {
            path: PathBuf::from(&target.path),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let path = self.path.clone();
        let stat = tokio::task::spawn_blocking(move || std::fs::metadata(path))
            .await
            .map_err(|e| ProbeError::io("stat")(io::Error::other(e.to_string())))?;
        match stat {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ProbeError::NotReady(format!(
                "no such file: {}",
                self.path.display()
            ))),
            Err(err) => Err(ProbeError::Io { about: "stat", err }),
        }
    }
}
