#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ordinal_dns::fuzz::packet(data));
