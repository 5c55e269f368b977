//! Registry response parsers: `Retry-After`, `Link`, `Location`, `Content-Range`,
//! `WWW-Authenticate`, rate-limit headers and token JSON (see `fuzz_checks::response`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sparse_mirror::fuzz_checks::response(data);
});
