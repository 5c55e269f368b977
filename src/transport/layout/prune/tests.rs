//! Unit tests of ref removal and garbage collection in a layout.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use super::*;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::model::media;
use crate::transport::storage::{BlobBody, Storage};

fn desc(bytes: &[u8], media_type: &str) -> Descriptor {
    serde_json::from_value(serde_json::json!({
        "mediaType": media_type,
        "digest": Digest::sha256_of(bytes).to_string(),
        "size": bytes.len(),
    }))
    .unwrap()
}

async fn put_blob(l: &Layout, bytes: &[u8]) -> Descriptor {
    let d = desc(bytes, "application/octet-stream");
    let b = Bytes::copy_from_slice(bytes);
    let body = BlobBody {
        size: d.size,
        stream: futures_util::stream::once(async move { Ok(b) }).boxed(),
    };
    l.push_blob(&d, body).await.unwrap();
    d
}

/// An image manifest over a config and the given layers, pushed and tagged `tag`.
async fn image(l: &Layout, tag: Option<&str>, config: &[u8], layers: &[&[u8]]) -> RawManifest {
    let c = put_blob(l, config).await;
    let mut ls = vec![];
    for b in layers {
        ls.push(put_blob(l, b).await);
    }
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c.digest.to_string(), "size": c.size},
        "layers": ls.iter().map(|d| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.digest.to_string(), "size": d.size})).collect::<Vec<_>>(),
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let m = RawManifest::from_bytes(
        Bytes::from(bytes.clone()),
        Digest::sha256_of(&bytes),
        Some(media::OCI_MANIFEST),
    )
    .unwrap();
    l.push_manifest(&m, tag).await.unwrap();
    m
}

fn blob_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("blobs/sha256")).unwrap().count()
}

#[tokio::test]
async fn removing_a_ref_then_collecting_frees_exactly_its_own_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::create(dir.path()).unwrap();
    let v1 = image(&l, Some("v1"), b"config-1", &[b"shared", b"only-v1"]).await;
    let v2 = image(&l, Some("v2"), b"config-2", &[b"shared", b"only-v2"]).await;
    l.finish().await.unwrap();
    assert_eq!(blob_count(dir.path()), 7);

    let gone = [("v1".to_string(), v1.digest.clone())];
    assert_eq!(l.remove_refs(&gone).unwrap(), vec![RefRemoval::Removed]);
    // A second removal finds nothing; a ref naming another digest is left alone.
    assert_eq!(l.remove_refs(&gone).unwrap(), vec![RefRemoval::Absent]);
    assert_eq!(
        l.remove_refs(&[("v2".to_string(), v1.digest.clone())])
            .unwrap(),
        vec![RefRemoval::Changed(v2.digest.clone())]
    );
    assert_eq!(l.list_tags().await.unwrap(), vec!["v2".to_string()]);

    let dry = l.gc(true, Duration::ZERO).await.unwrap();
    let want: std::collections::BTreeSet<Digest> = [
        v1.digest.clone(),
        Digest::sha256_of(b"config-1"),
        Digest::sha256_of(b"only-v1"),
    ]
    .into();
    let got: std::collections::BTreeSet<Digest> =
        dry.orphaned.iter().map(|b| b.digest.clone()).collect();
    assert_eq!(got, want);
    assert_eq!(
        dry.orphaned_bytes,
        (v1.bytes.len() + b"config-1".len() + b"only-v1".len()) as u64
    );
    assert_eq!(blob_count(dir.path()), 7, "a dry run deletes nothing");

    let done = l.gc(false, Duration::ZERO).await.unwrap();
    assert_eq!(done.orphaned, dry.orphaned);
    assert_eq!(blob_count(dir.path()), 4);
    // What is left reads back whole.
    let m = l.fetch_manifest("v2", None).await.unwrap();
    assert_eq!(m.digest, v2.digest);
    assert!(l
        .gc(false, Duration::ZERO)
        .await
        .unwrap()
        .orphaned
        .is_empty());
}

#[tokio::test]
async fn young_blobs_and_unknown_files_are_kept_and_old_temp_files_go() {
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::create(dir.path()).unwrap();
    image(&l, Some("v1"), b"config", &[b"layer"]).await;
    l.finish().await.unwrap();
    // An orphan a running copy may have just written, a stray file, a killed writer's temp.
    put_blob(&l, b"just written").await;
    std::fs::write(dir.path().join("blobs/sha256/README"), b"not a blob").unwrap();
    std::fs::write(
        dir.path().join("blobs/sha256/.tmp-0123456789ab-x"),
        b"partial",
    )
    .unwrap();

    let r = l.gc(false, Duration::from_secs(3600)).await.unwrap();
    assert!(r.orphaned.is_empty());
    assert_eq!(r.recent.len(), 1);
    assert!(r.temp_files.is_empty(), "a young temp file may be in use");
    let r = l.gc(false, Duration::ZERO).await.unwrap();
    assert_eq!(r.orphaned.len(), 1);
    assert_eq!(r.temp_files.len(), 1);
    assert_eq!(r.temp_bytes, 7);
    assert!(dir.path().join("blobs/sha256/README").exists());
}

#[tokio::test]
async fn a_manifest_that_cannot_be_read_stops_the_collection() {
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::create(dir.path()).unwrap();
    image(&l, Some("v1"), b"config", &[b"layer"]).await;
    // A ref to a "manifest" that is not one.
    let junk = put_blob(&l, b"{not json").await;
    l.pending.lock().unwrap().push((
        Some("junk".into()),
        serde_json::json!({"mediaType": media::OCI_MANIFEST, "digest": junk.digest.to_string(), "size": junk.size, "annotations": {REF_NAME: "junk"}}),
    ));
    l.finish().await.unwrap();
    put_blob(&l, b"orphan").await;
    let e = l.gc(false, Duration::ZERO).await.unwrap_err().to_string();
    assert!(e.contains(junk.digest.as_str()), "{e}");
    assert_eq!(blob_count(dir.path()), 5, "nothing was deleted");
}
