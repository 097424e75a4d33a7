//! `Config::from_args`: the command line merged with the environment, validated
//! and typed. Pure: it reads neither the process environment nor the file
//! system (the caller passes an [`Env`]), so tests build it freely.
//!
//! Rules: the command line wins over the environment; a list given on the
//! command line replaces the one from the environment; every bad value is a
//! [`ConfigError`] naming the flag or variable, the value (never a secret) and
//! what was expected. Nothing falls back to a default silently.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Cli, ModeArgs};
use crate::target::{self, Protocol, Target};

/// The environment preflight reads its settings from (a snapshot).
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The process environment; variables that are not UTF-8 are skipped
    /// (none of preflight's own is, and the child inherits them untouched).
    pub fn from_process() -> Self {
        Env(std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Set, and not empty (compose writes `FOO=` for unset values).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn set(&mut self, name: String, value: String) {
        self.0.insert(name, value);
    }

    pub fn remove(&mut self, name: &str) {
        self.0.remove(name);
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Env(iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect())
    }
}

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
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// The `--lock` name when none is given.
pub const DEFAULT_LOCK_NAME: &str = "preflight";
/// MySQL's `GET_LOCK` takes names of up to 64 characters.
const MAX_LOCK_NAME: usize = 64;

/// Which `NAME_FILE` variables become `NAME` (`--secrets-from-files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretsFromFiles {
    /// None (the default): a generic entrypoint cannot tell a secret's
    /// `DB_PASSWORD_FILE` from `SSL_CERT_FILE` or `PID_FILE`, whose file may be
    /// large, or not exist yet.
    Off,
    /// Every `NAME_FILE` in the environment.
    All,
    /// Only these NAMEs (`--secrets-from-files DB_PASSWORD,SECRET_KEY`).
    Only(Vec<String>),
}

impl SecretsFromFiles {
    /// Does `NAME_FILE` set `NAME`?
    pub fn covers(&self, name: &str) -> bool {
        match self {
            SecretsFromFiles::Off => false,
            SecretsFromFiles::All => true,
            SecretsFromFiles::Only(names) => names.iter().any(|n| n == name),
        }
    }
}

/// The credentials variables preflight's own probes read (see
/// `apply_env_credentials`); their `_FILE` forms are read for the probes even
/// with `--secrets-from-files off`, since their meaning is not in doubt.
pub const CREDENTIAL_VARS: [&str; 3] = ["PGPASSWORD", "MYSQL_PWD", "REDISCLI_AUTH"];

/// How the command (and each hook) is run and supervised.
#[derive(Debug, Clone, PartialEq)]
pub struct InitOptions {
    pub single_child: bool,
    /// (from, to) signal numbers; to == 0 drops the signal.
    pub rewrites: Vec<(i32, i32)>,
    pub remap_exit: Vec<(u8, u8)>,
    pub grace: Duration,
    pub kill_after: Option<Duration>,
    pub subreaper: bool,
    pub pdeathsig: Option<i32>,
    pub exec: bool,
}

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
    pub user: Option<String>,
    pub secrets_from_files: SecretsFromFiles,
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
}

