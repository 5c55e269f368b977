//! Signature verification in-process (issue 15): cosign's simple-signing payload and the
//! Sigstore bundle cosign 3 attaches, checked against PEM public keys with `ring`, and the gate
//! that refuses to mirror an image without a valid signature over its index digest.
//!
//! What a verified signature proves: the holder of one of the given keys signed exactly this
//! digest (the payload or in-toto statement names it, and the signature over those bytes
//! verifies). Keyless signatures (Fulcio certificates, Rekor entries) go to the identity policy
//! of `keyless/` against a trusted root read from disk (issue 23; docs/signatures.md).

pub mod bundle;
pub mod cosign;
pub mod der;
pub mod discover;
pub mod encrypted_key;
#[cfg(test)]
mod fixtures;
pub mod format;
pub mod keyless;
pub mod keys;
pub mod payload;
pub mod private_key;
pub mod problem;
pub mod publish;
pub mod sign;

pub use discover::Via;
pub use format::Format;
pub use keys::{KeyError, PublicKey};
pub use problem::Problem;

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::RawManifest;
use crate::transport::Storage;

/// What the gate requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// At least one signature must verify with one of these keys (or be accepted by the
    /// keyless policy); both empty: no gate.
    pub keys: Vec<PublicKey>,
    /// Keyless signatures: identities and the trusted root (`--require-signature-identity`).
    pub keyless: Option<keyless::policy::KeylessPolicy>,
    /// Also every selected child manifest.
    pub children: bool,
}

impl Policy {
    /// Whether the policy requires anything.
    pub fn enabled(&self) -> bool {
        !self.keys.is_empty() || self.keyless.is_some()
    }

    /// What the policy accepts, for the refusal: key files and identities.
    fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("key {} ({})", k.source, k.fingerprint()))
            .collect();
        if let Some(k) = &self.keyless {
            parts.extend(k.identities.iter().map(|i| format!("identity {i}")));
            parts.push(format!("trusted root {}", k.root.source));
        }
        parts.join(", ")
    }
}

/// The signature that verified for one digest (the JSON report's `signatures` entries).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verified {
    /// The signed manifest (the index, or a child).
    pub subject: Digest,
    /// The format.
    pub format: Format,
    /// `sha256:<hex>` of the key's SubjectPublicKeyInfo DER (key-based signatures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
    /// The certificate's identity (SAN) and OIDC issuer (keyless signatures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// See `identity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `referrer`, `fallback-tag` or `digest-tag`.
    pub via: String,
    /// The signature manifest's digest.
    pub signature_digest: Digest,
    /// The tag it was found under, if any.
    pub tag: Option<String>,
}

/// The gate's answer: the index's verified signature first, then each child's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureVerdict {
    /// One entry per checked digest.
    pub verified: Vec<Verified>,
}

/// Checks `subject` (with its manifest bytes when known): the first signature that verifies,
/// or every signature found with why it failed. A signature with a certificate goes to the
/// keyless policy, one without to the keys.
pub async fn check_digest<S: Storage>(
    storage: &S,
    subject: &Digest,
    subject_bytes: Option<&[u8]>,
    policy: &Policy,
) -> Result<std::result::Result<Verified, Vec<(discover::Found, Problem)>>> {
    let found = discover::discover(storage, subject).await?;
    let keys = &policy.keys;
    let mut failed = Vec::new();
    for f in found {
        let keyless_sig = match &f.content {
            Ok(discover::Content::Simple { keyless, .. }) => keyless.is_some(),
            Ok(discover::Content::Bundle(b)) => keyless_bundle(b),
            Err(_) => false,
        };
        let outcome = match &f.content {
            Err(p) => Err(p.clone()),
            // A kind the policy has nothing to check with: say so, not "another key".
            Ok(_) if keyless_sig && policy.keyless.is_none() => {
                Err(Problem::WrongKind { keyless: true })
            }
            Ok(_) if !keyless_sig && keys.is_empty() => Err(Problem::WrongKind { keyless: false }),
            Ok(discover::Content::Simple {
                payload,
                signature,
                keyless: Some(m),
            }) if policy.keyless.is_some() => policy
                .keyless
                .as_ref()
                .map(|k| keyless::verify::check_cosign2(payload, signature, m, subject, k))
                .expect("guarded")
                .map(|s| (Format::CosignSimpleSigning, Signer::Keyless(s)))
                .map_err(Problem::Keyless),
            Ok(discover::Content::Simple {
                payload, signature, ..
            }) => cosign::check(payload, signature, subject, keys)
                .map(|k| (Format::CosignSimpleSigning, Signer::Key(k))),
            Ok(discover::Content::Bundle(b)) => match &policy.keyless {
                Some(k) if keyless_bundle(b) => {
                    keyless::verify::check_bundle(b, subject, subject_bytes, k)
                        .map(|s| {
                            let format = if bundle_is_dsse(b) {
                                Format::SigstoreBundleDsse
                            } else {
                                Format::SigstoreBundleMessage
                            };
                            (format, Signer::Keyless(s))
                        })
                        .map_err(Problem::Keyless)
                }
                _ => bundle::check(b, subject, subject_bytes, keys).map(|(c, k)| match c {
                    bundle::Content::Dsse => (Format::SigstoreBundleDsse, Signer::Key(k)),
                    bundle::Content::Message => (Format::SigstoreBundleMessage, Signer::Key(k)),
                }),
            },
        };
        match outcome {
            Ok((format, signer)) => {
                let (key_fingerprint, identity, issuer) = match signer {
                    Signer::Key(k) => (Some(keys[k].fingerprint()), None, None),
                    Signer::Keyless(s) => (None, Some(s.identity), Some(s.issuer)),
                };
                return Ok(Ok(Verified {
                    subject: subject.clone(),
                    format,
                    key_fingerprint,
                    identity,
                    issuer,
                    via: f.via.kind().to_string(),
                    signature_digest: f.manifest.clone(),
                    tag: f.via.tag().map(str::to_string),
                }));
            }
            Err(p) => failed.push((f, p)),
        }
    }
    Ok(Err(failed))
}

