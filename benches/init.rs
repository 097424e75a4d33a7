//! Whole-process comparisons of preflight's init with the tools people use
//! instead (tini, tini-static, dumb-init, catatonit), side by side in one run.
//!
//! `cargo bench --bench init` builds the release binary and prints four
//! tables; DESIGN.md's "Performance budget" says what each must show:
//!
//! 1. **start-up**: `TOOL -- true`, as a plain process and as PID 1 (under
//!    `unshare --pid --fork --mount-proc`), against `true` alone. Each run
//!    is a whole process, timed from spawn to the end of a `wait4` that
//!    blocks (no polling to quantise it), which also gives its CPU time
//!    (user + system), which a busy machine disturbs less. Tools are
//!    interleaved run by run, and what is reported is the median of the
//!    differences paired by round (tool − `true`, preflight − tini-static),
//!    so noise that hits one round hits both sides. Two copies of the
//!    preflight binary are measured beside it: one fresh, one that has
//!    supervised a command past its memory shrink (a shrink that evicted
//!    the binary from the page cache made every later start slower).
//! 2. **memory and idle wake-ups** while supervising `sleep 1000`: VmRSS
//!    0.1 s after the start (before preflight gives back its start-up
//!    memory, at 0.2 s) and after the idle period, VmHWM, RssAnon/RssFile, threads (`/proc/PID/status`) and the context
//!    switches of all its threads over an idle period. RssFile is the
//!    executable's pages mapped from the page cache (shared by every process
//!    of the same binary; the kernel maps up to 64 KiB around each page
//!    touched, so for a static binary it grows with the binary's size);
//!    RssAnon is what this process alone costs.
//! 3. **orphans**: a child that double-forks N short-lived processes and
//!    exits (this bench binary re-executed as `__orphans N`); time from start
//!    to the supervisor's exit. As a plain process the bench registers as
//!    child subreaper, so whatever a supervisor leaves behind comes back to
//!    the bench and is counted ("left"). As PID 1 the kernel kills and reaps
//!    what is left when PID 1 exits, so nothing can be counted there.
//! 4. **TERM**: time from `kill -TERM <supervisor>` to its exit (for PID 1:
//!    to `unshare`'s exit) when its child, `sleep`, dies of TERM.
//!
//! Each table is followed by its DESIGN.md budget, met or MISSED, beside the
//! anchor's figure (tini-static); the header names every binary measured
//! (path, size, inode, a hash of its bytes) and the size budget.
//!
//! Nothing here fails on a machine without these tools: a missing tool, a
//! binary that does not run (preflight's init core before it existed), or an
//! `unshare` that is not permitted is skipped with a printed reason.
//!
//! `cargo bench` builds preflight with the `bench` profile and glibc, which
//! is not what ships. For figures of the shipped binary, point
//! `PREFLIGHT_BIN` at it: `PREFLIGHT_BIN=$(scripts/release.sh) cargo bench
//! --bench init`.
//!
//! Knobs (environment): `PREFLIGHT_BIN` measures another preflight binary;
//! `PREFLIGHT_BENCH_RUNS` (start-up runs per tool, default 300),
//! `PREFLIGHT_BENCH_IDLE_SECS` (3), `PREFLIGHT_BENCH_ORPHANS` (10000),
//! `PREFLIGHT_BENCH_ORPHAN_RUNS` (5), `PREFLIGHT_BENCH_TERM_RUNS` (50),
//! `PREFLIGHT_BENCH_ONLY` (comma-separated sections: startup, memory,
//! orphans, term); `PREFLIGHT_BENCH_EXTRA=NAME=PATH,...` measures other
//! preflight builds alongside (a non-PIE build, another branch's). Every
//! `PREFLIGHT_*` variable is removed from the measured processes'
//! environment.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).map(OsString::as_os_str) == Some(OsStr::new("__orphans")) {
        let n = args
            .get(2)
            .and_then(|s| s.to_str()?.parse().ok())
            .unwrap_or(10_000);
        make_orphans(n);
    }

    let settings = Settings::from_env();
    let tools = Tools::find();
    print_header(&tools);

    if settings.wants("startup") {
        startup(&tools, settings.runs);
    }
    if settings.wants("memory") {
        memory(&tools, settings.idle);
    }
    if settings.wants("orphans") {
        orphans(&tools, settings.orphans, settings.orphan_runs);
    }
    if settings.wants("term") {
        term(&tools, settings.term_runs);
    }
    println!("\nload average at the end: {}", load_average());
    let _ = fs::remove_dir_all(
        std::env::temp_dir().join(format!("preflight-bench-{}", std::process::id())),
    );
}

