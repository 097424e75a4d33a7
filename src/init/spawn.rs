//! Starting the child with std's `Command`: it finds the program on the
//! child's `PATH`, reports an `execve` error back through a CLOEXEC pipe
//! (so 127/126 are told apart from the exit status of a program that ran),
//! and reaps the child itself when exec fails. When `spawn` returns Ok the
//! child has exec'd, so its process group exists before the first signal
//! is forwarded to it. Our own part runs in the child: [`ChildSetup`].
//!
//! stdin, stdout and stderr are inherited; every descriptor preflight opens
//! itself is CLOEXEC (std's and tokio's, the signalfd used while waiting),
//! so the command sees only what preflight was started with.

use std::os::unix::process::CommandExt;

use super::{Command, SpawnError};
use crate::sys::ChildSetup;

fn command(cmd: &Command, setup: ChildSetup) -> Result<std::process::Command, SpawnError> {
    let Some((program, args)) = cmd.argv.split_first() else {
        return Err(SpawnError::new(
            &"".into(),
            std::io::Error::from_raw_os_error(libc::ENOENT),
        ));
    };
    let mut c = std::process::Command::new(program);
    c.args(args);
    if let Some(env) = &cmd.env {
        c.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    }
    setup.install(&mut c);
    Ok(c)
}

/// Start the child; its pid.
pub fn spawn(cmd: &Command, setup: ChildSetup) -> Result<i32, SpawnError> {
    let mut c = command(cmd, setup)?;
    match c.spawn() {
        // Dropping `Child` neither waits nor kills: reaping is ours.
        Ok(child) => Ok(child.id() as i32),
        Err(e) => Err(SpawnError::new(&cmd.argv[0], e)),
    }
}

/// Start the child with its stdout and stderr on pipes (`--log-prefix`);
/// its pid and the pipes' read ends (CLOEXEC, as std makes them).
pub fn spawn_piped(
    cmd: &Command,
    setup: ChildSetup,
) -> Result<(i32, std::process::ChildStdout, std::process::ChildStderr), SpawnError> {
    let mut c = command(cmd, setup)?;
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    match c.spawn() {
        Ok(mut child) => {
            match (child.stdout.take(), child.stderr.take()) {
                (Some(out), Some(err)) => Ok((child.id() as i32, out, err)),
                // Both were asked for as pipes: not expected.
                _ => Err(SpawnError::new(
                    &cmd.argv[0],
                    std::io::Error::other("no pipe for its output"),
                )),
            }
        }
        Err(e) => Err(SpawnError::new(&cmd.argv[0], e)),
    }
}

/// Become the command; returns only on failure.
pub fn exec(cmd: &Command, setup: ChildSetup) -> SpawnError {
    match command(cmd, setup) {
        Ok(mut c) => SpawnError::new(&cmd.argv[0], c.exec()),
        Err(e) => e,
    }
}
