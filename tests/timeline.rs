//! The start-up timeline (one line when the command starts, or when the start
//! stops, saying where the time went) and `wait --json` / `check --json`,
//! checked field by field against a run with a late target, a lock on the
//! real PostgreSQL and two hooks.

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use crate::require;
use crate::support::{TempDir, expect_exit, free_port, listening, preflight};

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A port nothing listens on for `after`, then accepts (and keeps) connections.
fn late_listener(after: Duration) -> (u16, thread::JoinHandle<()>) {
    let port = free_port();
    let handle = thread::spawn(move || {
        thread::sleep(after);
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        // Accept for a while, so every try of the wait succeeds once it is up.
        l.set_nonblocking(true).unwrap();
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < until {
            match l.accept() {
                Ok(_) => {}
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (port, handle)
}

fn json_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn the_timeline_names_the_wait_the_lock_each_template_and_each_hook() {
    require!(
        listening("127.0.0.1:5432"),
        "no PostgreSQL on 127.0.0.1:5432"
    );
    let dir = TempDir::new();
    let src = dir.join("a.template");
    std::fs::write(&src, "x=${X:-1}\n").unwrap();
    let dest = dir.join("a.conf");
    let (port, late) = late_listener(Duration::from_millis(400));
    let late_target = format!("tcp://127.0.0.1:{port}");
    let out = preflight()
        .args([
            "--log-format",
            "json",
            "--wait",
            &late_target,
            "--timeout",
            "20s",
        ])
        .args([
            "--template",
            &format!("{}:{}", src.display(), dest.display()),
        ])
        .args([
            "--lock",
            POSTGRES,
            "--lock-name",
            &format!("timeline-{}", std::process::id()),
        ])
        .args(["--hook", "true", "--hook", "sleep 0.2", "--", "true"])
        .output()
        .unwrap();
    late.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines = json_lines(&stderr);
    let timeline: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("start-up took"))
        })
        .collect();
    assert_eq!(timeline.len(), 1, "one timeline line: {stderr}");
    let t = timeline[0];
    assert_eq!(t["level"], "INFO");
    assert_eq!(t["outcome"], "started");
    let steps = t["steps"].as_array().expect("steps is a JSON array");
    let kinds: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["wait", "template", "lock", "hook", "hook"], "{t}");
    let wait = &steps[0];
    assert_eq!(wait["target"], late_target.as_str());
    assert_eq!(wait["state"], "ready");
    assert!(wait["tries"].as_u64().unwrap() >= 2, "late: {wait}");
    assert!(wait["ms"].as_u64().unwrap() >= 300, "late: {wait}");
    assert!(
        wait["last"].is_null(),
        "a ready target has no last reason: {wait}"
    );
    assert_eq!(steps[1]["dest"], dest.to_str().unwrap());
    assert_eq!(steps[3]["hook"], "true");
    assert_eq!(steps[3]["status"], 0);
    assert_eq!(steps[4]["hook"], "sleep 0.2");
    assert!(steps[4]["ms"].as_u64().unwrap() >= 200, "{}", steps[4]);
    let total = t["total_ms"].as_u64().unwrap();
    let sum: u64 = steps.iter().map(|s| s["ms"].as_u64().unwrap()).sum();
    assert!(total >= sum, "total {total} covers the steps {sum}");
    // The same line in text: the words say it all.
    let text = t["message"].as_str().unwrap();
    assert!(text.contains(&format!("{late_target} ready in")), "{text}");
    assert!(text.contains("lock "), "{text}");
    assert!(text.contains("hook 'sleep 0.2' "), "{text}");
}

