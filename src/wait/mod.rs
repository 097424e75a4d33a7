//! When to try: every target at once, each on its own backoff schedule, under
//! one global deadline. (Scheduler: not written yet.)

use std::future::Future;
use std::time::Duration;

use crate::config::WaitPolicy;
use crate::probe::ProbeError;
use crate::target::Target;

/// How waiting ended.
#[derive(Debug)]
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

/// Wait until every target is ready, the policy's deadline passes, or
/// `interrupt` resolves with a signal number.
pub async fn wait_all(
    targets: &[Target],
    policy: &WaitPolicy,
    interrupt: impl Future<Output = i32>,
) -> WaitOutcome {
    let _ = (targets, policy, interrupt);
    todo!("wait scheduler")
}

/// One try of each target, all at once, each bounded by `try_timeout`.
pub async fn check_all(targets: &[Target], try_timeout: Duration) -> Vec<Result<(), ProbeError>> {
    let _ = (targets, try_timeout);
    todo!("check")
}
