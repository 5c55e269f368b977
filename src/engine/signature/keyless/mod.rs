//! Keyless cosign signatures verified offline (issue 23): Sigstore bundles (v0.1–v0.3) and
//! cosign 2's `.sig` layers with certificate and Rekor bundle annotations, checked against a
//! `trusted_root.json` read from disk and an identity/issuer policy, with `sigstore-verify`
//! (sigstore-rust) on a ring-backed provider. docs/signatures.md records why this library.

pub mod cosign2;
pub mod policy;
pub mod problem;
pub mod provider;
pub mod trusted_root;
pub mod verify;

#[cfg(test)]
pub(crate) mod testca;
#[cfg(test)]
pub(crate) mod testlog;
#[cfg(test)]
mod tests;
