//! What preflight adds around a trivial hook, against the same line in a
//! `start.sh`: `preflight --hook true -- true` beside `sh -c 'true && exec
//! true'`, whole processes, started one after the other; the median and 90th
//! percentile of many runs, side by side. `preflight -- true` is shown too, so
//! that the hook's own share is visible.
//!
//! Each run is a whole process timed from spawn to the end of a `wait4`
//! that blocks, which also gives its CPU time; cases are interleaved run by
//! run, and preflight's cost is the median of the differences to start.sh
//! paired by round.
//!
//! `cargo bench --bench hooks` (the binary cargo built for the bench, or the
//! one `PREFLIGHT_BIN` names: `PREFLIGHT_BIN=$(scripts/release.sh)`;
//! `PREFLIGHT_BENCH_RUNS` sets the number of runs, 300 by default).

#![allow(unsafe_code)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Case {
    name: &'static str,
    argv: Vec<String>,
}

fn main() {
    let runs: usize = std::env::var("PREFLIGHT_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let preflight = std::env::var("PREFLIGHT_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_preflight").to_owned());
    println!(
        "preflight: {preflight} ({} bytes)",
        std::fs::metadata(&preflight).map_or(0, |m| m.len())
    );
    let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let cases = [
        Case {
            name: "start.sh: sh -c 'true && exec true'",
            argv: argv(&["sh", "-c", "true && exec true"]),
        },
        Case {
            name: "preflight -- true",
            argv: argv(&[&preflight, "--", "true"]),
        },
        Case {
            name: "preflight --hook true -- true",
            argv: argv(&[&preflight, "--hook", "true", "--", "true"]),
        },
    ];
    for case in &cases {
        if let Err(e) = once(&case.argv) {
            eprintln!("{}: {e}", case.name);
            std::process::exit(1);
        }
    }
    // rounds[r][i]: case i's (wall, CPU) in round r.
    let mut rounds: Vec<Vec<(Duration, Duration)>> = Vec::with_capacity(runs);
    // Interleaved, so that a slow moment of the machine hits every case alike.
    for _ in 0..runs {
        rounds.push(
            cases
                .iter()
                .map(|case| timed(&case.argv).expect("it ran once already"))
                .collect(),
        );
    }
    println!(
        "{runs} runs each, the whole process (wall: spawn to the end of wait4; CPU: user + system):"
    );
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>16} {:>16}",
        "", "median", "p90", "CPU", "wall − start.sh", "CPU − start.sh"
    );
    for (i, case) in cases.iter().enumerate() {
        let mut wall: Vec<Duration> = rounds.iter().map(|r| r[i].0).collect();
        let mut cpu: Vec<Duration> = rounds.iter().map(|r| r[i].1).collect();
        wall.sort();
        cpu.sort();
        let paired = |cpu: bool| {
            let mut d: Vec<f64> = rounds
                .iter()
                .map(|r| {
                    let (a, b) = if cpu {
                        (r[i].1, r[0].1)
                    } else {
                        (r[i].0, r[0].0)
                    };
                    a.as_secs_f64() - b.as_secs_f64()
                })
                .collect();
            d.sort_by(f64::total_cmp);
            format!("{:+.2} ms", d[d.len() / 2] * 1e3)
        };
        println!(
            "{:<40} {:>10} {:>10} {:>10} {:>16} {:>16}",
            case.name,
            ms(wall[wall.len() / 2]),
            ms(wall[wall.len() * 9 / 10]),
            ms(cpu[cpu.len() / 2]),
            if i == 0 { "—".into() } else { paired(false) },
            if i == 0 { "—".into() } else { paired(true) },
        );
    }
}

/// Wall time from spawn to the end of a blocking `wait4`, and the CPU time
/// (user + system) of the process and what it waited for.
fn timed(argv: &[String]) -> Result<(Duration, Duration), String> {
    let t0 = Instant::now();
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; the child is ours and
    // std never waits for it (its handle is only dropped).
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = t0.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    if pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok((wall, tv(usage.ru_utime) + tv(usage.ru_stime)))
    } else {
        Err(format!("{argv:?} did not exit 0"))
    }
}

fn once(argv: &[String]) -> Result<(), String> {
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("exited with {status}"))
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
