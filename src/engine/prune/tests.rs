//! The prune executor on an OCI layout: artifacts go with their subject, shared digests and
//! their artifacts stay, changed and absent tags are left alone. (Registries: the integration
//! tests, against distribution 2.8 and go-containerregistry.)

use bytes::Bytes;
use futures_util::StreamExt;

use super::*;
use crate::engine::prune::types::split_ref;
use crate::model::manifest::RawManifest;
use crate::transport::layout::Layout;
use crate::transport::storage::{BlobBody, Storage};

async fn blob(l: &Layout, bytes: &[u8]) -> serde_json::Value {
    let d = Digest::sha256_of(bytes);
    let b = Bytes::copy_from_slice(bytes);
    let desc: crate::model::manifest::Descriptor = serde_json::from_value(serde_json::json!({
        "mediaType": "application/octet-stream", "digest": d.to_string(), "size": bytes.len()
    }))
    .unwrap();
    l.push_blob(
        &desc,
        BlobBody {
            size: bytes.len() as u64,
            stream: futures_util::stream::once(async move { Ok(b) }).boxed(),
        },
    )
    .await
    .unwrap();
    serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": bytes.len()})
}

async fn put(l: &Layout, doc: serde_json::Value, tags: &[&str]) -> RawManifest {
    let bytes = serde_json::to_vec(&doc).unwrap();
    let mt = doc["mediaType"].as_str().unwrap().to_string();
    let m = RawManifest::from_bytes(
        Bytes::from(bytes.clone()),
        Digest::sha256_of(&bytes),
        Some(&mt),
    )
    .unwrap();
    if tags.is_empty() {
        l.push_manifest(&m, None).await.unwrap();
    }
    for t in tags {
        l.push_manifest(&m, Some(t)).await.unwrap();
    }
    m
}

async fn image(
    l: &Layout,
    name: &str,
    subject: Option<&RawManifest>,
    tags: &[&str],
) -> RawManifest {
    let config = blob(l, format!("config {name}").as_bytes()).await;
    let layer = blob(l, format!("layer {name}").as_bytes()).await;
    let mut doc = serde_json::json!({
        "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config["digest"], "size": config["size"]},
        "layers": [layer],
    });
    if let Some(s) = subject {
        doc["subject"] = serde_json::json!({"mediaType": s.media_type, "digest": s.digest.to_string(), "size": s.bytes.len()});
    }
    put(l, doc, tags).await
}

fn entry(m: &RawManifest) -> serde_json::Value {
    serde_json::json!({"mediaType": m.media_type, "digest": m.digest.to_string(), "size": m.bytes.len(),
        "platform": {"os": "linux", "architecture": "amd64"}})
}

async fn index(l: &Layout, children: &[&RawManifest], tags: &[&str]) -> RawManifest {
    let doc = serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX,
        "manifests": children.iter().map(|c| entry(c)).collect::<Vec<_>>()});
    put(l, doc, tags).await
}

fn planned(tag: &str, expected: Option<&Digest>) -> Planned {
    Planned {
        tag: tag.into(),
        expected: expected.cloned(),
    }
}