// ---------------------------------------------------------------------------
// Settings and tools

struct Settings {
    runs: usize,
    idle: Duration,
    orphans: usize,
    orphan_runs: usize,
    term_runs: usize,
    only: Option<Vec<String>>,
}

impl Settings {
    fn from_env() -> Settings {
        fn num(name: &str, default: usize) -> usize {
            match std::env::var(name) {
                Ok(v) => v.parse().unwrap_or_else(|_| {
                    println!("{name}={v:?} is not a number; using {default}");
                    default
                }),
                Err(_) => default,
            }
        }
        Settings {
            runs: num("PREFLIGHT_BENCH_RUNS", 300).max(1),
            idle: Duration::from_secs(num("PREFLIGHT_BENCH_IDLE_SECS", 3) as u64),
            orphans: num("PREFLIGHT_BENCH_ORPHANS", 10_000),
            orphan_runs: num("PREFLIGHT_BENCH_ORPHAN_RUNS", 5).max(1),
            term_runs: num("PREFLIGHT_BENCH_TERM_RUNS", 50).max(1),
            only: std::env::var("PREFLIGHT_BENCH_ONLY")
                .ok()
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect()),
        }
    }

    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == section))
    }
}

/// A supervisor under test: how to put it in front of a command.
#[derive(Clone)]
struct Tool {
    name: &'static str,
    exe: PathBuf,
    /// Arguments between the executable and the command.
    args: &'static [&'static str],
}

impl Tool {
    fn argv(&self, command: &[&OsStr]) -> Vec<OsString> {
        let mut v = vec![self.exe.clone().into_os_string()];
        v.extend(self.args.iter().map(OsString::from));
        v.extend(command.iter().map(|s| s.to_os_string()));
        v
    }
}

/// Plain process, or PID 1 of a new PID namespace.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Pid1,
}

struct Tools {
    /// preflight, tini-static, tini, dumb-init, catatonit: those found and
    /// working.
    supervisors: Vec<Tool>,
    true_exe: Option<PathBuf>,
    sleep_exe: Option<PathBuf>,
    /// `unshare --pid --fork --mount-proc`, when it works here.
    unshare: Option<Vec<OsString>>,
}

