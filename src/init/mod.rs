//! The synchronous PID-1 core: spawn, forward signals, reap, shut down.
//! (Not written yet.)

pub mod signals;
mod sys;

use std::ffi::OsString;
use std::io;
use std::time::Duration;

use crate::config::InitOptions;
use crate::exit_code::Status;
use crate::user::Credentials;

/// What to run.
#[derive(Debug, Clone)]
pub struct Command {
    pub argv: Vec<OsString>,
    /// The child's whole environment.
    pub env: Vec<(OsString, OsString)>,
    /// Drop to this user in the child (`--user`).
    pub credentials: Option<Credentials>,
}

/// The main command, or a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// When it exits, every process left gets TERM, `grace`, KILL.
    Main,
    /// When it exits, leftovers are left running (and reaped when they end);
    /// `timeout` kills it.
    Hook { timeout: Option<Duration> },
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
}

/// Why a child could not be started: `exit_code::for_exec_error` maps it.
#[derive(Debug)]
pub struct SpawnError {
    pub program: String,
    pub err: io::Error,
}

/// Start `cmd` and supervise it until it (and, for [`Role::Main`], everything
/// it left) is gone. Called from the main thread, with signals blocked, no
/// other thread running.
pub fn run(cmd: &Command, role: Role, opts: &InitOptions) -> Result<Ended, SpawnError> {
    let _ = (cmd, role, opts);
    todo!("init core")
}

/// Replace preflight with `cmd` (`--exec`); returns only on failure.
pub fn exec(cmd: &Command, opts: &InitOptions) -> SpawnError {
    let _ = (cmd, opts);
    todo!("exec")
}

/// Register as child subreaper (Linux) unless PID 1 or opted out.
pub fn prepare(opts: &InitOptions) {
    let _ = opts;
}
