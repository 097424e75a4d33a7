//! Several programs: the main command and side programs (`--also`,
//! `--procfile`), their output (`--log-prefix`) and followed files
//! (`--tail`). Used only when one of those is asked for: one command alone
//! goes through [`super::supervise`], as cheap as ever.
//!
//! # Theory of operation
//!
//! One thread, asleep in `poll` on a signalfd (every signal stays blocked,
//! as in the single supervisor), the programs' output pipes and the
//! `--tail` inotify descriptor. A timeout is given only while something is
//! due: a restart, `--grace`, `--kill-after`, the one-time shrink. Nothing
//! pending, no wake-up.
//!
//! - A signal that [`super::signals::forwarded`] allows is rewritten and sent
//!   to every running program: to the program alone, or its process group
//!   with `--signal-group`. TERM or INT also ends everything: no restart
//!   from then on, side programs get `--grace` to stop before KILL.
//! - A side program that exits is started again per `--restart`, after
//!   [`super::restart::delay`]; after `--max-restarts` restarts without a
//!   60 s run in between it has failed for good. One that exits 0 and is
//!   not restarted is done (a one-shot).
//! - Who decides the container's life: the main command. When it exits, or
//!   a side program fails for good, every program still running gets TERM
//!   (the program alone: a celery worker's pool is stopped by celery), and
//!   every leftover (the group of a program that ended, orphans re-parented
//!   to us) too; after `--grace`, KILL to all that is left. preflight then
//!   exits with the status of what ended it. With no main command, every
//!   program is essential: the first that ends for good ends it all.
//!
//! No `?` in the loop: see the rule in `init`'s module doc.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::SigSet;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use tracing::{debug, error, info, warn};

use super::options::{InitOptions, Restart, Several};
use super::output::Lines;
use super::signals::{self, Name};
use super::tail::Tails;
use super::{Command, SpawnError, describe, procs, reap, restart, spawn, sys};
use crate::exit_code::Status;

/// How long the programs run before preflight gives back start-up memory.
const SHRINK_AFTER: Duration = Duration::from_millis(200);

/// One program, main or side, across its restarts.
struct Program {
    name: String,
    argv: Vec<OsString>,
    main: bool,
    /// Running: its pid.
    pid: Option<i32>,
    /// The process group it led in its last run (its pid then): where its
    /// leftovers are once it ended.
    group: Option<i32>,
    started: Instant,
    /// Restarts since the last run of 60 s.
    restarts: u32,
    restart_at: Option<Instant>,
    /// Ended for good, with this status (done, failed, or stopped).
    ended: Option<Status>,
}

/// One output pipe of a program (`--log-prefix`), until it closes.
struct Pipe {
    fd: OwnedFd,
    lines: Lines,
}

/// After the stop began: what is left got TERM, then KILL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Running,
    /// TERM sent to every program and leftover; KILL at `kill_at`.
    Term,
    /// KILL sent; at `kill_at`, give up on what is still there.
    Kill,
}

pub struct Supervisor<'a> {
    opts: &'a InitOptions,
    several: &'a Several,
    base: &'a Command,
    pid1: bool,
    me: i32,
    programs: Vec<Program>,
    pipes: Vec<Pipe>,
    tails: Option<Tails>,
    stage: Stage,
    /// What preflight exits with: the first that ended it all.
    status: Option<Status>,
    kill_at: Option<Instant>,
    term_at: Option<Instant>,
    /// `--kill-after` for the main command.
    main_kill_at: Option<Instant>,
    shrink_at: Option<Instant>,
    /// Children re-parented to us that already got TERM.
    signaled: Vec<i32>,
    /// Processes a "sending KILL" line named already.
    named: Vec<i32>,
    none_left: bool,
}

