//! `--platform` values (patterns, globs, excludes, comma lists).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        sparse_mirror::fuzz_checks::platform(text);
    }
});
