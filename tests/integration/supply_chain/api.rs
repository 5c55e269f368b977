//! The referrers API path. No installable registry here has the API (distribution 2.8 and v3
//! answer 404), so the source and target are the in-process fake with `referrers_api: true`:
//! listings paged one descriptor at a time, and `OCI-Subject` on pushes.

use super::{report, sorted, Chain, SBOM_TYPE};
use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::harness::{mirror_async, Http};
use sparse_mirror::engine::referrers::Via;

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

/// `tags/list` pagination (`n`, `last`, `Link`) through the library's registry backend with a
/// small page size; the digest-tag scan relies on it. distribution 2.8.2 ignores `n` and
/// answers with every tag at once (observed), so the paging itself runs against the fake.
#[tokio::test(flavor = "multi_thread")]
async fn tag_listing_follows_link_pagination() {
    use sparse_mirror::auth::Auth;
    use sparse_mirror::transport::registry::{ClientOptions, RegistryClient, RegistryRepo};
    use sparse_mirror::transport::Storage;
    let repo = |host: &str, name: &str| {
        let opts = ClientOptions {
            plain_http: true,
            ..ClientOptions::default()
        };
        let client = RegistryClient::new(host, Auth::anonymous(), opts).unwrap();
        RegistryRepo::new(std::sync::Arc::new(client), name, false).with_tags_page_size(3)
    };

    let chain = Chain::new();
    let real = crate::harness::Registry::start();
    chain
        .push(&Http::new(), &real.host(), "team/app", true)
        .await;
    let want: std::collections::BTreeSet<String> = Http::new()
        .tags(&real.host(), "team/app")
        .await
        .into_iter()
        .collect();
    assert!(want.len() > 7, "{want:?}");
    let got = repo(&real.host(), "team/app").list_tags().await.unwrap();
    assert_eq!(
        got.into_iter().collect::<std::collections::BTreeSet<_>>(),
        want
    );
    assert!(repo(&real.host(), "no/such")
        .list_tags()
        .await
        .unwrap()
        .is_empty());

    let fake = FakeRegistry::start(FakeOptions::default()).await;
    chain
        .push(&Http::new(), &fake.host(), "team/app", true)
        .await;
    let before = fake.requests().len();
    let got = repo(&fake.host(), "team/app").list_tags().await.unwrap();
    assert_eq!(
        got.into_iter().collect::<std::collections::BTreeSet<_>>(),
        want
    );
    let pages: Vec<String> = fake.requests()[before..]
        .iter()
        .filter(|(m, p, _)| m == "GET" && p.contains("/tags/list"))
        .map(|(_, p, _)| p.clone())
        .collect();
    assert_eq!(pages.len(), want.len().div_ceil(3), "{pages:?}");
    assert!(pages[1].contains("last="), "{pages:?}");
}
