//! Secrets as one mechanism: every secret preflight learns (URLs as written,
//! `PGPASSWORD` & co., `NAME_FILE` contents) is masked in every line
//! preflight writes, and scrubbed from its own argv, which
//! `/proc/PID/cmdline` shows to every user of the machine.

use crate::support::peers::ClosedPort;
use crate::support::{Bounded, expect_exit, preflight};

/// Wait for a closed port only briefly, then run the command anyway.
const GIVE_UP_AT_ONCE: [&str; 6] = [
    "-t",
    "1s",
    "--try-timeout",
    "0.5s",
    "--on-timeout",
    "continue",
];

#[test]
fn passwords_on_the_command_line_are_scrubbed_from_proc_cmdline() {
    let closed = ClosedPort::new();
    let target = format!("postgres://app:hunter2-p%40ss@127.0.0.1:{}/x", closed.port);
    let lock_free = format!("redis://:s3cret-redis@127.0.0.1:{}/0", closed.port);
    let out = preflight()
        .args(["--wait", &target, &lock_free])
        .args(GIVE_UP_AT_ONCE)
        .args(["--", "sh", "-c", "tr '\\0' ' ' < /proc/$PPID/cmdline"])
        .bounded_output();
    let cmdline = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The child read preflight's own command line...
    assert!(cmdline.contains("--on-timeout continue"), "{cmdline}");
    assert!(cmdline.contains("postgres://app:"), "{cmdline}");
    // ...and found no password, in either spelling.
    for secret in ["hunter2-p%40ss", "hunter2-p@ss", "s3cret-redis"] {
        assert!(!cmdline.contains(secret), "{secret} in {cmdline}");
        assert!(!stderr.contains(secret), "{secret} in {stderr}");
    }
}

#[test]
fn a_secret_is_masked_in_every_line_preflight_writes_whatever_its_source() {
    // A hook's command line is logged as written: the password it holds,
    // from the environment or in a URL, must not be.
    let hook = "true hunter2-from-env postgres://u:s3cr%40t-url@db/x";
    for format in ["text", "json"] {
        let stderr = expect_exit(
            0,
            preflight()
                .args(["--log-format", format, "--hook", hook, "--", "true"])
                .env("PGPASSWORD", "hunter2-from-env"),
        );
        assert!(stderr.contains("hook '"), "{format}: {stderr}");
        assert!(!stderr.contains("hunter2-from-env"), "{format}: {stderr}");
        assert!(!stderr.contains("s3cr%40t-url"), "{format}: {stderr}");
        assert!(stderr.contains("***"), "{format}: {stderr}");
    }
}

#[test]
fn a_line_break_in_what_preflight_logs_never_starts_a_line_of_its_own() {
    let stderr = expect_exit(
        0,
        preflight().args(["--hook", "true 'a\npreflight: forged'", "--", "true"]),
    );
    assert!(stderr.contains("a\\npreflight: forged"), "{stderr}");
    assert!(
        !stderr.lines().any(|l| l.starts_with("preflight: forged")),
        "{stderr}"
    );
}

#[test]
fn a_password_in_an_env_target_is_scrubbed_and_masked_as_written() {
    let closed = ClosedPort::new();
    let url = format!("postgres://app:hunter2-%40env@127.0.0.1:{}/x", closed.port);
    let hook = "true hunter2-%40env";
    let stderr = expect_exit(
        0,
        preflight()
            .args(["--wait", "env:DATABASE_URL", "--hook", hook])
            .args(GIVE_UP_AT_ONCE)
            .args(["--", "true"])
            .env("DATABASE_URL", url),
    );
    assert!(stderr.contains("hook '"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
