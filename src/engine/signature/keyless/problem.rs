//! Why one keyless signature does not satisfy the policy: the reasons the refusal names.

/// One keyless signature's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeylessProblem {
    /// Valid, but signed by an identity the policy does not accept.
    #[error("other identity: signed by {identity} (issuer {issuer}), not a required identity")]
    OtherIdentity {
        /// The certificate's SAN.
        identity: String,
        /// The certificate's OIDC issuer.
        issuer: String,
    },
    /// Valid, the identity matches, but its OIDC issuer is not the required one.
    #[error("other issuer: signed by {identity} with issuer {issuer}, not a required issuer")]
    OtherIssuer {
        /// The certificate's SAN.
        identity: String,
        /// The certificate's OIDC issuer.
        issuer: String,
    },
    /// The certificate does not chain to a CA of the trusted root valid at the signing time.
    #[error("certificate chain: {0}")]
    Chain(String),
    /// The certificate's signed certificate timestamp does not verify with a CT log key.
    #[error("certificate transparency: {0}")]
    Sct(String),
    /// The certificate was not valid when the log recorded the signature.
    #[error("expired: {0}")]
    Expired(String),
    /// The transparency log entry is missing, not signed by a trusted log, or records another
    /// signature.
    #[error("log entry: {0}")]
    LogEntry(String),
    /// A timestamp from a timestamp authority does not verify.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// The signature does not verify over the signed content with the certificate's key.
    #[error("tampered: {0}")]
    Signature(String),
    /// The signed payload names another digest.
    #[error("signs another digest ({0}), not this one")]
    OtherDigest(String),
    /// An attestation or another object, not an image signature.
    #[error("not checked: {0}")]
    NotASignature(String),
    /// Signed with a key (no certificate): only a key policy can accept it.
    #[error("signed with a key, not keyless (no certificate); pass its public key with --require-signature")]
    KeyBased,
    /// Malformed.
    #[error("bad encoding: {0}")]
    BadEncoding(String),
    /// Over the limits.
    #[error("too large: {0}")]
    TooLarge(String),
}
