//! `--exec` replaces preflight with the command; `--pdeathsig` signals the
//! command when preflight's parent dies.

use std::process::Stdio;

use crate::support::{As, Bounded, Run, command, testkit};

#[test]
fn exec_replaces_preflight_with_a_clean_command() {
    let kit = testkit();
    let mut c = command(As::Plain, &["--exec", "--", &kit, "ids"]);
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.starts_with(&format!("pid {pid} ")), "same pid: {s}");

    let out = command(As::Plain, &["--exec", "--", &kit, "sigstate"]).bounded_output();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("SigBlk: 0000000000000000") && s.contains("SigIgn: 0000000000000000"),
        "{s}"
    );
    assert_eq!(
        command(As::Plain, &["--exec", "--", &kit, "exit", "42"])
            .status()
            .unwrap()
            .code(),
        Some(42)
    );
}

#[test]
fn exec_of_a_missing_command_exits_127() {
    let out = command(As::Plain, &["--exec", "--", "/nonexistent/x"]).bounded_output();
    assert_eq!(out.status.code(), Some(127));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot run '/nonexistent/x': not found")
    );
}

#[test]
fn pdeathsig_reaches_the_command_when_preflights_parent_dies() {
    // sh starts preflight in the background and waits for a line on stdin;
    // closing it ends sh, preflight's parent.
    let kit = testkit();
    let bin = crate::support::bin();
    let script = r#""$0" --pdeathsig USR1 -- "$1" signals & read x"#;
    let child = std::process::Command::new("sh")
        .args(["-c", script, bin.to_str().unwrap(), &kit])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = Run::from_child(As::Plain, child);
    let pid = run.ready();
    let preflight = crate::support::process::ppid(pid).unwrap();
    run.close_stdin();
    assert_eq!(run.line(), format!("{pid} {}", libc::SIGUSR1));
    crate::support::process::kill_tree(preflight);
}

#[test]
fn pdeathsig_reaches_the_command_when_preflight_itself_dies() {
    // Not PID 1: the command gets --pdeathsig set for itself, so a preflight
    // killed outright (nothing left to forward anything) still tells it.
    let kit = testkit();
    let run = Run::start(As::Plain, &["--pdeathsig", "USR1", "--", &kit, "signals"]);
    let pid = run.ready();
    crate::support::process::kill(run.preflight_pid(), libc::SIGKILL);
    let line = run.line();
    crate::support::process::kill_tree(pid);
    assert_eq!(line, format!("{pid} {}", libc::SIGUSR1));
}

#[test]
fn pdeathsig_survives_exec_as_another_user() {
    crate::require!(
        nix::unistd::geteuid().is_root(),
        "switching users needs root"
    );
    // Changing the uid clears the parent-death signal: with --exec it is set
    // again after, for the command (which is preflight's pid by then).
    let bin = crate::support::bin();
    let script = r#""$0" --exec --user nobody --pdeathsig USR1 -- sh -c 'trap "echo got-usr1; exit 0" USR1; echo ready $$; while :; do sleep 0.05; done' & read x"#;
    let child = std::process::Command::new("sh")
        .args(["-c", script, bin.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = Run::from_child(As::Plain, child);
    let pid = run.ready();
    run.close_stdin();
    let line = run.line();
    crate::support::process::kill_tree(pid);
    assert_eq!(line, "got-usr1");
}
