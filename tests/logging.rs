//! preflight logs to stderr only (stdout belongs to the child), as text lines
//! prefixed `preflight:` or as one JSON object a line, and never a password.

use crate::support::peers::ClosedPort;
use crate::support::{Bounded, preflight};

#[test]
fn json_lines_are_one_object_each_on_stderr_with_secrets_hidden() {
    let out = preflight()
        .args([
            "--log-format",
            "json",
            "check",
            "file:///",
            "redis://:hunter2@127.0.0.1:1/0",
        ])
        .args(["--try-timeout", "1s"])
        .bounded_output();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "stdout belongs to the child");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let levels: Vec<_> = lines.iter().map(|l| l["level"].as_str().unwrap()).collect();
    assert!(
        levels.contains(&"INFO") && levels.contains(&"ERROR"),
        "{levels:?}"
    );
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .contains("redis://:***@127.0.0.1:1/0")),
        "{stderr}"
    );
}

#[test]
fn text_lines_are_prefixed_and_quiet_means_quiet() {
    let out = preflight().args(["check", "file:///etc"]).bounded_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr.lines().all(|l| l.starts_with("preflight: ")),
        "{stderr}"
    );
    assert!(!stderr.is_empty());
    let out = preflight()
        .args(["-q", "check", "file:///etc"])
        .bounded_output();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn preflight_log_sets_the_level_or_a_level_per_module() {
    let closed = ClosedPort::new();
    let run = |args: &[&str], log: Option<&str>| {
        let mut cmd = preflight();
        cmd.args(args)
            .args(["wait", &closed.url(), "--timeout", "300ms"]);
        if let Some(log) = log {
            cmd.env("PREFLIGHT_LOG", log);
        }
        let out = cmd.bounded_output();
        assert_eq!(out.status.code(), Some(124));
        String::from_utf8(out.stderr).unwrap()
    };
    let tries = |stderr: &str| stderr.matches(": try ").count();
    let announced = |stderr: &str| {
        stderr
            .lines()
            .any(|l| l.starts_with("preflight: waiting for"))
    };

    // Unset: info, no line per try.
    let info = run(&[], None);
    assert!(announced(&info) && tries(&info) == 0, "{info}");
    // A level.
    let debug = run(&[], Some("debug"));
    assert!(tries(&debug) >= 2, "{debug}");
    let error = run(&[], Some("error"));
    assert!(!announced(&error), "{error}");
    assert!(error.contains("timed out waiting for"), "{error}");
    // A level per module: the tries are the wait's.
    let wait = run(&[], Some("info,preflight::wait=debug"));
    assert!(tries(&wait) >= 2, "{wait}");
    let other = run(&[], Some("info,preflight::hooks=debug"));
    assert!(announced(&other) && tries(&other) == 0, "{other}");
    // The command line wins.
    let quiet = run(&["-q"], Some("debug"));
    assert!(tries(&quiet) == 0 && !announced(&quiet), "{quiet}");

    // A bad value stops the start with one line naming it (a bare word
    // that is no level too: it would silence every line, errors included).
    for bad in ["preflight=loud", "verbose", "info,loud"] {
        let out = preflight()
            .args(["wait", &closed.url()])
            .env("PREFLIGHT_LOG", bad)
            .bounded_output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("PREFLIGHT_LOG") && stderr.contains(&format!("'{bad}'")),
            "{stderr}"
        );
    }
}
