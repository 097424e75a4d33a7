//! What clap saw on the command line, nothing more: no defaults from the
//! environment, no validation beyond shapes. [`crate::config::Config`] merges
//! this with the environment (each flag's variable is named in its help) and
//! validates everything.

use std::ffi::OsString;

use clap::{ArgAction, Args, Parser, Subcommand};

const ABOUT_OPTIONS: &str = "\
Every option can also be set with the environment variable named in [env: ...];
the command line wins. Lists split on whitespace or commas, hooks on ';' or newlines.";

const AFTER_TARGETS: &str = "\
URL parameters per scheme (sslmode, ssl-mode, ssl_cert_reqs, verify, CA and
client certificate files), env:NAME targets and PREFLIGHT_CA_FILE: README,
section \"URLs, TLS and each scheme's parameters\".

Exit codes: the command's own; 128+N killed by signal N; 124 timed out;
126 cannot execute; 127 not found; 2 bad arguments; 1 check: not ready.

Examples:
  preflight --wait db:5432 redis:6379 --hook 'python manage.py migrate' -- gunicorn app.wsgi
  preflight wait postgres://db:5432 mysql://other:3306
  preflight check redis:6379";

/// The text after the options: the targets come from the protocol registry.
fn after_help() -> String {
    format!(
        "{ABOUT_OPTIONS}\n\n{}\n\n{AFTER_TARGETS}",
        crate::protocol::help()
    )
}

