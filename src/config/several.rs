//! Side programs and their options: `--also 'NAME: COMMAND'`
//! (`PREFLIGHT_ALSO`, one per line), `--procfile PATH`
//! (`PREFLIGHT_PROCFILE`), `--restart`, `--max-restarts`, `--log-prefix`,
//! `--tail`.
//!
//! A Procfile line is `NAME: COMMAND`; blank lines and lines starting with
//! `#` are skipped. A NAME is letters, digits, `-` and `_`; COMMAND is split
//! into words like the main command (quotes, no shell). A bad or duplicate
//! NAME, an empty COMMAND, or a Procfile that cannot be read is an error
//! naming it (and the Procfile's line).

use std::path::{Path, PathBuf};

use super::{Env, Source, blame, flag};
use crate::cli::Cli;
use crate::init::{Program, Restart, Several};
use crate::values::{BadValue, split_list, split_words};

/// Everything about side programs, from flags, variables and the Procfile
/// (`read_file` reads it).
pub fn several(
    cli: &Cli,
    env: &Env,
    read_file: &impl Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Several, BadValue> {
    let mut programs = Vec::new();
    let procfile = Source {
        flag: "--procfile",
        var: "PREFLIGHT_PROCFILE",
    };
    let cli_procfile = cli.procfile.as_ref().map(|p| p.to_string_lossy());
    if let Some((path, name)) = procfile.pick(cli_procfile.as_deref(), env) {
        let bytes = read_file(Path::new(path)).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "not found".to_string(),
                _ => e.to_string(),
            };
            BadValue::new(format!("{name} '{path}': cannot read it: {why}"))
        })?;
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{name} '{path}' line {}", n + 1);
            programs.push(blame(&at, program(line))?);
        }
    }
    let also: Vec<(String, String)> = if !cli.also.is_empty() {
        cli.also
            .iter()
            .map(|a| (a.clone(), "--also".into()))
            .collect()
    } else {
        env.non_empty("PREFLIGHT_ALSO")
            .map(|v| {
                v.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| (l.to_string(), "PREFLIGHT_ALSO".into()))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (spec, name) in also {
        programs.push(blame(&name, program(&spec))?);
    }
    for (i, p) in programs.iter().enumerate() {
        if programs[..i].iter().any(|q| q.name == p.name) {
            return Err(BadValue::new(format!(
                "side program '{}' is named twice: expected one NAME per program",
                p.name
            )));
        }
    }

    let restart = match (Source {
        flag: "--restart",
        var: "PREFLIGHT_RESTART",
    })
    .pick(cli.restart.as_deref(), env)
    {
        None => Restart::default(),
        Some((v, name)) => match v.trim() {
            "no" => Restart::No,
            "on-failure" => Restart::OnFailure,
            "always" => Restart::Always,
            _ => {
                return Err(BadValue::new(format!(
                    "{name}: '{v}' is not one of: no, on-failure, always"
                )));
            }
        },
    };
    let max_restarts = match (Source {
        flag: "--max-restarts",
        var: "PREFLIGHT_MAX_RESTARTS",
    })
    .pick(cli.max_restarts.as_deref(), env)
    {
        None => Several::DEFAULT_MAX_RESTARTS,
        Some((v, name)) => v.trim().parse::<u32>().map_err(|_| {
            BadValue::new(format!("{name}: '{v}' is not a number of restarts, like 5"))
        })?,
    };
    let tails: Vec<PathBuf> = if !cli.tail.is_empty() {
        cli.tail.iter().map(PathBuf::from).collect()
    } else {
        env.non_empty("PREFLIGHT_TAIL")
            .map(|v| split_list(v).into_iter().map(PathBuf::from).collect())
            .unwrap_or_default()
    };
    Ok(Several {
        programs,
        restart,
        max_restarts,
        log_prefix: flag(cli.log_prefix, "PREFLIGHT_LOG_PREFIX", env)?,
        tails,
    })
}

/// `NAME: COMMAND`.
fn program(spec: &str) -> Result<Program, String> {
    let Some((name, command)) = spec.split_once(':') else {
        return Err(format!("'{spec}' is not NAME: COMMAND"));
    };
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "'{name}' is not a NAME: expected letters, digits, '-' and '_'"
        ));
    }
    if command.trim().is_empty() {
        return Err(format!("'{name}' has an empty COMMAND"));
    }
    let argv = split_words(command.trim()).map_err(|e| format!("'{name}': {e}"))?;
    Ok(Program {
        name: name.to_string(),
        argv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_a_name_and_words() {
        let p = program("worker: celery -A 'my app' worker").unwrap();
        assert_eq!(p.name, "worker");
        assert_eq!(
            p.argv,
            ["celery", "-A", "my app", "worker"].map(std::ffi::OsString::from)
        );
        assert!(
            program("web gunicorn")
                .unwrap_err()
                .contains("NAME: COMMAND")
        );
        assert!(
            program("we b: x")
                .unwrap_err()
                .contains("'we b' is not a NAME")
        );
        assert!(program("é: x").unwrap_err().contains("is not a NAME"));
        assert!(program("web:  ").unwrap_err().contains("empty COMMAND"));
    }
}