/// A bad argument or variable: `Display` is the whole one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl From<target::TargetError> for ConfigError {
    fn from(e: target::TargetError) -> Self {
        ConfigError(e.to_string())
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

impl Config {
    pub fn from_args(cli: Cli, env: &Env) -> Result<Config, ConfigError> {
        let (mode, mode_targets) = match cli.mode {
            None => (Mode::Run, Vec::new()),
            Some(ModeArgs::Wait { targets }) => (Mode::Wait, targets),
            Some(ModeArgs::Check { targets }) => (Mode::Check, targets),
        };

        // Targets: the command line replaces the environment's list. Each
        // target comes with the name to blame for it.
        let positional = match mode {
            Mode::Check => "check",
            _ => "wait",
        };
        let from_cli = |list: &[String], name: &'static str| -> Vec<(String, &'static str)> {
            list.iter()
                .flat_map(|t| split_list(t))
                .map(|t| (t, name))
                .collect()
        };
        let mut raw_targets = from_cli(&mode_targets, positional);
        raw_targets.extend(from_cli(&cli.wait.targets, "--wait"));
        let raw_targets: Vec<(String, &str)> = if !raw_targets.is_empty() {
            raw_targets
        } else if let Some(list) = env.non_empty("PREFLIGHT_WAIT") {
            split_list(list)
                .into_iter()
                .map(|t| (t, "PREFLIGHT_WAIT"))
                .collect()
        } else {
            compose_wait_targets(env)?
        };
        let mut targets = Vec::with_capacity(raw_targets.len());
        for (raw, source) in &raw_targets {
            let t = target::parse(raw).map_err(|e| ConfigError(format!("{source}: {e}")))?;
            targets.push(t);
        }
        apply_env_credentials(&mut targets, env)?;
        if mode != Mode::Run && targets.is_empty() {
            return Err(ConfigError(format!(
                "{}: expected at least one TARGET, like 'preflight {} db:5432'",
                if mode == Mode::Wait { "wait" } else { "check" },
                if mode == Mode::Wait { "wait" } else { "check" },
            )));
        }

        // 0 on the command line or in PREFLIGHT_TIMEOUT: wait for ever.
        let timeout = match (Source {
            flag: "--timeout",
            var: "PREFLIGHT_TIMEOUT",
        })
        .pick(cli.wait.timeout.as_deref(), env)
        {
            None => Some(
                compose_wait_seconds(env, &["WAIT_TIMEOUT", "WAIT_HOSTS_TIMEOUT"], true)?
                    .unwrap_or(DEFAULT_TIMEOUT),
            ),
            Some((v, name)) => {
                let d = parse_duration(v).map_err(|e| ConfigError(format!("{name}: {e}")))?;
                if d.is_zero() { None } else { Some(d) }
            }
        };
        let try_timeout = match optional_duration(
            Source {
                flag: "--try-timeout",
                var: "PREFLIGHT_TRY_TIMEOUT",
            },
            cli.wait.try_timeout.as_deref(),
            env,
        )? {
            Some(d) if d.is_zero() => {
                return Err(ConfigError(
                    "--try-timeout: expected a duration above 0, like 2s".into(),
                ));
            }
            Some(d) => d,
            None => compose_wait_seconds(env, &["WAIT_HOST_CONNECT_TIMEOUT"], true)?
                .unwrap_or(DEFAULT_TRY_TIMEOUT),
        };
        let interval = compose_wait_seconds(env, &["WAIT_SLEEP_INTERVAL"], true)?;
        let sleep_before = compose_wait_seconds(env, &["WAIT_BEFORE", "WAIT_BEFORE_HOSTS"], false)?
            .unwrap_or_default();
        let sleep_after = compose_wait_seconds(env, &["WAIT_AFTER", "WAIT_AFTER_HOSTS"], false)?
            .unwrap_or_default();
        let on_timeout = match (Source {
            flag: "--on-timeout",
            var: "PREFLIGHT_ON_TIMEOUT",
        })
        .pick(cli.wait.on_timeout.as_deref(), env)
        {
            None => OnTimeout::Fail,
            Some(("fail", _)) => OnTimeout::Fail,
            Some(("continue", _)) => OnTimeout::Continue,
            Some((v, name)) => {
                return Err(ConfigError(format!(
                    "{name}: '{v}' is not one of: fail, continue"
                )));
            }
        };

        let hooks_raw: Vec<String> = if !cli.hooks.is_empty() {
            cli.hooks.clone()
        } else {
            env.non_empty("PREFLIGHT_HOOKS")
                .map(split_hooks)
                .unwrap_or_default()
        };
        let hook_source = if cli.hooks.is_empty() {
            "PREFLIGHT_HOOKS"
        } else {
            "--hook"
        };
        let mut hooks = Vec::new();
        for h in hooks_raw.iter().filter(|h| !h.trim().is_empty()) {
            hooks.push(split_words(h).map_err(|e| ConfigError(format!("{hook_source}: {e}")))?);
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

        let lock = match (Source {
            flag: "--lock",
            var: "PREFLIGHT_LOCK",
        })
        .pick(cli.lock.as_deref(), env)
        {
            None => None,
            Some((v, name)) => {
                let mut t = target::parse(v).map_err(|e| ConfigError(format!("{name}: {e}")))?;
                if !matches!(t.protocol, Protocol::Postgres | Protocol::Mysql) || !v.contains("://")
                {
                    return Err(ConfigError(format!(
                        "{name}: '{}' is not a postgres:// or mysql:// URL",
                        t.redacted()
                    )));
                }
                apply_env_credentials(std::slice::from_mut(&mut t), env)?;
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
                return Err(ConfigError(format!(
                    "{name}: '{v}' is not a lock name, expected 1 to {MAX_LOCK_NAME} characters"
                )));
            }
            Some((v, _)) => v.to_string(),
        };

        let user = cli
            .user
            .clone()
            .or_else(|| env.non_empty("PREFLIGHT_USER").map(str::to_string));
        let secrets_from_files = secrets_from_files(cli.secrets_from_files.as_deref(), env)?;

        let command = if !cli.command.is_empty() {
            Some(cli.command.clone())
        } else if let Some(c) = env.non_empty("PREFLIGHT_COMMAND") {
            Some(split_words(c).map_err(|e| ConfigError(format!("PREFLIGHT_COMMAND: {e}")))?)
        } else {
            None
        };
        if mode == Mode::Run
            && command.is_none()
            && hooks.is_empty()
            && hooks_dir.is_none()
            && targets.is_empty()
        {
            return Err(ConfigError(
                "nothing to do: expected a COMMAND (after --, or in PREFLIGHT_COMMAND), --wait TARGET or --hook; see --help".into(),
            ));
        }
        if mode != Mode::Run && !cli.command.is_empty() {
            return Err(ConfigError(format!(
                "unexpected COMMAND with '{}': it only waits or checks",
                if mode == Mode::Wait { "wait" } else { "check" }
            )));
        }

        let init = InitOptions {
            single_child: flag(cli.single_child, "PREFLIGHT_SINGLE_CHILD", env)?,
            rewrites: pairs(
                &cli.rewrite,
                "--rewrite",
                "PREFLIGHT_REWRITE",
                env,
                crate::init::signals::parse,
            )?,
            remap_exit: pairs(
                &cli.remap_exit,
                "--remap-exit",
                "PREFLIGHT_REMAP_EXIT",
                env,
                |s| {
                    s.parse::<u8>()
                        .map(i32::from)
                        .map_err(|_| format!("'{s}' is not an exit code from 0 to 255"))
                },
            )?
            .into_iter()
            .map(|(a, b)| (a as u8, b as u8))
            .collect(),
            grace: duration_or(
                Source {
                    flag: "--grace",
                    var: "PREFLIGHT_GRACE",
                },
                cli.grace.as_deref(),
                env,
                DEFAULT_GRACE,
            )?,
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
                Some((v, name)) => Some(
                    crate::init::signals::parse(v)
                        .map_err(|e| ConfigError(format!("{name}: {e}")))?,
                ),
            },
            exec: flag(cli.exec, "PREFLIGHT_EXEC", env)?,
        };

        let base = match (cli.wait.verbose, cli.wait.quiet) {
            (0, 0) => None,
            (v, 0) if v >= 2 => Some("trace"),
            (_, 0) => Some("debug"),
            (0, 1) => Some("warn"),
            (0, _) => Some("error"),
            _ => {
                return Err(ConfigError(
                    "-v and -q: expected one or the other, not both".into(),
                ));
            }
        };
        let log_filter = match base {
            Some(level) => level.to_string(),
            None => env.non_empty("PREFLIGHT_LOG").unwrap_or("info").to_string(),
        };
        if log_filter
            .parse::<tracing_subscriber::filter::Targets>()
            .is_err()
        {
            return Err(ConfigError(format!(
                "PREFLIGHT_LOG: '{log_filter}' is not a log filter, expected a level (error, warn, info, debug, trace) or target=level,..."
            )));
        }
        let log_format = match (Source {
            flag: "--log-format",
            var: "PREFLIGHT_LOG_FORMAT",
        })
        .pick(cli.wait.log_format.as_deref(), env)
        {
            None | Some(("text", _)) => LogFormat::Text,
            Some(("json", _)) => LogFormat::Json,
            Some((v, name)) => {
                return Err(ConfigError(format!(
                    "{name}: '{v}' is not one of: text, json"
                )));
            }
        };

        Ok(Config {
            mode,
            targets,
            wait: WaitPolicy {
                timeout,
                try_timeout,
                on_timeout,
                interval,
            },
            hooks,
            hooks_dir,
            hook_timeout,
            lock,
            lock_name,
            user,
            secrets_from_files,
            sleep_before,
            sleep_after,
            command,
            init,
            log_filter,
            log_format,
        })
    }
}

