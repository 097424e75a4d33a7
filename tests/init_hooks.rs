//! `init::run` with `Role::Hook` (driven through the testkit's `hook`
//! subcommand until the hooks phase calls it): a hook's leftovers live on,
//! a timeout stops its group, a forwarded TERM is reported.

use std::time::{Duration, Instant};

use crate::init_harness::{Run, alive, testkit};

/// Run the testkit's `hook` driver (itself in the place of preflight).
fn hook(args: &[&str]) -> Run {
    let child = std::process::Command::new(testkit())
        .arg("hook")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    Run::from_child(crate::init_harness::As::Plain, child)
}

#[test]
fn a_hooks_leftovers_live_on_after_it_exits() {
    let kit = testkit();
    let mut run = hook(&["--", &kit, "background", &kit, "wait-stdin"]);
    let worker = run.ready();
    assert_eq!(run.line(), "ended code=0 timed_out=false terminating=-");
    assert!(alive(worker), "a hook's helper must not be killed");
    run.close_stdin();
    assert!(run.wait().success());
    crate::init_harness::kill(worker, libc::SIGKILL);
}

#[test]
fn a_hook_past_its_timeout_gets_term_then_kill() {
    let kit = testkit();
    let started = Instant::now();
    let run = hook(&[
        "--timeout",
        "100ms",
        "--grace",
        "100ms",
        "--",
        &kit,
        "ignore-term",
    ]);
    run.ready();
    assert_eq!(run.line(), "ended code=137 timed_out=true terminating=-");
    assert!(started.elapsed() < Duration::from_secs(10));

    let run = hook(&["--timeout", "100ms", "--", &kit, "wait-stdin"]);
    run.ready();
    assert_eq!(run.line(), "ended code=143 timed_out=true terminating=-");
}

#[test]
fn a_term_forwarded_to_a_hook_is_reported() {
    let kit = testkit();
    let run = hook(&["--", &kit, "flush-on-term", "/dev/null"]);
    run.ready();
    run.signal(libc::SIGTERM);
    assert_eq!(
        run.line(),
        format!("ended code=0 timed_out=false terminating={}", libc::SIGTERM)
    );
}
