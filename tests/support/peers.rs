//! Peers that do not answer, for the waiting tests, all on `127.0.0.1`: a
//! port refused until the test says otherwise ([`ClosedPort`]), and one
//! where a connect hangs ([`BlackHole`]).

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

pub use super::closed_port::ClosedPort;

/// A listener whose accept queue is full, so the kernel drops every new SYN:
/// a connect to it hangs, like one to a firewalled port. Keep the returned
/// value alive for as long as the port must stay a black hole.
pub struct BlackHole {
    listener: TcpListener,
    _queued: Vec<TcpStream>,
}

impl BlackHole {
    #[allow(unsafe_code)]
    pub fn new() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: listen(2) again on our own listening socket only lowers its
        // backlog: 0 means one queued connection fills it.
        let rc = unsafe { libc::listen(listener.as_raw_fd(), 0) };
        assert_eq!(rc, 0, "listen: {}", std::io::Error::last_os_error());
        let addr = listener.local_addr().unwrap();
        let queued = (0..2)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
            .collect();
        let hole = BlackHole {
            listener,
            _queued: queued,
        };
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
            "the accept queue of {addr} should be full"
        );
        hole
    }

    pub fn url(&self) -> String {
        format!("tcp://{}", self.listener.local_addr().unwrap())
    }
}
