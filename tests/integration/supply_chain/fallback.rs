//! The tag-fallback path: real distribution 2.8 (no referrers API) as source and as target,
//! an OCI layout in between, and a concurrent update of a fallback index.

use std::collections::BTreeSet;

use super::{fallback_digests, fallback_tag, referrer, report, sorted, verifies, Art, Chain};
use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fixtures::{self, OCI_INDEX, OCI_MANIFEST};
use crate::harness::{mirror_async, Http, Registry};
use sparse_mirror::engine::referrers::{ArtifactStatus, Via};

/// A referrer some other tool pushed to the target before the mirror ran.
fn scan_report(chain: &Chain) -> Art {
    referrer(
        "scan",
        "application/vnd.example.scan-report",
        &chain.img.index,
        br#"{"findings":0}"#.to_vec(),
        "application/json",
        &[("org.example.scanner", "site-local")],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn selected_referrers_and_digest_tags_travel_between_registries_without_the_api() {
    let chain = Chain::new();
    let http = Http::new();
    let src = Registry::start();
    chain.push(&http, &src.host(), "team/app", true).await;
    let dst = Registry::start();
    // The target already has a referrer of the index, listed in its fallback index.
    let scan = scan_report(&chain);
    let dh = dst.host();
    for b in &scan.manifest.blobs {
        http.push_blob(&dh, "mirror/app", &b.bytes).await;
    }
    fixtures::push_manifest_only(
        &http,
        &dh,
        "mirror/app",
        &scan.manifest.digest,
        &scan.manifest,
    )
    .await;
    let index_tag = fallback_tag(&chain.img.index.digest);
    let pre = super::fallback_index(&[&scan]);
    let (st, body) = http
        .put_manifest(&dh, "mirror/app", &index_tag, OCI_INDEX, &pre)
        .await;
    assert_eq!(st, 201, "{body}");

    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{dh}/mirror/app:v1");
    let args = [
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--on-reject",
        "full",
        "--referrers",
        "--digest-tags",
        "-o",
        "json",
    ];
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);

    // Exactly the referrers and tags of the index and of linux/amd64, each with its subject.
    let got: BTreeSet<(String, String, String, Option<String>)> = r
        .artifacts
        .iter()
        .map(|a| {
            (
                a.kind.clone(),
                a.digest.to_string(),
                a.subject.to_string(),
                a.tag.clone(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String, Option<String>)> = chain
        .amd64_referrers()
        .into_iter()
        .map(|a| {
            (
                "referrer".into(),
                a.manifest.digest.clone(),
                a.subject.clone(),
                None,
            )
        })
        .chain(chain.amd64_cosign().into_iter().map(|a| {
            (
                "digest-tag".into(),
                a.manifest.digest.clone(),
                a.subject.clone(),
                a.tag.clone(),
            )
        }))
        .collect();
    assert_eq!(got, want);
    assert!(r
        .artifacts
        .iter()
        .all(|a| a.status == ArtifactStatus::Pushed));
    assert!(r
        .artifacts
        .iter()
        .filter(|a| a.kind == "referrer")
        .all(|a| a.found_via == Via::FallbackTag));
    // Referrers come after their subject: the SBOM before the signature on it.
    let pos = |d: &str| {
        r.artifacts
            .iter()
            .position(|a| a.digest.as_str() == d)
            .unwrap()
    };
    assert!(pos(&chain.sbom.manifest.digest) < pos(&chain.sbom_sig.manifest.digest));

    // Byte-identical on the target, blobs included.
    for a in chain
        .amd64_referrers()
        .into_iter()
        .chain(chain.amd64_cosign())
    {
        let reference = a.tag.clone().unwrap_or_else(|| a.manifest.digest.clone());
        let (st, ct, bytes) = http.get_manifest(&dh, "mirror/app", &reference).await;
        assert_eq!((st, ct.as_deref()), (200, Some(OCI_MANIFEST)), "{}", a.name);
        assert_eq!(&bytes[..], &a.manifest.bytes[..], "{} changed", a.name);
        for b in &a.manifest.blobs {
            assert!(
                dst.blob_uploaded("mirror/app", &b.digest),
                "{} blob",
                a.name
            );
        }
    }
    let (_, _, index_bytes) = http.get_manifest(&dh, "mirror/app", "v1").await;
    assert_eq!(&index_bytes[..], &chain.img.index.bytes[..]);

    // The unselected child's signature and tags stayed behind (its image came only because
    // the registry demanded every child: --on-reject full).
    let arm = &chain.img.child("linux/arm64/v8").digest;
    assert_eq!(
        http.head_manifest(&dh, "mirror/app", &chain.arm_sig.manifest.digest)
            .await
            .0,
        404
    );
    let tags: BTreeSet<String> = http.tags(&dh, "mirror/app").await.into_iter().collect();
    let amd = &chain.img.child("linux/amd64").digest;
    let want_tags: BTreeSet<String> = [
        "v1".to_string(),
        index_tag.clone(),
        fallback_tag(amd),
        fallback_tag(&chain.sbom.manifest.digest),
    ]
    .into_iter()
    .chain(chain.amd64_cosign().iter().map(|a| a.tag.clone().unwrap()))
    .collect();
    assert_eq!(tags, want_tags);
    assert!(!tags.iter().any(|t| t.starts_with(&fallback_tag(arm))));

    // Fallback indexes: merged with the pre-existing entry, not replaced.
    assert_eq!(
        fallback_digests(&http, &dh, "mirror/app", &chain.img.index.digest).await,
        sorted(&[&scan, &chain.sbom, &chain.index_sig])
    );
    assert_eq!(
        fallback_digests(&http, &dh, "mirror/app", amd).await,
        sorted(&[&chain.amd_sig])
    );
    assert_eq!(
        fallback_digests(&http, &dh, "mirror/app", &chain.sbom.manifest.digest).await,
        sorted(&[&chain.sbom_sig])
    );
    let idx = r
        .fallback_tags
        .iter()
        .find(|f| f.tag == index_tag)
        .expect("index fallback reported");
    assert_eq!((idx.added, idx.kept), (2, 1));
    assert_eq!(r.fallback_tags.len(), 3);

    // A rerun finds everything in place and writes nothing.
    let mark = dst.mark();
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    assert!(r
        .artifacts
        .iter()
        .all(|a| a.status == ArtifactStatus::Existing));
    assert!(r.fallback_tags.is_empty());
    let writes: Vec<_> = dst
        .requests_since(mark)
        .into_iter()
        .filter(|q| !matches!(q.method.as_str(), "GET" | "HEAD"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    // A signature added upstream later arrives on the next run, merged into the target's
    // fallback index next to the one already there.
    let amd_m = chain.img.child("linux/amd64");
    let late = referrer(
        "late-amd64-sig",
        super::SIG_TYPE,
        amd_m,
        super::key().sign(amd_m.digest.as_bytes()).as_ref().to_vec(),
        "application/vnd.example.ed25519-signature",
        &[
            ("org.example.signed-digest", &amd_m.digest),
            ("org.example.signer", "release-2"),
        ],
    );
    let sh = src.host();
    for b in &late.manifest.blobs {
        if http.head_blob(&sh, "team/app", &b.digest).await != 200 {
            http.push_blob(&sh, "team/app", &b.bytes).await;
        }
    }
    fixtures::push_manifest_only(
        &http,
        &sh,
        "team/app",
        &late.manifest.digest,
        &late.manifest,
    )
    .await;
    let (st, body) = http
        .put_manifest(
            &sh,
            "team/app",
            &fallback_tag(amd),
            OCI_INDEX,
            &super::fallback_index(&[&chain.amd_sig, &late]),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    let pushed: Vec<String> = r
        .artifacts
        .iter()
        .filter(|a| a.status == ArtifactStatus::Pushed)
        .map(|a| a.digest.to_string())
        .collect();
    assert_eq!(pushed, vec![late.manifest.digest.clone()]);
    assert_eq!(
        fallback_digests(&http, &dh, "mirror/app", amd).await,
        sorted(&[&chain.amd_sig, &late])
    );
    let upd = &r.fallback_tags;
    assert_eq!(upd.len(), 1, "{upd:?}");
    assert_eq!((upd[0].added, upd[0].kept), (1, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_reject_filter_leaves_the_original_index_referrers_behind() {
    let chain = Chain::new();
    let http = Http::new();
    let src = Registry::start();
    chain.push(&http, &src.host(), "team/app", true).await;
    let dst = Registry::start();
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let out = mirror_async(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
        "--referrers",
        "--digest-tags",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    let status = |a: &Art| {
        r.artifacts
            .iter()
            .find(|x| x.digest.as_str() == a.manifest.digest)
            .unwrap_or_else(|| panic!("{} not reported", a.name))
            .status
    };
    for a in [
        &chain.sbom,
        &chain.sbom_sig,
        &chain.index_sig,
        &chain.cosign[0],
    ] {
        assert_eq!(status(a), ArtifactStatus::SubjectReplaced, "{}", a.name);
        assert_eq!(
            http.head_manifest(&dst.host(), "mirror/app", &a.manifest.digest)
                .await
                .0,
            404,
            "{}",
            a.name
        );
    }
    assert_eq!(status(&chain.amd_sig), ArtifactStatus::Pushed);
    assert!(
        r.warnings.iter().any(|w| w.contains("--on-reject filter")),
        "{:?}",
        r.warnings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_flags_nothing_but_the_image_travels() {
    let chain = Chain::new();
    let http = Http::new();
    let src = Registry::start();
    chain.push(&http, &src.host(), "team/app", true).await;
    let dst = Registry::start();
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let out = mirror_async(&["copy", &s, &d, "-o", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(report(&out.stdout).artifacts.is_empty());
    assert_eq!(http.tags(&dst.host(), "mirror/app").await, vec!["v1"]);
    let reqs = src.requests();
    assert!(
        !reqs
            .iter()
            .any(|q| q.path.contains("/referrers/") || q.path.contains("/tags/list")),
        "no discovery without the flags"
    );
}

/// Registry → OCI layout → registry (the air-gap route): the layout keeps the fallback tags
/// in index.json, and the signatures verify against the final target's digests.
#[tokio::test(flavor = "multi_thread")]
async fn signatures_verify_on_the_far_side_of_an_air_gap() {
    let chain = Chain::new();
    let http = Http::new();
    let src = Registry::start();
    chain.push(&http, &src.host(), "team/app", true).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:v1", dir.path().display());
    let s = format!("{}/team/app:v1", src.host());
    let flags = ["-p", "linux/amd64", "--referrers", "--digest-tags"];
    let out =
        mirror_async(&[&["copy", s.as_str(), layout.as_str()][..], &flags[..]].concat()).await;
    assert_eq!(out.code, 0, "{out}");
    let index_json = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    assert!(
        index_json.contains(&fallback_tag(&chain.img.index.digest)),
        "{index_json}"
    );
    assert!(!index_json.contains(&fallback_tag(&chain.img.child("linux/arm64/v8").digest)));

    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let d = format!("{}/far/app:v1", fake.host());
    let out = mirror_async(
        &[
            &["copy", layout.as_str(), d.as_str(), "-o", "json"][..],
            &flags[..],
        ]
        .concat(),
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    assert_eq!(r.artifacts.len(), 8, "{:?}", r.artifacts);

    // Verify with the target's own digests: the tag's digest, and amd64's digest as the
    // target's index lists it.
    let index_digest = fake.tag_digest("far/app", "v1").unwrap();
    let (_, index_bytes) = fake.manifest_bytes("far/app", &index_digest).unwrap();
    let index: serde_json::Value = serde_json::from_slice(&index_bytes).unwrap();
    let amd_digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["platform"]["architecture"] == "amd64")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    for subject in [&index_digest, &amd_digest] {
        // Notation-style referrer, found through the target's fallback index.
        let (_, fb) = fake
            .manifest_bytes("far/app", &fallback_tag(subject))
            .unwrap_or_else(|| panic!("no fallback tag for {subject}"));
        let fb: serde_json::Value = serde_json::from_slice(&fb).unwrap();
        let sig_entry = fb["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["artifactType"] == super::SIG_TYPE)
            .expect("signature listed");
        let (_, m) = fake
            .manifest_bytes("far/app", sig_entry["digest"].as_str().unwrap())
            .unwrap();
        let m: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(m["subject"]["digest"], subject.as_str());
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        let sig = blob(&http, &fake.host(), "far/app", layer).await;
        assert!(
            verifies(subject.as_bytes(), &sig),
            "signature over {subject}"
        );
        assert!(!verifies(b"sha256:something-else", &sig));

        // cosign `.sig` tag named after the target digest.
        let (_, m) = fake
            .manifest_bytes("far/app", &format!("{}.sig", fallback_tag(subject)))
            .expect("cosign .sig tag");
        let m: serde_json::Value = serde_json::from_slice(&m).unwrap();
        let layer = &m["layers"][0];
        let payload = blob(
            &http,
            &fake.host(),
            "far/app",
            layer["digest"].as_str().unwrap(),
        )
        .await;
        let p: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            p["critical"]["image"]["docker-manifest-digest"],
            subject.as_str()
        );
        use base64::Engine;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(
                layer["annotations"]["dev.cosignproject.cosign/signature"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert!(verifies(&payload, &sig), "cosign signature over {subject}");
    }
}

async fn blob(http: &Http, host: &str, repo: &str, digest: &str) -> Vec<u8> {
    let (st, b) = http.get_blob(host, repo, digest).await;
    assert_eq!(st, 200, "blob {digest}");
    b.to_vec()
}

/// Another writer replaces the target's fallback index between our PUT and our read-back:
/// the merge is redone and both sides' entries end up listed.
#[tokio::test(flavor = "multi_thread")]
async fn a_concurrent_fallback_update_is_merged_not_lost() {
    let chain = Chain::new();
    let http = Http::new();
    let src = Registry::start();
    chain.push(&http, &src.host(), "team/app", true).await;
    let theirs = scan_report(&chain);
    let index_tag = fallback_tag(&chain.img.index.digest);
    let fake = FakeRegistry::start(FakeOptions {
        race_tag: Some((index_tag.clone(), super::fallback_index(&[&theirs]))),
        ..FakeOptions::default()
    })
    .await;
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", fake.host());
    let out = mirror_async(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--referrers",
        "-o",
        "json",
        "-v",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("merging again"), "{out}");
    let (_, bytes) = fake.manifest_bytes("mirror/app", &index_tag).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut listed: Vec<String> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, sorted(&[&theirs, &chain.sbom, &chain.index_sig]));
    let puts = fake
        .requests()
        .iter()
        .filter(|(m, p, _)| m == "PUT" && p.ends_with(&index_tag))
        .count();
    assert_eq!(puts, 2, "one PUT, a lost race, one more PUT");
}