/// Start the main command (if any) and every side program, and supervise
/// them until everything has ended; the status preflight exits with. Fails
/// only when the main command cannot start (nothing is left running then).
pub fn run(
    main: Option<&Command>,
    base: &Command,
    opts: &InitOptions,
    pid1: bool,
) -> Result<Status, SpawnError> {
    let several = &opts.several;
    let mut programs = Vec::new();
    if let Some(cmd) = main {
        let name = cmd
            .argv
            .first()
            .map(|p| {
                std::path::Path::new(p)
                    .file_name()
                    .unwrap_or(p)
                    .to_string_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        programs.push(Program::new(name, cmd.argv.clone(), true));
    }
    for p in &several.programs {
        programs.push(Program::new(p.name.clone(), p.argv.clone(), false));
    }
    let mut s = Supervisor {
        opts,
        several,
        base,
        pid1,
        me: std::process::id() as i32,
        programs,
        pipes: Vec::new(),
        tails: Tails::new(&several.tails),
        stage: Stage::Running,
        status: None,
        kill_at: None,
        term_at: None,
        main_kill_at: None,
        shrink_at: Some(Instant::now() + SHRINK_AFTER),
        signaled: Vec::new(),
        named: Vec::new(),
        none_left: false,
    };
    for i in 0..s.programs.len() {
        if s.stage != Stage::Running {
            break;
        }
        if let Err(e) = s.start(i) {
            if s.programs[i].main {
                // Fail fast: stop what started before it, then report.
                s.stop_all(e.exit_code_status());
                s.run_loop();
                return Err(e);
            }
            error!("{}: {e}", s.programs[i].name);
            let code = e.exit_code_status();
            s.on_exit(i, code);
        }
    }
    s.run_loop();
    Ok(s.status.unwrap_or(Status::Exited(0)))
}

impl SpawnError {
    fn exit_code_status(&self) -> Status {
        Status::Exited(self.exit_code())
    }
}

impl Program {
    fn new(name: String, argv: Vec<OsString>, main: bool) -> Program {
        Program {
            name,
            argv,
            main,
            pid: None,
            group: None,
            started: Instant::now(),
            restarts: 0,
            restart_at: None,
            ended: None,
        }
    }

    fn what(&self) -> &'static str {
        if self.main { "command" } else { "side program" }
    }
}

impl Supervisor<'_> {
    fn start(&mut self, i: usize) -> Result<(), SpawnError> {
        let p = &self.programs[i];
        let cmd = Command {
            argv: p.argv.clone(),
            env: self.base.env.clone(),
            credentials: self.base.credentials.clone(),
        };
        let setup = sys::ChildSetup {
            new_group: true,
            take_terminal: p.main,
            credentials: super::credentials(&cmd),
            pdeathsig: self
                .opts
                .pdeathsig
                .filter(|_| !self.pid1)
                .map(|sig| (sig, self.me)),
        };
        let pid = if self.several.log_prefix {
            let (pid, out, err) = spawn::spawn_piped(&cmd, setup)?;
            for (fd, to_stderr) in [(OwnedFd::from(out), false), (OwnedFd::from(err), true)] {
                set_nonblocking(&fd);
                self.pipes.push(Pipe {
                    fd,
                    lines: Lines::new(&p.name, to_stderr),
                });
            }
            pid
        } else {
            spawn::spawn(&cmd, setup)?
        };
        let p = &mut self.programs[i];
        info!("{} '{}' started (pid {pid})", p.what(), p.name);
        p.pid = Some(pid);
        p.group = Some(pid);
        p.started = Instant::now();
        p.restart_at = None;
        Ok(())
    }

    fn run_loop(&mut self) {
        let Ok(sfd) = SignalFd::with_flags(
            &SigSet::all(),
            SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
        ) else {
            // Without it, signals cannot be taken while polling: go on with
            // what the single supervisor does best, waiting for SIGCHLD.
            error!("cannot take signals (signalfd); supervising without them");
            return self.run_without_signalfd();
        };
        while !self.finished() {
            let timeout = self.next_deadline().map(|at| {
                let left = at.saturating_duration_since(Instant::now());
                // Round up: waking a little early only loops.
                let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            });
            let (sig_ready, tail_ready, pipe_ready) = {
                let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
                if let Some(t) = &self.tails {
                    fds.push(PollFd::new(t.fd(), PollFlags::POLLIN));
                }
                let first_pipe = fds.len();
                for p in &self.pipes {
                    fds.push(PollFd::new(p.fd.as_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, timeout.unwrap_or(PollTimeout::NONE)) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        warn!("poll: {e}");
                        continue;
                    }
                }
                let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                let pipe_ready: Vec<bool> = fds[first_pipe..].iter().map(ready).collect();
                (
                    ready(&fds[0]),
                    self.tails.is_some() && ready(&fds[1]),
                    pipe_ready,
                )
            };
            if pipe_ready.iter().any(|r| *r) {
                self.read_pipes(&pipe_ready);
            }
            if tail_ready {
                if let Some(t) = self.tails.as_mut() {
                    t.on_ready();
                }
            }
            if sig_ready {
                while let Ok(Some(info)) = sfd.read_signal() {
                    let info = sys::SigInfo {
                        signo: info.ssi_signo as i32,
                        code: info.ssi_code,
                        pid: info.ssi_pid as i32,
                    };
                    if info.signo == libc::SIGCHLD {
                        self.on_child();
                    } else {
                        self.on_signal(info);
                    }
                }
            }
            self.on_clock(Instant::now());
        }
        // Output written by the last programs before they ended.
        let all = vec![true; self.pipes.len()];
        self.read_pipes(&all);
    }

    /// Only when no signalfd can be had: wait for SIGCHLD and deadlines.
    fn run_without_signalfd(&mut self) {
        let chld = {
            let mut s = SigSet::empty();
            s.add(nix::sys::signal::Signal::SIGCHLD);
            s
        };
        while !self.finished() {
            let left = self
                .next_deadline()
                .map(|at| at.saturating_duration_since(Instant::now()));
            if sys::wait_signal(&chld, left).is_some() {
                self.on_child();
            }
            self.on_clock(Instant::now());
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let restarts = self.programs.iter().filter_map(|p| p.restart_at);
        [self.kill_at, self.main_kill_at, self.shrink_at]
            .into_iter()
            .flatten()
            .chain(restarts)
            .min()
    }

    /// Every program ended and no child left (or given up after KILL).
    fn finished(&mut self) -> bool {
        if self.status.is_none() || self.programs.iter().any(|p| p.pid.is_some()) {
            return false;
        }
        if !self.none_left {
            // Nothing may come to say so (no child ever started): ask.
            self.on_child();
        }
        self.none_left
    }

    fn read_pipes(&mut self, ready: &[bool]) {
        let mut closed = Vec::new();
        for (i, pipe) in self.pipes.iter_mut().enumerate() {
            if !ready.get(i).copied().unwrap_or(false) {
                continue;
            }
            let mut buf = [0u8; 16 * 1024];
            loop {
                match nix::unistd::read(&pipe.fd, &mut buf) {
                    Ok(0) => {
                        pipe.lines.finish();
                        closed.push(i);
                        break;
                    }
                    Ok(n) => pipe.lines.feed(&buf[..n]),
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => break, // EAGAIN: all read for now.
                }
            }
        }
        for i in closed.into_iter().rev() {
            self.pipes.remove(i);
        }
    }

    fn on_child(&mut self) {
        let mut ended = Vec::new();
        let (signaled, named) = (&mut self.signaled, &mut self.named);
        self.none_left = reap::drain_all(|pid, status| {
            signaled.retain(|p| *p != pid);
            named.retain(|p| *p != pid);
            ended.push((pid, status));
        });
        for (pid, status) in ended {
            match self.programs.iter().position(|p| p.pid == Some(pid)) {
                Some(i) => self.on_exit(i, status),
                None => debug!(pid, ?status, "reaped"),
            }
        }
        // Orphans of what just ended are ours now.
        match self.stage {
            Stage::Term => self.signal_leftovers(libc::SIGTERM),
            Stage::Kill => self.signal_leftovers(libc::SIGKILL),
            Stage::Running => {}
        }
        if self.none_left && self.programs.iter().all(|p| p.pid.is_none()) {
            self.kill_at = None;
        }
    }

    /// Program `i` ended (or could not be started) with `status`.
    fn on_exit(&mut self, i: usize, status: Status) {
        let now = Instant::now();
        let stopping = self.stage != Stage::Running;
        let (restart_policy, max) = (self.several.restart, self.several.max_restarts);
        let p = &mut self.programs[i];
        let ran = now.saturating_duration_since(p.started);
        p.pid = None;
        if p.main {
            self.main_kill_at = None;
            p.ended = Some(status);
            info!("command '{}' {}", p.name, describe(status));
            self.stop_all(status);
            return;
        }
        if stopping {
            info!("side program '{}' {}", p.name, describe(status));
            p.ended = Some(status);
            // With no main command, the first to end after TERM says how
            // preflight exits.
            if !self.programs.iter().any(|p| p.main) {
                self.status.get_or_insert(status);
            }
            // Its own leftovers (a wrapper's children) are stopped too.
            if self.stage == Stage::Term {
                self.signal_leftovers(libc::SIGTERM);
            }
            return;
        }
        let clean = status == Status::Exited(0);
        let again = match restart_policy {
            Restart::No => false,
            Restart::OnFailure => !clean,
            Restart::Always => true,
        };
        if !again {
            p.ended = Some(status);
            if clean {
                info!("side program '{}' exited with status 0: done", p.name);
            } else {
                error!(
                    "side program '{}' {}: stopping everything",
                    p.name,
                    describe(status)
                );
            }
            let has_main = self.programs.iter().any(|p| p.main);
            if !clean || !has_main {
                self.stop_all(status);
            }
            return;
        }
        if ran >= Several::RESET_AFTER {
            p.restarts = 0;
        }
        if p.restarts >= max {
            p.ended = Some(status);
            error!(
                "side program '{}' {} and failed for good after {} restarts without {}s of running: stopping everything",
                p.name,
                describe(status),
                p.restarts,
                Several::RESET_AFTER.as_secs()
            );
            self.stop_all(status);
            return;
        }
        p.restarts += 1;
        let delay = restart::delay(p.restarts);
        p.restart_at = Some(now + delay);
        warn!(
            "side program '{}' {}; restart {} of {max} in {}",
            p.name,
            describe(status),
            p.restarts,
            humantime::format_duration(delay)
        );
    }

    /// Begin the end: no restart from now on; TERM to every program still
    /// running and every leftover; KILL after `--grace`. `status` is what
    /// preflight exits with, unless something ended it all before. When
    /// the stop had begun already (TERM came first), the leftovers of what
    /// ended now get TERM and a grace period of their own.
    fn stop_all(&mut self, status: Status) {
        self.status.get_or_insert(status);
        for p in &mut self.programs {
            if p.restart_at.take().is_some() {
                p.ended = Some(status);
            }
        }
        let fresh = self.stage == Stage::Running;
        self.begin_stop();
        if fresh {
            let running: Vec<i32> = self.programs.iter().filter_map(|p| p.pid).collect();
            if !running.is_empty() {
                info!(
                    "stopping everything: TERM, KILL after {}",
                    humantime::format_duration(self.opts.grace)
                );
            }
            for pid in running {
                send(self.target(pid), libc::SIGTERM);
            }
        }
        self.signal_leftovers(libc::SIGTERM);
    }

    /// The stop's clock: TERM now (sent by the caller), KILL after `--grace`.
    fn begin_stop(&mut self) {
        let now = Instant::now();
        self.stage = Stage::Term;
        self.term_at = Some(now);
        self.kill_at = Some(now + self.opts.grace);
        self.signaled.clear();
    }

    /// TERM (once each) or KILL to what is left of programs that ended:
    /// their groups, and every child of ours that is not a running program.
    fn signal_leftovers(&mut self, sig: i32) {
        let running: Vec<i32> = self.programs.iter().filter_map(|p| p.pid).collect();
        let groups: Vec<i32> = self
            .programs
            .iter()
            .filter(|p| p.pid.is_none())
            .filter_map(|p| p.group)
            .collect();
        // A child still in an ended program's group gets that group's
        // signal: named on its own too, it would get the signal twice.
        let in_groups = |pid: &i32| {
            nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(*pid)))
                .is_ok_and(|g| groups.contains(&g.as_raw()))
        };
        let mut who: Vec<i32> = procs::children()
            .into_iter()
            .filter(|pid| !running.contains(pid) && !in_groups(pid))
            .collect();
        who.extend(groups.iter().map(|g| -g));
        who.sort();
        who.dedup();
        if sig == libc::SIGTERM {
            who.retain(|w| !self.signaled.contains(w));
            self.signaled.extend(&who);
        } else {
            self.log_kill(&who);
        }
        for pid in who {
            send(pid, sig);
        }
    }

    fn on_clock(&mut self, now: Instant) {
        if self.shrink_at.is_some_and(|t| t <= now) {
            self.shrink_at = None;
            sys::shrink();
        }
        if self.main_kill_at.is_some_and(|t| t <= now) {
            self.main_kill_at = None;
            if let Some(pid) = self.programs.iter().find(|p| p.main).and_then(|p| p.pid) {
                let who = self.target(pid);
                self.log_kill(&[who]);
                send(who, libc::SIGKILL);
            }
        }
        for i in 0..self.programs.len() {
            if self.programs[i].restart_at.is_some_and(|t| t <= now) {
                info!("restarting side program '{}'", self.programs[i].name);
                if let Err(e) = self.start(i) {
                    error!("{}: {e}", self.programs[i].name);
                    self.programs[i].restart_at = None;
                    let status = e.exit_code_status();
                    self.on_exit(i, status);
                }
            }
        }
        if self.kill_at.is_none_or(|t| t > now) {
            return;
        }
        let main_running = self.programs.iter().any(|p| p.main && p.pid.is_some());
        match self.stage {
            Stage::Running => self.kill_at = None,
            Stage::Term => {
                self.stage = Stage::Kill;
                self.kill_at = Some(now + self.opts.grace);
                if self.pid1 && !main_running {
                    self.log_kill(&[-1]);
                    send(-1, libc::SIGKILL);
                    return;
                }
                // The main command is not ours to KILL (only --kill-after).
                let groups: Vec<i32> = self
                    .programs
                    .iter()
                    .filter(|p| !p.main)
                    .filter_map(|p| p.pid.map(|pid| -pid))
                    .collect();
                self.log_kill(&groups);
                for g in groups {
                    send(g, libc::SIGKILL);
                }
                self.signal_leftovers(libc::SIGKILL);
            }
            Stage::Kill if main_running => self.kill_at = None,
            Stage::Kill => {
                warn!("processes still left after KILL; leaving them");
                self.kill_at = None;
                self.none_left = true;
                for p in &mut self.programs {
                    p.pid = None;
                }
            }
        }
    }

    fn on_signal(&mut self, info: sys::SigInfo) {
        let sig = info.signo;
        if !signals::forwarded(sig) {
            debug!(sig = %Name(sig), "not forwarded");
            return;
        }
        if info.code == libc::SI_USER && info.pid == self.me {
            debug!(sig = %Name(sig), "raised by preflight's own doing: not forwarded");
            return;
        }
        let to = self.opts.rewritten(sig);
        if to == 0 {
            debug!(sig = %Name(sig), "dropped (--rewrite)");
            return;
        }
        debug!(sig = %Name(sig), to = %Name(to), "forwarding to every program");
        let running: Vec<i32> = self.programs.iter().filter_map(|p| p.pid).collect();
        for pid in &running {
            send(self.target(*pid), to);
        }
        if self.stage != Stage::Running {
            // During the stop, leftovers hear it too.
            for pid in procs::children() {
                if !running.contains(&pid) {
                    send(pid, to);
                }
            }
            return;
        }
        if sig == libc::SIGTERM || sig == libc::SIGINT {
            // The end: no restart from now on; KILL after --grace for what
            // is not the main command (which decides when preflight exits).
            for p in &mut self.programs {
                if p.restart_at.take().is_some() {
                    p.ended = Some(Status::Signaled(sig));
                }
            }
            self.begin_stop();
            if running.is_empty() && !self.programs.iter().any(|p| p.main) {
                self.status.get_or_insert(Status::Signaled(sig));
            }
        }
        if let (libc::SIGTERM, Some(after)) = (sig, self.opts.kill_after) {
            let now = Instant::now();
            self.term_at.get_or_insert(now);
            self.main_kill_at = Some(now + after);
        }
    }

    /// Where signals to a running program go.
    fn target(&self, pid: i32) -> i32 {
        if self.opts.signal_group { -pid } else { pid }
    }

    fn log_kill(&mut self, who: &[i32]) {
        let names = procs::describe(who, self.me, &mut self.named);
        if names.is_empty() {
            return;
        }
        let after = self
            .term_at
            .map(|t| format!("{:.1}s", t.elapsed().as_secs_f64()))
            .unwrap_or_else(|| "?".into());
        warn!("sending KILL to {names}: still running {after} after TERM");
    }
}

fn set_nonblocking(fd: &OwnedFd) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
    }
}

/// `kill`, logging instead of failing (ESRCH: it just ended).
fn send(pid: i32, sig: i32) {
    if let Err(e) = sys::kill(pid, sig) {
        if e.raw_os_error() != Some(libc::ESRCH) {
            warn!("cannot send {} to {pid}: {e}", Name(sig));
        }
    }
}
