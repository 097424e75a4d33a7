//! The one place with `unsafe` (besides the C `main` of the binary): thin
//! wrappers over system calls that have no safe binding (or whose safe
//! binding cannot say real-time signals: nix's `Signal` enum stops at 31, so
//! `kill`, `waitpid` and `sigwaitinfo` go through libc here), for the PID-1
//! core (`init`), and [`async_signalfd`], the signalfd that `wait` watches
//! on tokio's reactor. Every block says why it is sound. Only
//! [`async_signalfd`] names tokio: `init` never does.
//!
//! Linux is the home. Elsewhere (macOS, for local debugging) the supervisor
//! waits with `sigwait` and cannot time out: `--grace`, `--kill-after` and
//! hook timeouts only fire on Linux.

#![allow(unsafe_code)]

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::SigSet;

use crate::exit_code::Status;

/// The arguments C's start-up passed to `main`, the program's name first.
/// preflight's binary defines `main` itself (see `main.rs`), and std only
/// learns the arguments on its own with glibc: on musl `args_os()` is empty.
///
/// The array is remembered for [`scrub_args`].
///
/// # Safety
///
/// `argv` must hold `argc` pointers to NUL-terminated, writable strings
/// (null ones are skipped), valid for the rest of the process's life: what
/// C's start-up gives `main` (C11 5.1.2.2.1: "the strings pointed to by the
/// argv array shall be modifiable by the program").
pub unsafe fn args(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<OsString> {
    let count = usize::try_from(argc).unwrap_or(0);
    ARGV.store(argv.cast_mut().cast(), Ordering::Relaxed);
    ARGC.store(count, Ordering::Relaxed);
    let mut args = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: `i < argc`, within the array, as the caller promises.
        let arg = unsafe { *argv.add(i) };
        if arg.is_null() {
            continue;
        }
        // SAFETY: a NUL-terminated string, as the caller promises; copied
        // before the call returns.
        let bytes = unsafe { std::ffi::CStr::from_ptr(arg) }.to_bytes();
        args.push(OsString::from_vec(bytes.to_vec()));
    }
    args
}

/// Every signal, as a set to block or wait for: `sigfillset`, plus on musl
/// the three that musl keeps to itself (32 to 34: its `sigfillset` leaves
/// them out, and unblocked they would kill preflight, their default action,
/// when someone sends them; 34 is glibc's `SIGRTMIN`, which preflight
/// forwards). Blocking them costs preflight nothing: it never uses musl's
/// timers, thread cancellation or set*id broadcasts (`--user` changes ids in
/// the child, which runs alone). glibc's own two (32 and 33) stay out: its
/// `pthread_sigmask` would drop them anyway. Async-signal-safe.
pub fn every_signal() -> SigSet {
    // SAFETY: sigfillset fills the set it is given; an all-zero sigset_t is
    // a valid value to start from.
    let mut raw: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `raw` is valid for the call.
    unsafe { libc::sigfillset(&mut raw) };
    #[cfg(all(target_os = "linux", target_env = "musl"))]
    // SAFETY: on Linux a sigset_t starts with the kernel's 64-bit mask
    // (signal n is bit n-1), which is all `rt_sigprocmask` reads; the struct
    // is larger than 8 bytes and at least 8-aligned (an array of longs).
    unsafe {
        *(&mut raw as *mut libc::sigset_t as *mut u64) |= 0b111 << 31;
    }
    // SAFETY: built by sigfillset, then only bits of real signals set.
    unsafe { SigSet::from_sigset_t_unchecked(raw) }
}

/// `main`'s `argv` and `argc`, as [`args`] saw them (null: never called).
static ARGV: AtomicPtr<*mut libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
static ARGC: AtomicUsize = AtomicUsize::new(0);

