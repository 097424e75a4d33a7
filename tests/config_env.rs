//! Configuration from the environment: every bad value (unknown user, missing
//! hooks dir, a `NAME_FILE` pointing nowhere, a bad lock URL, a hook that
//! cannot be run) stops preflight before anything starts, with one line
//! naming the value; `NAME_FILE` secrets reach hooks and command.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::require;
use crate::support::{
    Bounded, TempDir, expect_exit, expect_exit_output, fails_before_anything_starts, preflight,
};

/// A hook that would show it ran: it must never print.
const MARKER: &str = "echo this-must-not-run";

/// `var=value` stops preflight (exit 2, one line, the hook never ran); the
/// line.
fn bad_variable(var: &str, value: &str) -> String {
    fails_before_anything_starts(2, &["--hook", MARKER, "--", "true"], &[(var, value)])
}

#[test]
fn an_unknown_user_or_group_is_named() {
    let e = fails_before_anything_starts(
        2,
        &["--user", "no-such-user", "--hook", MARKER, "--", "true"],
        &[],
    );
    assert!(
        e.contains("'no-such-user'") && e.contains("/etc/passwd"),
        "{e}"
    );
    let e = bad_variable("PREFLIGHT_USER", "root:no-such-group");
    assert!(
        e.contains("'no-such-group'") && e.contains("/etc/group"),
        "{e}"
    );
}

#[test]
fn user_is_refused_when_preflight_is_not_root() {
    require!(
        nix::unistd::geteuid().is_root() && crate::support::have_program("setpriv"),
        "needs root and setpriv to start preflight as another user"
    );
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(crate::support::bin())
        .args(["--user", "root", "--hook", MARKER, "--", "true"])
        .bounded_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Permission denied") && out.status.code() != Some(2) {
        return crate::support::skip("the test binary is not reachable by uid 65534");
    }
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--user 'root'") && stderr.contains("not root"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_hooks_dir_is_named() {
    let e = fails_before_anything_starts(
        2,
        &[
            "--hooks-dir",
            "/no/such/hooks.d",
            "--hook",
            MARKER,
            "--",
            "true",
        ],
        &[],
    );
    assert!(
        e.contains("'/no/such/hooks.d'") && e.contains("does not exist"),
        "{e}"
    );
    let e = fails_before_anything_starts(
        2,
        &["--", "true"],
        &[("PREFLIGHT_HOOKS_DIR", "/no/such/entrypoint.d")],
    );
    assert!(e.contains("'/no/such/entrypoint.d'"), "{e}");
}

#[test]
fn a_name_file_pointing_nowhere_is_named_with_its_path() {
    for args in [
        &["--secrets-from-files", "--hook", MARKER, "--", "true"][..],
        &[
            "--secrets-from-files",
            "API_KEY",
            "--hook",
            MARKER,
            "--",
            "true",
        ][..],
    ] {
        let e = fails_before_anything_starts(
            2,
            args,
            &[("API_KEY_FILE", "/run/secrets/no-such-secret")],
        );
        assert!(
            e.contains("API_KEY_FILE") && e.contains("/run/secrets/no-such-secret"),
            "{e}"
        );
    }
    // The probes' credentials are read even with the switch off (the default).
    let e = bad_variable("PGPASSWORD_FILE", "/run/secrets/no-such-password");
    assert!(e.contains("PGPASSWORD_FILE"), "{e}");
}

#[test]
fn a_name_and_its_file_both_set_is_refused_without_showing_either() {
    let dir = TempDir::new();
    let file = dir.join("password");
    fs::write(&file, "s3cret-from-file\n").unwrap();
    let e = fails_before_anything_starts(
        2,
        &["--secrets-from-files", "--hook", MARKER, "--", "true"],
        &[
            ("DB_PASSWORD", "s3cret-from-env"),
            ("DB_PASSWORD_FILE", file.to_str().unwrap()),
        ],
    );
    assert!(e.contains("DB_PASSWORD and DB_PASSWORD_FILE"), "{e}");
    assert!(!e.contains("s3cret"), "{e}");
}

#[test]
fn bad_lock_urls_and_names_are_named() {
    let e = fails_before_anything_starts(
        2,
        &["--lock", "redis://db:6379", "--hook", MARKER, "--", "true"],
        &[],
    );
    assert!(e.contains("--lock") && e.contains("redis://db:6379"), "{e}");
    let e = bad_variable("PREFLIGHT_LOCK", "postgres://app:hunter2@db:99999/app");
    assert!(
        e.contains("PREFLIGHT_LOCK") && !e.contains("hunter2"),
        "{e}"
    );
    let e = fails_before_anything_starts(
        2,
        &["--lock", "mysql://db", "--lock-name", "", "--", "true"],
        &[],
    );
    assert!(e.contains("--lock-name"), "{e}");
}

