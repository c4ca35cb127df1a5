#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| palaver_server::fuzzing::irc_session(data));
