//! `--bundle` and `mirror bundle apply|check` (issue 16), focused cases against real
//! distribution 2.8 processes; the 3-trip scenario and the documented workflow are in
//! `airgap_delta.rs`.

use std::path::Path;

use crate::fixtures::{self, seeded};
use crate::harness::{mirror_async, Registry};

const LAYER: usize = 6 * 1024;

fn bundle_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("bundle.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_bundle_of_the_same_image_carries_manifests_only_and_mounts_across_repositories() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let far = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (b1, b2, b3) = (
        dir.path().join("b1"),
        dir.path().join("b2"),
        dir.path().join("b3"),
    );
    let ledger = dir.path().join("ledger.json");
    let source = format!("{}/team/app:v1", src.host());
    let s = |p: &Path| p.display().to_string();

    // Trip 1: everything, recorded in the ledger.
    let out = mirror_async(&[
        "copy",
        &source,
        &format!("{}/team/app:v1", far.host()),
        "--bundle",
        &s(&b1),
        "--ledger",
        &s(&ledger),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let m = bundle_json(&b1);
    let all_blobs = img.all_blobs().len() as u64;
    assert_eq!(m["totals"]["blobs"], all_blobs, "{m}");
    assert_eq!(m["totals"]["left_out"], 0);
    assert!(out.stderr.contains("sealed as"), "{out}");
    assert!(ledger.is_file());
    let out = mirror_async(&["bundle", "apply", &s(&b1)]).await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&["verify", &source, &format!("{}/team/app:v1", far.host())]).await;
    assert_eq!(out.code, 0, "{out}");

    // Trip 2: the same image under a new tag, in volumes: no blob is carried.
    let out = mirror_async(&[
        "copy",
        &source,
        &format!("{}/team/app:v2", far.host()),
        "--bundle",
        &s(&b2),
        "--ledger",
        &s(&ledger),
        "--max-volume-size",
        "8K",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let m = bundle_json(&b2);
    assert_eq!(m["totals"]["blobs"], 0, "{m}");
    assert_eq!(m["totals"]["left_out"], all_blobs);
    assert!(!m["volumes"].as_array().unwrap().is_empty());
    assert!(!b2.join("layout").exists(), "packed layouts are removed");
    assert_eq!(m["left_out"][0]["claimed_by"]["kind"], "ledger");
    let out = mirror_async(&["bundle", "check", &s(&b2)]).await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&["bundle", "apply", &s(&b2), "--output", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["images"][0]["left_out"]["present"], all_blobs, "{r}");
    assert_eq!(r["images"][0]["blobs_copied"], 0, "{r}");

    // Trip 3: another repository of the same registry: the blobs are mounted.
    let out = mirror_async(&[
        "copy",
        &source,
        &format!("{}/other/app:v1", far.host()),
        "--bundle",
        &s(&b3),
        "--ledger",
        &s(&ledger),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let m = bundle_json(&b3);
    assert_eq!(m["totals"]["blobs"], 0, "{m}");
    assert_eq!(
        m["left_out"][0]["mount_from"],
        format!("{}/team/app", far.host())
    );
    let out = mirror_async(&["bundle", "apply", &s(&b3), "--output", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["images"][0]["left_out"]["mounted"], all_blobs, "{r}");
    let out = mirror_async(&["verify", &source, &format!("{}/other/app:v1", far.host())]).await;
    assert_eq!(out.code, 0, "{out}");
}
