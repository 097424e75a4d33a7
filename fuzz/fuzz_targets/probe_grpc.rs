//! The gRPC probe (a hand-written HTTP/2 client and HPACK decoder) against
//! arbitrary server bytes: the server as a whole, or one service (first
//! input byte odd; the rest is what the server sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_either(data, "grpc://{a}/app.Orders", "grpc://{a}");
});
