//! Signal names, and which signals preflight passes on to the child.
//!
//! # Forwarded
//!
//! Every signal a program can receive: 1 to 31 except the three below (HUP,
//! INT, QUIT, ILL, TRAP, ABRT, BUS, FPE, USR1, SEGV, USR2, PIPE, ALRM, TERM,
//! STKFLT, CONT, TSTP, TTIN, TTOU, URG, XCPU, XFSZ, VTALRM, PROF, WINCH, IO,
//! PWR, SYS), and every real-time one (`SIGRTMIN` to `SIGRTMAX`: 34 to 64,
//! see [`RTMIN`]). A SEGV,
//! ABRT or BUS sent with `kill` is just a message like any other: it is
//! forwarded and never kills preflight (tini and catatonit leave those
//! unblocked, and die of them when they are not PID 1). `--rewrite` may turn
//! one into another, or drop it, on the way.
//!
//! # Never forwarded
//!
//! See [`NEVER_FORWARDED`]; besides those:
//! - a signal the kernel raised because of something *preflight* did (a
//!   write to a closed stderr pipe: PIPE; past `RLIMIT_FSIZE`: XFSZ). Its
//!   sender is preflight itself, and it is not the child's business
//!   (catatonit's `kernel_signals`: "signals that the kernel sends us if *we*
//!   screwed something up");
//! - a fault of preflight's own (SEGV, BUS, ILL, FPE, TRAP, SYS raised by an
//!   instruction): the kernel forces those through the mask and preflight
//!   dies; that is a bug, and nothing to forward;
//! - the C libraries' internal signals, 32 and 33 (glibc's and musl's; musl
//!   also keeps 34, which preflight takes and forwards as glibc's `SIGRTMIN`),
//!   which no program can block, wait for or send on purpose.

use std::fmt;

use nix::sys::signal::SigSet;

/// The first real-time signal as glibc and `kill -l` number it, whichever
/// C library preflight itself is built with (musl's own `SIGRTMIN` is 35):
/// `RTMIN+2` means 36 for every build, as the programs of most images (and
/// the shell sending the signal) count.
pub const RTMIN: i32 = 34;
/// The last real-time signal (Linux: 64).
pub const RTMAX: i32 = 64;

/// Every signal, as a set to block or wait for (musl's own three included:
/// see [`crate::sys`]'s `every_signal`).
pub fn all() -> SigSet {
    crate::sys::every_signal()
}

/// Parse a signal: a name with or without `SIG` (`TERM`, `SIGTERM`, any case),
/// a number (`15`), or a real-time one (`RTMIN`, `RTMIN+3`, `RTMAX-1`).
/// `0` is accepted (for `--rewrite X:0`, which drops X).
pub fn parse(s: &str) -> Result<i32, String> {
    let bad = || format!("'{s}' is not a signal name or number, like TERM, SIGQUIT, 15 or RTMIN+1");
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (0..=RTMAX).contains(&n) {
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
        let n = RTMIN + off;
        return if n <= RTMAX { Ok(n) } else { Err(bad()) };
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')
                .and_then(|n| n.parse::<i32>().ok())
                .ok_or_else(bad)?
        };
        let n = RTMAX - off;
        return if n >= RTMIN { Ok(n) } else { Err(bad()) };
    }
    let full = format!("SIG{name}");
    full.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| bad())
}

