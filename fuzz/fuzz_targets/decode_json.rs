#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ordinal_apiserver::fuzz::decode_json(data));
