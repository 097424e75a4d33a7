//! The PostgreSQL probe against arbitrary server bytes: the `pg_isready`
//! path (no credentials) or the login and `SELECT 1` (first input byte odd;
//! the rest is what the server sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_either(data, "postgres://app:pw@{a}/app", "postgres://{a}");
});
