//! registry → registry against real distribution 2.8 processes (which reject sparse indexes).

use crate::fixtures::{self, Image};
use crate::harness::{count, mirror_async, show, Http, Registry};
use sparse_mirror::engine::report::Report;

const LAYER: usize = 8 * 1024;

async fn seeded(img: &Image, repo: &str) -> (Registry, Http) {
    let src = Registry::start();
    let http = Http::new();
    fixtures::push_image(&http, &src.host(), repo, "v1", img).await;
    (src, http)
}

fn report(stdout: &str) -> Report {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("report does not decode: {e}\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn full_copy_is_byte_identical_and_prints_digest() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img, "team/app").await;
    let dst = Registry::start();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stdout.trim(),
        format!("{}/mirror/app@{}", dst.host(), img.index.digest),
        "{out}"
    );
    let (status, ct, bytes) = http.get_manifest(&dst.host(), "mirror/app", "v1").await;
    assert_eq!(status, 200);
    assert_eq!(ct.as_deref(), Some(fixtures::OCI_INDEX));
    assert_eq!(&bytes[..], &img.index.bytes[..], "index bytes changed");
    for m in &img.children {
        let (s, ct, b) = http
            .get_manifest(&dst.host(), "mirror/app", &m.digest)
            .await;
        assert_eq!((s, ct.as_deref()), (200, Some(m.media_type.as_str())));
        assert_eq!(&b[..], &m.bytes[..], "child {} changed", m.digest);
    }
    for b in img.all_blobs() {
        assert!(
            dst.blob_uploaded("mirror/app", &b.digest),
            "blob {} missing",
            b.digest
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sparse_copy_to_strict_registry_fails_before_any_blob_moves() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img, "team/app").await;
    let dst = Registry::start();
    let mark = dst.mark();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
        "--platform",
        "linux/amd64,linux/arm64",
    ])
    .await;
    assert_eq!(out.code, 4, "{out}");
    assert!(out.stderr.contains("rejects sparse indexes"), "{out}");
    assert!(out.stderr.contains("MANIFEST_BLOB_UNKNOWN"), "{out}");
    assert!(out.stderr.contains("no data was moved"), "{out}");
    assert!(
        out.stderr.contains("linux/s390x"),
        "names the platforms left out: {out}"
    );
    assert!(
        out.stderr.contains("--on-reject full"),
        "hints at the policies: {out}"
    );
    assert!(out.stdout.is_empty(), "{out}");
    assert_eq!(
        dst.any_layer_links("mirror/app"),
        0,
        "a blob moved before the rejection"
    );
    assert!(!dst.tag_exists("mirror/app", "v1"));
    let reqs = dst.requests_since(mark);
    assert_eq!(count(&reqs, "POST", "/blobs/uploads"), 0, "{}", show(&reqs));
    assert_eq!(
        http.head_manifest(&dst.host(), "mirror/app", "v1").await.0,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_reject_full_copies_everything_and_keeps_the_digest() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img, "team/app").await;
    let dst = Registry::start();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
        "--platform=linux/amd64",
        "--on-reject=full",
        "--output=json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    assert_eq!(
        r.pushed_digest.as_ref().map(|d| d.to_string()),
        Some(img.index.digest.clone())
    );
    assert_eq!(
        serde_json::to_value(&r.reject_action).unwrap()["action"],
        "full"
    );
    assert!(!r.sparse);
    let (_, _, bytes) = http.get_manifest(&dst.host(), "mirror/app", "v1").await;
    assert_eq!(&bytes[..], &img.index.bytes[..]);
    for m in &img.children {
        assert_eq!(
            http.head_manifest(&dst.host(), "mirror/app", &m.digest)
                .await
                .0,
            200
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn on_reject_filter_pushes_a_smaller_index_and_warns() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img, "team/app").await;
    let dst = Registry::start();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
        "-p",
        "linux/amd64",
        "-p",
        "linux/arm64",
        "--on-reject",
        "filter",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("signatures over the original index will not verify"),
        "{out}"
    );
    let (_, _, bytes) = http.get_manifest(&dst.host(), "mirror/app", "v1").await;
    assert_ne!(&bytes[..], &img.index.bytes[..]);
    let new_digest = crate::harness::sha256(&bytes);
    assert!(
        out.stdout.contains(&new_digest),
        "stdout names the new digest: {out}"
    );
    assert!(
        out.stderr.contains(&img.index.digest),
        "stderr names the old digest too: {out}"
    );
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let listed: Vec<&str> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    let amd = &img.child("linux/amd64").digest;
    let arm = &img.child("linux/arm64/v8").digest;
    let mut want = vec![
        amd.as_str(),
        arm.as_str(),
        img.attestation_for(amd).digest.as_str(),
        img.attestation_for(arm).digest.as_str(),
    ];
    want.sort();
    let mut got = listed.clone();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(
        v["annotations"],
        serde_json::from_slice::<serde_json::Value>(&img.index.bytes).unwrap()["annotations"],
        "annotations kept"
    );
    assert_eq!(
        http.head_manifest(&dst.host(), "mirror/app", &img.child("linux/s390x").digest)
            .await
            .0,
        404
    );
    // A rerun recognises its own filtered index: no preflight, no PUT at all.
    let mark = dst.mark();
    let again = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
        "-p",
        "linux/amd64,linux/arm64",
        "--on-reject=filter",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(again.code, 0, "{again}");
    assert!(report(&again.stdout).up_to_date, "{again}");
    let reqs = dst.requests_since(mark);
    assert_eq!(count(&reqs, "PUT", ""), 0, "{}", show(&reqs));
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_of_up_to_date_copy_writes_nothing() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img, "team/app").await;
    let dst = Registry::start();
    let args = [
        "copy".to_string(),
        format!("{}/team/app:v1", src.host()),
        format!("{}/mirror/app:v1", dst.host()),
        "-o".into(),
        "json".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = mirror_async(&args).await;
    assert_eq!(first.code, 0, "{first}");
    assert!(!report(&first.stdout).up_to_date);
    let (smark, dmark) = (src.mark(), dst.mark());
    let second = mirror_async(&args).await;
    assert_eq!(second.code, 0, "{second}");
    let r = report(&second.stdout);
    assert!(r.up_to_date, "{second}");
    assert_eq!(r.manifests_pushed, 0);
    let (sreqs, dreqs) = (src.requests_since(smark), dst.requests_since(dmark));
    for m in ["PUT", "POST", "PATCH", "DELETE"] {
        assert_eq!(count(&dreqs, m, ""), 0, "target {m}: {}", show(&dreqs));
    }
    assert_eq!(
        count(&sreqs, "GET", "/blobs/"),
        0,
        "source blob GETs: {}",
        show(&sreqs)
    );
    assert_eq!(count(&dreqs, "GET", "/blobs/"), 0, "{}", show(&dreqs));
    // The source is asked one HEAD and nothing else (a GET would count as a Docker Hub pull).
    assert_eq!(
        count(&sreqs, "HEAD", "/manifests/v1"),
        1,
        "{}",
        show(&sreqs)
    );
    assert_eq!(
        count(&sreqs, "GET", "/manifests/"),
        0,
        "source manifest GETs: {}",
        show(&sreqs)
    );
    // The target: one HEAD for the tag, one GET of the index (by digest), and one HEAD per
    // selected child (engine/image/state.rs); the children are not read.
    assert_eq!(
        count(&dreqs, "HEAD", "/manifests/"),
        1 + img.children.len(),
        "{}",
        show(&dreqs)
    );
    assert_eq!(
        count(&dreqs, "GET", "/manifests/sha256:"),
        1,
        "{}",
        show(&dreqs)
    );
    assert_eq!(count(&dreqs, "HEAD", "/blobs/"), 0, "{}", show(&dreqs));
}

