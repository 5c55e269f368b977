//! registry → registry with go-containerregistry's registry (`crane registry serve`) as the
//! target: the second real registry implementation (scripts/install-peers installs it).
//!
//! Where it differs from distribution 2.8, the difference is asserted, not skipped:
//! - a sparse index is refused with **404** `MANIFEST_UNKNOWN`, naming only the **first** missing
//!   child in document order (distribution: 400 `MANIFEST_BLOB_UNKNOWN`, every missing child);
//! - blobs are registry-wide: a blob pushed to one repository is found in every other one;
//! - crane logs each request as it arrives (stderr), which is what the request counts read.

use crate::fixtures::{self, Image};
use crate::harness::{
    count, mirror_async, mirror_in_async, show, CraneRegistry, Http, Registry, Req,
};
use sparse_mirror::engine::report::Report;

const LAYER: usize = 8 * 1024;

async fn seeded(img: &Image) -> (Registry, CraneRegistry, Http) {
    let src = Registry::start();
    let http = Http::new();
    fixtures::push_image(&http, &src.host(), "team/app", "v1", img).await;
    (src, CraneRegistry::start(), http)
}

fn report(stdout: &str) -> Report {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("report does not decode: {e}\n{stdout}"))
}

/// Requests that write: anything but GET and HEAD.
fn writes(reqs: &[Req]) -> Vec<Req> {
    let w = reqs
        .iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD");
    w.cloned().collect()
}

