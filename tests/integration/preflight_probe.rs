//! The preflight's probe index (src/engine/preflight.rs) on each registry behaviour: it runs
//! only when the first refusal names selected children alone, settles first-missing registries
//! (crane_registry.rs) and keeps distribution v3's `platforms: list` mode working. v3 is not
//! installable here, so list mode is the in-process fake's `platform_list` (the rule of
//! `registry/storage/manifestlisthandler.go` `platformMustExist`: os and architecture match).

use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fixtures::{self, Image};
use crate::harness::{count, mirror_async, show, Http, Registry};
use sparse_mirror::engine::report::Report;

const LAYER: usize = 8 * 1024;

async fn source(img: &Image) -> Registry {
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", img).await;
    src
}

/// Manifest PUTs by digest that happened before the first blob request: the preflight's.
fn preflight_puts(reqs: &[(String, String, u16)]) -> Vec<(String, String, u16)> {
    reqs.iter()
        .take_while(|(_, p, _)| !p.contains("/blobs/"))
        .filter(|(m, p, _)| m == "PUT" && p.contains("/manifests/sha256:"))
        .cloned()
        .collect()
}

fn preflight_of(stdout: &str) -> serde_json::Value {
    let r: Report = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}\n{stdout}"));
    serde_json::to_value(&r.preflight).unwrap()
}

/// v3 list mode listing only the selected platform: the index PUT names the selected child
/// (missing so far), the probe of the left-out children is accepted, the copy succeeds with
/// the original digest tagged, and only the original index is tagged.
#[tokio::test(flavor = "multi_thread")]
async fn v3_list_mode_with_the_selected_platform_listed_copies_sparse() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = source(&img).await;
    let fake = FakeRegistry::start(FakeOptions {
        accept_sparse: false,
        platform_list: vec!["linux/amd64".into()],
        ..FakeOptions::default()
    })
    .await;
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", fake.host()),
        "-p",
        "linux/amd64",
        "-o",
        "json",
        "-v",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(preflight_of(&out.stdout), "accepted");
    assert!(out.stderr.contains("accepted probe index"), "{out}");
    let reqs = fake.requests();
    let puts = preflight_puts(&reqs);
    assert_eq!(puts.len(), 2, "{reqs:#?}");
    assert!(
        puts[0].1.ends_with(&img.index.digest) && puts[0].2 == 400,
        "{reqs:#?}"
    );
    assert_eq!(puts[1].2, 201, "the probe is accepted: {reqs:#?}");
    let probe = puts[1].1.rsplit('/').next().unwrap().to_string();
    assert_ne!(probe, img.index.digest);
    // The probe lists exactly the children the copy leaves out.
    let (_, bytes) = fake.manifest_bytes("mirror/app", &probe).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let amd = img.child("linux/amd64");
    let att = img.attestation_for(&amd.digest);
    let left_out: Vec<&str> = img
        .children
        .iter()
        .map(|m| m.digest.as_str())
        .filter(|d| *d != amd.digest && *d != att.digest)
        .collect();
    let listed: Vec<&str> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    assert_eq!(listed, left_out);
    // The original index is tagged; the probe is not.
    assert_eq!(
        fake.tag_digest("mirror/app", "v1").as_deref(),
        Some(img.index.digest.as_str())
    );
    assert!(
        !reqs.iter().any(|(m, p, _)| m == "PUT"
            && !p.contains("/manifests/sha256:")
            && p.contains("/manifests/")
            && !p.ends_with("/v1")),
        "{reqs:#?}"
    );
    assert!(!fake.has_manifest("mirror/app", &img.child("linux/arm64/v8").digest));
}

