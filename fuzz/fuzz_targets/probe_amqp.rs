//! The AMQP probe against arbitrary server bytes: Connection.Start only, or
//! the whole login (first input byte odd;
//! the rest is what the server sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_either(data, "amqp://guest:guest@{a}/", "amqp://{a}");
});
