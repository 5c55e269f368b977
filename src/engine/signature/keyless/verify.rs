//! Checking one keyless signature completely and offline with `sigstore-verify`: the
//! certificate chains to a Fulcio CA of the trusted root valid at the signing time (the log's
//! integrated time, or an RFC 3161 timestamp), its SCT verifies with a CT log key, the Rekor
//! entry verifies (SET, or inclusion proof and signed checkpoint) and records this signature
//! and certificate, the signature verifies over the signed content, the content names the
//! digest being checked, and then the certificate's identity and issuer match the policy.
//! Sizes and counts are bounded before the library parses anything.

use base64::Engine as _;
use serde_json::Value;
use sigstore_verify::types::{Artifact, Bundle, Sha256Hash};
use sigstore_verify::{CertificateError, Error as VerifyError, VerificationPolicy};

use crate::engine::signature::keyless::cosign2::{self, Material};
use crate::engine::signature::keyless::policy::{KeylessPolicy, Mismatch};
use crate::engine::signature::keyless::problem::KeylessProblem;
use crate::model::digest::Digest;

/// At most this many transparency log entries in one bundle (cosign writes one).
pub const MAX_TLOG_ENTRIES: usize = 4;
/// At most this many certificates in one bundle's chain (Fulcio's leaf, intermediate, root).
pub const MAX_CERTIFICATES: usize = 8;
/// A certificate larger than this (DER) is refused (Fulcio's are under 2 KiB).
pub const MAX_CERTIFICATE: usize = 16 * 1024;
/// At most this many RFC 3161 timestamps in one bundle.
pub const MAX_TIMESTAMPS: usize = 4;
/// The in-toto predicate type of `cosign sign`.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Who signed, once everything verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The certificate's SAN (email or URI).
    pub identity: String,
    /// The OIDC issuer recorded by Fulcio.
    pub issuer: String,
    /// Which of the policy's identities accepted it.
    pub accepted_by: usize,
    /// The log's integrated time (seconds since the epoch), if a log entry proved one.
    pub integrated_time: Option<i64>,
}

fn bad(m: impl Into<String>) -> KeylessProblem {
    KeylessProblem::BadEncoding(m.into())
}

/// Whether a bundle's JSON carries a certificate (keyless) rather than a public key hint.
pub fn is_keyless(bundle: &Value) -> bool {
    let vm = bundle.get("verificationMaterial");
    vm.and_then(|v| {
        v.get("certificate")
            .or_else(|| v.get("x509CertificateChain"))
    })
    .is_some()
}

/// Refuses a bundle whose counts or certificate sizes exceed the limits.
fn bounded(json: &Value) -> Result<(), KeylessProblem> {
    let vm = json
        .get("verificationMaterial")
        .ok_or_else(|| bad("bundle has no verificationMaterial"))?;
    let count = |p: &str| vm.pointer(p).and_then(Value::as_array).map_or(0, Vec::len);
    let limits = [
        ("/tlogEntries", MAX_TLOG_ENTRIES, "transparency log entries"),
        (
            "/x509CertificateChain/certificates",
            MAX_CERTIFICATES,
            "certificates",
        ),
        (
            "/timestampVerificationData/rfc3161Timestamps",
            MAX_TIMESTAMPS,
            "RFC 3161 timestamps",
        ),
    ];
    for (p, max, what) in limits {
        let n = count(p);
        if n > max {
            return Err(KeylessProblem::TooLarge(format!(
                "bundle has {n} {what} (at most {max})"
            )));
        }
    }
    let mut certs: Vec<&Value> = vm
        .pointer("/x509CertificateChain/certificates")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    certs.extend(vm.get("certificate"));
    for c in certs {
        let len = c
            .get("rawBytes")
            .and_then(Value::as_str)
            .map_or(0, str::len);
        if len / 4 * 3 > MAX_CERTIFICATE {
            return Err(KeylessProblem::TooLarge(format!(
                "a certificate of about {} bytes (at most {MAX_CERTIFICATE})",
                len / 4 * 3
            )));
        }
    }
    Ok(())
}

fn sha256_of(subject: &Digest) -> Result<Sha256Hash, KeylessProblem> {
    if subject.algorithm().as_str() != "sha256" {
        return Err(bad(format!(
            "{subject}: keyless signatures name SHA-256 digests"
        )));
    }
    Sha256Hash::from_hex(subject.hex()).map_err(|e| bad(e.to_string()))
}

