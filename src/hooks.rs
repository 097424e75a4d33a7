//! The hooks phase: `python manage.py migrate` & co., after every wait
//! succeeded and before the command.
//!
//! Contract:
//! - Order: every executable file in `--hooks-dir`, in byte order of their
//!   names (what the image bakes in, as `/docker-entrypoint.d` in the official
//!   images), then each `--hook` in the order given (what the deployment adds).
//!   Anything else in the directory (no execute bit, a subdirectory, a broken
//!   link) is skipped with a line saying so.
//! - Everything that can be known before starting is checked before anything
//!   starts ([`plan`]): a missing directory (exit 2), a `--hook` whose program
//!   is not found (127) or cannot be executed (126).
//! - Each hook runs under the init core like the command ([`Role::Hook`]):
//!   same environment, user, signal forwarding; its output passes straight
//!   through; its start and end are logged with the time taken.
//! - The first hook that does not succeed stops the start, and its status is
//!   preflight's: its exit code, 128+N if it died of signal N, 124 if it ran
//!   past `--hook-timeout` (it was killed), 126/127 if it could not be
//!   started. A terminating signal forwarded to a hook means no further hook
//!   and no command: 128+N.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use crate::exit_code::{self, Status};
use crate::init::{self, InitOptions, Role};
use crate::values::BadValue;

/// One hook, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub argv: Vec<OsString>,
}

impl fmt::Display for Hook {
    /// The hook as a shell would quote it, for log lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self
            .argv
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        f.write_str(&shell_words::join(words))
    }
}

/// Why the hooks cannot run: the bad value, and the exit code it means (2
/// for a bad `--hooks-dir`, 127/126 for a program not found/not executable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    pub code: u8,
    pub error: BadValue,
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

/// The hooks in the order they run: `dir`'s executables by name, then
/// `hooks`. `path` is the `PATH` the hooks will see, to find their programs.
/// Lines for skipped files are logged here.
pub fn plan(
    dir: Option<&Path>,
    hooks: &[Vec<OsString>],
    path: Option<&OsStr>,
) -> Result<Vec<Hook>, HookError> {
    let mut out = Vec::new();
    if let Some(dir) = dir {
        out.extend(list_dir(dir)?.into_iter().map(|p| Hook {
            argv: vec![p.into_os_string()],
        }));
    }
    for argv in hooks {
        let hook = Hook { argv: argv.clone() };
        let Some(program) = argv.first() else {
            continue;
        };
        let hint = shell_hint(argv);
        if let Err((code, why)) = find_program(program, path) {
            let hint = hint.map(|h| format!("; {h}")).unwrap_or_default();
            return Err(HookError {
                code,
                error: BadValue::new(format!(
                    "hook '{hook}': '{}' {why}{hint}",
                    Path::new(program).display()
                )),
            });
        }
        if let Some(hint) = hint {
            warn!("hook '{hook}': {hint}");
        }
        out.push(hook);
    }
    Ok(out)
}

/// Words a shell would have read as syntax, which reach the program as
/// plain arguments because preflight runs hooks and commands without one.
const SHELL_SYNTAX: &[&str] = &["&&", "||", "|", ";", "&", ">", ">>", "<", "2>&1", "2>"];

/// A first mistake people make: `--hook 'cd /app && ./migrate'` or
/// `echo $HOME` written as if a shell ran it. The one-line advice, with the
/// `sh -c '...'` spelling, or None when nothing looks like shell syntax.
pub fn shell_hint(argv: &[OsString]) -> Option<String> {
    let word = argv.iter().filter_map(|w| w.to_str()).find(|w| {
        SHELL_SYNTAX.contains(w)
            || w.strip_prefix('$')
                .and_then(|v| v.chars().next())
                .is_some_and(|c| c == '{' || c == '_' || c.is_ascii_alphabetic())
    })?;
    let text: Vec<String> = argv
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    Some(format!(
        "'{word}' reaches the program as a plain argument: preflight runs it without a shell; for shell syntax write sh -c '{}'",
        text.join(" ")
    ))
}

