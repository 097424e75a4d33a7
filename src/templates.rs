//! Config files from the environment: `--template SRC:DEST` and
//! `--templates-dir DIR[:OUTDIR]`, rendered after waiting, before the hooks.
//!
//! # Syntax (a shell user reads it at once)
//!
//! | written                | becomes                                                      |
//! |------------------------|--------------------------------------------------------------|
//! | `${VAR}`               | the value of VAR; **unset: the start stops** (exit 2)        |
//! | `${VAR:-default}`      | VAR if set and not empty, else `default`                     |
//! | `${VAR-default}`       | VAR if set (even empty), else `default`                      |
//! | `${VAR:?message}`      | VAR if set and not empty, else the start stops with message  |
//! | `${VAR?message}`       | VAR if set (even empty), else the start stops with message   |
//! | `$$`                   | one literal `$`                                              |
//! | `$` + anything else    | itself: `$host`, `$1`, `$uri` stay as written                |
//!
//! A bare `$VAR` is deliberately **not** substituted: nginx, Apache and shell
//! snippets inside config files use `$name` for their own variables, and the
//! nginx image has to restrict envsubst to defined variables to protect them.
//! Only the braced form is preflight's. A default may itself hold `${...}`.
//!
//! Strict, unlike dockerize's empty string: an unset variable without a
//! default is an error naming the variable and `file:line`, and nothing is
//! written. Values are written as they are and never printed: errors name
//! variables, files and lines only.
//!
//! # Writing
//!
//! Every template is rendered in memory first; only when all of them rendered
//! is anything written. Each DEST is written atomically: a temporary file in
//! DEST's directory, flushed, given the template's mode (and `--user`'s owner),
//! then renamed over DEST. A reader sees the old file or the new one, never
//! half of one, and a failed start leaves the old DEST untouched.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::values::BadValue;

/// One template to render: where from, where to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub src: PathBuf,
    pub dest: PathBuf,
}

/// Parse `SRC:DEST` (`--template`). The last `:` splits, so a SRC may hold
/// one; neither side may be empty.
pub fn parse_pair(spec: &str) -> Result<Template, String> {
    match spec.rsplit_once(':') {
        Some((src, dest)) if !src.is_empty() && !dest.is_empty() => Ok(Template {
            src: src.into(),
            dest: dest.into(),
        }),
        _ => Err(format!("'{spec}': expected SRC:DEST (two paths)")),
    }
}

/// Parse `DIR[:OUTDIR]` (`--templates-dir`): OUTDIR defaults to DIR.
pub fn parse_dir(spec: &str) -> Result<(PathBuf, PathBuf), String> {
    let (dir, out) = match spec.split_once(':') {
        Some((dir, out)) => (dir, out),
        None => (spec, spec),
    };
    if dir.is_empty() || out.is_empty() {
        return Err(format!("'{spec}': expected DIR or DIR:OUTDIR"));
    }
    Ok((dir.into(), out.into()))
}

/// The nginx convention: every `*.template` under `dir` (sub-directories
/// included, in name order) becomes the same relative path under `out`
/// without `.template`. A missing `dir` is an error: the image asked for it.
pub fn from_dir(dir: &Path, out: &Path) -> Result<Vec<Template>, BadValue> {
    let mut found = Vec::new();
    walk(dir, Path::new(""), &mut found)?;
    found.sort();
    Ok(found
        .into_iter()
        .map(|rel: PathBuf| {
            let name = rel.to_string_lossy();
            let dest = out.join(name.strip_suffix(".template").unwrap_or(&name));
            Template {
                src: dir.join(&rel),
                dest,
            }
        })
        .collect())
}

fn walk(root: &Path, rel: &Path, found: &mut Vec<PathBuf>) -> Result<(), BadValue> {
    let here = root.join(rel);
    let entries = fs::read_dir(&here).map_err(|e| {
        BadValue::new(format!(
            "--templates-dir: cannot read '{}': {}",
            here.display(),
            crate::describe::io_error(&e)
        ))
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| {
            BadValue::new(format!(
                "--templates-dir: cannot read '{}': {}",
                here.display(),
                crate::describe::io_error(&e)
            ))
        })?;
        let path = rel.join(entry.file_name());
        // Follows symlinks, as `find -follow` in nginx's script does (a
        // Kubernetes ConfigMap mounts its files as symlinks).
        let meta = fs::metadata(root.join(&path));
        match meta {
            Ok(m) if m.is_dir() => walk(root, &path, found)?,
            Ok(m) if m.is_file() && path.to_string_lossy().ends_with(".template") => {
                found.push(path)
            }
            _ => {}
        }
    }
    Ok(())
}

