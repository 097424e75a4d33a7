//! Whole-process benchmarks of waiting, side by side with `wait-for-it`
//! (Debian package) where it applies. `cargo bench --bench wait` prints three
//! tables:
//!
//! 1. Detection latency: a port is bound but not listening; preflight and
//!    wait-for-it wait on it at the same time; at a random moment 2–3 s later
//!    (then 20–21 s, when the backoff has long reached its cap) the port
//!    starts listening. Each tool's command is this bench binary again, which
//!    writes the wall-clock time it started; latency = that time minus the
//!    time just before `listen()`. Random, so that a tool polling every
//!    second cannot look lucky by phase.
//! 2. Load while waiting: tries per second (counted from preflight's own
//!    debug lines) and CPU (the sum of every thread's `schedstat` run time)
//!    on a closed port and on a name that does not resolve; wait-for-it's
//!    tries on the same two, counted with strace (the `sleep 1` it runs
//!    after each failed try).
//!
//! Tables 1 and 2 end with their DESIGN.md budget, met or MISSED.
//! `PREFLIGHT_BIN` measures another preflight binary (the shipped one:
//! `PREFLIGHT_BIN=$(scripts/release.sh)`).
//! 3. 200 targets at once: wall time and peak RSS against one target, when
//!    all are up; and tries, CPU and RSS while all 200 are down.
//!
//! `PREFLIGHT_BENCH_RUNS` (default 12) and `PREFLIGHT_BENCH_LONG_RUNS`
//! (default 2) set the number of runs of the detection benchmark.

#![allow(unsafe_code)]