/// The executables in `dir`, sorted by name; the rest skipped with a line.
fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, HookError> {
    let usage = |why: String| HookError {
        code: exit_code::USAGE,
        error: BadValue::new(format!("hooks directory '{}': {why}", dir.display())),
    };
    let entries = std::fs::read_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => usage("does not exist".into()),
        _ => usage(crate::describe::io_error(&e)),
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| usage(crate::describe::io_error(&e)))?;
        paths.push(entry.path());
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let mut out = Vec::new();
    for p in paths {
        // Follows links: a link to an executable is a hook.
        match std::fs::metadata(&p) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => out.push(p),
            Ok(m) if m.is_file() => info!("skipping {}: not executable", p.display()),
            Ok(_) => info!("skipping {}: not a file", p.display()),
            Err(e) => info!(
                "skipping {}: {}",
                p.display(),
                crate::describe::io_error(&e)
            ),
        }
    }
    Ok(out)
}

/// Where `execvp` would find `program`: Err((127 or 126, why)) if nowhere.
/// Execute bits are checked as root sees them (any x bit).
fn find_program(program: &OsStr, path: Option<&OsStr>) -> Result<PathBuf, (u8, String)> {
    let candidate = |p: &Path| -> Result<(), (u8, String)> {
        match std::fs::metadata(p) {
            Err(_) => Err((exit_code::NOT_FOUND, "not found".into())),
            Ok(m) if m.is_dir() => Err((exit_code::CANNOT_EXECUTE, "is a directory".into())),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                Err((exit_code::CANNOT_EXECUTE, "is not executable".into()))
            }
            Ok(_) => Ok(()),
        }
    };
    if program.as_encoded_bytes().contains(&b'/') {
        let p = PathBuf::from(program);
        return candidate(&p).map(|()| p);
    }
    // glibc's execvp searches /bin:/usr/bin when PATH is unset.
    let search = path.unwrap_or(OsStr::new("/bin:/usr/bin"));
    let mut found_unexecutable = None;
    for dir in std::env::split_paths(search) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let p = dir.join(program);
        match candidate(&p) {
            Ok(()) => return Ok(p),
            Err((exit_code::CANNOT_EXECUTE, why)) => {
                found_unexecutable.get_or_insert(why);
            }
            Err(_) => {}
        }
    }
    Err(match found_unexecutable {
        Some(why) => (exit_code::CANNOT_EXECUTE, why),
        None => (exit_code::NOT_FOUND, "not found in PATH".into()),
    })
}

/// Run `hooks` one after the other, each as `template` says (environment,
/// credentials); Err(code) at the first one that does not succeed. `done`
/// hears of each hook that ran: how long it took and the code it ended with.
/// `stop`, once requested (`--lock` lost), ends the running hook and starts
/// no other: Err(1); the requester says why.
pub fn run_all(
    hooks: &[Hook],
    template: &init::Command,
    timeout: Option<Duration>,
    stop: Option<&init::Stop>,
    opts: &InitOptions,
    done: &mut dyn FnMut(&Hook, Duration, u8),
) -> Result<(), u8> {
    for hook in hooks {
        // A terminating signal that came since the last phase (or the last
        // hook) started nothing yet: it stops the start before this hook.
        if let Some(sig) = init::signals::take_pending_terminating() {
            info!(
                "stopped by {} before hook '{hook}': nothing else starts",
                init::signals::Name(sig)
            );
            return Err(Status::Signaled(sig).code());
        }
        if stop.is_some_and(init::Stop::requested) {
            error!("hook '{hook}': not started (see above)");
            return Err(exit_code::NOT_READY);
        }
        let result = run_one(hook, template, timeout, stop, opts);
        let (took, code) = match result {
            Ok(took) => (took, exit_code::OK),
            Err((took, code)) => (took, code),
        };
        done(hook, took, code);
        result.map_err(|(_, code)| code)?;
    }
    Ok(())
}

