//! preflight: a container entrypoint that waits until dependencies are really
//! ready, runs setup hooks, then runs the real program as a correct PID 1.
//!
//! # Layout
//!
//! - [`cli`]: what clap saw, nothing more.
//! - [`config`]: [`config::Config::from_args`], pure: the command line, the
//!   environment snapshot ([`config::Env`]) and the `NAME_FILE` secrets
//!   (`config::secret_files`) merged and validated, one function per
//!   section; docker-compose-wait's `WAIT_*` variables as a lower layer.
//! - [`values`]: one string → one value (durations, booleans, lists, words);
//!   a leaf that `config` and `target` both use.
//! - [`protocol`]: the registry, one table of schemes, ports and help lines.
//! - [`target`]: a target string → [`target::Target`], exactly what the user
//!   wrote; [`params`]: its query parameters (TLS modes and files);
//!   [`expect`]: the fragment's options that change what "ready"
//!   means ([`pattern`]: the small regex of `#match=`).
//! - [`secrets`]: [`secrets::Secret`], a value that never formats as itself,
//!   and the registry of every secret preflight learned: masked in every
//!   line it writes ([`logging`]), scrubbed from its argv.
//! - [`probe`]: what "ready" means, one module per protocol (+ `net`, `tls`).
//! - [`wait`]: when to try: all targets at once, backoff, deadlines.
//! - [`templates`]: `--template`/`--templates-dir`, config files rendered
//!   from the environment after waiting, written atomically.
//! - [`lock`]: `--lock`, one replica at a time through the hooks.
//! - [`hooks`]: plan and run the hooks, in order, under `init`.
//! - [`timeline`]: the one line that says where the start-up time went.
//! - [`user`]: `--user` resolved to ids, groups and HOME.
//! - [`init`]: the synchronous PID-1 core (spawn, forward, reap, shut down);
//!   its input is [`init::InitOptions`].
//! - `sys`: the one module with `unsafe` (system calls without a safe
//!   binding for `init`; the signalfd `wait` watches on tokio's reactor).
//! - [`logging`]: one line per event on stderr, text or JSON.
//! - [`describe`]: one way to write an I/O error, bytes as hex (a leaf).
//! - [`exit_code`]: the exit-code contract; [`app`]: the phases in order.
//!
//! # Data flow
//!
//! argv → `cli` → `config` (with the environment and the `NAME_FILE`
//! secrets; built once) → `wait` (tokio, current thread) → probes →
//! `templates` → `lock` → runtime dropped → hooks and command (and the
//! side programs) under `init` → exit code; `timeline` hears of each phase. Nothing
//! below `config` reads the process environment for a setting; `values` and
//! `secrets` are leaves that import nothing of preflight.

#![deny(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod describe;
pub mod exit_code;
pub mod expect;
pub mod hooks;
pub mod init;
pub mod lock;
pub mod logging;
pub mod params;
pub mod pattern;
pub mod probe;
pub mod protocol;
pub mod secrets;
mod sys;
pub mod target;
pub mod templates;
pub mod timeline;
pub mod user;
pub mod values;
pub mod wait;
