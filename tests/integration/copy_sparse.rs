//! A target that accepts sparse indexes. No installable registry does by default, so this uses
//! the in-process fake (the real registry covers the rejection path in copy_registry.rs).

use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fixtures;
use crate::harness::{mirror_async, Http, Registry};
use sparse_mirror::engine::report::Report;

const LAYER: usize = 8 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn sparse_index_is_pushed_unmodified_and_reruns_pick_up_new_platforms() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", &img).await;
    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", fake.host());

    let out = mirror_async(&["copy", &s, &d, "-p", "linux/amd64", "-o", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    let r: Report = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(serde_json::to_value(&r.preflight).unwrap(), "accepted");
    assert!(r.sparse);
    let (ct, bytes) = fake.manifest_bytes("mirror/app", "v1").unwrap();
    assert_eq!(ct, fixtures::OCI_INDEX);
    assert_eq!(
        bytes, img.index.bytes,
        "the sparse index keeps the source bytes"
    );
    assert_eq!(
        fake.tag_digest("mirror/app", "v1").as_deref(),
        Some(img.index.digest.as_str())
    );
    let amd = img.child("linux/amd64");
    assert!(fake.has_manifest("mirror/app", &amd.digest));
    assert!(fake.has_manifest("mirror/app", &img.attestation_for(&amd.digest).digest));
    let arm = img.child("linux/arm64/v8");
    assert!(!fake.has_manifest("mirror/app", &arm.digest));

    // Order: no manifest PUT before its blobs, the tag PUT last.
    let reqs = fake.requests();
    let tag_put = reqs
        .iter()
        .rposition(|(m, p, _)| m == "PUT" && p.ends_with("/manifests/v1"))
        .expect("tag pushed");
    assert_eq!(
        tag_put,
        reqs.iter().rposition(|(m, _, _)| m == "PUT").unwrap(),
        "tag is the last PUT: {reqs:?}"
    );

    // Rerun unchanged: nothing written.
    let before = fake.requests().len();
    let out = mirror_async(&["copy", &s, &d, "-p", "linux/amd64"]).await;
    assert_eq!(out.code, 0, "{out}");
    let writes: Vec<_> = fake.requests()[before..]
        .iter()
        .filter(|(m, _, _)| m != "HEAD" && m != "GET")
        .cloned()
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    // Add a platform: only its child and attestation are copied; the index is not re-PUT.
    let before = fake.requests().len();
    let out = mirror_async(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64,linux/arm64",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let r: Report = serde_json::from_str(&out.stdout).unwrap();
    let mut repaired: Vec<String> = r.repaired.iter().map(|d| d.to_string()).collect();
    repaired.sort();
    let mut want = vec![
        arm.digest.clone(),
        img.attestation_for(&arm.digest).digest.clone(),
    ];
    want.sort();
    assert_eq!(repaired, want);
    let later = &fake.requests()[before..];
    assert!(
        !later.iter().any(|(m, p, _)| m == "PUT"
            && (p.ends_with("/manifests/v1") || p.ends_with(&img.index.digest))),
        "{later:?}"
    );
    assert!(fake.has_manifest("mirror/app", &arm.digest));
}
