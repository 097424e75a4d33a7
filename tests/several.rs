//! Several programs in one container: `--also`, `--procfile`, restarts with
//! backoff, a crash loop that ends the container, one-shots, signals to
//! every program, the stop (TERM, `--grace`, KILL), `--log-prefix` and
//! `--tail`; as a plain process and as PID 1. The idle check counts
//! context switches of preflight supervising three programs.

use std::io::Write;
use std::time::Duration;

use crate::support::{As, Bounded, Run, TempDir, both, expect_one_line, preflight, testkit};

/// `NAME: KIT ARGS` for `--also`.
fn also(name: &str, args: &str) -> String {
    format!("{name}: '{}' {args}", testkit())
}

/// Start preflight `how` with `opts`, then each of `sides` as `--also`, then
/// the testkit with `main` as the main command.
fn start(how: As, opts: &[&str], sides: &[String], main: &[&str]) -> Run {
    let kit = testkit();
    let mut args = opts.to_vec();
    for side in sides {
        args.extend(["--also", side]);
    }
    args.extend(["--", &kit]);
    args.extend(main);
    Run::start(how, &args)
}

/// Wait for the end and the rest of stderr; expect exit `code`. How long it
/// ran.
fn finish(run: &mut Run, code: i32) -> Duration {
    let (status, took) = run.finish();
    assert_eq!(
        status.code(),
        Some(code),
        "{:?}: {:#?}",
        run.how,
        run.stderr
    );
    took
}

/// Nothing read from stderr so far contains `needle`.
fn never_said(run: &Run, needle: &str) {
    let log = run.stderr();
    assert!(!log.contains(needle), "{:?}: {needle:?} in {log}", run.how);
}

/// Send `sig` to preflight: each of `pids` (testkit `signals`) reports it
/// once, on stdout.
fn each_gets(run: &Run, pids: &[i32], sig: i32) {
    run.signal(sig);
    let mut got: Vec<String> = pids.iter().map(|_| run.line()).collect();
    let mut want: Vec<String> = pids.iter().map(|p| format!("{p} {sig}")).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{:?}: signal {sig}", run.how);
}

