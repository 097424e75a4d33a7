//! Every invalid argument, target or variable exits 2 with one line that
//! names the bad value and what was expected, and no secret.

use crate::support::{
    expect_exit, expect_exit_output, expect_one_line, fails_before_anything_starts, preflight,
};

/// Bad input: exit 2, one line, nothing ran; the line.
fn fails_with_usage(args: &[&str], env: &[(&str, &str)]) -> String {
    fails_before_anything_starts(2, args, env)
}

#[test]
fn nothing_to_do_is_a_usage_error() {
    let e = fails_with_usage(&[], &[]);
    assert!(e.contains("nothing to do"), "{e}");
}

#[test]
fn bad_targets_are_named() {
    for (target, expected) in [
        ("db", "expected a port"),
        ("db:0", "out of range"),
        ("db:65536", "out of range"),
        ("mongo://db", "unknown scheme"),
        ("[::1:5432", "']'"),
    ] {
        let e = fails_with_usage(&["wait", target], &[]);
        assert!(e.contains(target) && e.contains(expected), "{target}: {e}");
    }
}

#[test]
fn bad_variables_are_named_and_secrets_hidden() {
    let e = fails_with_usage(&["--", "true"], &[("PREFLIGHT_TIMEOUT", "-32")]);
    assert!(e.contains("PREFLIGHT_TIMEOUT") && e.contains("-32"), "{e}");
    let e = fails_with_usage(&["wait", "postgres://app:hunter2@db:99999/app"], &[]);
    assert!(!e.contains("hunter2") && e.contains("app:***@db"), "{e}");
}

#[test]
fn unknown_flags_are_one_line() {
    let e = fails_with_usage(&["--frobnicate", "--", "true"], &[]);
    assert!(e.contains("--frobnicate"), "{e}");
}

#[test]
fn a_runtime_that_cannot_start_is_preflights_failure_not_a_usage_error() {
    // Three descriptors (stdio) and no more: the runtime's epoll cannot open.
    let stderr = expect_exit(
        125,
        std::process::Command::new("sh")
            .args(["-c", "ulimit -n 3 && exec \"$0\" \"$@\""])
            .arg(crate::support::bin())
            .args(["--wait", "127.0.0.1:1", "-t", "1s", "--", "true"]),
    );
    assert!(
        stderr.contains("cannot start the async runtime"),
        "{stderr}"
    );
    assert!(!stderr.contains("os error"), "{stderr}");
}

#[test]
fn huge_durations_are_refused_at_parse_time_not_a_panic_later() {
    for (flag, value) in [
        ("--timeout", "1.5e30s"),
        ("--timeout", "300000000000y"),
        ("--kill-after", "1e19"),
        ("--kill-after", "300000000000y"),
        ("--grace", "300000000000y"),
        ("--hook-timeout", "99999999999999999999"),
        ("--try-timeout", "400d"),
    ] {
        let e = fails_with_usage(&[flag, value, "--", "true"], &[]);
        assert!(e.contains(flag) && e.contains(value), "{flag} {value}: {e}");
    }
    let e = fails_with_usage(&["wait", "127.0.0.1:1#timeout=300000000000y"], &[]);
    assert!(e.contains("too long"), "{e}");
}

#[test]
fn a_bare_fraction_is_seconds() {
    expect_exit(
        0,
        preflight().args(["--grace", "0.3", "--kill-after", ".5", "--", "true"]),
    );
}

#[test]
fn an_empty_target_is_an_error_not_nothing_to_wait_for() {
    let e = fails_with_usage(&["--wait", "", "--", "true"], &[]);
    assert!(e.contains("--wait: ''"), "{e}");
    let e = fails_with_usage(&["wait", " "], &[]);
    assert!(e.contains("wait: ''"), "{e}");
}

#[test]
fn values_with_newlines_keep_errors_on_one_line() {
    // fails_with_usage asserts the one line.
    let e = fails_with_usage(&["--timeout", "1\n2", "--", "true"], &[]);
    assert!(e.contains("'1\\n2'"), "{e}");
    fails_with_usage(&["--", "true"], &[("PREFLIGHT_ON_TIMEOUT", "x\ny")]);
    let long = "a\n".repeat(40);
    fails_with_usage(&["--lock-name", &long, "--", "true"], &[]);
    fails_with_usage(&["--", "true"], &[("WAIT_HOSTS", "db:1\nx")]);
}

#[test]
fn an_argument_that_is_not_utf8_is_named() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let odd = OsStr::from_bytes(b"nob\xffdy");
    for (args, expected) in [
        (
            vec![OsStr::new("--user"), odd],
            "--user: 'nob\\xffdy' is not UTF-8",
        ),
        (
            vec![OsStr::from_bytes(b"--lock=nob\xffdy")],
            "--lock: 'nob\\xffdy' is not UTF-8",
        ),
        (vec![OsStr::new("wait"), odd], "argument 2: 'nob\\xffdy'"),
    ] {
        let stderr = expect_one_line(2, preflight().args(&args).args(["--", "true"]));
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

#[test]
fn a_variable_preflight_reads_that_is_not_utf8_stops_the_start() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let odd = OsStr::from_bytes(b"nob\xffdy");
    for name in [
        "PREFLIGHT_USER",
        "PREFLIGHT_LOCK",
        "PREFLIGHT_WAIT",
        "WAIT_HOSTS",
        "PREFLIGHT_TIMEOUT",
    ] {
        let stderr = expect_exit(2, preflight().env(name, odd).args(["--", "true"]));
        assert!(
            stderr.contains(&format!("{name}: the value is not UTF-8")),
            "{stderr}"
        );
    }
    // The child's own variables pass untouched.
    let (out, _) = expect_exit_output(
        0,
        preflight()
            .env("APP_ODD", odd)
            .args(["--", "sh", "-c", "printf %s \"$APP_ODD\""]),
    );
    assert_eq!(out.stdout, b"nob\xffdy");
}

#[test]
fn a_command_written_without_dashes_after_wait_is_explained() {
    let stderr = expect_one_line(
        2,
        preflight().args(["--wait", "127.0.0.1:6379", "python3", "-c", "print(1)"]),
    );
    assert!(
        stderr.contains("'-c'") && stderr.contains("a command goes after --"),
        "{stderr}"
    );
}

#[test]
fn shell_syntax_in_a_hook_or_the_command_is_explained_with_sh_c() {
    let stderr = expect_exit(
        127,
        preflight().args(["--hook", "cd /app && ./migrate", "--", "true"]),
    );
    assert!(
        stderr.contains("without a shell; for shell syntax write sh -c 'cd /app && ./migrate'"),
        "{stderr}"
    );
    // A command that runs anyway gets the same advice once, as a warning.
    let (out, stderr) = expect_exit_output(0, preflight().args(["--", "echo", "$HOME"]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "$HOME\n");
    assert_eq!(stderr.matches("sh -c 'echo $HOME'").count(), 1, "{stderr}");
}