impl Tools {
    fn find() -> Tools {
        let true_exe = which("true");
        let sleep_exe = which("sleep");
        let unshare = which("unshare");
        if unshare.is_none() {
            println!("skipping PID 1 measurements: unshare not found on PATH");
        }
        let unshare = unshare.and_then(|u| {
            let argv: Vec<OsString> = vec![
                u.into_os_string(),
                "--pid".into(),
                "--fork".into(),
                "--mount-proc".into(),
            ];
            let mut probe = argv.clone();
            probe.push(true_exe.clone()?.into_os_string());
            match run_quiet(&probe) {
                Ok(s) if s.success() => Some(argv),
                Ok(s) => skip("PID 1 measurements", &format!("unshare: {s}")),
                Err(e) => skip("PID 1 measurements", &format!("unshare: {e}")),
            }
        });
        if true_exe.is_none() {
            println!("skipping start-up: no `true` on PATH");
        }
        if sleep_exe.is_none() {
            println!("skipping memory and TERM: no `sleep` on PATH");
        }

        let preflight = std::env::var_os("PREFLIGHT_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_preflight")));
        let mut candidates = vec![("preflight", Some(preflight.clone()), &["--"][..])];
        // Two copies of the same file: one as written, one that has
        // supervised a command past its memory shrink (`Copies::new`), to
        // show whether the shrink slows later starts of the same file.
        if let Some(copies) = Copies::new(&preflight) {
            candidates.push(("preflight, fresh copy", Some(copies.fresh), &["--"][..]));
            candidates.push((
                "preflight, copy that has run",
                Some(copies.ran),
                &["--"][..],
            ));
        }
        // Variants to compare with, measured like preflight: NAME=PATH,...
        for extra in std::env::var("PREFLIGHT_BENCH_EXTRA")
            .iter()
            .flat_map(|v| v.split(','))
        {
            match extra.split_once('=') {
                Some((name, path)) => {
                    let name: &'static str = Box::leak(name.trim().to_owned().into_boxed_str());
                    candidates.push((name, Some(PathBuf::from(path.trim())), &["--"][..]));
                }
                None => println!("PREFLIGHT_BENCH_EXTRA: {extra:?} is not NAME=PATH"),
            }
        }
        candidates.extend([
            ("tini-static", which("tini-static"), &["--"][..]),
            ("tini", which("tini"), &["--"][..]),
            ("dumb-init", which("dumb-init"), &[][..]),
            ("catatonit", which("catatonit"), &["--"][..]),
        ]);
        let mut supervisors = Vec::new();
        for (name, exe, args) in candidates {
            let Some(exe) = exe else {
                skip::<()>(name, "not found on PATH");
                continue;
            };
            let tool = Tool { name, exe, args };
            // Each must run `true` and exit 0, or it is not worth measuring.
            if let Some(t) = &true_exe {
                match run_quiet(&tool.argv(&[t.as_os_str()])) {
                    Ok(s) if s.success() => {}
                    Ok(s) => {
                        skip::<()>(name, &format!("`{} -- true` gave {s}", tool.exe.display()));
                        continue;
                    }
                    Err(e) => {
                        skip::<()>(name, &format!("{}: {e}", tool.exe.display()));
                        continue;
                    }
                }
            }
            supervisors.push(tool);
        }
        Tools {
            supervisors,
            true_exe,
            sleep_exe,
            unshare,
        }
    }

    fn modes(&self) -> Vec<Mode> {
        let mut m = vec![Mode::Plain];
        if self.unshare.is_some() {
            m.push(Mode::Pid1);
        }
        m
    }

    /// `argv` as it is run in `mode`.
    fn wrap(&self, mode: Mode, argv: Vec<OsString>) -> Vec<OsString> {
        match (mode, &self.unshare) {
            (Mode::Pid1, Some(u)) => u.iter().cloned().chain(argv).collect(),
            _ => argv,
        }
    }
}

fn skip<T>(what: &str, why: &str) -> Option<T> {
    println!("skipping {what}: {why}");
    None
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file()))
}

fn print_header(tools: &Tools) {
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "preflight init bench: Linux {}, {cpus} CPUs, load average {}",
        kernel.trim(),
        load_average()
    );
    for t in &tools.supervisors {
        let size = fs::metadata(&t.exe).map_or(0, |m| m.len());
        println!(
            "  {:<28} {} ({size} bytes, {})",
            t.name,
            t.exe.display(),
            identity(&t.exe)
        );
    }
    if let Some(p) = tools.supervisors.iter().find(|t| t.name == "preflight") {
        let size = fs::metadata(&p.exe).map_or(0, |m| m.len());
        let tini = tools
            .supervisors
            .iter()
            .find(|t| t.name == "tini-static")
            .and_then(|t| fs::metadata(&t.exe).ok())
            .map_or(String::new(), |m| {
                format!("; tini-static {} bytes", m.len())
            });
        println!(
            "budget: binary size {size} bytes <= {SIZE_BUDGET} (2.5 MiB){tini}: {}",
            verdict(size <= SIZE_BUDGET)
        );
    }
}

/// DESIGN.md: the stripped static binary, every probe and TLS in.
const SIZE_BUDGET: u64 = 2_621_440;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// What tells copies of a binary apart: inode, the file's own build id (its
/// ELF note, if any), or a hash of its bytes.
fn identity(path: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    let inode = fs::metadata(path).map_or(0, |m| m.ino());
    let hash = fs::read(path).map_or(0, |bytes| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    });
    format!("inode {inode}, content hash {hash:016x}")
}

