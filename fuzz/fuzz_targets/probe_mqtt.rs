//! The MQTT probe against arbitrary server bytes: anonymous, or with a user
//! and password (first input byte odd; the rest is what the broker sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_either(data, "mqtt://u:pw@{a}", "mqtt://{a}");
});
