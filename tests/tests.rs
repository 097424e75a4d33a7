//! preflight's integration tests: one binary (link once), one module per
//! behaviour. Tests drive the built binary as a user would, against real
//! servers and, for PID 1, under `unshare --pid --fork --mount-proc`.

mod support;

/// Bad input: exit 2 with one line naming the value.
mod cli_errors;

/// The child starts clean: mask, dispositions, descriptors, group, terminal.
mod init_child;
/// --exec and --pdeathsig.
mod init_exec;
/// The command's exit status, 128+N for a signal, 127/126 when it cannot start.
mod init_exit;
/// Shared by the init tests: the testkit, PID 1 under unshare, handshakes.
mod init_harness;
/// A hook under init: leftovers live on, timeout, TERM reported.
mod init_hooks;
/// Zombies are reaped, orphans re-parented to preflight (subreaper).
mod init_reap;
/// After the command: TERM, --grace, KILL for what is left; --kill-after.
mod init_shutdown;
/// Every signal reaches the child as sent: group, --single-child, --rewrite.
mod init_signals;
