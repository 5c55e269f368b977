//! The Sigstore bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`) cosign 3 attaches as a
//! referrer: either a DSSE envelope holding an in-toto statement whose subject is the signed
//! digest (cosign 3's default for images, predicate `https://sigstore.dev/cosign/sign/v1`), or
//! a message signature over the signed manifest's bytes.

use base64::Engine as _;

use crate::engine::signature::keys::PublicKey;
use crate::engine::signature::problem::Problem;
use crate::model::digest::Digest;

/// Bundle media types start with this (v0.1 … v0.3).
pub const BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The in-toto predicate type of `cosign sign` (an attestation has another one).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Which kind of bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// DSSE envelope with an in-toto statement.
    Dsse,
    /// Message signature over the artifact bytes.
    Message,
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, Problem> {
    let s = s.trim();
    base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s.as_bytes()))
        .map_err(|e| Problem::BadEncoding(format!("{what} is not base64: {e}")))
}

fn field<'a>(v: &'a serde_json::Value, ptr: &str) -> Result<&'a str, Problem> {
    v.pointer(ptr).and_then(|v| v.as_str()).ok_or_else(|| {
        Problem::BadEncoding(format!("bundle has no {}", &ptr[1..].replace('/', ".")))
    })
}

/// DSSE pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    v.extend_from_slice(payload);
    v
}

