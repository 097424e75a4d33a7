//! Signal names and sets. (Forwarding lists: not written yet.)

use nix::sys::signal::SigSet;

/// Parse a signal: a name with or without `SIG` (`TERM`, `SIGTERM`, any case),
/// a number (`15`), or a real-time one (`RTMIN`, `RTMIN+3`, `RTMAX-1`).
/// `0` is accepted (for `--rewrite X:0`, which drops X).
pub fn parse(s: &str) -> Result<i32, String> {
    let bad = || format!("'{s}' is not a signal name or number, like TERM, SIGQUIT, 15 or RTMIN+1");
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (0..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')
                .and_then(|n| n.parse::<i32>().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMIN() + off;
        return if n <= libc::SIGRTMAX() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')
                .and_then(|n| n.parse::<i32>().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMAX() - off;
        return if n >= libc::SIGRTMIN() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let full = format!("SIG{name}");
    full.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| bad())
}

/// Signals that end preflight's own work (waiting) at once.
pub const TERMINATING: [i32; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// Block every signal in the calling (main) thread, before any other thread
/// exists: threads inherit the mask, so every signal stays pending until
/// preflight takes it (with a signalfd while waiting, `sigwaitinfo` while
/// supervising). Blocked signals are queued even for PID 1, which drops
/// signals that have no handler. KILL and STOP cannot be blocked; a SEGV that
/// preflight itself causes is still fatal (the kernel forces it).
pub fn block_all() {
    let _ = SigSet::all().thread_block();
}

/// Resolves with the number of the first terminating signal (TERM, INT, HUP,
/// QUIT) that arrives; any other signal is taken and dropped (nothing runs
/// yet to forward it to). Needs [`block_all`] first, and a tokio runtime.
/// If no signalfd can be had, it never resolves (waiting still ends by its
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

    use nix::sys::signal::SigSet;
    use nix::sys::signalfd::{SfdFlags, SignalFd};

    pub async fn terminating() -> io::Result<i32> {
        let fd = SignalFd::with_flags(
            &SigSet::all(),
            SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
        )?;
        let fd = crate::init::sys::async_signalfd(fd)?;
        loop {
            let mut guard = fd.readable().await?;
            match guard.get_inner().read_signal() {
                Ok(Some(info)) => {
                    let sig = info.ssi_signo as i32;
                    if super::TERMINATING.contains(&sig) {
                        return Ok(sig);
                    }
                    tracing::debug!(
                        sig,
                        "signal while waiting: nothing to forward it to, dropped"
                    );
                }
                Ok(None) => guard.clear_ready(),
                Err(e) => return Err(e.into()),
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_realtime_signals_parse() {
        assert_eq!(parse("TERM"), Ok(libc::SIGTERM));
        assert_eq!(parse("sigquit"), Ok(libc::SIGQUIT));
        assert_eq!(parse("15"), Ok(15));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("RTMIN+2"), Ok(libc::SIGRTMIN() + 2));
        assert_eq!(parse("SIGRTMAX"), Ok(libc::SIGRTMAX()));
        assert!(parse("NOPE").unwrap_err().contains("'NOPE'"));
        assert!(parse("99").is_err());
    }
}
