//! `Config::from_args`: the command line merged with the environment and the
//! `NAME_FILE` secrets, validated and typed, built once. Pure: it reads
//! neither the process environment nor the file system itself (the caller
//! passes an [`Env`] and the function that reads a secret file), so tests
//! build it freely.
//!
//! Rules: the command line wins over the environment; a list given on the
//! command line replaces the one from the environment; every bad value is a
//! [`BadValue`] naming the flag or variable, the value (never a secret) and
//! what was expected. Nothing falls back to a default silently.
//!
//! One function per section, in the order [`Config::from_args`] calls them:
//! secrets (they complete the environment the rest is read from), targets,
//! waiting, hooks, lock, user and command, init options, logging.
//! docker-compose-wait's `WAIT_*` variables are a lower layer of their own
//! ([`compose_wait`]); how one string becomes one value is [`crate::values`].

mod compose_wait;
mod credentials;
mod env;
pub mod secret_files;
mod several;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use credentials::FromEnv;
pub use env::Env;
pub use secret_files::{CREDENTIAL_VARS, Expansion, SecretsFromFiles};

use crate::cli::{Cli, Deadline, ModeArgs, WaitArgs};
use crate::init::InitOptions;
use crate::secrets::Secret;
use crate::target::{self, Target};
use crate::values::{
    BadValue, pairs, parse_bool, parse_duration, split_hooks, split_list, split_words,
};

/// What preflight does this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// wait → hooks → run the command (the default).
    Run,
    /// `preflight wait`: wait, then exit 0.
    Wait,
    /// `preflight check`: one try each, exit 0 or 1.
    Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    Fail,
    Continue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// How long and how to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitPolicy {
    /// None: wait for ever.
    pub timeout: Option<Duration>,
    pub try_timeout: Duration,
    pub on_timeout: OnTimeout,
    /// A fixed pause between two tries of one target instead of the backoff
    /// (`WAIT_SLEEP_INTERVAL`, docker-compose-wait's meaning); None: backoff.
    pub interval: Option<Duration>,
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_TRY_TIMEOUT: Duration = Duration::from_secs(2);
/// 3 s: `docker stop` KILLs everything 10 s after its TERM, and the
/// command's own graceful stop (a celery task finishing, gunicorn draining
/// its requests) comes before the leftovers' grace: 7 s are left for it.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3);
/// The `--lock` name when none is given.
pub const DEFAULT_LOCK_NAME: &str = "preflight";
/// MySQL's `GET_LOCK` takes names of up to 64 characters.
const MAX_LOCK_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub mode: Mode,
    pub targets: Vec<Target>,
    pub wait: WaitPolicy,
    /// Hooks from --hook / PREFLIGHT_HOOKS, already split into words.
    pub hooks: Vec<Vec<OsString>>,
    pub hooks_dir: Option<PathBuf>,
    pub hook_timeout: Option<Duration>,
    pub lock: Option<Target>,
    pub lock_name: String,
    /// `--lock-timeout`: how long taking the lock may take (None: no limit;
    /// the server frees a dead holder's lock with its connection).
    pub lock_timeout: Option<Duration>,
    /// What the environment adds to the targets and the lock (passwords, CA
    /// file): see [`FromEnv::complete`].
    pub from_env: FromEnv,
    pub user: Option<String>,
    pub secrets_from_files: SecretsFromFiles,
    /// The `NAME_FILE` secrets the child gets as `NAME` (those
    /// `--secrets-from-files` covers), and the `NAME_FILE`s they replace.
    pub child_secrets: Expansion,
    /// Sleeps before and after waiting (docker-compose-wait's `WAIT_BEFORE`,
    /// `WAIT_AFTER`); zero when unset.
    pub sleep_before: Duration,
    pub sleep_after: Duration,
    /// The command's argv; None when there is none (only valid for wait/check
    /// or for hooks alone).
    pub command: Option<Vec<OsString>>,
    pub init: InitOptions,
    /// A `tracing_subscriber::filter::Targets` directive, e.g. `info`.
    pub log_filter: String,
    pub log_format: LogFormat,
    /// Every secret preflight learned (see `secrets`): registered by `app`
    /// to be masked in every line and scrubbed from argv.
    pub secrets: Vec<Secret>,
    /// `--template`s and `--templates-dir`s, rendered after waiting.
    pub templates: TemplatesPlan,
    /// `wait --json` / `check --json`: one JSON object on stdout.
    pub json: bool,
    /// Options given where they do nothing (`check --timeout`): `app` warns
    /// once each, after logging is set up.
    pub warnings: Vec<String>,
}

/// What to render, and the environment to render it from (the process's,
/// completed by the `NAME_FILE` secrets); empty when there is nothing to
/// render, so the common start-up copies nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplatesPlan {
    pub files: Vec<crate::templates::Template>,
    /// `(DIR, OUTDIR)`: listed when rendering, not here (this stays pure).
    pub dirs: Vec<(PathBuf, PathBuf)>,
    pub env: Env,
}

impl TemplatesPlan {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dirs.is_empty()
    }
}

/// Where a value came from, for error messages: `--timeout` or
/// `PREFLIGHT_TIMEOUT`.
struct Source<'a> {
    flag: &'a str,
    var: &'a str,
}

impl Source<'_> {
    /// The command line value, else the variable's; with the name to blame.
    fn pick<'v>(&self, cli: Option<&'v str>, env: &'v Env) -> Option<(&'v str, String)> {
        match cli {
            Some(v) => Some((v, self.flag.to_string())),
            None => env.non_empty(self.var).map(|v| (v, self.var.to_string())),
        }
    }
}