/// `--secrets-from-files` / `PREFLIGHT_SECRETS_FROM_FILES`: `on` (also true,
/// yes, 1), `off` (false, no, 0), or a list of NAMEs. Public because the
/// caller needs it before [`Config::from_args`]: the secret files are read
/// into the environment that the configuration is then built from.
pub fn secrets_from_files(cli: Option<&str>, env: &Env) -> Result<SecretsFromFiles, ConfigError> {
    let src = Source {
        flag: "--secrets-from-files",
        var: "PREFLIGHT_SECRETS_FROM_FILES",
    };
    let Some((v, name)) = src.pick(cli, env) else {
        return Ok(SecretsFromFiles::Off);
    };
    if let Some(b) = parse_bool(v) {
        return Ok(if b {
            SecretsFromFiles::All
        } else {
            SecretsFromFiles::Off
        });
    }
    let names = split_list(v);
    match names.iter().find(|n| !is_variable_name(n)) {
        Some(bad) => Err(ConfigError(format!(
            "{name}: '{bad}' is not one of: on, off, or a list of variable NAMEs (whose NAME_FILE is read)"
        ))),
        None => Ok(SecretsFromFiles::Only(names)),
    }
}

fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// docker-compose-wait's targets, when neither `--wait` nor `PREFLIGHT_WAIT`
/// gives any: `WAIT_HOSTS` (`host:port` pairs) and `WAIT_PATHS` (absolute
/// paths that must exist: `file://` targets), each split on commas or
/// whitespace.
fn compose_wait_targets(env: &Env) -> Result<Vec<(String, &'static str)>, ConfigError> {
    let mut out: Vec<(String, &'static str)> = env
        .non_empty("WAIT_HOSTS")
        .map(split_list)
        .unwrap_or_default()
        .into_iter()
        .map(|h| (h, "WAIT_HOSTS"))
        .collect();
    for path in env
        .non_empty("WAIT_PATHS")
        .map(split_list)
        .unwrap_or_default()
    {
        if !path.starts_with('/') {
            return Err(ConfigError(format!(
                "WAIT_PATHS: '{path}' is not an absolute path, like /run/app/ready"
            )));
        }
        // file:// URLs are percent-decoded: keep '%', '#' and '?' literal.
        let escaped = path
            .replace('%', "%25")
            .replace('#', "%23")
            .replace('?', "%3F");
        out.push((format!("file://{escaped}"), "WAIT_PATHS"));
    }
    Ok(out)
}

/// The first of `names` that is set, as docker-compose-wait reads it: a number
/// of seconds (a duration with a unit, like `1500ms`, is accepted too).
/// Unlike docker-compose-wait, a bad value is an error, not the default.
fn compose_wait_seconds(
    env: &Env,
    names: &[&str],
    above_zero: bool,
) -> Result<Option<Duration>, ConfigError> {
    let Some((name, v)) = names.iter().find_map(|n| env.non_empty(n).map(|v| (*n, v))) else {
        return Ok(None);
    };
    let d = parse_duration(v).map_err(|e| ConfigError(format!("{name}: {e}")))?;
    if above_zero && d.is_zero() {
        return Err(ConfigError(format!(
            "{name}: '{v}' must be above 0 seconds"
        )));
    }
    Ok(Some(d))
}

/// `PREFLIGHT_CA_FILE` for https targets, and credentials from the
/// environment, for targets whose URL names a user but no password: `PGPASSWORD` (postgres), `MYSQL_PWD` (mysql), and for redis
/// `REDISCLI_AUTH` even without a user. Each also as `NAME_FILE` (a path).
/// Reading `_FILE` paths is I/O, so it is left to the caller: `app` reads them
/// into the environment (see `secrets`) before the configuration is built.
fn apply_env_credentials(targets: &mut [Target], env: &Env) -> Result<(), ConfigError> {
    for t in targets.iter_mut() {
        if t.tls {
            t.ca_file = env
                .non_empty(crate::probe::tls::CA_FILE_VAR)
                .map(std::path::PathBuf::from);
        }
        let var = match t.protocol {
            Protocol::Postgres if t.user.is_some() => "PGPASSWORD",
            Protocol::Mysql if t.user.is_some() => "MYSQL_PWD",
            Protocol::Redis => "REDISCLI_AUTH",
            _ => continue,
        };
        if let Some(p) = env.get(var) {
            t.set_password_if_missing(crate::secret::Secret::new(p));
        }
    }
    Ok(())
}

/// Parse a duration: `1.5s`, `250ms`, `2m`, `1h30m`, or a bare number of
/// seconds (as wait-for-it and docker-compose-wait take).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("'{s}' is too large a number of seconds"));
    }
    if let Some(secs) = t
        .strip_suffix('s')
        .filter(|n| n.contains('.') && !n.ends_with('m'))
    {
        if let Ok(f) = secs.parse::<f64>() {
            if f.is_finite() && f >= 0.0 {
                return Ok(Duration::from_secs_f64(f));
            }
        }
    }
    humantime::parse_duration(t).map_err(|_| {
        format!(
            "'{s}' is not a duration, expected e.g. 30s, 1.5s, 250ms, 2m or a number of seconds"
        )
    })
}