#[path = "../tests/support/closed_port.rs"]
mod closed_port;
use closed_port::ClosedPort;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The preflight binary measured: `PREFLIGHT_BIN`, else the bench build.
fn preflight_bin() -> String {
    std::env::var("PREFLIGHT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_preflight").to_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--stamp") {
        // The "command": say when it started, then exit.
        std::fs::write(&args[2], now_ns().to_string()).expect("write stamp");
        return;
    }
    let runs = env_number("PREFLIGHT_BENCH_RUNS", 12);
    let long_runs = env_number("PREFLIGHT_BENCH_LONG_RUNS", 2);
    let dir = std::env::temp_dir().join(format!("preflight-bench-wait-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wait_for_it = Command::new("sh")
        .args(["-c", "command -v wait-for-it"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());

    let bin = preflight_bin();
    println!(
        "preflight: {bin} ({} bytes)",
        std::fs::metadata(&bin).map_or(0, |m| m.len())
    );
    if !wait_for_it {
        println!("note: wait-for-it is not installed: its column is left out");
    }
    let mut rng = Rng(now_ns() as u64);

    println!();
    detection(&dir, runs, (2000, 3000), wait_for_it, &mut rng);
    if long_runs > 0 {
        println!();
        detection(&dir, long_runs, (20_000, 21_000), wait_for_it, &mut rng);
    }
    println!();
    load();
    println!();
    many();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Table 1.
fn detection(dir: &Path, runs: usize, window_ms: (u64, u64), wait_for_it: bool, rng: &mut Rng) {
    let me = std::env::current_exe().unwrap();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for run in 0..runs {
        let mut port = ClosedPort::new();
        let target = format!("tcp://127.0.0.1:{}", port.port);
        let stamp_p = dir.join(format!("p{run}"));
        let stamp_w = dir.join(format!("w{run}"));
        let _ = std::fs::remove_file(&stamp_p);
        let _ = std::fs::remove_file(&stamp_w);

        let start = Instant::now();
        let mut p = Command::new(preflight_bin())
            .args(["--wait", &target, "--timeout", "60s", "--"])
            .arg(&me)
            .arg("--stamp")
            .arg(&stamp_p)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut w = wait_for_it.then(|| {
            Command::new("wait-for-it")
                .args(["-h", "127.0.0.1", "-p", &port.port.to_string()])
                .args(["-t", "60", "-q", "--"])
                .arg(&me)
                .arg("--stamp")
                .arg(&stamp_w)
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        });

        let up_after = Duration::from_millis(window_ms.0 + rng.below(window_ms.1 - window_ms.0));
        std::thread::sleep(up_after.saturating_sub(start.elapsed()));
        let listened_at = now_ns();
        let _listener = port.listen();

        ours.push(latency(&mut p, &stamp_p, listened_at));
        if let Some(w) = &mut w {
            theirs.push(latency(w, &stamp_w, listened_at));
        }
    }
    println!(
        "detection latency: listener up at a random {:.0}–{:.0} s, {runs} runs \
         (listen() → the command's start)",
        window_ms.0 as f64 / 1000.0,
        window_ms.1 as f64 / 1000.0
    );
    println!(
        "{:<14} {:>10} {:>10} {:>10}",
        "tool", "median", "worst", "best"
    );
    let (median, worst) = row("preflight", &ours);
    if wait_for_it {
        row("wait-for-it", &theirs);
    }
    let met = median <= 50.0 && worst <= 250.0;
    println!(
        "budget: dependency noticed, median <= 50 ms and worst <= 250 ms: \
         preflight {median:.1} ms, {worst:.1} ms: {}",
        if met { "met" } else { "MISSED" }
    );
}

/// Wait for the child and read its command's stamp; ms after `listened_at`.
fn latency(child: &mut Child, stamp: &Path, listened_at: u128) -> f64 {
    let status = wait_with_patience(child, Duration::from_secs(70));
    assert!(status.success(), "waiter failed: {status:?}");
    let started: u128 = std::fs::read_to_string(stamp)
        .expect("the command wrote its stamp")
        .trim()
        .parse()
        .unwrap();
    (started as f64 - listened_at as f64) / 1e6
}

/// Prints one row; returns its median and worst.
fn row(tool: &str, ms: &[f64]) -> (f64, f64) {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    println!(
        "{tool:<14} {:>7.1} ms {:>7.1} ms {:>7.1} ms",
        median,
        v[v.len() - 1],
        v[0]
    );
    (median, v[v.len() - 1])
}

/// Table 2.
fn load() {
    const WARM_UP: Duration = Duration::from_secs(1);
    const SPAN: Duration = Duration::from_secs(5);
    println!(
        "load while waiting: {} s after a {} s warm-up (the backoff at its cap)",
        SPAN.as_secs(),
        WARM_UP.as_secs()
    );
    println!("{:<40} {:>10} {:>12}", "waiting on", "tries/s", "CPU");
    let mut loads = Vec::new();
    let closed = ClosedPort::new();
    for (what, target) in [
        ("a closed port", format!("tcp://127.0.0.1:{}", closed.port)),
        (
            "a name that does not resolve",
            "tcp://name.invalid:80".to_string(),
        ),
    ] {
        // One process counts tries (debug lines); another, quiet, gives the
        // CPU, so that formatting log lines is not counted.
        let mut verbose = Command::new(preflight_bin())
            .args(["-v", "wait", &target, "--timeout", "0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let tries = Arc::new(AtomicU64::new(0));
        let counter = tries.clone();
        let stderr = verbose.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(": try ") {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let mut quiet = Command::new(preflight_bin())
            .args(["wait", &target, "--timeout", "0"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(WARM_UP);
        let (t0, c0) = (tries.load(Ordering::Relaxed), cpu_ns(quiet.id()));
        std::thread::sleep(SPAN);
        let (t1, c1) = (tries.load(Ordering::Relaxed), cpu_ns(quiet.id()));
        for c in [&mut verbose, &mut quiet] {
            let _ = c.kill();
            let _ = c.wait();
        }
        let rate = (t1 - t0) as f64 / SPAN.as_secs_f64();
        loads.push(rate);
        println!(
            "{:<40} {rate:>10.1} {:>10.3} %",
            format!("preflight, {what}"),
            (c1 - c0) as f64 / SPAN.as_nanos() as f64 * 100.0
        );
    }
    // wait-for-it, on the same two: each try it fails is followed by one
    // `sleep 1` process, so its tries are the `sleep`s it starts (counted by
    // strace from their execve). Its CPU is not given: strace slows it.
    let tries_ok = |t: f64| t <= LOAD_BUDGET;
    for (what, host, port) in [
        (
            "a closed port",
            "127.0.0.1".to_string(),
            closed.port.to_string(),
        ),
        (
            "a name that does not resolve",
            "name.invalid".into(),
            "80".into(),
        ),
    ] {
        match wait_for_it_tries(&host, &port, WARM_UP, SPAN) {
            Ok(t) => println!(
                "{:<40} {t:>10.1} {:>12}",
                format!("wait-for-it, {what}"),
                "(not given)"
            ),
            Err(e) => println!("wait-for-it, {what}: not measured: {e}"),
        }
    }
    let worst = loads.iter().cloned().fold(0.0, f64::max);
    println!(
        "budget: load on a dependency that is down, a handful of tries per second at most \
         (<= {LOAD_BUDGET}/s): preflight's most {worst:.1}/s: {}",
        if tries_ok(worst) { "met" } else { "MISSED" }
    );
}

/// "A handful of tries per second at most" (DESIGN.md), as a number.
const LOAD_BUDGET: f64 = 5.0;

/// wait-for-it's tries per second on `host:port` over `span`, after
/// `warm_up`: the `sleep 1` it runs after each failed try, seen by strace.
fn wait_for_it_tries(
    host: &str,
    port: &str,
    warm_up: Duration,
    span: Duration,
) -> Result<f64, String> {
    use std::os::unix::process::CommandExt;
    let trace = std::env::temp_dir().join(format!("preflight-bench-wfi-{}", std::process::id()));
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-ttt", "-e", "trace=execve", "-o"])
        .arg(&trace)
        .args([
            "wait-for-it",
            "-h",
            host,
            "-p",
            port,
            "-t",
            "0",
            "-q",
            "--",
            "true",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("strace: {e}"))?;
    std::thread::sleep(warm_up + span);
    // SAFETY: kill(2) with integers; the group is the one spawned above.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    let text = std::fs::read_to_string(&trace).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&trace);
    let (from, to) = (
        start + warm_up.as_secs_f64(),
        start + (warm_up + span).as_secs_f64(),
    );
    let sleeps = text
        .lines()
        .filter(|l| l.contains("execve(") && l.contains("[\"sleep\""))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .filter(|t| (from..to).contains(t))
        .count();
    if !text.contains("wait-for-it") {
        return Err("strace saw no wait-for-it".into());
    }
    Ok(sleeps as f64 / span.as_secs_f64())
}

/// Table 3.
// Children here are reaped by `wait4`, for their peak RSS, not by `Child`.
#[allow(clippy::zombie_processes)]
fn many() {
    const N: usize = 200;
    const RUNS: usize = 10;
    let mut ports: Vec<ClosedPort> = (0..N).map(|_| ClosedPort::new()).collect();
    let targets: Vec<String> = ports
        .iter()
        .map(|p| format!("tcp://127.0.0.1:{}", p.port))
        .collect();

    // All up: what do 200 cost over one?
    let listeners: Vec<TcpListener> = ports.iter_mut().map(ClosedPort::listen).collect();
    println!("{N} targets at once ({RUNS} runs each, median)");
    println!("{:<40} {:>10} {:>12}", "", "wall", "peak RSS");
    for (what, list) in [
        ("1 target, up", &targets[..1]),
        ("200 targets, up", &targets[..]),
    ] {
        let mut walls = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..RUNS {
            let start = Instant::now();
            let child = Command::new(preflight_bin())
                .arg("wait")
                .args(list)
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let (ok, maxrss_kib) = wait4(child.id());
            walls.push(start.elapsed().as_secs_f64() * 1000.0);
            rss.push(maxrss_kib as f64);
            assert!(ok, "preflight wait failed");
        }
        println!(
            "{what:<40} {:>7.2} ms {:>8.0} KiB",
            median(&mut walls),
            median(&mut rss)
        );
    }
    drop(listeners);

    // All down for 3 s (the listeners are gone: refused), then timeout.
    let mut ports: Vec<ClosedPort> = (0..N).map(|_| ClosedPort::new()).collect();
    let targets: Vec<String> = ports
        .iter()
        .map(|p| format!("tcp://127.0.0.1:{}", p.port))
        .collect();
    let child = Command::new(preflight_bin())
        .args(["wait", "--timeout", "0"])
        .args(&targets)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let c0 = cpu_ns(child.id());
    std::thread::sleep(Duration::from_secs(3));
    let c1 = cpu_ns(child.id());
    // Now all come up at once: how long until the last is noticed?
    let up = Instant::now();
    let _listeners: Vec<TcpListener> = ports.iter_mut().map(ClosedPort::listen).collect();
    let (ok, maxrss_kib) = wait4(child.id());
    let all_noticed = up.elapsed();
    assert!(ok, "preflight wait failed");
    println!(
        "{:<40} {:>10} {:>8.1} %",
        "200 closed ports: CPU while waiting",
        "",
        (c1 - c0) as f64 / 3e9 * 100.0
    );
    println!(
        "{:<40} {:>7.1} ms {:>8} KiB",
        "then all listen: until the wait ends",
        all_noticed.as_secs_f64() * 1000.0,
        maxrss_kib
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Reap `pid`: (exited 0?, peak RSS in KiB).
fn wait4(pid: u32) -> (bool, i64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet reaped; the pointers are valid.
    let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid as libc::pid_t, "wait4");
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        usage.ru_maxrss,
    )
}

/// CPU time of every thread of `pid` so far, in ns (`schedstat`'s first
/// field: exact, unlike the 10 ms ticks of `stat`).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn wait_with_patience(child: &mut Child, patience: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a waiter ran past {patience:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}: '{v}' is not a number")),
        Err(_) => default,
    }
}

/// xorshift64*, for the listeners' start times; seeded from the clock.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 |= 1;
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}
