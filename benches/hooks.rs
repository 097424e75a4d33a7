//! What preflight adds around a trivial hook, against the same line in a
//! `start.sh`: `preflight --hook true -- true` beside `sh -c 'true && exec
//! true'`, whole processes, started one after the other; the median and 90th
//! percentile of many runs, side by side. `preflight -- true` is shown too, so
//! that the hook's own share is visible.
//!
//! `cargo bench --bench hooks` (uses the binary cargo built for the bench;
//! `PREFLIGHT_BENCH_RUNS` sets the number of runs, 300 by default).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PREFLIGHT: &str = env!("CARGO_BIN_EXE_preflight");

struct Case {
    name: &'static str,
    argv: Vec<&'static str>,
}

fn main() {
    let runs: usize = std::env::var("PREFLIGHT_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let cases = [
        Case {
            name: "start.sh: sh -c 'true && exec true'",
            argv: vec!["sh", "-c", "true && exec true"],
        },
        Case {
            name: "preflight -- true",
            argv: vec![PREFLIGHT, "--", "true"],
        },
        Case {
            name: "preflight --hook true -- true",
            argv: vec![PREFLIGHT, "--hook", "true", "--", "true"],
        },
    ];
    for case in &cases {
        if let Err(e) = once(&case.argv) {
            eprintln!("{}: {e}", case.name);
            std::process::exit(1);
        }
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); cases.len()];
    // Interleaved, so that a slow moment of the machine hits every case alike.
    for _ in 0..runs {
        for (case, times) in cases.iter().zip(samples.iter_mut()) {
            let started = Instant::now();
            once(&case.argv).expect("it ran once already");
            times.push(started.elapsed());
        }
    }
    println!("{runs} runs each, wall time of the whole process:");
    println!("{:<40} {:>10} {:>10}", "", "median", "p90");
    let mut medians = Vec::new();
    for (case, times) in cases.iter().zip(samples.iter_mut()) {
        times.sort();
        let median = times[times.len() / 2];
        let p90 = times[times.len() * 9 / 10];
        medians.push(median);
        println!("{:<40} {:>10} {:>10}", case.name, ms(median), ms(p90));
    }
    println!(
        "preflight's hook run vs start.sh: {:+.2} ms (median)",
        (medians[2].as_secs_f64() - medians[0].as_secs_f64()) * 1e3
    );
}

fn once(argv: &[&str]) -> Result<(), String> {
    let status = Command::new(argv[0])
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
