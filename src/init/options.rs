//! How the command (and each hook) is run and supervised: the init core's
//! whole input besides the command itself. Built by `config` from flags and
//! variables; `init/` reads it and never looks at the configuration.

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
}