#[test]
fn a_side_program_that_crashes_twice_is_restarted_with_growing_delays() {
    for how in both() {
        let dir = TempDir::new();
        let count = dir.join("runs");
        let side = also("flaky", &format!("crash-times '{}' 2", count.display()));
        let mut run = start(how, &[], &[side], &["wait-stdin"]);
        run.ready(); // the main command (or the side program, see below)
        let first = run.expect("side program 'flaky' exited with status 1; restart 1 of 5 in 1s");
        let second = run.expect("side program 'flaky' exited with status 1; restart 2 of 5 in 2s");
        assert!(!first.is_empty() && !second.is_empty());
        run.expect("restarting side program 'flaky'");
        // Now it stays up: its `ready` comes (after the main one's).
        run.ready();
        assert_eq!(std::fs::read_to_string(&count).unwrap(), "3", "{how:?}");
        run.close_stdin();
        finish(&mut run, 0); // the main command's status
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
    for how in both() {
        let side = also("broken", "exit 3");
        let main = ["flush-on-term", "/dev/null"];
        let mut run = start(how, &["--max-restarts", "2"], &[side], &main);
        run.ready();
        finish(&mut run, 3);
        let log = run.stderr();
        assert!(log.contains("restart 2 of 2"), "{how:?}: {log}");
        assert!(
            log.contains(
                "side program 'broken' exited with status 3 and failed for good after 2 restarts"
            ),
            "{how:?}: {log}"
        );
        never_said(&run, "restart 3");
    }
}

#[test]
fn a_one_shot_with_restart_no_is_done_and_the_rest_runs_on() {
    for how in both() {
        let once = also("once", "exit 0");
        let mut run = start(how, &["--restart", "no"], &[once], &["wait-stdin"]);
        run.ready();
        run.expect("side program 'once' exited with status 0: done");
        assert!(run.running(), "{how:?}: the main command goes on");
        run.close_stdin();
        finish(&mut run, 0);
        never_said(&run, "restart");
        // The main command ended when its stdin closed, not by a stop.
        never_said(&run, "stopping everything");
        // A one-shot that fails stops everything with its status.
        let fails = also("once", "exit 4");
        let mut run = start(how, &["--restart", "no"], &[fails], &["wait-stdin"]);
        assert_eq!(run.code(), 4, "{how:?}");
    }
}

#[test]
fn when_the_main_command_exits_side_programs_get_term_and_time_to_flush() {
    for how in both() {
        let dir = TempDir::new();
        let flushed = dir.join("flushed");
        let side = also("worker", &format!("flush-on-term '{}'", flushed.display()));
        let mut run = start(how, &["--grace", "30s"], &[side], &["wait-stdin"]);
        run.ready();
        run.ready();
        run.close_stdin();
        let took = finish(&mut run, 0);
        assert_eq!(
            std::fs::read_to_string(&flushed).unwrap(),
            "flushed\n",
            "{how:?}"
        );
        assert!(
            took < Duration::from_secs(30),
            "{how:?}: not the whole grace"
        );
        never_said(&run, "sending KILL");
    }
}

#[test]
fn term_reaches_every_program_once_and_preflight_exits_with_the_mains_status() {
    for how in both() {
        let sides = [also("a", "signals"), also("b", "signals")];
        let run = start(how, &[], &sides, &["signals"]);
        let pids = [run.ready(), run.ready(), run.ready()];
        each_gets(&run, &pids, libc::SIGUSR1);
        // `signals` records TERM and lives on: each got it once, then
        // --grace (3 s) passed and they were KILLed.
        each_gets(&run, &pids, libc::SIGTERM);
        run.kill_tree();
    }
}

#[test]
fn a_side_program_that_ignores_term_is_killed_after_the_grace_period() {
    for how in both() {
        let stubborn = also("stubborn", "ignore-term");
        let main = ["flush-on-term", "/dev/null"];
        let mut run = start(how, &["--grace", "300ms"], &[stubborn], &main);
        let (x, y) = (run.ready(), run.ready());
        run.signal(libc::SIGTERM);
        finish(&mut run, 0); // the main command's status
        let kills = run.kill_lines();
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
    for how in both() {
        let side = also("side", "write-lines");
        let opts = ["--log-prefix", "--restart", "no"];
        let mut run = start(how, &opts, &[side], &["wait-stdin"]);
        // The main command's NAME is its program's base name.
        let ready = run.line();
        assert!(
            ready.starts_with("preflight-testkit | ready "),
            "{how:?}: {ready}"
        );
        run.expect("side program 'side' exited with status 0: done");
        run.close_stdin();
        finish(&mut run, 0);
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
    for how in both() {
        let dir = TempDir::new();
        let log = dir.join("app.log");
        let later = dir.join("later.log");
        std::fs::write(&log, "old, not shown\n").unwrap();
        let tails = [
            "--tail",
            log.to_str().unwrap(),
            "--tail",
            later.to_str().unwrap(),
        ];
        let mut run = start(how, &tails, &[], &["wait-stdin"]);
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
        append(&later, "five, from a new file\n");
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
        let procfile = procfile.to_str().unwrap();
        let mut run = Run::start(how, &["--procfile", procfile]);
        let pids = [run.ready(), run.ready()];
        run.expect("side program 'web' started");
        // No main command: the first to end for good ends it all.
        let oneshot = also("oneshot", "exit 5");
        let args = [
            "--procfile",
            procfile,
            "--also",
            &oneshot,
            "--restart",
            "no",
        ];
        let mut run2 = Run::start(how, &args);
        assert_eq!(run2.code(), 5, "{how:?}");
        each_gets(&run, &pids, libc::SIGTERM);
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
        let err = expect_one_line(2, preflight().args(args));
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
    for how in both() {
        let sides = [also("a", "wait-stdin"), also("b", "wait-stdin")];
        let run = start(how, &[], &sides, &["wait-stdin"]);
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

#[test]
fn pdeathsig_reaches_every_program_when_preflight_itself_dies() {
    // Not PID 1: each program gets --pdeathsig set for itself, so a
    // preflight killed outright still tells them all.
    let run = start(
        As::Plain,
        &["--pdeathsig", "USR1"],
        &[also("side", "signals")],
        &["signals"],
    );
    let pids = [run.ready(), run.ready()];
    crate::support::process::kill(run.preflight_pid(), libc::SIGKILL);
    let mut got = [run.line(), run.line()];
    for pid in pids {
        crate::support::process::kill_tree(pid);
    }
    let mut want = pids.map(|p| format!("{p} {}", libc::SIGUSR1));
    want.sort();
    got.sort();
    assert_eq!(got, want, "each program's own parent-death signal");
}

#[test]
fn with_no_main_command_the_first_program_to_end_after_term_gives_the_exit_status() {
    for how in both() {
        let dir = TempDir::new();
        let (fast, slow) = (dir.join("fast"), dir.join("slow"));
        let procfile = dir.join("Procfile");
        // 'fast' ends at once on TERM with 3; 'slow' takes a moment, then 0.
        // Each says it is ready once its trap is set.
        std::fs::write(
            &procfile,
            format!(
                "fast: sh -c 'trap \"exit 3\" TERM; : > {}; while :; do sleep 0.02; done'\n\
                 slow: sh -c 'trap \"sleep 0.5; exit 0\" TERM; : > {}; while :; do sleep 0.02; done'\n",
                fast.display(),
                slow.display()
            ),
        )
        .unwrap();
        let mut run = Run::start(how, &["--procfile", procfile.to_str().unwrap()]);
        let started = std::time::Instant::now();
        while !(fast.exists() && slow.exists()) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{how:?}: never ready"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        run.signal(libc::SIGTERM);
        finish(&mut run, 3);
    }
}

#[test]
fn the_grace_periods_kill_spares_a_main_command_still_finishing() {
    // The main command takes 1 s to finish after TERM, longer than the
    // grace period: the side program that survives TERM (a process and its
    // child, both recording signals) gets the KILL, its whole group at once;
    // the main command is not preflight's to KILL (only --kill-after
    // would), as PID 1 too, and preflight waits for it and exits with its
    // status.
    for how in both() {
        let stubborn = also("stubborn", "signals --children 1");
        let main = "trap 'sleep 1; exit 0' TERM; echo main $$; while :; do sleep 0.05; done";
        let args = [
            "--grace", "300ms", "--also", &stubborn, "--", "sh", "-c", main,
        ];
        let mut run = Run::start(how, &args);
        // `ready PID` from the stubborn two, `main PID` from the main command.
        let lines = [run.line(), run.line(), run.line()];
        let side: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("ready "))
            .collect();
        assert_eq!(side.len(), 2, "{how:?}: {lines:?}");
        run.signal(libc::SIGTERM);
        let took = finish(&mut run, 0);
        assert!(took >= Duration::from_millis(900), "{how:?}: {took:?}");
        let kills = run.kill_lines();
        assert_eq!(kills.len(), 1, "{how:?}: {:#?}", run.stderr);
        for pid in &side {
            let named = format!("{pid} (preflight-testk");
            assert!(kills[0].contains(&named), "{how:?}: {pid} in {kills:?}");
        }
    }
}

#[test]
fn during_the_stop_a_signal_reaches_the_leftovers_of_ended_programs_once() {
    // 'left' is a one-shot that leaves a child behind (re-parented to
    // preflight, as PID 1 or as subreaper) and ends cleanly. While running,
    // a signal goes to the running programs only; once TERM began the stop,
    // to what is left of ended programs too, once each.
    for how in both() {
        let kit = testkit();
        let left = format!("left: '{kit}' detach '{kit}' signals");
        let mut run = start(how, &["--restart", "no"], &[left], &["signals"]);
        let pids = [run.ready(), run.ready()];
        run.expect("side program 'left' exited with status 0: done");
        run.signal(libc::SIGUSR1);
        let line = run.line();
        let main = pids
            .into_iter()
            .find(|p| line == format!("{p} {}", libc::SIGUSR1))
            .unwrap_or_else(|| panic!("{how:?}: {line:?} from neither of {pids:?}"));
        each_gets(&run, &[main], libc::SIGTERM);
        each_gets(&run, &pids, libc::SIGUSR2);
        run.kill_tree();
        let rest = run.rest();
        assert!(rest.is_empty(), "{how:?}: more signals than sent: {rest:?}");
    }
}

#[test]
fn term_while_the_only_program_waits_to_restart_ends_at_once_with_143() {
    // No main command; the one program crashed and waits 1 s to start
    // again. TERM then stops the restart, and preflight exits as TERM says.
    for how in both() {
        let crash = also("crash", "exit 1");
        let mut run = Run::start(how, &["--also", &crash]);
        run.expect("restart 1 of 5 in 1s");
        let term = std::time::Instant::now();
        run.signal(libc::SIGTERM);
        finish(&mut run, 143);
        never_said(&run, "restarting side program");
        // Not after --grace (3 s): nothing was left to wait for.
        let took = term.elapsed();
        assert!(took < Duration::from_secs(2), "{how:?}: {took:?}");
    }
}

#[test]
fn kill_after_kills_a_main_command_that_outlives_term_and_not_before() {
    // The side program ends on TERM at once (a wake-up of the supervisor
    // well before the deadline); the main command ignores TERM and is
    // KILLed --kill-after later, which is its status.
    for how in both() {
        let side = also("side", "wait-stdin");
        let opts = ["--kill-after", "400ms", "--grace", "10s"];
        let mut run = start(how, &opts, &[side], &["ignore-term"]);
        let _ = (run.ready(), run.ready());
        let term = std::time::Instant::now();
        run.signal(libc::SIGTERM);
        finish(&mut run, 128 + libc::SIGKILL);
        let took = term.elapsed();
        assert!(took >= Duration::from_millis(400), "{how:?}: {took:?}");
        assert!(took < Duration::from_secs(5), "{how:?}: {took:?}");
    }
}

#[test]
fn the_grace_periods_kill_reaches_a_term_proof_leftover_once_the_main_command_ended() {
    // 'left' leaves behind a child that survives TERM, then ends cleanly.
    // When the main command ends, the leftover gets TERM, and after --grace
    // the KILL (its group's; as PID 1, every process's): nothing stays.
    let kit = testkit();
    for how in both() {
        let left = format!("left: '{kit}' detach '{kit}' signals");
        let opts = ["--restart", "no", "--grace", "1s"];
        let mut run = start(how, &opts, &[left], &["wait-stdin"]);
        let pids = [run.ready(), run.ready()];
        run.expect("side program 'left' exited with status 0: done");
        run.close_stdin();
        finish(&mut run, 0);
        let kills = run.kill_lines();
        assert_eq!(kills.len(), 1, "{how:?}: {:#?}", run.stderr);
        let named = |p: &i32| kills[0].contains(&format!("{p} (preflight-testk"));
        assert!(pids.iter().any(named), "{how:?}: {pids:?} in {kills:?}");
        never_said(&run, "still left after KILL");
    }
}

/// Side program 'big', which ignores TERM and holds `mib` MiB: once KILLed,
/// its end takes tens of milliseconds (the kernel frees its memory). Run
/// `how` beside a main command that ends at once, with `--grace grace`,
/// to the end (exit 0, the main command's status). None without python3.
fn stop_slow_to_die(how: As, grace: &str, mib: u32) -> Option<Run> {
    let python = std::process::Command::new("python3").arg("-V").output();
    if python.is_err() {
        crate::support::skip("no python3 here");
        return None;
    }
    let big = format!(
        "big: python3 -c \"import os, signal, time; \
         signal.signal(signal.SIGTERM, signal.SIG_IGN); b = b'x' * ({mib} << 20); \
         print('ready', os.getpid(), flush=True); time.sleep(3600)\""
    );
    let mut run = start(how, &["--grace", grace], &[big], &["wait-stdin"]);
    let _ = (run.ready(), run.ready());
    run.close_stdin();
    finish(&mut run, 0);
    Some(run)
}

#[test]
fn after_the_kill_preflight_waits_for_a_program_that_takes_a_while_to_die() {
    // preflight waits for it, as PID 1 too, says how it ended, and has
    // nothing to say about processes left after the KILL.
    for how in both() {
        let Some(run) = stop_slow_to_die(how, "1s", 200) else {
            return;
        };
        let said = run
            .stderr()
            .contains("side program 'big' killed by SIGKILL");
        assert!(said, "{how:?}: {:#?}", run.stderr);
        never_said(&run, "still left after KILL");
    }
}

#[test]
fn what_outlives_the_kill_by_another_grace_period_is_left_and_preflight_exits() {
    // With a grace period of 5 ms, its end after the KILL takes longer than
    // that (as one stuck in the kernel would), and preflight does not wait
    // for it forever: one more grace period, a warning, and the main
    // command's status.
    for how in both() {
        let Some(run) = stop_slow_to_die(how, "5ms", 600) else {
            return;
        };
        let said = run
            .stderr()
            .contains("processes still left after KILL; leaving them");
        assert!(said, "{how:?}: {:#?}", run.stderr);
    }
}

#[test]
fn a_main_command_that_cannot_start_ends_everything_at_once_with_127() {
    // The main command is started first: when it cannot be, no side program
    // starts either, and preflight exits at once (no grace period to wait
    // out: nothing runs), as a shell would, with 127.
    for how in both() {
        let side = also("side", "signals");
        let args = [
            "--grace",
            "3s",
            "--also",
            &side,
            "--",
            "/nonexistent/command",
        ];
        let mut run = Run::start(how, &args);
        let took = finish(&mut run, 127);
        assert!(took < Duration::from_secs(3), "{how:?}: {took:?}");
        never_said(&run, "side program 'side' started");
        never_said(&run, "still left after KILL");
    }
}

#[test]
fn out_of_descriptors_a_main_command_that_cannot_start_ends_everything_at_once() {
    // `ulimit -n 4`: no room for the pipe std starts a child with, so the
    // main command cannot start (126) and no child ever exists to say so
    // with a SIGCHLD; `-n 3` leaves no room for the signalfd either, and
    // preflight supervises without it. Either way it exits at once: no
    // grace period to wait out, nothing said about leftovers.
    for limit in [4, 3] {
        let script = format!("ulimit -n {limit} && exec \"$0\" \"$@\"");
        let mut sh = std::process::Command::new("sh");
        sh.args(["-c", &script])
            .arg(crate::support::bin())
            .args(["--grace", "3s", "--also", &also("side", "signals")])
            .args(["--", &testkit(), "exit", "0"]);
        let started = std::time::Instant::now();
        let out = sh.bounded_output();
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(126), "-n {limit}: {err}");
        // EMFILE, in glibc's words or musl's ("No file descriptors available").
        assert!(err.contains("cannot run"), "-n {limit}: {err}");
        assert!(!err.contains("still left after KILL"), "-n {limit}: {err}");
        assert!(took < Duration::from_secs(3), "-n {limit}: {took:?}");
    }
}
