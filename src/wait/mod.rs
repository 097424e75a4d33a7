//! When to try: every target at once, each on its own backoff schedule, under
//! its deadline. What a try checks is [`crate::probe`]'s business; this module
//! never looks inside one, only at [`ProbeError::is_retryable`] and at whether
//! anything was listening ([`backoff::Pace`]).
//!
//! # Theory of operation
//!
//! Each target gets a task (on a [`LocalSet`], so probes need not be `Send`)
//! that loops: try, sleep per [`Backoff`], try again. Every try runs under the
//! earlier of two deadlines: its own (`--try-timeout`, covering resolve,
//! connect and the exchange) and the target's (`#timeout=` or `--timeout`).
//! The future of a try past either is dropped, which closes its socket: a peer
//! that drops SYNs or accepts and never speaks cannot stretch the wait. A
//! target is over when a try succeeds, when a try fails for good
//! ([`ProbeError::Fatal`]), or when its deadline passes.
//!
//! The tasks report to one coordinator, which owns all the output (see
//! [`run`]) and decides how waiting ends:
//!
//! - every target ready: [`WaitOutcome::Ready`];
//! - a target failed for good: [`WaitOutcome::Failed`], at once, whatever the
//!   others are doing (no amount of waiting fixes a wrong password);
//! - a target's deadline passed: with `--on-timeout fail`,
//!   [`WaitOutcome::TimedOut`] at once, listing every target not ready yet;
//!   with `continue`, the others go on until each is ready or past its own
//!   deadline, and the timed-out ones are listed;
//! - `interrupt` resolved: [`WaitOutcome::Interrupted`], at once.
//!
//! Returning drops the [`LocalSet`], and with it every try still in flight.
//! Nothing is cached between tries: each one resolves the name again.

pub mod backoff;
pub mod interrupt;
mod report;

use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::LocalSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info};

use crate::config::{OnTimeout, WaitPolicy};
use crate::probe::{Probe, ProbeError, net};
use crate::target::Target;

pub use backoff::{Backoff, Jitter, Pace};
pub use report::{TargetReport, TargetState, json_summary};

/// How often a target that is still not ready is reported at info level.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How waiting ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// Every target is ready.
    Ready,
    /// The deadline passed: each target still not ready, with its last reason.
    TimedOut(Vec<(String, String)>),
    /// A target can never be ready (non-retryable error): which, and why.
    Failed { target: String, reason: String },
    /// A terminating signal arrived (its number): nothing else is started.
    Interrupted(i32),
}

/// How waiting ended, and where each target stood.
#[derive(Debug)]
pub struct Waited {
    pub outcome: WaitOutcome,
    pub targets: Vec<TargetReport>,
    /// The whole wait.
    pub took: Duration,
}

/// Wait until every target is ready, the policy's deadline passes, or
/// `interrupt` resolves with a signal number.
pub async fn wait_all(
    targets: &[Target],
    policy: &WaitPolicy,
    interrupt: impl Future<Output = i32>,
) -> Waited {
    let entries = targets
        .iter()
        .map(|target| {
            let probe = std::rc::Rc::new(Probe::new(target));
            Entry {
                name: target.to_string(),
                timeout: target.timeout.or(policy.timeout),
                attempt: move || {
                    let probe = probe.clone();
                    async move { probe.check().await }
                },
            }
        })
        .collect();
    let schedule = Schedule {
        backoff: policy.interval.map_or(Backoff::DEFAULT, Backoff::fixed),
        try_timeout: policy.try_timeout,
        on_timeout: policy.on_timeout,
        progress_every: PROGRESS_EVERY,
        seed: Jitter::seed_from_process(),
    };
    run_reported(entries, &schedule, interrupt).await
}

