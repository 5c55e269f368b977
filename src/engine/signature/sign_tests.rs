//! The objects built here read back through the gate's own verifiers (cosign.rs, bundle.rs);
//! that cosign itself accepts them is tests/integration/gateway.rs.

use super::*;
use crate::engine::signature::payload::Relation;
use crate::engine::signature::{bundle, cosign};

fn key(name: &str) -> SigningKey {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/engine/signature/testdata/sign")
        .join(name);
    let pw = name.starts_with("cosign-").then_some(&b"test-password"[..]);
    SigningKey::from_pem(&std::fs::read(p).unwrap(), name, pw).unwrap()
}

fn provenance() -> Provenance {
    Provenance {
        source: "quay.io/org/app:v1".into(),
        source_digest: Digest::sha256_of(b"source index"),
        relation: Relation::Filtered,
        upstream_keys: vec!["sha256:aa".into()],
        platforms: vec!["linux/amd64".into()],
    }
}

fn subject() -> Descriptor {
    let bytes = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    descriptor(
        media::OCI_INDEX,
        Digest::sha256_of(bytes),
        bytes.len() as u64,
    )
}

fn json(m: &RawManifest) -> serde_json::Value {
    serde_json::from_slice(&m.bytes).unwrap()
}

/// Every simple-signing layer of a `.sig` manifest: (payload, signature) from the artifact's
/// blobs (new layers) or `extra` (layers of an earlier artifact).
fn layers_verify(a: &Artifact, blobs: &[Blob], keys: &[PublicKey]) -> Vec<usize> {
    json(&a.manifest)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let d = l["digest"].as_str().unwrap();
            let payload = blobs
                .iter()
                .find(|b| b.descriptor.digest.as_str() == d)
                .unwrap();
            let sig = l["annotations"][SIGNATURE_ANNOTATION].as_str().unwrap();
            cosign::check(&payload.bytes, sig, &a.subject, keys).unwrap()
        })
        .collect()
}

use crate::engine::signature::keys::PublicKey;

#[test]
fn a_new_sig_manifest_verifies_with_the_site_key() {
    let site = key("p256.pem");
    let s = subject();
    let p = provenance();
    let sub = Subject {
        descriptor: &s,
        repository: "registry.airgap/org/app",
        provenance: &p,
    };
    let a = tag_artifact(&site, &sub, None).unwrap();
    assert_eq!(a.tag.as_deref(), Some(sig_tag(&s.digest).as_str()));
    assert!(a.tag.as_deref().unwrap().ends_with(".sig"));
    assert_eq!(a.format, Format::CosignSimpleSigning);
    // A manifest the registry client would accept as fetched.
    RawManifest::from_bytes(a.manifest.bytes.clone(), a.manifest.digest.clone(), None).unwrap();
    assert_eq!(
        layers_verify(&a, &a.blobs, std::slice::from_ref(site.public())),
        vec![0]
    );
    // The config lists the payload as the diff ID, as cosign writes it, and is listed itself.
    let config = &a.blobs[1];
    let c: serde_json::Value = serde_json::from_slice(&config.bytes).unwrap();
    assert_eq!(
        c["rootfs"]["diff_ids"][0],
        a.blobs[0].descriptor.digest.as_str()
    );
    assert_eq!(
        json(&a.manifest)["config"]["digest"],
        config.descriptor.digest.as_str()
    );
    for b in &a.blobs {
        assert!(b.descriptor.digest.verifies(&b.bytes));
    }
}

#[test]
fn appending_keeps_the_signatures_already_there() {
    let upstream = key("cosign-p256.key");
    let site = key("ed25519.pem");
    let s = subject();
    let p = provenance();
    let sub = Subject {
        descriptor: &s,
        repository: "quay.io/org/app",
        provenance: &p,
    };
    let first = tag_artifact(&upstream, &sub, None).unwrap();
    let second = tag_artifact(&site, &sub, Some(&first.manifest)).unwrap();
    let before = json(&first.manifest)["layers"][0].clone();
    let after = json(&second.manifest)["layers"].as_array().unwrap().clone();
    assert_eq!(after.len(), 2);
    assert_eq!(after[0], before, "the upstream layer is kept as it was");
    let blobs: Vec<Blob> = [first.blobs.clone(), second.blobs.clone()].concat();
    let keys = [upstream.public().clone(), site.public().clone()];
    assert_eq!(layers_verify(&second, &blobs, &keys), vec![0, 1]);
    let c: serde_json::Value = serde_json::from_slice(&second.blobs[1].bytes).unwrap();
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(c["history"].as_array().unwrap().len(), 2);
}

