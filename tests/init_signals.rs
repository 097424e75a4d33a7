//! Forwarding: every signal a program can receive reaches the child exactly
//! as sent, to the child alone unless `--signal-group`, rewritten by
//! `--rewrite`; one sent while the child is being started is not lost.

use std::process::Stdio;

use preflight::init::signals::forwarded;

use crate::support::{As, Bounded, Run, both, command, testkit};

/// Send `sig`, expect exactly the line `<pid> <sig>` back.
fn round_trip(run: &Run, child: i32, sig: i32) {
    run.signal(sig);
    assert_eq!(
        run.line(),
        format!("{child} {sig}"),
        "{:?}: signal {sig}",
        run.how
    );
}

#[test]
fn every_forwardable_signal_reaches_the_child_exactly_as_sent() {
    let kit = testkit();
    for how in both() {
        let run = Run::start(how, &["--", &kit, "signals"]);
        let child = run.ready();
        let all: Vec<i32> = (1..=libc::SIGRTMAX()).filter(|s| forwarded(*s)).collect();
        assert_eq!(
            all.len(),
            28 + 31,
            "1-31 but CHLD, KILL, STOP; 31 real-time ones"
        );
        for sig in all {
            round_trip(&run, child, sig);
        }
        // Nothing else came (no duplicate, nothing preflight made up).
        run.kill_tree();
        assert_eq!(run.rest(), Vec::<String>::new(), "{how:?}");
    }
}

#[test]
fn a_segv_abrt_or_bus_sent_with_kill_is_forwarded_and_preflight_survives_it() {
    let kit = testkit();
    for how in both() {
        let run = Run::start(how, &["--", &kit, "signals"]);
        let child = run.ready();
        for sig in [libc::SIGSEGV, libc::SIGABRT, libc::SIGBUS, libc::SIGSEGV] {
            round_trip(&run, child, sig);
        }
        // Still there, still forwarding.
        round_trip(&run, child, libc::SIGUSR1);
    }
}

#[test]
fn pid1_passes_term_on_and_exits_with_the_childs_death() {
    let kit = testkit();
    for how in both() {
        let mut run = Run::start(how, &["--", &kit, "flush-on-term", "/dev/null"]);
        run.ready();
        run.signal(libc::SIGTERM);
        assert_eq!(
            run.code(),
            0,
            "{how:?}: the child handled TERM and exited 0"
        );
        // A child with default dispositions dies of it.
        let mut run = Run::start(how, &["--", &kit, "wait-stdin"]);
        run.ready();
        run.signal(libc::SIGTERM);
        assert_eq!(run.code(), 128 + libc::SIGTERM, "{how:?}");
    }
}

#[test]
fn signal_group_sends_to_the_childs_whole_process_group() {
    let kit = testkit();
    for how in both() {
        let run = Run::start(
            how,
            &["--signal-group", "--", &kit, "signals", "--children", "1"],
        );
        let mut pids = [run.ready(), run.ready()];
        pids.sort();
        run.signal(libc::SIGUSR1);
        let mut got = [run.line(), run.line()];
        got.sort();
        assert_eq!(
            got,
            pids.map(|p| format!("{p} {}", libc::SIGUSR1)),
            "{how:?}"
        );
    }
}

#[test]
fn signals_go_to_the_child_alone_by_default() {
    let kit = testkit();
    // `--single-child`, the old way to ask for it, is still accepted.
    for (how, flags) in both()
        .into_iter()
        .map(|how| (how, &[][..]))
        .chain([(As::Plain, &["--single-child"][..])])
    {
        let mut args = flags.to_vec();
        args.extend(["--", &kit, "signals", "--children", "1"]);
        let run = Run::start(how, &args);
        let (a, b) = (run.ready(), run.ready());
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGUSR1, libc::SIGWINCH] {
            // The first `ready` may come from either; the forked one (the
            // higher pid) is not the child.
            run.signal(sig);
            assert_eq!(
                run.line(),
                format!("{} {sig}", a.min(b)),
                "{how:?} {flags:?}"
            );
        }
        run.kill_tree();
        // (The child may record the SIGCHLD of the grandchild being killed.)
        let rest: Vec<String> = run
            .rest()
            .into_iter()
            .filter(|l| !l.ends_with(&format!(" {}", libc::SIGCHLD)))
            .collect();
        assert_eq!(
            rest,
            Vec::<String>::new(),
            "{how:?} {flags:?}: the grandchild got nothing"
        );
    }
}

