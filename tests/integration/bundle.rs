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
    {
        // The far side applies as another user: what the bundle holds is readable by all.
        use std::os::unix::fs::PermissionsExt;
        let blob = crate::fixtures::layout_blob(&b1.join("layout"), &img.index.digest);
        for f in [
            b1.join("bundle.json"),
            b1.join("layout/index.json"),
            blob,
            ledger.clone(),
        ] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644, "{}", f.display());
        }
    }
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
    use std::os::unix::fs::PermissionsExt;
    for f in ["bundle.json", "layout.tar.001"] {
        let mode = std::fs::metadata(b2.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{f} is readable by whoever applies it");
    }
    assert_eq!(m["left_out"][0]["claimed_by"]["kind"], "ledger");
    let out = mirror_async(&["bundle", "check", &s(&b2), "-o", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    let checked: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(checked, m, "check prints bundle.json once verified");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let out = mirror_async(&[
        "bundle",
        "apply",
        &s(&b2),
        "--output",
        "json",
        "--work-dir",
        &s(&work),
    ])
    .await;
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "the unpacked layout is removed from --work-dir"
    );
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

#[tokio::test(flavor = "multi_thread")]
async fn a_left_out_blob_the_far_side_lost_is_named_with_its_claim_and_nothing_is_tagged() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let far = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (b1, b2) = (dir.path().join("b1"), dir.path().join("b2"));
    let ledger = dir.path().join("ledger.json");
    let source = format!("{}/team/app:v1", src.host());
    let s = |p: &Path| p.display().to_string();
    for (b, tag) in [(&b1, "v1"), (&b2, "v2")] {
        let out = mirror_async(&[
            "copy",
            &source,
            &format!("{}/team/app:{tag}", far.host()),
            "--bundle",
            &s(b),
            "--ledger",
            &s(&ledger),
        ])
        .await;
        assert_eq!(out.code, 0, "{out}");
    }
    let out = mirror_async(&["bundle", "apply", &s(&b1)]).await;
    assert_eq!(out.code, 0, "{out}");
    // The far side loses one layer after the ledger recorded it.
    let lost = &img.child("linux/amd64").layers()[0].digest;
    let link = far.storage_dir().join(format!(
        "docker/registry/v2/repositories/team/app/_layers/sha256/{}/link",
        lost.trim_start_matches("sha256:")
    ));
    std::fs::remove_file(&link).unwrap();
    // A dry run says so without writing.
    let out = mirror_async(&["bundle", "apply", &s(&b2), "--dry-run", "--output", "json"]).await;
    assert_eq!(out.code, 6, "{out}");
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["images"][0]["left_out"]["missing"], 1, "{r}");
    let out = mirror_async(&["bundle", "apply", &s(&b2)]).await;
    assert_eq!(out.code, 6, "{out}");
    let bundle1 = bundle_json(&b1)["id"].as_str().unwrap().to_string();
    for needle in [
        lost.as_str(),
        &format!("{}/team/app:v2", far.host()),
        &s(&ledger),
        &bundle1,
        "mirror inventory",
    ] {
        assert!(out.stderr.contains(needle), "{needle} missing from: {out}");
    }
    assert!(
        !far.tag_exists("team/app", "v2"),
        "no tag on an image that needs the lost blob"
    );
    // Put the blob back (a fresh full bundle of the same image would do the same), then rerun.
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::fs::write(&link, lost).unwrap();
    let out = mirror_async(&["bundle", "apply", &s(&b2)]).await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&["verify", &source, &format!("{}/team/app:v2", far.host())]).await;
    assert_eq!(out.code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn near_side_dry_run_writes_nothing_and_estimates_what_the_bundle_carries() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b");
    let source = format!("{}/team/app:v1", src.host());
    let out = mirror_async(&[
        "copy",
        &source,
        "far.example/team/app:v1",
        "--bundle",
        &b.display().to_string(),
        "--platform",
        "linux/amd64",
        "--dry-run",
        "--output",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(!b.exists(), "a dry run creates nothing");
    let line = out.stdout.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    // The selected child and its BuildKit attestation manifest.
    let amd = img.child("linux/amd64");
    let att = img.attestation_for(&amd.digest);
    let expected: usize = amd
        .blobs
        .iter()
        .chain(&att.blobs)
        .map(|b| b.bytes.len())
        .sum();
    let manifests = img.index.bytes.len() + amd.bytes.len() + att.bytes.len();
    assert_eq!(
        v["bundle"]["totals"]["manifest_bytes"], manifests as u64,
        "{v}"
    );
    assert_eq!(v["bundle"]["dry_run"], true, "{v}");
    assert_eq!(v["bundle"]["totals"]["blob_bytes"], expected as u64, "{v}");
    assert_eq!(v["bundle"]["totals"]["left_out"], 0, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_writes_one_bundle_for_every_image_and_apply_pushes_each_to_its_target() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img).await;
    let single = fixtures::single_manifest(LAYER);
    fixtures::push_image(&http, &src.host(), "team/tool", "v3", &single).await;
    let far = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("near.yaml");
    std::fs::write(
        &yaml,
        format!(
            "images:\n  - source: {s}/team/app\n    target: {f}/mirror/app\n    tags: [v1]\n  - source: {s}/team/tool\n    target: {f}/mirror/tool\n    tags: [v3]\n",
            s = src.host(),
            f = far.host()
        ),
    )
    .unwrap();
    let b = dir.path().join("b");
    let out = mirror_async(&[
        "sync",
        "-f",
        &yaml.display().to_string(),
        "--bundle",
        &b.display().to_string(),
        "--pack",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    // The last JSON line is the sealed bundle's summary, as bundle.json says.
    let line: serde_json::Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let sealed = bundle_json(&b);
    let summary = &line["bundle"];
    assert_eq!(summary["id"], sealed["id"], "{line}");
    assert_eq!(summary["totals"], sealed["totals"], "{line}");
    assert_eq!(summary["volumes"], sealed["volumes"], "{line}");
    assert_eq!(summary["images"], 2, "{line}");
    let t = &sealed["totals"];
    let carried = t["manifest_bytes"].as_u64().unwrap() + t["blob_bytes"].as_u64().unwrap();
    assert_eq!(summary["delta_bytes"], carried, "{line}");
    assert!(
        !far.tag_exists("mirror/app", "v1"),
        "nothing reaches the far side"
    );
    let m = bundle_json(&b);
    let targets: Vec<&str> = m["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        [
            format!("{}/mirror/app:v1", far.host()),
            format!("{}/mirror/tool:v3", far.host())
        ]
    );
    assert_eq!(m["volumes"].as_array().unwrap().len(), 1);
    let out = mirror_async(&["bundle", "apply", &b.display().to_string()]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        far.tag_target("mirror/app", "v1").as_deref(),
        Some(img.index.digest.as_str())
    );
    assert_eq!(
        far.tag_target("mirror/tool", "v3").as_deref(),
        Some(single.index.digest.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_far_registry_the_inventory_found_refusing_sparse_indexes_is_decided_on_the_near_side() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let far = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.json");
    let s = |p: &Path| p.display().to_string();
    let out = mirror_async(&[
        "inventory",
        &format!("{}/team/app", far.host()),
        "--probe-sparse",
        "--output",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    std::fs::write(&inv, &out.stdout).unwrap();
    let source = format!("{}/team/app:v1", src.host());
    let target = format!("{}/team/app:v1", far.host());
    // Default --on-reject fail: refused now, before the trip, with the inventory named.
    let b = dir.path().join("refused");
    let out = mirror_async(&[
        "copy",
        &source,
        &target,
        "-p",
        "linux/amd64",
        "--bundle",
        &s(&b),
        "--inventory",
        &s(&inv),
    ])
    .await;
    assert_eq!(out.code, 4, "{out}");
    assert!(out.stderr.contains(&s(&inv)), "names the inventory: {out}");
    assert!(!b.join("bundle.json").exists());
    // --on-reject full: the bundle carries every platform and the far side keeps the digest.
    let b = dir.path().join("full");
    let out = mirror_async(&[
        "copy",
        &source,
        &target,
        "-p",
        "linux/amd64",
        "--on-reject",
        "full",
        "--bundle",
        &s(&b),
        "--inventory",
        &s(&inv),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        bundle_json(&b)["totals"]["blobs"],
        img.all_blobs().len() as u64
    );
    let out = mirror_async(&["bundle", "apply", &s(&b)]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        far.tag_target("team/app", "v1").as_deref(),
        Some(img.index.digest.as_str())
    );
    // --on-reject filter: the bundle holds the filtered index, which the far side takes.
    let b = dir.path().join("filter");
    let out = mirror_async(&[
        "copy",
        &source,
        &format!("{}/team/app:f1", far.host()),
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
        "--bundle",
        &s(&b),
        "--inventory",
        &s(&inv),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let filtered = bundle_json(&b)["images"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(filtered, img.index.digest);
    let out = mirror_async(&["bundle", "apply", &s(&b)]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(far.tag_target("team/app", "f1"), Some(filtered));
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_and_referrers_travel_whole_in_a_delta_bundle() {
    use crate::supply_chain::{fallback_digests, fallback_tag, sorted, Chain};
    let chain = Chain::new();
    let http = crate::harness::Http::new();
    let src = Registry::start();
    chain.push(&http, &src.host(), "team/app", true).await;
    let far = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.json");
    let s = |p: &Path| p.display().to_string();
    let source = format!("{}/team/app:v1", src.host());
    let mut bundles = vec![];
    for (n, tag) in ["v1", "v2"].iter().enumerate() {
        let b = dir.path().join(format!("b{n}"));
        let out = mirror_async(&[
            "copy",
            &source,
            &format!("{}/team/app:{tag}", far.host()),
            "--referrers",
            "--digest-tags",
            "--bundle",
            &s(&b),
            "--ledger",
            &s(&ledger),
        ])
        .await;
        assert_eq!(out.code, 0, "{out}");
        bundles.push(b);
    }
    // The second bundle leaves the image's blobs out but still carries the artifacts.
    assert_eq!(
        bundle_json(&bundles[1])["totals"]["left_out"],
        chain.img.all_blobs().len() as u64
    );
    for b in &bundles {
        let out = mirror_async(&["bundle", "apply", &s(b)]).await;
        assert_eq!(out.code, 0, "{out}");
    }
    let fh = far.host();
    let mut listed = fallback_digests(&http, &fh, "team/app", &chain.img.index.digest).await;
    listed.sort();
    assert_eq!(
        listed,
        sorted(&[&chain.sbom, &chain.index_sig]),
        "the index's referrers are listed on the far side"
    );
    for a in &chain.cosign {
        let tag = a.tag.as_deref().unwrap();
        assert_eq!(
            far.tag_target("team/app", tag).as_deref(),
            Some(a.manifest.digest.as_str()),
            "cosign tag {tag}"
        );
    }
    assert!(far.tag_exists("team/app", &fallback_tag(&chain.img.index.digest)));
    let out = mirror_async(&[
        "verify",
        &source,
        &format!("{fh}/team/app:v2"),
        "--referrers",
        "--digest-tags",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
}

/// An apply interrupted while a layer is being uploaded exits 130 without a tag; the same
/// command again finishes it (the volumes are unpacked again, what arrived is skipped).
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_apply_leaves_no_tag_and_the_same_command_finishes_it() {
    use crate::fault_proxy::{FaultConfig, FaultProxy, Seen};
    let img = fixtures::single_manifest(8 * 1024 * 1024);
    let src = Registry::start();
    fixtures::push_image(&crate::harness::Http::new(), &src.host(), "big", "v1", &img).await;
    let far = Registry::start();
    let proxy = FaultProxy::start(
        &far.host(),
        FaultConfig {
            throttle: Some(2 * 1024 * 1024),
            ..FaultConfig::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b");
    let out = mirror_async(&[
        "copy",
        &format!("{}/big:v1", src.host()),
        &format!("{}/big:v1", proxy.host()),
        "--bundle",
        &b.display().to_string(),
        "--max-volume-size",
        "3M",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let layer = img.index.layers()[0].digest.clone();
    let uploading = |seen: &[Seen]| {
        seen.iter()
            .any(|s| s.method == "PUT" && s.target.ends_with(&format!("digest={layer}")))
    };
    let args = vec![
        "bundle".to_string(),
        "apply".into(),
        b.display().to_string(),
    ];
    let (code, stderr) = crate::sigint::interrupt_when(&args, &proxy, uploading, "INT").await;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        !far.tag_exists("big", "v1"),
        "no tag on an interrupted apply"
    );
    let out = mirror_async(&["bundle", "apply", &b.display().to_string()]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        far.tag_target("big", "v1").as_deref(),
        Some(img.index.digest.as_str())
    );
}

/// The far side may be an OCI layout too (a disk the far registry is loaded from later): its
/// inventory lists the layout's blobs, the bundle leaves them out, the apply writes the rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_far_side_layout_takes_delta_bundles_as_well() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let far = dir.path().join("far");
    let s = |p: &Path| p.display().to_string();
    let source = format!("{}/team/app:v1", src.host());
    let b1 = dir.path().join("b1");
    let out = mirror_async(&[
        "copy",
        &source,
        &format!("oci:{}:v1", s(&far)),
        "--bundle",
        &s(&b1),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&["bundle", "apply", &s(&b1)]).await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&["inventory", &format!("oci:{}", s(&far)), "--output", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    let inv = dir.path().join("inventory.json");
    std::fs::write(&inv, &out.stdout).unwrap();
    let b2 = dir.path().join("b2");
    let out = mirror_async(&[
        "copy",
        &source,
        &format!("oci:{}:v2", s(&far)),
        "--bundle",
        &s(&b2),
        "--inventory",
        &s(&inv),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(bundle_json(&b2)["totals"]["blobs"], 0);
    let out = mirror_async(&["bundle", "apply", &s(&b2)]).await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&["verify", &source, &format!("oci:{}:v2", s(&far))]).await;
    assert_eq!(out.code, 0, "{out}");
}

/// Two tags of one image in one bundle: each left-out blob is asked for once on the far side,
/// and nothing is uploaded.
#[tokio::test(flavor = "multi_thread")]
async fn left_out_blobs_are_checked_once_per_repository() {
    use crate::fault_proxy::{FaultConfig, FaultProxy};
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img).await;
    fixtures::push_image(&http, &src.host(), "team/app", "v2", &img).await;
    let far = Registry::start();
    let proxy = FaultProxy::start(&far.host(), FaultConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.json");
    let s = |p: &Path| p.display().to_string();
    let (b1, b2) = (dir.path().join("b1"), dir.path().join("b2"));
    let yaml = dir.path().join("near.yaml");
    let write_yaml = |tags: &str| {
        std::fs::write(
            &yaml,
            format!(
                "images:\n  - source: {}/team/app\n    target: {}/mirror/app\n    tags: [{tags}]\n",
                src.host(),
                proxy.host()
            ),
        )
        .unwrap()
    };
    write_yaml("v1");
    let out = mirror_async(&[
        "sync",
        "-f",
        &s(&yaml),
        "--bundle",
        &s(&b1),
        "--ledger",
        &s(&ledger),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&["bundle", "apply", &s(&b1)]).await;
    assert_eq!(out.code, 0, "{out}");
    write_yaml("v1, v2");
    let out = mirror_async(&[
        "sync",
        "-f",
        &s(&yaml),
        "--bundle",
        &s(&b2),
        "--ledger",
        &s(&ledger),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let m = bundle_json(&b2);
    assert_eq!(m["totals"]["blobs"], 0, "{m}");
    let before = proxy.seen().len();
    let out = mirror_async(&["bundle", "apply", &s(&b2)]).await;
    assert_eq!(out.code, 0, "{out}");
    let seen = proxy.seen();
    let blob_heads: Vec<&str> = seen[before..]
        .iter()
        .filter(|r| r.method == "HEAD" && r.target.contains("/blobs/"))
        .map(|r| r.target.as_str())
        .collect();
    let mut distinct = blob_heads.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        blob_heads.len(),
        distinct.len(),
        "a blob HEADed twice: {blob_heads:#?}"
    );
    assert_eq!(distinct.len(), img.all_blobs().len());
    assert!(
        !seen[before..]
            .iter()
            .any(|r| r.method == "PATCH" || (r.method == "PUT" && r.target.contains("/blobs/"))),
        "nothing uploaded"
    );
}

/// A digest pin travels too: its entry in the bundle is named `host/repo@digest`, and the
/// apply pushes it by digest, untagged.
#[tokio::test(flavor = "multi_thread")]
async fn a_digest_pin_is_bundled_and_applied_by_digest() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let far = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b");
    let d = &img.index.digest;
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app@{d}", src.host()),
        &format!("{}/pinned/app@{d}", far.host()),
        "--bundle",
        &b.display().to_string(),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let m = bundle_json(&b);
    assert_eq!(
        m["images"][0]["layout_ref"],
        format!("{}/pinned/app@{d}", far.host())
    );
    let out = mirror_async(&["bundle", "apply", &b.display().to_string()]).await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&[
        "verify",
        &format!("{}/team/app@{d}", src.host()),
        &format!("{}/pinned/app@{d}", far.host()),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
}

/// A sparse bundle (no inventory said how the far side treats them) meets distribution 2.8,
/// which refuses sparse indexes: the default fails that image untagged; `--on-reject filter`
/// pushes the filtered index, complete for the selection.
#[tokio::test(flavor = "multi_thread")]
async fn a_sparse_bundle_meets_a_refusing_far_side_with_the_apply_policy() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let far = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b");
    let source = format!("{}/team/app:v1", src.host());
    let target = format!("{}/team/app:v1", far.host());
    let out = mirror_async(&[
        "copy",
        &source,
        &target,
        "-p",
        "linux/amd64",
        "--bundle",
        &b.display().to_string(),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&["bundle", "apply", &b.display().to_string()]).await;
    assert_eq!(out.code, 6, "{out}");
    assert!(out.stderr.contains("rejects sparse indexes"), "{out}");
    assert!(!far.tag_exists("team/app", "v1"));
    let out = mirror_async(&[
        "bundle",
        "apply",
        &b.display().to_string(),
        "--on-reject",
        "filter",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let at = far.tag_target("team/app", "v1").unwrap();
    assert_ne!(at, img.index.digest, "a filtered index, not the source's");
    let out = mirror_async(&[
        "verify",
        &source,
        &target,
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
}