/// Wait until dependencies are really ready, run setup hooks, then run the
/// command as a correct PID 1 (signals forwarded, zombies reaped, exit status
/// returned).
#[derive(Debug, Parser)]
#[command(
    name = "preflight",
    version,
    override_usage = "preflight [OPTIONS] [-- COMMAND...]\n       preflight wait [OPTIONS] TARGET...\n       preflight check [OPTIONS] TARGET...",
    after_help = after_help(),
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Option<ModeArgs>,

    #[command(flatten)]
    pub wait: WaitArgs,

    /// Run COMMAND before the command, after waiting; repeatable
    /// [env: PREFLIGHT_HOOKS, split on ';' or newlines]
    #[arg(long = "hook", value_name = "COMMAND", action = ArgAction::Append)]
    pub hooks: Vec<String>,

    /// Run every executable in DIR, in name order, before the --hook ones
    /// [env: PREFLIGHT_HOOKS_DIR]
    #[arg(long, value_name = "DIR")]
    pub hooks_dir: Option<OsString>,

    /// Render the template SRC to DEST after waiting, before the hooks:
    /// ${VAR}, ${VAR:-default}, ${VAR:?message}, $$; an unset VAR stops the
    /// start; repeatable [env: PREFLIGHT_TEMPLATES, SRC:DEST pairs]
    #[arg(long = "template", value_name = "SRC:DEST", action = ArgAction::Append)]
    pub templates: Vec<String>,

    /// Render every DIR/*.template to OUTDIR (default: DIR) without
    /// .template, as the nginx image does [env: PREFLIGHT_TEMPLATES_DIR]
    #[arg(long, value_name = "DIR[:OUTDIR]")]
    pub templates_dir: Option<String>,

    /// Kill a hook that runs longer (TERM, --grace, KILL) and exit 124
    /// [env: PREFLIGHT_HOOK_TIMEOUT]
    #[arg(long, value_name = "DURATION")]
    pub hook_timeout: Option<String>,

    /// Hold a database lock (postgres:// or mysql:// URL) while the hooks run,
    /// so replicas migrate one at a time [env: PREFLIGHT_LOCK]
    #[arg(long, value_name = "URL")]
    pub lock: Option<String>,

    /// The name of the --lock, for replicas of different apps sharing one
    /// database [default: preflight] [env: PREFLIGHT_LOCK_NAME]
    #[arg(long, value_name = "NAME")]
    pub lock_name: Option<String>,

    /// Give up taking the --lock after DURATION (exit 124); --timeout bounds
    /// only the wait for dependencies [default: none] [env: PREFLIGHT_LOCK_TIMEOUT]
    #[arg(long, value_name = "DURATION")]
    pub lock_timeout: Option<String>,

    /// Run hooks and command as USER[:GROUP] (names or ids), like gosu
    /// [env: PREFLIGHT_USER]
    #[arg(long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,

    /// Set NAME from the file named by NAME_FILE, as the official images do:
    /// for every NAME_FILE (on), none (off), or only the NAMEs listed
    /// [default: off] [env: PREFLIGHT_SECRETS_FROM_FILES]
    #[arg(long, value_name = "on|off|NAME,...", num_args = 0..=1, default_missing_value = "on")]
    pub secrets_from_files: Option<String>,

    /// Forward signals to the child's whole process group, not the child
    /// alone, for wrappers that trap TERM and wait [env: PREFLIGHT_SIGNAL_GROUP]
    #[arg(long, conflicts_with = "single_child")]
    pub signal_group: bool,

    /// Forward signals to the child alone: the default, accepted so that
    /// existing command lines keep working [env: PREFLIGHT_SINGLE_CHILD]
    #[arg(long, hide_short_help = true)]
    pub single_child: bool,

    /// Rewrite a signal before forwarding it, e.g. TERM:QUIT (to 0 drops it);
    /// repeatable [env: PREFLIGHT_REWRITE]
    #[arg(long, value_name = "FROM:TO", action = ArgAction::Append)]
    pub rewrite: Vec<String>,

    /// Also run a side program beside the command, 'NAME: COMMAND';
    /// repeatable [env: PREFLIGHT_ALSO, one per line]
    #[arg(long, value_name = "NAME: COMMAND", action = ArgAction::Append)]
    pub also: Vec<String>,

    /// Run each 'NAME: COMMAND' line of a Procfile as a side program
    /// [env: PREFLIGHT_PROCFILE]
    #[arg(long, value_name = "PATH")]
    pub procfile: Option<OsString>,

    /// When a side program that exited is started again: no, on-failure,
    /// always [default: on-failure] [env: PREFLIGHT_RESTART]
    #[arg(long, value_name = "no|on-failure|always")]
    pub restart: Option<String>,

    /// Restarts without 60 s of running in between, after which a side
    /// program has failed for good and everything stops [default: 5]
    /// [env: PREFLIGHT_MAX_RESTARTS]
    #[arg(long, value_name = "N")]
    pub max_restarts: Option<String>,

    /// Prefix every line each program writes with 'NAME | ', on the stream
    /// it came on [env: PREFLIGHT_LOG_PREFIX]
    #[arg(long)]
    pub log_prefix: bool,

    /// Copy what is appended to the file PATH to stdout, as tail -F does;
    /// repeatable [env: PREFLIGHT_TAIL]
    #[arg(long, value_name = "PATH", action = ArgAction::Append)]
    pub tail: Vec<OsString>,

    /// Rewrite the command's exit code, e.g. 143:0; repeatable
    /// [env: PREFLIGHT_REMAP_EXIT]
    #[arg(long, value_name = "FROM:TO", action = ArgAction::Append)]
    pub remap_exit: Vec<String>,

    /// After the command exits, how long leftover processes get between TERM
    /// and KILL [default: 3s] [env: PREFLIGHT_GRACE]
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,

    /// After forwarding TERM, KILL the command if it is still running this
    /// much later [env: PREFLIGHT_KILL_AFTER]
    #[arg(long, value_name = "DURATION")]
    pub kill_after: Option<String>,

    /// Do not register as child subreaper when not PID 1
    /// [env: PREFLIGHT_NO_SUBREAPER]
    #[arg(long)]
    pub no_subreaper: bool,

    /// Replace preflight with the command (exec) instead of supervising it
    /// [env: PREFLIGHT_EXEC]
    #[arg(long)]
    pub exec: bool,

    /// Send SIGNAL to the command when preflight's parent dies
    /// [env: PREFLIGHT_PDEATHSIG]
    #[arg(long, value_name = "SIGNAL")]
    pub pdeathsig: Option<String>,

    /// The command to run [env: PREFLIGHT_COMMAND, split like a shell]
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

