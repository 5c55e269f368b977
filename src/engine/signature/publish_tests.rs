//! The writer against a real OCI layout: sign, rerun (nothing written), append to an upstream
//! `.sig` tag (kept), dry run (nothing written). Registries: tests/integration/gateway.rs.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::engine::progress::NullReporter;
use crate::engine::signature::payload::{Provenance, Relation};
use crate::engine::signature::{check_digest, discover};
use crate::model::manifest::Descriptor;
use crate::model::media;
use crate::transport::layout::Layout;

fn key(name: &str) -> SigningKey {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/engine/signature/testdata/sign")
        .join(name);
    let pw = name.starts_with("cosign-").then_some(&b"test-password"[..]);
    SigningKey::from_pem(&std::fs::read(p).unwrap(), name, pw).unwrap()
}

fn provenance(d: &Digest) -> Provenance {
    Provenance {
        source: "quay.io/org/app:v1".into(),
        source_digest: d.clone(),
        relation: Relation::Same,
        upstream_keys: vec![],
        platforms: vec![],
    }
}

/// A layout holding one (empty) index, committed.
async fn layout_with_index(dir: &Path) -> (Arc<Layout>, Descriptor) {
    let l = Arc::new(Layout::create(dir).unwrap());
    let bytes = Bytes::from_static(
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
    );
    let m = RawManifest {
        digest: Digest::sha256_of(&bytes),
        bytes,
        media_type: media::OCI_INDEX.into(),
    };
    l.push_manifest(&m, Some("v1")).await.unwrap();
    l.finish().await.unwrap();
    let d = Descriptor {
        media_type: media::OCI_INDEX.into(),
        digest: m.digest.clone(),
        size: m.bytes.len() as u64,
        platform: None,
        artifact_type: None,
        annotations: Default::default(),
        urls: Default::default(),
    };
    (l, d)
}

/// Every file under the layout, with its bytes (to prove a rerun writes nothing).
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

async fn sign(
    l: &Arc<Layout>,
    k: &SigningKey,
    d: &Descriptor,
    format: SignFormat,
    dry_run: bool,
) -> Vec<Signed> {
    let p = provenance(&d.digest);
    let s = Subject {
        descriptor: d,
        repository: "registry.airgap/org/app",
        provenance: &p,
    };
    let r: Arc<dyn Reporter> = Arc::new(NullReporter);
    sign_subject(l, k, format, &s, "2026-01-01T00:00:00Z", dry_run, &r)
        .await
        .unwrap()
}

#[tokio::test]
async fn signs_both_formats_once_then_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let (l, d) = layout_with_index(dir.path()).await;
    let site = key("p256.pem");
    let before = snapshot(dir.path());
    let planned = sign(&l, &site, &d, SignFormat::Both, true).await;
    assert!(planned.iter().all(|s| s.status == SignStatus::Planned));
    assert_eq!(snapshot(dir.path()), before, "a dry run writes nothing");

    let signed = sign(&l, &site, &d, SignFormat::Both, false).await;
    l.finish().await.unwrap();
    assert_eq!(signed.len(), 2);
    assert_eq!(signed[0].format, Format::CosignSimpleSigning);
    assert_eq!(signed[0].tag, Some(sign::sig_tag(&d.digest)));
    assert_eq!(signed[1].format, Format::SigstoreBundleDsse);
    assert_eq!(
        signed[1].tag,
        Some(fallback_tag(&d.digest)),
        "a layout has no referrers API"
    );
    for s in &signed {
        assert_eq!(s.status, SignStatus::Signed);
        assert_eq!(s.key_fingerprint, site.public().fingerprint());
    }
    // The gate reads the site signature back with the public key alone.
    let l2 = Arc::new(Layout::open(dir.path()).unwrap());
    let v = check_digest(l2.as_ref(), &d.digest, None, &key_policy(site.public()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.key_fingerprint, Some(site.public().fingerprint()));

    // A rerun: both found, nothing written.
    let after = snapshot(dir.path());
    let again = sign(&l2, &site, &d, SignFormat::Both, false).await;
    l2.finish().await.unwrap();
    assert_eq!(snapshot(dir.path()), after, "a rerun writes nothing");
    for (a, s) in again.iter().zip(&signed) {
        assert_eq!(a.status, SignStatus::Existing);
        assert_eq!(a.signature_digest, s.signature_digest);
        assert_eq!(a.tag, s.tag);
    }
}

#[tokio::test]
async fn appends_to_an_upstream_sig_tag_and_keeps_its_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (l, d) = layout_with_index(dir.path()).await;
    let upstream = key("cosign-p256.key");
    let site = key("rsa2048.pem");
    sign(&l, &upstream, &d, SignFormat::Tag, false).await;
    l.finish().await.unwrap();
    let l = Arc::new(Layout::open(dir.path()).unwrap());
    let signed = sign(&l, &site, &d, SignFormat::Tag, false).await;
    l.finish().await.unwrap();
    assert_eq!(signed[0].status, SignStatus::Signed);
    let l = Arc::new(Layout::open(dir.path()).unwrap());
    let found = discover::discover(l.as_ref(), &d.digest).await.unwrap();
    assert_eq!(found.len(), 2, "two layers in one .sig manifest: {found:?}");
    for k in [&upstream, &site] {
        let v = check_digest(l.as_ref(), &d.digest, None, &key_policy(k.public()))
            .await
            .unwrap();
        assert!(v.is_ok(), "{k:?}: {v:?}");
    }
}

/// A gate policy of one key (no keyless part, index only).
fn key_policy(k: &crate::engine::signature::PublicKey) -> crate::engine::signature::Policy {
    crate::engine::signature::Policy {
        keys: vec![k.clone()],
        keyless: None,
        children: false,
    }
}