/// `--flag` / `VAR` → the value, or the error blaming the one that was used.
fn blame<T>(name: &str, r: Result<T, String>) -> Result<T, BadValue> {
    r.map_err(|e| BadValue::blame(name, e))
}

impl Config {
    /// The targets as the probes take them: completed by [`FromEnv`].
    pub fn probe_targets(&self) -> Vec<Target> {
        self.targets
            .iter()
            .map(|t| self.from_env.complete(t))
            .collect()
    }

    /// Build the configuration: `env` is the process environment as it was,
    /// `read_file` reads one `NAME_FILE` secret (`std::fs::read` outside
    /// tests).
    pub fn from_args(
        cli: Cli,
        env: &Env,
        read_file: impl Fn(&Path) -> io::Result<Vec<u8>>,
    ) -> Result<Config, BadValue> {
        // `NAME_FILE` secrets first: the rest is read from the environment
        // they complete (`PGPASSWORD_FILE` for the probes,
        // `PREFLIGHT_LOCK_FILE`...).
        let secrets_from_files = secret_files::which(cli.secrets_from_files.as_deref(), env)?;
        not_utf8(env, &secrets_from_files)?;
        let expansion = secret_files::read(env, &secrets_from_files, &read_file)?;
        let child_secrets = expansion.only(&secrets_from_files);
        let env = &expansion.apply(env.clone());

        let (mode, targets) = mode_and_targets(&cli, env)?;
        let (wait, sleep_before, sleep_after) = wait_policy(&cli.wait, &cli.deadline(), env)?;
        let warnings = cli
            .ignored_by_check()
            .into_iter()
            .map(|flag| {
                format!(
                    "check tries each target once: {flag} does nothing here \
                     (the try's deadline is --try-timeout)"
                )
            })
            .collect();
        let (hooks, hooks_dir, hook_timeout) = hooks(&cli, env)?;
        let (lock, lock_name) = lock(&cli, env)?;
        let lock_timeout = optional_duration(
            Source {
                flag: "--lock-timeout",
                var: "PREFLIGHT_LOCK_TIMEOUT",
            },
            cli.lock_timeout.as_deref(),
            env,
        )?
        .filter(|t| !t.is_zero());
        let user = cli
            .user
            .clone()
            .or_else(|| env.non_empty("PREFLIGHT_USER").map(str::to_string));
        let command = command(&cli, env)?;
        let templates = templates(&cli, env)?;
        let several = several::several(&cli, env, &read_file)?;
        if mode == Mode::Run
            && command.is_none()
            && several.programs.is_empty()
            && hooks.is_empty()
            && hooks_dir.is_none()
            && targets.is_empty()
            && templates.is_empty()
        {
            return Err(BadValue::new(
                "nothing to do: expected a COMMAND (after --, or in PREFLIGHT_COMMAND), --wait TARGET, --template, --hook or --also; see --help",
            ));
        }
        let json = match &cli.mode {
            Some(ModeArgs::Wait { json, .. } | ModeArgs::Check { json, .. }) => {
                flag(*json, "PREFLIGHT_JSON", env)?
            }
            None => false,
        };
        if mode != Mode::Run && !cli.command.is_empty() {
            return Err(BadValue::new(format!(
                "unexpected COMMAND with '{}': it only waits or checks",
                if mode == Mode::Wait { "wait" } else { "check" }
            )));
        }
        let init = init_options(&cli, env, several)?;
        if init.exec && init.several.is_active() {
            return Err(BadValue::new(
                "--exec: preflight cannot replace itself with the command and also run side programs, --log-prefix or --tail",
            ));
        }
        let (log_filter, log_format) = logging(&cli.wait, env)?;
        let from_env = FromEnv::for_targets(env, &targets)?;
        let secrets = learned_secrets(&cli, env, &targets, lock.as_ref(), &from_env, &expansion);

        Ok(Config {
            mode,
            targets,
            wait,
            hooks,
            hooks_dir,
            hook_timeout,
            lock,
            lock_name,
            lock_timeout,
            from_env,
            user,
            secrets_from_files,
            child_secrets,
            sleep_before,
            sleep_after,
            command,
            init,
            log_filter,
            log_format,
            templates,
            json,
            secrets,
            warnings,
        })
    }
}

/// Every secret the configuration holds, for `secrets::register`: the
/// passwords of the targets and the lock (decoded, and as written in every
/// URL of the command line, the variables, hooks and command), what the
/// environment adds (`PGPASSWORD`..., header variables), and every
/// `NAME_FILE` read.
fn learned_secrets(
    cli: &Cli,
    env: &Env,
    targets: &[Target],
    lock: Option<&Target>,
    from_env: &FromEnv,
    expansion: &Expansion,
) -> Vec<Secret> {
    let mut out: Vec<Secret> = Vec::new();
    let passwords = targets
        .iter()
        .chain(lock)
        .filter_map(|t| t.password.clone());
    out.extend(passwords);
    let env_secrets = [
        &from_env.pgpassword,
        &from_env.mysql_pwd,
        &from_env.redis_auth,
    ];
    out.extend(env_secrets.into_iter().flatten().cloned());
    out.extend(from_env.header_vars.values().cloned());
    out.extend(expansion.set.iter().map(|(_, v)| v.clone()));
    // URLs as written: a password percent-encoded in the URL is masked in
    // that spelling too.
    let mut texts: Vec<String> = Vec::new();
    if let Some(ModeArgs::Wait { targets, .. } | ModeArgs::Check { targets, .. }) = &cli.mode {
        texts.extend(targets.iter().cloned());
    }
    texts.extend(cli.wait.targets.iter().cloned());
    texts.extend(cli.lock.iter().cloned());
    texts.extend(cli.hooks.iter().cloned());
    texts.extend(cli.command.iter().map(|w| w.to_string_lossy().into_owned()));
    for var in [
        "PREFLIGHT_WAIT",
        "WAIT_HOSTS",
        "PREFLIGHT_LOCK",
        "PREFLIGHT_HOOKS",
        "PREFLIGHT_COMMAND",
    ] {
        texts.extend(env.get(var).map(str::to_string));
    }
    for text in &texts {
        for piece in target::split_targets(text) {
            // env:NAME: the URL is in NAME.
            let piece = match piece.strip_prefix("env:").and_then(|n| env.get(n)) {
                Some(url) => url.trim().to_string(),
                None => piece,
            };
            if piece.contains("://") {
                let parts = crate::secrets::hidden_parts(&piece, &target::redact(&piece));
                out.extend(parts.into_iter().map(Secret::new));
            }
        }
    }
    out
}

