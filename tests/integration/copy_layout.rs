//! registry ↔ OCI image layout, with the layout holding a sparse index exactly.

use std::path::Path;

use crate::fixtures::{self, layout_blob as blob, seeded};
use crate::harness::{mirror_async, Registry};

const LAYER: usize = 8 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn sparse_layout_holds_original_index_and_only_selected_children() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("usb");
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("oci:{}:v1", layout.display()),
        "--platform",
        "linux/amd64,linux/arm64",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        std::fs::read(blob(&layout, &img.index.digest)).unwrap(),
        img.index.bytes,
        "index bytes"
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    assert_eq!(entries[0]["digest"], img.index.digest.as_str());
    assert_eq!(
        entries[0]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    let layout_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout_file["imageLayoutVersion"], "1.0.0");
    for p in ["linux/amd64", "linux/arm64/v8"] {
        let c = img.child(p);
        assert_eq!(
            std::fs::read(blob(&layout, &c.digest)).unwrap(),
            c.bytes,
            "{p}"
        );
        for b in &c.blobs {
            assert!(blob(&layout, &b.digest).exists(), "{p} blob");
        }
        assert!(
            blob(&layout, &img.attestation_for(&c.digest).digest).exists(),
            "{p} attestation"
        );
    }
    for p in [
        "linux/arm/v7",
        "linux/ppc64le",
        "linux/s390x",
        "windows/amd64",
    ] {
        let c = img.child(p);
        assert!(!blob(&layout, &c.digest).exists(), "{p} must be absent");
        assert!(
            !blob(&layout, &img.attestation_for(&c.digest).digest).exists(),
            "{p} attestation must be absent"
        );
        // blobs = [config, shared layer, own layer]: the config and own layer must be absent.
        for own in [&c.blobs[0], &c.blobs[2]] {
            assert!(
                !blob(&layout, &own.digest).exists(),
                "{p} blob {} must be absent",
                own.digest
            );
        }
    }
    // No temp files left behind.
    let leftovers: Vec<_> = walk(&layout)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A rerun is a no-op.
    let again = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("oci:{}:v1", layout.display()),
        "--platform",
        "linux/amd64,linux/arm64",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(again.code, 0, "{again}");
    assert!(again.stdout.contains("\"up_to_date\": true"), "{again}");
}

fn walk(p: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn second_hop_from_sparse_layout_to_strict_registry() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:v1", dir.path().join("l").display());
    let first = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &layout,
        "-p",
        "linux/amd64,linux/arm64",
    ])
    .await;
    assert_eq!(first.code, 0, "{first}");
    let dst = Registry::start();
    let d = format!("{}/airgap/app:v1", dst.host());
    // Everything present in the layout is copied; the strict registry refuses the sparse index.
    let out = mirror_async(&["copy", &layout, &d]).await;
    assert_eq!(out.code, 4, "{out}");
    assert!(out.stderr.contains("no data was moved"), "{out}");
    assert_eq!(dst.any_layer_links("airgap/app"), 0);
    // --on-reject full cannot help: the layout itself lacks those children.
    let out = mirror_async(&["copy", &layout, &d, "--on-reject", "full"]).await;
    assert_eq!(out.code, 4, "{out}");
    assert!(out.stderr.contains("does not hold every child"), "{out}");
    // Narrowing further at the second hop keeps the index bytes: amd64 only into another layout.
    let dir2 = tempfile::tempdir().unwrap();
    let out = mirror_async(&[
        "copy",
        &layout,
        &format!("oci:{}:v1", dir2.path().display()),
        "-p",
        "linux/amd64",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        std::fs::read(blob(dir2.path(), &img.index.digest)).unwrap(),
        img.index.bytes
    );
    assert!(!blob(dir2.path(), &img.child("linux/arm64/v8").digest).exists());
    // Asking a sparse layout for a platform it lacks says so.
    let out = mirror_async(&[
        "copy",
        &layout,
        &format!("oci:{}:v2", dir2.path().display()),
        "-p",
        "linux/s390x",
    ])
    .await;
    assert_eq!(out.code, 3, "{out}");
    let _ = http;
}

#[tokio::test(flavor = "multi_thread")]
async fn full_layout_round_trip_keeps_digests() {
    let img = fixtures::docker_list(LAYER);
    let (src, http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:v1", dir.path().display());
    assert_eq!(
        mirror_async(&["copy", &format!("{}/team/app:v1", src.host()), &layout])
            .await
            .code,
        0
    );
    let dst = Registry::start();
    let out = mirror_async(&["copy", &layout, &format!("{}/back/app:v1", dst.host())]).await;
    assert_eq!(out.code, 0, "{out}");
    let (_, ct, bytes) = http.get_manifest(&dst.host(), "back/app", "v1").await;
    assert_eq!(ct.as_deref(), Some(fixtures::DOCKER_LIST));
    assert_eq!(&bytes[..], &img.index.bytes[..]);
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupted_layout_blob_is_named_and_nothing_is_pushed() {
    let img = fixtures::multi_arch_oci(LAYER);
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_layout(dir.path(), "v1", &img);
    let victim = &img.child("linux/amd64").blobs[1].digest;
    let path = blob(dir.path(), victim);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let dst = Registry::start();
    let out = mirror_async(&[
        "copy",
        &format!("oci:{}:v1", dir.path().display()),
        &format!("{}/x:v1", dst.host()),
        "-p",
        "linux/amd64",
        "--on-reject",
        "full",
    ])
    .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&path.display().to_string()),
        "names the file: {out}"
    );
    assert!(out.stderr.contains("digest mismatch"), "{out}");
    assert!(!dst.tag_exists("x", "v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_layouts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Missing oci-layout.
    let out = mirror_async(&[
        "copy",
        &format!("oci:{}:v1", dir.path().display()),
        "oci:/tmp/never-written:v1",
    ])
    .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("oci-layout"), "{out}");
    // A path-traversal digest in index.json.
    std::fs::write(
        dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("index.json"),
        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:../../etc/passwd","size":10,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}"#,
    )
    .unwrap();
    let out = mirror_async(&[
        "copy",
        &format!("oci:{}:v1", dir.path().display()),
        "oci:/tmp/never-written:v1",
    ])
    .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("invalid digest"), "{out}");
    assert!(!Path::new("/tmp/never-written").exists());
}
