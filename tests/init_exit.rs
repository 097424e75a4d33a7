//! The command's exit status comes back unchanged; a death by signal N
//! gives 128+N; a command that cannot start gives 127 or 126 with one line.

use std::process::Stdio;

use crate::support::{As, Bounded, both, command, testkit};

fn code(how: As, args: &[&str]) -> i32 {
    let out = command(how, args).stdin(Stdio::null()).bounded_output();
    out.status
        .code()
        .unwrap_or_else(|| panic!("{args:?}: {:?}", out.status))
}

#[test]
fn every_exit_status_comes_back_unchanged() {
    let kit = testkit();
    for how in both() {
        for n in 0..=255 {
            let n = n.to_string();
            assert_eq!(
                code(how, &["--", &kit, "exit", &n]).to_string(),
                n,
                "{how:?}"
            );
        }
    }
}

#[test]
fn death_by_signal_n_gives_128_plus_n() {
    let kit = testkit();
    let rt = libc::SIGRTMIN() + 3;
    for how in both() {
        for sig in [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGKILL,
            libc::SIGSEGV,
            libc::SIGTERM,
            libc::SIGUSR1,
            rt,
        ] {
            let s = sig.to_string();
            assert_eq!(
                code(how, &["--", &kit, "kill-self", &s]),
                128 + sig,
                "{how:?} {sig}"
            );
        }
    }
}

#[test]
fn remap_exit_turns_143_into_0() {
    let kit = testkit();
    assert_eq!(
        code(
            As::Plain,
            &["--remap-exit", "143:0", "--", &kit, "exit", "143"]
        ),
        0
    );
    assert_eq!(
        code(
            As::Plain,
            &["--remap-exit", "143:0", "--", &kit, "kill-self", "TERM"]
        ),
        0
    );
    assert_eq!(
        code(
            As::Plain,
            &["--remap-exit", "143:0", "--", &kit, "exit", "142"]
        ),
        142
    );
}

fn fails_to_start(program: &str, expected: i32, why: &str) {
    for how in both() {
        let out = command(how, &["--", program, "arg"])
            .stdin(Stdio::null())
            .bounded_output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(expected), "{how:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(&format!("cannot run '{program}': {why}")),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_command_not_found_exits_127_with_one_line_naming_it() {
    fails_to_start("/nonexistent/preflight-test", 127, "not found");
    fails_to_start("preflight-test-no-such-program", 127, "not found");
}

#[test]
fn a_command_that_is_not_executable_exits_126_with_one_line_naming_it() {
    let dir = crate::support::TempDir::new();
    let file = dir.join("script");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    fails_to_start(file.to_str().unwrap(), 126, "permission denied");
    fails_to_start(dir.to_str().unwrap(), 126, "permission denied");
    let _ = std::fs::remove_dir_all(dir);
}
