//! preflight's integration tests: one binary (link once), one module per
//! behaviour. Tests drive the built binary as a user would, against real
//! servers and, for PID 1, under `unshare --pid --fork --mount-proc`.

mod support;

/// Bad input: exit 2 with one line naming the value.
mod cli_errors;

/// PostgreSQL probe and --lock: real servers in every state, fake peers.
mod postgres;

/// Environment, secrets and docker-compose-wait variables; bad values stop the start.
mod config_env;
/// Hooks: order, failure, signals and timeout.
mod hooks;
/// `--lock`: replicas run their hooks one at a time; the socket never leaks.
mod lock;
/// `--user`: hooks and command run as another user, with its groups and HOME.
mod user;
