//! Why one signature object does not prove a digest: shared by the format checks
//! (`cosign.rs`, `bundle.rs`), discovery (`discover.rs`) and the gate (`mod.rs`).

/// Why one signature object does not prove the digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The signature does not verify with any required key. `hint_matches`: the bundle names a
    /// key by hint, and that is (`Some(true)`: so the content was altered) or is not
    /// (`Some(false)`: another key) one of the required keys; `None`: no hint.
    #[error("{}", match hint_matches {
        Some(true) => "tampered: the bundle names a required key, but the signature does not verify over its content",
        Some(false) => "signed by another key (not one of the required keys)",
        None => "does not verify with any required key (signed by another key, or the payload was tampered with)",
    })]
    NoKey {
        /// See the variant.
        hint_matches: Option<bool>,
    },
    /// The payload signs another digest (a signature replayed from another image).
    #[error("signs another digest ({0}), not this one")]
    OtherDigest(String),
    /// Malformed: bad base64, not JSON, missing fields, truncated.
    #[error("bad encoding: {0}")]
    BadEncoding(String),
    /// Larger than the limits.
    #[error("too large: {0}")]
    TooLarge(String),
    /// Could not be read (missing, digest mismatch, transport error).
    #[error("unreadable: {0}")]
    Unreadable(String),
    /// A signed object that is not a signature of the image in a format checked here.
    #[error("not checked: {0}")]
    NotASignature(String),
    /// A keyless signature that the identity policy does not accept (issue 23).
    #[error("{0}")]
    Keyless(crate::engine::signature::keyless::problem::KeylessProblem),
    /// A keyless (certificate) signature where only keys are required, or a key-based one
    /// where no key is: the policy cannot check this kind at all (`keyless`: which it is).
    #[error("{}", if *keyless {
        "a keyless (certificate) signature, and no identity policy was given: add --require-signature-identity (or -regexp), --require-signature-issuer and --trusted-root to accept it"
    } else {
        "a key-based signature, and no public key was given: pass its public key with --require-signature KEY_FILE to accept it"
    })]
    WrongKind {
        /// Whether the signature is keyless.
        keyless: bool,
    },
}
