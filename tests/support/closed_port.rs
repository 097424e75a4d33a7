//! [`ClosedPort`]: a port refused until the test opens it. Shared by the
//! tests and the wait bench (`#[path]`), so it needs nothing but std and libc.

#![allow(dead_code, unsafe_code)]

use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A port that is bound but not listening: connections are refused until
/// [`ClosedPort::listen`], and nobody else can take it meanwhile.
pub struct ClosedPort {
    fd: Option<OwnedFd>,
    pub port: u16,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        // SAFETY: plain socket calls on a descriptor this function owns; the
        // sockaddr structs are fully initialised and sized as passed.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let rc = libc::bind(
                fd.as_raw_fd(),
                &addr as *const _ as *const libc::sockaddr,
                len,
            );
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            let mut len = len;
            let rc = libc::getsockname(
                fd.as_raw_fd(),
                &mut addr as *mut _ as *mut libc::sockaddr,
                &mut len,
            );
            assert_eq!(rc, 0, "getsockname: {}", std::io::Error::last_os_error());
            ClosedPort {
                fd: Some(fd),
                port: u16::from_be(addr.sin_port),
            }
        }
    }

    /// `tcp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Start listening (connections are accepted by the kernel from now on).
    pub fn listen(&mut self) -> TcpListener {
        let fd = self.fd.take().expect("listen once");
        // SAFETY: listen(2) on a bound socket we own.
        let rc = unsafe { libc::listen(fd.as_raw_fd(), 128) };
        assert_eq!(rc, 0, "listen: {}", std::io::Error::last_os_error());
        TcpListener::from(fd)
    }
}
