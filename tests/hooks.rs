//! Hooks: `--hooks-dir` executables in name order, then `--hook`s in order;
//! the first failure stops the start with its status (128+N for a signal,
//! 124 past `--hook-timeout`), a terminating signal during a hook goes to the
//! hook and nothing else starts. Needs the init core (`init::run`).

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Bounded, TempDir, expect_exit_output, preflight};

fn script(path: &Path, body: &str, mode: u32) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn stdout_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn dir_hooks_run_first_in_name_order_then_hook_flags_in_order() {
    let dir = TempDir::new();
    script(&dir.join("20-second"), "echo dir-20", 0o755);
    script(&dir.join("10-first"), "echo dir-10", 0o755);
    script(&dir.join("15-not-executable"), "echo never", 0o644);
    fs::create_dir(dir.join("17-a-directory")).unwrap();
    let (out, stderr) = expect_exit_output(
        0,
        preflight()
            .args(["--hooks-dir", dir.to_str().unwrap()])
            .args(["--hook", "echo flag-1", "--hook", "echo 'flag 2'"])
            .args(["--", "echo", "command"]),
    );
    assert_eq!(
        stdout_lines(&out),
        ["dir-10", "dir-20", "flag-1", "flag 2", "command"]
    );
    assert!(
        stderr.contains("15-not-executable: not executable"),
        "a line must say it was skipped: {stderr}"
    );
    // Start and end of each hook are logged with their duration.
    assert!(stderr.contains("hook 'echo flag-1': starting"), "{stderr}");
    assert!(stderr.contains("hook 'echo flag-1': done in "), "{stderr}");
}

#[test]
fn hooks_from_the_environment_split_on_semicolons_and_newlines() {
    let out = preflight()
        .args(["--", "echo", "command"])
        .env("PREFLIGHT_HOOKS", "echo a; echo 'b;c'\necho d")
        .bounded_output();
    assert_eq!(stdout_lines(&out), ["a", "b;c", "d", "command"]);
}

#[test]
fn a_failing_hook_stops_the_start_with_its_status() {
    let out = preflight()
        .args(["--hook", "echo first", "--hook", "sh -c 'exit 3'"])
        .args(["--hook", "echo never", "--", "echo", "command"])
        .bounded_output();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout_lines(&out), ["first"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("exited with status 3"), "{stderr}");
}

#[test]
fn a_hook_killed_by_a_signal_gives_128_plus_n() {
    let out = preflight()
        .args(["--hook", "sh -c 'kill -KILL $$'", "--", "echo", "command"])
        .bounded_output();
    assert_eq!(out.status.code(), Some(128 + 9));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_hook_past_its_timeout_is_killed_and_gives_124() {
    let dir = TempDir::new();
    let pidfile = dir.join("pid");
    let hook = format!(
        "sh -c 'echo $$ > {}; exec sleep 60'",
        pidfile.to_str().unwrap()
    );
    let started = Instant::now();
    let out = preflight()
        .args(["--hook-timeout", "500ms", "--grace", "1s", "--hook", &hook])
        .args(["--", "echo", "command"])
        .bounded_output();
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "the command must not run");
    assert!(started.elapsed() < Duration::from_secs(30));
    let pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        kill(Pid::from_raw(pid), None).is_err(),
        "the hook's process {pid} must be gone"
    );
}

#[test]
fn a_hook_that_cannot_be_executed_gives_127_or_126_with_a_line() {
    let dir = TempDir::new();
    // Found, executable, but its interpreter is missing: execve says ENOENT.
    let hook = dir.join("10-bad-interpreter");
    fs::write(&hook, "#!/no/such/interpreter\necho never\n").unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let out = preflight()
        .args([
            "--hooks-dir",
            dir.to_str().unwrap(),
            "--",
            "echo",
            "command",
        ])
        .bounded_output();
    assert_eq!(out.status.code(), Some(127));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("10-bad-interpreter"), "{stderr}");
}

#[test]
fn term_during_a_hook_reaches_it_and_nothing_else_starts() {
    let hook =
        "sh -c 'trap \"echo hook-got-term; exit 0\" TERM; echo ready; while :; do sleep 0.1; done'";
    let mut child = preflight()
        .args([
            "--hook",
            hook,
            "--hook",
            "echo next-hook",
            "--",
            "echo",
            "command",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert_eq!(rest, ["hook-got-term"], "no further hook, no command");
    assert_eq!(status.code(), Some(128 + 15));
}

#[test]
fn hooks_without_a_command_end_preflight_with_0() {
    let out = preflight().args(["--hook", "echo only"]).bounded_output();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_lines(&out), ["only"]);
}

#[test]
fn a_term_that_comes_just_before_a_hook_starts_stops_the_start() {
    // preflight starts with TERM already pending (the testkit blocks and
    // sends it before exec): it came after waiting, before the first hook.
    // The hook ignores TERM, so only not starting it stops it.
    let out = std::process::Command::new(crate::support::testkit())
        .args(["pending", "TERM", "--"])
        .arg(crate::support::bin())
        .args(["--hook", "sh -c 'trap \"\" TERM; sleep 0.3; echo hook ran'"])
        .args(["--", "echo", "command ran"])
        .bounded_output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM), "{out:?}");
    assert!(!stdout.contains("ran"), "{stdout}");
}
