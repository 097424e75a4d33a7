//! The phases in the order they happen: configure, wait, hooks, run.
//!
//! 1. Signals are blocked before any thread exists (threads inherit the mask),
//!    so none is lost between phases; each phase takes them in its own way.
//!    The binary does it ([`init::start`]) before parsing the arguments.
//! 2. Everything that can be wrong with the configuration fails here, with
//!    exit 2, before anything is waited on or started.
//! 3. Waiting (and taking `--lock`) runs on a single-threaded tokio runtime,
//!    built only when there is something to wait for and dropped before any
//!    hook or the command starts: supervising needs no runtime.
//! 4. `--lock` is taken after waiting succeeded, on a runtime of its own that
//!    is dropped before the first hook; the lock's socket is held while the
//!    hooks run and closed before the command starts.
//! 5. Templates are rendered after waiting, before the lock and the hooks
//!    (all of them in memory first: nothing is written if one fails).
//! 6. Hooks, then the command, run under the synchronous init core.
//! 7. One line tells where the start-up time went ([`Timeline`]), when the
//!    command starts or when the start-up stops.

use std::time::Duration;

use tracing::{error, info, warn};

use crate::config::{self, Config, Env, Expansion, Mode, OnTimeout};
use crate::exit_code::{self, Status};
use crate::init::{self, Role};
use crate::lock::{self, LockError};
use crate::target::Target;
use crate::timeline::{Outcome, Step, Timeline};
use crate::user::{self, Credentials};
use crate::wait::{self, WaitOutcome, Waited};

/// Run preflight; returns the process's exit code. [`init::start`] came
/// first, before the arguments were parsed and before any thread: see the
/// module doc.
pub fn run(cli: crate::cli::Cli) -> u8 {
    // Built once, from the command line, the environment and the
    // `NAME_FILE` secrets it names.
    let config = match Config::from_args(cli, &Env::from_process(), config::secret_files::read_file)
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("preflight: {e}");
            return exit_code::USAGE;
        }
    };
    // Every secret it learned is masked in every line from here on, and
    // scrubbed from the arguments `/proc/PID/cmdline` shows.
    crate::secrets::register(config.secrets.iter().map(|s| s.expose()));
    let known = crate::secrets::known();
    init::scrub_args(&known.iter().map(|s| s.as_bytes()).collect::<Vec<_>>());
    crate::logging::init(&config.log_filter, config.log_format);
    for warning in &config.warnings {
        warn!("{warning}");
    }

    match config.mode {
        Mode::Check => check(&config),
        Mode::Wait => {
            let (result, waited) = wait_phase(&config);
            if config.json {
                let (targets, took) = waited.map(|w| (w.targets, w.took)).unwrap_or_default();
                println!("{}", wait::json_summary(result.is_ok(), took, &targets));
            }
            result.err().unwrap_or(exit_code::OK)
        }
        Mode::Run => run_all(&config),
    }
}

/// `preflight check`: one try each, 0 if all are ready now, 1 if not.
fn check(config: &Config) -> u8 {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let targets = config.probe_targets();
    let start = std::time::Instant::now();
    let reports = runtime.block_on(wait::check_all(&targets, config.wait.try_timeout));
    let took = start.elapsed();
    // A lookup or stat stuck in the blocking pool must not hold up the answer.
    runtime.shutdown_timeout(Duration::from_millis(100));
    let mut all_ready = true;
    for report in &reports {
        match &report.last {
            None => info!("{} is ready", report.name),
            Some(reason) => {
                all_ready = false;
                error!("{} is not ready: {reason}", report.name);
            }
        }
    }
    if config.json {
        println!("{}", wait::json_summary(all_ready, took, &reports));
    }
    if all_ready {
        exit_code::OK
    } else {
        exit_code::NOT_READY
    }
}