/// `--template SRC:DEST` (else `PREFLIGHT_TEMPLATES`) and `--templates-dir
/// DIR[:OUTDIR]` (else `PREFLIGHT_TEMPLATES_DIR`).
fn templates(cli: &Cli, env: &Env) -> Result<TemplatesPlan, BadValue> {
    let (raw, source): (Vec<String>, &str) = if !cli.templates.is_empty() {
        (cli.templates.clone(), "--template")
    } else {
        let list = env.non_empty("PREFLIGHT_TEMPLATES").map(split_list);
        (list.unwrap_or_default(), "PREFLIGHT_TEMPLATES")
    };
    let mut files = Vec::with_capacity(raw.len());
    for spec in &raw {
        files.push(blame(source, crate::templates::parse_pair(spec))?);
    }
    let dirs = match (Source {
        flag: "--templates-dir",
        var: "PREFLIGHT_TEMPLATES_DIR",
    })
    .pick(cli.templates_dir.as_deref(), env)
    {
        None => Vec::new(),
        Some((spec, name)) => vec![blame(&name, crate::templates::parse_dir(spec))?],
    };
    let env = if files.is_empty() && dirs.is_empty() {
        Env::default()
    } else {
        env.clone()
    };
    Ok(TemplatesPlan { files, dirs, env })
}

/// A variable preflight reads whose value is not UTF-8 stops the start
/// (`PREFLIGHT_USER=$'nob\xffdy'` must not run the command as root):
/// `PREFLIGHT_*`, docker-compose-wait's `WAIT_*`, the probes' credentials,
/// and every `NAME_FILE` that is read.
fn not_utf8(env: &Env, which: &SecretsFromFiles) -> Result<(), BadValue> {
    let read = |name: &str| {
        name.starts_with("PREFLIGHT_")
            || compose_wait::VARS.contains(&name)
            || CREDENTIAL_VARS.contains(&name)
            || name
                .strip_suffix("_FILE")
                .is_some_and(|n| which.covers(n) || CREDENTIAL_VARS.contains(&n))
    };
    match env.not_utf8().find(|n| read(n)) {
        Some(name) => Err(BadValue::new(format!(
            "{name}: the value is not UTF-8 text"
        ))),
        None => Ok(()),
    }
}

/// The mode, and its targets: the command line replaces the environment's
/// list (`PREFLIGHT_WAIT`, else docker-compose-wait's).
fn mode_and_targets(cli: &Cli, env: &Env) -> Result<(Mode, Vec<Target>), BadValue> {
    let (mode, mode_targets) = match &cli.mode {
        None => (Mode::Run, &[][..]),
        Some(ModeArgs::Wait { targets, .. }) => (Mode::Wait, &targets[..]),
        Some(ModeArgs::Check { targets, .. }) => (Mode::Check, &targets[..]),
    };
    // Each target comes with the name to blame for it.
    let positional = match mode {
        Mode::Check => "check",
        _ => "wait",
    };
    let from_cli = |list: &[String], name: &'static str| -> Vec<(String, &'static str)> {
        list.iter()
            .flat_map(|t| target::split_targets(t))
            .map(|t| (t, name))
            .collect()
    };
    // `--wait "$UNSET"` gives an empty value: an error, not "nothing to wait
    // for" (the command would start without its dependency).
    for (list, name) in [
        (mode_targets, positional),
        (&cli.wait.targets[..], "--wait"),
    ] {
        if list.iter().any(|t| t.trim().is_empty()) {
            return Err(BadValue::new(format!(
                "{name}: '' is not a target, expected host:port or a URL (an unset variable?)"
            )));
        }
    }
    let mut raw_targets = from_cli(mode_targets, positional);
    raw_targets.extend(from_cli(&cli.wait.targets, "--wait"));
    let raw_targets: Vec<(String, &str)> = if !raw_targets.is_empty() {
        raw_targets
    } else if let Some(list) = env.non_empty("PREFLIGHT_WAIT") {
        target::split_targets(list)
            .into_iter()
            .map(|t| (t, "PREFLIGHT_WAIT"))
            .collect()
    } else {
        compose_wait::targets(env)?
    };
    let mut targets = Vec::with_capacity(raw_targets.len());
    for (raw, source) in &raw_targets {
        let url = from_variable(raw, source, env)?;
        let t = target::parse(url).map_err(|e| {
            // `--wait db:5432 gunicorn app.wsgi`: the first mistake people
            // make. A word with no port and no scheme is a command's.
            if *source == "--wait" && !url.contains([':', '/', '@']) {
                BadValue::blame(
                    source,
                    format!(
                        "{e}; if '{url}' is the command, put it after `--`: \
                         preflight --wait TARGET... -- {url} ..."
                    ),
                )
            } else {
                BadValue::blame(source, e)
            }
        })?;
        targets.push(t);
    }
    if mode != Mode::Run && targets.is_empty() {
        let name = if mode == Mode::Wait { "wait" } else { "check" };
        return Err(BadValue::new(format!(
            "{name}: expected at least one TARGET, like 'preflight {name} db:5432'"
        )));
    }
    Ok((mode, targets))
}