/// Options that shape waiting and logging; they apply to every mode.
#[derive(Debug, Args, Default)]
pub struct WaitArgs {
    /// Wait until every TARGET is ready before going on; repeatable
    /// [env: PREFLIGHT_WAIT]
    #[arg(id = "wait_targets", short = 'w', long = "wait", value_name = "TARGET", num_args = 1.., action = ArgAction::Append, global = true)]
    pub targets: Vec<String>,

    /// Deadline of one try: connect plus protocol exchange [default: 2s]
    /// [env: PREFLIGHT_TRY_TIMEOUT]
    #[arg(long, value_name = "DURATION", global = true)]
    pub try_timeout: Option<String>,

    /// More output (-v debug, -vv trace) [env: PREFLIGHT_LOG]
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Less output (-q warnings only, -qq errors only)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub quiet: u8,

    /// Log line format on stderr: text or json [env: PREFLIGHT_LOG_FORMAT]
    #[arg(long, value_name = "text|json", global = true)]
    pub log_format: Option<String>,

    #[command(flatten)]
    pub deadline: Deadline,
}

/// How long waiting may take, and what then: options of the default mode
/// and of `wait`, not of `check` (it tries each target once), so they are
/// not global and `wait` has its own.
#[derive(Debug, Args, Default, Clone)]
pub struct Deadline {
    /// Give up waiting after DURATION (0: never) [default: 60s]
    /// [env: PREFLIGHT_TIMEOUT]
    #[arg(short, long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// What to do when waiting times out: fail (exit 124) or continue
    /// [env: PREFLIGHT_ON_TIMEOUT]
    #[arg(long, value_name = "fail|continue")]
    pub on_timeout: Option<String>,
}

impl Deadline {
    /// The subcommand's value of each option, else the one before it.
    fn or(&self, outer: &Deadline) -> Deadline {
        Deadline {
            timeout: self.timeout.clone().or_else(|| outer.timeout.clone()),
            on_timeout: self.on_timeout.clone().or_else(|| outer.on_timeout.clone()),
        }
    }
}

impl Cli {
    /// What clap makes of `argv` (the program's name first), as `main` got
    /// it from C's start-up.
    ///
    /// The forms containers run most are answered without building clap's
    /// parser for thirty options (40% of the instructions of starting
    /// `preflight -- true`, 42–45% of `preflight check`), because each word
    /// can mean only one thing there:
    ///
    /// - `-- COMMAND...` (the usual `ENTRYPOINT`, everything else set
    ///   through the environment): after `--` every word is the command;
    /// - `check TARGET...` and `wait TARGET...` (HEALTHCHECK, readiness
    ///   probes, init containers) and `--wait TARGET... [-- COMMAND...]`
    ///   (compose's `command:`), when no target starts with `-`.
    ///
    /// A test holds each answer equal to clap's; anything else (an option,
    /// `--help`, a mistake) goes through clap, which also says what is
    /// wrong.
    pub fn parse_args(argv: Vec<OsString>) -> Result<Cli, clap::Error> {
        if let Some(cli) = Cli::simple(&argv) {
            return Ok(cli);
        }
        let named = not_utf8_argument(&argv);
        Cli::try_parse_from(argv).map_err(|e| match (e.kind(), named) {
            // clap's message names no argument.
            (clap::error::ErrorKind::InvalidUtf8, Some(message)) => {
                clap::Error::raw(clap::error::ErrorKind::InvalidUtf8, message)
            }
            _ => e,
        })
    }

