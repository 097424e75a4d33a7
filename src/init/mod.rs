//! The synchronous PID-1 core: spawn, forward signals, reap, shut down.
//!
//! # Theory of operation
//!
//! Every signal is blocked from the first line of `main` on
//! ([`signals::block_all`]), so nothing is lost between phases: a signal sent
//! while the command is being started is pending, and is forwarded as soon
//! as the child exists. [`run`] starts the child in its own process group
//! with a clean state (empty mask, default dispositions, the terminal's
//! foreground if preflight had it; see [`sys::ChildSetup`]), then sleeps in
//! `sigwaitinfo` on the whole set, on one thread, with no timer: it wakes
//! only when a signal comes. `sigtimedwait` is used only while a deadline is
//! pending (a hook's timeout, `--kill-after`, the shutdown's `--grace`).
//!
//! - SIGCHLD: reap every ended child ([`reap::drain`]), the command's and
//!   any orphan re-parented to us (as PID 1, or as a child subreaper).
//! - Anything else that [`signals::forwarded`] allows: rewrite it
//!   (`--rewrite`), then send it to the child alone (`--signal-group`: its
//!   process group). A program that manages workers (celery, gunicorn)
//!   stops them gracefully itself when its master gets TERM; workers that
//!   get TERM from us directly die mid-task. A `sh -c 'a; b'` wrapper that
//!   dies of TERM leaves `a`, which the shutdown below stops.
//! - When the command ([`Role::Main`]) exits, every process still left gets
//!   TERM: the whole PID namespace (`kill(-1)`) when we are PID 1, else the
//!   command's group and each child re-parented to us; either way also each
//!   process re-parented to us later (a daemon started on TERM, whose
//!   parent then ended), once. After `--grace`, KILL,
//!   with one line naming what was still running.
//!   Preflight returns as soon as it has no child left, at once if there was
//!   none. A hook ([`Role::Hook`]) is only waited for: see [`Role`].
//!
//! # Failing
//!
//! Before the child exists, fail fast: any error is returned ([`SpawnError`])
//! and nothing is left behind. After, log and go on: preflight is the
//! container's PID 1, and if it dies everything dies with it, so nothing in
//! the supervision loop may return early or panic on an error (no `?` there).
//! Errors known to be harmless are named and downgraded where they happen
//! (ESRCH from `kill`: the process just ended, its SIGCHLD is on the way;
//! ENOTTY/ENXIO from `tcsetpgrp`: no usable terminal).

pub mod options;
mod output;
mod procs;
mod reap;
mod restart;
mod several;
pub mod signals;
mod spawn;
mod subreaper;
mod supervise;
mod tail;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::warn;

use crate::exit_code::{self, Status};
use crate::sys;
use crate::user::Credentials;

pub use options::{InitOptions, Program, Restart, Several};

/// How a child ended, for log lines: `exited with status 3`, `killed by
/// SIGTERM`, `killed by SIGRTMIN+3`.
pub fn describe(status: Status) -> String {
    match status {
        Status::Exited(code) => format!("exited with status {code}"),
        Status::Signaled(sig) => format!("killed by {}", signals::Name(sig)),
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Command {
    pub argv: Vec<OsString>,
    /// The child's whole environment; `None`: preflight's own, inherited as
    /// it is.
    pub env: Option<Vec<(OsString, OsString)>>,
    /// Drop to this user in the child (`--user`).
    pub credentials: Option<Credentials>,
}

/// The main command, or a hook.
#[derive(Debug, Clone)]
pub enum Role {
    /// When it exits, every process left gets TERM, `grace`, KILL.
    Main,
    /// When it exits, leftovers are left running (and reaped when they end);
    /// `timeout` kills it (TERM to its group, `grace`, KILL).
    ///
    /// Leftovers live on because `/docker-entrypoint.d` scripts may start
    /// helpers on purpose (a log shipper, a `socat` forwarder) for the
    /// command to use. They are our children by then (re-parented), so the
    /// command's shutdown stops them like its own leftovers.
    ///
    /// `stop`, when another thread requests it, ends the hook as `timeout`
    /// does (`--lock` losing its connection).
    Hook {
        timeout: Option<Duration>,
        stop: Option<Stop>,
    },
}

/// Another thread's request to end a running hook (TERM to its group,
/// `grace`, KILL). Clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Ask; from any thread. The supervisor sleeps in `sigwaitinfo`, so it
    /// is woken with a SIGCHLD of preflight's own: harmless (the reap drain
    /// finds nothing), and a signal it always takes.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
        let _ = sys::kill(std::process::id() as i32, libc::SIGCHLD);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a supervised child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub status: Status,
    /// A terminating signal (TERM, INT, HUP, QUIT) was forwarded to it: for a
    /// hook, no further hook and no command may start.
    pub terminating_signal: Option<i32>,
    /// Killed because its timeout passed (hooks).
    pub timed_out: bool,
    /// Ended because its [`Stop`] was requested (hooks).
    pub stopped: bool,
}

/// Why a child could not be started: [`SpawnError::exit_code`] says how
/// preflight exits then.
#[derive(Debug)]
pub struct SpawnError {
    pub program: String,
    pub err: io::Error,
    /// A terminating signal arrived while the child was being started: exit
    /// 128+N, as if the command had died of it.
    pub signal: Option<i32>,
}

impl SpawnError {
    fn new(program: &OsString, err: io::Error) -> SpawnError {
        SpawnError {
            program: program.to_string_lossy().into_owned(),
            err,
            signal: None,
        }
    }

    /// 127 not found, 126 cannot execute, 128+N if signal N came meanwhile.
    pub fn exit_code(&self) -> u8 {
        match self.signal {
            Some(sig) => Status::Signaled(sig).code(),
            None => exit_code::for_exec_error(&self.err),
        }
    }
}

/// `cannot run 'foo': not found`.
impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.err.raw_os_error() {
            Some(libc::ENOENT) => "not found".to_string(),
            Some(libc::EACCES) => "permission denied (not executable?)".to_string(),
            Some(libc::ENOEXEC) => "not an executable file format".to_string(),
            _ => {
                let s = self.err.to_string();
                match s.find(" (os error") {
                    Some(i) => s[..i].to_string(),
                    None => s,
                }
            }
        };
        write!(f, "cannot run '{}': {why}", self.program)?;
        if let Some(sig) = self.signal {
            write!(f, " (and {} arrived meanwhile)", signals::Name(sig))?;
        }
        Ok(())
    }
}

