#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ordinal_apiserver::fuzz::server_side_apply(data));
