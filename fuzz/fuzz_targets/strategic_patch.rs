#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ordinal_apiserver::fuzz::strategic_patch(data));
