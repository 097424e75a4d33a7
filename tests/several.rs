//! Several programs in one container: `--also`, `--procfile`, restarts with
//! backoff, a crash loop that ends the container, one-shots, signals to
//! every program, the stop (TERM, `--grace`, KILL), `--log-prefix` and
//! `--tail`; as a plain process and as PID 1. The idle check counts
//! context switches of preflight supervising three programs.

use std::io::Write;
use std::time::Duration;

use crate::support::{Run, TempDir, both, preflight, testkit};

/// `NAME: KIT ARGS` for `--also`.
fn also(name: &str, args: &str) -> String {
    format!("{name}: '{}' {args}", testkit())
}

#[test]
fn a_side_program_that_crashes_twice_is_restarted_with_growing_delays() {
    let kit = testkit();
    for how in both() {
        let dir = TempDir::new();
        let count = dir.join("runs");
        let side = also("flaky", &format!("crash-times '{}' 2", count.display()));
        let mut run = Run::start(how, &["--also", &side, "--", &kit, "wait-stdin"]);
        run.ready(); // the main command (or the side program, see below)
        let first = run.expect("side program 'flaky' exited with status 1; restart 1 of 5 in 1s");
        let second = run.expect("side program 'flaky' exited with status 1; restart 2 of 5 in 2s");
        assert!(!first.is_empty() && !second.is_empty());
        run.expect("restarting side program 'flaky'");
        // Now it stays up: its `ready` comes (after the main one's).
        run.ready();
        assert_eq!(std::fs::read_to_string(&count).unwrap(), "3", "{how:?}");
        run.close_stdin();
        let (status, _) = run.finish();
        assert_eq!(status.code(), Some(0), "{how:?}: the main command's status");
        let restarts = run
            .stderr
            .iter()
            .filter(|l| l.contains("restart") && l.contains("'flaky'"))
            .count();
        assert_eq!(
            restarts, 4,
            "{how:?}: two 'ended; restart' and two 'restarting'"
        );
    }
}

#[test]
fn a_crash_loop_ends_the_container_with_its_status_after_max_restarts() {
    let kit = testkit();
    for how in both() {
        let side = also("broken", "exit 3");
        let mut run = Run::start(
            how,
            &[
                "--max-restarts",
                "2",
                "--also",
                &side,
                "--",
                &kit,
                "flush-on-term",
                "/dev/null",
            ],
        );
        run.ready();
        let (status, _) = run.finish();
        assert_eq!(status.code(), Some(3), "{how:?}: {:#?}", run.stderr);
        let log = run.stderr();
        assert!(log.contains("restart 2 of 2"), "{how:?}: {log}");
        assert!(
            log.contains(
                "side program 'broken' exited with status 3 and failed for good after 2 restarts"
            ),
            "{how:?}: {log}"
        );
        assert!(!log.contains("restart 3"), "{how:?}: {log}");
    }
}

#[test]
fn a_one_shot_with_restart_no_is_done_and_the_rest_runs_on() {
    let kit = testkit();
    for how in both() {
        let once = also("once", "exit 0");
        let mut run = Run::start(
            how,
            &["--restart", "no", "--also", &once, "--", &kit, "wait-stdin"],
        );
        run.ready();
        run.expect("side program 'once' exited with status 0: done");
        assert!(run.running(), "{how:?}: the main command goes on");
        run.close_stdin();
        let (status, _) = run.finish();
        assert_eq!(status.code(), Some(0), "{how:?}");
        assert!(
            !run.stderr().contains("restart"),
            "{how:?}: {}",
            run.stderr()
        );
        // A one-shot that fails stops everything with its status.
        let fails = also("once", "exit 4");
        let mut run = Run::start(
            how,
            &[
                "--restart",
                "no",
                "--also",
                &fails,
                "--",
                &kit,
                "wait-stdin",
            ],
        );
        assert_eq!(run.code(), 4, "{how:?}");
    }
}

