//! One image, one truth (issue 13): copy, verify and sync report the same target state and the
//! digest the tag really resolves to, against distribution 2.8 (which refuses sparse indexes, so
//! `--on-reject filter` pushes a filtered index F). Request counts come from the access log.

use crate::fixtures::{self, Image};
use crate::harness::{count, mirror_async, mirror_in_async, show, Http, Output, Registry, Req};
use serde_json::Value;

const LAYER: usize = 4 * 1024;

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Manifest requests on the target: (GETs, HEADs).
fn manifest_reads(reqs: &[Req]) -> (usize, usize) {
    (
        count(reqs, "GET", "/manifests/"),
        count(reqs, "HEAD", "/manifests/"),
    )
}

fn no_writes(reqs: &[Req]) {
    for m in ["PUT", "POST", "PATCH", "DELETE"] {
        assert_eq!(count(reqs, m, ""), 0, "target {m}: {}", show(reqs));
    }
}

/// A source with the 6-platform fixture as team/app:v1, an empty target, and the first copy
/// of `-p linux/amd64 --on-reject filter`: returns the registries, the image and F.
async fn filtered_mirror() -> (Registry, Registry, Image, String) {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = Registry::start();
    let http = Http::new();
    fixtures::push_image(&http, &src.host(), "team/app", "v1", &img).await;
    let dst = Registry::start();
    let first = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/mirror/app:v1", dst.host()),
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(first.code, 0, "{first}");
    let f = json(&first)["pushed_digest"]
        .as_str()
        .unwrap_or_else(|| panic!("no pushed_digest: {first}"))
        .to_string();
    assert_ne!(
        f, img.index.digest,
        "2.8 refuses the sparse index: F differs"
    );
    assert_eq!(
        dst.tag_target("mirror/app", "v1").as_deref(),
        Some(f.as_str())
    );
    (src, dst, img, f)
}