/// One hook: how long it took, or that and the code to stop with.
fn run_one(
    hook: &Hook,
    template: &init::Command,
    timeout: Option<Duration>,
    stop: Option<&init::Stop>,
    opts: &InitOptions,
) -> Result<Duration, (Duration, u8)> {
    let cmd = init::Command {
        argv: hook.argv.clone(),
        ..template.clone()
    };
    info!("hook '{hook}': starting");
    let started = Instant::now();
    let role = Role::Hook {
        timeout,
        stop: stop.cloned(),
    };
    let ended = match init::run(&cmd, role, opts) {
        Ok(ended) => ended,
        Err(e) => {
            error!(
                "hook '{hook}': cannot run '{}': {}",
                e.program,
                crate::describe::io_error(&e.err)
            );
            return Err((started.elapsed(), exit_code::for_exec_error(&e.err)));
        }
    };
    let elapsed = started.elapsed();
    let took = Took(elapsed);
    if let Some(sig) = ended.terminating_signal {
        info!(
            "hook '{hook}': {} after {took}; stopped by {}: nothing else starts",
            init::describe(ended.status),
            init::signals::Name(sig)
        );
        return Err((elapsed, Status::Signaled(sig).code()));
    }
    if ended.timed_out {
        error!("hook '{hook}': still running after {took} (--hook-timeout): killed");
        return Err((elapsed, exit_code::TIMED_OUT));
    }
    if ended.stopped {
        error!(
            "hook '{hook}': stopped after {took} ({}): nothing else starts",
            init::describe(ended.status)
        );
        return Err((elapsed, exit_code::NOT_READY));
    }
    if !ended.status.success() {
        error!(
            "hook '{hook}': {} after {took}: the command is not started",
            init::describe(ended.status)
        );
        return Err((elapsed, ended.status.code()));
    }
    info!("hook '{hook}': done in {took}");
    Ok(elapsed)
}

/// A duration for log lines: `850ms`, `12.3s`.
struct Took(Duration);

impl fmt::Display for Took {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            write!(f, "{ms}ms")
        } else {
            write!(f, "{:.1}s", self.0.as_secs_f64())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(Took(Duration::from_millis(5)).to_string(), "5ms");
        assert_eq!(Took(Duration::from_millis(12_345)).to_string(), "12.3s");
    }

    #[test]
    fn programs_are_found_like_execvp() {
        let path = Some(OsStr::new("/nonexistent:/bin:/usr/bin"));
        assert!(find_program(OsStr::new("sh"), path).is_ok());
        assert_eq!(
            find_program(OsStr::new("no-such-program-here"), path)
                .unwrap_err()
                .0,
            127
        );
        assert_eq!(
            find_program(OsStr::new("/etc/passwd"), path).unwrap_err().0,
            126
        );
        assert_eq!(find_program(OsStr::new("/etc"), path).unwrap_err().0, 126);
        assert_eq!(
            find_program(OsStr::new("/no/such"), path).unwrap_err().0,
            127
        );
    }

    #[test]
    fn a_hook_that_cannot_run_is_named_before_anything_starts() {
        let hooks = vec![
            vec![OsString::from("true")],
            vec![OsString::from("frobnicate"), OsString::from("--now")],
        ];
        let e = plan(None, &hooks, Some(OsStr::new("/bin:/usr/bin"))).unwrap_err();
        assert_eq!(e.code, 127);
        assert_eq!(
            e.error.message(),
            "hook 'frobnicate --now': 'frobnicate' not found in PATH"
        );
        let e = plan(
            Some(Path::new("/no/such/dir")),
            &[],
            Some(OsStr::new("/bin")),
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.error.message()),
            (2, "hooks directory '/no/such/dir': does not exist")
        );
    }

    #[test]
    fn shell_syntax_in_a_hook_gets_the_sh_c_spelling() {
        let words = |s: &str| -> Vec<OsString> { s.split(' ').map(Into::into).collect() };
        assert_eq!(
            shell_hint(&words("cd /app && ./migrate")).unwrap(),
            "'&&' reaches the program as a plain argument: preflight runs it without a shell; for shell syntax write sh -c 'cd /app && ./migrate'"
        );
        assert!(
            shell_hint(&words("echo $HOME"))
                .unwrap()
                .contains("'$HOME'")
        );
        assert!(shell_hint(&words("echo ${HOME}")).is_some());
        assert!(shell_hint(&words("migrate > /tmp/log")).is_some());
        assert_eq!(
            shell_hint(&words("python manage.py migrate --noinput")),
            None
        );
        // A price, a regex anchor: not shell syntax.
        assert_eq!(shell_hint(&words("echo 5$ ^a$")), None);
        let e = plan(
            None,
            &[words("cd /app && ./migrate")],
            Some(OsStr::new("/nonexistent")),
        )
        .unwrap_err();
        assert!(
            e.error
                .message()
                .ends_with("write sh -c 'cd /app && ./migrate'"),
            "{}",
            e.error.message()
        );
    }

    #[test]
    fn hooks_show_as_a_shell_would_quote_them() {
        let h = Hook {
            argv: vec!["echo".into(), "a b".into()],
        };
        assert_eq!(h.to_string(), "echo 'a b'");
    }
}
