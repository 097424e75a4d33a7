//! The child starts clean: empty signal mask, default dispositions (even
//! when preflight was started with signals ignored or blocked), none of
//! preflight's descriptors, the same working directory, its own process
//! group, the terminal's foreground when there is a terminal.

use std::process::Stdio;

use crate::support::{As, Bounded, TempDir, both, command, testkit};

fn output(how: As, args: &[&str]) -> Vec<String> {
    let out = command(how, args).stdin(Stdio::null()).bounded_output();
    assert!(out.status.success(), "{how:?} {args:?}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

const CLEAN: [&str; 3] = [
    "SigBlk: 0000000000000000",
    "SigIgn: 0000000000000000",
    "SigCgt: 0000000000000000",
];

#[test]
fn the_child_starts_with_an_empty_mask_and_default_dispositions() {
    let kit = testkit();
    for how in both() {
        assert_eq!(output(how, &["--", &kit, "sigstate"]), CLEAN, "{how:?}");
    }
}

#[test]
fn signals_ignored_or_blocked_when_preflight_started_are_not_passed_on() {
    // tini and catatonit pass ignored signals on; preflight does not.
    let kit = testkit();
    let bin = crate::support::bin();
    let out = std::process::Command::new(&kit)
        .args([
            "ignoring",
            "--",
            bin.to_str().unwrap(),
            "--",
            &kit,
            "sigstate",
        ])
        .stdin(Stdio::null())
        .bounded_output();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        CLEAN
    );
}

#[test]
fn the_child_gets_no_descriptor_of_preflights_own() {
    // What preflight was started with is passed on (as tini does): compare
    // with the testkit started the same way without preflight.
    let kit = testkit();
    let alone = std::process::Command::new(&kit)
        .arg("fds")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let alone = String::from_utf8(alone.stdout).unwrap();
    assert!(alone.starts_with("fds 0 1 2"), "{alone}");
    for how in both() {
        assert_eq!(
            output(how, &["--", &kit, "fds"]),
            [alone.trim_end()],
            "{how:?}"
        );
    }
}

#[test]
fn the_child_runs_in_preflights_working_directory() {
    let kit = testkit();
    let dir = crate::support::TempDir::new();
    let out = command(As::Plain, &["--", &kit, "cwd"])
        .current_dir(&dir)
        .bounded_output();
    let got = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        got.trim_end(),
        dir.canonicalize().unwrap().to_str().unwrap()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_child_leads_its_own_process_group() {
    let kit = testkit();
    for how in both() {
        let out = output(how, &["--", &kit, "ids"]);
        let f: Vec<&str> = out[0].split_whitespace().collect();
        // pid P ppid Q pgid G
        assert_eq!(f[1], f[5], "{how:?}: {out:?}");
        if how == As::Pid1 {
            assert_eq!(f[3], "1", "preflight is PID 1: {out:?}");
        }
    }
}

#[test]
fn without_a_terminal_nothing_changes() {
    let kit = testkit();
    assert_eq!(output(As::Plain, &["--", &kit, "tty"]), ["no tty"]);
}

/// Run preflight with `args` (a shell line) on a new pty, as its session's
/// foreground (script(1)); its stdout. None without script(1).
fn on_a_terminal(args: &str) -> Option<String> {
    if !crate::support::have_program("script") {
        crate::support::skip("script(1) is not installed");
        return None;
    }
    let line = format!("{} {args}", crate::support::bin().display());
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .bounded_output();
    assert!(out.status.success(), "{out:?}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What the testkit's `tty` said in `out`, among other lines.
fn tty_says(out: &str) -> Vec<&str> {
    out.lines()
        .map(str::trim_end)
        .filter(|l| ["foreground", "background", "no tty"].contains(l))
        .collect()
}

#[test]
fn with_a_terminal_the_child_gets_the_foreground() {
    let kit = testkit();
    let Some(got) = on_a_terminal(&format!("-- {kit} tty")) else {
        return;
    };
    assert_eq!(got.trim_end(), "foreground", "{got:?}");
}

#[test]
fn with_a_terminal_a_side_program_leaves_the_foreground_to_the_main_command() {
    // Side programs start after the main command and must not take the
    // terminal from it: half a second later the main command still has it.
    let kit = testkit();
    let args = format!("--also 'side: {kit} wait-stdin' -- sh -c 'sleep 0.5; exec {kit} tty'");
    let Some(got) = on_a_terminal(&args) else {
        return;
    };
    assert_eq!(tty_says(&got), ["foreground"], "{got:?}");
}

#[test]
fn with_a_terminal_and_no_main_command_no_program_takes_the_foreground() {
    // A Procfile alone: preflight keeps the terminal (Ctrl-C reaches it and
    // it tells every program), no side program takes it.
    let dir = TempDir::new();
    let procfile = dir.join("Procfile");
    let kit = testkit();
    std::fs::write(&procfile, format!("a: sh -c 'sleep 0.2; exec {kit} tty'\n")).unwrap();
    let Some(got) = on_a_terminal(&format!("--procfile {}", procfile.display())) else {
        return;
    };
    assert_eq!(tty_says(&got), ["background"], "{got:?}");
}

#[test]
fn closed_standard_descriptors_reach_the_child_as_dev_null() {
    // Started with descriptors 0 and 1 closed, preflight opens /dev/null
    // there before anything else, as std's start-up does: otherwise its own
    // first file or socket would take their place. The child finds both on
    // /dev/null; without preflight they stay closed.
    let kit = testkit();
    let closed = |cmd: std::process::Command| {
        let mut sh = std::process::Command::new("sh");
        sh.args(["-c", "exec <&- >&- \"$@\"", "sh"])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        let out = sh.bounded_output();
        assert!(out.status.success(), "{out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        err.lines()
            .find(|l| l.starts_with("std-fds "))
            .unwrap_or_else(|| panic!("{err}"))
            .to_string()
    };
    let mut alone = std::process::Command::new(&kit);
    alone.arg("std-fds");
    assert_eq!(closed(alone), "std-fds closed closed", "without preflight");
    for how in both() {
        let got = closed(command(how, &["--", &kit, "std-fds"]));
        assert_eq!(got, "std-fds /dev/null /dev/null", "{how:?}");
    }
}
