//! The supervision loop: one thread, asleep in `sigwaitinfo` until a signal
//! comes. No `?` in here: see the rule in the module doc of `init`.

use std::time::Instant;

use tracing::{debug, info, warn};

use super::options::InitOptions;
use super::signals::{self, Name};
use super::{Ended, Role, Stop, procs, reap};
use crate::exit_code::Status;
use crate::sys::{self, SigInfo};

/// How long the command runs before preflight gives back start-up memory.
const SHRINK_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

/// After the command exited: what the leftovers got so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// TERM sent; KILL at `kill_at`.
    Term,
    /// KILL sent; if some are still there at `kill_at` (stuck in the kernel,
    /// or out of sight without /proc), leave them.
    Kill,
    /// Nothing left (or given up): return.
    Done,
}

pub struct Supervisor<'a> {
    child: i32,
    role: Role,
    opts: &'a InitOptions,
    pid1: bool,
    me: i32,
    status: Option<Status>,
    terminating_signal: Option<i32>,
    timed_out: bool,
    /// A hook's stop request, and whether it was acted on.
    stop: Option<Stop>,
    stopped: bool,
    /// A hook's timeout.
    timeout_at: Option<Instant>,
    /// KILL: the child (running), or what is left (shutdown).
    kill_at: Option<Instant>,
    /// When the TERM that a coming KILL follows was sent, for its log line.
    term_at: Option<Instant>,
    /// When to give back start-up memory ([`sys::shrink`]): once, if the
    /// command still runs by then. A command that ends at once (`-- true`)
    /// does not pay for it; one that runs costs one wake-up, then none.
    shrink_at: Option<Instant>,
    /// Set once the command has exited (Role::Main only).
    stage: Option<Stage>,
    /// Children re-parented to us that already got the current stage's signal.
    signaled: Vec<i32>,
    /// Processes a "sending KILL" line named already.
    named: Vec<i32>,
}

impl<'a> Supervisor<'a> {
    pub fn new(child: i32, role: Role, opts: &'a InitOptions, pid1: bool) -> Self {
        let (timeout_at, stop) = match &role {
            Role::Hook { timeout, stop } => (timeout.map(|t| Instant::now() + t), stop.clone()),
            Role::Main => (None, None),
        };
        let main = matches!(role, Role::Main);
        Supervisor {
            child,
            role,
            opts,
            pid1,
            me: std::process::id() as i32,
            status: None,
            terminating_signal: None,
            timed_out: false,
            stop,
            stopped: false,
            timeout_at,
            kill_at: None,
            term_at: None,
            shrink_at: main.then(|| Instant::now() + SHRINK_AFTER),
            stage: None,
            signaled: Vec::new(),
            named: Vec::new(),
        }
    }

