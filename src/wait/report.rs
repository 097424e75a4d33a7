//! Where each target stood when a wait or a check ended: what the start-up
//! timeline and `wait --json`/`check --json` print. Names are redacted
//! already (a [`crate::target::Target`]'s `Display`); reasons are the probes'
//! own, which never hold a secret.

use std::fmt::Write as _;
use std::time::Duration;

use crate::logging::push_json_str;

/// Where one target stood when waiting ended: for the start-up timeline and
/// `--json`. `name` is already redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetReport {
    pub name: String,
    pub state: TargetState,
    /// Tries made (the successful one included).
    pub tries: u32,
    /// From the start of the wait to ready, or to the end of the wait.
    pub took: Duration,
    /// The reason of the last failed try, if any.
    pub last: Option<String>,
}

/// How a target ended in a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Ready,
    /// Still being tried when the wait ended (another target decided it).
    Pending,
    TimedOut,
    /// Can never be ready (a non-retryable error).
    Failed,
}

impl TargetReport {
    /// This report as a JSON object: `{"target":…,"state":…,"ms":…,
    /// "tries":…,"last":…}` (`last` only when a try failed).
    pub fn push_json(&self, out: &mut String) {
        out.push_str("{\"target\":");
        push_json_str(out, &self.name);
        out.push_str(",\"state\":");
        push_json_str(out, self.state.as_str());
        let ms = u64::try_from(self.took.as_millis()).unwrap_or(u64::MAX);
        let _ = write!(out, ",\"ms\":{ms},\"tries\":{}", self.tries);
        if let Some(last) = &self.last {
            out.push_str(",\"last\":");
            push_json_str(out, last);
        }
        out.push('}');
    }
}

/// `wait --json` / `check --json`: one object for the whole run.
pub fn json_summary(ready: bool, took: Duration, targets: &[TargetReport]) -> String {
    let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    let mut out = format!("{{\"ready\":{ready},\"ms\":{ms},\"targets\":[");
    for (n, t) in targets.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        t.push_json(&mut out);
    }
    out.push_str("]}");
    out
}

impl TargetState {
    /// The word used in `--json` and the timeline.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Ready => "ready",
            TargetState::Pending => "pending",
            TargetState::TimedOut => "timed out",
            TargetState::Failed => "failed",
        }
    }
}
