//! cosign 2's keyless `.sig` layer: the simple-signing payload with its signature, plus layer
//! annotations for the Fulcio certificate, its chain, the Rekor bundle (signed entry timestamp
//! and entry) and an optional RFC 3161 timestamp. Turned into the Sigstore bundle v0.1 that
//! carries exactly the same evidence (a message signature over the payload, a hashedrekord log
//! entry with its inclusion promise), so one verifier checks both formats.
//!
//! Annotation names and the Rekor bundle's shape: cosign `pkg/oci/static/signature.go` and
//! `pkg/cosign/bundle/rekor.go` (docs/signatures.md).

use base64::Engine as _;
use serde_json::{json, Value};

use crate::engine::signature::keyless::problem::KeylessProblem;

/// The PEM leaf certificate.
pub const CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// The PEM chain (intermediates, then the root).
pub const CHAIN: &str = "dev.sigstore.cosign/chain";
/// The Rekor bundle: `{"SignedEntryTimestamp": b64, "Payload": {body, integratedTime, logIndex, logID}}`.
pub const REKOR_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// `{"SignedRFC3161Timestamp": b64}`.
pub const RFC3161: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// At most this many certificates in a chain annotation (Fulcio's is two).
pub const MAX_CHAIN: usize = 8;

/// The keyless evidence of one `.sig` layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Material {
    /// [`CERTIFICATE`].
    pub certificate: String,
    /// [`CHAIN`], if present.
    pub chain: Option<String>,
    /// [`REKOR_BUNDLE`], if present.
    pub rekor_bundle: Option<String>,
    /// [`RFC3161`], if present.
    pub rfc3161: Option<String>,
}

impl Material {
    /// The material in a layer's annotations, or `None` when the layer has no certificate (a
    /// key-based signature).
    pub fn from_annotations(get: impl Fn(&str) -> Option<String>) -> Option<Material> {
        Some(Material {
            certificate: get(CERTIFICATE).filter(|c| !c.trim().is_empty())?,
            chain: get(CHAIN).filter(|c| !c.trim().is_empty()),
            rekor_bundle: get(REKOR_BUNDLE),
            rfc3161: get(RFC3161),
        })
    }
}

fn bad(m: impl Into<String>) -> KeylessProblem {
    KeylessProblem::BadEncoding(m.into())
}

/// The DER certificates of a PEM text, in order; at most `max`.
pub fn pem_certificates(pem: &str, what: &str, max: usize) -> Result<Vec<Vec<u8>>, KeylessProblem> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        if out.len() == max {
            return Err(KeylessProblem::TooLarge(format!(
                "{what} holds more than {max} certificates"
            )));
        }
        let body = &rest[start + BEGIN.len()..];
        let stop = body
            .find(END)
            .ok_or_else(|| bad(format!("{what}: `{END}` missing")))?;
        let b64: String = body[..stop].split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| bad(format!("{what}: bad base64 in a PEM block: {e}")))?;
        out.push(der);
        rest = &body[stop + END.len()..];
    }
    if out.is_empty() {
        return Err(bad(format!("{what} has no `{BEGIN}` block")));
    }
    Ok(out)
}

/// The v0.1 bundle (JSON) holding `payload`'s signature and `m`'s evidence.
pub fn to_bundle(
    payload: &[u8],
    signature_b64: &str,
    m: &Material,
) -> Result<Vec<u8>, KeylessProblem> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut certs = pem_certificates(&m.certificate, "certificate annotation", 1)?;
    if let Some(chain) = &m.chain {
        certs.extend(pem_certificates(chain, "chain annotation", MAX_CHAIN)?);
    }
    let certs: Vec<Value> = certs.iter().map(|d| json!({"rawBytes": b64(d)})).collect();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim().as_bytes())
        .map_err(|e| bad(format!("signature annotation is not base64: {e}")))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, payload);
    let mut tlog = Vec::new();
    if let Some(rb) = &m.rekor_bundle {
        tlog.push(tlog_entry(rb)?);
    }
    let mut bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": certs},
            "tlogEntries": tlog,
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest.as_ref())},
            "signature": b64(&sig),
        },
    });
    if let Some(ts) = &m.rfc3161 {
        let v: Value = serde_json::from_str(ts)
            .map_err(|e| bad(format!("{RFC3161} annotation is not JSON: {e}")))?;
        let t = v
            .get("SignedRFC3161Timestamp")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad(format!(
                    "{RFC3161} annotation has no SignedRFC3161Timestamp"
                ))
            })?;
        bundle["verificationMaterial"]["timestampVerificationData"] =
            json!({"rfc3161Timestamps": [{"signedTimestamp": t}]});
    }
    serde_json::to_vec(&bundle).map_err(|e| bad(e.to_string()))
}

/// cosign's Rekor bundle annotation as a bundle `tlogEntries` item.
fn tlog_entry(annotation: &str) -> Result<Value, KeylessProblem> {
    let v: Value = serde_json::from_str(annotation)
        .map_err(|e| bad(format!("{REKOR_BUNDLE} annotation is not JSON: {e}")))?;
    let field = |p: &str| {
        v.pointer(p).ok_or_else(|| {
            bad(format!(
                "{REKOR_BUNDLE} annotation has no {}",
                &p[1..].replace('/', ".")
            ))
        })
    };
    let set = field("/SignedEntryTimestamp")?
        .as_str()
        .ok_or_else(|| bad("SignedEntryTimestamp is not a string"))?;
    let body = field("/Payload/body")?
        .as_str()
        .ok_or_else(|| bad("Payload.body is not a string"))?;
    let int = |p: &str| -> Result<i64, KeylessProblem> {
        field(p)?
            .as_i64()
            .ok_or_else(|| bad(format!("{} is not an integer", &p[1..].replace('/', "."))))
    };
    let integrated = int("/Payload/integratedTime")?;
    let index = int("/Payload/logIndex")?;
    let log_id = field("/Payload/logID")?
        .as_str()
        .ok_or_else(|| bad("Payload.logID is not a string"))?;
    let log_id = hex::decode(log_id).map_err(|_| bad("Payload.logID is not hex"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|e| bad(format!("Payload.body is not base64: {e}")))?;
    let entry: Value = serde_json::from_slice(&raw)
        .map_err(|e| bad(format!("the log entry body is not JSON: {e}")))?;
    let kind = entry.get("kind").and_then(Value::as_str).unwrap_or("");
    let version = entry
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    Ok(json!({
        "logIndex": index.to_string(),
        "logId": {"keyId": base64::engine::general_purpose::STANDARD.encode(log_id)},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": integrated.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": set},
        "canonicalizedBody": body,
    }))
}
