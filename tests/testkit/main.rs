//! `preflight-testkit`: the programs the init tests run under preflight. Each
//! subcommand is one small behaviour the tests observe on stdout; long-lived
//! ones print `ready <pid>` first, so a test waits for that line instead of
//! sleeping (dumb-init's `print_signals`). Not shipped: a test helper only.
//!
//! ```text
//! signals [--children N]   record every signal: `<pid> <signo>` per line
//! exit N                   exit with N
//! kill-self SIG            die of SIG
//! orphans N                leave N double-forked orphans, then wait for EOF on stdin
//! fds                      `fds 0 1 2`: every open descriptor
//! std-fds                  on stderr, what 0 and 1 are (`/dev/null`, `closed`)
//! sigstate                 SigBlk/SigIgn/SigCgt from /proc/self/status
//! ids                      `pid P ppid Q pgid G`
//! cwd                      the working directory
//! tty                      `foreground`, `background` or `no tty`, for stdin
//! flush-on-term FILE       on TERM, write `flushed` to FILE and exit 0
//! ignore-term              block TERM and never take it
//! wait-stdin               print ready, exit 0 at EOF on stdin
//! background CMD...        start CMD, pass its first line on, exit 0 (CMD stays)
//! detach CMD...            start CMD on this stdout, exit 0 once it has blocked
//!                          every signal (as `signals` does first; CMD stays)
//! ignoring -- CMD...       exec CMD with INT, TERM, HUP, USR1 ignored, USR2 blocked
//! pending SIG -- CMD...    exec CMD with SIG blocked and pending
//! peak-rss -- CMD...       run CMD, then `peak_rss_kib N`: its VmHWM (getrusage
//!                          of our only child), exit with its code
//! crash-times FILE N       count runs in FILE: exit 1 the first N times, then
//!                          act as `signals`
//! write-lines              a partial line, a long one and one without a newline,
//!                          on stdout and stderr, then exit 0
//! ```

#![allow(unsafe_code)]
// No Rust runtime start-up: it would ignore SIGPIPE and catch SEGV and BUS
// (stack overflow detection), and `sigstate` must see only what preflight
// handed over. std works without it on Linux.
#![no_main]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    run();
    0
}

fn run() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["signals"] => signals(0),
        ["signals", "--children", n] => signals(n.parse().unwrap()),
        ["exit", n] => std::process::exit(n.parse().unwrap()),
        ["kill-self", sig] => kill_self(preflight::init::signals::parse(sig).unwrap()),
        ["orphans", n] => orphans(n.parse().unwrap()),
        ["fds"] => fds(),
        ["std-fds"] => std_fds(),
        ["sigstate"] => sigstate(),
        ["ids"] => ids(),
        ["cwd"] => line(&std::env::current_dir().unwrap().display().to_string()),
        ["tty"] => tty(),
        ["flush-on-term", file] => flush_on_term(file),
        ["ignore-term"] => ignore_term(),
        ["wait-stdin"] => {
            ready();
            wait_stdin()
        }
        ["background", cmd @ ..] => background(cmd),
        ["detach", cmd @ ..] => detach(cmd),
        ["ignoring", "--", cmd @ ..] => ignoring(cmd),
        ["pending", sig, "--", cmd @ ..] => {
            pending(preflight::init::signals::parse(sig).unwrap(), cmd)
        }
        ["peak-rss", "--", cmd @ ..] => peak_rss(cmd),
        ["crash-times", file, n] => crash_times(file, n.parse().unwrap()),
        ["write-lines"] => write_lines(),
        _ => {
            eprintln!("preflight-testkit: unknown arguments {args:?}");
            std::process::exit(2);
        }
    }
}

/// Run `cmd` to its end; its peak resident memory is ours to read once it is
/// reaped: it is the only child this process ever had.
fn peak_rss(cmd: &[&str]) {
    use std::os::unix::process::ExitStatusExt;
    let status = Command::new(cmd[0]).args(&cmd[1..]).status().unwrap();
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    line(&format!("peak_rss_kib {}", usage.max_rss()));
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    std::process::exit(code);
}

/// One line on stdout in one write (several processes may share the pipe);
/// a closed pipe is not an error here.
fn line(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{s}\n").as_bytes());
    let _ = out.flush();
}

fn ready() {
    line(&format!("ready {}", std::process::id()));
}

fn block_all() {
    SigSet::all().thread_block().unwrap();
}

/// Take signals as they come (all blocked), one line each.
fn record_signals() -> ! {
    let all = SigSet::all();
    loop {
        // SAFETY: siginfo_t is plain data; `all` and `info` are valid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(all.as_ref(), &mut info) };
        if sig > 0 {
            line(&format!("{} {sig}", std::process::id()));
        }
    }
}

fn signals(children: usize) {
    block_all();
    for _ in 0..children {
        // SAFETY: single-threaded here; the child only prints and waits.
        if let nix::unistd::ForkResult::Child = unsafe { nix::unistd::fork() }.unwrap() {
            ready();
            record_signals();
        }
    }
    ready();
    record_signals();
}

fn kill_self(sig: i32) {
    // SAFETY: plain integers.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::kill(libc::getpid(), sig);
    }
    SigSet::all().thread_unblock().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    std::process::exit(99);
}

