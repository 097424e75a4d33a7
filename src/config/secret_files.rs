//! `NAME_FILE` → `NAME`, the convention of the official images (postgres,
//! mysql, mariadb...): a Docker or Kubernetes secret is mounted as a file and
//! its path given in `NAME_FILE`; the program wants the value in `NAME`.
//!
//! Contract:
//! - `NAME_FILE=/path` (set and not empty) sets `NAME` to the file's contents
//!   with one trailing newline removed (`echo secret > file` writes one).
//! - `NAME` and `NAME_FILE` both set (not empty) is an error: which one wins
//!   would be a guess.
//! - A file that cannot be read is an error naming the variable and the path;
//!   no error or log line ever shows a file's contents (values are
//!   [`Secret`]s).
//! - `NAME_FILE` itself is removed from the environment it was expanded in: a
//!   program that runs the same convention (an official image's own
//!   `docker-entrypoint.sh` started as the command) would otherwise see both
//!   and refuse to start.
//!
//! Which `NAME`s are expanded is `--secrets-from-files` ([`SecretsFromFiles`]);
//! the credentials preflight's own probes use ([`CREDENTIAL_VARS`]) are always
//! read for the probes, and reach the child only if the switch covers them.
//! Deciding what to read is pure ([`plan`]); the reading itself goes through
//! the function the caller passes, so tests need no files.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::{Env, Source};
use crate::secrets::Secret;
use crate::values::BadValue;
use crate::values::{is_variable_name, parse_bool, split_list};

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

/// The credentials variables preflight's own probes read; their `_FILE`
/// forms are read for the probes even with `--secrets-from-files off`, since
/// their meaning is not in doubt.
pub const CREDENTIAL_VARS: [&str; 3] = ["PGPASSWORD", "MYSQL_PWD", "REDISCLI_AUTH"];

/// `--secrets-from-files` / `PREFLIGHT_SECRETS_FROM_FILES`: `on` (also true,
/// yes, 1), `off` (false, no, 0), or a list of NAMEs.
pub fn which(cli: Option<&str>, env: &Env) -> Result<SecretsFromFiles, BadValue> {
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
        Some(bad) => Err(BadValue::new(format!(
            "{name}: '{bad}' is not one of: on, off, or a list of variable NAMEs (whose NAME_FILE is read)"
        ))),
        None => Ok(SecretsFromFiles::Only(names)),
    }
}

/// One `NAME_FILE` to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVar {
    /// `NAME`.
    pub name: String,
    /// The file named by `NAME_FILE`.
    pub path: PathBuf,
}

impl FileVar {
    fn file_var(&self) -> String {
        format!("{}_FILE", self.name)
    }
}

/// The `NAME_FILE` variables of `env` that `which` covers, in name order;
/// an error if one of them has its `NAME` set too.
pub fn plan(env: &Env, which: &SecretsFromFiles) -> Result<Vec<FileVar>, BadValue> {
    let mut out = Vec::new();
    for (key, value) in env.iter() {
        let Some(name) = key.strip_suffix("_FILE") else {
            continue;
        };
        if name.is_empty() || value.trim().is_empty() || !which.covers(name) {
            continue;
        }
        if env.non_empty(name).is_some() {
            return Err(BadValue::new(format!(
                "{name} and {key} are both set: expected one or the other"
            )));
        }
        out.push(FileVar {
            name: name.to_string(),
            path: PathBuf::from(value),
        });
    }
    Ok(out)
}

/// The variables read from files, and the `NAME_FILE`s they replace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    /// `(NAME, contents)`.
    pub set: Vec<(String, Secret)>,
    /// `NAME_FILE` for each of them.
    pub remove: Vec<String>,
}

impl Expansion {
    /// What the child gets: the variables whose NAME `which` covers, except
    /// preflight's own (`PREFLIGHT_LOCK_FILE` holds a URL with a password
    /// for preflight, not for the app): of those the child gets neither the
    /// value nor the `NAME_FILE`.
    pub fn only(&self, which: &SecretsFromFiles) -> Expansion {
        let mut out = Expansion::default();
        for (name, value) in &self.set {
            if !which.covers(name) {
                continue;
            }
            if !name.starts_with("PREFLIGHT_") {
                out.set.push((name.clone(), value.clone()));
            }
            out.remove.push(format!("{name}_FILE"));
        }
        out
    }

    /// Nothing to set or remove.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }

