//! Documented exit codes. `docs/exit-codes.md` mirrors this file; a test keeps them in sync.

/// Done: copied, or already up to date.
pub const OK: u8 = 0;
/// Runtime failure: network, registry, I/O, invalid or mismatching content.
pub const FAILURE: u8 = 1;
/// Usage error: a bad flag, reference or platform pattern (clap's own code).
pub const USAGE: u8 = 2;
/// The filters selected nothing, or a requested platform is absent under `--require-platforms`.
pub const NOTHING_SELECTED: u8 = 3;
/// The target registry rejected the sparse index (`--on-reject fail`).
pub const SPARSE_REJECTED: u8 = 4;
/// Authentication or authorisation failed (401/403 or a token-server refusal).
pub const AUTH: u8 = 5;
/// `mirror sync`: some items failed, the others were done (the report lists the failures).
pub const PARTIAL_FAILURE: u8 = 6;
/// `mirror verify` / `mirror sync --verify`: the target lacks something the selection needs.
pub const INCOMPLETE: u8 = 7;
/// `--require-signature`: no signature over the index (or a required child) verifies with the
/// given keys; nothing was written.
pub const SIGNATURE_REQUIRED: u8 = 8;
/// Interrupted by SIGINT or SIGTERM.
pub const INTERRUPTED: u8 = 130;

/// Every code with its name, for docs and tests.
pub const ALL: &[(u8, &str)] = &[
    (OK, "OK"),
    (FAILURE, "FAILURE"),
    (USAGE, "USAGE"),
    (NOTHING_SELECTED, "NOTHING_SELECTED"),
    (SPARSE_REJECTED, "SPARSE_REJECTED"),
    (AUTH, "AUTH"),
    (PARTIAL_FAILURE, "PARTIAL_FAILURE"),
    (INCOMPLETE, "INCOMPLETE"),
    (SIGNATURE_REQUIRED, "SIGNATURE_REQUIRED"),
    (INTERRUPTED, "INTERRUPTED"),
];