/// The target holds `img`'s index bytes under `tag` and every listed child, byte for byte.
async fn assert_complete(http: &Http, host: &str, repo: &str, tag: &str, img: &Image) {
    let (status, ct, bytes) = http.get_manifest(host, repo, tag).await;
    assert_eq!((status, ct.as_deref()), (200, Some(fixtures::OCI_INDEX)));
    assert_eq!(&bytes[..], &img.index.bytes[..], "index bytes changed");
    for m in &img.children {
        let (s, ct, b) = http.get_manifest(host, repo, &m.digest).await;
        assert_eq!((s, ct.as_deref()), (200, Some(m.media_type.as_str())));
        assert_eq!(&b[..], &m.bytes[..], "child {} changed", m.digest);
    }
    for b in img.all_blobs() {
        let (s, body) = http.get_blob(host, repo, &b.digest).await;
        assert_eq!(s, 200, "blob {}", b.digest);
        assert_eq!(&body[..], &b.bytes[..], "blob {} changed", b.digest);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn crane_refuses_a_sparse_index_with_404_naming_only_the_first_missing_child() {
    let img = fixtures::multi_arch_oci(LAYER);
    let dst = CraneRegistry::start();
    let http = Http::new();
    let (status, body) = http
        .put_manifest(
            &dst.host(),
            "x/app",
            &img.index.digest,
            fixtures::OCI_INDEX,
            &img.index.bytes,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("MANIFEST_UNKNOWN"), "{body}");
    let first = &img.child("linux/amd64").digest;
    let second = &img.child("linux/arm64/v8").digest;
    assert!(
        body.contains(first.as_str()),
        "names the first child: {body}"
    );
    assert!(
        !body.contains(second.as_str()),
        "names only the first: {body}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn crane_blobs_are_registry_wide() {
    let dst = CraneRegistry::start();
    let http = Http::new();
    let digest = http.push_blob(&dst.host(), "one/app", b"global").await;
    assert_eq!(http.head_blob(&dst.host(), "other/app", &digest).await, 200);
    // distribution links blobs per repository.
    let reg = Registry::start();
    let digest = http.push_blob(&reg.host(), "one/app", b"global").await;
    assert_eq!(http.head_blob(&reg.host(), "other/app", &digest).await, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn full_copy_to_crane_is_byte_identical_and_a_rerun_writes_nothing() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, dst, http) = seeded(&img).await;
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let out = mirror_async(&["copy", &s, &d]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stdout.trim(),
        format!("{}/mirror/app@{}", dst.host(), img.index.digest)
    );
    assert_complete(&http, &dst.host(), "mirror/app", "v1", &img).await;

    let mark = dst.mark();
    let out = mirror_async(&["copy", &s, &d, "-o", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(report(&out.stdout).up_to_date, "{out}");
    let reqs = dst.requests_since(mark);
    assert!(writes(&reqs).is_empty(), "{}", show(&reqs));
    assert_eq!(count(&reqs, "GET", "/blobs/"), 0, "{}", show(&reqs));
}

/// Done-when of issue 14: `-p linux/amd64` selects the first child, the one crane names; the
/// probe settles it, and no request touches a blob.
#[tokio::test(flavor = "multi_thread")]
async fn sparse_copy_to_crane_exits_4_with_no_blob_request() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, dst, http) = seeded(&img).await;
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
    assert!(out.stderr.contains("rejects sparse indexes"), "{out}");
    assert!(out.stderr.contains("no data was moved"), "{out}");
    assert!(out.stderr.contains("MANIFEST_UNKNOWN"), "{out}");
    assert!(
        out.stderr.contains("conclusive"),
        "says why it is sure: {out}"
    );
    assert!(
        out.stderr.contains("linux/arm64"),
        "names a left-out platform: {out}"
    );
    assert!(out.stdout.is_empty(), "{out}");
    let reqs = dst.requests_since(mark);
    let blob_reqs: Vec<&Req> = reqs.iter().filter(|r| r.path.contains("/blobs/")).collect();
    assert!(blob_reqs.is_empty(), "blob requests: {}", show(&reqs));
    // Exactly two PUTs, both by digest: the index, then the probe.
    let puts: Vec<&Req> = reqs.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 2, "{}", show(&reqs));
    assert!(puts[0].path.ends_with(&img.index.digest), "{}", show(&reqs));
    assert!(
        puts[1].path.contains("/manifests/sha256:"),
        "{}",
        show(&reqs)
    );
    assert!(
        !puts[1].path.ends_with(&img.index.digest),
        "{}",
        show(&reqs)
    );
    assert!(puts.iter().all(|r| r.status == 404), "{}", show(&reqs));
    assert_eq!(writes(&reqs).len(), 2, "{}", show(&reqs));
    // Nothing tagged, nothing stored.
    assert!(http.tags(&dst.host(), "mirror/app").await.is_empty());
    let (status, _) = http.head_manifest(&dst.host(), "mirror/app", "v1").await;
    assert_eq!(status, 404);
}

/// Selecting a later platform: crane's first refusal already names the first child, which is
/// left out, so it is conclusive without a probe.
#[tokio::test(flavor = "multi_thread")]
async fn sparse_copy_of_a_later_platform_to_crane_needs_no_probe() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, dst, _http) = seeded(&img).await;
    let mark = dst.mark();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
        "-p",
        "linux/arm64",
    ])
    .await;
    assert_eq!(out.code, 4, "{out}");
    assert!(out.stderr.contains("linux/amd64"), "{out}");
    assert!(!out.stderr.contains("probe"), "{out}");
    let reqs = dst.requests_since(mark);
    assert_eq!(count(&reqs, "PUT", "/manifests/"), 1, "{}", show(&reqs));
    assert!(
        !reqs.iter().any(|r| r.path.contains("/blobs/")),
        "{}",
        show(&reqs)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_reject_full_to_crane_copies_everything_and_keeps_the_digest() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, dst, http) = seeded(&img).await;
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let args = ["copy", &s, &d, "-p", "linux/amd64", "--on-reject", "full"];
    let out = mirror_async(&[&args[..], &["-o", "json"]].concat()).await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    assert_eq!(serde_json::to_value(&r.preflight).unwrap(), "rejected");
    assert_eq!(
        serde_json::to_value(&r.reject_action).unwrap()["action"],
        "full"
    );
    assert_eq!(
        r.pushed_digest.map(|d| d.to_string()),
        Some(img.index.digest.clone())
    );
    assert_complete(&http, &dst.host(), "mirror/app", "v1", &img).await;

    let mark = dst.mark();
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 0, "{out}");
    let reqs = dst.requests_since(mark);
    assert!(writes(&reqs).is_empty(), "rerun wrote: {}", show(&reqs));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_reject_filter_to_crane_pushes_the_filtered_index_and_reruns_are_no_ops() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, dst, http) = seeded(&img).await;
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let args = ["copy", &s, &d, "-p", "linux/amd64", "--on-reject", "filter"];
    let mark = dst.mark();
    let out = mirror_async(&[&args[..], &["-o", "json"]].concat()).await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    assert_eq!(serde_json::to_value(&r.preflight).unwrap(), "rejected");
    let filtered = serde_json::to_value(&r.reject_action).unwrap();
    assert_eq!(filtered["action"], "filtered", "{out}");
    let f = filtered["digest"].as_str().unwrap().to_string();
    assert_ne!(f, img.index.digest);
    assert!(
        out.stderr.contains("signatures over the original index"),
        "{out}"
    );

    // The tag names F; F lists the amd64 image and its attestation, both present.
    let (status, _, bytes) = http.get_manifest(&dst.host(), "mirror/app", "v1").await;
    assert_eq!(status, 200);
    assert_eq!(crate::harness::sha256(&bytes), f);
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let listed: Vec<&str> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    let amd = img.child("linux/amd64");
    let att = img.attestation_for(&amd.digest);
    assert_eq!(listed, [amd.digest.as_str(), att.digest.as_str()]);
    for m in [amd, att] {
        let (s, _, b) = http
            .get_manifest(&dst.host(), "mirror/app", &m.digest)
            .await;
        assert_eq!((s, &b[..]), (200, &m.bytes[..]));
    }
    let arm = img.child("linux/arm64/v8");
    let (s, _) = http
        .head_manifest(&dst.host(), "mirror/app", &arm.digest)
        .await;
    assert_eq!(s, 404, "an unselected child was copied");
    // Only the blobs of the amd64 image and its attestation were looked at and uploaded.
    let reqs = dst.requests_since(mark);
    let uploads = count(&reqs, "PUT", "/blobs/uploads") + count(&reqs, "POST", "/blobs/uploads");
    assert!(uploads > 0, "{}", show(&reqs));
    let wanted: Vec<&str> = [amd, att]
        .iter()
        .flat_map(|m| m.blobs.iter().map(|b| b.digest.as_str()))
        .collect();
    for r in reqs.iter().filter(|r| r.path.contains("/blobs/sha256:")) {
        let d = r.path.rsplit('/').next().unwrap();
        assert!(
            wanted.contains(&d),
            "{r} is not an amd64 blob: {}",
            show(&reqs)
        );
    }
    assert!(!reqs.iter().any(|r| r.path.contains(&arm.config().digest)));

    let mark = dst.mark();
    let out = mirror_async(&[&args[..], &["-o", "json"]].concat()).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(report(&out.stdout).up_to_date, "{out}");
    let reqs = dst.requests_since(mark);
    assert!(writes(&reqs).is_empty(), "rerun wrote: {}", show(&reqs));
}