/// Overwrite every occurrence of each of `secrets` in preflight's own
/// arguments with `*`, in place: `/proc/PID/cmdline` (which `ps` shows to
/// every user, the `--user` child included) reads that memory. Same length,
/// so the arguments stay where they were. Does nothing if [`args`] was never
/// called (tests).
pub fn scrub_args(secrets: &[&[u8]]) {
    let argv = ARGV.load(Ordering::Relaxed);
    if argv.is_null() {
        return;
    }
    for i in 0..ARGC.load(Ordering::Relaxed) {
        // SAFETY: `i < argc`, within the array [`args`] was given, which
        // lives as long as the process (its contract).
        let arg = unsafe { *argv.add(i) };
        if arg.is_null() {
            continue;
        }
        // SAFETY: a NUL-terminated string (the contract of [`args`]).
        let len = unsafe { libc::strlen(arg) };
        // SAFETY: `len` bytes before the NUL are the argument's own, and
        // writable (C11 5.1.2.2.1); nothing else refers to them: [`args`]
        // copied them, and only this thread runs now.
        let bytes = unsafe { std::slice::from_raw_parts_mut(arg.cast::<u8>(), len) };
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            let mut at = 0;
            while let Some(i) = bytes[at..].windows(secret.len()).position(|w| w == *secret) {
                let start = at + i;
                bytes[start..start + secret.len()].fill(b'*');
                at = start + secret.len();
            }
        }
    }
}

/// The highest signal number (`SIGRTMAX`, 64 on Linux).
pub fn max_signal() -> i32 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        libc::SIGRTMAX()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        31
    }
}

/// Set every signal's disposition back to `SIG_DFL`. Signals that
/// cannot be changed (KILL, STOP, glibc's internal 32 and 33) fail with
/// EINVAL, which is fine.
pub fn reset_dispositions() {
    for sig in 1..=max_signal() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `sigaction` with a zeroed struct whose handler is SIG_DFL
        // installs no code of ours; the old action is not asked for.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

/// Open /dev/null on each of descriptors 0, 1 and 2 that is closed, as std
/// does before `main` (preflight's binary skips std's start-up: see
/// `main.rs`). Otherwise the first file or socket preflight opens would take
/// the place of stdin or stdout, and the child would inherit it there.
/// Aborts if /dev/null cannot be opened, as std does.
pub fn sanitize_standard_fds() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is valid for the call, and its length is the count given.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if rc < 0 {
        // poll itself failed (EINTR, ENOMEM): std then checks each with fcntl.
        for fd in &mut fds {
            // SAFETY: F_GETFD takes and returns integers.
            if unsafe { libc::fcntl(fd.fd, libc::F_GETFD) } == -1 {
                fd.revents = libc::POLLNVAL;
            }
        }
    }
    for fd in fds {
        if fd.revents & libc::POLLNVAL == 0 {
            continue;
        }
        // SAFETY: a NUL-terminated path; the lowest free descriptor, which is
        // `fd.fd` since the lower ones are open by now.
        if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            std::process::abort();
        }
    }
}