/// Checks one bundle for `subject`. `subject_bytes` are the signed manifest's bytes (for a
/// message signature); returns the bundle kind and the index of the key that verified.
pub fn check(
    bundle: &[u8],
    subject: &Digest,
    subject_bytes: Option<&[u8]>,
    keys: &[PublicKey],
) -> Result<(Content, usize), Problem> {
    let json: serde_json::Value = serde_json::from_slice(bundle)
        .map_err(|e| Problem::BadEncoding(format!("bundle is not JSON: {e}")))?;
    let media = field(&json, "/mediaType")?;
    if !media.starts_with(BUNDLE_PREFIX) {
        return Err(Problem::BadEncoding(format!(
            "not a Sigstore bundle: mediaType {media}"
        )));
    }
    // cosign 3 names the key: base64 SHA-256 of its SubjectPublicKeyInfo.
    let hint = json
        .pointer("/verificationMaterial/publicKey/hint")
        .and_then(|v| v.as_str());
    let hint_matches = hint.map(|h| {
        keys.iter()
            .any(|k| base64::engine::general_purpose::STANDARD.encode(k.spki_sha256_raw()) == h)
    });
    let no_key = Problem::NoKey { hint_matches };
    if let Some(env) = json.get("dsseEnvelope") {
        let ptype = field(env, "/payloadType")?;
        let payload = b64(field(env, "/payload")?, "DSSE payload")?;
        let sigs = env
            .get("signatures")
            .and_then(|s| s.as_array())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Problem::BadEncoding("DSSE envelope has no signatures".into()))?;
        let statement: serde_json::Value = serde_json::from_slice(&payload)
            .map_err(|e| Problem::BadEncoding(format!("DSSE payload is not JSON: {e}")))?;
        if ptype != "application/vnd.in-toto+json" {
            return Err(Problem::BadEncoding(format!(
                "DSSE payload type {ptype}, not an in-toto statement"
            )));
        }
        let predicate = statement
            .get("predicateType")
            .and_then(|p| p.as_str())
            .unwrap_or("");
        let alg = subject.algorithm().as_str();
        let subjects: Vec<String> = statement
            .get("subject")
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| {
                        s.pointer(&format!("/digest/{alg}"))
                            .and_then(|d| d.as_str())
                    })
                    .map(|h| format!("{alg}:{h}"))
                    .collect()
            })
            .unwrap_or_default();
        let pae = pae(ptype, &payload);
        let mut key = None;
        for s in sigs {
            let sig = b64(
                s.get("sig").and_then(|v| v.as_str()).unwrap_or(""),
                "DSSE signature",
            )?;
            if let Some(i) = keys.iter().position(|k| k.verify(&pae, &sig)) {
                key = Some(i);
                break;
            }
        }
        let names_subject = subjects.iter().any(|s| s == subject.as_str());
        return match key {
            _ if !names_subject => Err(Problem::OtherDigest(
                subjects
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "no subject".into()),
            )),
            None => Err(no_key),
            Some(_) if predicate != COSIGN_SIGN_PREDICATE => Err(Problem::NotASignature(format!(
                "an attestation (predicate type {predicate:?}), not a cosign signature"
            ))),
            Some(i) => Ok((Content::Dsse, i)),
        };
    }
    if let Some(m) = json.get("messageSignature") {
        let alg = field(m, "/messageDigest/algorithm")?;
        let signed = b64(field(m, "/messageDigest/digest")?, "message digest")?;
        let sig = b64(field(m, "/signature")?, "message signature")?;
        let want = (0..subject.hex().len() / 2)
            .filter_map(|i| u8::from_str_radix(&subject.hex()[2 * i..2 * i + 2], 16).ok())
            .collect::<Vec<u8>>();
        if alg != "SHA2_256" || subject.algorithm().as_str() != "sha256" || signed != want {
            let hex: String = signed.iter().map(|b| format!("{b:02x}")).collect();
            return Err(Problem::OtherDigest(format!("{alg} {hex}")));
        }
        let bytes = subject_bytes
            .filter(|b| subject.verifies(b))
            .ok_or_else(|| {
                Problem::BadEncoding("the signed manifest's bytes are unavailable".into())
            })?;
        return match keys.iter().position(|k| k.verify(bytes, &sig)) {
            Some(i) => Ok((Content::Message, i)),
            None => Err(no_key),
        };
    }
    Err(Problem::BadEncoding(
        "bundle has neither dsseEnvelope nor messageSignature (truncated?)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::signature::fixtures::*;

    fn keys() -> Vec<PublicKey> {
        vec![PublicKey::from_pem(COSIGN_PUB.as_bytes(), "cosign.pub").unwrap()]
    }

    #[test]
    fn cosign3_dsse_bundle_verifies_for_its_digest_only() {
        let d: Digest = COSIGN3_SUBJECT.parse().unwrap();
        assert_eq!(
            check(COSIGN3_BUNDLE.as_bytes(), &d, None, &keys()),
            Ok((Content::Dsse, 0))
        );
        let other = Digest::sha256_of(b"another image");
        let e = check(COSIGN3_BUNDLE.as_bytes(), &other, None, &keys()).unwrap_err();
        assert_eq!(e, Problem::OtherDigest(COSIGN3_SUBJECT.into()));
    }

    #[test]
    fn other_key_is_told_apart_from_tampering_by_the_hint() {
        let d: Digest = COSIGN3_SUBJECT.parse().unwrap();
        let other = PublicKey::from_pem(OTHER_PUB.as_bytes(), "other.pub").unwrap();
        let e = check(COSIGN3_BUNDLE.as_bytes(), &d, None, &[other]).unwrap_err();
        assert_eq!(
            e,
            Problem::NoKey {
                hint_matches: Some(false)
            }
        );
        // Flip one signature byte: the hint names our key, the signature fails: tampered.
        let json: serde_json::Value = serde_json::from_str(COSIGN3_BUNDLE).unwrap();
        let sig = json
            .pointer("/dsseEnvelope/signatures/0/sig")
            .unwrap()
            .as_str()
            .unwrap();
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let bad = base64::engine::general_purpose::STANDARD.encode(raw);
        let tampered = COSIGN3_BUNDLE.replace(sig, &bad);
        let e = check(tampered.as_bytes(), &d, None, &keys()).unwrap_err();
        assert_eq!(
            e,
            Problem::NoKey {
                hint_matches: Some(true)
            }
        );
    }

    #[test]
    fn hostile_bundles_are_refused_with_a_reason() {
        let d: Digest = COSIGN3_SUBJECT.parse().unwrap();
        let truncated = &COSIGN3_BUNDLE[..COSIGN3_BUNDLE.len() / 2];
        let cases = [
            (truncated.to_string(), "not JSON"),
            ("{\"mediaType\":\"application/json\"}".to_string(), "not a Sigstore bundle"),
            (format!("{{\"mediaType\":\"{BUNDLE_PREFIX}.v0.3+json\"}}"), "neither"),
            (
                COSIGN3_BUNDLE.replace("\"payload\":\"", "\"payload\":\"%%"),
                "not base64",
            ),
            (
                format!("{{\"mediaType\":\"{BUNDLE_PREFIX}.v0.3+json\",\"dsseEnvelope\":{{\"payloadType\":\"x\",\"payload\":\"e30=\",\"signatures\":[]}}}}"),
                "no signatures",
            ),
        ];
        for (b, want) in cases {
            let e = check(b.as_bytes(), &d, None, &keys()).unwrap_err();
            assert!(e.to_string().contains(want), "{want:?} not in {e}");
        }
    }

    #[test]
    fn cosign3_message_signature_bundle_verifies_over_the_manifest_bytes() {
        let d: Digest = COSIGN3_SUBJECT.parse().unwrap();
        let bytes = COSIGN3_INDEX.as_bytes();
        let b = COSIGN3_MESSAGE_BUNDLE.as_bytes();
        assert_eq!(
            check(b, &d, Some(bytes), &keys()),
            Ok((Content::Message, 0))
        );
        // Without the signed bytes, or with bytes of another manifest: no proof.
        let e = check(b, &d, None, &keys()).unwrap_err();
        assert!(matches!(e, Problem::BadEncoding(_)), "{e}");
        let e = check(b, &d, Some(b"{}"), &keys()).unwrap_err();
        assert!(matches!(e, Problem::BadEncoding(_)), "{e}");
        let other = Digest::sha256_of(b"{}");
        let e = check(b, &other, Some(b"{}"), &keys()).unwrap_err();
        assert!(matches!(e, Problem::OtherDigest(_)), "{e}");
        let k = PublicKey::from_pem(OTHER_PUB.as_bytes(), "other.pub").unwrap();
        let e = check(b, &d, Some(bytes), &[k]).unwrap_err();
        assert_eq!(
            e,
            Problem::NoKey {
                hint_matches: Some(false)
            }
        );
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }
}
