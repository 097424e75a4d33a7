//! Reaping: every ended child, the command's and orphans re-parented to us.

use tracing::{debug, warn};

use crate::exit_code::Status;
use crate::sys::{self, Reaped};

/// What a drain found.
#[derive(Debug, Default)]
pub struct Drained {
    /// The watched child's status, if it was reaped now.
    pub watched: Option<Status>,
    /// No child of ours is left at all (ECHILD): nothing more to wait for.
    pub none_left: bool,
}

/// Reap every child that has ended, without blocking, and note the watched
/// one's status. Call on each SIGCHLD: signals coalesce (one pending SIGCHLD
/// stands for any number of ended children), so one signal must be answered
/// by `waitpid(-1, WNOHANG)` until it says "none ended" or "no children",
/// never by a single `waitpid`.
///
/// `gone` is told each reaped pid (so the caller can forget it).
pub fn drain(watched: i32, mut gone: impl FnMut(i32)) -> Drained {
    let mut out = Drained::default();
    loop {
        match sys::reap_one() {
            Ok(Reaped::Child(pid, status)) => {
                if pid == watched {
                    out.watched = Some(status);
                } else {
                    debug!(pid, ?status, "reaped");
                }
                gone(pid);
            }
            Ok(Reaped::Running) => return out,
            Ok(Reaped::NoChildren) => {
                out.none_left = true;
                return out;
            }
            Err(e) => {
                // Not expected (only EINVAL exists besides ECHILD/EINTR).
                // Don't spin: the next SIGCHLD brings us back.
                warn!("cannot reap: {e}");
                return out;
            }
        }
    }
}

/// Reap every child that has ended, without blocking, telling `ended`
/// each one (pid, status); see [`drain`] for why it loops. True when no
/// child is left at all.
pub fn drain_all(mut ended: impl FnMut(i32, Status)) -> bool {
    loop {
        match sys::reap_one() {
            Ok(Reaped::Child(pid, status)) => ended(pid, status),
            Ok(Reaped::Running) => return false,
            Ok(Reaped::NoChildren) => return true,
            Err(e) => {
                warn!("cannot reap: {e}");
                return false;
            }
        }
    }
}
