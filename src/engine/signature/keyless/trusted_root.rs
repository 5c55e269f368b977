//! The Sigstore trusted root (`trusted_root.json`, media type
//! `application/vnd.dev.sigstore.trustedroot+json;version=0.1`): Fulcio CA chains, Rekor log
//! keys, CT log keys and timestamp authorities, each with its validity window. Read from a file
//! the site carries into the air gap; never fetched, never embedded (docs/signatures.md).

use std::fmt;
use std::sync::Arc;

use sigstore_verify::trust_root::TrustedRoot as Root;
use sigstore_verify::Verifier;

use crate::engine::signature::keyless::provider;
use crate::model::digest::Digest;

/// A trusted root file larger than this is refused (the public-good root is ~8 KiB).
pub const MAX_TRUSTED_ROOT: usize = 1024 * 1024;

/// A parsed trusted root, ready to verify with.
#[derive(Clone)]
pub struct TrustedRoot {
    /// Where it came from (a file name), for messages.
    pub source: String,
    fingerprint: Digest,
    verifier: Arc<Verifier>,
    summary: String,
}

impl PartialEq for TrustedRoot {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Eq for TrustedRoot {}

impl fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trusted root {} ({})", self.source, self.fingerprint)
    }
}

/// Why a trusted root cannot be used (a usage error: exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RootError(pub String);

impl TrustedRoot {
    /// Parses `trusted_root.json` bytes; `source` names the file in messages. Every key and
    /// certificate is checked here, so a root that loads can verify.
    pub fn from_json(bytes: &[u8], source: &str) -> Result<TrustedRoot, RootError> {
        let err = |m: String| RootError(format!("{source}: {m}"));
        if bytes.len() > MAX_TRUSTED_ROOT {
            return Err(err(format!(
                "{} bytes is too large for a trusted root (at most {MAX_TRUSTED_ROOT})",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| err("not a UTF-8 JSON file".into()))?;
        let root = Root::from_json(text).map_err(|e| {
            err(format!(
                "not a Sigstore trusted root (trusted_root.json): {e}"
            ))
        })?;
        if !root
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(err(format!(
                "mediaType {:?} is not a Sigstore trusted root",
                root.media_type
            )));
        }
        if root.certificate_authorities.is_empty() {
            return Err(err(
                "no certificateAuthorities: a keyless signature cannot chain to anything".into(),
            ));
        }
        if root.tlogs.is_empty() && root.timestamp_authorities.is_empty() {
            return Err(err(
                "no tlogs and no timestampAuthorities: no signing time can be verified".into(),
            ));
        }
        provider::install();
        let verifier = Verifier::new(&root).map_err(|e| err(format!("unusable: {e}")))?;
        let summary = format!(
            "{} CA(s), {} transparency log(s), {} CT log(s), {} timestamp authority(ies)",
            root.certificate_authorities.len(),
            root.tlogs.len(),
            root.ctlogs.len(),
            root.timestamp_authorities.len()
        );
        Ok(TrustedRoot {
            source: source.to_string(),
            fingerprint: Digest::sha256_of(bytes),
            verifier: Arc::new(verifier),
            summary,
        })
    }

    /// `sha256:` of the file's bytes (the report names the root by it).
    pub fn fingerprint(&self) -> String {
        self.fingerprint.to_string()
    }

    /// What the root holds, for messages.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The verifier built from it.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}
