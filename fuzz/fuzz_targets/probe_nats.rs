//! The NATS probe against arbitrary server bytes: without credentials (an
//! INFO with auth_required is up), or with a user and password, which sends
//! CONNECT and PING (first input byte odd; the rest is what the server
//! sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_either(data, "nats://u:pw@{a}", "nats://{a}");
});
