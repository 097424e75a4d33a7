//! The Kafka probe against arbitrary broker bytes: ApiVersions, then
//! Metadata when listed.

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_against(|a| format!("kafka://{a}"), data);
});
