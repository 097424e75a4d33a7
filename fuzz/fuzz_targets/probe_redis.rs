//! The Redis probe against arbitrary server bytes: PING, or AUTH, SELECT
//! and PING (first input byte odd;
//! the rest is what the server sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_either(data, "redis://u:pw@{a}/1", "redis://{a}");
});