#[tokio::test(flavor = "multi_thread")]
async fn rerun_repairs_a_missing_child_without_touching_the_index() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, http) = seeded(&img, "team/app").await;
    let dst = Registry::start();
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    assert_eq!(mirror_async(&["copy", &s, &d]).await.code, 0);
    let victim = &img.child("linux/ppc64le").digest;
    assert_eq!(
        http.delete_manifest(&dst.host(), "mirror/app", victim)
            .await,
        202
    );
    let mark = dst.mark();
    let out = mirror_async(&["copy", &s, &d, "-o", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    assert_eq!(
        r.repaired.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        vec![victim.clone()]
    );
    let reqs = dst.requests_since(mark);
    let puts: Vec<_> = reqs
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/manifests/"))
        .collect();
    assert_eq!(puts.len(), 1, "{}", show(&reqs));
    assert!(puts[0].path.ends_with(victim.as_str()), "{}", show(&reqs));
    assert_eq!(
        http.head_manifest(&dst.host(), "mirror/app", victim)
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_list_and_nested_index_copy_byte_for_byte() {
    for (img, repo) in [
        (fixtures::docker_list(LAYER), "dl"),
        (fixtures::nested_index(LAYER), "nested"),
    ] {
        let (src, http) = seeded(&img, repo).await;
        let dst = Registry::start();
        let out = mirror_async(&[
            "copy",
            &format!("{}/{repo}:v1", src.host()),
            &format!("{}/{repo}:v2", dst.host()),
        ])
        .await;
        assert_eq!(out.code, 0, "{out}");
        let (_, ct, bytes) = http.get_manifest(&dst.host(), repo, "v2").await;
        assert_eq!(ct.as_deref(), Some(img.index.media_type.as_str()));
        assert_eq!(&bytes[..], &img.index.bytes[..]);
        for m in img.all_manifests() {
            let (s, _, b) = http.get_manifest(&dst.host(), repo, &m.digest).await;
            assert_eq!(s, 200, "{repo}: {} missing", m.digest);
            assert_eq!(&b[..], &m.bytes[..]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_writes_nothing_and_shows_reasons() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img, "team/app").await;
    let dst = Registry::start();
    let mark = dst.mark();
    let out = mirror_async(&[
        "copy",
        "--dry-run",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
        "--platform",
        "linux/arm64",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("matches --platform linux/arm64"),
        "{out}"
    );
    assert!(out.stdout.contains("attestation of selected"), "{out}");
    assert!(out.stdout.contains("platform not selected"), "{out}");
    assert!(out.stdout.contains("SPARSE"), "{out}");
    assert!(
        out.stdout.contains("the filter leaves out"),
        "sizes of skipped platforms: {out}"
    );
    assert!(out.stdout.contains("already on the target"), "{out}");
    let reqs = dst.requests_since(mark);
    assert!(
        reqs.iter()
            .all(|r| r.method == "HEAD" || (r.method == "GET" && r.path == "/v2/")),
        "dry run may only HEAD the target: {}",
        show(&reqs)
    );
    assert!(
        count(&reqs, "HEAD", "/blobs/") > 0,
        "it checked what is present: {}",
        show(&reqs)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_that_selects_nothing_exits_3_and_lists_platforms() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img, "team/app").await;
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        "oci:/nonexistent/never",
        "--platform",
        "linux/mips64le",
    ])
    .await;
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("selected nothing"), "{out}");
    for p in [
        "linux/amd64",
        "linux/s390x",
        "windows/amd64:10.0.17763.5936",
    ] {
        assert!(out.stderr.contains(p), "lists {p}: {out}");
    }
    assert!(!std::path::Path::new("/nonexistent/never").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn unmatched_literal_warns_or_fails_with_require_platforms() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img, "team/app").await;
    let dir = tempfile::tempdir().unwrap();
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("oci:{}:v1", dir.path().display());
    let out = mirror_async(&[
        "copy",
        "--dry-run",
        &s,
        &d,
        "-p",
        "linux/amd64,linux/riscv64",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("warning: --platform linux/riscv64 matched nothing"),
        "{out}"
    );
    let out = mirror_async(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64,linux/riscv64",
        "--require-platforms",
    ])
    .await;
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("linux/riscv64"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn single_manifest_source_checks_its_config_platform() {
    let img = fixtures::single_manifest(LAYER);
    let (src, http) = seeded(&img, "one").await;
    let dst = Registry::start();
    let s = format!("{}/one:v1", src.host());
    let d = format!("{}/one:v1", dst.host());
    let out = mirror_async(&["copy", &s, &d, "--platform", "linux/arm64"]).await;
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("linux/amd64"), "{out}");
    let out = mirror_async(&["copy", &s, &d, "--platform", "linux/amd64"]).await;
    assert_eq!(out.code, 0, "{out}");
    let (_, _, bytes) = http.get_manifest(&dst.host(), "one", "v1").await;
    assert_eq!(&bytes[..], &img.index.bytes[..]);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_report_has_decisions_reasons_and_blob_counts() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img, "team/app").await;
    let dir = tempfile::tempdir().unwrap();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("oci:{}:v1", dir.path().display()),
        "--platform",
        "linux/amd64",
        "--output",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    assert_eq!(r.schema, 1);
    assert!(r.sparse);
    assert_eq!(r.source_digest.to_string(), img.index.digest);
    assert_eq!(r.entries.len(), img.children.len());
    let amd = &img.child("linux/amd64").digest;
    let by_digest = |d: &str| {
        r.entries
            .iter()
            .find(|e| e.digest.to_string() == d)
            .unwrap()
    };
    let amd_entry = serde_json::to_value(by_digest(amd)).unwrap();
    assert_eq!(amd_entry["decision"], "copy");
    assert_eq!(amd_entry["reason"]["kind"], "platform-match");
    let att = serde_json::to_value(by_digest(&img.attestation_for(amd).digest)).unwrap();
    assert_eq!(att["reason"]["kind"], "attestation-of");
    assert_eq!(att["reason"]["subject"], amd.as_str());
    let s390 = serde_json::to_value(by_digest(&img.child("linux/s390x").digest)).unwrap();
    assert_eq!(s390["decision"], "skip");
    // config + shared layer + own layer for amd64; config + in-toto layer for its attestation.
    assert_eq!(r.blobs.copied, 5);
    assert_eq!(r.blobs.copied_bytes, r.planned_bytes);
}

/// A cold copy asks the target for each blob with the POST that opens its upload (a mount
/// from the target repository itself: 202 = absent, session open), so each blob costs the
/// target one POST and one PUT and no HEAD, once the registry has shown that it answers such a
/// mount with 201 for a blob that is there (checked once, after the first upload). A blob the
/// repository already has answers 201 and is not uploaded again. An update of an existing tag
/// HEADs instead.
#[tokio::test(flavor = "multi_thread")]
async fn cold_copy_asks_for_blobs_with_the_upload_post() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img, "team/app").await;
    let dst = Registry::start();
    let n = img.all_blobs().len();
    let from_self = |r: &&crate::harness::Req| {
        r.method == "POST" && r.query.contains("mount=sha256:") && r.query.ends_with("from=m/app")
    };
    let mark = dst.mark();
    let s = format!("{}/team/app:v1", src.host());
    let one_job = ["--jobs", "1"];
    let out = mirror_async(
        &[
            &["copy", &s, &format!("{}/m/app:v1", dst.host())][..],
            &one_job,
        ]
        .concat(),
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let reqs = dst.requests_since(mark);
    // The first blob: HEAD 404, POST, PUT, then the check: a mount of it from m/app → 201.
    assert_eq!(count(&reqs, "HEAD", "/blobs/"), 1, "{}", show(&reqs));
    let probes: Vec<_> = reqs.iter().filter(from_self).collect();
    assert_eq!(probes.len(), n, "{}", show(&reqs));
    assert_eq!(probes[0].status, 201, "{}", show(&reqs));
    assert!(
        probes[1..].iter().all(|r| r.status == 202),
        "{}",
        show(&reqs)
    );
    assert_eq!(
        count(&reqs, "POST", "/blobs/uploads/"),
        n + 1,
        "{}",
        show(&reqs)
    );
    assert_eq!(count(&reqs, "PUT", "/blobs/uploads/"), n, "{}", show(&reqs));
    assert_eq!(
        count(&reqs, "DELETE", ""),
        0,
        "no session left to cancel: {}",
        show(&reqs)
    );

    // The same image under a new tag of the same repository: the first blob is found with HEAD
    // (and checked with a mount), every other one answers the probe with 201; nothing uploaded.
    let mark = dst.mark();
    let out = mirror_async(
        &[
            &["copy", &s, &format!("{}/m/app:v2", dst.host())][..],
            &one_job,
        ]
        .concat(),
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let reqs = dst.requests_since(mark);
    assert_eq!(count(&reqs, "HEAD", "/blobs/"), 1, "{}", show(&reqs));
    let probes: Vec<_> = reqs.iter().filter(from_self).collect();
    assert_eq!(probes.len(), n, "{}", show(&reqs));
    assert!(probes.iter().all(|r| r.status == 201), "{}", show(&reqs));
    assert_eq!(count(&reqs, "PUT", "/blobs/"), 0, "{}", show(&reqs));

    // An existing tag that names another image: blobs are probed with HEAD (read-only).
    let other = fixtures::single_manifest(LAYER);
    let (osrc, _h) = seeded(&other, "team/other").await;
    let mark = dst.mark();
    let os = format!("{}/team/other:v1", osrc.host());
    let out = mirror_async(&["copy", &os, &format!("{}/m/app:v1", dst.host())]).await;
    assert_eq!(out.code, 0, "{out}");
    let reqs = dst.requests_since(mark);
    assert!(count(&reqs, "HEAD", "/blobs/") > 0, "{}", show(&reqs));
    assert!(
        reqs.iter().filter(from_self).all(|r| r.status == 201),
        "{}",
        show(&reqs)
    );
}
