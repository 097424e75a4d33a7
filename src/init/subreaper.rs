//! Child subreaper: when preflight is not PID 1 (`docker run --init`, a
//! laptop shell, a Kubernetes pod sharing its PID namespace), orphans of the
//! command are re-parented to the nearest subreaper instead of the real
//! init, so preflight can still reap them and stop them at shutdown. One
//! function; Linux has it (`PR_SET_CHILD_SUBREAPER`), elsewhere it is a no-op
//! and orphans go to the system's init as usual.

use std::io;

/// Become the reaper of our descendants' orphans.
pub fn register() -> io::Result<()> {
    imp::register()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    pub fn register() -> std::io::Result<()> {
        nix::sys::prctl::set_child_subreaper(true).map_err(Into::into)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    pub fn register() -> std::io::Result<()> {
        Ok(())
    }
}
