//! The scheduler against fake probes, on tokio's paused clock: time only moves
//! when every task sleeps, so the instants asserted here are exact.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;

/// What a fake target answers to one try.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Ready,
    Refused,
    Unresolved,
    NotReady,
    /// Accepts and never speaks: the try hangs until its deadline.
    Silent,
    Fatal,
    Panic,
}

type Attempt = Pin<Box<dyn Future<Output = Result<(), ProbeError>>>>;

/// One fake target: every fake has this one type, so a test mixes them.
type Fake = Box<dyn Fn() -> Attempt>;

/// When each try started, measured from the fake's creation.
type Log = Rc<RefCell<Vec<Duration>>>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A fake target: `script` says what a try at time `t` answers.
fn fake(log: &Log, script: impl Fn(Duration) -> Answer + 'static) -> Fake {
    let t0 = Instant::now();
    let log = log.clone();
    Box::new(move || {
        let at = t0.elapsed();
        log.borrow_mut().push(at);
        let answer = script(at);
        Box::pin(async move {
            match answer {
                Answer::Ready => Ok(()),
                Answer::Refused => {
                    Err(ProbeError::Connect(io::ErrorKind::ConnectionRefused.into()))
                }
                Answer::Unresolved => Err(ProbeError::NameNotResolved {
                    host: "db".into(),
                    detail: "Name or service not known".into(),
                }),
                Answer::NotReady => Err(ProbeError::NotReady(
                    "the database system is starting up".into(),
                )),
                Answer::Silent => std::future::pending().await,
                Answer::Fatal => Err(ProbeError::Fatal("password authentication failed".into())),
                Answer::Panic => panic!("a probe with a bug"),
            }
        })
    })
}

/// Ready from `at` on, refused before.
fn up_at(log: &Log, at: Duration) -> Fake {
    fake(log, move |t| {
        if t >= at {
            Answer::Ready
        } else {
            Answer::Refused
        }
    })
}

fn always(log: &Log, answer: Answer) -> Fake {
    fake(log, move |_| answer)
}

fn entry<F>(name: &str, timeout: Option<Duration>, attempt: F) -> Entry<F> {
    Entry {
        name: name.into(),
        timeout,
        attempt,
    }
}

/// No jitter, so the schedule is the table in `Backoff`'s doc.
fn schedule(on_timeout: OnTimeout) -> Schedule {
    Schedule {
        backoff: Backoff {
            jitter: 0.0,
            ..Backoff::DEFAULT
        },
        try_timeout: secs(2),
        on_timeout,
        progress_every: secs(5),
        seed: 1,
    }
}

fn never() -> impl Future<Output = i32> {
    std::future::pending()
}

fn log() -> Log {
    Log::default()
}