/// What the bundle's content binds: the DSSE statement's subject (with the cosign predicate),
/// or the message digest of the manifest bytes.
pub(crate) enum Binding<'a> {
    /// The DSSE statement names this digest.
    Digest(Sha256Hash),
    /// The message signature covers these bytes.
    Bytes(&'a [u8]),
}

fn binding<'a>(
    json: &Value,
    subject: &Digest,
    subject_bytes: Option<&'a [u8]>,
) -> Result<Binding<'a>, KeylessProblem> {
    if let Some(env) = json.get("dsseEnvelope") {
        let payload = env
            .get("payload")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("DSSE envelope has no payload"))?;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(payload.as_bytes())
            .map_err(|e| bad(format!("DSSE payload is not base64: {e}")))?;
        let statement: Value = serde_json::from_slice(&payload)
            .map_err(|e| bad(format!("DSSE payload is not JSON: {e}")))?;
        let subjects: Vec<String> = statement
            .get("subject")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.pointer("/digest/sha256").and_then(Value::as_str))
                    .map(|h| format!("sha256:{h}"))
                    .collect()
            })
            .unwrap_or_default();
        if !subjects.iter().any(|s| s == subject.as_str()) {
            let first = subjects
                .first()
                .cloned()
                .unwrap_or_else(|| "no subject".into());
            return Err(KeylessProblem::OtherDigest(first));
        }
        let predicate = statement
            .get("predicateType")
            .and_then(Value::as_str)
            .unwrap_or("");
        if predicate != COSIGN_SIGN_PREDICATE {
            return Err(KeylessProblem::NotASignature(format!(
                "an attestation (predicate type {predicate:?}), not a cosign signature"
            )));
        }
        return Ok(Binding::Digest(sha256_of(subject)?));
    }
    if let Some(m) = json.get("messageSignature") {
        if let Some(d) = m.pointer("/messageDigest/digest").and_then(Value::as_str) {
            let signed = base64::engine::general_purpose::STANDARD
                .decode(d.as_bytes())
                .map_err(|e| bad(format!("message digest is not base64: {e}")))?;
            if hex::encode(&signed) != subject.hex() {
                return Err(KeylessProblem::OtherDigest(format!(
                    "sha256:{}",
                    hex::encode(signed)
                )));
            }
        }
        let bytes = subject_bytes
            .filter(|b| subject.verifies(b))
            .ok_or_else(|| bad("the signed manifest's bytes are unavailable"))?;
        return Ok(Binding::Bytes(bytes));
    }
    Err(bad(
        "bundle has neither dsseEnvelope nor messageSignature (truncated?)",
    ))
}

/// Checks a Sigstore bundle (v0.1–v0.3) found for `subject` (`subject_bytes`: the manifest's
/// bytes, for a message signature).
pub fn check_bundle(
    bundle: &[u8],
    subject: &Digest,
    subject_bytes: Option<&[u8]>,
    policy: &KeylessPolicy,
) -> Result<Signer, KeylessProblem> {
    let json: Value =
        serde_json::from_slice(bundle).map_err(|e| bad(format!("bundle is not JSON: {e}")))?;
    let media = json.get("mediaType").and_then(Value::as_str).unwrap_or("");
    if !media.starts_with("application/vnd.dev.sigstore.bundle") {
        return Err(bad(format!("not a Sigstore bundle: mediaType {media:?}")));
    }
    bounded(&json)?;
    if !is_keyless(&json) {
        return Err(KeylessProblem::KeyBased);
    }
    let binding = binding(&json, subject, subject_bytes)?;
    verify(bundle, binding, policy)
}

