//! The whole exit-code contract of preflight, in one place.
//!
//! | code      | meaning                                                                 |
//! |-----------|-------------------------------------------------------------------------|
//! | 0..=255   | the command's own exit status, when it ran and exited                   |
//! | 128 + N   | the command (or a hook) died of signal N; or preflight was stopped by   |
//! |           | signal N while waiting, before anything was started                     |
//! | 1         | `check`: a target is not ready; `wait`: a target can never be ready     |
//! |           | (wrong credentials, rejected TLS certificate)                           |
//! | 2         | bad arguments or configuration: nothing was started                     |
//! | 125       | preflight itself could not work (its async runtime could not be built:  |
//! |           | out of file descriptors or memory): nothing was started. Not 2, since   |
//! |           | the arguments were fine; 125 as `docker run` and `env` use it for their |
//! |           | own failure, apart from the command's codes                             |
//! | 124       | waiting (or a hook) timed out                                           |
//! | 126       | the command or a hook exists but cannot be executed                     |
//! | 127       | the command or a hook was not found                                     |
//! | hook's    | a failing hook's own status (128 + N if it died of signal N)            |
//!
//! `--remap-exit FROM:TO` rewrites the command's code last (Java exits 143 on a
//! clean TERM).

/// Success.
pub const OK: u8 = 0;
/// `check`: not ready now; `wait`: a target failed for good.
pub const NOT_READY: u8 = 1;
/// Bad arguments, URL, variable or configuration.
pub const USAGE: u8 = 2;
/// Waiting or a hook ran past its timeout.
pub const TIMED_OUT: u8 = 124;
/// preflight's own machinery failed (the async runtime could not be built).
pub const INTERNAL: u8 = 125;
/// Found but not executable (EACCES, ENOEXEC, a directory...).
pub const CANNOT_EXECUTE: u8 = 126;
/// Not found on `PATH` (ENOENT).
pub const NOT_FOUND: u8 = 127;

/// How a child process ended, as `waitpid` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `exit(code)`.
    Exited(u8),
    /// Killed by signal number N.
    Signaled(i32),
}

impl Status {
    /// The code a shell would report: the exit code, or 128 + N for signal N.
    pub fn code(self) -> u8 {
        match self {
            Status::Exited(code) => code,
            // Real-time signals go up to 64: 128 + 64 still fits in a u8.
            Status::Signaled(sig) => 128u8.saturating_add(sig.clamp(0, 127) as u8),
        }
    }

    pub fn success(self) -> bool {
        self == Status::Exited(0)
    }
}

/// The code for a process that preflight could not start, from the errno of
/// `execve` (the same rule as tini and POSIX shells).
pub fn for_exec_error(err: &std::io::Error) -> u8 {
    match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => NOT_FOUND,
        _ => CANNOT_EXECUTE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // That the command's status comes back unchanged, 0 to 255, is a
    // property of the binary: tests/init_exit.rs runs all 256.

    #[test]
    fn the_codes_are_the_documented_ones() {
        assert_eq!(
            [
                OK,
                NOT_READY,
                USAGE,
                TIMED_OUT,
                INTERNAL,
                CANNOT_EXECUTE,
                NOT_FOUND
            ],
            [0, 1, 2, 124, 125, 126, 127]
        );
    }

    #[test]
    fn only_exit_0_is_success() {
        for code in 0..=255u8 {
            assert_eq!(Status::Exited(code).success(), code == 0, "{code}");
        }
        for sig in 1..=64 {
            assert!(!Status::Signaled(sig).success(), "{sig}");
        }
    }

    #[test]
    fn a_signal_gives_128_plus_its_number() {
        for sig in 1..=64 {
            assert_eq!(Status::Signaled(sig).code() as i32, 128 + sig);
        }
        // Past any real signal it stops at 255 rather than wrapping to a
        // code that would read as success or as another status.
        assert_eq!(Status::Signaled(128).code(), 255);
        assert_eq!(Status::Signaled(i32::MAX).code(), 255);
    }

    #[test]
    fn exec_errors_map_like_a_shell() {
        let e = |n| std::io::Error::from_raw_os_error(n);
        assert_eq!(for_exec_error(&e(libc::ENOENT)), NOT_FOUND);
        assert_eq!(for_exec_error(&e(libc::EACCES)), CANNOT_EXECUTE);
        assert_eq!(for_exec_error(&e(libc::ENOEXEC)), CANNOT_EXECUTE);
    }
}
