//! The phases in the order they happen: configure, wait, hooks, run.
//!
//! 1. Signals are blocked before any thread exists (threads inherit the mask),
//!    so none is lost between phases; each phase takes them in its own way.
//! 2. Everything that can be wrong with the configuration fails here, with
//!    exit 2, before anything is waited on or started.
//! 3. Waiting (and taking `--lock`) runs on a single-threaded tokio runtime,
//!    built only when there is something to wait for and dropped before any
//!    hook or the command starts: supervising needs no runtime.
//! 4. Hooks, then the command, run under the synchronous init core.

use std::time::Duration;

use tracing::{error, info};

use crate::config::{Config, Env, Mode, OnTimeout};
use crate::exit_code::{self, Status};
use crate::init::{self, Role};
use crate::wait::{self, WaitOutcome};

/// Run preflight; returns the process's exit code.
pub fn run(cli: crate::cli::Cli) -> u8 {
    // Before anything else, and before any thread: see the module doc.
    init::signals::block_all();

    let env = Env::from_process();
    let config = match Config::from_args(cli, &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("preflight: {e}");
            return exit_code::USAGE;
        }
    };
    crate::logging::init(&config.log_filter, config.log_format);

    match config.mode {
        Mode::Check => check(&config),
        Mode::Wait => match wait_phase(&config) {
            Ok(()) => exit_code::OK,
            Err(code) => code,
        },
        Mode::Run => run_all(&config, &env),
    }
}

/// `preflight check`: one try each, 0 if all are ready now, 1 if not.
fn check(config: &Config) -> u8 {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let results = runtime.block_on(wait::check_all(&config.targets, config.wait.try_timeout));
    let mut all_ready = true;
    for (target, result) in config.targets.iter().zip(results) {
        match result {
            Ok(()) => info!("{target} is ready"),
            Err(e) => {
                all_ready = false;
                error!("{target} is not ready: {e}");
            }
        }
    }
    if all_ready {
        exit_code::OK
    } else {
        exit_code::NOT_READY
    }
}

/// Wait for every target; Err carries the exit code to stop with.
fn wait_phase(config: &Config) -> Result<(), u8> {
    if config.targets.is_empty() {
        return Ok(());
    }
    let runtime = runtime()?;
    let outcome = runtime.block_on(wait::wait_all(
        &config.targets,
        &config.wait,
        init::signals::terminating(),
    ));
    // Blocking DNS lookups may still sit in tokio's pool: don't wait for them.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match outcome {
        WaitOutcome::Ready => Ok(()),
        WaitOutcome::TimedOut(pending) => {
            for (target, reason) in &pending {
                error!("timed out waiting for {target}: {reason}");
            }
            match config.wait.on_timeout {
                OnTimeout::Fail => Err(exit_code::TIMED_OUT),
                OnTimeout::Continue => {
                    info!("going on anyway (--on-timeout continue)");
                    Ok(())
                }
            }
        }
        WaitOutcome::Failed { target, reason } => {
            error!("{target} can never be ready: {reason}");
            Err(exit_code::NOT_READY)
        }
        WaitOutcome::Interrupted(sig) => {
            info!("stopped by signal {sig} while waiting; nothing was started");
            Err(Status::Signaled(sig).code())
        }
    }
}

/// wait → hooks → command.
fn run_all(config: &Config, env: &Env) -> u8 {
    if let Err(code) = wait_phase(config) {
        return code;
    }
    init::prepare(&config.init);
    let child_env: Vec<_> = env.iter().map(|(k, v)| (k.into(), v.into())).collect();
    let Some(argv) = config.command.clone() else {
        return exit_code::OK;
    };
    let cmd = init::Command {
        argv,
        env: child_env,
        credentials: None,
    };
    if config.init.exec {
        let e = init::exec(&cmd, &config.init);
        error!("{e}");
        return e.exit_code();
    }
    match init::run(&cmd, Role::Main, &config.init) {
        Ok(ended) => remap(ended.status.code(), &config.init.remap_exit),
        Err(e) => {
            error!("{e}");
            e.exit_code()
        }
    }
}

/// `--remap-exit FROM:TO`, first match wins.
fn remap(code: u8, table: &[(u8, u8)]) -> u8 {
    table
        .iter()
        .find(|(from, _)| *from == code)
        .map_or(code, |(_, to)| *to)
}

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| {
            error!("cannot start the async runtime: {e}");
            exit_code::USAGE
        })
}
