//! Manifest and index bytes through the lenient view and the planner (first byte: media-type hint).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sparse_mirror::fuzz_checks::manifest(data);
});