/// Two fresh copies of the preflight binary in a temporary directory.
struct Copies {
    fresh: PathBuf,
    ran: PathBuf,
}

impl Copies {
    /// Copies `exe` twice; `ran` then supervises `sleep 0.5`, past the
    /// memory shrink at 0.2 s. Removed by the process's end (`main`).
    fn new(exe: &std::path::Path) -> Option<Copies> {
        let dir = std::env::temp_dir().join(format!("preflight-bench-{}", std::process::id()));
        fs::create_dir_all(dir.join("fresh")).ok()?;
        fs::create_dir_all(dir.join("ran")).ok()?;
        let fresh = dir.join("fresh/preflight");
        let ran = dir.join("ran/preflight");
        fs::copy(exe, &fresh).ok()?;
        fs::copy(exe, &ran).ok()?;
        let sleep = which("sleep")?;
        let argv = [
            ran.clone().into_os_string(),
            "--".into(),
            sleep.into_os_string(),
            "0.5".into(),
        ];
        match run_quiet(&argv) {
            Ok(s) if s.success() => Some(Copies { fresh, ran }),
            _ => skip(
                "the fresh and the used copy",
                "the copy did not run `sleep 0.5`",
            ),
        }
    }
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Running processes

fn command(argv: &[OsString]) -> Command {
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("PREFLIGHT_")) {
            c.env_remove(k);
        }
    }
    c
}

fn run_quiet(argv: &[OsString]) -> io::Result<ExitStatus> {
    command(argv).status()
}

/// Wall time from spawn to the end of wait, and the CPU time (user + system)
/// of the process and everything it waited for; None if it did not exit 0.
/// CPU time suffers less than wall time from a busy machine.
fn time_run(argv: &[OsString]) -> Option<(Duration, Duration)> {
    let mut cmd = command(argv);
    let t0 = Instant::now();
    let child = cmd.spawn().ok()?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; the child is ours and
    // std never waits for it (its handle is only dropped).
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let dt = t0.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    let ok = pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    ok.then_some((dt, cpu))
}

/// Pids of `pid`'s children (all its threads').
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        if let Ok(s) = fs::read_to_string(task.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}

/// A supervisor started in front of `sleep 1000`, once `sleep` runs.
struct Supervised {
    tool: &'static str,
    /// What we spawned: the supervisor, or `unshare`.
    child: Child,
    /// The supervisor's pid as seen from here.
    pid: u32,
}

fn start_supervising(tools: &Tools, tool: &Tool, mode: Mode) -> Result<Supervised, String> {
    let sleep = tools.sleep_exe.as_ref().ok_or("no sleep")?;
    let argv = tools.wrap(mode, tool.argv(&[sleep.as_os_str(), OsStr::new("1000")]));
    let mut child = command(&argv).spawn().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut pid = None;
    while Instant::now() < deadline {
        // As PID 1 the supervisor is unshare's child, once it has exec'd.
        let sup = match mode {
            Mode::Plain => Some(child.id()),
            Mode::Pid1 => children(child.id())
                .into_iter()
                .find(|&p| comm(p) != "unshare"),
        };
        if let Some(sup) = sup.filter(|&p| children(p).iter().any(|&c| comm(c) == "sleep")) {
            pid = Some(sup);
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited early: {status}"));
        }
        thread::sleep(Duration::from_micros(500));
    }
    match pid {
        Some(pid) => Ok(Supervised {
            tool: tool.name,
            child,
            pid,
        }),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err("`sleep` did not start within 5 s".into())
        }
    }
}

impl Supervised {
    /// TERM the supervisor; the time until what we spawned has exited.
    fn terminate(mut self) -> (Duration, io::Result<ExitStatus>) {
        let t0 = Instant::now();
        signal(self.pid, libc::SIGTERM);
        let status = self.child.wait();
        (t0.elapsed(), status)
    }

