//! The binary: parse, run, exit. Everything else is in the library.
//!
//! Without std's `main` (`no_main`): std's start-up reads the main thread's
//! stack bounds from /proc/self/maps for a stack-overflow handler that
//! preflight reset to the default right after, which was 16% of the
//! instructions of starting `preflight -- true` and eight system calls.
//! [`preflight::init::start`] does what preflight needs of it (closed stdio
//! descriptors onto /dev/null; SIGPIPE blocked rather than ignored). The
//! arguments are taken from `main`'s own `argc`/`argv`: std learns them
//! before `main` only with glibc, and the shipped build is musl's.

#![no_main]

use std::ffi::{c_char, c_int};

use clap::error::ErrorKind;

// SAFETY: the one `main` symbol of this binary (std's is left out by
// `no_main`), with the signature C's start-up calls it with.
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    preflight::init::start();
    // SAFETY: `argc` and `argv` as C's start-up passed them to `main`.
    let args = unsafe { preflight::init::args(argc, argv) };
    // A panic exits 101, as from std's `main` (the release build aborts).
    let code = std::panic::catch_unwind(|| run(args)).unwrap_or(101);
    // Flushes stdout, as returning from std's `main` does.
    std::process::exit(code.into())
}

fn run(args: Vec<std::ffi::OsString>) -> u8 {
    // `--wait db:5432 python3 -c ...` without `--`: clap stops at `-c`, which
    // says nothing of the mistake; the hint does.
    let forgot_dashes = !args.iter().any(|a| a == "--")
        && args.iter().any(|a| {
            a == "--wait" || a == "-w" || a.to_str().is_some_and(|a| a.starts_with("--wait="))
        });
    let cli = match preflight::cli::Cli::parse_args(args) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            // clap's first line names the bad value; the rest is a usage hint.
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            if forgot_dashes && e.kind() == ErrorKind::UnknownArgument {
                eprintln!(
                    "preflight: {first}: a command goes after -- (preflight --wait TARGET... -- COMMAND...)"
                );
            } else {
                eprintln!("preflight: {first} (see --help)");
            }
            return preflight::exit_code::USAGE;
        }
    };
    preflight::app::run(cli)
}
