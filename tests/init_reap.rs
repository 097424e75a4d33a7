//! Reaping: orphans re-parented to preflight (as PID 1, or as a child
//! subreaper) are reaped while the command runs and after it exits.

use std::time::{Duration, Instant};

use crate::support::process::{children, ppid, state};
use crate::support::{As, Bounded, Run, both, testkit};

/// Zombies among `pid`'s children.
fn zombies(pid: i32) -> usize {
    children(pid)
        .into_iter()
        .filter(|c| state(*c) == Some('Z'))
        .count()
}

#[test]
fn a_thousand_double_forked_orphans_leave_no_zombie_within_a_second() {
    let kit = testkit();
    for how in both() {
        let mut run = Run::start(how, &["--", &kit, "orphans", "1000"]);
        run.ready();
        let preflight = run.preflight_pid();
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let (z, kids) = (zombies(preflight), children(preflight).len());
            // Only the command itself is left.
            if z == 0 && kids == 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{how:?}: {z} zombies, {kids} children after 1 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        run.close_stdin();
        assert_eq!(run.code(), 0, "{how:?}");
    }
}

#[test]
fn orphans_are_reparented_to_preflight_when_it_is_not_pid1() {
    let kit = testkit();
    // The command (a shell) outlives `background`, whose worker is orphaned
    // while the command still runs: were the command to end, the shutdown
    // would stop the worker before the test could look at its parent.
    let script = format!("{kit} background {kit} wait-stdin; exec {kit} wait-stdin");
    let mut run = Run::start(As::Plain, &["--", "sh", "-c", &script]);
    let worker = run.ready();
    let preflight = run.preflight_pid();
    let deadline = Instant::now() + Duration::from_secs(5);
    while ppid(worker) != Some(preflight) {
        assert!(
            Instant::now() < deadline,
            "worker's parent: {:?}",
            ppid(worker)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    run.ready();
    run.close_stdin();
    assert_eq!(run.code(), 0);
}

#[test]
fn no_subreaper_leaves_orphans_to_the_real_init() {
    // As in the test above, the worker is orphaned while the command runs
    // (once the second `ready` comes, `background` has exited): with
    // --no-subreaper it goes elsewhere, and so it does with --exec, where
    // the command (preflight's pid by then) must not inherit the attribute.
    let kit = testkit();
    let script = format!("{kit} background {kit} wait-stdin; exec {kit} wait-stdin");
    for flag in ["--no-subreaper", "--exec"] {
        let mut run = Run::start(As::Plain, &[flag, "--", "sh", "-c", &script]);
        let worker = run.ready();
        run.ready();
        let preflight = run.preflight_pid();
        let parent = ppid(worker);
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(worker),
            nix::sys::signal::Signal::SIGKILL,
        );
        assert!(parent.is_some(), "{flag}: the worker {worker} is gone");
        assert_ne!(parent, Some(preflight), "{flag}");
        run.close_stdin();
        assert_eq!(run.code(), 0, "{flag}");
    }
}

#[test]
fn prepared_as_pid1_it_is_pid1() {
    // Sanity for the PID 1 half of these tests: preflight is pid 1 there.
    let kit = testkit();
    for how in both() {
        if how == As::Plain {
            continue;
        }
        let out = crate::support::command(how, &["--", &kit, "ids"]).bounded_output();
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(s.contains("ppid 1 "), "{s}");
    }
}