    /// Make sure nothing is left running: as a plain process, `sleep` would
    /// outlive a killed supervisor.
    fn kill(mut self) {
        for c in children(self.pid) {
            signal(c, libc::SIGKILL);
        }
        signal(self.pid, libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

// ---------------------------------------------------------------------------
// Statistics and tables

#[derive(Clone, Copy)]
struct Summary {
    median: Duration,
    p90: Duration,
}

fn summarize(samples: &mut [Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort();
    let n = samples.len();
    Some(Summary {
        median: samples[n / 2],
        p90: samples[(n * 9 / 10).min(n - 1)],
    })
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn mode_title(mode: Mode) -> &'static str {
    match mode {
        Mode::Plain => "plain process",
        Mode::Pid1 => "PID 1 (unshare --pid --fork --mount-proc)",
    }
}

// ---------------------------------------------------------------------------
// 1. Start-up

fn startup(tools: &Tools, runs: usize) {
    let Some(true_exe) = &tools.true_exe else {
        return;
    };
    for mode in tools.modes() {
        // Index 0 is the baseline: `true` alone (under unshare for PID 1).
        let mut names = vec!["true"];
        let mut argvs = vec![tools.wrap(mode, vec![true_exe.clone().into_os_string()])];
        for t in &tools.supervisors {
            names.push(t.name);
            argvs.push(tools.wrap(mode, t.argv(&[true_exe.as_os_str()])));
        }
        let n = argvs.len();
        // One row per round: each command's (wall, CPU), None if it failed.
        let mut rounds: Vec<Vec<Option<(Duration, Duration)>>> = Vec::with_capacity(runs);
        // Interleave run by run, rotating who goes first.
        for round in 0..runs {
            let mut row = vec![None; n];
            for k in 0..n {
                let i = (round + k) % n;
                row[i] = time_run(&argvs[i]);
            }
            rounds.push(row);
        }
        // Median of the differences paired by round: what noise does to one
        // round hits both sides of the difference alike.
        let paired = |i: usize, j: usize, cpu: bool| -> Option<f64> {
            let mut d: Vec<f64> = rounds
                .iter()
                .filter_map(|r| {
                    let (a, b) = (r[i]?, r[j]?);
                    let (a, b) = if cpu { (a.1, b.1) } else { (a.0, b.0) };
                    Some(a.as_secs_f64() - b.as_secs_f64())
                })
                .collect();
            median_f64(&mut d)
        };
        let column = |i: usize, cpu: bool| -> Option<Summary> {
            let mut v: Vec<Duration> = rounds
                .iter()
                .filter_map(|r| r[i].map(|(w, c)| if cpu { c } else { w }))
                .collect();
            summarize(&mut v)
        };
        println!(
            "\n## start-up, {} — {runs} runs each, interleaved",
            mode_title(mode)
        );
        let over = if mode == Mode::Plain {
            "`true`"
        } else {
            "`unshare … true`"
        };
        println!(
            "(wall: spawn to the end of wait4; CPU: user + system from wait4's rusage; \
             \"over\": median of the differences to {over} paired by round)"
        );
        println!(
            "| command | wall median | wall p90 | wall over {over} | CPU median | CPU over {over} |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        for (i, name) in names.iter().enumerate() {
            let label = match i {
                0 => "`true`".to_owned(),
                _ => {
                    let args: String = tools.supervisors[i - 1]
                        .args
                        .iter()
                        .map(|a| format!("{a} "))
                        .collect();
                    format!("{name}: `{args}true`")
                }
            };
            let failed = rounds.iter().filter(|r| r[i].is_none()).count();
            let Some(s) = column(i, false) else {
                println!("| {label} | failed | | | | |");
                continue;
            };
            let cpu = column(i, true).map_or("?".into(), |c| ms(c.median));
            let (rel, cpu_rel) = if i == 0 {
                ("—".to_owned(), "—".to_owned())
            } else {
                (signed(paired(i, 0, false)), signed(paired(i, 0, true)))
            };
            let fail = if failed > 0 {
                format!(" ({failed} failed)")
            } else {
                String::new()
            };
            println!(
                "| {label} | {} | {} | {rel}{fail} | {cpu} | {cpu_rel} |",
                ms(s.median),
                ms(s.p90)
            );
        }
        // The budget: no slower than tini-static, paired with it directly.
        let find = |name: &str| names.iter().position(|n| *n == name);
        if let (Some(p), Some(t)) = (find("preflight"), find("tini-static")) {
            let wall = paired(p, t, false);
            let cpu = paired(p, t, true);
            let met = wall.is_some_and(|w| w <= 0.0);
            println!(
                "budget: start-up ({}) no slower than tini-static: preflight − tini-static, \
                 paired median: wall {}, CPU {}: {}",
                match mode {
                    Mode::Plain => "plain",
                    Mode::Pid1 => "PID 1",
                },
                signed(wall),
                signed(cpu),
                verdict(met)
            );
        }
        if let (Some(f), Some(r)) = (
            find("preflight, fresh copy"),
            find("preflight, copy that has run"),
        ) {
            println!(
                "the copy that has run − the fresh copy, paired median: wall {}, CPU {}",
                signed(paired(r, f, false)),
                signed(paired(r, f, true))
            );
        }
    }
}

fn median_f64(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn signed(seconds: Option<f64>) -> String {
    seconds.map_or("?".into(), |d| format!("{:+.3} ms", d * 1e3))
}

// ---------------------------------------------------------------------------
// 2. Memory, threads, idle wake-ups

/// The fields of /proc/PID/status we report, in KiB or counts.
#[derive(Default, Clone, Copy)]
struct Status {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
    threads: u64,
}

fn read_status(pid: u32) -> Option<Status> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut s = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let n: u64 = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match key {
            "VmRSS" => s.rss = n,
            "VmHWM" => s.hwm = n,
            "RssAnon" => s.anon = n,
            "RssFile" => s.file = n,
            "Threads" => s.threads = n,
            _ => {}
        }
    }
    Some(s)
}

/// Voluntary + involuntary context switches of all the process's threads
/// (`/proc/PID/status` counts only the main thread's).
fn context_switches(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let text = fs::read_to_string(task.path().join("status")).ok()?;
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key == "voluntary_ctxt_switches" || key == "nonvoluntary_ctxt_switches" {
                total += value.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    Some(total)
}

fn memory(tools: &Tools, idle: Duration) {
    if tools.sleep_exe.is_none() {
        return;
    }
    for mode in tools.modes() {
        // All supervisors idle at the same time: one idle period for all.
        let mut running = Vec::new();
        for t in &tools.supervisors {
            match start_supervising(tools, t, mode) {
                Ok(s) => running.push(s),
                Err(e) => println!("skipping {} ({}): {e}", t.name, mode_title(mode)),
            }
        }
        // preflight gives back its start-up memory once the command has run
        // 200 ms: VmRSS is read before that too.
        thread::sleep(Duration::from_millis(100));
        let early: Vec<_> = running
            .iter()
            .map(|s| read_status(s.pid).map_or("?".into(), |st| st.rss.to_string()))
            .collect();
        thread::sleep(Duration::from_millis(200));
        let before: Vec<_> = running.iter().map(|s| context_switches(s.pid)).collect();
        thread::sleep(idle);
        let after: Vec<_> = running.iter().map(|s| context_switches(s.pid)).collect();

        println!(
            "\n## supervising `sleep 1000`, {} — idle {} s",
            mode_title(mode),
            idle.as_secs()
        );
        println!(
            "| supervisor | VmRSS at 0.1 s | VmRSS | VmHWM | RssAnon | RssFile | threads | wake-ups in {} s |",
            idle.as_secs()
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        let mut rows = Vec::new();
        for (i, s) in running.iter().enumerate() {
            let st = read_status(s.pid).unwrap_or_default();
            let wakeups = match (before[i], after[i]) {
                (Some(b), Some(a)) => Some(a - b),
                _ => None,
            };
            println!(
                "| {} | {} KiB | {} KiB | {} KiB | {} KiB | {} KiB | {} | {} |",
                s.tool,
                early[i],
                st.rss,
                st.hwm,
                st.anon,
                st.file,
                st.threads,
                wakeups.map_or("?".into(), |w| w.to_string())
            );
            rows.push((s.tool, st, wakeups));
        }
        let row = |name: &str| rows.iter().find(|r| r.0 == name);
        if let (Some(p), Some(t)) = (row("preflight"), row("tini-static")) {
            let met = p.1.rss <= t.1.rss && p.1.threads == 1 && p.2 == Some(0);
            println!(
                "budget: supervising ({}) VmRSS {} KiB <= tini-static's {} KiB, 1 thread ({}), \
                 0 wake-ups ({}; tini-static {}): {}",
                match mode {
                    Mode::Plain => "plain",
                    Mode::Pid1 => "PID 1",
                },
                p.1.rss,
                t.1.rss,
                p.1.threads,
                p.2.map_or("?".into(), |w| w.to_string()),
                t.2.map_or("?".into(), |w| w.to_string()),
                verdict(met)
            );
        }
        for s in running {
            s.kill();
        }
    }
    println!(
        "(RssFile: the executable's pages mapped from the page cache, shared by every \
         process of the same binary; RssAnon: this process's own memory.)"
    );
}

// ---------------------------------------------------------------------------
// 3. Orphans

/// The helper child: double-fork `n` processes that exit at once, then exit.
/// Each grandchild is orphaned when its parent exits and is re-parented to
/// the nearest subreaper or PID 1, which must reap it.
fn make_orphans(n: usize) -> ! {
    let mut made = 0;
    while made < n {
        // SAFETY: this process is single-threaded (the bench's main thread
        // only, just exec'd), and the children call only fork and _exit.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => {
                // Out of pids for a moment (EAGAIN): let the reaper catch up.
                thread::sleep(Duration::from_millis(1));
                continue;
            }
            0 => {
                // SAFETY: async-signal-safe calls only, in a forked child.
                unsafe {
                    libc::fork();
                    libc::_exit(0);
                }
            }
            _ => {
                let mut status = 0;
                // SAFETY: status is a valid pointer for the call.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                made += 1;
            }
        }
    }
    std::process::exit(0)
}

/// Like [`time_run`], also sampling the supervisor's own CPU time (not its
/// children's) from `/proc/PID/schedstat` every millisecond until it exits:
/// the last sample misses at most the final millisecond.
fn time_run_sampling_cpu(argv: &[OsString], mode: Mode) -> Option<(Duration, Duration)> {
    let mut cmd = command(argv);
    let t0 = Instant::now();
    let mut child = cmd.spawn().ok()?;
    let mut supervisor = (mode == Mode::Plain).then_some(child.id());
    let mut cpu = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().ok()? {
            break status;
        }
        if supervisor.is_none() {
            supervisor = children(child.id())
                .into_iter()
                .find(|&p| comm(p) != "unshare");
        }
        if let Some(ns) = supervisor.and_then(|p| {
            fs::read_to_string(format!("/proc/{p}/schedstat"))
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        }) {
            cpu = cpu.max(Duration::from_nanos(ns));
        }
        thread::sleep(Duration::from_millis(1));
    };
    let dt = t0.elapsed();
    status.success().then_some((dt, cpu))
}

fn set_subreaper(on: bool) -> bool {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes plain integers.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, on as libc::c_ulong, 0, 0, 0) == 0 }
}