/// Timeouts, the fixed interval, `--on-timeout`, and docker-compose-wait's
/// sleeps before and after.
fn wait_policy(
    cli: &WaitArgs,
    deadline: &Deadline,
    env: &Env,
) -> Result<(WaitPolicy, Duration, Duration), BadValue> {
    // 0 on the command line or in PREFLIGHT_TIMEOUT: wait for ever.
    let timeout = match (Source {
        flag: "--timeout",
        var: "PREFLIGHT_TIMEOUT",
    })
    .pick(deadline.timeout.as_deref(), env)
    {
        None => Some(
            compose_wait::seconds(env, &["WAIT_TIMEOUT", "WAIT_HOSTS_TIMEOUT"], true)?
                .unwrap_or(DEFAULT_TIMEOUT),
        ),
        Some((v, name)) => {
            let d = blame(&name, parse_duration(v))?;
            if d.is_zero() { None } else { Some(d) }
        }
    };
    let try_timeout = match optional_duration(
        Source {
            flag: "--try-timeout",
            var: "PREFLIGHT_TRY_TIMEOUT",
        },
        cli.try_timeout.as_deref(),
        env,
    )? {
        Some(d) if d.is_zero() => {
            return Err(BadValue::new(
                "--try-timeout: expected a duration above 0, like 2s",
            ));
        }
        Some(d) => d,
        None => compose_wait::seconds(env, &["WAIT_HOST_CONNECT_TIMEOUT"], true)?
            .unwrap_or(DEFAULT_TRY_TIMEOUT),
    };
    let interval = compose_wait::seconds(env, &["WAIT_SLEEP_INTERVAL"], true)?;
    let sleep_before = compose_wait::seconds(env, &["WAIT_BEFORE", "WAIT_BEFORE_HOSTS"], false)?
        .unwrap_or_default();
    let sleep_after =
        compose_wait::seconds(env, &["WAIT_AFTER", "WAIT_AFTER_HOSTS"], false)?.unwrap_or_default();
    let on_timeout = match (Source {
        flag: "--on-timeout",
        var: "PREFLIGHT_ON_TIMEOUT",
    })
    .pick(deadline.on_timeout.as_deref(), env)
    {
        None => OnTimeout::Fail,
        Some(("fail", _)) => OnTimeout::Fail,
        Some(("continue", _)) => OnTimeout::Continue,
        Some((v, name)) => {
            return Err(BadValue::new(format!(
                "{name}: '{v}' is not one of: fail, continue"
            )));
        }
    };
    let policy = WaitPolicy {
        timeout,
        try_timeout,
        on_timeout,
        interval,
    };
    Ok((policy, sleep_before, sleep_after))
}

type HooksSection = (Vec<Vec<OsString>>, Option<PathBuf>, Option<Duration>);

/// `--hook`s (split into words), `--hooks-dir`, `--hook-timeout`.
fn hooks(cli: &Cli, env: &Env) -> Result<HooksSection, BadValue> {
    let (raw, source): (Vec<String>, &str) = if !cli.hooks.is_empty() {
        (cli.hooks.clone(), "--hook")
    } else {
        let list = env.non_empty("PREFLIGHT_HOOKS").map(split_hooks);
        (list.unwrap_or_default(), "PREFLIGHT_HOOKS")
    };
    let mut hooks = Vec::new();
    for h in raw.iter().filter(|h| !h.trim().is_empty()) {
        hooks.push(blame(source, split_words(h))?);
    }
    let hooks_dir = cli
        .hooks_dir
        .clone()
        .map(PathBuf::from)
        .or_else(|| env.non_empty("PREFLIGHT_HOOKS_DIR").map(PathBuf::from));
    let hook_timeout = optional_duration(
        Source {
            flag: "--hook-timeout",
            var: "PREFLIGHT_HOOK_TIMEOUT",
        },
        cli.hook_timeout.as_deref(),
        env,
    )?;
    Ok((hooks, hooks_dir, hook_timeout))
}

/// `env:NAME`: the URL in preflight's own variable NAME (the app's
/// `DATABASE_URL`, so a manifest does not repeat the secret); anything else
/// as written. Unset or empty: an error naming NAME.
fn from_variable<'a>(raw: &'a str, source: &str, env: &'a Env) -> Result<&'a str, BadValue> {
    let Some(name) = raw.strip_prefix("env:") else {
        return Ok(raw);
    };
    if !crate::values::is_variable_name(name) {
        return Err(BadValue::blame(
            source,
            format!("'{raw}': expected env:NAME, NAME a variable name like DATABASE_URL"),
        ));
    }
    env.non_empty(name).map(str::trim).ok_or_else(|| {
        BadValue::blame(
            source,
            format!("{raw}: the variable {name} is unset or empty, expected a URL in it"),
        )
    })
}

