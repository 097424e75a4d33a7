//! The HTTP probe against arbitrary server bytes.

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_against(|a| format!("http://{a}/health"), data);
});