#[test]
fn when_the_main_command_exits_side_programs_get_term_and_time_to_flush() {
    let kit = testkit();
    for how in both() {
        let dir = TempDir::new();
        let flushed = dir.join("flushed");
        let side = also("worker", &format!("flush-on-term '{}'", flushed.display()));
        let mut run = Run::start(
            how,
            &["--grace", "30s", "--also", &side, "--", &kit, "wait-stdin"],
        );
        run.ready();
        run.ready();
        run.close_stdin();
        let (status, took) = run.finish();
        assert_eq!(status.code(), Some(0), "{how:?}");
        assert_eq!(
            std::fs::read_to_string(&flushed).unwrap(),
            "flushed\n",
            "{how:?}"
        );
        assert!(
            took < Duration::from_secs(30),
            "{how:?}: not the whole grace"
        );
        assert!(
            !run.stderr().contains("sending KILL"),
            "{how:?}: {}",
            run.stderr()
        );
    }
}

#[test]
fn term_reaches_every_program_once_and_preflight_exits_with_the_mains_status() {
    let kit = testkit();
    for how in both() {
        let (a, b) = (also("a", "signals"), also("b", "signals"));
        let run = Run::start(how, &["--also", &a, "--also", &b, "--", &kit, "signals"]);
        let mut pids = [run.ready(), run.ready(), run.ready()];
        pids.sort();
        run.signal(libc::SIGUSR1);
        let mut got = [run.line(), run.line(), run.line()];
        got.sort();
        assert_eq!(
            got,
            pids.map(|p| format!("{p} {}", libc::SIGUSR1)),
            "{how:?}"
        );
        // `signals` records TERM and lives on: each got it once, then
        // --grace (3 s) passed and they were KILLed.
        run.signal(libc::SIGTERM);
        let mut got = [run.line(), run.line(), run.line()];
        got.sort();
        assert_eq!(
            got,
            pids.map(|p| format!("{p} {}", libc::SIGTERM)),
            "{how:?}"
        );
        run.kill_tree();
    }
}

#[test]
fn a_side_program_that_ignores_term_is_killed_after_the_grace_period() {
    let kit = testkit();
    for how in both() {
        let stubborn = also("stubborn", "ignore-term");
        let mut run = Run::start(
            how,
            &[
                "--grace",
                "300ms",
                "--also",
                &stubborn,
                "--",
                &kit,
                "flush-on-term",
                "/dev/null",
            ],
        );
        let (x, y) = (run.ready(), run.ready());
        run.signal(libc::SIGTERM);
        let (status, _) = run.finish();
        assert_eq!(status.code(), Some(0), "{how:?}: the main command's status");
        let kills: Vec<&String> = run
            .stderr
            .iter()
            .filter(|l| l.contains("sending KILL"))
            .collect();
        assert_eq!(kills.len(), 1, "{how:?}: {:#?}", run.stderr);
        assert!(
            [x, y]
                .iter()
                .any(|p| kills[0].contains(&format!("{p} (preflight-testk"))),
            "{how:?}: {kills:?}"
        );
    }
}

#[test]
fn log_prefix_names_each_line_on_its_own_stream_whole() {
    let kit = testkit();
    for how in both() {
        let side = also("side", "write-lines");
        let mut run = Run::start(
            how,
            &[
                "--log-prefix",
                "--restart",
                "no",
                "--also",
                &side,
                "--",
                &kit,
                "wait-stdin",
            ],
        );
        // The main command's NAME is its program's base name.
        let ready = run.line();
        assert!(
            ready.starts_with("preflight-testkit | ready "),
            "{how:?}: {ready}"
        );
        run.expect("side program 'side' exited with status 0: done");
        run.close_stdin();
        let (status, _) = run.finish();
        assert_eq!(status.code(), Some(0), "{how:?}: {:#?}", run.stderr);
        let long = "x".repeat(100_000);
        let want: Vec<String> = ["first half", &long, "two", "lines"]
            .iter()
            .map(|l| format!("side | {l}"))
            .collect();
        assert_eq!(run.rest(), want, "{how:?}: stdout, each line whole");
        for l in ["side | on stderr", "side | no newline"] {
            assert!(
                run.stderr.iter().any(|e| e == l),
                "{how:?}: {l:?} in {:#?}",
                run.stderr
            );
        }
    }
}