/// Checks cosign 2's keyless `.sig` layer: the simple-signing `payload`, its base64 signature
/// and the layer's certificate, chain and Rekor bundle annotations.
pub fn check_cosign2(
    payload: &[u8],
    signature_b64: &str,
    material: &Material,
    subject: &Digest,
    policy: &KeylessPolicy,
) -> Result<Signer, KeylessProblem> {
    let json: Value =
        serde_json::from_slice(payload).map_err(|e| bad(format!("payload is not JSON: {e}")))?;
    let signed = json
        .pointer("/critical/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("payload has no critical.image.docker-manifest-digest"))?;
    if signed != subject.as_str() {
        return Err(KeylessProblem::OtherDigest(signed.to_string()));
    }
    if material.rekor_bundle.is_none() && material.rfc3161.is_none() {
        return Err(KeylessProblem::LogEntry(format!(
            "no {} annotation (signed with --tlog-upload=false?): nothing proves when it was signed",
            cosign2::REKOR_BUNDLE
        )));
    }
    let bundle = cosign2::to_bundle(payload, signature_b64, material)?;
    verify(&bundle, Binding::Bytes(payload), policy)
}

pub(crate) fn verify(
    bundle: &[u8],
    binding: Binding<'_>,
    policy: &KeylessPolicy,
) -> Result<Signer, KeylessProblem> {
    let text = std::str::from_utf8(bundle).map_err(|_| bad("bundle is not UTF-8"))?;
    let parsed = Bundle::from_json(text).map_err(|e| bad(format!("bundle: {e}")))?;
    let artifact = match &binding {
        Binding::Digest(d) => Artifact::from(*d),
        Binding::Bytes(b) => Artifact::from(*b),
    };
    let result = policy
        .root
        .verifier()
        .verify(artifact, &parsed, &VerificationPolicy::any_identity())
        .map_err(|e| problem(e, &policy.root.source))?;
    let identity = result
        .identity()
        .map(|i| i.as_str().to_string())
        .ok_or_else(|| {
            KeylessProblem::Chain("the certificate names no email or URI identity".into())
        })?;
    let issuer = result.issuer().map(str::to_string).ok_or_else(|| {
        KeylessProblem::Chain("the certificate has no OIDC issuer extension".into())
    })?;
    match policy.accepts(&identity, &issuer) {
        Ok(i) => Ok(Signer {
            identity,
            issuer,
            accepted_by: i,
            integrated_time: result.integrated_time().map(|t| t.as_second()),
        }),
        Err(Mismatch::Identity) => Err(KeylessProblem::OtherIdentity { identity, issuer }),
        Err(Mismatch::Issuer) => Err(KeylessProblem::OtherIssuer { identity, issuer }),
    }
}

/// The library's error as one of the refusal's reasons.
fn problem(e: VerifyError, root: &str) -> KeylessProblem {
    use sigstore_verify::{TimestampError, TransparencyLogError};
    match e {
        VerifyError::SignatureInvalid(m) => KeylessProblem::Signature(m),
        // The content's own digest was compared before; a mismatch the library finds is the
        // log entry recording another artifact.
        VerifyError::ArtifactMismatch(m) if m.contains("entry") => KeylessProblem::LogEntry(format!(
            "records another signed artifact ({m})"
        )),
        VerifyError::ArtifactMismatch(m) => KeylessProblem::OtherDigest(m),
        VerifyError::Certificate(c) => match c {
            CertificateError::Expired { .. } | CertificateError::NotYetValid { .. } => {
                KeylessProblem::Expired(format!("the certificate {c}"))
            }
            CertificateError::NoValidAuthority { time } => KeylessProblem::Chain(format!(
                "no CA of the trusted root {root} is valid at the signing time {time}"
            )),
            CertificateError::ChainInvalid(m) if m.contains("Expired") || m.contains("NotValidYet") => {
                KeylessProblem::Expired(format!("a certificate of the chain was not valid at the signing time ({m})"))
            }
            CertificateError::ChainInvalid(m) => KeylessProblem::Chain(format!(
                "not issued by a CA of the trusted root {root} ({m})"
            )),
            CertificateError::Sct(m) => KeylessProblem::Sct(m),
            CertificateError::Malformed(m) => bad(format!("certificate: {m}")),
            other => KeylessProblem::Chain(other.to_string()),
        },
        VerifyError::TransparencyLog(t) => match t {
            TransparencyLogError::UnknownLog { log_id } => KeylessProblem::LogEntry(format!(
                "recorded by log {log_id}, which the trusted root {root} does not list"
            )),
            TransparencyLogError::EntryMismatch(m) => KeylessProblem::LogEntry(format!(
                "records another signature or certificate ({m})"
            )),
            TransparencyLogError::IntegratedTime(m) => KeylessProblem::Expired(format!(
                "the log recorded it outside the certificate's validity ({m})"
            )),
            other => KeylessProblem::LogEntry(other.to_string()),
        },
        VerifyError::Timestamp(TimestampError::NoVerifiedTimestamp(_)) => KeylessProblem::LogEntry(
            "no transparency log entry with a signed entry timestamp, and no trusted timestamp, proves when it was signed".into(),
        ),
        VerifyError::Timestamp(t) => KeylessProblem::Timestamp(t.to_string()),
        other => bad(other.to_string()),
    }
}