/// `--lock` (a postgres:// or mysql:// URL) and `--lock-name`.
fn lock(cli: &Cli, env: &Env) -> Result<(Option<Target>, String), BadValue> {
    let lock = match (Source {
        flag: "--lock",
        var: "PREFLIGHT_LOCK",
    })
    .pick(cli.lock.as_deref(), env)
    {
        None => None,
        Some((v, name)) => {
            let v = from_variable(v, &name, env)?;
            let t = target::parse(v).map_err(|e| BadValue::blame(&name, e))?;
            if !crate::lock::supports(t.protocol) || !v.contains("://") {
                return Err(BadValue::new(format!(
                    "{name}: '{}' is not a postgres:// or mysql:// URL",
                    t.redacted()
                )));
            }
            Some(t)
        }
    };
    let lock_name = match (Source {
        flag: "--lock-name",
        var: "PREFLIGHT_LOCK_NAME",
    })
    .pick(cli.lock_name.as_deref(), env)
    {
        None => DEFAULT_LOCK_NAME.to_string(),
        Some((v, name)) if v.trim().is_empty() || v.chars().count() > MAX_LOCK_NAME => {
            return Err(BadValue::new(format!(
                "{name}: '{v}' is not a lock name, expected 1 to {MAX_LOCK_NAME} characters"
            )));
        }
        Some((v, _)) => v.to_string(),
    };
    Ok((lock, lock_name))
}

/// The command: after `--`, else `PREFLIGHT_COMMAND` split like a shell.
fn command(cli: &Cli, env: &Env) -> Result<Option<Vec<OsString>>, BadValue> {
    Ok(if !cli.command.is_empty() {
        Some(cli.command.clone())
    } else if let Some(c) = env.non_empty("PREFLIGHT_COMMAND") {
        Some(blame("PREFLIGHT_COMMAND", split_words(c))?)
    } else {
        None
    })
}

/// How the command and hooks are run and supervised.
fn init_options(
    cli: &Cli,
    env: &Env,
    several: crate::init::Several,
) -> Result<InitOptions, BadValue> {
    let exit_code = |s: &str| {
        s.parse::<u8>()
            .map(i32::from)
            .map_err(|_| format!("'{s}' is not an exit code from 0 to 255"))
    };
    Ok(InitOptions {
        signal_group: signal_group(cli.signal_group, cli.single_child, env)?,
        rewrites: list_of_pairs(
            &cli.rewrite,
            "--rewrite",
            "PREFLIGHT_REWRITE",
            env,
            crate::init::signals::parse,
        )?,
        remap_exit: list_of_pairs(
            &cli.remap_exit,
            "--remap-exit",
            "PREFLIGHT_REMAP_EXIT",
            env,
            exit_code,
        )?
        .into_iter()
        .map(|(a, b)| (a as u8, b as u8))
        .collect(),
        grace: optional_duration(
            Source {
                flag: "--grace",
                var: "PREFLIGHT_GRACE",
            },
            cli.grace.as_deref(),
            env,
        )?
        .unwrap_or(DEFAULT_GRACE),
        kill_after: optional_duration(
            Source {
                flag: "--kill-after",
                var: "PREFLIGHT_KILL_AFTER",
            },
            cli.kill_after.as_deref(),
            env,
        )?,
        subreaper: !flag(cli.no_subreaper, "PREFLIGHT_NO_SUBREAPER", env)?,
        pdeathsig: match (Source {
            flag: "--pdeathsig",
            var: "PREFLIGHT_PDEATHSIG",
        })
        .pick(cli.pdeathsig.as_deref(), env)
        {
            None => None,
            Some((v, name)) => Some(blame(&name, crate::init::signals::parse(v))?),
        },
        exec: flag(cli.exec, "PREFLIGHT_EXEC", env)?,
        several,
    })
}

/// `-v`/`-q` or `PREFLIGHT_LOG`, and `--log-format`.
fn logging(cli: &WaitArgs, env: &Env) -> Result<(String, LogFormat), BadValue> {
    let base = match (cli.verbose, cli.quiet) {
        (0, 0) => None,
        (v, 0) if v >= 2 => Some("trace"),
        (_, 0) => Some("debug"),
        (0, 1) => Some("warn"),
        (0, _) => Some("error"),
        _ => {
            return Err(BadValue::new(
                "-v and -q: expected one or the other, not both",
            ));
        }
    };
    let log_filter = match base {
        Some(level) => level.to_string(),
        None => env.non_empty("PREFLIGHT_LOG").unwrap_or("info").to_string(),
    };
    // A bare word is a level; tracing would take `verbose` for a module
    // name and quietly log nothing at all.
    let bare_non_level = log_filter.split(',').any(|d| {
        !d.contains('=')
            && d.trim()
                .parse::<tracing::level_filters::LevelFilter>()
                .is_err()
    });
    if bare_non_level
        || log_filter
            .parse::<tracing_subscriber::filter::Targets>()
            .is_err()
    {
        return Err(BadValue::new(format!(
            "PREFLIGHT_LOG: '{log_filter}' is not a log filter, expected a level (error, warn, info, debug, trace) or target=level,..."
        )));
    }
    let log_format = match (Source {
        flag: "--log-format",
        var: "PREFLIGHT_LOG_FORMAT",
    })
    .pick(cli.log_format.as_deref(), env)
    {
        None | Some(("text", _)) => LogFormat::Text,
        Some(("json", _)) => LogFormat::Json,
        Some((v, name)) => {
            return Err(BadValue::new(format!(
                "{name}: '{v}' is not one of: text, json"
            )));
        }
    };
    Ok((log_filter, log_format))
}

fn optional_duration(
    src: Source,
    cli: Option<&str>,
    env: &Env,
) -> Result<Option<Duration>, BadValue> {
    match src.pick(cli, env) {
        None => Ok(None),
        Some((v, name)) => blame(&name, parse_duration(v)).map(Some),
    }
}

/// A boolean flag: set on the command line, or by its variable.
fn flag(cli: bool, var: &str, env: &Env) -> Result<bool, BadValue> {
    if cli {
        return Ok(true);
    }
    match env.non_empty(var) {
        None => Ok(false),
        Some(v) => parse_bool(v).ok_or_else(|| {
            BadValue::new(format!(
                "{var}: '{v}' is not one of: 1, 0, true, false, yes, no, on, off"
            ))
        }),
    }
}

