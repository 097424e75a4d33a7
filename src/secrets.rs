//! Secrets as one mechanism.
//!
//! - [`Secret`]: a value that must never reach any output (passwords from
//!   URLs, the environment or secret files). `Debug` and `Display` print
//!   `***`; the only way to the text is [`Secret::expose`], which is
//!   greppable.
//! - The registry: every secret preflight learns is collected once by
//!   `config` (`Config::secrets`) and [`register`]ed by `app` before the
//!   first log line. Then every line preflight writes goes through [`mask`]
//!   (the logging layer does it, whatever the line's source: a server's
//!   error text, a hook's command line), and the secrets are scrubbed from
//!   preflight's own argv (`init::scrub_args`), which `/proc/PID/cmdline`
//!   shows to every user of the machine.
//! - Never exported: a secret preflight read for itself reaches a child's
//!   environment only if `--secrets-from-files` asks for it (see
//!   `config::secret_files`).
//!
//! A secret shorter than [`MIN_MASKED`] bytes is not masked by the registry:
//! it would turn every such pair of letters in every line into `***`. The
//! places that know where a password is (`target::redact`) hide it whatever
//! its length.

use std::borrow::Cow;
use std::fmt;
use std::sync::RwLock;

/// Shorter secrets are left to the redaction that knows where they are.
pub const MIN_MASKED: usize = 3;

/// The registered secrets, longest first (so a secret that holds another is
/// masked whole).
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Add `values` to the secrets that [`mask`] hides.
pub fn register<'a>(values: impl IntoIterator<Item = &'a str>) {
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    for v in values {
        if v.len() >= MIN_MASKED && !known.iter().any(|k| k == v) {
            known.push(v.to_string());
        }
    }
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// The registered secrets, longest first.
pub fn known() -> Vec<String> {
    KNOWN.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `line` with every registered secret replaced by `***`.
pub fn mask(line: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    mask_with(line, &known)
}

fn mask_with<'l>(line: &'l str, known: &[String]) -> Cow<'l, str> {
    let mut out = Cow::Borrowed(line);
    for k in known {
        if out.contains(k.as_str()) {
            out = Cow::Owned(out.replace(k.as_str(), "***"));
        }
    }
    out
}

/// The parts of `raw` that `redacted` (the same text through a redaction
/// such as `target::redact`) shows as `***`: a password as it was written,
/// percent-encoded or not, so that it is masked in that spelling too.
pub fn hidden_parts(raw: &str, redacted: &str) -> Vec<String> {
    let pieces: Vec<&str> = redacted.split("***").collect();
    let Some((last, middle)) = pieces[1..].split_last() else {
        return Vec::new();
    };
    let Some(rest) = raw
        .strip_prefix(pieces[0])
        .and_then(|r| r.strip_suffix(*last))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut rest = rest;
    for piece in middle {
        let Some(at) = rest.find(piece) else {
            return Vec::new();
        };
        out.push(rest[..at].to_string());
        rest = &rest[at + piece.len()..];
    }
    out.push(rest.to_string());
    out.retain(|p| !p.is_empty());
    out
}

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_hides_every_secret_longest_first() {
        let known = ["hunter22".to_string(), "hunter2".to_string()];
        assert_eq!(mask_with("a hunter22 b hunter2 c", &known), "a *** b *** c");
        assert!(matches!(
            mask_with("nothing here", &known),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn hidden_parts_are_the_secrets_as_written() {
        let raw = "postgres://app:p%40ss@db/app?token=t0k&a=1";
        let redacted = "postgres://app:***@db/app?token=***&a=1";
        assert_eq!(hidden_parts(raw, redacted), ["p%40ss", "t0k"]);
        assert_eq!(hidden_parts("redis://:a@b@r", "redis://:***@r"), ["a@b"]);
        assert!(hidden_parts("db:5432", "db:5432").is_empty());
    }

    #[test]
    fn a_secret_never_formats_as_itself() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?} {:?}", Some(&s)), "*** *** Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