    /// `env` with the variables set and the `NAME_FILE`s removed (changed in
    /// place: the environment is not copied).
    pub fn apply(&self, mut env: Env) -> Env {
        for name in &self.remove {
            env.remove(name);
        }
        for (name, value) in &self.set {
            env.set(name.clone(), value.expose().to_string());
        }
        env
    }

    /// The same on a child's environment (which may hold variables that are
    /// not UTF-8: they pass untouched).
    pub fn apply_os(&self, vars: Vec<(OsString, OsString)>) -> Vec<(OsString, OsString)> {
        let mut out: Vec<(OsString, OsString)> = vars
            .into_iter()
            .filter(|(k, _)| {
                !self.remove.iter().any(|r| k.as_os_str() == r.as_str())
                    && !self.set.iter().any(|(n, _)| k.as_os_str() == n.as_str())
            })
            .collect();
        out.extend(
            self.set
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v.expose()))),
        );
        out
    }
}

/// Read every `NAME_FILE` that `which` covers, plus the probes' credentials
/// ([`CREDENTIAL_VARS`]), with `read_file`.
pub fn read(
    env: &Env,
    which: &SecretsFromFiles,
    read_file: impl Fn(&Path) -> io::Result<Vec<u8>>,
) -> Result<Expansion, BadValue> {
    read_with(env, &with_credentials(which), read_file)
}

/// Read a secret file, as `Config::from_args` is given to outside tests.
/// Only a regular file (or a link to one): a FIFO would block preflight in
/// `open` or `read` with every signal blocked, so not even TERM could stop
/// it; it is opened without blocking and refused.
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(
            "not a regular file (a FIFO, socket or device?), expected a file holding the secret",
        ));
    }
    let mut out = Vec::new();
    file.read_to_end(&mut out)?;
    Ok(out)
}

/// `which`, plus the probes' credential variables.
fn with_credentials(which: &SecretsFromFiles) -> SecretsFromFiles {
    match which {
        SecretsFromFiles::All => SecretsFromFiles::All,
        SecretsFromFiles::Off => {
            SecretsFromFiles::Only(CREDENTIAL_VARS.iter().map(|s| s.to_string()).collect())
        }
        SecretsFromFiles::Only(names) => SecretsFromFiles::Only(
            names
                .iter()
                .cloned()
                .chain(CREDENTIAL_VARS.iter().map(|s| s.to_string()))
                .collect(),
        ),
    }
}

