//! Where the start-up time went: one line when the command starts (or when
//! the start fails), so nobody debugging a slow start has to read timestamps.
//!
//! ```text
//! preflight: start-up took 3.412s: wait 2.903s (postgres://app:***@db/app ready in 2.901s, 14 tries; redis:6379 ready in 0.004s, 1 try), lock 0.402s, template /etc/app.ini 0.001s, hook 'python manage.py migrate' 0.104s
//! preflight: error: start-up stopped after 61.0s in the wait: wait 60.0s (db:5432 timed out after 60.0s, 230 tries); not started: hook 'migrate', the command
//! ```
//!
//! With `--log-format json` the same event carries `total_ms`, `outcome`
//! (`started`, `stopped`, or `done` when there is no command) and `steps`: a
//! JSON array with one object per step (`{"step":"wait","target":…,
//! "state":…,"ms":…,"tries":…}`, `{"step":"lock","ms":…}`,
//! `{"step":"template","dest":…,"ms":…}`, `{"step":"hook","hook":…,"ms":…,
//! "status":…}`, and `"state":"pending"` for what never started).
//!
//! Names are printed as the rest of the log prints them: targets redacted,
//! hooks masked like their own log lines. No value of any variable appears.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::logging::push_json_str;
use crate::wait::TargetReport;

/// One step of the start-up, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Wait(Vec<TargetReport>, Duration),
    Lock(Duration),
    Template {
        dest: String,
        took: Duration,
    },
    Hook {
        name: String,
        took: Duration,
        /// The code it ended with (0 for success).
        code: u8,
    },
}

/// The steps so far, and what is still to come.
#[derive(Debug)]
pub struct Timeline {
    start: Instant,
    steps: Vec<Step>,
    /// Named steps that were planned; those after a failure are "not started".
    planned_hooks: Vec<String>,
    has_command: bool,
    /// The phase that failed, when one did (set by [`Timeline::stopped_in`]).
    failed_in: Option<&'static str>,
}

/// How the start-up ended, for the closing line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command is about to start.
    Started,
    /// Everything ran and there is no command (hooks only).
    Done,
    /// A step failed: what follows it never started.
    Stopped,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Done => "done",
            Outcome::Stopped => "stopped",
        }
    }
}

impl Timeline {
    /// Starts the clock; `hooks` are the hooks that will run, in order.
    pub fn new(start: Instant, hooks: Vec<String>, has_command: bool) -> Self {
        Timeline {
            start,
            steps: Vec::new(),
            planned_hooks: hooks,
            has_command,
            failed_in: None,
        }
    }

    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Name the phase the start-up stopped in ("the wait", "the templates",
    /// "the lock", "a hook"), then log the closing line.
    pub fn stopped_in(&mut self, phase: &'static str) {
        self.failed_in = Some(phase);
        self.log(Outcome::Stopped);
    }

    /// Whether anything worth a line happened: a bare `preflight -- cmd`
    /// logs nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn hooks_run(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Hook { .. }))
            .count()
    }

    /// The closing line's text (without the `preflight:` prefix).
    pub fn line(&self, outcome: Outcome, at: Instant) -> String {
        let total = at.saturating_duration_since(self.start);
        let mut line = match outcome {
            Outcome::Stopped => format!(
                "start-up stopped after {} in {}: ",
                secs(total),
                self.failed_in.unwrap_or_else(|| self.failed_step())
            ),
            _ => format!("start-up took {}: ", secs(total)),
        };
        for (n, step) in self.steps.iter().enumerate() {
            if n > 0 {
                line.push_str(", ");
            }
            match step {
                Step::Wait(targets, took) => {
                    let _ = write!(line, "wait {} (", secs(*took));
                    for (k, t) in targets.iter().enumerate() {
                        let _ = write!(
                            line,
                            "{}{} {} {}, {} {}",
                            if k == 0 { "" } else { "; " },
                            t.name,
                            match t.state {
                                crate::wait::TargetState::Ready => "ready in",
                                crate::wait::TargetState::Pending => "still pending after",
                                crate::wait::TargetState::TimedOut => "timed out after",
                                crate::wait::TargetState::Failed => "failed after",
                            },
                            secs(t.took),
                            t.tries,
                            if t.tries == 1 { "try" } else { "tries" }
                        );
                        if t.state != crate::wait::TargetState::Ready {
                            if let Some(last) = &t.last {
                                let _ = write!(line, ": {last}");
                            }
                        }
                    }
                    line.push(')');
                }
                Step::Lock(took) => {
                    let _ = write!(line, "lock {}", secs(*took));
                }
                Step::Template { dest, took } => {
                    let _ = write!(line, "template {dest} {}", secs(*took));
                }
                Step::Hook { name, took, code } => {
                    let _ = write!(line, "hook '{name}' {}", secs(*took));
                    if *code != 0 {
                        let _ = write!(line, " (exit {code})");
                    }
                }
            }
        }
        if self.steps.is_empty() {
            line.push_str("nothing done before");
        }
        let pending = self.pending(outcome);
        if !pending.is_empty() {
            let _ = write!(line, "; not started: {}", pending.join(", "));
        }
        line
    }