/// Wait for every target; Err carries the exit code to stop with. The
/// report of where each target stood comes back either way (None when there
/// was nothing to wait for).
fn wait_phase(config: &Config) -> (Result<(), u8>, Option<Waited>) {
    if config.targets.is_empty() && config.sleep_before.is_zero() && config.sleep_after.is_zero() {
        return (Ok(()), None);
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return (Err(code), None),
    };
    let (outcome, waited) = runtime.block_on(async {
        if let Err(sig) = pause(config.sleep_before, "WAIT_BEFORE").await {
            return (WaitOutcome::Interrupted(sig), None);
        }
        let (outcome, waited) = if config.targets.is_empty() {
            (WaitOutcome::Ready, None)
        } else {
            let mut waited = wait::wait_all(
                &config.probe_targets(),
                &config.wait,
                wait::interrupt::terminating(),
            )
            .await;
            let outcome = std::mem::replace(&mut waited.outcome, WaitOutcome::Ready);
            (outcome, Some(waited))
        };
        if matches!(outcome, WaitOutcome::Ready) {
            if let Err(sig) = pause(config.sleep_after, "WAIT_AFTER").await {
                return (WaitOutcome::Interrupted(sig), waited);
            }
        }
        (outcome, waited)
    });
    // Blocking DNS lookups may still sit in tokio's pool: don't wait for them.
    runtime.shutdown_timeout(Duration::from_millis(100));
    (judge(config, outcome), waited)
}

/// What a wait's outcome means for the start: its lines, and the code to
/// stop with.
fn judge(config: &Config, outcome: WaitOutcome) -> Result<(), u8> {
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

/// docker-compose-wait's sleeps; Err(signal) if a terminating one comes first.
async fn pause(d: Duration, why: &str) -> Result<(), i32> {
    if d.is_zero() {
        return Ok(());
    }
    info!("sleeping {:.1}s ({why})", d.as_secs_f64());
    tokio::select! {
        () = tokio::time::sleep(d) => Ok(()),
        sig = wait::interrupt::terminating() => Err(sig),
    }
}

/// wait → lock → hooks → command.
fn run_all(config: &Config) -> u8 {
    // Everything that can be wrong is found before anything is waited on.
    let credentials = match config.user.as_deref().map(credentials).transpose() {
        Ok(c) => c,
        Err(e) => {
            error!("{e}");
            return exit_code::USAGE;
        }
    };
    let child_env = child_env(&config.child_secrets, credentials.as_ref());
    let path = match &child_env {
        Some(env) => env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone()),
        None => std::env::var_os("PATH"),
    };
    let hooks =
        match crate::hooks::plan(config.hooks_dir.as_deref(), &config.hooks, path.as_deref()) {
            Ok(h) => h,
            Err(e) => {
                error!("{e}");
                return e.code;
            }
        };

    let mut timeline = Timeline::new(
        std::time::Instant::now(),
        hooks.iter().map(ToString::to_string).collect(),
        config.command.is_some(),
    );
    let stop = |timeline: &mut Timeline, phase: &'static str, code: u8| {
        timeline.stopped_in(phase);
        code
    };
    let (waited_ok, waited) = wait_phase(config);
    if let Some(w) = waited {
        timeline.push(Step::Wait(w.targets, w.took));
    }
    if let Err(code) = waited_ok {
        return stop(&mut timeline, "the wait", code);
    }
    if !config.templates.is_empty() {
        let owner = credentials.as_ref().map(|c| (c.uid, c.gid));
        if let Err(e) = render_templates(&config.templates, owner, &mut timeline) {
            error!("{e}");
            return stop(&mut timeline, "the templates", exit_code::USAGE);
        }
    }
    let lock = match &config.lock {
        None => None,
        Some(target) => {
            let started = std::time::Instant::now();
            let taken = lock_phase(config, target);
            timeline.push(Step::Lock(started.elapsed()));
            match taken {
                Ok(socket) => Some(socket),
                Err(code) => return stop(&mut timeline, "the lock", code),
            }
        }
    };

    init::prepare(&config.init);
    let mut cmd = init::Command {
        argv: Vec::new(),
        env: child_env,
        credentials,
    };
    // The lock's connection is watched while the hooks run: losing it stops
    // them (see `lock`).
    let lock_lost = init::Stop::new();
    let held = lock.zip(config.lock.as_ref()).map(|(socket, target)| {
        let what = format!("lock '{}' on {target}", config.lock_name);
        lock::Held::watch(socket, what, lock_lost.clone())
    });
    let hooks_ran = crate::hooks::run_all(
        &hooks,
        &cmd,
        config.hook_timeout,
        held.as_ref().map(|_| &lock_lost),
        &config.init,
        &mut |hook, took, code| {
            timeline.push(Step::Hook {
                name: hook.to_string(),
                took,
                code,
            })
        },
    );
    if let Some(held) = held {
        if let Err(reason) = held.release() {
            error!(
                "lock '{}' was lost while the hooks ran ({reason}): another replica may have \
                 run them meanwhile; exiting {} so that this one starts again",
                config.lock_name,
                exit_code::NOT_READY
            );
            return stop(&mut timeline, "the lock", exit_code::NOT_READY);
        }
        info!("lock '{}' released", config.lock_name);
    }
    if let Err(code) = hooks_ran {
        return stop(&mut timeline, "a hook", code);
    }

    if config.init.several.is_active() {
        // Side programs, --log-prefix or --tail: the several-program
        // supervisor (one command alone stays on the cheaper one below).
        let main = config.command.clone().map(|argv| init::Command {
            argv,
            ..cmd.clone()
        });
        return match init::run_several(main.as_ref(), &cmd, &config.init) {
            Ok(status) => remap(status.code(), &config.init.remap_exit),
            Err(e) => {
                error!("{e}");
                e.exit_code()
            }
        };
    }
    let Some(argv) = config.command.clone() else {
        timeline.log(Outcome::Done);
        return exit_code::OK;
    };
    timeline.log(Outcome::Started);
    if let Some(hint) = crate::hooks::shell_hint(&argv) {
        warn!("the command: {hint}");
    }
    cmd.argv = argv;
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