/// `mirror sync` to crane: one item refused (default `fail`), one filtered; the rerun writes
/// nothing and no blob moved for the refused item.
#[tokio::test(flavor = "multi_thread")]
async fn sync_to_crane_applies_on_reject_per_item_and_reruns_write_nothing() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, dst, http) = seeded(&img).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = format!(
        "defaults:\n  platforms: [linux/amd64]\nimages:\n  - source: {s}/team/app\n    target: {d}/mirror/strict\n    tags: [v1]\n  - source: {s}/team/app\n    target: {d}/mirror/filtered\n    on-reject: filter\n    tags: [v1]\n",
        s = src.host(),
        d = dst.host()
    );
    std::fs::write(work.path().join("mirror.yaml"), cfg).unwrap();
    let cache = work.path().join("cache");
    let args = [
        "sync",
        "-f",
        "mirror.yaml",
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let out = mirror_in_async(work.path(), &args, &[]).await;
    assert_ne!(out.code, 0, "the strict item is refused: {out}");
    assert!(out.stderr.contains("rejects sparse indexes"), "{out}");
    let reqs = dst.requests();
    assert!(
        !reqs
            .iter()
            .any(|r| r.path.starts_with("/v2/mirror/strict/blobs/")),
        "a blob moved for the refused item: {}",
        show(&reqs)
    );
    assert!(http.tags(&dst.host(), "mirror/strict").await.is_empty());
    let (status, _, bytes) = http
        .get_manifest(&dst.host(), "mirror/filtered", "v1")
        .await;
    assert_eq!(status, 200);
    assert_ne!(crate::harness::sha256(&bytes), img.index.digest);

    let mark = dst.mark();
    let again = mirror_in_async(work.path(), &args, &[]).await;
    assert_eq!(again.code, out.code, "{again}");
    let reqs = dst.requests_since(mark);
    let w = writes(&reqs);
    assert!(
        w.iter().all(|r| r.path.starts_with("/v2/mirror/strict/")),
        "the filtered item was written again: {}",
        show(&reqs)
    );
    assert!(
        !reqs.iter().any(|r| r.path.contains("/blobs/uploads")),
        "{}",
        show(&reqs)
    );
}
