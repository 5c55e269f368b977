//! The signature formats the gate verifies and the gateway writes (a leaf every signature file
//! may import).

use std::fmt;

/// The signature format that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// cosign simple-signing payload (`.sig` tag, or a referrer).
    CosignSimpleSigning,
    /// Sigstore bundle with a DSSE envelope (in-toto statement).
    SigstoreBundleDsse,
    /// Sigstore bundle with a message signature.
    SigstoreBundleMessage,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::CosignSimpleSigning => "cosign simple-signing",
            Format::SigstoreBundleDsse => "Sigstore bundle (DSSE)",
            Format::SigstoreBundleMessage => "Sigstore bundle (message signature)",
        })
    }
}