#[test]
fn a_hook_that_cannot_be_run_is_named_before_anything_starts() {
    let e = fails_before_anything_starts(
        127,
        &[
            "--hook",
            MARKER,
            "--hook",
            "no-such-program --flag",
            "--",
            "true",
        ],
        &[],
    );
    assert!(
        e.contains("'no-such-program --flag'") && e.contains("not found"),
        "{e}"
    );
    let dir = TempDir::new();
    let script = dir.join("migrate.sh");
    fs::write(&script, "#!/bin/sh\necho migrating\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let e = fails_before_anything_starts(
        126,
        &[
            "--hook",
            MARKER,
            "--hook",
            script.to_str().unwrap(),
            "--",
            "true",
        ],
        &[],
    );
    assert!(
        e.contains("migrate.sh") && e.contains("not executable"),
        "{e}"
    );
}

#[test]
fn bad_docker_compose_wait_values_are_named() {
    for (var, value) in [
        ("WAIT_TIMEOUT", "-32"),
        ("WAIT_SLEEP_INTERVAL", "0"),
        ("WAIT_BEFORE", "soon"),
        ("WAIT_PATHS", "relative/path"),
    ] {
        let e = bad_variable(var, value);
        assert!(e.contains(var) && e.contains(value), "{var}={value}: {e}");
    }
}

// From here on, the tests need the init core (`init::run`) to run hooks and
// commands.

#[test]
fn secrets_from_files_reach_hooks_and_command_but_not_their_file_variables() {
    let dir = TempDir::new();
    let file = dir.join("db_password");
    fs::write(&file, "pa ss\n").unwrap();
    let show = "sh -c 'echo \"[$DB_PASSWORD] [${DB_PASSWORD_FILE-unset}]\"'";
    let out = preflight()
        .args(["--secrets-from-files", "--hook", show, "--"])
        .args([
            "sh",
            "-c",
            "echo \"[$DB_PASSWORD] [${DB_PASSWORD_FILE-unset}]\"",
        ])
        // Only this variable: the machine's own `*_FILE` variables (say a
        // TF_CLI_CONFIG_FILE naming a missing file) would rightly stop it.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DB_PASSWORD_FILE", &file)
        .bounded_output();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[pa ss] [unset]\n[pa ss] [unset]\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    // Off (the default): the child's environment is left alone.
    let out = preflight()
        .args(["--", "sh", "-c", "echo \"[${DB_PASSWORD-unset}]\""])
        .env("DB_PASSWORD_FILE", &file)
        .bounded_output();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[unset]\n");
}

#[test]
fn wait_before_and_after_sleep_around_waiting() {
    let started = Instant::now();
    expect_exit(
        0,
        preflight()
            .args(["--", "true"])
            .env("WAIT_BEFORE", "1")
            .env("WAIT_AFTER", "1"),
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn wait_paths_and_wait_timeout_work_as_in_docker_compose_wait() {
    let dir = TempDir::new();
    let ready = dir.join("ready");
    let wait = |code| {
        expect_exit(
            code,
            preflight()
                .args(["wait"])
                .env("WAIT_PATHS", &ready)
                .env("WAIT_TIMEOUT", "1"),
        )
    };
    wait(124);
    fs::write(&ready, "").unwrap();
    wait(0);
}

#[test]
fn a_secret_file_that_is_a_fifo_is_refused_instead_of_blocking_for_ever() {
    let dir = TempDir::new();
    let fifo = dir.join("password");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let e = bad_variable("PGPASSWORD_FILE", fifo.to_str().unwrap());
    assert!(
        e.contains("PGPASSWORD_FILE") && e.contains("not a regular file"),
        "{e}"
    );
}

#[test]
fn preflights_own_secrets_from_files_never_reach_hooks_or_command() {
    require!(
        crate::support::listening("127.0.0.1:5432"),
        "no PostgreSQL on 127.0.0.1:5432"
    );
    let dir = TempDir::new();
    let file = dir.join("lock_url");
    fs::write(
        &file,
        "postgres://postgres:lock-s3cret@127.0.0.1:5432/postgres\n",
    )
    .unwrap();
    let show = "sh -c 'echo \"[${PREFLIGHT_LOCK-unset}]\"'";
    let mut cmd = preflight();
    cmd.args(["--secrets-from-files", "--timeout", "30s"])
        .args(["--lock-name", &format!("config-env-{}", std::process::id())])
        .args(["--hook", show, "--", "sh", "-c"])
        .arg("echo \"[${PREFLIGHT_LOCK-unset}] [${PREFLIGHT_LOCK_FILE-unset}]\"")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PREFLIGHT_LOCK_FILE", &file);
    let (out, stderr) = expect_exit_output(0, &mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The lock was taken from the file: preflight read it for itself.
    assert!(stderr.contains("lock 'config-env-"), "{stderr}");
    assert_eq!(stdout, "[unset]\n[unset] [unset]\n", "{stderr}");
    assert!(!stderr.contains("lock-s3cret"), "{stderr}");
}