/// Render `text` (read from `file`, for the error messages) with `lookup`.
pub fn render(
    text: &str,
    file: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, BadValue> {
    let mut out = String::with_capacity(text.len());
    let mut r = Renderer {
        src: text.as_bytes(),
        text,
        pos: 0,
        line: 1,
        file,
        lookup,
        skipping: false,
    };
    r.expand_until(None, &mut out)?;
    Ok(out)
}

struct Renderer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    line: usize,
    file: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Inside a default that is not used: check the syntax, look nothing up.
    skipping: bool,
}

impl Renderer<'_> {
    fn err(&self, line: usize, what: impl fmt::Display) -> BadValue {
        BadValue::new(format!("{}:{line}: {what}", self.file))
    }

    /// Copy and expand up to the closing `}` of an enclosing `${`, or to the
    /// end when `closing` is None. With `Some(line)`, the `}` is consumed, and
    /// an end of text first is an error naming the `${` at `line`.
    fn expand_until(&mut self, closing: Option<usize>, out: &mut String) -> Result<(), BadValue> {
        let mut plain = self.pos;
        while self.pos < self.src.len() {
            match self.src[self.pos] {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b'}' if closing.is_some() => {
                    out.push_str(&self.text[plain..self.pos]);
                    self.pos += 1;
                    return Ok(());
                }
                b'$' => match self.src.get(self.pos + 1) {
                    Some(b'$') => {
                        out.push_str(&self.text[plain..=self.pos]);
                        self.pos += 2;
                        plain = self.pos;
                    }
                    Some(b'{') => {
                        out.push_str(&self.text[plain..self.pos]);
                        self.pos += 2;
                        self.substitution(out)?;
                        plain = self.pos;
                    }
                    _ => self.pos += 1,
                },
                _ => self.pos += 1,
            }
        }
        out.push_str(&self.text[plain..]);
        match closing {
            Some(line) => Err(self.err(line, "'${' is never closed by '}'")),
            None => Ok(()),
        }
    }

    /// After `${`: NAME, then `}` or one of `:-` `-` `:?` `?` and a word.
    fn substitution(&mut self, out: &mut String) -> Result<(), BadValue> {
        let line = self.line;
        let start = self.pos;
        while self
            .src
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.pos += 1;
        }
        let name = &self.text[start..self.pos];
        let valid = !name.is_empty() && !name.as_bytes()[0].is_ascii_digit();
        if !valid {
            let shown: String = self.text[start..]
                .chars()
                .take_while(|c| *c != '}' && *c != '\n')
                .take(40)
                .collect();
            return Err(self.err(
                line,
                format_args!(
                    "bad substitution '${{{shown}}}': expected ${{NAME}}, ${{NAME:-default}}, ${{NAME-default}} or ${{NAME:?message}} (write $$ for a literal $)"
                ),
            ));
        }
        // While skipping, every variable counts as set and empty: nothing
        // fails and nothing is looked up.
        let value = if self.skipping {
            Some(String::new())
        } else {
            (self.lookup)(name)
        };
        let colon = self.src.get(self.pos) == Some(&b':');
        let op_at = self.pos + usize::from(colon);
        let op = self.src.get(op_at).copied();
        match op {
            Some(b'}') if !colon => {
                self.pos += 1;
                match value {
                    Some(v) => out.push_str(&v),
                    None => {
                        return Err(self.err(
                            line,
                            format_args!(
                                "variable {name} is not set (give it a value, or a default: ${{{name}:-default}})"
                            ),
                        ));
                    }
                }
            }
            Some(b'-') => {
                self.pos = op_at + 1;
                let use_default = match &value {
                    None => true,
                    Some(v) => colon && v.is_empty(),
                };
                if use_default {
                    self.expand_until(Some(line), out)?;
                } else {
                    // The default is not used, but must still be well formed.
                    let was = std::mem::replace(&mut self.skipping, true);
                    let checked = self.expand_until(Some(line), &mut String::new());
                    self.skipping = was;
                    checked?;
                    out.push_str(value.as_deref().unwrap_or_default());
                }
            }
            Some(b'?') => {
                self.pos = op_at + 1;
                let mut message = String::new();
                self.expand_until(Some(line), &mut message)?;
                let missing = match &value {
                    None => true,
                    Some(v) => colon && v.is_empty(),
                };
                if missing {
                    let why = if message.is_empty() {
                        format!("variable {name} is not set")
                    } else {
                        format!("{name}: {}", message.trim())
                    };
                    return Err(self.err(line, why));
                }
                out.push_str(value.as_deref().unwrap_or_default());
            }
            _ => {
                return Err(self.err(
                    line,
                    format_args!(
                        "bad substitution after '${{{name}': expected '}}', ':-', '-', ':?' or '?'"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A template rendered in memory, ready to be written.
struct Rendered<'a> {
    template: &'a Template,
    text: String,
    mode: u32,
}

/// What writing one template took, for the start-up timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub dest: PathBuf,
    pub took: Duration,
}

/// Render every template, then write them all; nothing is written unless all
/// of them rendered. `owner` is `--user`'s (uid, gid).
pub fn render_all(
    templates: &[Template],
    lookup: &dyn Fn(&str) -> Option<String>,
    owner: Option<(u32, u32)>,
) -> Result<Vec<Written>, BadValue> {
    let mut rendered = Vec::with_capacity(templates.len());
    let mut took = Vec::with_capacity(templates.len());
    for template in templates {
        let start = Instant::now();
        let name = template.src.display().to_string();
        let bytes = fs::read(&template.src).map_err(|e| {
            BadValue::new(format!(
                "template '{name}': cannot read it: {}",
                crate::describe::io_error(&e)
            ))
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| BadValue::new(format!("template '{name}': not UTF-8 text")))?;
        let mode = fs::metadata(&template.src)
            .map(|m| m.mode() & 0o7777)
            .unwrap_or(0o644);
        let text = render(&text, &name, lookup)?;
        let dir = parent(&template.dest);
        if !dir.is_dir() {
            return Err(BadValue::new(format!(
                "template '{name}': the directory of '{}' does not exist",
                template.dest.display()
            )));
        }
        rendered.push(Rendered {
            template,
            text,
            mode,
        });
        took.push(start.elapsed());
    }
    let mut written = Vec::with_capacity(rendered.len());
    for (r, took) in rendered.iter().zip(took) {
        let start = Instant::now();
        write_atomically(&r.template.dest, r.text.as_bytes(), r.mode, owner).map_err(|e| {
            BadValue::new(format!(
                "template '{}': cannot write '{}': {}",
                r.template.src.display(),
                r.template.dest.display(),
                crate::describe::io_error(&e)
            ))
        })?;
        written.push(Written {
            dest: r.template.dest.clone(),
            took: took + start.elapsed(),
        });
    }
    Ok(written)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A temporary file beside `dest`, then rename: readers never see half a file.
fn write_atomically(
    dest: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
    let dir = parent(dest);
    let base = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "template".into());
    let tmp = dir.join(format!(".{base}.preflight-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        // After chown, which clears set-id bits.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn ok(text: &str, pairs: &[(&str, &str)]) -> String {
        render(text, "t", &env(pairs)).unwrap()
    }

    fn bad(text: &str, pairs: &[(&str, &str)]) -> String {
        render(text, "t", &env(pairs))
            .unwrap_err()
            .message()
            .to_string()
    }

    #[test]
    fn braced_variables_are_substituted() {
        assert_eq!(
            ok(
                "host=${HOST}:${PORT}\n",
                &[("HOST", "db"), ("PORT", "5432")]
            ),
            "host=db:5432\n"
        );
    }

    #[test]
    fn defaults_follow_the_shell() {
        let e = &[("EMPTY", ""), ("SET", "v")];
        assert_eq!(ok("${UNSET:-d}", e), "d");
        assert_eq!(ok("${EMPTY:-d}", e), "d");
        assert_eq!(ok("${SET:-d}", e), "v");
        assert_eq!(ok("${UNSET-d}", e), "d");
        assert_eq!(ok("${EMPTY-d}", e), "");
        assert_eq!(ok("${SET-d}", e), "v");
        assert_eq!(ok("${UNSET:-}", e), "");
        assert_eq!(ok("${UNSET:-a b:c-d}", e), "a b:c-d");
    }

    #[test]
    fn a_default_may_hold_a_substitution() {
        assert_eq!(ok("${A:-${B:-x}/y}", &[("B", "b")]), "b/y");
        assert_eq!(ok("${A:-${B:-x}/y}", &[]), "x/y");
        assert_eq!(
            bad("${A:-${B}}", &[]),
            "t:1: variable B is not set (give it a value, or a default: ${B:-default})"
        );
        // An unused default is not expanded, but must be well formed.
        assert_eq!(ok("${A:-${B}}", &[("A", "a")]), "a");
    }

    #[test]
    fn dollar_dollar_is_a_dollar_and_bare_dollars_stay() {
        assert_eq!(ok("$$HOME $$${X}", &[("X", "x")]), "$HOME $x");
        assert_eq!(
            ok("proxy_set_header Host $host; return 301 $scheme://$1;", &[]),
            "proxy_set_header Host $host; return 301 $scheme://$1;"
        );
        assert_eq!(ok("cost: 5$", &[]), "cost: 5$");
    }

    #[test]
    fn unset_variable_names_file_and_line_not_values() {
        let e = bad(
            "a=${SECRET_OK}\nb=${MISSING}\n",
            &[("SECRET_OK", "hunter2")],
        );
        assert_eq!(
            e,
            "t:2: variable MISSING is not set (give it a value, or a default: ${MISSING:-default})"
        );
        assert!(!e.contains("hunter2"));
    }

    #[test]
    fn question_mark_stops_with_the_message() {
        assert_eq!(
            bad("\n\nurl=${DB_URL:?set DB_URL to the database}", &[]),
            "t:3: DB_URL: set DB_URL to the database"
        );
        assert_eq!(bad("${E:?}", &[("E", "")]), "t:1: variable E is not set");
        assert_eq!(ok("${E?must be set}", &[("E", "")]), "");
        assert_eq!(bad("${E?must be set}", &[]), "t:1: E: must be set");
        assert_eq!(ok("${E:?x}", &[("E", "v")]), "v");
    }

    #[test]
    fn malformed_substitutions_are_errors_with_their_line() {
        assert!(bad("x\n${", &[]).starts_with("t:2: bad substitution"));
        assert!(bad("${1}", &[]).starts_with("t:1: bad substitution '${1}'"));
        assert!(bad("${A B}", &[("A", "a")]).starts_with("t:1: bad substitution after '${A'"));
        assert_eq!(
            bad("\n${A:-never closed\n\n", &[]),
            "t:2: '${' is never closed by '}'"
        );
        assert!(bad("${}", &[]).starts_with("t:1: bad substitution"));
    }

    #[test]
    fn values_are_inserted_verbatim() {
        let value = "a${B}$$\n}\\\"'";
        assert_eq!(ok("${A}", &[("A", value)]), value);
    }

    #[test]
    fn text_around_is_kept_byte_for_byte() {
        let text = "ünïcödé ${A} tail without newline";
        assert_eq!(ok(text, &[("A", "→")]), "ünïcödé → tail without newline");
    }

    #[test]
    fn pairs_and_dirs_parse() {
        assert_eq!(
            parse_pair("/t/a.conf.template:/etc/a.conf").unwrap(),
            Template {
                src: "/t/a.conf.template".into(),
                dest: "/etc/a.conf".into()
            }
        );
        assert!(
            parse_pair("/only/one")
                .unwrap_err()
                .contains("expected SRC:DEST")
        );
        assert!(parse_pair(":/x").is_err());
        assert!(parse_pair("/x:").is_err());
        assert_eq!(
            parse_dir("/etc/nginx/templates:/etc/nginx/conf.d").unwrap(),
            ("/etc/nginx/templates".into(), "/etc/nginx/conf.d".into())
        );
        assert_eq!(parse_dir("/t").unwrap(), ("/t".into(), "/t".into()));
        assert!(parse_dir(":x").is_err());
    }
}
