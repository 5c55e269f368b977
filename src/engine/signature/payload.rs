//! What the site signature signs: cosign's simple-signing payload (`.sig` tag format) and the
//! in-toto statement of a Sigstore bundle (cosign 3's `https://sigstore.dev/cosign/sign/v1`
//! predicate), each naming the signed digest and carrying the mirror's provenance claims.
//!
//! The claims are string values (cosign's `-a key=value` annotations, Kyverno's `annotations`
//! match and policy-controller compare strings): under the payload's `optional`, and in the
//! statement's subject `annotations` (which cosign 3 prints as `optional`).

use std::collections::BTreeMap;

use super::bundle::COSIGN_SIGN_PREDICATE;
use crate::model::digest::Digest;

/// The prefix of the mirror's claims.
pub const CLAIM_PREFIX: &str = "dev.sparse-mirror/";

/// How the signed manifest relates to the source image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// The source's own index or manifest, byte for byte (a full or sparse copy).
    Same,
    /// A new index with the selected platforms only (`--on-reject filter`).
    Filtered,
    /// A child manifest of the source index (`--sign-children`).
    Child,
}

impl Relation {
    /// The claim's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Same => "same",
            Relation::Filtered => "filtered",
            Relation::Child => "child",
        }
    }
}

/// Where a signed image came from and what vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The source reference as given (`quay.io/org/app:v1`, `oci:/mnt/usb/app:v1`).
    pub source: String,
    /// The source index (or manifest) digest: what the upstream signature covers.
    pub source_digest: Digest,
    /// How the signed manifest relates to `source_digest`.
    pub relation: Relation,
    /// `sha256:` fingerprints of the upstream keys that verified the source.
    pub upstream_keys: Vec<String>,
    /// The platform selection (`-p` patterns; empty: every platform).
    pub platforms: Vec<String>,
}

impl Provenance {
    /// The claims, keyed `dev.sparse-mirror/<name>`, every value a string.
    pub fn claims(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(format!("{CLAIM_PREFIX}{k}"), v);
        };
        put("source", self.source.clone());
        put("source-digest", self.source_digest.to_string());
        put("relation", self.relation.as_str().to_string());
        put("upstream-keys", self.upstream_keys.join(","));
        put(
            "platforms",
            if self.platforms.is_empty() {
                "all".to_string()
            } else {
                self.platforms.join(",")
            },
        );
        m
    }
}

/// cosign's simple-signing payload for `digest` at `docker_reference` (the target repository,
/// without tag or digest), with the provenance claims under `optional`. The bytes are what is
/// signed and stored as the `.sig` layer: serialised once here, never re-serialised.
pub fn simple_signing(docker_reference: &str, digest: &Digest, p: &Provenance) -> Vec<u8> {
    let v = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": "cosign container image signature",
        },
        "optional": p.claims(),
    });
    serde_json::to_vec(&v).expect("a JSON value serialises")
}

/// The in-toto statement a cosign 3 bundle signs: `digest` as the subject, the claims as the
/// subject's annotations, predicate type `https://sigstore.dev/cosign/sign/v1`.
pub fn statement(digest: &Digest, p: &Provenance) -> Vec<u8> {
    let v = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{
            "digest": {digest.algorithm().as_str(): digest.hex()},
            "annotations": p.claims(),
        }],
        "predicateType": COSIGN_SIGN_PREDICATE,
        "predicate": {},
    });
    serde_json::to_vec(&v).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::signature::keys::PublicKey;
    use crate::engine::signature::{bundle, cosign};

    fn provenance() -> Provenance {
        Provenance {
            source: "quay.io/org/app:v1".into(),
            source_digest: Digest::sha256_of(b"source index"),
            relation: Relation::Filtered,
            upstream_keys: vec!["sha256:aa".into(), "sha256:bb".into()],
            platforms: vec!["linux/amd64".into(), "linux/arm64/v8".into()],
        }
    }

    #[test]
    fn simple_signing_names_the_target_and_digest_and_carries_string_claims() {
        let d = Digest::sha256_of(b"filtered index");
        let bytes = simple_signing("registry.airgap/org/app", &d, &provenance());
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v["critical"]["identity"]["docker-reference"],
            "registry.airgap/org/app"
        );
        assert_eq!(v["critical"]["image"]["docker-manifest-digest"], d.as_str());
        assert_eq!(v["critical"]["type"], "cosign container image signature");
        let o = v["optional"].as_object().unwrap();
        assert_eq!(o["dev.sparse-mirror/source"], "quay.io/org/app:v1");
        assert_eq!(
            o["dev.sparse-mirror/source-digest"],
            Digest::sha256_of(b"source index").as_str()
        );
        assert_eq!(o["dev.sparse-mirror/relation"], "filtered");
        assert_eq!(o["dev.sparse-mirror/upstream-keys"], "sha256:aa,sha256:bb");
        assert_eq!(
            o["dev.sparse-mirror/platforms"],
            "linux/amd64,linux/arm64/v8"
        );
        assert!(o.values().all(|v| v.is_string()));
        let mut all = provenance();
        all.platforms.clear();
        let v: serde_json::Value =
            serde_json::from_slice(&simple_signing("r/a", &d, &all)).unwrap();
        assert_eq!(v["optional"]["dev.sparse-mirror/platforms"], "all");
    }

    /// The verifier of the gate accepts what the signer writes: the payload check names the
    /// digest, and the statement is a cosign signature (not an attestation) for that digest.
    #[test]
    fn the_gate_reads_both_back() {
        let d = Digest::sha256_of(b"index");
        let payload = simple_signing("r/a", &d, &provenance());
        let key = crate::engine::signature::fixtures::COSIGN_PUB;
        let k = PublicKey::from_pem(key.as_bytes(), "k").unwrap();
        // Not signed by that key: the digest check passes and the key check fails.
        assert_eq!(
            cosign::check(&payload, "AAAA", &d, std::slice::from_ref(&k)),
            Err(crate::engine::signature::Problem::NoKey { hint_matches: None })
        );
        let s: serde_json::Value = serde_json::from_slice(&statement(&d, &provenance())).unwrap();
        assert_eq!(s["predicateType"], bundle::COSIGN_SIGN_PREDICATE);
        assert_eq!(s["subject"][0]["digest"]["sha256"], d.hex());
        assert_eq!(
            s["subject"][0]["annotations"]["dev.sparse-mirror/relation"],
            "filtered"
        );
    }
}
