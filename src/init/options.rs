//! How the command (and each hook) is run and supervised: the init core's
//! whole input besides the command itself. Built by `config` from flags and
//! variables; `init/` reads it and never looks at the configuration.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// How the command (and each hook) is run and supervised.
#[derive(Debug, Clone, PartialEq)]
pub struct InitOptions {
    /// Forward signals to the child's process group (`--signal-group`), not
    /// to the child alone (the default).
    pub signal_group: bool,
    /// (from, to) signal numbers; to == 0 drops the signal.
    pub rewrites: Vec<(i32, i32)>,
    pub remap_exit: Vec<(u8, u8)>,
    pub grace: Duration,
    pub kill_after: Option<Duration>,
    pub subreaper: bool,
    pub pdeathsig: Option<i32>,
    pub exec: bool,
    /// Side programs and their output: see [`Several`].
    pub several: Several,
}

impl InitOptions {
    /// What `sig` becomes under `--rewrite` (0: dropped); itself if no rule
    /// names it.
    pub fn rewritten(&self, sig: i32) -> i32 {
        self.rewrites
            .iter()
            .find(|(from, _)| *from == sig)
            .map_or(sig, |(_, to)| *to)
    }
}

/// Side programs (`--also`, `--procfile`) and what goes with them. All
/// empty or off (the default): one command, supervised as cheaply as ever.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Several {
    pub programs: Vec<Program>,
    pub restart: Restart,
    /// Restarts without [`Several::RESET_AFTER`] of running in between,
    /// after which a side program has failed for good.
    pub max_restarts: u32,
    /// `NAME | ` before each line of every program's output.
    pub log_prefix: bool,
    /// Files copied to stdout as `tail -F` does.
    pub tails: Vec<PathBuf>,
}

impl Several {
    /// A run this long clears a program's restart count.
    pub const RESET_AFTER: Duration = Duration::from_secs(60);
    pub const DEFAULT_MAX_RESTARTS: u32 = 5;

    /// Is there anything beyond the one command to supervise?
    pub fn is_active(&self) -> bool {
        !self.programs.is_empty() || self.log_prefix || !self.tails.is_empty()
    }
}

/// A side program: `NAME: COMMAND`.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// Letters, digits, `-` and `_`.
    pub name: String,
    pub argv: Vec<OsString>,
}

/// `--restart`: is a side program that exited started again?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Exit 0: done (a one-shot); anything else: it failed for good.
    No,
    /// Exit 0: done; anything else: started again.
    #[default]
    OnFailure,
    /// Started again whatever its status.
    Always,
}
