//! The memcached probe against arbitrary server bytes: `version`.

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_against(|a| format!("memcached://{a}"), data);
});