/// Reap every child the bench has left (what a supervisor left behind).
fn reap_leftovers() -> usize {
    let mut n = 0;
    loop {
        let mut status = 0;
        // SAFETY: status is a valid pointer for the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid <= 0 {
            return n;
        }
        n += 1;
    }
}

fn orphans(tools: &Tools, n: usize, runs: usize) {
    let Ok(me) = std::env::current_exe() else {
        println!("skipping orphans: cannot find the bench's own executable");
        return;
    };
    let count = n.to_string();
    let helper = [me.as_os_str(), OsStr::new("__orphans"), OsStr::new(&count)];
    let subreaper = set_subreaper(true);
    if !subreaper {
        println!("note: cannot become child subreaper; \"left\" counts are not available");
    }
    for mode in tools.modes() {
        // The tools that reap in this mode: tini only as a subreaper with -s;
        // dumb-init is never a subreaper, so as a plain process its count
        // shows what it leaves to whoever is above it.
        let mut cases: Vec<(String, Vec<OsString>)> = Vec::new();
        for t in &tools.supervisors {
            if t.name == "tini-static" {
                continue; // same code as tini
            }
            let mut t = t.clone();
            if t.name == "tini" && mode == Mode::Plain {
                t.args = &["-s", "--"];
            }
            let label = format!("{} {}", t.name, t.args.join(" ")).trim().to_owned();
            cases.push((label, tools.wrap(mode, t.argv(&helper))));
        }
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
        let mut cpu: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
        let mut left = vec![0usize; cases.len()];
        let mut failures = vec![0usize; cases.len()];
        for round in 0..runs {
            for k in 0..cases.len() {
                let i = (round + k) % cases.len();
                match time_run_sampling_cpu(&cases[i].1, mode) {
                    Some((d, c)) => {
                        samples[i].push(d);
                        cpu[i].push(c);
                    }
                    None => failures[i] += 1,
                }
                left[i] = left[i].max(reap_leftovers());
            }
        }
        println!(
            "\n## reaping {n} double-forked orphans, {} — {runs} runs each",
            mode_title(mode)
        );
        if mode == Mode::Plain {
            println!(
                "| supervisor | median start → exit | max | its own CPU (median) | left behind (most in a run) |"
            );
            println!("| --- | ---: | ---: | ---: | ---: |");
        } else {
            println!("| supervisor | median start → exit | max | its own CPU (median) |");
            println!("| --- | ---: | ---: | ---: |");
        }
        for (i, (label, _)) in cases.iter().enumerate() {
            let max = samples[i].iter().max().copied();
            let Some(s) = summarize(&mut samples[i]) else {
                println!("| `{label}` | failed | |");
                continue;
            };
            let fail = if failures[i] > 0 {
                format!(" ({} failed)", failures[i])
            } else {
                String::new()
            };
            let max = ms(max.unwrap_or(s.median));
            let cpu = summarize(&mut cpu[i]).map_or("?".into(), |c| ms(c.median));
            let med = ms(s.median);
            match (mode, subreaper) {
                (Mode::Plain, true) => {
                    println!("| `{label}` | {med}{fail} | {max} | {cpu} | {} |", left[i])
                }
                (Mode::Plain, false) => println!("| `{label}` | {med}{fail} | {max} | {cpu} | ? |"),
                (Mode::Pid1, _) => println!("| `{label}` | {med}{fail} | {max} | {cpu} |"),
            }
        }
    }
    set_subreaper(false);
}

