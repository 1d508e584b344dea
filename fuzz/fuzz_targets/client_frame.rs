#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mizulive::fuzzing::client_frame(data));
