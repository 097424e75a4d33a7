//! The MySQL probe against arbitrary server bytes: the anonymous login, or
//! a login with credentials and `SELECT 1` (first input byte odd;
//! the rest is what the server sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_either(data, "mysql://root:pw@{a}/app", "mysql://{a}");
});
