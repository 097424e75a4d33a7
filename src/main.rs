//! The binary: parse, run, exit. Everything else is in the library.

use std::process::ExitCode;

use clap::error::ErrorKind;

fn main() -> ExitCode {
    let cli = match preflight::cli::Cli::parse_args() {
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
            eprintln!("preflight: {first} (see --help)");
            return preflight::exit_code::exit(preflight::exit_code::USAGE);
        }
    };
    preflight::exit_code::exit(preflight::app::run(cli))
}
