//! The one place with `unsafe`: thin wrappers over system calls that have no
//! safe binding. Every block says why it is sound.

#![allow(unsafe_code)]

#[cfg(target_os = "linux")]
use nix::sys::signalfd::SignalFd;
#[cfg(target_os = "linux")]
use tokio::io::unix::AsyncFd;

/// Register a signalfd with the tokio reactor.
#[cfg(target_os = "linux")]
pub fn async_signalfd(fd: SignalFd) -> std::io::Result<AsyncFd<SignalFd>> {
    // SAFETY: tokio requires the fd to stay open and not be registered
    // elsewhere for as long as the AsyncFd lives; the AsyncFd owns the
    // SignalFd, which closes the fd only when dropped, after deregistration.
    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into())
}