/// Render every template (the directories listed now), each step timed.
fn render_templates(
    plan: &crate::config::TemplatesPlan,
    owner: Option<(u32, u32)>,
    timeline: &mut Timeline,
) -> Result<(), crate::values::BadValue> {
    let mut all = plan.files.clone();
    for (dir, out) in &plan.dirs {
        all.extend(crate::templates::from_dir(dir, out)?);
    }
    let lookup = |name: &str| plan.env.get(name).map(str::to_string);
    for written in crate::templates::render_all(&all, &lookup, owner)? {
        info!("template rendered to {}", written.dest.display());
        timeline.push(Step::Template {
            dest: written.dest.display().to_string(),
            took: written.took,
        });
    }
    Ok(())
}

/// `--user`: resolved, and only when preflight can switch users.
fn credentials(spec: &str) -> Result<Credentials, String> {
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        return Err(format!(
            "--user '{spec}': preflight runs as uid {euid}, not root, so it cannot switch users"
        ));
    }
    user::resolve(spec)
}

/// The environment of hooks and command: preflight's own (variables that are
/// not UTF-8 included), with the secrets read from files, and the user's HOME.
/// `None` when that is preflight's own environment unchanged (the common
/// case): the child then inherits it as it is, without a copy.
fn child_env(
    secrets: &Expansion,
    credentials: Option<&Credentials>,
) -> Option<Vec<(std::ffi::OsString, std::ffi::OsString)>> {
    let home = credentials.and_then(|c| c.home.as_ref());
    if secrets.is_empty() && home.is_none() {
        return None;
    }
    let mut env = secrets.apply_os(std::env::vars_os().collect());
    if let Some(home) = home {
        env.retain(|(k, _)| k != "HOME");
        env.push(("HOME".into(), home.clone().into_os_string()));
    }
    Some(env)
}

/// Take `--lock` under the wait's timeout, on a runtime dropped on return.
fn lock_phase(config: &Config, target: &Target) -> Result<std::net::TcpStream, u8> {
    let name = &config.lock_name;
    let runtime = runtime()?;
    let result = runtime.block_on(lock::acquire(
        &config.from_env.complete(target),
        name,
        config.lock_timeout,
        config.wait.try_timeout,
        wait::interrupt::terminating(),
    ));
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(socket) => {
            info!("lock '{name}' taken on {target}");
            Ok(socket)
        }
        Err(LockError::TimedOut(last)) => {
            let last = last.unwrap_or_else(|| "no answer from the server yet".into());
            let after = config.lock_timeout.unwrap_or_default();
            error!(
                "timed out after {} (--lock-timeout) taking lock '{name}' on {target}: {last}",
                humantime::format_duration(after)
            );
            Err(exit_code::TIMED_OUT)
        }
        Err(LockError::Failed(reason)) => {
            error!("cannot take lock '{name}' on {target}: {reason}");
            Err(exit_code::NOT_READY)
        }
        Err(LockError::Interrupted(sig)) => {
            info!("stopped by signal {sig} while taking the lock; nothing was started");
            Err(Status::Signaled(sig).code())
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
            error!(
                "cannot start the async runtime: {}",
                crate::describe::io_error(&e)
            );
            exit_code::INTERNAL
        })
}