    pub fn run(mut self) -> Ended {
        let all = signals::all();
        loop {
            self.on_stop_request(Instant::now());
            let deadline = [self.timeout_at, self.kill_at, self.shrink_at]
                .into_iter()
                .flatten()
                .min();
            let info = match deadline {
                None => sys::wait_signal(&all, None),
                Some(at) => match at.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => sys::wait_signal(&all, Some(left)),
                    _ => None,
                },
            };
            match info {
                Some(i) if i.signo == libc::SIGCHLD => self.on_child(),
                Some(i) => self.on_signal(i),
                None => self.on_clock(Instant::now()),
            }
            if let Some(ended) = self.ended() {
                return ended;
            }
        }
    }

    fn ended(&self) -> Option<Ended> {
        let status = self.status?;
        let finished = match self.role {
            Role::Hook { .. } => true,
            Role::Main => self.stage == Some(Stage::Done),
        };
        finished.then_some(Ended {
            status,
            terminating_signal: self.terminating_signal,
            timed_out: self.timed_out,
            stopped: self.stopped,
        })
    }

    /// Another thread asked to end the hook: as a timeout does.
    fn on_stop_request(&mut self, now: Instant) {
        if self.stopped || self.status.is_some() || !self.stop.as_ref().is_some_and(Stop::requested)
        {
            return;
        }
        self.stopped = true;
        self.timeout_at = None;
        warn!(
            "stopping the hook: TERM, KILL after {}",
            humantime::format_duration(self.opts.grace)
        );
        send(-self.child, libc::SIGTERM);
        self.term_at = Some(now);
        let at = now + self.opts.grace;
        self.kill_at = Some(self.kill_at.map_or(at, |k| k.min(at)));
    }

    fn on_child(&mut self) {
        let (signaled, named) = (&mut self.signaled, &mut self.named);
        let drained = reap::drain(self.child, |pid| {
            signaled.retain(|p| *p != pid);
            named.retain(|p| *p != pid);
        });
        if let Some(status) = drained.watched {
            self.status = Some(status);
            self.timeout_at = None;
            self.kill_at = None;
            self.shrink_at = None;
            match self.role {
                Role::Hook { .. } => debug!(?status, "hook ended"),
                Role::Main if drained.none_left => {
                    debug!(?status, "command ended, nothing left");
                    self.stage = Some(Stage::Done);
                }
                Role::Main => {
                    info!(
                        "command ended ({}); stopping what it left: TERM, KILL after {}",
                        super::describe(status),
                        humantime::format_duration(self.opts.grace)
                    );
                    self.stage = Some(Stage::Term);
                    let now = Instant::now();
                    self.term_at = Some(now);
                    self.kill_at = Some(now + self.opts.grace);
                    self.signal_leftovers(libc::SIGTERM, true);
                }
            }
            return;
        }
        match self.stage {
            Some(_) if drained.none_left => self.stage = Some(Stage::Done),
            // Orphans of the processes that just ended are ours now.
            Some(Stage::Term) => self.signal_leftovers(libc::SIGTERM, false),
            Some(Stage::Kill) => self.signal_leftovers(libc::SIGKILL, false),
            _ => {}
        }
    }

    fn on_clock(&mut self, now: Instant) {
        if self.shrink_at.is_some_and(|t| t <= now) {
            self.shrink_at = None;
            sys::shrink();
        }
        if self.timeout_at.is_some_and(|t| t <= now) {
            self.timeout_at = None;
            self.timed_out = true;
            warn!(
                "hook timed out; stopping it: TERM, KILL after {}",
                humantime::format_duration(self.opts.grace)
            );
            send(-self.child, libc::SIGTERM);
            self.term_at = Some(now);
            let at = now + self.opts.grace;
            self.kill_at = Some(self.kill_at.map_or(at, |k| k.min(at)));
        }
        if self.kill_at.is_none_or(|t| t > now) {
            return;
        }
        self.kill_at = None;
        match self.stage {
            None => {
                // A timed-out hook loses its whole group, as it got TERM.
                let who = if self.timed_out || self.stopped {
                    -self.child
                } else {
                    self.target()
                };
                self.log_kill(&[who], now);
                send(who, libc::SIGKILL);
            }
            Some(Stage::Term) => {
                self.stage = Some(Stage::Kill);
                self.kill_at = Some(now + self.opts.grace);
                self.signal_leftovers(libc::SIGKILL, true);
            }
            Some(Stage::Kill) => {
                warn!("processes still left after KILL; leaving them");
                self.stage = Some(Stage::Done);
            }
            Some(Stage::Done) => {}
        }
    }

    fn on_signal(&mut self, info: SigInfo) {
        let sig = info.signo;
        if !signals::forwarded(sig) {
            debug!(sig = %Name(sig), "not forwarded");
            return;
        }
        if info.code == libc::SI_USER && info.pid == self.me {
            // Not logged: with stderr a broken pipe, the line would raise
            // the next SIGPIPE, and so on for ever.
            return;
        }
        let to = self.opts.rewritten(sig);
        if to == 0 {
            debug!(sig = %Name(sig), "dropped (--rewrite)");
            return;
        }
        debug!(sig = %Name(sig), to = %Name(to), "forwarding");
        if self.stage.is_some() {
            self.forward_to_leftovers(to);
            return;
        }
        send(self.target(), to);
        if signals::TERMINATING.contains(&sig) {
            self.terminating_signal.get_or_insert(sig);
        }
        if let (libc::SIGTERM, Some(after)) = (sig, self.opts.kill_after) {
            let now = Instant::now();
            self.term_at.get_or_insert(now);
            let at = now + after;
            self.kill_at = Some(self.kill_at.map_or(at, |k| k.min(at)));
        }
    }

    /// Where forwarded signals go while the child runs: the child alone
    /// (programs that manage workers stop them gracefully themselves), or
    /// its group with `--signal-group`.
    fn target(&self) -> i32 {
        if self.opts.signal_group {
            -self.child
        } else {
            self.child
        }
    }

    /// The one line for every KILL preflight sends: to which processes
    /// (`who`: pids, negative for a group, -1 for all), how long after TERM.
    fn log_kill(&mut self, who: &[i32], now: Instant) {
        let names = procs::describe(who, self.me, &mut self.named);
        if names.is_empty() {
            return;
        }
        let after = self
            .term_at
            .map(|t| format!("{:.1}s", now.duration_since(t).as_secs_f64()))
            .unwrap_or_else(|| "?".into());
        warn!("sending KILL to {names}: still running {after} after TERM");
    }

    /// Send `sig` to everything left after the command ended: as PID 1 the
    /// whole namespace, and each child re-parented to us that was not there
    /// yet (a daemon started on TERM); else the command's group and every
    /// child re-parented to us from another group (a `setsid` daemon). A TERM goes
    /// once to each (a second one means "hurry" to many programs): to the
    /// group when the stage starts, to a child the first time it is seen.
    /// KILL is repeated for every newcomer.
    fn signal_leftovers(&mut self, sig: i32, new_stage: bool) {
        if new_stage {
            self.signaled.clear();
        }
        let again = new_stage || sig == libc::SIGKILL;
        let kill = sig == libc::SIGKILL;
        if self.pid1 && kill {
            self.log_kill(&[-1], Instant::now());
            send(-1, sig);
            return;
        }
        if self.pid1 && new_stage {
            // Whatever is there now gets this TERM from kill(-1): only a
            // process that appears later (a daemon started on TERM, then
            // re-parented to us) is owed one of its own below. Listed before
            // the kill, so a process forked meanwhile gets a second TERM
            // rather than none.
            self.signaled = procs::pids();
            send(-1, sig);
            return;
        }
        let mut who = Vec::new();
        if again {
            who.push(-self.child);
        }
        for pid in procs::children() {
            if self.signaled.contains(&pid) {
                continue;
            }
            // As PID 1 every newcomer is owed the TERM: kill(-1) came before it.
            if self.pid1 || !self.in_group(pid) {
                who.push(pid);
            }
            self.signaled.push(pid);
        }
        if kill {
            self.log_kill(&who, Instant::now());
        }
        for pid in who {
            send(pid, sig);
        }
    }

    /// A signal that comes during the shutdown goes where the shutdown's do,
    /// once to each: the group, and our children outside it.
    fn forward_to_leftovers(&self, sig: i32) {
        if self.pid1 {
            send(-1, sig);
            return;
        }
        send(-self.child, sig);
        for pid in procs::children() {
            if !self.in_group(pid) {
                send(pid, sig);
            }
        }
    }

    /// Is `pid` in the command's process group (so a signal to the group
    /// reached it already)?
    fn in_group(&self, pid: i32) -> bool {
        let pid = nix::unistd::Pid::from_raw(pid);
        nix::unistd::getpgid(Some(pid)).is_ok_and(|g| g.as_raw() == self.child)
    }
}

/// `kill`, logging instead of failing. ESRCH: it just ended (its SIGCHLD is
/// on the way) or the group is empty; that is fine.
fn send(pid: i32, sig: i32) {
    if let Err(e) = sys::kill(pid, sig) {
        if e.raw_os_error() == Some(libc::ESRCH) {
            debug!(pid, sig = %Name(sig), "nothing to signal");
        } else {
            warn!("cannot send {} to {pid}: {e}", Name(sig));
        }
    }
}
