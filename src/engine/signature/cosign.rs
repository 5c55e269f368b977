//! cosign's simple-signing format: a JSON payload whose `critical.image.docker-manifest-digest`
//! names the signed manifest, signed as bytes; the signature is the base64 annotation
//! `dev.cosignproject.cosign/signature` of the payload layer (cosign 2 `.sig` tags, and cosign
//! signatures attached as referrers).

use base64::Engine as _;

use crate::engine::signature::keys::PublicKey;
use crate::engine::signature::problem::Problem;
use crate::model::digest::Digest;

/// The payload layer's media type.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation that holds the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// Checks one simple-signing payload and its base64 signature for `subject`: the index of the
/// key that signed it, or why it proves nothing.
pub fn check(
    payload: &[u8],
    signature_b64: &str,
    subject: &Digest,
    keys: &[PublicKey],
) -> Result<usize, Problem> {
    let sig = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim().as_bytes())
        .map_err(|e| Problem::BadEncoding(format!("signature annotation is not base64: {e}")))?;
    let json: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| Problem::BadEncoding(format!("payload is not JSON: {e}")))?;
    let signed = json
        .pointer("/critical/image/docker-manifest-digest")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            Problem::BadEncoding("payload has no critical.image.docker-manifest-digest".to_string())
        })?;
    let key = keys.iter().position(|k| k.verify(payload, &sig));
    match key {
        Some(_) if signed != subject.as_str() => Err(Problem::OtherDigest(signed.to_string())),
        Some(i) => Ok(i),
        None if signed != subject.as_str() => Err(Problem::OtherDigest(signed.to_string())),
        None => Err(Problem::NoKey { hint_matches: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::signature::fixtures::*;

    fn keys() -> Vec<PublicKey> {
        vec![PublicKey::from_pem(COSIGN_PUB.as_bytes(), "cosign.pub").unwrap()]
    }

    #[test]
    fn cosign2_signature_verifies_for_its_digest_only() {
        let d: Digest = COSIGN2_SUBJECT.parse().unwrap();
        assert_eq!(
            check(COSIGN2_PAYLOAD.as_bytes(), COSIGN2_SIG, &d, &keys()),
            Ok(0)
        );
        // Replayed onto another image: the payload names the other digest.
        let other = Digest::sha256_of(b"another image");
        let e = check(COSIGN2_PAYLOAD.as_bytes(), COSIGN2_SIG, &other, &keys()).unwrap_err();
        assert_eq!(e, Problem::OtherDigest(COSIGN2_SUBJECT.into()));
    }

    #[test]
    fn tampered_payload_other_key_and_bad_encodings_are_refused() {
        let d: Digest = COSIGN2_SUBJECT.parse().unwrap();
        let tampered = COSIGN2_PAYLOAD.replace(
            "cosign container image signature",
            "cosign container image signaturf",
        );
        assert!(matches!(
            check(tampered.as_bytes(), COSIGN2_SIG, &d, &keys()),
            Err(Problem::NoKey { .. })
        ));
        let other = PublicKey::from_pem(OTHER_PUB.as_bytes(), "other.pub").unwrap();
        assert!(matches!(
            check(COSIGN2_PAYLOAD.as_bytes(), COSIGN2_SIG, &d, &[other]),
            Err(Problem::NoKey { .. })
        ));
        for (payload, sig) in [
            (COSIGN2_PAYLOAD, "%%%not base64"),
            ("{not json", COSIGN2_SIG),
            ("{\"critical\":{}}", COSIGN2_SIG),
        ] {
            let e = check(payload.as_bytes(), sig, &d, &keys()).unwrap_err();
            assert!(matches!(e, Problem::BadEncoding(_)), "{e}");
        }
    }
}