/// One try of each target, all at once, each bounded by `try_timeout`:
/// where each stood after it (ready, or failed with the reason).
pub async fn check_all(targets: &[Target], try_timeout: Duration) -> Vec<TargetReport> {
    let local = LocalSet::new();
    local
        .run_until(async {
            let tries: Vec<_> = targets
                .iter()
                .map(|target| {
                    let probe = Probe::new(target);
                    tokio::task::spawn_local(async move {
                        let start = Instant::now();
                        let lookups = net::Lookups::default();
                        let result =
                            tokio::time::timeout(try_timeout, lookups.watch(probe.check()))
                                .await
                                .unwrap_or_else(|_| Err(lookups.timed_out(try_timeout)));
                        (result, start.elapsed())
                    })
                })
                .collect();
            let mut reports = Vec::with_capacity(tries.len());
            for (target, t) in targets.iter().zip(tries) {
                let (result, took) = t.await.unwrap_or_else(|e| {
                    let err = ProbeError::Io {
                        about: "probe",
                        err: std::io::Error::other(e.to_string()),
                    };
                    (Err(err), Duration::ZERO)
                });
                let (state, last) = match result {
                    Ok(()) => (TargetState::Ready, None),
                    Err(e) => (TargetState::Failed, Some(e.to_string())),
                };
                reports.push(TargetReport {
                    name: target.to_string(),
                    state,
                    tries: 1,
                    took,
                    last,
                });
            }
            reports
        })
        .await
}

/// One target, as the scheduler sees it: a name to print, a deadline, and
/// something to try. [`wait_all`] plugs in a [`Probe`]; tests plug in fakes.
pub struct Entry<F> {
    /// How the target is printed (already redacted).
    pub name: String,
    /// How long this target may take; None or zero: for ever.
    pub timeout: Option<Duration>,
    /// One try: no sleeping, no deadline of its own.
    pub attempt: F,
}

/// The knobs of [`run`].
#[derive(Debug, Clone)]
pub struct Schedule {
    pub backoff: Backoff,
    pub try_timeout: Duration,
    pub on_timeout: OnTimeout,
    pub progress_every: Duration,
    /// Seeds each target's jitter (target `i` gets `seed + i`).
    pub seed: u64,
}

/// What a target's task tells the coordinator.
enum Event {
    /// A try failed and another will follow; `reason` is None when the try
    /// was only cut short by the target's deadline (the reason before it says
    /// more than "no answer").
    NotYet {
        i: usize,
        tries: u32,
        reason: Option<String>,
    },
    Ready {
        i: usize,
        tries: u32,
        took: Duration,
    },
    Failed {
        i: usize,
        reason: String,
    },
    TimedOut {
        i: usize,
    },
}

#[derive(Debug)]
enum State {
    Pending { tries: u32, last: Option<String> },
    Ready { tries: u32, took: Duration },
    TimedOut { tries: u32, last: Option<String> },
    Failed { tries: u32, reason: String },
}

/// Try every entry until each is ready, one fails for good, a deadline
/// passes, or `interrupt` resolves. Logs one info line per target that
/// becomes ready, a "still waiting" line per pending target every
/// `progress_every`, and each try at debug.
pub async fn run<F, Fut>(
    entries: Vec<Entry<F>>,
    schedule: &Schedule,
    interrupt: impl Future<Output = i32>,
) -> WaitOutcome
where
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<(), ProbeError>> + 'static,
{
    run_reported(entries, schedule, interrupt).await.outcome
}

