//! A hook runs under the init core like the command (`Role::Hook`): its
//! leftovers live on after it exits, a timeout stops it with TERM then KILL,
//! a TERM sent to preflight reaches it and is reported.

use crate::support::process::{alive, kill};
use crate::support::{As, Run, TempDir, testkit};

#[test]
fn a_hooks_leftovers_live_on_after_it_exits() {
    let kit = testkit();
    let hook = format!("{kit} background {kit} wait-stdin");
    let mut run = Run::start(As::Plain, &["--hook", &hook, "--", &kit, "wait-stdin"]);
    let worker = run.ready();
    run.expect("done in");
    // The command started after the hook ended, and the worker still runs.
    run.ready();
    assert!(alive(worker), "a hook's helper must not be killed");
    run.close_stdin();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    if alive(worker) {
        kill(worker, libc::SIGKILL);
    }
}

#[test]
fn a_hook_past_its_timeout_gets_term_first() {
    let kit = testkit();
    let dir = TempDir::new();
    let file = dir.join("flushed");
    let hook = format!("{kit} flush-on-term {}", file.display());
    let mut run = Run::start(
        As::Plain,
        &["--hook-timeout", "100ms", "--hook", &hook, "--", "true"],
    );
    let worker = run.ready();
    assert_eq!(run.code(), 124, "{}", run.stderr());
    // The helper outlives the hook (a hook's leftovers live on): it got
    // the TERM if it flushes and ends.
    let ended = crate::support::process::gone_within(worker, crate::support::run::PATIENCE);
    if !ended {
        kill(worker, libc::SIGKILL);
    }
    assert!(ended, "the hook's helper never got TERM");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "flushed\n");
}

#[test]
fn a_hook_that_ignores_term_past_its_timeout_gets_kill_after_the_grace() {
    let kit = testkit();
    let hook = format!("{kit} ignore-term");
    let mut run = Run::start(
        As::Plain,
        &[
            "--hook-timeout",
            "100ms",
            "--grace",
            "100ms",
            "--hook",
            &hook,
            "--",
            "true",
        ],
    );
    let hook_pid = run.ready();
    // Without the KILL it would run on, and so would preflight.
    assert_eq!(run.code(), 124, "{}", run.stderr());
    assert!(!alive(hook_pid), "the hook must be gone");
}

#[test]
fn a_term_forwarded_to_a_hook_is_reported() {
    let kit = testkit();
    let dir = TempDir::new();
    let file = dir.join("flushed");
    let hook = format!("{kit} flush-on-term {}", file.display());
    let mut run = Run::start(As::Plain, &["--hook", &hook, "--", "true"]);
    run.ready();
    run.signal(libc::SIGTERM);
    assert_eq!(run.code(), 128 + libc::SIGTERM, "{}", run.stderr());
    run.expect("stopped by SIGTERM: nothing else starts");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "flushed\n");
}

#[test]
fn a_signal_during_a_hook_reaches_the_hook_alone() {
    // Through the real CLI: the same rule as for the command.
    let kit = testkit();
    let hook = format!("'{kit}' signals --children 1");
    for how in crate::support::both() {
        let run = Run::start(how, &["--hook", &hook, "--", "true"]);
        let (a, b) = (run.ready(), run.ready());
        run.signal(libc::SIGUSR1);
        assert_eq!(
            run.line(),
            format!("{} {}", a.min(b), libc::SIGUSR1),
            "{how:?}"
        );
        run.kill_tree();
        // (The hook may record the SIGCHLD of its child being killed.)
        let rest: Vec<String> = run
            .rest()
            .into_iter()
            .filter(|l| !l.ends_with(&format!(" {}", libc::SIGCHLD)))
            .collect();
        assert_eq!(rest, Vec::<String>::new(), "{how:?}: only the hook");
    }
}

#[test]
fn a_timed_out_hook_gets_term_as_a_whole_group() {
    // The hook's own helper (same group) must get the TERM too, and time
    // to flush, not only the hook's first process.
    let kit = testkit();
    let dir = TempDir::new();
    let file = dir.join("flushed");
    let hook = format!("sh -c '{kit} flush-on-term {} & wait'", file.display());
    let mut run = Run::start(
        As::Plain,
        &[
            "--hook-timeout",
            "300ms",
            "--grace",
            "30s",
            "--hook",
            &hook,
            "--",
            "true",
        ],
    );
    let worker = run.ready();
    assert_eq!(run.code(), 124, "{}", run.stderr());
    // The helper outlives the hook (a hook's leftovers live on): it got
    // the TERM if it flushes and ends.
    let ended = crate::support::process::gone_within(worker, crate::support::run::PATIENCE);
    if !ended {
        kill(worker, libc::SIGKILL);
    }
    assert!(ended, "the hook's helper never got TERM");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "flushed\n");
}

#[test]
fn a_timed_out_hook_that_ignores_term_loses_its_whole_group_to_kill() {
    // Hook and helper both ignore TERM: after the grace period KILL must
    // reach the helper too, not only the hook's first process.
    let kit = testkit();
    let hook = format!("sh -c 'trap \"\" TERM; {kit} ignore-term & wait'");
    let mut run = Run::start(
        As::Plain,
        &[
            "--hook-timeout",
            "200ms",
            "--grace",
            "200ms",
            "--hook",
            &hook,
            "--",
            "true",
        ],
    );
    let helper = run.ready();
    assert_eq!(run.code(), 124, "{}", run.stderr());
    let gone = crate::support::process::gone_within(helper, std::time::Duration::from_secs(10));
    if !gone {
        kill(helper, libc::SIGKILL);
    }
    assert!(gone, "the hook's helper {helper} survived the KILL");
}