#[test]
fn a_failed_start_says_what_was_done_and_what_never_started() {
    let out = preflight()
        .args([
            "--hook",
            "true",
            "--hook",
            "sh -c 'exit 3'",
            "--hook",
            "echo never",
        ])
        .args(["--", "echo", "command"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(out.stdout.is_empty());
    let line = stderr
        .lines()
        .find(|l| l.contains("start-up stopped"))
        .unwrap_or_else(|| panic!("no timeline line: {stderr}"));
    assert!(
        line.starts_with("preflight: error: start-up stopped after "),
        "{line}"
    );
    assert!(line.contains("in a hook: hook 'true' "), "{line}");
    assert!(
        line.contains("hook 'sh -c '\\''exit 3'\\''' ") || line.contains("(exit 3)"),
        "{line}"
    );
    assert!(
        line.ends_with("; not started: hook 'echo never', the command"),
        "{line}"
    );
}

#[test]
fn a_timed_out_wait_is_in_the_timeline_with_its_reason() {
    let port = free_port();
    let stderr = expect_exit(
        124,
        preflight()
            .args([
                "--wait",
                &format!("tcp://127.0.0.1:{port}"),
                "--timeout",
                "0.5s",
            ])
            .args(["--hook", "echo never", "--", "echo", "command"]),
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("start-up stopped"))
        .unwrap_or_else(|| panic!("no timeline line: {stderr}"));
    assert!(line.contains("in the wait: wait "), "{line}");
    assert!(line.contains("timed out after"), "{line}");
    assert!(line.contains("refused"), "the last reason: {line}");
    assert!(
        line.ends_with("not started: hook 'echo never', the command"),
        "{line}"
    );
}

#[test]
fn a_bare_command_logs_no_timeline() {
    let out = preflight().args(["--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn wait_json_prints_one_object_with_each_target() {
    let (port, late) = late_listener(Duration::from_millis(300));
    let dir = TempDir::new();
    let file = dir.join("there");
    std::fs::write(&file, "").unwrap();
    let late_target = format!("tcp://127.0.0.1:{port}");
    let file_target = format!("file://{}", file.display());
    let out = preflight()
        .args([
            "wait",
            "--json",
            &late_target,
            &file_target,
            "--timeout",
            "20s",
        ])
        .output()
        .unwrap();
    late.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "one object on one line: {stdout}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ready"], true);
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["target"], late_target.as_str());
    assert_eq!(targets[0]["state"], "ready");
    assert!(targets[0]["tries"].as_u64().unwrap() >= 2);
    assert!(targets[0]["ms"].as_u64().unwrap() >= 200);
    assert_eq!(targets[1]["target"], file_target.as_str());
    assert_eq!(targets[1]["tries"], 1);
    assert!(v["ms"].as_u64().unwrap() >= targets[0]["ms"].as_u64().unwrap());
}

#[test]
fn wait_json_on_timeout_names_the_last_reason_and_redacts_secrets() {
    let port = free_port();
    let target = format!("postgres://app:hunter2@127.0.0.1:{port}/app");
    let out = preflight()
        .args(["wait", "--json", &target, "--timeout", "0.4s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("hunter2"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ready"], false);
    let t = &v["targets"][0];
    assert_eq!(
        t["target"],
        format!("postgres://app:***@127.0.0.1:{port}/app")
    );
    assert_eq!(t["state"], "timed out");
    assert!(t["last"].as_str().unwrap().contains("refused"), "{t}");
}

#[test]
fn check_json_reports_ready_and_not_ready_targets() {
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let up_target = format!("tcp://{}", up.local_addr().unwrap());
    let down_target = format!("tcp://127.0.0.1:{}", free_port());
    let out = preflight()
        .args(["check", "--json", &up_target, &down_target])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ready"], false);
    assert_eq!(v["targets"][0]["state"], "ready");
    assert_eq!(v["targets"][1]["state"], "failed");
    assert!(
        v["targets"][1]["last"]
            .as_str()
            .unwrap()
            .contains("refused")
    );
    // And from the environment.
    let out = preflight()
        .args(["check", &up_target])
        .env("PREFLIGHT_JSON", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(v["targets"][0]["tries"], 1);
}