#[test]
fn an_appended_sig_manifest_covers_the_one_it_was_made_from() {
    let s = subject();
    let p = provenance();
    let sub = Subject {
        descriptor: &s,
        repository: "r/a",
        provenance: &p,
    };
    let first = tag_artifact(&key("p256.pem"), &sub, None).unwrap();
    let second = tag_artifact(&key("ed25519.pem"), &sub, Some(&first.manifest)).unwrap();
    assert!(covers(&second.manifest, &first.manifest));
    assert!(covers(&first.manifest, &first.manifest));
    assert!(
        !covers(&first.manifest, &second.manifest),
        "a layer is missing"
    );
    let other = tag_artifact(&key("p256.pem"), &sub, None).unwrap();
    assert!(
        !covers(&second.manifest, &other.manifest),
        "another signature"
    );
    let index = RawManifest {
        bytes: Bytes::from_static(br#"{"manifests":[],"layers":[]}"#),
        media_type: media::OCI_INDEX.into(),
        digest: Digest::sha256_of(b"i"),
    };
    assert!(!covers(&index, &first.manifest));
}

#[test]
fn appending_to_something_that_is_not_a_sig_manifest_is_refused() {
    let site = key("p256.pem");
    let s = subject();
    let p = provenance();
    let sub = Subject {
        descriptor: &s,
        repository: "r/a",
        provenance: &p,
    };
    let index = RawManifest {
        bytes: Bytes::from_static(br#"{"schemaVersion":2,"manifests":[]}"#),
        media_type: media::OCI_INDEX.into(),
        digest: Digest::sha256_of(br#"{"schemaVersion":2,"manifests":[]}"#),
    };
    let e = tag_artifact(&site, &sub, Some(&index)).unwrap_err();
    assert!(e.to_string().contains("an index"), "{e}");
    let odd = RawManifest {
        bytes: Bytes::from_static(br#"{"schemaVersion":2,"layers":[{"size":"x"}]}"#),
        media_type: media::OCI_MANIFEST.into(),
        digest: Digest::sha256_of(b"x"),
    };
    let e = tag_artifact(&site, &sub, Some(&odd)).unwrap_err();
    assert!(e.to_string().contains("layer descriptor"), "{e}");
}

#[test]
fn a_bundle_referrer_verifies_and_names_its_subject() {
    for k in ["p256.pem", "p384.pem", "rsa2048.pem", "ed25519.pem"] {
        let site = key(k);
        let s = subject();
        let p = provenance();
        let sub = Subject {
            descriptor: &s,
            repository: "registry.airgap/org/app",
            provenance: &p,
        };
        let a = bundle_artifact(&site, &sub, "2026-01-02T03:04:05Z").unwrap();
        assert_eq!(a.tag, None);
        assert_eq!(a.format, Format::SigstoreBundleDsse);
        let m = json(&a.manifest);
        assert_eq!(m["artifactType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(m["subject"]["digest"], s.digest.as_str());
        assert_eq!(m["subject"]["mediaType"], media::OCI_INDEX);
        assert_eq!(m["config"]["digest"], a.blobs[0].descriptor.digest.as_str());
        assert_eq!(
            m["annotations"]["org.opencontainers.image.created"],
            "2026-01-02T03:04:05Z"
        );
        RawManifest::from_bytes(a.manifest.bytes.clone(), a.manifest.digest.clone(), None).unwrap();
        let keys = [site.public().clone()];
        assert_eq!(
            bundle::check(&a.blobs[1].bytes, &s.digest, None, &keys),
            Ok((bundle::Content::Dsse, 0)),
            "{k}"
        );
        // Another digest: the statement names this one only.
        let other = Digest::sha256_of(b"other");
        assert!(bundle::check(&a.blobs[1].bytes, &other, None, &keys).is_err());
    }
}

#[test]
fn sign_format_says_what_it_writes() {
    assert!(SignFormat::Tag.tag() && !SignFormat::Tag.bundle());
    assert!(!SignFormat::Bundle.tag() && SignFormat::Bundle.bundle());
    assert!(SignFormat::Both.tag() && SignFormat::Both.bundle());
    assert_eq!(SignFormat::default(), SignFormat::Tag);
}