/// The C library's internal signals (glibc: 32 and 33; musl: 32 to 34)
/// cannot be changed through `sigaction`, but glibc's `posix_spawn` leaves
/// glibc's two *ignored* in a child of a threaded parent (cargo's test
/// runner, for one), ignored survives exec, and preflight (musl's or glibc's)
/// would pass that on. Only for the child, right before exec: preflight
/// itself keeps its libc's settings.
#[cfg(target_os = "linux")]
fn reset_internal_dispositions() {
    for sig in [32, 33, 34] {
        // All-zero is SIG_DFL, no flags, empty mask, whatever the
        // architecture's field order; 32 bytes cover every layout.
        let act = [0u64; 4];
        // SAFETY: rt_sigaction reads `act` (valid, large enough) and writes
        // nothing back (null old action); 8 is the kernel's sigset size.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig as libc::c_long,
                act.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8 as libc::c_long,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn reset_internal_dispositions() {}

/// Set the calling thread's signal mask to exactly `set`. Async-signal-safe.
fn set_mask(set: &SigSet) -> io::Result<()> {
    // SAFETY: both pointers are valid for the call; no old mask is asked for.
    let rc =
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, set.as_ref(), std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// `kill(2)` with any signal number, real-time ones included. A negative
/// `pid` names a process group; `-1` every process we may signal.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One signal taken from the pending set.
#[derive(Debug, Clone, Copy)]
pub struct SigInfo {
    pub signo: i32,
    /// `si_code`: `SI_USER` (0) for `kill`, `SI_QUEUE`/`SI_TKILL` (< 0)
    /// for other calls, > 0 when the kernel raised it.
    pub code: i32,
    /// The sender, for `kill`-like codes (0 if it lives outside our PID
    /// namespace).
    pub pid: i32,
}

/// Take one pending signal of `set`, blocking until one comes, or for at
/// most `timeout` if given. `None`: the timeout passed, or the wait was
/// interrupted (a stop and continue); the caller looks at its clock again.
/// The signals of `set` must be blocked.
pub fn wait_signal(set: &SigSet, timeout: Option<Duration>) -> Option<SigInfo> {
    imp::wait_signal(set, timeout)
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;

    pub fn wait_signal(set: &SigSet, timeout: Option<Duration>) -> Option<SigInfo> {
        // SAFETY: siginfo_t is plain data; all-zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = match timeout {
            None => {
                // SAFETY: `set` and `info` are valid for the call.
                unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) }
            }
            Some(t) => {
                let ts = libc::timespec {
                    // `time_t` without naming it (deprecated on musl, whose is 64-bit).
                    tv_sec: t.as_secs().try_into().unwrap_or(i32::MAX.into()),
                    tv_nsec: t.subsec_nanos() as libc::c_long,
                };
                // SAFETY: `set`, `info` and `ts` are valid for the call.
                unsafe { libc::sigtimedwait(set.as_ref(), &mut info, &ts) }
            }
        };
        if rc <= 0 {
            // EAGAIN: timed out; EINTR: stopped and continued.
            return None;
        }
        // SAFETY: si_pid reads the kill/queue member of the union, which
        // the kernel fills (or leaves zero) for every signal it reports.
        let pid = unsafe { info.si_pid() };
        Some(SigInfo {
            signo: rc,
            code: info.si_code,
            pid,
        })
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    pub fn wait_signal(set: &SigSet, _timeout: Option<Duration>) -> Option<SigInfo> {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` and `sig` are valid for the call.
        if unsafe { libc::sigwait(set.as_ref(), &mut sig) } != 0 {
            return None;
        }
        Some(SigInfo {
            signo: sig,
            code: 0,
            pid: 0,
        })
    }
}

/// What one `waitpid(-1, WNOHANG)` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// A child ended and is gone now.
    Child(i32, Status),
    /// Children exist, none has ended.
    Running,
    /// No child at all (ECHILD).
    NoChildren,
}

/// Reap one ended child, if any, without blocking.
pub fn reap_one() -> io::Result<Reaped> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is valid for the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            let st = if libc::WIFSIGNALED(status) {
                Status::Signaled(libc::WTERMSIG(status))
            } else {
                Status::Exited(libc::WEXITSTATUS(status) as u8)
            };
            return Ok(Reaped::Child(pid, st));
        }
        if pid == 0 {
            return Ok(Reaped::Running);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ECHILD) => return Ok(Reaped::NoChildren),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// What the child does between fork and exec, decided before the fork (the
/// child may not allocate: other threads, such as tokio's leftover DNS
/// threads, may hold the allocator's lock at the moment of the fork).
#[derive(Debug, Clone, Default)]
pub struct ChildSetup {
    /// Start a process group of its own (`setpgid(0, 0)`).
    pub new_group: bool,
    /// If stdin is a terminal whose foreground is our process group, hand the
    /// foreground to the child's new group.
    pub take_terminal: bool,
    /// `(uid, gid, supplementary groups)` to switch to.
    pub credentials: Option<(libc::uid_t, libc::gid_t, Vec<libc::gid_t>)>,
    /// `PR_SET_PDEATHSIG`, and the parent it is about (Linux).
    pub pdeathsig: Option<(i32, i32)>,
}

impl ChildSetup {
    /// Install this setup to run in the child, after std's own (dup2 of the
    /// stdio, empty signal mask) and before `execvp`.
    pub fn install(self, cmd: &mut std::process::Command) {
        // SAFETY: `apply` only makes async-signal-safe system calls on data
        // that was allocated before the fork (see `ChildSetup`).
        unsafe {
            cmd.pre_exec(move || self.apply());
        }
    }

    /// Runs in the child. Order matters:
    /// 1. block every signal again (std emptied the mask), so nothing sent to
    ///    the new group can act on a half-made child and `tcsetpgrp` from a
    ///    background group does not stop it with SIGTTOU (as tini does);
    /// 2. default dispositions, so a signal preflight was started with
    ///    ignored is not passed on (tini and catatonit pass them on). Those
    ///    the child inherits from preflight: [`crate::init::signals::block_all`]
    ///    set every one to default at start, and preflight never installs a
    ///    handler or ignores a signal after that (it only takes blocked
    ///    ones), so 62 more `sigaction` calls here would change nothing.
    ///    Only the C library's internal ones, which preflight cannot reset
    ///    for itself through its libc, are reset here;
    /// 3. own group, then the terminal's foreground for it;
    /// 4. groups, gid, uid: a uid change clears PDEATHSIG, so that comes
    ///    after; if the parent already died, signal ourselves;
    /// 5. empty mask: pending signals act now, before exec, with default
    ///    dispositions, as they would right after it.
    fn apply(&self) -> io::Result<()> {
        set_mask(&every_signal())?;
        reset_internal_dispositions();
        // SAFETY (this block): each call takes integers or pointers to data
        // owned by `self`, valid for the call; none allocates.
        unsafe {
            let foreground = self.take_terminal
                && libc::isatty(libc::STDIN_FILENO) == 1
                && libc::tcgetpgrp(libc::STDIN_FILENO) == libc::getpgrp();
            if self.new_group && libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if foreground && libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid()) != 0 {
                let err = io::Error::last_os_error();
                // Not our controlling terminal, or it went away: go on
                // without it, as tini does.
                if !matches!(err.raw_os_error(), Some(libc::ENOTTY | libc::ENXIO)) {
                    return Err(err);
                }
            }
            if let Some((uid, gid, groups)) = &self.credentials {
                if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                    || libc::setgid(*gid) != 0
                    || libc::setuid(*uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            #[cfg(target_os = "linux")]
            if let Some((sig, parent)) = self.pdeathsig {
                if libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::kill(libc::getpid(), sig);
                }
            }
        }
        set_mask(&SigSet::empty())
    }
}

/// `PR_SET_PDEATHSIG` for preflight itself: when our parent dies, `sig`
/// becomes pending and is forwarded like any other signal.
#[cfg(target_os = "linux")]
pub fn set_own_pdeathsig(sig: i32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub fn set_own_pdeathsig(_sig: i32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "parent-death signals are Linux-only",
    ))
}

/// Give back the memory that start-up needed and supervising never will:
/// the supervisor lives as long as the container, and its RSS is counted
/// against it.
///
/// - freed heap pages (glibc keeps them; musl's allocator gives them back on
///   its own): what parsing and waiting allocated;
/// - our own code. The kernel maps a static binary's code 64 KiB around each
///   page touched (fault-around), so the code of clap, tokio and rustls that
///   start-up ran stays in our RSS although the loop needs a few pages.
///   `MADV_DONTNEED` unmaps it from this process only: the page cache keeps
///   it, so the next start of the same file (a `preflight check`
///   healthcheck, another replica) finds it there. (`MADV_PAGEOUT`, used
///   before, also evicted it from the page cache: every later start read it
///   back from disk, ≈ 0.15 ms slower.) Only executable mappings are given
///   up: their content is never written, so faulting a page back brings the
///   same bytes, whereas read-only data may hold relocated pointers (RELRO).
///
/// The ranges are read from /proc/self/maps first and the advice given last,
/// so that little code runs between the unmapping and the next wait.
/// Measured in the README ("Memory"). It costs a few hundred microseconds,
/// hence done once the command has run a while (see the supervisor), not on
/// the start-up path.
pub fn shrink() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
    #[cfg(target_os = "linux")]
    drop_own_code();
}

/// `MADV_DONTNEED` on each non-writable mapping of our executable that
/// holds only the file's bytes: code and read-only data, not the RELRO
/// segment (pointers the start-up code relocated, then made read-only).
#[cfg(target_os = "linux")]
fn drop_own_code() {
    // A static binary has three or four read-only mappings; room for a few.
    let mut ranges = [(0usize, 0usize); 6];
    let mut n = 0;
    {
        let (Ok(maps), Ok(exe)) = (
            std::fs::read_to_string("/proc/self/maps"),
            std::fs::read_link("/proc/self/exe"),
        ) else {
            return;
        };
        let exe = exe.to_string_lossy();
        let relro = relro();
        let mut bias = None;
        for line in maps.lines() {
            // `start-end perms offset dev inode path`
            let mut fields = line.split_whitespace();
            let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
                continue;
            };
            let offset = fields
                .next()
                .and_then(|o| usize::from_str_radix(o, 16).ok());
            if fields.nth(2) != Some(&*exe) || perms.contains('w') {
                continue;
            }
            let Some((start, end)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(end), Some(offset)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
                offset,
            ) else {
                continue;
            };
            // Where the file is loaded: its first mapping holds the start of
            // the file, which the headers place at `first`.
            if let (0, Some(Some(r))) = (offset, relro) {
                bias = Some(start.wrapping_sub(r.first));
            }
            // Data that may have been relocated is kept: all of it when
            // where RELRO lies is unknown.
            let keep = match (relro, bias) {
                (Some(Some(r)), Some(bias)) => {
                    start < bias.wrapping_add(r.end) && bias.wrapping_add(r.start) < end
                }
                (Some(None), _) => false,
                _ => !perms.contains('x'),
            };
            if let (false, Some(slot)) = (keep, ranges.get_mut(n)) {
                *slot = (start, end);
                n += 1;
            }
        }
    }
    for &(start, end) in &ranges[..n] {
        // SAFETY: one of our own non-writable file mappings that relocation
        // never wrote to (see `relro`), as the kernel lists it: a page
        // faulted back in after this is read again from the same file,
        // with the same bytes.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// Where our executable's RELRO segment lies, in the addresses its headers
/// give (before the load address is added).
#[cfg(target_os = "linux")]
#[derive(Clone, Copy)]
struct Relro {
    start: usize,
    end: usize,
    /// The address of the file's first byte (the `PT_LOAD` at offset 0).
    first: usize,
}

/// Our executable's RELRO segment: `Some(None)` if it has none, `None` if
/// that cannot be told.
#[cfg(target_os = "linux")]
fn relro() -> Option<Option<Relro>> {
    // SAFETY: getauxval only reads the auxiliary vector the kernel gave us.
    let (phdr, phnum) = unsafe {
        (
            libc::getauxval(libc::AT_PHDR) as usize,
            libc::getauxval(libc::AT_PHNUM) as usize,
        )
    };
    if phdr == 0 || phnum == 0 || cfg!(not(target_pointer_width = "64")) {
        return None;
    }
    // SAFETY: AT_PHDR and AT_PHNUM describe our own program headers, which
    // the kernel mapped with the executable, for the life of the process.
    let headers = unsafe { std::slice::from_raw_parts(phdr as *const libc::Elf64_Phdr, phnum) };
    let Some(relro) = headers.iter().find(|h| h.p_type == libc::PT_GNU_RELRO) else {
        return Some(None);
    };
    let first = headers
        .iter()
        .find(|h| h.p_type == libc::PT_LOAD && h.p_offset == 0)?;
    Some(Some(Relro {
        start: relro.p_vaddr as usize,
        end: (relro.p_vaddr + relro.p_memsz) as usize,
        first: first.p_vaddr as usize,
    }))
}

/// A signalfd on tokio's reactor: how `wait` takes signals (see
/// `wait::interrupt`). tokio's only way to watch a descriptor that is not a
/// socket or a pipe is `unsafe`; it is here so that `unsafe` stays in this
/// one module. The signalfd is never handed out, so nothing can close or
/// swap it while tokio watches it.
#[cfg(target_os = "linux")]
pub struct AsyncSignalFd(tokio::io::unix::AsyncFd<nix::sys::signalfd::SignalFd>);

#[cfg(target_os = "linux")]
impl AsyncSignalFd {
    /// A non-blocking, CLOEXEC signalfd for `set` (which must be blocked),
    /// registered with the current tokio runtime (I/O enabled).
    pub fn new(set: &SigSet) -> io::Result<AsyncSignalFd> {
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        let fd = SignalFd::with_flags(set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        // SAFETY: tokio requires the descriptor to stay open, and the same
        // one, for as long as the AsyncFd lives. The AsyncFd owns the
        // SignalFd, which closes its descriptor only when dropped (after
        // tokio deregistered it), and no `&mut` to it ever leaves this type,
        // so it is never swapped for another.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
        }?;
        Ok(AsyncSignalFd(fd))
    }

    /// The next signal taken from the set.
    pub async fn next(&self) -> io::Result<libc::signalfd_siginfo> {
        loop {
            let mut guard = self.0.readable().await?;
            match guard.get_inner().read_signal() {
                Ok(Some(info)) => return Ok(info),
                Ok(None) => guard.clear_ready(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// Our executable's non-writable mappings: (start, end, perms, resident
    /// KiB), from smaps.
    fn own_mappings() -> Vec<(usize, usize, String, u64)> {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let exe = exe.to_string_lossy();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut out: Vec<(usize, usize, String, u64)> = Vec::new();
        let mut ours = false;
        for line in smaps.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.first().is_some_and(|f| f.contains('-')) && !line.ends_with(" kB") {
                // A mapping's header: `start-end perms offset dev inode path`.
                ours = fields.get(5) == Some(&&*exe) && !fields[1].contains('w');
                if ours {
                    let (start, end) = fields[0].split_once('-').unwrap();
                    let hex = |h| usize::from_str_radix(h, 16).unwrap();
                    out.push((hex(start), hex(end), fields[1].to_string(), 0));
                }
            } else if let (true, ["Rss:", n, "kB"]) = (ours, fields.as_slice()) {
                out.last_mut().unwrap().3 = n.parse().unwrap();
            }
        }
        out
    }

    #[test]
    fn shrink_gives_back_our_code_and_read_only_data_but_keeps_relro() {
        // Alone in a process of its own: other tests' threads would fault
        // code back in between the two readings.
        const ALONE: &str = "PREFLIGHT_TEST_SHRINK_ALONE";
        if std::env::var_os(ALONE).is_none() {
            let name = "sys::tests::shrink_gives_back_our_code_and_read_only_data_but_keeps_relro";
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([name, "--exact", "--nocapture", "--test-threads=1"])
                .env(ALONE, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(text.contains("1 passed"), "{text}");
            return;
        }
        let before = own_mappings();
        super::shrink();
        let after = own_mappings();
        // Relocated data kept: the code faulted back in runs as before.
        let sum: u64 = (1..=100u64).map(|n| n * n).sum();
        assert_eq!(sum, 338_350);
        let relro = super::relro().unwrap().unwrap();
        let bias = before[0].0 - relro.first;
        let (relro_start, relro_end) = (bias + relro.start, bias + relro.end);
        assert_eq!(before.len(), after.len(), "{before:x?} then {after:x?}");
        let mut checked = Vec::new();
        for (b, a) in before.iter().zip(&after) {
            let in_relro = b.0 < relro_end && relro_start < b.1;
            if in_relro {
                assert!(a.3 >= b.3, "RELRO given back: {b:x?} then {a:x?}");
            } else if b.3 >= 256 {
                // What this test runs after `shrink` faults some back (64
                // KiB around each page touched); without `shrink` it grows.
                assert!(a.3 < b.3, "{} KiB kept: {b:x?} then {a:x?}", a.3);
                checked.push(&b.2);
            }
        }
        // The code and, before it, the headers and read-only data.
        assert!(checked.len() >= 2, "{before:x?}");
        assert!(checked.iter().any(|p| p.contains('x')), "{before:x?}");
    }
}