    fn failed_step(&self) -> &'static str {
        match self.steps.last() {
            Some(Step::Wait(..)) => "the wait",
            Some(Step::Lock(_)) => "the lock",
            Some(Step::Template { .. }) => "the templates",
            Some(Step::Hook { .. }) => "a hook",
            None => "the wait",
        }
    }

    /// What never started: the hooks after the last one run, and the command.
    fn pending(&self, outcome: Outcome) -> Vec<String> {
        if outcome != Outcome::Stopped {
            return Vec::new();
        }
        let mut pending: Vec<String> = self
            .planned_hooks
            .iter()
            .skip(self.hooks_run())
            .map(|h| format!("hook '{h}'"))
            .collect();
        if self.has_command {
            pending.push("the command".into());
        }
        pending
    }

    /// The `steps` field of the JSON log line: a JSON array.
    pub fn steps_json(&self, outcome: Outcome) -> String {
        let mut out = String::from("[");
        let mut first = true;
        let mut sep = |out: &mut String| {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
        };
        for step in &self.steps {
            match step {
                Step::Wait(targets, _) => {
                    for t in targets {
                        sep(&mut out);
                        // The target's own object, with the step's name first.
                        out.push_str("{\"step\":\"wait\",");
                        let at = out.len();
                        t.push_json(&mut out);
                        out.remove(at);
                    }
                }
                Step::Lock(took) => {
                    sep(&mut out);
                    let _ = write!(out, "{{\"step\":\"lock\",\"ms\":{}}}", ms(*took));
                }
                Step::Template { dest, took } => {
                    sep(&mut out);
                    out.push_str("{\"step\":\"template\",\"dest\":");
                    push_json_str(&mut out, dest);
                    let _ = write!(out, ",\"ms\":{}}}", ms(*took));
                }
                Step::Hook { name, took, code } => {
                    sep(&mut out);
                    out.push_str("{\"step\":\"hook\",\"hook\":");
                    push_json_str(&mut out, name);
                    let _ = write!(out, ",\"ms\":{},\"status\":{code}}}", ms(*took));
                }
            }
        }
        if outcome == Outcome::Stopped {
            for h in self.planned_hooks.iter().skip(self.hooks_run()) {
                sep(&mut out);
                out.push_str("{\"step\":\"hook\",\"hook\":");
                push_json_str(&mut out, h);
                out.push_str(",\"state\":\"pending\"}");
            }
            if self.has_command {
                sep(&mut out);
                out.push_str("{\"step\":\"command\",\"state\":\"pending\"}");
            }
        }
        out.push(']');
        out
    }

    /// Log the closing line: info when the command starts, error when the
    /// start-up stopped. Nothing when nothing happened.
    pub fn log(&self, outcome: Outcome) {
        if self.is_empty() && outcome != Outcome::Stopped {
            return;
        }
        let now = Instant::now();
        let line = self.line(outcome, now);
        let total_ms = ms(now.saturating_duration_since(self.start));
        let steps = self.steps_json(outcome);
        let stopped = outcome == Outcome::Stopped;
        let outcome = outcome.as_str();
        // Text lines say it all in words; JSON lines carry the fields too.
        match (stopped, crate::logging::is_json()) {
            (true, true) => tracing::error!(total_ms, outcome, steps, "{line}"),
            (true, false) => tracing::error!("{line}"),
            (false, true) => tracing::info!(total_ms, outcome, steps, "{line}"),
            (false, false) => tracing::info!("{line}"),
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `2.903s`: what a reader of a start-up wants.
fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wait::TargetState;

    fn report(name: &str, state: TargetState, ms: u64, tries: u32) -> TargetReport {
        TargetReport {
            name: name.into(),
            state,
            tries,
            took: Duration::from_millis(ms),
            last: (state != TargetState::Ready).then(|| "connection refused".into()),
        }
    }

    fn hook(name: &str, ms: u64, code: u8) -> Step {
        Step::Hook {
            name: name.into(),
            took: Duration::from_millis(ms),
            code,
        }
    }

    /// The timeline's steps as the JSON log line carries them.
    fn json_steps(t: &Timeline, outcome: Outcome) -> Vec<serde_json::Value> {
        let json: serde_json::Value = serde_json::from_str(&t.steps_json(outcome)).unwrap();
        json.as_array().unwrap().clone()
    }

    #[test]
    fn a_full_start_names_every_step_in_order() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0, vec!["migrate".into(), "collectstatic".into()], true);
        t.push(Step::Wait(
            vec![
                report("db:5432", TargetState::Ready, 2100, 14),
                report("redis:6379", TargetState::Ready, 4, 1),
            ],
            Duration::from_millis(2101),
        ));
        t.push(Step::Lock(Duration::from_millis(500)));
        t.push(Step::Template {
            dest: "/etc/app.ini".into(),
            took: Duration::from_millis(1),
        });
        t.push(hook("migrate", 800, 0));
        t.push(hook("collectstatic", 50, 0));
        let line = t.line(Outcome::Started, t0 + Duration::from_millis(3452));
        assert_eq!(
            line,
            "start-up took 3.452s: wait 2.101s (db:5432 ready in 2.100s, 14 tries; redis:6379 ready in 0.004s, 1 try), lock 0.500s, template /etc/app.ini 0.001s, hook 'migrate' 0.800s, hook 'collectstatic' 0.050s"
        );
        let steps = json_steps(&t, Outcome::Started);
        assert_eq!(steps.len(), 6);
        assert_eq!(steps[0]["step"], "wait");
        assert_eq!(steps[0]["target"], "db:5432");
        assert_eq!(steps[0]["ms"], 2100);
        assert_eq!(steps[0]["tries"], 14);
        assert_eq!(steps[2]["step"], "lock");
        assert_eq!(steps[3]["dest"], "/etc/app.ini");
        assert_eq!(steps[5]["hook"], "collectstatic");
        assert_eq!(steps[5]["status"], 0);
    }

    #[test]
    fn a_failed_start_says_what_was_done_and_what_was_pending() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0, vec!["migrate".into(), "collectstatic".into()], true);
        t.push(Step::Wait(
            vec![report("db:5432", TargetState::Ready, 10, 1)],
            Duration::from_millis(10),
        ));
        t.push(hook("migrate", 20, 3));
        let line = t.line(Outcome::Stopped, t0 + Duration::from_millis(40));
        assert_eq!(
            line,
            "start-up stopped after 0.040s in a hook: wait 0.010s (db:5432 ready in 0.010s, 1 try), hook 'migrate' 0.020s (exit 3); not started: hook 'collectstatic', the command"
        );
        let steps = json_steps(&t, Outcome::Stopped);
        assert_eq!(steps[1]["status"], 3);
        assert_eq!(steps[2]["hook"], "collectstatic");
        assert_eq!(steps[2]["state"], "pending");
        assert_eq!(steps[3]["step"], "command");
    }

    #[test]
    fn a_timed_out_wait_names_the_target_and_its_reason() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0, vec![], true);
        t.push(Step::Wait(
            vec![report("db:5432", TargetState::TimedOut, 1000, 9)],
            Duration::from_millis(1000),
        ));
        let line = t.line(Outcome::Stopped, t0 + Duration::from_millis(1001));
        assert_eq!(
            line,
            "start-up stopped after 1.001s in the wait: wait 1.000s (db:5432 timed out after 1.000s, 9 tries: connection refused); not started: the command"
        );
    }
}
