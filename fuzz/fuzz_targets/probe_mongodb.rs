//! The MongoDB probe against arbitrary server bytes: hello (and isMaster
//! after a CommandNotFound), any server or only a writable primary (first
//! input byte odd; the rest is what the server sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    peer::probe_either(data, "mongodb://{a}#primary=true", "mongodb://{a}");
});