impl std::error::Error for SpawnError {}

/// The first thing preflight does, before parsing its arguments: what it
/// needs of std's own start-up, which its binary skips (see `main.rs`), and
/// every signal blocked ([`signals::block_all`]).
///
/// - Descriptors 0, 1 and 2 that are closed are opened on /dev/null.
/// - std ignores SIGPIPE; blocked does the same for preflight (a write to a
///   closed pipe fails with EPIPE and kills nothing), and the child gets it
///   back at its default.
/// - std's stack-overflow handler is not installed: `block_all` used to
///   reset it to the default at once anyway.
pub fn start() {
    sys::sanitize_standard_fds();
    signals::block_all();
}

pub use sys::{args, scrub_args};

/// Start `cmd` and supervise it until it (and, for [`Role::Main`], everything
/// it left) is gone. Called from the main thread, with signals blocked, no
/// other thread running.
pub fn run(cmd: &Command, role: Role, opts: &InitOptions) -> Result<Ended, SpawnError> {
    let setup = sys::ChildSetup {
        new_group: true,
        take_terminal: true,
        credentials: credentials(cmd),
        pdeathsig: opts
            .pdeathsig
            .filter(|_| !is_pid1())
            .map(|sig| (sig, std::process::id() as i32)),
    };
    let child = match spawn::spawn(cmd, setup) {
        Ok(pid) => pid,
        Err(mut e) => {
            e.signal = signals::take_pending_terminating();
            return Err(e);
        }
    };
    Ok(supervise::Supervisor::new(child, role, opts, is_pid1()).run())
}

/// Start the main command (if any) and the side programs of
/// `opts.several`, and supervise them all until everything has ended (see
/// `several.rs`); the status preflight exits with. `base` gives every
/// program its environment and user. Called like [`run`].
pub fn run_several(
    main: Option<&Command>,
    base: &Command,
    opts: &InitOptions,
) -> Result<Status, SpawnError> {
    several::run(main, base, opts, is_pid1())
}

/// Replace preflight with `cmd` (`--exec`); returns only on failure. The
/// command gets preflight's pid, an empty mask and default dispositions; it
/// stays in preflight's process group.
pub fn exec(cmd: &Command, opts: &InitOptions) -> SpawnError {
    let setup = sys::ChildSetup {
        new_group: false,
        take_terminal: false,
        credentials: credentials(cmd),
        // Set again after the uid change, which clears it.
        pdeathsig: opts
            .pdeathsig
            .filter(|_| !is_pid1())
            .map(|sig| (sig, nix::unistd::getppid().as_raw())),
    };
    let mut e = spawn::exec(cmd, setup);
    e.signal = signals::take_pending_terminating();
    e
}

/// Register as child subreaper (Linux) unless PID 1 or opted out, and set
/// `--pdeathsig` on preflight itself: when its parent dies, the signal is
/// pending for preflight and forwarded to the child like any other (the
/// child also gets it set, for when preflight itself dies).
pub fn prepare(opts: &InitOptions) {
    if is_pid1() {
        return;
    }
    // With --exec the command inherits the attribute: don't.
    if opts.subreaper && !opts.exec {
        if let Err(e) = subreaper::register() {
            warn!("cannot register as child subreaper, orphans will not be reaped: {e}");
        }
    }
    if let Some(sig) = opts.pdeathsig {
        if let Err(e) = sys::set_own_pdeathsig(sig) {
            warn!("cannot set --pdeathsig: {e}");
        }
    }
}

fn is_pid1() -> bool {
    std::process::id() == 1
}

fn credentials(cmd: &Command) -> Option<(libc::uid_t, libc::gid_t, Vec<libc::gid_t>)> {
    cmd.credentials
        .as_ref()
        .map(|c| (c.uid, c.gid, c.groups.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_end_reads_with_the_signal_name_real_time_ones_too() {
        assert_eq!(describe(Status::Exited(3)), "exited with status 3");
        assert_eq!(
            describe(Status::Signaled(libc::SIGKILL)),
            "killed by SIGKILL"
        );
        assert_eq!(
            describe(Status::Signaled(libc::SIGRTMIN() + 3)),
            "killed by SIGRTMIN+3"
        );
    }
}