/// `--signal-group` against `--single-child` (the default now, still
/// accepted): the command line wins over the environment; both in one place
/// is an error.
fn signal_group(group: bool, single: bool, env: &Env) -> Result<bool, BadValue> {
    if group || single {
        return Ok(group);
    }
    let group = flag(false, "PREFLIGHT_SIGNAL_GROUP", env)?;
    let single = flag(false, "PREFLIGHT_SINGLE_CHILD", env)?;
    if group && single {
        return Err(BadValue::new(
            "PREFLIGHT_SIGNAL_GROUP and PREFLIGHT_SINGLE_CHILD: expected one or the other, not both",
        ));
    }
    Ok(group)
}

/// `FROM:TO` pairs from a repeatable flag or a list variable.
fn list_of_pairs(
    cli: &[String],
    flag: &str,
    var: &str,
    env: &Env,
    item: impl Fn(&str) -> Result<i32, String>,
) -> Result<Vec<(i32, i32)>, BadValue> {
    let (raw, name): (Vec<String>, &str) = if !cli.is_empty() {
        (cli.iter().flat_map(|s| split_list(s)).collect(), flag)
    } else {
        (env.non_empty(var).map(split_list).unwrap_or_default(), var)
    };
    blame(name, pairs(&raw, item))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Protocol;
    use clap::Parser;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Result<Config, BadValue> {
        let cli = Cli::try_parse_from(std::iter::once("preflight").chain(args.iter().copied()))
            .map_err(|e| BadValue::new(e.to_string()))?;
        Config::from_args(cli, &env.iter().map(|(k, v)| (*k, *v)).collect(), no_files)
    }

    fn no_files(_: &Path) -> io::Result<Vec<u8>> {
        Err(io::Error::from_raw_os_error(libc::ENOENT))
    }

    #[test]
    fn the_command_comes_after_dashes_or_from_the_environment() {
        let c = config(&["--", "echo", "hi"], &[]).unwrap();
        assert_eq!(c.command, Some(vec!["echo".into(), "hi".into()]));
        let c = config(
            &[],
            &[(
                "PREFLIGHT_COMMAND",
                "gunicorn 'app.wsgi' -b \"0.0.0.0:8000\"",
            )],
        )
        .unwrap();
        assert_eq!(
            c.command,
            Some(vec![
                "gunicorn".into(),
                "app.wsgi".into(),
                "-b".into(),
                "0.0.0.0:8000".into()
            ])
        );
        let e = config(&[], &[]).unwrap_err().to_string();
        assert!(e.contains("nothing to do"), "{e}");
    }

    #[test]
    fn wait_takes_several_targets_and_the_command_line_replaces_the_environment() {
        let c = config(
            &["--wait", "a:1", "b:2", "--wait", "c:3,d:4", "--", "true"],
            &[("PREFLIGHT_WAIT", "x:9")],
        )
        .unwrap();
        let hosts: Vec<_> = c.targets.iter().map(|t| t.host.as_str()).collect();
        assert_eq!(hosts, ["a", "b", "c", "d"]);
        let c = config(&["--", "true"], &[("PREFLIGHT_WAIT", "x:9, y:8")]).unwrap();
        assert_eq!(c.targets.len(), 2);
    }

    #[test]
    fn subcommands_take_their_targets() {
        let c = config(&["wait", "db:5432", "--timeout", "5s"], &[]).unwrap();
        assert_eq!((c.mode, c.targets.len()), (Mode::Wait, 1));
        assert_eq!(c.wait.timeout, Some(Duration::from_secs(5)));
        let c = config(&["check", "redis:6379"], &[]).unwrap();
        assert_eq!(c.mode, Mode::Check);
        assert!(
            config(&["wait"], &[])
                .unwrap_err()
                .to_string()
                .contains("at least one TARGET")
        );
    }

    /// The spellings themselves are tested where they are parsed
    /// (values.rs); here, that errors name the flag or variable.
    #[test]
    fn duration_errors_name_their_source() {
        let e = config(&["--timeout", "soon", "--", "true"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--timeout: 'soon'"), "{e}");
        let e = config(&["--", "true"], &[("PREFLIGHT_TIMEOUT", "-32")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("PREFLIGHT_TIMEOUT: '-32'"), "{e}");
        assert_eq!(
            config(&["-t", "0", "--", "true"], &[])
                .unwrap()
                .wait
                .timeout,
            None
        );
    }

    #[test]
    fn hooks_split_on_semicolons_and_newlines_outside_quotes() {
        assert_eq!(
            split_hooks("python manage.py migrate; echo 'a;b'\n  true ;"),
            ["python manage.py migrate", "echo 'a;b'", "true"]
        );
        let c = config(
            &["--hook", "echo 'x y'", "--", "true"],
            &[("PREFLIGHT_HOOKS", "ignored")],
        )
        .unwrap();
        assert_eq!(
            c.hooks,
            vec![vec![OsString::from("echo"), OsString::from("x y")]]
        );
    }

    #[test]
    fn signals_go_to_the_child_alone_unless_signal_group() {
        let group = |args: &[&str], vars: &[(&str, &str)]| {
            let mut argv = args.to_vec();
            argv.extend(["--", "true"]);
            config(&argv, vars).map(|c| c.init.signal_group)
        };
        assert_eq!(group(&[], &[]), Ok(false));
        assert_eq!(group(&["--single-child"], &[]), Ok(false));
        assert_eq!(group(&["--signal-group"], &[]), Ok(true));
        assert_eq!(group(&[], &[("PREFLIGHT_SIGNAL_GROUP", "1")]), Ok(true));
        assert_eq!(
            group(&["--single-child"], &[("PREFLIGHT_SIGNAL_GROUP", "1")]),
            Ok(false),
            "the command line wins"
        );
        let e = group(
            &[],
            &[
                ("PREFLIGHT_SIGNAL_GROUP", "1"),
                ("PREFLIGHT_SINGLE_CHILD", "1"),
            ],
        )
        .unwrap_err()
        .message()
        .to_string();
        assert!(
            e.contains("PREFLIGHT_SIGNAL_GROUP and PREFLIGHT_SINGLE_CHILD"),
            "{e}"
        );
    }

    #[test]
    fn booleans_and_lists_from_the_environment_are_strict() {
        let e = config(&["--", "true"], &[("PREFLIGHT_SINGLE_CHILD", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("PREFLIGHT_SINGLE_CHILD: 'maybe'"), "{e}");
        let c = config(
            &["--", "true"],
            &[
                ("PREFLIGHT_SINGLE_CHILD", "1"),
                ("PREFLIGHT_REMAP_EXIT", "143:0"),
            ],
        )
        .unwrap();
        assert!(!c.init.signal_group, "--single-child is the default");
        assert_eq!(c.init.remap_exit, vec![(143, 0)]);
        let e = config(&["--remap-exit", "143", "--", "true"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("FROM:TO"), "{e}");
    }

    #[test]
    fn a_separator_inside_a_password_never_splits_a_list() {
        let url = "postgres://app:pa,ss word@127.0.0.1/app";
        let from_cli = config(&["wait", url, "redis:6379"], &[]).unwrap();
        let from_flag = config(
            &["--wait", &format!("{url}, redis:6379"), "--", "true"],
            &[],
        )
        .unwrap();
        let from_env = config(
            &["--", "true"],
            &[("PREFLIGHT_WAIT", &format!("{url} redis:6379"))],
        )
        .unwrap();
        let from_compose = config(
            &["--", "true"],
            &[("WAIT_HOSTS", &format!("{url},redis:6379"))],
        )
        .unwrap();
        for c in [from_cli, from_flag, from_env, from_compose] {
            assert_eq!(c.targets.len(), 2);
            assert_eq!(
                c.targets[0].password.as_ref().unwrap().expose(),
                "pa,ss word"
            );
            assert_eq!(c.targets[0].host, "127.0.0.1");
        }
    }

    #[test]
    fn a_command_given_as_a_target_is_told_to_go_after_the_double_dash() {
        let e = config(&["--wait", "db:5432", "gunicorn", "app.wsgi"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'gunicorn'") && e.contains("after `--`"), "{e}");
        // Control: a bad target that is no command word gets no such hint.
        let e = config(&["--wait", "db:0", "--", "true"], &[])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("after `--`"), "{e}");
    }

    #[test]
    fn env_targets_read_the_url_from_the_named_variable() {
        let url = "postgres://app:pa,ss w@db/app";
        let c = config(
            &[
                "--wait",
                "env:DATABASE_URL",
                "redis:6379",
                "--lock",
                "env:DATABASE_URL",
                "--",
                "true",
            ],
            &[("DATABASE_URL", url)],
        )
        .unwrap();
        assert_eq!(c.targets.len(), 2);
        assert_eq!(c.targets[0].password.as_ref().unwrap().expose(), "pa,ss w");
        assert_eq!(c.lock.as_ref().unwrap().host, "db");
        let c = config(
            &["--", "true"],
            &[
                ("PREFLIGHT_WAIT", "env:REDIS_URL"),
                ("REDIS_URL", "redis://cache"),
            ],
        )
        .unwrap();
        assert_eq!(c.targets[0].host, "cache");
        for env in [&[][..], &[("DATABASE_URL", "")][..]] {
            let e = config(&["wait", "env:DATABASE_URL"], env)
                .unwrap_err()
                .to_string();
            assert!(e.contains("DATABASE_URL is unset or empty"), "{e}");
            let e = config(&["--lock", "env:DATABASE_URL", "--", "true"], env)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("--lock: ") && e.contains("DATABASE_URL"),
                "{e}"
            );
        }
        let e = config(&["wait", "env:1X"], &[]).unwrap_err().to_string();
        assert!(e.contains("env:NAME"), "{e}");
    }

    #[test]
    fn passwords_come_from_the_environment_and_never_show() {
        let c = config(&["wait", "postgres://app@db/app"], &[("PGPASSWORD", "pw")]).unwrap();
        // The target stays as written; the password is beside it.
        assert_eq!(c.targets[0].password, None);
        let t = c.from_env.complete(&c.targets[0]);
        assert_eq!(t.password.as_ref().unwrap().expose(), "pw");
        let e = config(&["wait", "postgres://app:hunter2@db:0/app"], &[])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2") && e.contains("***"), "{e}");
    }

    #[test]
    fn docker_compose_wait_variables_are_honoured_in_seconds() {
        let c = config(
            &["--", "true"],
            &[
                ("WAIT_HOSTS", "postgres:5432, mysql:3306 ,redis:6379"),
                ("WAIT_PATHS", "/run/ready,/tmp/a#b"),
                ("WAIT_TIMEOUT", "90"),
                ("WAIT_HOST_CONNECT_TIMEOUT", "3"),
                ("WAIT_SLEEP_INTERVAL", "4"),
                ("WAIT_BEFORE", "1"),
                ("WAIT_AFTER", "2"),
            ],
        )
        .unwrap();
        let kinds: Vec<_> = c.targets.iter().map(|t| t.protocol).collect();
        assert_eq!(
            kinds,
            [
                Protocol::Postgres,
                Protocol::Mysql,
                Protocol::Redis,
                Protocol::File,
                Protocol::File
            ]
        );
        assert_eq!(c.targets[4].path, "/tmp/a#b");
        assert_eq!(c.wait.timeout, Some(Duration::from_secs(90)));
        assert_eq!(c.wait.try_timeout, Duration::from_secs(3));
        assert_eq!(c.wait.interval, Some(Duration::from_secs(4)));
        assert_eq!(
            (c.sleep_before, c.sleep_after),
            (Duration::from_secs(1), Duration::from_secs(2))
        );
        // The older spellings too.
        let c = config(
            &["wait"],
            &[
                ("WAIT_HOSTS", "db:1"),
                ("WAIT_HOSTS_TIMEOUT", "7"),
                ("WAIT_BEFORE_HOSTS", "3"),
            ],
        )
        .unwrap();
        assert_eq!(c.wait.timeout, Some(Duration::from_secs(7)));
        assert_eq!(c.sleep_before, Duration::from_secs(3));
        // Unset: preflight's defaults, no sleeps, the backoff.
        let c = config(&["--", "true"], &[]).unwrap();
        assert_eq!(c.wait.timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!(c.wait.interval, None);
        assert!(c.sleep_before.is_zero() && c.sleep_after.is_zero());
    }

    #[test]
    fn preflight_variables_and_the_command_line_win_over_docker_compose_wait() {
        let env = [
            ("WAIT_HOSTS", "a:1"),
            ("WAIT_TIMEOUT", "90"),
            ("WAIT_HOST_CONNECT_TIMEOUT", "3"),
        ];
        let c = config(&["--wait", "b:2", "-t", "5s", "--", "true"], &env).unwrap();
        assert_eq!(c.targets[0].host, "b");
        assert_eq!(c.wait.timeout, Some(Duration::from_secs(5)));
        let mut env2 = env.to_vec();
        env2.extend([
            ("PREFLIGHT_WAIT", "c:3"),
            ("PREFLIGHT_TIMEOUT", "0"),
            ("PREFLIGHT_TRY_TIMEOUT", "1s"),
        ]);
        let c = config(&["--", "true"], &env2).unwrap();
        assert_eq!(c.targets.len(), 1);
        assert_eq!(c.targets[0].host, "c");
        assert_eq!(c.wait.timeout, None);
        assert_eq!(c.wait.try_timeout, Duration::from_secs(1));
    }

    #[test]
    fn bad_docker_compose_wait_values_are_errors_not_defaults() {
        for (var, value, expected) in [
            ("WAIT_TIMEOUT", "-32", "WAIT_TIMEOUT: '-32'"),
            ("WAIT_TIMEOUT", "0", "WAIT_TIMEOUT: '0' must be above 0"),
            (
                "WAIT_SLEEP_INTERVAL",
                "often",
                "WAIT_SLEEP_INTERVAL: 'often'",
            ),
            ("WAIT_AFTER", "x", "WAIT_AFTER: 'x'"),
            ("WAIT_PATHS", "relative/file", "WAIT_PATHS: 'relative/file'"),
            ("WAIT_HOSTS", "db", "WAIT_HOSTS: invalid target 'db'"),
        ] {
            let e = config(&["--", "true"], &[(var, value)])
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(expected), "{var}={value}: {e}");
        }
    }

    #[test]
    fn a_variable_preflight_reads_that_is_not_utf8_is_an_error_naming_it() {
        use std::os::unix::ffi::OsStringExt;
        let cli = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("preflight").chain(args.iter().copied())).unwrap()
        };
        let odd = || OsString::from_vec(b"nob\xffdy".to_vec());
        for name in [
            "PREFLIGHT_USER",
            "PREFLIGHT_LOCK",
            "PREFLIGHT_WAIT",
            "WAIT_HOSTS",
            "PREFLIGHT_TIMEOUT",
            "PGPASSWORD_FILE",
        ] {
            let env = Env::from_os([(name.into(), odd()), ("OK".into(), "x".into())]);
            let e = Config::from_args(cli(&["--", "true"]), &env, no_files).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("{name}: the value is not UTF-8 text")
            );
        }
        // Not preflight's: the child's business.
        let env = Env::from_os([("APP_NAME".into(), odd()), ("DB_FILE".into(), odd())]);
        assert!(Config::from_args(cli(&["--", "true"]), &env, no_files).is_ok());
        // Unless --secrets-from-files reads it.
        let e = Config::from_args(cli(&["--secrets-from-files", "--", "true"]), &env, no_files)
            .unwrap_err();
        assert_eq!(e.to_string(), "DB_FILE: the value is not UTF-8 text");
    }

    #[test]
    fn the_lock_has_a_default_name_that_can_be_changed() {
        let c = config(&["--lock", "postgres://db/app", "--", "true"], &[]).unwrap();
        assert_eq!(c.lock_name, "preflight");
        let c = config(
            &["--lock", "mysql://db", "--", "true"],
            &[("PREFLIGHT_LOCK_NAME", "shop-migrations")],
        )
        .unwrap();
        assert_eq!(c.lock_name, "shop-migrations");
        let long = "x".repeat(65);
        let e = config(
            &["--lock", "mysql://db", "--lock-name", &long, "--", "true"],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("--lock-name: 'xxx"), "{e}");
        let e = config(&["--lock", "redis://db", "--", "true"], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a postgres:// or mysql:// URL"), "{e}");
    }

    #[test]
    fn secrets_from_files_is_parsed_once_into_the_config() {
        let c = config(&["--secrets-from-files", "--", "true"], &[]).unwrap();
        assert_eq!(c.secrets_from_files, SecretsFromFiles::All);
    }
}
