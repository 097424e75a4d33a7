//! One string → one typed value: durations, booleans, lists, hooks, words,
//! `FROM:TO` pairs, variable names. A leaf: it imports nothing of preflight,
//! so `config`, `target` and the rest all build on it without a circle.
//!
//! Which string to read (the command line over the environment) is
//! `config`'s business; what a string means is this module's. The parsers
//! say what is wrong with a value as a `String` ("'soon' is not a duration,
//! expected ..."); the caller names the flag or variable to blame and makes
//! it a [`BadValue`], preflight's one error type for a bad value.

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

/// A bad argument, variable, target or file: the whole message, naming the
/// flag or variable, the value (never a secret) and what was expected.
/// Always one line: control characters a value brought along (a newline in
/// `--timeout $'1\n2'`) are shown escaped, so one error is one log line.
/// Its exit code is 2 ([`crate::exit_code::USAGE`]) unless the caller says
/// otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue(String);

impl BadValue {
    pub fn new(message: impl AsRef<str>) -> BadValue {
        BadValue(one_line(message.as_ref()))
    }

    /// `name: what`, the usual shape: `--timeout: 'soon' is not a duration...`.
    pub fn blame(name: &str, what: impl fmt::Display) -> BadValue {
        BadValue::new(format!("{name}: {what}"))
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadValue {}

/// `s` with every control character escaped (`\n`, `\t`, `\u{1b}`), on one
/// line whatever it holds.
pub fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The longest duration any flag, variable or `#timeout=` takes: a year.
/// Past it a value is a typo (or `1.5e30s`), and every `Instant + Duration`
/// later stays far from overflowing (a panic in PID 1).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parse a duration: `1.5s`, `250ms`, `2m`, `1h30m`, or a bare number of
/// seconds, whole or not (`30`, `0.3`, as wait-for-it and
/// docker-compose-wait take). At most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let seconds = if is_decimal(t) {
        Some(t)
    } else {
        t.strip_suffix('s').filter(|n| is_decimal(n))
    };
    let too_long = || format!("'{s}' is too long, expected at most a year (365d)");
    let d = match seconds {
        Some(n) => decimal_seconds(n).ok_or_else(too_long)?,
        None => humantime::parse_duration(t).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => too_long(),
            _ => format!(
                "'{s}' is not a duration, expected e.g. 30s, 1.5s, 250ms, 2m or a number of seconds"
            ),
        })?,
    };
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// `12`, `0.3`, `.5`, `2.`: digits with at most one point.
fn is_decimal(t: &str) -> bool {
    let digits = t.bytes().filter(u8::is_ascii_digit).count();
    digits > 0
        && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && t.bytes().filter(|&b| b == b'.').count() <= 1
}

/// A decimal number of seconds, exactly (no float); None past u64 seconds.
fn decimal_seconds(t: &str) -> Option<Duration> {
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    let secs = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().ok()?
    };
    let mut nanos = 0u32;
    for (i, d) in fraction.bytes().take(9).enumerate() {
        nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(Duration::new(secs, nanos))
}

/// `1`, `true`, `yes`, `on` and their opposites, in any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `FROM:TO` pairs, each side parsed by `item`.
pub fn pairs(
    raw: &[String],
    item: impl Fn(&str) -> Result<i32, String>,
) -> Result<Vec<(i32, i32)>, String> {
    raw.iter()
        .map(|p| {
            let (a, b) = p
                .split_once(':')
                .ok_or_else(|| format!("'{p}' is not FROM:TO, like TERM:QUIT or 143:0"))?;
            Ok((item(a)?, item(b)?))
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

/// A shell variable name: a letter or `_`, then letters, digits or `_`.
pub fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_their_errors() {
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("-32").is_err());
        // A bare number of seconds, whole or not.
        assert_eq!(parse_duration("0.3"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration(".5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5"), parse_duration("1.5s"));
        assert!(parse_duration("1.2.3").is_err() && parse_duration(".").is_err());
    }

    #[test]
    fn durations_past_a_year_are_refused_not_a_panic_later() {
        for huge in [
            "1.5e30s",
            "300000000000y",
            "1e19",
            "18446744073709551616",
            "99999999999999999999s",
            "366d",
            "31536001",
        ] {
            let e = parse_duration(huge).unwrap_err();
            assert!(
                e.contains("too long") || e.contains("not a duration"),
                "{huge}: {e}"
            );
        }
        assert!(
            parse_duration("1e19")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_duration("300000000000y")
                .unwrap_err()
                .contains("too long")
        );
        assert_eq!(parse_duration("365d"), Ok(MAX_DURATION));
    }

    #[test]
    fn hooks_split_on_semicolons_and_newlines_outside_quotes() {
        assert_eq!(
            split_hooks("python manage.py migrate; echo 'a;b'\n  true ;"),
            ["python manage.py migrate", "echo 'a;b'", "true"]
        );
    }

    #[test]
    fn pairs_are_from_colon_to() {
        let n = |s: &str| s.parse::<i32>().map_err(|_| format!("'{s}' is no number"));
        assert_eq!(pairs(&["143:0".into()], n), Ok(vec![(143, 0)]));
        assert!(pairs(&["143".into()], n).unwrap_err().contains("FROM:TO"));
        assert!(pairs(&["x:0".into()], n).unwrap_err().contains("'x'"));
    }

    #[test]
    fn a_bad_value_is_one_line_whatever_the_value_holds() {
        let e = BadValue::blame("--timeout", "'1\n2\r\u{1b}[31m' is not a duration");
        assert_eq!(
            e.to_string(),
            "--timeout: '1\\n2\\r\\u{1b}[31m' is not a duration"
        );
        assert_eq!(e.to_string().lines().count(), 1);
    }

    #[test]
    fn variable_names() {
        assert!(is_variable_name("DB_PASSWORD") && is_variable_name("_x1"));
        assert!(!is_variable_name("1X") && !is_variable_name("A-B") && !is_variable_name(""));
    }
}
