//! Signatures made by the real cosign (see `testdata/README.md`), for the unit tests.

/// cosign's P-256 public key.
pub const COSIGN_PUB: &str = include_str!("testdata/cosign.pub");
/// Another cosign key.
pub const OTHER_PUB: &str = include_str!("testdata/other.pub");
/// The manifest cosign 2 signed.
pub const COSIGN2_SUBJECT: &str =
    "sha256:ec3b7937cccd60b6b5e10c63d6f3cd295bab76b37998fb304a040ac6db48ddea";
/// cosign 2's simple-signing payload for it.
pub const COSIGN2_PAYLOAD: &str = include_str!("testdata/cosign2-payload.json");
/// cosign 2's signature over the payload (layer annotation).
pub const COSIGN2_SIG: &str =
    "MEUCIQDoLuwV2adZ6BL3v55varLHoQhpmVRAs1tWu9y5qRxkEAIgcSSHWXuCZhk0oaDj0EwgvnkfA62t07NgBTVMYU5/iEs=";
/// The index cosign 3 signed.
pub const COSIGN3_SUBJECT: &str =
    "sha256:ff30c9f4ee5508f68b4077b24db7689cdcb1be4cb90dbabe369a55a4d650a753";
/// cosign 3's Sigstore bundle for it.
pub const COSIGN3_BUNDLE: &str = include_str!("testdata/cosign3-bundle.json");
/// The bytes of the index cosign 3 signed.
pub const COSIGN3_INDEX: &str = include_str!("testdata/cosign3-index.json");
/// cosign 3's `sign-blob --bundle` over those bytes: a message-signature bundle.
pub const COSIGN3_MESSAGE_BUNDLE: &str = include_str!("testdata/cosign3-message-bundle.json");
