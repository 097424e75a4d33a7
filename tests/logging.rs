//! preflight logs to stderr only (stdout belongs to the child), as text lines
//! prefixed `preflight:` or as one JSON object a line, and never a password.

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
