//! The gRPC probe (a hand-written HTTP/2 client and HPACK decoder) against
//! arbitrary server bytes: the server as a whole, or one service (first
//! input byte odd; the rest is what the server sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&flag, bytes)) = data.split_first() else {
        return;
    };
    let service = flag & 1 == 1;
    peer::probe_against(
        |a| {
            if service {
                format!("grpc://{a}/app.Orders")
            } else {
                format!("grpc://{a}")
            }
        },
        bytes,
    );
});