#[test]
fn rewrite_turns_one_signal_into_another() {
    let kit = testkit();
    let run = Run::start(
        As::Plain,
        &[
            "--rewrite",
            "TERM:QUIT",
            "--rewrite",
            "USR1:RTMIN+2",
            "--",
            &kit,
            "signals",
        ],
    );
    let child = run.ready();
    run.signal(libc::SIGTERM);
    assert_eq!(run.line(), format!("{child} {}", libc::SIGQUIT));
    run.signal(libc::SIGUSR1);
    assert_eq!(run.line(), format!("{child} {}", libc::SIGRTMIN() + 2));
}

#[test]
fn rewrite_to_0_drops_the_signal() {
    let kit = testkit();
    let run = Run::start(As::Plain, &["--rewrite", "USR1:0", "--", &kit, "signals"]);
    let child = run.ready();
    run.signal(libc::SIGUSR1);
    run.signal(libc::SIGUSR2);
    assert_eq!(
        run.line(),
        format!("{child} {}", libc::SIGUSR2),
        "USR1 was dropped"
    );
}

#[test]
fn a_signal_sent_while_the_child_is_started_reaches_it() {
    // The testkit starts preflight with TERM already pending (blocked and
    // sent before exec; under unshare the testkit is PID 1 and preflight
    // becomes it). preflight forwards it as soon as the child exists: the
    // child dies of it before it could block signals, or, if it was quicker,
    // records it. Either way it got there.
    let kit = testkit();
    let bin = crate::support::bin();
    let bin = bin.to_str().unwrap();
    for how in both() {
        let mut args = vec![];
        if how == As::Pid1 {
            args.extend(["--pid", "--fork", "--mount-proc", "--kill-child", &kit]);
        }
        args.extend(["pending", "TERM", "--", bin, "--", &kit, "signals"]);
        let program = if how == As::Pid1 { "unshare" } else { &kit };
        let child = std::process::Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut run = Run::from_child(how, child);
        match run.next_line() {
            None => assert_eq!(run.code(), 128 + libc::SIGTERM, "{how:?}"),
            Some(ready) => {
                let pid = ready.strip_prefix("ready ").unwrap();
                assert_eq!(run.line(), format!("{pid} {}", libc::SIGTERM), "{how:?}");
            }
        }
    }
}

#[test]
fn a_signal_sent_while_a_start_fails_gives_128_plus_n() {
    let kit = testkit();
    let bin = crate::support::bin();
    let out = std::process::Command::new(&kit)
        .args([
            "pending",
            "INT",
            "--",
            bin.to_str().unwrap(),
            "--",
            "/nonexistent/x",
        ])
        .stdin(Stdio::null())
        .bounded_output();
    assert_eq!(out.status.code(), Some(128 + libc::SIGINT), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot run '/nonexistent/x': not found"),
        "{stderr}"
    );
}

#[test]
fn preflights_own_broken_pipe_is_not_forwarded() {
    // preflight logs to a pipe nobody reads any more: each of its own writes
    // raises SIGPIPE on preflight itself. That is preflight's business; the
    // child must never see it.
    let kit = testkit();
    for how in both() {
        let mut child = command(how, &["-v", "--", &kit, "signals"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The only read end: from now on preflight's log writes fail, EPIPE.
        drop(child.stderr.take());
        let run = Run::from_child(how, child);
        let pid = run.ready();
        // Each forward is logged (-v): one more SIGPIPE for preflight each.
        for sig in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGUSR1] {
            round_trip(&run, pid, sig);
        }
        run.kill_tree();
        assert_eq!(run.rest(), Vec::<String>::new(), "{how:?}: no SIGPIPE");
    }
}