/// Symptom 1: the rerun of a `--on-reject filter` copy printed the source digest (which answers
/// 404 on the target) and reported it as pushed_digest with sparse: false.
#[tokio::test(flavor = "multi_thread")]
async fn copy_rerun_after_filter_names_the_filtered_digest() {
    let (src, dst, img, f) = filtered_mirror().await;
    let args = |json: bool| {
        let mut a = vec![
            "copy".to_string(),
            format!("{}/team/app:v1", src.host()),
            format!("{}/mirror/app:v1", dst.host()),
            "-p".into(),
            "linux/amd64".into(),
            "--on-reject".into(),
            "filter".into(),
        ];
        if json {
            a.extend(["-o".to_string(), "json".to_string()]);
        }
        a
    };
    let human_args = args(false);
    let human = mirror_async(&human_args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(human.code, 0, "{human}");
    assert_eq!(
        human.stdout.trim(),
        format!("{}/mirror/app@{f}", dst.host()),
        "stdout names what the tag resolves to: {human}"
    );
    assert!(human.stderr.contains("up to date"), "{human}");

    let mark = dst.mark();
    let json_args = args(true);
    let rerun = mirror_async(&json_args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(rerun.code, 0, "{rerun}");
    let r = json(&rerun);
    assert_eq!(r["pushed_digest"], f.as_str(), "{rerun}");
    assert_eq!(r["source_digest"], img.index.digest.as_str(), "{rerun}");
    assert_eq!(r["up_to_date"], true, "{rerun}");
    assert_eq!(r["sparse"], false, "F is complete: {rerun}");
    assert_eq!(
        r["target_state"],
        serde_json::json!({
            "state": "filtered",
            "source_digest": img.index.digest,
            "filtered_digest": f,
        }),
        "{rerun}"
    );
    // Reading the state: the tag (HEAD), no index GET (F is recognised by its digest), and one
    // HEAD per selected child (linux/amd64 and its attestation).
    let reqs = dst.requests_since(mark);
    no_writes(&reqs);
    let (gets, heads) = manifest_reads(&reqs);
    assert!(gets <= 1, "{gets} manifest GETs: {}", show(&reqs));
    assert!(heads <= 1 + 2, "{heads} manifest HEADs: {}", show(&reqs));
    eprintln!("filtered no-op copy: target manifest GETs {gets}, HEADs {heads}");
}

/// The no-op read cost: a complete mirror of all six platforms (12 children) is checked with at
/// most one index GET and one HEAD per selected child (it used to GET all 13 manifests).
#[tokio::test(flavor = "multi_thread")]
async fn noop_copy_reads_one_index_and_heads_each_selected_child() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = Registry::start();
    let http = Http::new();
    fixtures::push_image(&http, &src.host(), "team/app", "v1", &img).await;
    let dst = Registry::start();
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let first = mirror_async(&["copy", &s, &d]).await;
    assert_eq!(first.code, 0, "{first}");
    let (smark, dmark) = (src.mark(), dst.mark());
    let again = mirror_async(&["copy", &s, &d, "-o", "json"]).await;
    assert_eq!(again.code, 0, "{again}");
    let r = json(&again);
    assert_eq!(r["up_to_date"], true, "{again}");
    assert_eq!(r["pushed_digest"], img.index.digest.as_str());
    assert_eq!(r["target_state"]["state"], "current", "{again}");
    let (sreqs, dreqs) = (src.requests_since(smark), dst.requests_since(dmark));
    no_writes(&dreqs);
    let (gets, heads) = manifest_reads(&dreqs);
    let children = img.children.len();
    assert!(gets <= 1, "{gets} manifest GETs: {}", show(&dreqs));
    assert!(
        heads <= 1 + children,
        "{heads} manifest HEADs: {}",
        show(&dreqs)
    );
    assert_eq!(count(&dreqs, "GET", "/blobs/"), 0, "{}", show(&dreqs));
    assert_eq!(count(&dreqs, "HEAD", "/blobs/"), 0, "{}", show(&dreqs));
    // The source: one HEAD, no GET (a GET is a pull on Docker Hub).
    assert_eq!(count(&sreqs, "GET", "/manifests/"), 0, "{}", show(&sreqs));
    eprintln!("no-op copy of {children} children: target manifest GETs {gets}, HEADs {heads}");
}

/// Symptom 2: verify called the filtered mirror "incomplete: wrong-digest F" (exit 7). With the
/// same selection and `--on-reject filter` it is complete and says so, naming both digests.
#[tokio::test(flavor = "multi_thread")]
async fn verify_accepts_a_filtered_mirror_made_on_purpose() {
    let (src, dst, img, f) = filtered_mirror().await;
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let ok = mirror_async(&[
        "verify",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
    ])
    .await;
    assert_eq!(ok.code, 0, "{ok}");
    let all = format!("{}{}", ok.stdout, ok.stderr);
    assert!(all.contains("filtered"), "names the filtered state: {ok}");
    assert!(
        all.contains(&f) && all.contains(&img.index.digest),
        "names both digests: {ok}"
    );
    let j = mirror_async(&[
        "verify",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(j.code, 0, "{j}");
    let item: Value = serde_json::from_str(j.stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {j}"));
    assert_eq!(item["action"], "complete", "{j}");
    assert_eq!(item["target_state"]["state"], "filtered", "{j}");
    assert_eq!(item["target_state"]["filtered_digest"], f.as_str(), "{j}");

    // Without --on-reject filter the filtered index is not what was asked for: incomplete, and
    // the message says what the target holds.
    let strict = mirror_async(&["verify", &s, &d, "-p", "linux/amd64"]).await;
    assert_eq!(strict.code, 7, "{strict}");
    assert!(
        strict.stderr.contains("--on-reject filter") && strict.stderr.contains(&f),
        "{strict}"
    );
}

/// Symptom 3: sync's rerun warned "holds a filtered index sha256:<src> instead of
/// sha256:<src>". It names F and the source digest, and the rerun writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn sync_rerun_names_the_filtered_and_the_source_digest() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = Registry::start();
    let http = Http::new();
    fixtures::push_image(&http, &src.host(), "team/app", "v1", &img).await;
    let dst = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "images:\n  - source: {}/team/app\n    target: {}/mirror/app\n    tags: [v1]\n    platforms: [linux/amd64]\n    on-reject: filter\n",
        src.host(),
        dst.host()
    );
    std::fs::write(dir.path().join("mirror.yaml"), cfg).unwrap();
    let cache = dir.path().join("cache");
    let args = [
        "sync",
        "-f",
        "mirror.yaml",
        "--cache-dir",
        cache.to_str().unwrap(),
        "-o",
        "json",
    ];
    let first = mirror_in_async(dir.path(), &args, &[]).await;
    assert_eq!(first.code, 0, "{first}");
    let f = dst
        .tag_target("mirror/app", "v1")
        .unwrap_or_else(|| panic!("no tag: {first}"));
    assert_ne!(f, img.index.digest);

    let mark = dst.mark();
    let rerun = mirror_in_async(dir.path(), &args, &[]).await;
    assert_eq!(rerun.code, 0, "{rerun}");
    let item: Value = serde_json::from_str(rerun.stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {rerun}"));
    assert_eq!(item["action"], "skipped-unchanged", "{rerun}");
    assert_eq!(item["target_digest"], f.as_str(), "{rerun}");
    assert_eq!(item["target_state"]["state"], "filtered", "{rerun}");
    let warning = item["warnings"]
        .as_array()
        .and_then(|w| {
            w.iter()
                .find_map(|w| w.as_str().filter(|w| w.contains("filtered")))
        })
        .unwrap_or_else(|| panic!("no filtered-index warning: {rerun}"));
    assert!(
        warning.contains(&f) && warning.contains(&img.index.digest),
        "names F and the source digest: {warning}"
    );
    assert_eq!(
        warning.matches(img.index.digest.as_str()).count(),
        1,
        "the source digest once: {warning}"
    );
    let reqs = dst.requests_since(mark);
    no_writes(&reqs);
    let (gets, heads) = manifest_reads(&reqs);
    assert!(gets <= 1, "{gets} manifest GETs: {}", show(&reqs));
    assert!(heads <= 1 + 2, "{heads} manifest HEADs: {}", show(&reqs));
    eprintln!("filtered no-op sync: target manifest GETs {gets}, HEADs {heads}");
}
