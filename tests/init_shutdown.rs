//! When the command exits, whatever it left gets TERM, `--grace`, KILL, and
//! preflight exits with the command's status as soon as the last one is
//! gone. `--kill-after` KILLs a command that outlives a forwarded TERM.

use std::time::{Duration, Instant};

use crate::require;
use crate::support::process::alive;
use crate::support::{As, Run, TempDir, both, testkit};

#[test]
fn a_leftover_worker_gets_term_and_time_to_flush() {
    let kit = testkit();
    for how in both() {
        let dir = TempDir::new();
        let file = dir.join("flushed");
        let f = file.to_str().unwrap();
        // `background` exits 0 right after its worker is ready.
        let mut run = Run::start(
            how,
            &[
                "--grace",
                "30s",
                "--",
                &kit,
                "background",
                &kit,
                "flush-on-term",
                f,
            ],
        );
        run.ready();
        let started = Instant::now();
        let (status, _) = run.finish();
        assert_eq!(status.code(), Some(0), "{how:?}");
        // It ended on TERM: no KILL was sent, so none is logged.
        assert!(
            !run.stderr().contains("sending KILL"),
            "{how:?}: {}",
            run.stderr()
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "flushed\n",
            "{how:?}"
        );
        // Done when the worker was, not after the grace period.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{how:?}: {:?}",
            started.elapsed()
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_setsid_daemon_left_behind_is_stopped_too() {
    require!(
        crate::support::have_program("setsid"),
        "setsid(1) is not installed"
    );
    let kit = testkit();
    for how in both() {
        let dir = TempDir::new();
        let file = dir.join("flushed");
        let f = file.to_str().unwrap();
        let mut run = Run::start(
            how,
            &["--", &kit, "background", "setsid", &kit, "flush-on-term", f],
        );
        run.ready();
        assert_eq!(run.code(), 0, "{how:?}");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "flushed\n",
            "{how:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_leftover_that_ignores_term_is_killed_after_the_grace_period() {
    let kit = testkit();
    for how in both() {
        let mut run = Run::start(
            how,
            &[
                "--grace",
                "200ms",
                "--",
                &kit,
                "background",
                &kit,
                "ignore-term",
            ],
        );
        let worker = run.ready();
        let preflight_sees_it = how == As::Plain;
        let (status, _) = run.finish();
        assert_eq!(
            status.code(),
            Some(0),
            "{how:?}: the command's status, not the worker's"
        );
        if preflight_sees_it {
            assert!(!alive(worker), "worker {worker} survived");
        }
        // One line says what got KILL, and after how long.
        let kills = run.kill_lines();
        assert_eq!(kills.len(), 1, "{how:?}: {:#?}", run.stderr);
        assert!(
            kills[0].contains(&format!("{worker} (preflight-testk")),
            "{how:?}: {kills:?}"
        );
        assert!(kills[0].contains("s after TERM"), "{how:?}: {kills:?}");
        // The KILL worked: the worker is reaped, not "left" after it.
        assert!(
            !run.stderr().contains("leaving them"),
            "{how:?}: {}",
            run.stderr()
        );
    }
}

#[test]
fn with_nothing_left_preflight_exits_at_once() {
    let kit = testkit();
    for how in both() {
        let started = Instant::now();
        let mut run = Run::start(how, &["--grace", "60s", "--", &kit, "exit", "3"]);
        assert_eq!(run.code(), 3, "{how:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "{how:?}");
    }
}

#[test]
fn kill_after_kills_a_command_that_outlives_a_forwarded_term() {
    let kit = testkit();
    for how in both() {
        let mut run = Run::start(how, &["--kill-after", "200ms", "--", &kit, "ignore-term"]);
        let child = run.ready();
        run.signal(libc::SIGTERM);
        run.expect(&format!("sending KILL to {child} (preflight-testk"));
        assert_eq!(run.code(), 128 + libc::SIGKILL, "{how:?}");
    }
}

#[test]
fn kill_after_leaves_a_command_that_ends_on_term_in_time_alone() {
    let kit = testkit();
    for how in both() {
        let dir = TempDir::new();
        let file = dir.join("flushed");
        let mut run = Run::start(
            how,
            &[
                "--kill-after",
                "30s",
                "--",
                &kit,
                "flush-on-term",
                file.to_str().unwrap(),
            ],
        );
        run.ready();
        run.signal(libc::SIGTERM);
        // Its own status: it flushed and exited 0 before the KILL was due.
        assert_eq!(run.code(), 0, "{how:?}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "flushed\n");
    }
}

#[test]
fn a_signal_during_the_shutdown_reaches_what_is_left_once() {
    // The command exits at once and leaves a worker that records signals
    // (and survives TERM): preflight is in its grace period when USR1 comes.
    let kit = testkit();
    for how in both() {
        let run = Run::start(
            how,
            &["--grace", "1h", "--", &kit, "detach", &kit, "signals"],
        );
        let worker = run.ready();
        assert_eq!(run.line(), format!("{worker} {}", libc::SIGTERM), "{how:?}");
        // Real-time signals: queued, not merged, so one sent twice would
        // show twice, and taken lowest first: the next one marks the end.
        let rt = libc::SIGRTMIN() + 1;
        run.signal(rt);
        run.signal(rt + 1);
        assert_eq!(run.line(), format!("{worker} {rt}"), "{how:?}");
        assert_eq!(run.line(), format!("{worker} {}", rt + 1), "{how:?}");
        run.kill_tree();
        assert_eq!(run.rest(), Vec::<String>::new(), "{how:?}: sent twice");
    }
}

#[test]
fn one_leftover_ending_on_term_does_not_end_the_shutdown_of_the_others() {
    // Two leftovers: one ends on TERM, one records TERM and stays. The
    // first one's end must not count as "nothing left": the second still
    // gets KILL after the grace period.
    // As PID 1 too: the leftovers that were there at the TERM to every
    // process are not newcomers when one of them ends. And under the
    // several-programs supervisor (which `--tail` of a file not there yet
    // turns on without touching stdout): it keeps its own list of what it
    // signaled, and its own KILL deadline.
    let kit = testkit();
    for (how, several) in both().into_iter().flat_map(|h| [(h, false), (h, true)]) {
        let dir = TempDir::new();
        let file = dir.join("flushed");
        let script = format!(
            "{kit} detach {kit} signals && exec {kit} background {kit} flush-on-term {}",
            file.display()
        );
        let never = dir.join("never.log");
        let mut args = vec!["--grace", "300ms"];
        if several {
            args.extend(["--tail", never.to_str().unwrap()]);
        }
        args.extend(["--", "sh", "-c", &script]);
        let how_ = how;
        let how = (how_, several);
        let mut run = Run::start(how_, &args);
        // Both say they are ready, in either order under load.
        let ready = [run.ready(), run.ready()];
        assert_eq!(run.code(), 0, "{how:?}: {}", run.stderr());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "flushed\n");
        // One TERM for the group, however many of it end meanwhile; then the
        // KILL, which it cannot record.
        let rest = run.rest();
        let recorder = ready
            .into_iter()
            .find(|pid| rest == [format!("{pid} {}", libc::SIGTERM)])
            .unwrap_or_else(|| panic!("{how:?}: {rest:?}, expected one TERM to one of {ready:?}"));
        if how_ == As::Plain {
            assert!(!alive(recorder), "the recorder {recorder} was left running");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_daemon_left_behind_gets_term_once_while_others_end() {
    require!(
        crate::support::have_program("setsid"),
        "setsid(1) is not installed"
    );
    // A daemon in a session of its own that records signals, and a worker
    // in the command's group that ends on TERM a moment later: the worker's
    // end must not make preflight send the daemon its TERM again.
    let kit = testkit();
    let dir = TempDir::new();
    let file = dir.join("flushed");
    let script = format!(
        "setsid {kit} detach {kit} signals && exec {kit} background {kit} flush-on-term {}",
        file.display()
    );
    let run = Run::start(As::Plain, &["--grace", "500ms", "--", "sh", "-c", &script]);
    let daemon = run.ready();
    run.ready();
    assert_eq!(run.line(), format!("{daemon} {}", libc::SIGTERM));
    // Then only the KILL, which it cannot record.
    assert_eq!(run.rest(), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "flushed\n");
}

#[test]
fn a_daemon_started_during_the_shutdown_gets_term_before_the_kill() {
    require!(
        crate::support::have_program("setsid"),
        "setsid(1) is not installed"
    );
    // The command leaves a worker in its group, then exits. On TERM the
    // worker starts a daemon in a session of its own (out of the group,
    // and after the TERM that the shutdown began with), waits until it has
    // set its own TERM trap, and ends. The daemon, re-parented to preflight
    // then, must get a TERM of its own and end cleanly on it, well before
    // the grace period's KILL.
    for how in both() {
        let dir = TempDir::new();
        let got = dir.join("got");
        let (daemon_ready, worker_ready) = (dir.join("daemon-ready"), dir.join("worker-ready"));
        let daemon = dir.join("daemon.sh");
        std::fs::write(
            &daemon,
            format!(
                "trap 'echo got-term >> {got}; exit 0' TERM\n: > {ready}\nsleep 30 & wait\n",
                got = got.display(),
                ready = daemon_ready.display()
            ),
        )
        .unwrap();
        let worker = dir.join("worker.sh");
        std::fs::write(
            &worker,
            format!(
                "trap 'setsid sh {daemon} & until [ -e {ready} ]; do sleep 0.01; done; exit 0' TERM\n\
                 : > {me}\nwhile :; do sleep 0.05; done\n",
                daemon = daemon.display(),
                ready = daemon_ready.display(),
                me = worker_ready.display()
            ),
        )
        .unwrap();
        let command = format!(
            "sh {} & until [ -e {} ]; do sleep 0.01; done; exit 3",
            worker.display(),
            worker_ready.display()
        );
        let mut run = Run::start(how, &["--grace", "20s", "--", "sh", "-c", &command]);
        let (status, took) = run.finish();
        assert_eq!(status.code(), Some(3), "{how:?}: {}", run.stderr());
        assert_eq!(
            std::fs::read_to_string(&got).unwrap_or_default(),
            "got-term\n",
            "{how:?}: the daemon did not get TERM; {}",
            run.stderr()
        );
        assert!(
            !run.stderr().contains("sending KILL"),
            "{how:?}: {}",
            run.stderr()
        );
        assert!(took < Duration::from_secs(15), "{how:?}: {took:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn as_pid1_the_shutdown_term_reaches_a_daemon_whose_parent_survives_term() {
    require!(
        crate::support::have_program("setsid"),
        "setsid(1) is not installed"
    );
    // As PID 1 the shutdown's TERM goes to every process: also to a daemon
    // in a session of its own that is not preflight's child (its parent,
    // a worker that survives TERM, still lives), so it ends cleanly long
    // before the worker's KILL.
    if !both().contains(&As::Pid1) {
        return;
    }
    let dir = TempDir::new();
    let got = dir.join("got");
    let ready = dir.join("daemon-ready");
    let daemon = dir.join("daemon.sh");
    std::fs::write(
        &daemon,
        format!(
            "trap 'echo got-term >> {got}; exit 0' TERM\n: > {ready}\nsleep 30 & wait\n",
            got = got.display(),
            ready = ready.display()
        ),
    )
    .unwrap();
    let command = format!(
        "(trap : TERM; setsid sh {} & while :; do sleep 0.05; done) & \
         until [ -e {} ]; do sleep 0.01; done; exit 3",
        daemon.display(),
        ready.display()
    );
    let mut run = Run::start(As::Pid1, &["--grace", "3s", "--", "sh", "-c", &command]);
    let (status, _) = run.finish();
    assert_eq!(status.code(), Some(3), "{}", run.stderr());
    assert_eq!(
        std::fs::read_to_string(&got).unwrap_or_default(),
        "got-term\n",
        "the daemon did not get TERM: {}",
        run.stderr()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_kill_names_each_leftover_once_even_while_it_dies() {
    // The command leaves two processes that survive TERM, a parent and its
    // child, then exits. After --grace, one KILL line names both; the parent
    // dies first, and the KILL that follows (its child is ours now) does
    // not name the child again while it is still dying.
    let kit = testkit();
    for how in both() {
        let args = [
            "--grace",
            "300ms",
            "--",
            &kit,
            "detach",
            &kit,
            "signals",
            "--children",
            "1",
        ];
        let mut run = Run::start(how, &args);
        // The TERM may come before the child says it is ready: its line,
        // `PID 15`, is not one of the two wanted here.
        let mut pids = Vec::new();
        while pids.len() < 2 {
            if let Some(pid) = run.line().strip_prefix("ready ") {
                pids.push(pid.to_string());
            }
        }
        let (status, _) = run.finish();
        assert_eq!(status.code(), Some(0), "{how:?}: {:#?}", run.stderr);
        let kills = run.kill_lines();
        assert_eq!(kills.len(), 1, "{how:?}: {:#?}", run.stderr);
        for pid in pids {
            let named = format!("{pid} (preflight-testk");
            assert!(kills[0].contains(&named), "{how:?}: {pid} in {kills:?}");
        }
    }
}
