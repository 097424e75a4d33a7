//! preflight's integration tests: one binary (link once), one module per
//! behaviour. Tests drive the built binary as a user would, against real
//! servers and, for PID 1, under `unshare --pid --fork --mount-proc`.

mod support;

/// Bad input: exit 2 with one line naming the value.
mod cli_errors;

/// The MySQL/MariaDB probe and `--lock`: real servers, fake peers.
mod mysql;

/// The Redis probe: PING/AUTH/SELECT, -LOADING behind -NOAUTH, fake peers.
mod redis;

/// The AMQP probe: Connection.Start, the optional login, fake peers.
mod amqp;