/// v3 list mode listing a left-out platform too: the first refusal already names it, so the
/// refusal is conclusive without a probe.
#[tokio::test(flavor = "multi_thread")]
async fn v3_list_mode_requiring_a_left_out_platform_is_refused_without_a_probe() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = source(&img).await;
    let fake = FakeRegistry::start(FakeOptions {
        accept_sparse: false,
        platform_list: vec!["linux/amd64".into(), "linux/arm64".into()],
        ..FakeOptions::default()
    })
    .await;
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", fake.host()),
        "-p",
        "linux/amd64",
    ])
    .await;
    assert_eq!(out.code, 4, "{out}");
    assert!(out.stderr.contains("linux/arm64"), "{out}");
    assert!(!out.stderr.contains("probe"), "{out}");
    let reqs = fake.requests();
    assert_eq!(preflight_puts(&reqs).len(), 1, "{reqs:#?}");
    assert!(
        !reqs.iter().any(|(_, p, _)| p.contains("/blobs/")),
        "{reqs:#?}"
    );
    assert_eq!(fake.tag_digest("mirror/app", "v1"), None);
}

/// A registry that accepts sparse indexes: one preflight PUT, no probe.
#[tokio::test(flavor = "multi_thread")]
async fn sparse_accepting_registry_gets_no_probe() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = source(&img).await;
    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", fake.host()),
        "-p",
        "linux/amd64",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(preflight_of(&out.stdout), "accepted");
    let reqs = fake.requests();
    let puts = preflight_puts(&reqs);
    assert_eq!(puts.len(), 1, "{reqs:#?}");
    assert!(puts[0].1.ends_with(&img.index.digest), "{reqs:#?}");
}

/// distribution 2.8 names every missing child, the left-out ones included: one preflight PUT,
/// no probe, no blob request.
#[tokio::test(flavor = "multi_thread")]
async fn distribution_names_every_missing_child_so_no_probe_is_needed() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = source(&img).await;
    let dst = Registry::start();
    let mark = dst.mark();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
        "-p",
        "linux/amd64",
    ])
    .await;
    assert_eq!(out.code, 4, "{out}");
    assert!(!out.stderr.contains("probe"), "{out}");
    let reqs = dst.requests_since(mark);
    assert_eq!(count(&reqs, "PUT", "/manifests/"), 1, "{}", show(&reqs));
    assert!(
        !reqs.iter().any(|r| r.path.contains("/blobs/")),
        "{}",
        show(&reqs)
    );
}

/// distribution 2.8 when the target already holds every left-out child (an earlier full
/// copy): the refusal names only the selected child, the probe is accepted, and the sparse
/// copy succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn left_out_children_already_on_the_target_make_the_probe_pass() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = source(&img).await;
    let dst = Registry::start();
    let http = Http::new();
    // Seed the target with every child except the selected image and its attestation.
    let amd = img.child("linux/amd64");
    let att = img.attestation_for(&amd.digest);
    for m in img
        .children
        .iter()
        .filter(|m| m.digest != amd.digest && m.digest != att.digest)
    {
        let blobs: Vec<&fixtures::Blob> = m.blobs.iter().collect();
        fixtures::push_blobs(&http, &dst.host(), "mirror/app", &blobs).await;
        fixtures::push_manifest_only(&http, &dst.host(), "mirror/app", &m.digest, m).await;
    }
    let mark = dst.mark();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
        "-p",
        "linux/amd64",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(preflight_of(&out.stdout), "accepted");
    let reqs = dst.requests_since(mark);
    // Index refused (400), probe accepted (201), then the tag.
    let puts: Vec<_> = reqs
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/manifests/"))
        .collect();
    assert!(puts.len() >= 3, "{}", show(&reqs));
    assert!(puts[0].path.ends_with(&img.index.digest) && puts[0].status == 400);
    assert_eq!(puts[1].status, 201, "{}", show(&reqs));
    assert!(puts.last().unwrap().path.ends_with("/manifests/v1"));
    assert_eq!(
        dst.tag_target("mirror/app", "v1").as_deref(),
        Some(img.index.digest.as_str())
    );
}
