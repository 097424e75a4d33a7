//! The configuration from arguments and environment on arbitrary text: it
//! is accepted or refused with an error, never a panic.
//!
//! Input: argument lines, an empty line, then `NAME=value` lines for the
//! environment. A `NAME_FILE` secret reads as the file's path reversed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use preflight::cli::Cli;
use preflight::config::{Config, Env};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (args, vars) = text.split_once("\n\n").unwrap_or((text, ""));
    let argv: Vec<std::ffi::OsString> = std::iter::once("preflight")
        .chain(args.split('\n').filter(|a| !a.is_empty()))
        .map(Into::into)
        .collect();
    let Ok(cli) = Cli::parse_args(argv) else {
        return;
    };
    let mut env = Env::default();
    for line in vars.lines() {
        if let Some((k, v)) = line.split_once('=') {
            env.set(k.to_string(), v.to_string());
        }
    }
    let read_file = |path: &std::path::Path| {
        let mut bytes = path.as_os_str().as_encoded_bytes().to_vec();
        bytes.reverse();
        Ok(bytes)
    };
    let _ = Config::from_args(cli, &env, read_file);
});
