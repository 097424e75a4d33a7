//! preflight: a container entrypoint that waits until dependencies are really
//! ready, runs setup hooks, then runs the real program as a correct PID 1.
//!
//! # Layout
//!
//! - [`cli`]: what clap saw; [`config`]: merged with the environment and
//!   validated ([`config::Config::from_args`] is pure).
//! - [`protocol`]: the registry, one table of schemes, ports and help lines.
//! - [`target`]: a target string → [`target::Target`].
//! - [`probe`]: what "ready" means, one module per protocol.
//! - [`wait`]: when to try: all targets at once, backoff, deadlines.
//! - [`hooks`], [`lock`], [`secrets`], [`user`]: the preparation phase.
//! - [`init`]: the synchronous PID-1 core (spawn, forward, reap, shut down).
//! - [`exit_code`]: the exit-code contract; [`app`]: the phases in order.
//!
//! # Data flow
//!
//! argv/env → `Config` → `wait` (tokio, current thread) → probes → runtime
//! dropped → hooks and command under `init` → exit code.

#![deny(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod exit_code;
pub mod hooks;
pub mod init;
pub mod lock;
pub mod logging;
pub mod probe;
pub mod protocol;
pub mod secret;
pub mod secrets;
pub mod target;
pub mod user;
pub mod wait;