/// [`run`], with where each target stood at the end.
pub async fn run_reported<F, Fut>(
    entries: Vec<Entry<F>>,
    schedule: &Schedule,
    interrupt: impl Future<Output = i32>,
) -> Waited
where
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<(), ProbeError>> + 'static,
{
    let start = Instant::now();
    if entries.is_empty() {
        return Waited {
            outcome: WaitOutcome::Ready,
            targets: Vec::new(),
            took: Duration::ZERO,
        };
    }
    let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    info!("{}", announce(&entries));

    let mut states: Vec<State> = names
        .iter()
        .map(|_| State::Pending {
            tries: 0,
            last: None,
        })
        .collect();
    let local = LocalSet::new();
    let outcome = local
        .run_until(async {
            let (tx, mut rx) = mpsc::unbounded_channel();
            for (i, entry) in entries.into_iter().enumerate() {
                let deadline = entry.timeout.filter(|t| !t.is_zero()).map(|t| start + t);
                let report = Report {
                    i,
                    tx: tx.clone(),
                    over: false,
                };
                let task = TargetTask {
                    name: entry.name,
                    deadline,
                    try_timeout: schedule.try_timeout,
                    backoff: schedule.backoff,
                    jitter: Jitter::new(schedule.seed.wrapping_add(i as u64)),
                };
                tokio::task::spawn_local(task.run(entry.attempt, report));
            }
            drop(tx);

            let mut progress =
                tokio::time::interval_at(start + schedule.progress_every, schedule.progress_every);
            progress.set_missed_tick_behavior(MissedTickBehavior::Delay);
            tokio::pin!(interrupt);

            loop {
                tokio::select! {
                    biased;
                    sig = &mut interrupt => return WaitOutcome::Interrupted(sig),
                    event = rx.recv() => {
                        let Some(event) = event else {
                            // Every task has reported its end: settled below.
                            return settle(&names, &states).unwrap_or(WaitOutcome::Ready);
                        };
                        match event {
                            Event::NotYet { i, tries, reason } => {
                                if let State::Pending { tries: t, last } = &mut states[i] {
                                    *t = tries;
                                    if reason.is_some() {
                                        *last = reason;
                                    }
                                }
                            }
                            Event::Ready { i, tries, took } => {
                                info!(
                                    "{} is ready after {} ({tries} {})",
                                    names[i],
                                    seconds(took),
                                    if tries == 1 { "try" } else { "tries" }
                                );
                                states[i] = State::Ready { tries, took };
                            }
                            Event::Failed { i, reason } => {
                                let tries = match &states[i] {
                                    State::Pending { tries, .. } => tries + 1,
                                    _ => 1,
                                };
                                states[i] = State::Failed {
                                    tries,
                                    reason: reason.clone(),
                                };
                                return WaitOutcome::Failed {
                                    target: names[i].clone(),
                                    reason,
                                };
                            }
                            Event::TimedOut { i } => {
                                let (tries, last) = match &mut states[i] {
                                    State::Pending { tries, last } => (*tries, last.take()),
                                    _ => (0, None),
                                };
                                states[i] = State::TimedOut { tries, last };
                                if schedule.on_timeout == OnTimeout::Fail {
                                    return WaitOutcome::TimedOut(unready(&names, &states));
                                }
                            }
                        }
                        if let Some(outcome) = settle(&names, &states) {
                            return outcome;
                        }
                    }
                    _ = progress.tick() => {
                        let waited = seconds(start.elapsed());
                        for (name, state) in names.iter().zip(&states) {
                            if let State::Pending { tries, last } = state {
                                info!(
                                    "still waiting for {name} after {waited} ({tries} {}): {}",
                                    if *tries == 1 { "try" } else { "tries" },
                                    last.as_deref().unwrap_or("no answer yet"),
                                );
                            }
                        }
                    }
                }
            }
        })
        .await;
    // `local` drops here, and every try still in flight with it.
    drop(local);
    let took = start.elapsed();
    let targets = names
        .into_iter()
        .zip(states)
        .map(|(name, state)| {
            let (state, tries, took, last) = match state {
                State::Ready { tries, took } => (TargetState::Ready, tries, took, None),
                State::Pending { tries, last } => (TargetState::Pending, tries, took, last),
                State::TimedOut { tries, last } => (TargetState::TimedOut, tries, took, last),
                State::Failed { tries, reason } => (TargetState::Failed, tries, took, Some(reason)),
            };
            TargetReport {
                name,
                state,
                tries,
                took,
                last,
            }
        })
        .collect();
    Waited {
        outcome,
        targets,
        took,
    }
}

/// Ready when nothing is pending and nothing timed out; TimedOut when nothing
/// is pending and something timed out; None while anything is pending.
fn settle(names: &[String], states: &[State]) -> Option<WaitOutcome> {
    if states.iter().any(|s| matches!(s, State::Pending { .. })) {
        return None;
    }
    if states.iter().all(|s| matches!(s, State::Ready { .. })) {
        Some(WaitOutcome::Ready)
    } else {
        Some(WaitOutcome::TimedOut(unready(names, states)))
    }
}

/// Every target not ready, with its last reason.
fn unready(names: &[String], states: &[State]) -> Vec<(String, String)> {
    names
        .iter()
        .zip(states)
        .filter_map(|(name, state)| match state {
            State::Ready { .. } | State::Failed { .. } => None,
            State::Pending { last, .. } | State::TimedOut { last, .. } => Some((
                name.clone(),
                last.clone()
                    .unwrap_or_else(|| "no answer before the timeout".into()),
            )),
        })
        .collect()
}