    /// One of the forms [`Cli::parse_args`] answers alone, or None.
    fn simple(argv: &[OsString]) -> Option<Cli> {
        let words = argv.get(1..)?;
        let first = words.first()?.to_str()?;
        if first == "--" {
            return Some(Cli::only_command(words[1..].to_vec()));
        }
        // Targets: UTF-8 words up to `--` (or the end), none an option.
        let targets = |from: &[OsString]| -> Option<(Vec<String>, usize)> {
            let mut targets = Vec::new();
            for w in from {
                let w = w.to_str()?;
                if w == "--" {
                    break;
                }
                if w.starts_with('-') {
                    return None;
                }
                targets.push(w.to_owned());
            }
            (!targets.is_empty()).then(|| {
                let n = targets.len();
                (targets, n)
            })
        };
        match first {
            "check" | "wait" => {
                let (targets, n) = targets(&words[1..])?;
                if n + 1 != words.len() {
                    return None;
                }
                let mut cli = Cli::only_command(Vec::new());
                cli.mode = Some(if first == "check" {
                    ModeArgs::Check {
                        targets,
                        json: false,
                        timeout: None,
                        on_timeout: None,
                    }
                } else {
                    ModeArgs::Wait {
                        targets,
                        json: false,
                        deadline: Deadline {
                            timeout: None,
                            on_timeout: None,
                        },
                    }
                });
                Some(cli)
            }
            "--wait" | "-w" => {
                let (targets, n) = targets(&words[1..])?;
                // Nothing after the targets, or `--` and the command.
                let command = match words.get(n + 1) {
                    None => Vec::new(),
                    Some(_) => words[n + 2..].to_vec(),
                };
                let mut cli = Cli::only_command(command);
                cli.wait.targets = targets;
                Some(cli)
            }
            _ => None,
        }
    }

    /// No option, no subcommand, this command: what clap gives for
    /// `preflight -- COMMAND...`. The struct literal names every field, so
    /// a new option cannot be forgotten here.
    fn only_command(command: Vec<OsString>) -> Cli {
        Cli {
            mode: None,
            wait: WaitArgs {
                targets: Vec::new(),
                try_timeout: None,
                verbose: 0,
                quiet: 0,
                log_format: None,
                deadline: Deadline {
                    timeout: None,
                    on_timeout: None,
                },
            },
            hooks: Vec::new(),
            hooks_dir: None,
            templates: Vec::new(),
            templates_dir: None,
            hook_timeout: None,
            lock: None,
            lock_name: None,
            lock_timeout: None,
            user: None,
            secrets_from_files: None,
            signal_group: false,
            single_child: false,
            rewrite: Vec::new(),
            also: Vec::new(),
            procfile: None,
            restart: None,
            max_restarts: None,
            log_prefix: false,
            tail: Vec::new(),
            remap_exit: Vec::new(),
            grace: None,
            kill_after: None,
            no_subreaper: false,
            exec: false,
            pdeathsig: None,
            command,
        }
    }
}

/// The first argument before `--` that is not UTF-8 (the command's own words
/// may be anything), as one line naming it: `--user: 'nob\xffdy' is not
/// UTF-8 text`.
fn not_utf8_argument(argv: &[OsString]) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let end = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    let i = (1..end).find(|&i| argv[i].to_str().is_none())?;
    let bytes = argv[i].as_bytes();
    let (name, value) = match bytes.iter().position(|&b| b == b'=') {
        Some(eq) if bytes.starts_with(b"--") => (
            String::from_utf8_lossy(&bytes[..eq]).into_owned(),
            &bytes[eq + 1..],
        ),
        _ => match argv[i - 1].to_str() {
            Some(flag) if i > 1 && flag.starts_with('-') => (flag.to_string(), bytes),
            _ => (format!("argument {i}"), bytes),
        },
    };
    Some(format!(
        "{name}: '{}' is not UTF-8 text",
        value.escape_ascii()
    ))
}

#[derive(Debug, Subcommand)]
pub enum ModeArgs {
    /// Wait until every TARGET is ready, then exit 0 (for init containers and
    /// scripts)
    Wait {
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
        /// Print one JSON object on stdout: each target's state, time, tries
        /// and last reason [env: PREFLIGHT_JSON]
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        deadline: Deadline,
    },
    /// Try every TARGET once: exit 0 if all are ready now, 1 if not (for
    /// HEALTHCHECK and readiness probes)
    Check {
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
        /// Print one JSON object on stdout: each target's state, time and
        /// reason [env: PREFLIGHT_JSON]
        #[arg(long)]
        json: bool,
        /// Accepted but meaningless here (check tries once; the try's
        /// deadline is --try-timeout): a warning says so. Not in --help.
        #[arg(short, long, value_name = "DURATION", hide = true)]
        timeout: Option<String>,
        #[arg(long, value_name = "fail|continue", hide = true)]
        on_timeout: Option<String>,
    },
}