/// Who a verified signature names.
enum Signer {
    /// The index of the key that verified.
    Key(usize),
    /// The certificate's identity.
    Keyless(keyless::verify::Signer),
}

fn keyless_bundle(b: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| keyless::verify::is_keyless(&v))
}

fn bundle_is_dsse(b: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| v.get("dsseEnvelope").is_some())
}

fn refusal(
    image: &str,
    what: &str,
    subject: &Digest,
    policy: &Policy,
    failed: &[(discover::Found, Problem)],
) -> Error {
    let mut detail = if policy.keyless.is_none() {
        let keys: Vec<String> = policy
            .keys
            .iter()
            .map(|k| format!("{} ({})", k.source, k.fingerprint()))
            .collect();
        format!(
            "no signature over {what} {subject} verifies with the required key(s) {}",
            keys.join(", ")
        )
    } else {
        format!(
            "no signature over {what} {subject} is accepted by the policy: {}",
            policy.describe()
        )
    };
    if failed.is_empty() {
        detail.push_str(&format!(
            "; no signature found (looked for referrers, the {} fallback tag and the {}.sig tag)",
            crate::engine::referrers::fallback_tag(subject),
            crate::engine::referrers::fallback_tag(subject)
        ));
    } else {
        detail.push_str(&format!("; {} signature(s) found:", failed.len()));
        for (f, p) in failed {
            let kind = match &f.content {
                Ok(discover::Content::Simple {
                    keyless: Some(_), ..
                }) => "cosign keyless simple-signing",
                Ok(discover::Content::Simple { .. }) => "cosign simple-signing",
                Ok(discover::Content::Bundle(_)) => "Sigstore bundle",
                Err(_) => "signature object",
            };
            let place = match f.via.tag() {
                Some(t) => format!("{} {} (tag {t})", f.via.kind(), f.manifest),
                None => format!("{} {}", f.via.kind(), f.manifest),
            };
            detail.push_str(&format!("\n  - {kind} {place}: {p}"));
        }
    }
    Error::SignatureRequired {
        image: image.to_string(),
        detail,
    }
}

/// The gate: before anything is written, a signature over the index digest (and, with
/// `policy.children`, over each of `children`) must verify with one of the policy's keys.
/// `image` names the source in the refusal ([`Error::SignatureRequired`], exit 8), which lists
/// every signature found and why each failed.
pub async fn gate<S: Storage>(
    storage: &S,
    image: &str,
    root: &RawManifest,
    children: &[Digest],
    policy: &Policy,
) -> Result<SignatureVerdict> {
    let mut verdict = SignatureVerdict::default();
    if !policy.enabled() {
        return Ok(verdict);
    }
    match check_digest(storage, &root.digest, Some(&root.bytes), policy).await? {
        Ok(v) => verdict.verified.push(v),
        Err(failed) => return Err(refusal(image, "index", &root.digest, policy, &failed)),
    }
    if policy.children {
        for c in children {
            // The bytes, for a message-signature bundle. A failed read is reported as itself
            // (method, URL, status), not as a signature that does not verify.
            let bytes = storage
                .fetch_manifest(c.as_str(), None)
                .await
                .map_err(|e| {
                    e.context(format!(
                        "reading child manifest {c} of {image} to check its signature"
                    ))
                })
                .map(|m| Some(m.bytes))?;
            match check_digest(storage, c, bytes.as_deref(), policy).await? {
                Ok(v) => verdict.verified.push(v),
                Err(failed) => return Err(refusal(image, "child manifest", c, policy, &failed)),
            }
        }
    }
    Ok(verdict)
}

/// The selected child image manifests that `--require-signature-children` checks: copied
/// entries with a runnable platform (attestation manifests and nested indexes are not signed
/// by `cosign sign`).
pub fn subjects(plan: &crate::engine::plan::Plan) -> Vec<Digest> {
    plan.entries
        .iter()
        .filter(|e| e.decision.is_copy())
        .filter(|e| e.descriptor.attestation_subject().is_none())
        .filter(|e| {
            e.descriptor
                .platform
                .as_ref()
                .is_some_and(|p| p.to_string() != "unknown/unknown")
        })
        .map(|e| e.descriptor.digest.clone())
        .collect()
}