/// Run boxed fakes (they all share one type) and say when it ended.
async fn run_timed(entries: Vec<Entry<Fake>>, on_timeout: OnTimeout) -> (WaitOutcome, Duration) {
    let start = Instant::now();
    let outcome = run(entries, &schedule(on_timeout), never()).await;
    (outcome, start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn targets_that_are_up_are_tried_once_and_ready_at_once() {
    let (a, b) = (log(), log());
    let (outcome, took) = run_timed(
        vec![
            entry("a", Some(secs(60)), always(&a, Answer::Ready)),
            entry("b", Some(secs(60)), always(&b, Answer::Ready)),
        ],
        OnTimeout::Fail,
    )
    .await;
    assert_eq!(outcome, WaitOutcome::Ready);
    assert_eq!(took, Duration::ZERO);
    assert_eq!((a.borrow().len(), b.borrow().len()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_closed_port_is_retried_on_the_documented_schedule() {
    let tries = log();
    let (outcome, _) = run_timed(
        vec![entry("a", Some(secs(60)), up_at(&tries, ms(600)))],
        OnTimeout::Fail,
    )
    .await;
    assert_eq!(outcome, WaitOutcome::Ready);
    // Delays 10, 20, 40, then 80 ms for ever (the cheap cap).
    let want = [0, 10, 30, 70, 150, 230, 310, 390, 470, 550, 630].map(ms);
    assert_eq!(*tries.borrow(), want);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_says_not_yet_is_tried_at_most_four_times_a_second() {
    let tries = log();
    let (outcome, took) = run_timed(
        vec![entry("a", Some(secs(10)), always(&tries, Answer::NotReady))],
        OnTimeout::Fail,
    )
    .await;
    assert!(matches!(outcome, WaitOutcome::TimedOut(_)));
    assert_eq!(took, secs(10));
    // 0, 10, 30, 70, 150, 310, then every 250 ms up to 9.81 s.
    let t = tries.borrow();
    assert_eq!(t[..7], [0, 10, 30, 70, 150, 310, 560].map(ms));
    assert_eq!(t.len(), 6 + 38);
    assert!(t.windows(2).all(|w| w[1] - w[0] <= ms(250)));
}

#[tokio::test(start_paused = true)]
async fn each_target_goes_on_its_own_schedule_and_all_must_be_ready() {
    let (fast, slow) = (log(), log());
    let start = Instant::now();
    let (outcome, took) = run_timed(
        vec![
            entry("fast", Some(secs(60)), always(&fast, Answer::Ready)),
            entry("slow", Some(secs(60)), up_at(&slow, ms(2500))),
        ],
        OnTimeout::Fail,
    )
    .await;
    assert_eq!(outcome, WaitOutcome::Ready);
    assert_eq!(fast.borrow().len(), 1, "a ready target is not tried again");
    let noticed = *slow.borrow().last().unwrap();
    assert!(noticed >= ms(2500) && noticed <= ms(2600), "{noticed:?}");
    assert_eq!(took, start.elapsed());
    assert_eq!(took, noticed);
}

#[tokio::test(start_paused = true)]
async fn a_dependency_that_comes_up_is_noticed_within_the_cap_wherever_it_falls() {
    // With jitter, from many start phases: never more than 80 ms late.
    for k in 0..50u64 {
        let up = ms(2000 + k * 37);
        let tries = log();
        let s = Schedule {
            backoff: Backoff::DEFAULT,
            seed: k,
            ..schedule(OnTimeout::Fail)
        };
        let start = Instant::now();
        let outcome = run(
            vec![entry("a", Some(secs(60)), up_at(&tries, up))],
            &s,
            never(),
        )
        .await;
        assert_eq!(outcome, WaitOutcome::Ready);
        let late = start.elapsed() - up;
        assert!(late <= ms(80), "up at {up:?}, noticed {late:?} late");
    }
}

#[tokio::test(start_paused = true)]
async fn the_timeout_cuts_a_try_in_flight() {
    let tries = log();
    let (outcome, took) = run_timed(
        vec![entry(
            "blackhole:1",
            Some(secs(3)),
            always(&tries, Answer::Silent),
        )],
        OnTimeout::Fail,
    )
    .await;
    // First try ends at 2 s (its own deadline), the second is cut at 3 s.
    assert_eq!(took, secs(3));
    assert_eq!(*tries.borrow(), [ms(0), ms(2010)]);
    assert_eq!(
        outcome,
        WaitOutcome::TimedOut(vec![(
            "blackhole:1".into(),
            "no answer within 2s (--try-timeout)".into()
        )])
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_shorter_than_one_try_still_ends_on_time() {
    let tries = log();
    let (outcome, took) = run_timed(
        vec![entry(
            "silent:1",
            Some(ms(500)),
            always(&tries, Answer::Silent),
        )],
        OnTimeout::Fail,
    )
    .await;
    assert_eq!(took, ms(500));
    assert_eq!(
        outcome,
        WaitOutcome::TimedOut(vec![(
            "silent:1".into(),
            "no answer before the timeout".into()
        )])
    );
}

#[tokio::test(start_paused = true)]
async fn a_hung_try_ends_at_the_try_timeout_and_the_next_one_can_succeed() {
    let tries = log();
    let (outcome, took) = run_timed(
        vec![entry(
            "a",
            Some(secs(60)),
            fake(&tries, |t| {
                if t.is_zero() {
                    Answer::Silent
                } else {
                    Answer::Ready
                }
            }),
        )],
        OnTimeout::Fail,
    )
    .await;
    assert_eq!(outcome, WaitOutcome::Ready);
    assert_eq!(took, ms(2010));
}

#[tokio::test(start_paused = true)]
async fn the_summary_keeps_the_last_real_reason_of_each_unready_target() {
    let (up, refused, dns, starting) = (log(), log(), log(), log());
    let (outcome, took) = run_timed(
        vec![
            entry("up:1", Some(secs(3)), always(&up, Answer::Ready)),
            entry("closed:2", Some(secs(3)), always(&refused, Answer::Refused)),
            entry(
                "db.invalid:3",
                Some(secs(3)),
                always(&dns, Answer::Unresolved),
            ),
            entry(
                "pg:5432",
                Some(secs(3)),
                always(&starting, Answer::NotReady),
            ),
        ],
        OnTimeout::Fail,
    )
    .await;
    assert_eq!(took, secs(3));
    let WaitOutcome::TimedOut(pending) = outcome else {
        panic!("{outcome:?}")
    };
    let names: Vec<&str> = pending.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["closed:2", "db.invalid:3", "pg:5432"]);
    assert_eq!(pending[0].1, "connect: connection refused");
    assert!(
        pending[1].1.contains("does not resolve"),
        "{}",
        pending[1].1
    );
    assert!(pending[2].1.contains("starting up"), "{}", pending[2].1);
}

#[tokio::test(start_paused = true)]
async fn a_failure_for_good_ends_the_wait_at_once() {
    let (bad, other) = (log(), log());
    let (outcome, took) = run_timed(
        vec![
            entry("other:1", Some(secs(60)), always(&other, Answer::Silent)),
            entry(
                "pg://app:***@db",
                Some(secs(60)),
                always(&bad, Answer::Fatal),
            ),
        ],
        OnTimeout::Continue,
    )
    .await;
    assert_eq!(took, Duration::ZERO);
    assert_eq!(bad.borrow().len(), 1, "no retry after a fatal answer");
    assert_eq!(
        outcome,
        WaitOutcome::Failed {
            target: "pg://app:***@db".into(),
            reason: "password authentication failed".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_ends_the_wait_at_once() {
    let tries = log();
    let start = Instant::now();
    let outcome = run(
        vec![entry("a", None, always(&tries, Answer::Silent))],
        &schedule(OnTimeout::Fail),
        async {
            tokio::time::sleep(ms(1234)).await;
            15
        },
    )
    .await;
    assert_eq!(outcome, WaitOutcome::Interrupted(15));
    assert_eq!(start.elapsed(), ms(1234));
}

#[tokio::test(start_paused = true)]
async fn a_per_target_timeout_ends_the_wait_when_failing() {
    let (short, long) = (log(), log());
    let (outcome, took) = run_timed(
        vec![
            entry("short:1", Some(secs(1)), always(&short, Answer::Refused)),
            entry("long:2", Some(secs(60)), up_at(&long, secs(5))),
        ],
        OnTimeout::Fail,
    )
    .await;
    assert_eq!(took, secs(1));
    let WaitOutcome::TimedOut(pending) = outcome else {
        panic!("{outcome:?}")
    };
    // Every target not ready is named, not only the one whose time ran out.
    assert_eq!(pending.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn with_continue_the_others_are_still_waited_for() {
    let (short, long) = (log(), log());
    let (outcome, took) = run_timed(
        vec![
            entry("short:1", Some(secs(1)), always(&short, Answer::Refused)),
            entry("long:2", Some(secs(60)), up_at(&long, secs(5))),
        ],
        OnTimeout::Continue,
    )
    .await;
    assert!(took >= secs(5) && took <= ms(5100), "{took:?}");
    assert_eq!(
        outcome,
        WaitOutcome::TimedOut(vec![(
            "short:1".into(),
            "connect: connection refused".into()
        )])
    );
}

#[tokio::test(start_paused = true)]
async fn no_timeout_waits_for_ever() {
    let tries = log();
    let (outcome, took) = run_timed(
        vec![
            entry("a", None, up_at(&tries, secs(3600))),
            entry("b", Some(Duration::ZERO), up_at(&tries, secs(10))),
        ],
        OnTimeout::Fail,
    )
    .await;
    assert_eq!(outcome, WaitOutcome::Ready);
    assert!(took >= secs(3600), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_panics_fails_the_wait_instead_of_hanging_it() {
    let tries = log();
    let (outcome, _) = run_timed(
        vec![entry("a", None, always(&tries, Answer::Panic))],
        OnTimeout::Fail,
    )
    .await;
    assert!(matches!(outcome, WaitOutcome::Failed { .. }), "{outcome:?}");
}

#[tokio::test(start_paused = true)]
async fn nothing_to_wait_for_is_ready() {
    let entries: Vec<Entry<Fake>> = Vec::new();
    assert_eq!(
        run_timed(entries, OnTimeout::Fail).await.0,
        WaitOutcome::Ready
    );
}

#[test]
fn only_nothing_listening_is_cheap() {
    let refused = ProbeError::Connect(io::ErrorKind::ConnectionRefused.into());
    assert_eq!(pace_of(&refused), Pace::Cheap);
    let reset = ProbeError::Connect(io::ErrorKind::ConnectionReset.into());
    assert_eq!(pace_of(&reset), Pace::Costly);
    assert_eq!(pace_of(&ProbeError::Timeout), Pace::Costly);
    let dns = ProbeError::NameNotResolved {
        host: "db".into(),
        detail: "x".into(),
    };
    assert_eq!(pace_of(&dns), Pace::Costly);
}

#[test]
fn the_first_line_names_up_to_eight_targets_and_the_timeout() {
    let with = |n: usize, timeouts: &dyn Fn(usize) -> Option<Duration>| {
        let entries: Vec<Entry<()>> = (0..n)
            .map(|i| entry(&format!("t{i}"), timeouts(i), ()))
            .collect();
        announce(&entries)
    };
    assert_eq!(with(1, &|_| Some(secs(60))), "waiting for t0 (timeout 1m)");
    assert_eq!(
        with(8, &|_| Some(secs(60))),
        "waiting for t0, t1, t2, t3, t4, t5, t6, t7 (timeout 1m)"
    );
    assert_eq!(
        with(9, &|_| Some(secs(60))),
        "waiting for 9 targets (timeout 1m)"
    );
    // No timeout, and a zero one, are the same: none.
    assert_eq!(with(2, &|_| None), "waiting for t0, t1 (no timeout)");
    assert_eq!(
        with(1, &|_| Some(Duration::ZERO)),
        "waiting for t0 (no timeout)"
    );
    assert_eq!(
        with(2, &|i| Some(secs(1 + i as u64))),
        "waiting for t0, t1 (timeouts per target)"
    );
}

#[test]
fn durations_read_in_seconds_to_the_millisecond() {
    assert_eq!(seconds(ms(1234)), "1.234s");
    assert_eq!(seconds(Duration::ZERO), "0.000s");
}