fn orphans(n: usize) {
    for _ in 0..n {
        // SAFETY: single-threaded; the children only fork and _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let _ = unsafe { nix::unistd::fork() };
                unsafe { libc::_exit(0) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).unwrap();
            }
        }
    }
    ready();
    wait_stdin();
}

fn std_fds() {
    let what = |fd: i32| match std::fs::read_link(format!("/proc/self/fd/{fd}")) {
        Ok(path) => path.display().to_string(),
        Err(_) => "closed".to_string(),
    };
    eprintln!("std-fds {} {}", what(0), what(1));
}

fn fds() {
    let open: Vec<String> = (0..1024)
        .filter(|fd| {
            // SAFETY: F_GETFD on any number only reads the descriptor table.
            let flags = unsafe { libc::fcntl(*fd, libc::F_GETFD) };
            flags != -1
        })
        .map(|fd| fd.to_string())
        .collect();
    line(&format!("fds {}", open.join(" ")));
}

fn sigstate() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    for l in status.lines() {
        if l.starts_with("SigBlk:") || l.starts_with("SigIgn:") || l.starts_with("SigCgt:") {
            line(&l.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
}

fn ids() {
    line(&format!(
        "pid {} ppid {} pgid {}",
        std::process::id(),
        nix::unistd::getppid(),
        nix::unistd::getpgrp()
    ));
}

fn tty() {
    // SAFETY: plain integers.
    let (is_tty, fg, own) = unsafe { (libc::isatty(0) == 1, libc::tcgetpgrp(0), libc::getpgrp()) };
    line(match (is_tty, fg == own) {
        (false, _) => "no tty",
        (true, true) => "foreground",
        (true, false) => "background",
    });
}

fn flush_on_term(file: &str) {
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    term.thread_block().unwrap();
    ready();
    term.wait().unwrap();
    // Flushing takes a moment.
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write(file, "flushed\n").unwrap();
    std::process::exit(0);
}

fn ignore_term() {
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    term.thread_block().unwrap();
    ready();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn wait_stdin() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    std::process::exit(0);
}

fn background(cmd: &[&str]) {
    let mut child = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    line(first.trim_end());
    std::process::exit(0);
}

fn detach(cmd: &[&str]) {
    let child = Command::new(cmd[0]).args(&cmd[1..]).spawn().unwrap();
    let proc = format!("/proc/{}", child.id());
    let read = |file: &str| std::fs::read_to_string(format!("{proc}/{file}")).unwrap();
    // `signals` blocks everything first: from then on a signal is recorded,
    // not fatal, and its lines reach our stdout (which it shares) directly.
    // Ready: exec'd (between fork and exec the child has every signal
    // blocked, by glibc's posix_spawn, and our command line), then every
    // classic signal but KILL and STOP blocked, or already waiting in
    // sigwaitinfo (which shows the waited-for signals as unblocked).
    let argv: String = cmd.iter().map(|a| format!("{a}\0")).collect();
    let classic = 0x7ffb_feff_u64;
    let ready = || {
        if read("cmdline") != argv {
            return false;
        }
        let mask = read("status")
            .lines()
            .find_map(|l| l.strip_prefix("SigBlk:"))
            .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
            .unwrap();
        mask & classic == classic || read("wchan").contains("sigtimedwait")
    };
    while !ready() {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::process::exit(0);
}

fn ignoring(cmd: &[&str]) {
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGUSR1,
    ] {
        // SAFETY: SIG_IGN installs no code.
        unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigIgn) }.unwrap();
    }
    let mut usr2 = SigSet::empty();
    usr2.add(Signal::SIGUSR2);
    usr2.thread_block().unwrap();
    let e = Command::new(cmd[0]).args(&cmd[1..]).exec();
    panic!("exec {cmd:?}: {e}");
}

fn pending(sig: i32, cmd: &[&str]) {
    // Block it, have another process send it (so its sender is not the
    // program we become): it stays pending through exec, with the mask.
    // SAFETY: `set` is a valid, initialised sigset for each call; the forked
    // child only sends a signal and _exits.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let me = libc::getpid();
        match nix::unistd::fork().unwrap() {
            nix::unistd::ForkResult::Child => {
                libc::kill(me, sig);
                libc::_exit(0);
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).unwrap();
            }
        }
    }
    let e = Command::new(cmd[0]).args(&cmd[1..]).exec();
    panic!("exec {cmd:?}: {e}");
}

/// Exit 1 for the first `n` runs (counted in `file`), then record signals.
fn crash_times(file: &str, n: u32) {
    let runs = std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0)
        + 1;
    std::fs::write(file, runs.to_string()).unwrap();
    if runs <= n {
        std::process::exit(1);
    }
    signals(0);
}

/// Lines as programs really write them: in pieces, long, and a last one
/// without its newline.
fn write_lines() {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let _ = out.write_all(b"first ");
    let _ = out.flush();
    std::thread::sleep(Duration::from_millis(50));
    let _ = out.write_all(b"half\n");
    let _ = err.write_all(b"on stderr\n");
    let long = "x".repeat(100_000);
    let _ = out.write_all(format!("{long}\n").as_bytes());
    let _ = out.write_all(b"two\nlines\n");
    let _ = err.write_all(b"no newline");
    let _ = out.flush();
}