/// [`read`] with the file system injected.
pub fn read_with(
    env: &Env,
    which: &SecretsFromFiles,
    read_file: impl Fn(&Path) -> io::Result<Vec<u8>>,
) -> Result<Expansion, BadValue> {
    let mut out = Expansion::default();
    for var in plan(env, which)? {
        let blame = || format!("{} ('{}')", var.file_var(), var.path.display());
        let bytes = read_file(&var.path).map_err(|e| {
            BadValue::new(format!(
                "{}: cannot read the secret file: {}",
                blame(),
                crate::describe::io_error(&e)
            ))
        })?;
        let mut text = String::from_utf8(bytes)
            .map_err(|_| BadValue::new(format!("{}: the file is not UTF-8 text", blame())))?;
        if text.contains('\0') {
            return Err(BadValue::new(format!(
                "{}: the file holds a NUL byte, which no environment variable can",
                blame()
            )));
        }
        if text.ends_with('\n') {
            text.pop();
        }
        out.remove.push(var.file_var());
        out.set.push((var.name, Secret::new(text)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        vars.iter().map(|(k, v)| (*k, *v)).collect()
    }

    fn files(path: &Path) -> io::Result<Vec<u8>> {
        match path.to_str() {
            Some("/run/secrets/db") => Ok(b"hunter2\n".to_vec()),
            Some("/run/secrets/two-lines") => Ok(b"a\nb\n\n".to_vec()),
            Some("/run/secrets/binary") => Ok(vec![0xff, 0xfe]),
            _ => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    #[test]
    fn secrets_from_files_is_off_on_or_a_list_of_names() {
        let pick = |cli: Option<&str>, e: &[(&str, &str)]| which(cli, &env(e));
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
        let e = pick(Some("maybe?"), &[]).unwrap_err().to_string();
        assert!(e.starts_with("--secrets-from-files: 'maybe?'"), "{e}");
    }

    #[test]
    fn a_name_file_sets_name_without_one_trailing_newline_and_goes_away() {
        let e = env(&[
            ("DB_PASSWORD_FILE", "/run/secrets/db"),
            ("NOTES_FILE", "/run/secrets/two-lines"),
            ("OTHER", "x"),
        ]);
        let x = read_with(&e, &SecretsFromFiles::All, files).unwrap();
        let out = x.apply(e);
        assert_eq!(out.get("DB_PASSWORD"), Some("hunter2"));
        assert_eq!(out.get("NOTES"), Some("a\nb\n"));
        assert_eq!(out.get("DB_PASSWORD_FILE"), None);
        assert_eq!(out.get("OTHER"), Some("x"));
    }

    #[test]
    fn only_the_names_asked_for_are_read_but_probe_credentials_always() {
        let e = env(&[
            ("SSL_CERT_FILE", "/etc/ssl/nowhere.pem"),
            ("DB_PASSWORD_FILE", "/run/secrets/db"),
            ("PGPASSWORD_FILE", "/run/secrets/db"),
        ]);
        let which = SecretsFromFiles::Only(vec!["DB_PASSWORD".into()]);
        // SSL_CERT_FILE is not covered: never read (its file does not exist).
        let x = read_with(&e, &with_credentials(&which), files).unwrap();
        let names: Vec<_> = x.set.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["DB_PASSWORD", "PGPASSWORD"]);
        // The child gets what the switch covers, not the probes' credentials.
        let child = x.only(&which).apply(e.clone());
        assert_eq!(child.get("DB_PASSWORD"), Some("hunter2"));
        assert_eq!(child.get("PGPASSWORD"), None);
        assert_eq!(child.get("PGPASSWORD_FILE"), Some("/run/secrets/db"));
        let off = read_with(&e, &with_credentials(&SecretsFromFiles::Off), files).unwrap();
        assert_eq!(off.only(&SecretsFromFiles::Off), Expansion::default());
        assert_eq!(off.set.len(), 1);
    }

    #[test]
    fn preflights_own_variables_are_read_for_it_but_never_given_to_the_child() {
        let e = env(&[
            ("PREFLIGHT_LOCK_FILE", "/run/secrets/db"),
            ("DB_PASSWORD_FILE", "/run/secrets/db"),
        ]);
        let x = read_with(&e, &SecretsFromFiles::All, files).unwrap();
        assert_eq!(x.apply(e.clone()).get("PREFLIGHT_LOCK"), Some("hunter2"));
        let child = x.only(&SecretsFromFiles::All).apply(e);
        assert_eq!(child.get("PREFLIGHT_LOCK"), None);
        assert_eq!(child.get("PREFLIGHT_LOCK_FILE"), None);
        assert_eq!(child.get("DB_PASSWORD"), Some("hunter2"));
    }

    #[test]
    fn both_set_is_an_error_naming_both() {
        let e = env(&[
            ("DB_PASSWORD", "x"),
            ("DB_PASSWORD_FILE", "/run/secrets/db"),
        ]);
        let err = read_with(&e, &SecretsFromFiles::All, files)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DB_PASSWORD and DB_PASSWORD_FILE are both set"),
            "{err}"
        );
        // An empty NAME (compose's `FOO=`) does not count as set.
        let e = env(&[("DB_PASSWORD", ""), ("DB_PASSWORD_FILE", "/run/secrets/db")]);
        assert!(read_with(&e, &SecretsFromFiles::All, files).is_ok());
    }

    #[test]
    fn an_unreadable_file_names_the_variable_and_path_never_the_contents() {
        let e = env(&[("API_KEY_FILE", "/run/secrets/missing")]);
        let err = read_with(&e, &SecretsFromFiles::All, files)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("API_KEY_FILE ('/run/secrets/missing'): cannot read"),
            "{err}"
        );
        let e = env(&[("API_KEY_FILE", "/run/secrets/binary")]);
        let err = read_with(&e, &SecretsFromFiles::All, files)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not UTF-8"), "{err}");
        let x = read_with(
            &env(&[("K_FILE", "/run/secrets/db")]),
            &SecretsFromFiles::All,
            files,
        )
        .unwrap();
        assert!(!format!("{x:?}").contains("hunter2"));
    }

    #[test]
    fn the_child_environment_keeps_variables_that_are_not_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let e = env(&[("K_FILE", "/run/secrets/db")]);
        let x = read_with(&e, &SecretsFromFiles::All, files).unwrap();
        let odd = OsString::from_vec(vec![0x66, 0xff]);
        let out = x.apply_os(vec![
            ("K_FILE".into(), "/run/secrets/db".into()),
            ("ODD".into(), odd.clone()),
        ]);
        assert_eq!(
            out,
            vec![("ODD".into(), odd), ("K".into(), "hunter2".into())]
        );
    }
}