fn duration_or(
    src: Source,
    cli: Option<&str>,
    env: &Env,
    default: Duration,
) -> Result<Duration, ConfigError> {
    Ok(optional_duration(src, cli, env)?.unwrap_or(default))
}

fn optional_duration(
    src: Source,
    cli: Option<&str>,
    env: &Env,
) -> Result<Option<Duration>, ConfigError> {
    match src.pick(cli, env) {
        None => Ok(None),
        Some((v, name)) => parse_duration(v)
            .map(Some)
            .map_err(|e| ConfigError(format!("{name}: {e}"))),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A boolean flag: set on the command line, or by its variable.
fn flag(cli: bool, var: &str, env: &Env) -> Result<bool, ConfigError> {
    if cli {
        return Ok(true);
    }
    match env.non_empty(var) {
        None => Ok(false),
        Some(v) => parse_bool(v).ok_or_else(|| {
            ConfigError(format!(
                "{var}: '{v}' is not one of: 1, 0, true, false, yes, no, on, off"
            ))
        }),
    }
}

/// `FROM:TO` pairs from a repeatable flag or a list variable.
fn pairs(
    cli: &[String],
    flag: &str,
    var: &str,
    env: &Env,
    item: impl Fn(&str) -> Result<i32, String>,
) -> Result<Vec<(i32, i32)>, ConfigError> {
    let (raw, name): (Vec<String>, &str) = if !cli.is_empty() {
        (cli.iter().flat_map(|s| split_list(s)).collect(), flag)
    } else {
        (env.non_empty(var).map(split_list).unwrap_or_default(), var)
    };
    raw.iter()
        .map(|p| {
            let (a, b) = p.split_once(':').ok_or_else(|| {
                ConfigError(format!(
                    "{name}: '{p}' is not FROM:TO, like TERM:QUIT or 143:0"
                ))
            })?;
            let a = item(a).map_err(|e| ConfigError(format!("{name}: {e}")))?;
            let b = item(b).map_err(|e| ConfigError(format!("{name}: {e}")))?;
            Ok((a, b))
        })
        .collect()
}

/// Split a list on whitespace or commas.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Split hooks on `;` or newlines (outside quotes).
pub fn split_hooks(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
            cur.push(c);
            continue;
        }
        match c {
            '\\' if !single => {
                escaped = true;
                cur.push(c);
            }
            '\'' if !double => {
                single = !single;
                cur.push(c);
            }
            '"' if !single => {
                double = !double;
                cur.push(c);
            }
            ';' | '\n' if !single && !double => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Split a command into words as a POSIX shell quotes them (no expansion).
pub fn split_words(s: &str) -> Result<Vec<OsString>, String> {
    let words = shell_words::split(s).map_err(|_| format!("'{s}' has an unterminated quote"))?;
    if words.is_empty() {
        return Err("expected a command, got only blanks".into());
    }
    Ok(words.into_iter().map(OsString::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("preflight").chain(args.iter().copied()))
            .map_err(|e| ConfigError(e.to_string()))?;
        Config::from_args(cli, &env.iter().map(|(k, v)| (*k, *v)).collect())
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
                .0
                .contains("at least one TARGET")
        );
    }

    #[test]
    fn durations_and_their_errors() {
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("-32").is_err());
        let e = config(&["--timeout", "soon", "--", "true"], &[])
            .unwrap_err()
            .0;
        assert!(e.starts_with("--timeout: 'soon'"), "{e}");
        let e = config(&["--", "true"], &[("PREFLIGHT_TIMEOUT", "-32")])
            .unwrap_err()
            .0;
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
    fn booleans_and_lists_from_the_environment_are_strict() {
        let e = config(&["--", "true"], &[("PREFLIGHT_SINGLE_CHILD", "maybe")])
            .unwrap_err()
            .0;
        assert!(e.contains("PREFLIGHT_SINGLE_CHILD: 'maybe'"), "{e}");
        let c = config(
            &["--", "true"],
            &[
                ("PREFLIGHT_SINGLE_CHILD", "1"),
                ("PREFLIGHT_REMAP_EXIT", "143:0"),
            ],
        )
        .unwrap();
        assert!(c.init.single_child);
        assert_eq!(c.init.remap_exit, vec![(143, 0)]);
        let e = config(&["--remap-exit", "143", "--", "true"], &[])
            .unwrap_err()
            .0;
        assert!(e.contains("FROM:TO"), "{e}");
    }

    #[test]
    fn passwords_come_from_the_environment_and_never_show() {
        let c = config(&["wait", "postgres://app@db/app"], &[("PGPASSWORD", "pw")]).unwrap();
        assert_eq!(c.targets[0].password.as_ref().unwrap().expose(), "pw");
        let e = config(&["wait", "postgres://app:hunter2@db:0/app"], &[])
            .unwrap_err()
            .0;
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
            let e = config(&["--", "true"], &[(var, value)]).unwrap_err().0;
            assert!(e.starts_with(expected), "{var}={value}: {e}");
        }
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
        .0;
        assert!(e.starts_with("--lock-name: 'xxx"), "{e}");
        let e = config(&["--lock", "redis://db", "--", "true"], &[])
            .unwrap_err()
            .0;
        assert!(e.contains("not a postgres:// or mysql:// URL"), "{e}");
    }

    #[test]
    fn secrets_from_files_is_off_on_or_a_list_of_names() {
        let pick = |cli: Option<&str>, env: &[(&str, &str)]| {
            secrets_from_files(cli, &env.iter().map(|(k, v)| (*k, *v)).collect())
        };
        assert_eq!(pick(None, &[]), Ok(SecretsFromFiles::Off));
        assert_eq!(pick(Some("on"), &[]), Ok(SecretsFromFiles::All));
        assert_eq!(
            pick(Some("off"), &[("PREFLIGHT_SECRETS_FROM_FILES", "1")]),
            Ok(SecretsFromFiles::Off)
        );
        assert_eq!(
            pick(
                None,
                &[("PREFLIGHT_SECRETS_FROM_FILES", "DB_PASSWORD, SECRET_KEY")]
            ),
            Ok(SecretsFromFiles::Only(vec![
                "DB_PASSWORD".into(),
                "SECRET_KEY".into()
            ]))
        );
        let e = pick(Some("maybe?"), &[]).unwrap_err().0;
        assert!(e.starts_with("--secrets-from-files: 'maybe?'"), "{e}");
        let c = config(&["--secrets-from-files", "--", "true"], &[]).unwrap();
        assert_eq!(c.secrets_from_files, SecretsFromFiles::All);
    }
}
