//! Air-gap transport (issue 3): archives, shared layouts, crash safety, skopeo interoperability.

use std::path::Path;
use std::process::Command;

use crate::fixtures::{self, layout_blob as blob, seeded};
use crate::harness::{mirror_async, mirror_bin, Registry};

const LAYER: usize = 8 * 1024;

fn index_entries(layout: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    v["manifests"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn archive_round_trip_keeps_digests_and_checks_the_sidecar() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("carry/app.tar");
    let archive = format!("oci-archive:{}:v1", tar.display());
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &archive,
        "-p",
        "linux/amd64,linux/arm64",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let sidecar = std::fs::read_to_string(dir.path().join("carry/app.tar.sha256")).unwrap();
    assert!(sidecar.ends_with("  app.tar\n"), "{sidecar}");
    // A second tag accumulates in the same archive.
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("oci-archive:{}:v2", tar.display()),
        "-p",
        "linux/amd64",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    // Archive → the fake sparse-accepting registry keeps the original digest end to end.
    let fake = crate::fake_registry::FakeRegistry::start(Default::default()).await;
    let out = mirror_async(&["copy", &archive, &format!("{}/airgap/app:v1", fake.host())]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        fake.manifest_bytes("airgap/app", "v1").unwrap().1,
        img.index.bytes
    );
    let out = mirror_async(&[
        "copy",
        &format!("oci-archive:{}:v2", tar.display()),
        &format!("{}/airgap/app:v2", fake.host()),
    ])
    .await;
    assert_eq!(out.code, 0, "v2 still in the archive: {out}");
    // A full copy through an archive into the strict registry keeps the digest too.
    let full_tar = dir.path().join("full.tar");
    assert_eq!(
        mirror_async(&[
            "copy",
            &format!("{}/team/app:v1", src.host()),
            &format!("oci-archive:{}:v1", full_tar.display())
        ])
        .await
        .code,
        0
    );
    let dst = Registry::start();
    let out = mirror_async(&[
        "copy",
        &format!("oci-archive:{}:v1", full_tar.display()),
        &format!("{}/back/app:v1", dst.host()),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        &http.get_manifest(&dst.host(), "back/app", "v1").await.2[..],
        &img.index.bytes[..]
    );
    // A damaged archive is refused by its sidecar before anything is pushed.
    let mut bytes = std::fs::read(&full_tar).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0x55;
    std::fs::write(&full_tar, bytes).unwrap();
    let out = mirror_async(&[
        "copy",
        &format!("oci-archive:{}:v1", full_tar.display()),
        &format!("{}/back2/app:v1", dst.host()),
    ])
    .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("checksum mismatch"), "{out}");
    assert!(!dst.tag_exists("back2/app", "v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_layout_keeps_other_tags_and_reads_full_ref_names() {
    let img = fixtures::multi_arch_oci(LAYER);
    let other = fixtures::docker_list(LAYER);
    let (src, http) = seeded(&img).await;
    fixtures::push_image(&http, &src.host(), "team/other", "v9", &other).await;
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().display().to_string();
    let s = format!("{}/team/app:v1", src.host());
    assert_eq!(
        mirror_async(&["copy", &s, &format!("oci:{l}:v1")])
            .await
            .code,
        0
    );
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/other:v9", src.host()),
        &format!("oci:{l}"),
        "--layout-ref-name",
        "full",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    // Re-tag v1 to another image: only that entry changes.
    assert_eq!(
        mirror_async(&[
            "copy",
            &format!("{}/team/other:v9", src.host()),
            &format!("oci:{l}:v1")
        ])
        .await
        .code,
        0
    );
    let names: Vec<String> = index_entries(dir.path())
        .iter()
        .map(|e| {
            e["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"v1".to_string()));
    assert!(
        names.contains(&format!("{}/team/other:v9", src.host())),
        "{names:?}"
    );
    // Reading by the short tag finds the full ref name.
    let dst = Registry::start();
    let out = mirror_async(&[
        "copy",
        &format!("oci:{l}:v9"),
        &format!("{}/x:v9", dst.host()),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        &http.get_manifest(&dst.host(), "x", "v9").await.2[..],
        &other.index.bytes[..]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_of_one_layout_do_not_corrupt_it() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let s = format!("{}/team/app:v1", src.host());
    let mut kids = vec![];
    for i in 0..6 {
        let d = format!("oci:{}:t{i}", dir.path().display());
        let p = if i % 2 == 0 { "linux/amd64" } else { "linux/*" };
        kids.push(
            Command::new(mirror_bin())
                .args(["copy", &s, &d, "-p", p])
                .env("MIRROR_TEST", "1")
                .output()
                .unwrap(),
        );
    }
    // The loop above is sequential; now run them truly in parallel.
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let (s, d) = (s.clone(), format!("oci:{}:p{i}", dir.path().display()));
            std::thread::spawn(move || {
                Command::new(mirror_bin())
                    .args(["copy", &s, &d])
                    .env("MIRROR_TEST", "1")
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        let o = h.join().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(kids.iter().all(|o| o.status.success()));
    let entries = index_entries(dir.path());
    assert_eq!(entries.len(), 12, "every tag recorded once");
    for e in &entries {
        let d = e["digest"].as_str().unwrap();
        assert_eq!(std::fs::read(blob(dir.path(), d)).unwrap(), img.index.bytes);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lock_timeout_names_the_lock() {
    let img = fixtures::single_manifest(LAYER);
    let (src, _http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let d = format!("oci:{}:v1", dir.path().display());
    assert_eq!(
        mirror_async(&["copy", &format!("{}/team/app:v1", src.host()), &d])
            .await
            .code,
        0
    );
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("index.json.lock"))
        .unwrap();
    lock.lock().unwrap();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("oci:{}:v2", dir.path().display()),
        "--lock-timeout",
        "1",
    ])
    .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("another writer holds") && out.stderr.contains("index.json.lock"),
        "{out}"
    );
    drop(lock);
}

/// SIGKILL at several moments during a layout write; the layout stays consistent and a rerun completes.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_layout_write_leaves_a_consistent_layout() {
    let img = fixtures::multi_arch_oci(256 * 1024);
    let (src, _http) = seeded(&img).await;
    let s = format!("{}/team/app:v1", src.host());
    for (i, delay_ms) in [5u64, 15, 30, 60, 120, 250].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let d = format!("oci:{}:v1", dir.path().display());
        let mut child = Command::new(mirror_bin())
            .args(["copy", &s, &d, "-j", "2"])
            .env("MIRROR_TEST", "1")
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        if dir.path().join("index.json").exists() {
            for e in index_entries(dir.path()) {
                // An entry exists only after everything below it was written.
                let d = e["digest"].as_str().unwrap();
                assert_eq!(
                    std::fs::read(blob(dir.path(), d)).unwrap(),
                    img.index.bytes,
                    "kill #{i}"
                );
                for m in &img.children {
                    assert!(
                        blob(dir.path(), &m.digest).exists(),
                        "kill #{i}: index.json names an incomplete image"
                    );
                }
            }
        }
        let out = mirror_async(&["copy", &s, &d]).await;
        assert_eq!(out.code, 0, "rerun after kill #{i}: {out}");
        assert_eq!(index_entries(dir.path()).len(), 1);
        for b in img.all_blobs() {
            assert_eq!(
                std::fs::read(blob(dir.path(), &b.digest)).unwrap(),
                b.bytes,
                "kill #{i}: blob {}",
                b.digest
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_reads_our_layouts_and_we_read_skopeos() {
    if Command::new("skopeo").arg("--version").output().is_err() {
        panic!("skopeo is required for this interoperability test (apt-get install -y skopeo)");
    }
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours");
    assert_eq!(
        mirror_async(&[
            "copy",
            &format!("{}/team/app:v1", src.host()),
            &format!("oci:{}:v1", ours.display())
        ])
        .await
        .code,
        0
    );
    let dst = Registry::start();
    let o = Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", ours.display()),
            &format!("docker://{}/by-skopeo:v1", dst.host()),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "skopeo could not read our layout: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        &http.get_manifest(&dst.host(), "by-skopeo", "v1").await.2[..],
        &img.index.bytes[..]
    );
    // And the other way round.
    let theirs = dir.path().join("theirs");
    let o = Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            &format!("docker://{}/team/app:v1", src.host()),
            &format!("oci:{}:v1", theirs.display()),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = mirror_async(&[
        "copy",
        &format!("oci:{}:v1", theirs.display()),
        &format!("{}/by-mirror:v1", dst.host()),
        "-p",
        "linux/amd64",
        "--on-reject",
        "full",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        &http.get_manifest(&dst.host(), "by-mirror", "v1").await.2[..],
        &img.index.bytes[..]
    );
}
