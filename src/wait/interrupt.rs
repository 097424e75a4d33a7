//! TERM while waiting ends the wait at once: the one place where signals meet
//! the async runtime.
//!
//! Every signal is blocked from the first line of `main` on (see
//! [`crate::init::signals::block_all`]), so a signal sent while preflight
//! waits stays pending until something takes it. While waiting (and while
//! taking `--lock`, and during `WAIT_BEFORE`/`WAIT_AFTER`) that is a signalfd
//! on tokio's reactor: a terminating signal (TERM, INT, HUP, QUIT) resolves
//! [`terminating`]; any other one is taken and dropped, since nothing runs
//! yet to forward it to. The signalfd is closed with the runtime, before the
//! synchronous supervisor (`init/`) takes signals with `sigwaitinfo`; it
//! never sees a runtime.

use crate::init::signals::TERMINATING;

/// Resolves with the number of the first terminating signal (TERM, INT, HUP,
/// QUIT) that arrives; any other signal is taken and dropped. Needs every
/// signal blocked first, and a tokio runtime with I/O enabled. If no
/// signalfd can be had, it never resolves (waiting still ends by its
/// timeout).
pub async fn terminating() -> i32 {
    match platform::terminating().await {
        Ok(sig) => sig,
        Err(e) => {
            tracing::warn!("cannot watch for signals while waiting: {e}");
            std::future::pending().await
        }
    }
}

#[cfg(target_os = "linux")]
mod platform {
    use std::io;

    pub async fn terminating() -> io::Result<i32> {
        let fd = crate::sys::AsyncSignalFd::new(&crate::init::signals::all())?;
        loop {
            let info = fd.next().await?;
            let sig = info.ssi_signo as i32;
            if super::TERMINATING.contains(&sig) {
                return Ok(sig);
            }
            // preflight's own doing (SIGPIPE from a log line to a closed
            // stderr): not logged, or that line would raise the next one,
            // for ever, and starve the wait's clock.
            if info.ssi_code == libc::SI_USER && info.ssi_pid == std::process::id() {
                continue;
            }
            tracing::debug!(
                sig,
                "signal while waiting: nothing to forward it to, dropped"
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use std::io;

    pub async fn terminating() -> io::Result<i32> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "signalfd is Linux-only",
        ))
    }
}