#[tokio::test]
async fn artifacts_go_with_their_subject_and_what_a_kept_tag_needs_stays() {
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::create(dir.path()).unwrap();
    let a = image(&l, "a", None, &[]).await;
    let b = image(&l, "b", None, &[]).await;
    let old = index(&l, &[&a, &b], &["1.0"]).await;
    let new = index(&l, &[&b], &["2.0", "stable"]).await;
    let sig_old = image(
        &l,
        "sig-old",
        None,
        &[&format!("{}.sig", fallback_tag(&old.digest))],
    )
    .await;
    let sig_b = image(
        &l,
        "sig-b",
        None,
        &[&format!("{}.sig", fallback_tag(&b.digest))],
    )
    .await;
    let sbom = image(&l, "sbom", Some(&old), &[]).await;
    let sbom_sig = image(&l, "sbom-sig", Some(&sbom), &[]).await;
    index(&l, &[&sbom], &[&fallback_tag(&old.digest)]).await;
    let fb2 = index(&l, &[&sbom_sig], &[&fallback_tag(&sbom.digest)]).await;
    l.finish().await.unwrap();

    let job = PruneJob {
        planned: vec![
            planned("1.0", None),
            planned("stable", None),
            planned("gone", None),
            planned("2.0", Some(&old.digest)),
        ],
        referrers: true,
        digest_tags: true,
        dry_run: true,
        jobs: 4,
    };
    let dst = Endpoint::Layout(l);
    let dry = prune(&dst, &job).await.unwrap();
    let Endpoint::Layout(l) = &dst else {
        unreachable!()
    };
    assert_eq!(
        Layout::refs(l).unwrap().len(),
        7,
        "a dry run removes nothing"
    );
    let find = |out: &[PruneOutcome], t: &str| -> String {
        format!(
            "{:?}",
            out.iter().find(|o| o.planned.tag == t).unwrap().decision
        )
    };
    assert_eq!(find(&dry, "gone"), "Absent");
    assert!(
        find(&dry, "2.0").starts_with("Changed"),
        "{}",
        find(&dry, "2.0")
    );
    let Decision::Deleted {
        tag_only,
        artifacts,
        ..
    } = &dry
        .iter()
        .find(|o| o.planned.tag == "1.0")
        .unwrap()
        .decision
    else {
        panic!("{dry:?}")
    };
    assert!(!tag_only);
    let kinds: Vec<(&str, &Digest)> = artifacts
        .iter()
        .map(|a| (a.kind.as_str(), &a.digest))
        .collect();
    // Deepest first: the SBOM's signature and its fallback index, then the SBOM, the image's
    // fallback index and its cosign signature. `b`'s signature stays: `2.0` still holds `b`.
    assert_eq!(
        kinds,
        vec![
            ("referrer", &sbom_sig.digest),
            ("referrers-index", &fb2.digest),
            ("referrer", &sbom.digest),
            (
                "referrers-index",
                &Layout::refs(l)
                    .unwrap()
                    .into_iter()
                    .find(|r| r.0.as_deref() == Some(fallback_tag(&old.digest).as_str()))
                    .unwrap()
                    .1
            ),
            ("digest-tag", &sig_old.digest),
        ]
    );
    assert!(find(&dry, "stable").contains("tag_only: true"));

    let job = PruneJob {
        dry_run: false,
        ..job
    };
    let done = prune(&dst, &job).await.unwrap();
    assert!(find(&done, "1.0").starts_with("Deleted"));
    let left: Vec<String> = Layout::refs(l)
        .unwrap()
        .into_iter()
        .filter_map(|r| r.0)
        .collect();
    assert_eq!(
        left,
        vec![
            "2.0".to_string(),
            format!("{}.sig", fallback_tag(&b.digest))
        ]
    );
    assert_eq!(Layout::refs(l).unwrap()[0].1, new.digest);
    // The blobs stay until gc, which then frees the old index's tree and its artifacts.
    let gc = l.gc(false, std::time::Duration::ZERO).await.unwrap();
    let freed: BTreeSet<Digest> = gc.orphaned.iter().map(|b| b.digest.clone()).collect();
    for d in [
        &old.digest,
        &a.digest,
        &sig_old.digest,
        &sbom.digest,
        &sbom_sig.digest,
    ] {
        assert!(freed.contains(d), "{d} not collected");
    }
    for d in [&new.digest, &b.digest, &sig_b.digest] {
        assert!(!freed.contains(d), "{d} collected");
    }
    l.fetch_manifest("2.0", None).await.unwrap();
}

#[test]
fn refs_split_into_repository_and_tag() {
    assert_eq!(split_ref("v1"), ("", "v1"));
    assert_eq!(
        split_ref("reg:5000/team/app:v1"),
        ("reg:5000/team/app", "v1")
    );
    assert_eq!(split_ref("reg:5000/team/app"), ("", "reg:5000/team/app"));
}
