//! Shared by the probe targets: one probe try against a peer on loopback
//! that sends the fuzz input, then closes its side and reads whatever the
//! probe sends until the probe closes. Every try must end (EOF follows the
//! input, so waiting for more is a bug) and allocate at most [`CEILING`]
//! bytes at once, whatever the bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The most a try may have allocated at once, beyond what was live before
/// it: the frame cap is 64 KiB, the input at most `-max_len`.
pub const CEILING: usize = 4 << 20;

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; the
// counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
}

/// One try of the probe for `url(peer address)` against a peer sending
/// `bytes`.
///
/// The peer serves every connection it accepts the same way, not only the
/// first: a port just bound may be one that a test elsewhere on the
/// machine still connects to (a probe retrying a closed port), and the
/// probe's own connection must not wait behind it. A try that has not
/// ended after [`PATIENCE`] is run once more: a try that hangs on these
/// bytes hangs again, while a machine that stalls the process now and then
/// (a loaded CI runner) does not stall the same try twice.
pub fn probe_against(url: impl Fn(SocketAddr) -> String, bytes: &[u8]) {
    RUNTIME.with(|rt| {
        for attempt in 1..=2 {
            if rt.block_on(one_try(&url, bytes)) {
                return;
            }
            eprintln!(
                "the try did not end within {PATIENCE:?} of the peer's EOF (attempt {attempt})"
            );
        }
        panic!("the try did not end after the peer's EOF, twice");
    });
}

/// [`probe_against`] where the input's first byte picks one of two URLs for
/// the peer's address `{a}` (`odd` when the byte is odd, else `even`: with
/// and without a login, say) and the rest is what the server sends.
#[allow(dead_code)] // Not every target has two URLs.
pub fn probe_either(data: &[u8], odd: &str, even: &str) {
    let Some((&flag, bytes)) = data.split_first() else {
        return;
    };
    let url = if flag & 1 == 1 { odd } else { even };
    probe_against(|a| url.replace("{a}", &a.to_string()), bytes);
}

/// How long a try may take after the peer's EOF: its answers take a few
/// milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// One try; whether it ended within [`PATIENCE`]. Panics when it allocated
/// more than [`CEILING`] at once.
async fn one_try(url: &impl Fn(SocketAddr) -> String, bytes: &[u8]) -> bool {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let target = preflight::target::parse(&url(addr)).unwrap();
    let probe = preflight::probe::Probe::new(&target);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let try_ = tokio::time::timeout(PATIENCE, probe.check());
    tokio::pin!(try_);
    let mut connections = tokio::task::JoinSet::new();
    let ended = loop {
        tokio::select! {
            result = &mut try_ => break result.is_ok(),
            Ok((s, _)) = listener.accept() => {
                connections.spawn(serve(s, bytes.to_vec()));
            }
        }
    };
    // The try is over, its connection closed: the peers go too.
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert!(peak <= CEILING, "{peak} bytes live at once");
    ended
}

/// Send `bytes`, close the sending side, read whatever comes until EOF.
async fn serve(mut s: tokio::net::TcpStream, bytes: Vec<u8>) {
    let _ = s.write_all(&bytes).await;
    let _ = s.shutdown().await;
    let mut sink = [0u8; 4096];
    while let Ok(n) = s.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}