#[test]
fn tail_follows_a_file_across_rotation_and_truncation() {
    let kit = testkit();
    for how in both() {
        let dir = TempDir::new();
        let log = dir.join("app.log");
        std::fs::write(&log, "old, not shown\n").unwrap();
        let mut run = Run::start(
            how,
            &[
                "--tail",
                log.to_str().unwrap(),
                "--tail",
                dir.join("later.log").to_str().unwrap(),
                "--",
                &kit,
                "wait-stdin",
            ],
        );
        run.ready();
        let append = |path: &std::path::Path, s: &str| {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .unwrap();
            f.write_all(s.as_bytes()).unwrap();
        };
        append(&log, "one\n");
        assert_eq!(run.line(), "one", "{how:?}");
        // A partial line waits for its end.
        append(&log, "tw");
        append(&log, "o\n");
        assert_eq!(run.line(), "two", "{how:?}");
        // Rotation: renamed away, a new file in its place.
        std::fs::rename(&log, dir.join("app.log.1")).unwrap();
        append(&log, "three, in the new file\n");
        assert_eq!(run.line(), "three, in the new file", "{how:?}");
        // Truncation (seen as the file getting shorter than what was read).
        std::fs::write(&log, "").unwrap();
        append(&log, "four\n");
        assert_eq!(run.line(), "four", "{how:?}");
        // A file that did not exist at the start.
        append(&dir.join("later.log"), "five, from a new file\n");
        assert_eq!(run.line(), "five, from a new file", "{how:?}");
        run.close_stdin();
        assert_eq!(run.code(), 0, "{how:?}");
        assert_eq!(run.rest(), Vec::<String>::new(), "{how:?}");
    }
}

#[test]
fn a_procfile_with_comments_runs_every_entry_and_no_main_command_is_needed() {
    let kit = testkit();
    for how in both() {
        let dir = TempDir::new();
        let procfile = dir.join("Procfile");
        std::fs::write(
            &procfile,
            format!(
                "# the web and a worker\n\nweb: '{kit}' signals\n  # indented comment\nworker: '{kit}' signals\n"
            ),
        )
        .unwrap();
        let mut run = Run::start(how, &["--procfile", procfile.to_str().unwrap()]);
        let mut pids = [run.ready(), run.ready()];
        pids.sort();
        run.expect("side program 'web' started");
        // No main command: the first to end for good ends it all.
        let mut run2 = Run::start(
            how,
            &[
                "--procfile",
                procfile.to_str().unwrap(),
                "--also",
                &also("oneshot", "exit 5"),
                "--restart",
                "no",
            ],
        );
        assert_eq!(run2.code(), 5, "{how:?}");
        run.signal(libc::SIGTERM);
        let mut got = [run.line(), run.line()];
        got.sort();
        assert_eq!(
            got,
            pids.map(|p| format!("{p} {}", libc::SIGTERM)),
            "{how:?}"
        );
        run.kill_tree();
    }
}

#[test]
fn bad_side_programs_exit_2_naming_them() {
    let dir = TempDir::new();
    let procfile = dir.join("Procfile");
    std::fs::write(&procfile, "web: gunicorn app\nbad name: x\n").unwrap();
    let missing = dir.join("nope");
    let cases: [(&[&str], &str); 6] = [
        (&["--also", "we b: x", "--", "true"], "'we b' is not a NAME"),
        (
            &["--also", "web:", "--", "true"],
            "'web' has an empty COMMAND",
        ),
        (
            &["--also", "web: a", "--also", "web: b", "--", "true"],
            "'web' is named twice",
        ),
        (
            &["--also", "no colon", "--", "true"],
            "is not NAME: COMMAND",
        ),
        (
            &["--procfile", procfile.to_str().unwrap()],
            "line 2: 'bad name' is not a NAME",
        ),
        (
            &["--procfile", missing.to_str().unwrap()],
            "cannot read it: not found",
        ),
    ];
    for (args, needle) in cases {
        let out = preflight().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// Voluntary plus involuntary context switches of `pid` (one thread).
fn switches(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .filter(|l| l.contains("ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

#[test]
fn supervising_three_programs_idle_wakes_preflight_up_never() {
    let kit = testkit();
    for how in both() {
        let (a, b) = (also("a", "wait-stdin"), also("b", "wait-stdin"));
        let run = Run::start(how, &["--also", &a, "--also", &b, "--", &kit, "wait-stdin"]);
        for _ in 0..3 {
            run.ready();
        }
        let pid = run.preflight_pid();
        // Past the one-time shrink at 0.2 s.
        std::thread::sleep(Duration::from_millis(500));
        let before = switches(pid);
        std::thread::sleep(Duration::from_secs(2));
        let after = switches(pid);
        assert_eq!(after - before, 0, "{how:?}: preflight woke up while idle");
        let threads = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(threads.contains("Threads:\t1\n"), "{how:?}: one thread");
        run.kill_tree();
    }
}
