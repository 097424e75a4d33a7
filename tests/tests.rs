//! preflight's integration tests: one binary (link once), one module per
//! behaviour. Tests drive the built binary as a user would, against real
//! servers and, for PID 1, under `unshare --pid --fork --mount-proc`.

mod support;

/// Bad input: exit 2 with one line naming the value.
mod cli_errors;
/// http(s) probe against fake servers: statuses, misbehaving peers, TLS certificates.
mod http;
/// tcp, unix and file probes against fake peers: ready, refused, missing.
mod probes_simple;