impl Cli {
    /// `--timeout` and `--on-timeout` as they apply to waiting: `wait`'s own
    /// over those before the subcommand. Given to `check`, they wait for
    /// nothing: see [`Cli::ignored_by_check`].
    pub fn deadline(&self) -> Deadline {
        match &self.mode {
            Some(ModeArgs::Wait { deadline, .. }) => deadline.or(&self.wait.deadline),
            Some(ModeArgs::Check { .. }) => Deadline::default(),
            None => self.wait.deadline.clone(),
        }
    }

    /// The waiting options given to `check`, which tries each target once.
    pub fn ignored_by_check(&self) -> Vec<&'static str> {
        let Some(ModeArgs::Check {
            timeout,
            on_timeout,
            ..
        }) = &self.mode
        else {
            return Vec::new();
        };
        let outer = &self.wait.deadline;
        let mut ignored = Vec::new();
        if timeout.is_some() || outer.timeout.is_some() {
            ignored.push("--timeout");
        }
        if on_timeout.is_some() || outer.on_timeout.is_some() {
            ignored.push("--on-timeout");
        }
        ignored
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use clap::Parser;

    use super::Cli;

    #[test]
    fn the_forms_answered_without_clap_are_what_clap_makes_of_them() {
        let commands: [&[&str]; 5] = [
            &[],
            &["true"],
            &["--", "x"],
            &["-w", "db:5432", "--help", "check", "wait"],
            &["sh", "-c", "exec \"$@\"", "--version"],
        ];
        for command in commands {
            let command: Vec<OsString> = command.iter().map(Into::into).collect();
            let argv: Vec<OsString> = ["preflight".into(), "--".into()]
                .into_iter()
                .chain(command.iter().cloned())
                .collect();
            let by_clap = Cli::try_parse_from(argv.clone()).unwrap();
            let fast = Cli::parse_args(argv).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{by_clap:?}"), "{command:?}");
        }
        // The other forms answered without clap's parser, and some that look
        // like them but are not (clap answers those, or refuses them).
        let forms: [&[&str]; 14] = [
            &["check", "redis:6379"],
            &["wait", "db:5432", "postgres://u:p@h/db", "a,b"],
            &["--wait", "db:5432", "redis:6379"],
            &["-w", "db:5432", "--", "gunicorn", "-b", "0:80"],
            &["--wait", "db:5432", "--"],
            &["--wait", "db:5432", "--", "--", "x"],
            &["--wait", "check", "--", "wait"],
            &["check", "a", "-v"],
            &["check", "a", "--", "b"],
            &["wait", "--timeout", "5s", "a"],
            &["--wait", "a", "--hook", "true", "--", "x"],
            &["--wait", "--", "x"],
            &["check"],
            &["--wait=a", "--", "x"],
        ];
        for form in forms {
            let argv: Vec<OsString> = std::iter::once("preflight")
                .chain(form.iter().copied())
                .map(Into::into)
                .collect();
            let by_clap = Cli::try_parse_from(argv.clone()).map(|c| format!("{c:?}"));
            let ours = Cli::parse_args(argv).map(|c| format!("{c:?}"));
            match (ours, by_clap) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{form:?}"),
                (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{form:?}"),
                (a, b) => panic!("{form:?}: {a:?} but clap: {b:?}"),
            }
        }
        // Not UTF-8.
        let odd = OsString::from_vec(vec![0x66, 0xff, 0x6f]);
        let argv: Vec<OsString> = vec!["preflight".into(), "--".into(), odd];
        let by_clap = Cli::try_parse_from(argv.clone()).unwrap();
        let fast = Cli::parse_args(argv).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{by_clap:?}"));
    }
}