// ---------------------------------------------------------------------------
// 4. TERM to exit

fn term(tools: &Tools, runs: usize) {
    if tools.sleep_exe.is_none() {
        return;
    }
    for mode in tools.modes() {
        let sups = &tools.supervisors;
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); sups.len()];
        let mut statuses: Vec<Option<String>> = vec![None; sups.len()];
        let mut errors: Vec<Option<String>> = vec![None; sups.len()];
        for round in 0..runs {
            for k in 0..sups.len() {
                let i = (round + k) % sups.len();
                if errors[i].is_some() {
                    continue;
                }
                match start_supervising(tools, &sups[i], mode) {
                    Ok(s) => {
                        let (d, status) = s.terminate();
                        samples[i].push(d);
                        statuses[i] = Some(match status {
                            Ok(s) => exit_text(s),
                            Err(e) => e.to_string(),
                        });
                    }
                    Err(e) => errors[i] = Some(e),
                }
            }
        }
        println!(
            "\n## `kill -TERM` to exit, child `sleep` dies of TERM, {} — {runs} runs each",
            mode_title(mode)
        );
        println!("| supervisor | median | p90 | exit |");
        println!("| --- | ---: | ---: | --- |");
        for (i, t) in sups.iter().enumerate() {
            if let Some(e) = &errors[i] {
                println!("| {} | skipped: {e} | | |", t.name);
                continue;
            }
            if let Some(s) = summarize(&mut samples[i]) {
                let status = statuses[i].as_deref().unwrap_or("?");
                println!(
                    "| {} | {} | {} | {status} |",
                    t.name,
                    ms(s.median),
                    ms(s.p90)
                );
            }
        }
    }
}

fn exit_text(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("status {c}"),
        (_, Some(sig)) => format!("killed by signal {sig}"),
        _ => s.to_string(),
    }
}