/// The first line: what is waited for, and for how long.
fn announce<F>(entries: &[Entry<F>]) -> String {
    let mut line = String::from("waiting for ");
    if entries.len() > 8 {
        let _ = write!(line, "{} targets", entries.len());
    } else {
        for (n, e) in entries.iter().enumerate() {
            let _ = write!(line, "{}{}", if n == 0 { "" } else { ", " }, e.name);
        }
    }
    let limit = |e: &Entry<F>| e.timeout.filter(|t| !t.is_zero());
    if entries.iter().any(|e| limit(e) != limit(&entries[0])) {
        line.push_str(" (timeouts per target)");
    } else if let Some(t) = limit(&entries[0]) {
        let _ = write!(line, " (timeout {})", humantime::format_duration(t));
    } else {
        line.push_str(" (no timeout)");
    }
    line
}

/// `1.234s`: millisecond precision, which is what a reader of a wait wants.
fn seconds(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// Which cap applies after this error: only "nothing listening" is cheap.
fn pace_of(err: &ProbeError) -> Pace {
    match err {
        ProbeError::Connect(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
            ) =>
        {
            Pace::Cheap
        }
        _ => Pace::Costly,
    }
}

/// One target's loop, and what it needs.
struct TargetTask {
    name: String,
    deadline: Option<Instant>,
    try_timeout: Duration,
    backoff: Backoff,
    jitter: Jitter,
}

impl TargetTask {
    async fn run<F, Fut>(mut self, attempt: F, mut report: Report)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), ProbeError>>,
    {
        let start = Instant::now();
        let mut tries: u32 = 0;
        loop {
            tries += 1;
            let own = Instant::now() + self.try_timeout;
            let (until, cut_by_deadline) = match self.deadline {
                Some(d) if d <= own => (d, true),
                _ => (own, false),
            };
            let lookups = net::Lookups::default();
            let err = match tokio::time::timeout_at(until, lookups.watch(attempt())).await {
                Ok(Ok(())) => {
                    report.end(Event::Ready {
                        i: report.i,
                        tries,
                        took: start.elapsed(),
                    });
                    return;
                }
                Ok(Err(e)) => e,
                Err(_) if cut_by_deadline => {
                    debug!("{}: try {tries} cut short by the timeout", self.name);
                    report.send(Event::NotYet {
                        i: report.i,
                        tries,
                        reason: None,
                    });
                    report.end(Event::TimedOut { i: report.i });
                    return;
                }
                Err(_) => lookups.timed_out(self.try_timeout),
            };
            let reason = match &err {
                ProbeError::Timeout => format!(
                    "no answer within {} (--try-timeout)",
                    humantime::format_duration(self.try_timeout)
                ),
                e => e.to_string(),
            };
            if !err.is_retryable() {
                report.end(Event::Failed {
                    i: report.i,
                    reason,
                });
                return;
            }
            let delay = self.backoff.delay(tries, pace_of(&err), self.jitter.unit());
            debug!(
                "{}: try {tries}: {reason}; next in {}ms",
                self.name,
                delay.as_millis()
            );
            report.send(Event::NotYet {
                i: report.i,
                tries,
                reason: Some(reason),
            });
            let wake = Instant::now() + delay;
            if let Some(deadline) = self.deadline.filter(|d| *d <= wake) {
                tokio::time::sleep_until(deadline).await;
                report.end(Event::TimedOut { i: report.i });
                return;
            }
            tokio::time::sleep_until(wake).await;
        }
    }
}

/// A task's line to the coordinator. If the task ends without saying how
/// (a probe panicked), dropping this says it for it, so the wait cannot hang.
struct Report {
    i: usize,
    tx: mpsc::UnboundedSender<Event>,
    over: bool,
}

impl Report {
    fn send(&self, event: Event) {
        // The coordinator may be gone already (it returned): nothing to tell.
        let _ = self.tx.send(event);
    }

    fn end(&mut self, event: Event) {
        self.over = true;
        self.send(event);
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        // When the coordinator has returned (and cancelled this task), nobody
        // listens any more and the send fails quietly.
        if !self.over {
            self.send(Event::Failed {
                i: self.i,
                reason: "the probe stopped without an answer (a bug in preflight)".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests;
