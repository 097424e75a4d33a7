//! docker-compose-wait's variables, so an image that used it keeps working:
//! `WAIT_HOSTS`, `WAIT_PATHS`, `WAIT_TIMEOUT` (`WAIT_HOSTS_TIMEOUT`),
//! `WAIT_HOST_CONNECT_TIMEOUT`, `WAIT_SLEEP_INTERVAL`, `WAIT_BEFORE`
//! (`WAIT_BEFORE_HOSTS`), `WAIT_AFTER` (`WAIT_AFTER_HOSTS`).
//!
//! A lower layer: each is read only when neither the command line nor the
//! `PREFLIGHT_*` variable gives a value. Unlike docker-compose-wait, a bad
//! value is an error naming the variable, never its default.

use std::time::Duration;

/// Every variable of this layer.
pub const VARS: [&str; 10] = [
    "WAIT_HOSTS",
    "WAIT_PATHS",
    "WAIT_TIMEOUT",
    "WAIT_HOSTS_TIMEOUT",
    "WAIT_HOST_CONNECT_TIMEOUT",
    "WAIT_SLEEP_INTERVAL",
    "WAIT_BEFORE",
    "WAIT_BEFORE_HOSTS",
    "WAIT_AFTER",
    "WAIT_AFTER_HOSTS",
];

use super::Env;
use crate::values::BadValue;
use crate::values::{parse_duration, split_list};

/// docker-compose-wait's targets, when neither `--wait` nor `PREFLIGHT_WAIT`
/// gives any: `WAIT_HOSTS` (`host:port` pairs) and `WAIT_PATHS` (absolute
/// paths that must exist: `file://` targets), each split on commas or
/// whitespace.
pub fn targets(env: &Env) -> Result<Vec<(String, &'static str)>, BadValue> {
    let mut out: Vec<(String, &'static str)> = env
        .non_empty("WAIT_HOSTS")
        .map(crate::target::split_targets)
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
            return Err(BadValue::new(format!(
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
pub fn seconds(env: &Env, names: &[&str], above_zero: bool) -> Result<Option<Duration>, BadValue> {
    let Some((name, v)) = names.iter().find_map(|n| env.non_empty(n).map(|v| (*n, v))) else {
        return Ok(None);
    };
    let d = parse_duration(v).map_err(|e| BadValue::blame(name, e))?;
    if above_zero && d.is_zero() {
        return Err(BadValue::new(format!(
            "{name}: '{v}' must be above 0 seconds"
        )));
    }
    Ok(Some(d))
}