/// Signals that end preflight's own work (waiting) at once.
pub const TERMINATING: [i32; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// Signals that are never forwarded, and why.
pub const NEVER_FORWARDED: [(i32, &str); 3] = [
    (
        libc::SIGCHLD,
        "preflight's own news (a child of preflight ended): it reaps; the \
         child gets its own SIGCHLD from its own children",
    ),
    (
        libc::SIGKILL,
        "cannot be caught: it ends preflight at once (as PID 1, only from \
         outside the container)",
    ),
    (libc::SIGSTOP, "cannot be caught: it stops preflight itself"),
];

/// Is `sig` passed on to the child (before `--rewrite`)? See the module doc.
pub fn forwarded(sig: i32) -> bool {
    let rt = (RTMIN..=RTMAX).contains(&sig);
    let classic = (1..=31).contains(&sig) && !NEVER_FORWARDED.iter().any(|(s, _)| *s == sig);
    rt || classic
}

/// `sig` as people write it: `SIGTERM`, `SIGRTMIN+3`, or the bare number.
/// For logs; allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name(pub i32);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sig = self.0;
        let (min, max) = (RTMIN, RTMAX);
        if sig == min {
            f.write_str("SIGRTMIN")
        } else if sig > min && sig <= max {
            write!(f, "SIGRTMIN+{}", sig - min)
        } else {
            match nix::sys::signal::Signal::try_from(sig) {
                Ok(s) => f.write_str(s.as_str()),
                Err(_) => write!(f, "signal {sig}"),
            }
        }
    }
}

/// Block every signal in the calling (main) thread, before any other thread
/// exists: threads inherit the mask, so every signal stays pending until
/// preflight takes it (with a signalfd while waiting, `sigwaitinfo` while
/// supervising). Blocked signals are queued even for PID 1, which drops
/// signals that have no handler. KILL and STOP cannot be blocked; a SEGV that
/// preflight itself causes is still fatal (the kernel forces it).
///
/// Then every disposition goes back to default: a signal ignored by whoever
/// started preflight (`nohup`, a shell's `trap '' INT`) must not stay ignored
/// in the child, which inherits dispositions through fork and exec; and with
/// default dispositions the short window in the child between std emptying
/// the mask and our own setup (see `sys::ChildSetup`) acts as after exec.
/// Preflight itself never runs a handler: blocked signals are only taken.
/// Nor does it set any disposition after this: its children inherit these
/// defaults (`sys::ChildSetup` relies on it and does not reset them again).
pub fn block_all() {
    let _ = all().thread_block();
    crate::sys::reset_dispositions();
}

/// Take a terminating signal (TERM, INT, HUP, QUIT) if one is pending, without
/// waiting: a start that failed while one arrived exits 128+N, as if the
/// command had died of it.
pub fn take_pending_terminating() -> Option<i32> {
    let mut set = SigSet::empty();
    for sig in TERMINATING {
        if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
            set.add(s);
        }
    }
    crate::sys::wait_signal(&set, Some(std::time::Duration::ZERO)).map(|i| i.signo)
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
        assert_eq!(parse("RTMIN+2"), Ok(RTMIN + 2));
        assert_eq!(parse("SIGRTMAX"), Ok(RTMAX));
        assert_eq!(parse("RTMAX-1"), Ok(RTMAX - 1));
        assert_eq!(parse("SIGRTMAX-30"), Ok(RTMIN));
        assert!(parse("RTMAX-31").is_err());
        assert!(parse("RTMIN+31").is_err());
        assert!(parse("NOPE").unwrap_err().contains("'NOPE'"));
        assert!(parse("99").is_err());
    }

    #[test]
    fn every_catchable_signal_but_chld_is_forwarded() {
        for sig in 1..=31 {
            let never = [libc::SIGCHLD, libc::SIGKILL, libc::SIGSTOP].contains(&sig);
            assert_eq!(forwarded(sig), !never, "{}", Name(sig));
        }
        for sig in RTMIN..=RTMAX {
            assert!(forwarded(sig), "{}", Name(sig));
        }
        assert!(!forwarded(0));
        assert!(!forwarded(32));
    }

    #[test]
    fn names_read_like_the_parser_takes_them() {
        for sig in 1..=RTMAX {
            if sig == 32 || sig == 33 {
                continue;
            }
            let name = Name(sig).to_string();
            assert_eq!(parse(&name), Ok(sig), "{name}");
        }
    }
}
