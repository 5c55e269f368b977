//! The referrers API path. No installable registry here has the API (distribution 2.8 and v3
//! answer 404), so the source and target are the in-process fake with `referrers_api: true`:
//! listings paged one descriptor at a time, and `OCI-Subject` on pushes.

use super::{report, sorted, Chain, SBOM_TYPE};
use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::harness::{mirror_async, Http};
use sparse_mirror::referrers::Via;

async fn api_source(chain: &Chain) -> FakeRegistry {
    let src = FakeRegistry::start(FakeOptions {
        referrers_api: true,
        referrers_page_size: Some(1),
        ..FakeOptions::default()
    })
    .await;
    chain
        .push(&Http::new(), &src.host(), "team/app", false)
        .await;
    src
}

#[tokio::test(flavor = "multi_thread")]
async fn referrers_api_with_pagination_and_oci_subject() {
    let chain = Chain::new();
    let src = api_source(&chain).await;
    let dst = FakeRegistry::start(FakeOptions {
        referrers_api: true,
        ..FakeOptions::default()
    })
    .await;
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let out = mirror_async(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--referrers",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    let mut got: Vec<String> = r.artifacts.iter().map(|a| a.digest.to_string()).collect();
    got.sort();
    assert_eq!(got, sorted(&chain.amd64_referrers()));
    assert!(r.artifacts.iter().all(|a| a.found_via == Via::ReferrersApi));
    for a in chain.amd64_referrers() {
        let (_, bytes) = dst
            .manifest_bytes("mirror/app", &a.manifest.digest)
            .unwrap_or_else(|| panic!("{} missing", a.name));
        assert_eq!(bytes, a.manifest.bytes, "{} changed", a.name);
    }
    assert!(!dst.has_manifest("mirror/app", &chain.arm_sig.manifest.digest));
    // The target answered OCI-Subject: no fallback tags were written.
    assert!(r.fallback_tags.is_empty());
    assert!(dst
        .tag_digest("mirror/app", &super::fallback_tag(&chain.img.index.digest))
        .is_none());
    // The index has two referrers and the API pages one at a time: the `Link` was followed.
    let index_path = format!("/referrers/{}", chain.img.index.digest);
    let pages: Vec<String> = src
        .requests()
        .into_iter()
        .filter(|(m, p, _)| m == "GET" && p.contains(&index_path))
        .map(|(_, p, _)| p)
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages[1].contains("last="), "{pages:?}");
    // No fallback tag was read on a registry that has the API.
    assert!(!src
        .requests()
        .iter()
        .any(|(_, p, _)| p.ends_with(&super::fallback_tag(&chain.img.index.digest))));
}

#[tokio::test(flavor = "multi_thread")]
async fn artifact_type_filter_is_sent_to_the_api_and_applied() {
    let chain = Chain::new();
    let src = api_source(&chain).await;
    let dst = FakeRegistry::start(FakeOptions::default()).await;
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let out = mirror_async(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--referrers-artifact-type",
        SBOM_TYPE,
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    let got: Vec<String> = r.artifacts.iter().map(|a| a.digest.to_string()).collect();
    assert_eq!(got, vec![chain.sbom.manifest.digest.clone()]);
    assert!(src
        .requests()
        .iter()
        .any(|(_, p, _)| p.contains("/referrers/")
            && p.contains("artifactType=application%2Fspdx%2Bjson")));
    // The target has no API: its fallback index lists the SBOM.
    assert_eq!(
        super::fallback_digests(
            &Http::new(),
            &dst.host(),
            "mirror/app",
            &chain.img.index.digest
        )
        .await,
        vec![chain.sbom.manifest.digest.clone()]
    );
}
