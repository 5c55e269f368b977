//! Issue 24: blobs of 32 MiB or more are fetched as parallel byte ranges (`--range-streams`),
//! fed in order into an upload or written at their offsets into a layout, verified over the
//! whole blob; sources that do not answer ranges get one stream; largest blobs first; the rate
//! cap (`--limit-rate`). Real distribution 2.8 and crane registries; the fault proxy in front of
//! distribution for the sources no installable registry imitates (200, 416, another range,
//! ranges broken off); an in-test registry for redirected, expiring blob URLs (ranges_redirect.rs).

use serde_json::Value;

use crate::fault_proxy::{Fault, FaultConfig, FaultProxy, RangeMode, Rule};
use crate::fixtures::{self, Image};
use crate::harness::{mirror_async, sha256, CraneRegistry, Http, Output, Registry};

/// Above the 32 MiB threshold: 19 ranges of 1.75 MiB (the default chunk: the 28 MiB window's
/// half share for each of 8 streams), the last one short.
pub const BIG: usize = 33 * 1024 * 1024 + 12_345;

/// The default chunk: half of the default 28 MiB window's share for each of 8 streams
/// (`RangeBudget::new`).
pub const CHUNK: u64 = 28 * 1024 * 1024 / 16;

/// One large layer and one small one.
pub fn big_image() -> Image {
    fixtures::layered("ranges", &[BIG, 4096])
}

/// The large layer's digest.
pub fn big_digest(img: &Image) -> String {
    img.index.layers()[0].digest.clone()
}

/// The `blobs.large` records of a copy's JSON report.
pub fn large_records(out: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("JSON report: {e}\n{out}"));
    v["blobs"]["large"].as_array().cloned().unwrap_or_default()
}

/// Every blob of `img` in `repo` on `host` is byte-identical.
pub async fn assert_blobs(host: &str, repo: &str, img: &Image) {
    let http = Http::new();
    for b in img.all_blobs() {
        let (status, body) = http.get_blob(host, repo, &b.digest).await;
        assert_eq!(status, 200, "{}", b.digest);
        assert!(body[..] == b.bytes[..], "blob {} differs", b.digest);
    }
}

fn assert_layout(dir: &std::path::Path, img: &Image) {
    for b in img.all_blobs() {
        let got = std::fs::read(fixtures::layout_blob(dir, &b.digest)).unwrap();
        assert_eq!(sha256(&got), b.digest, "layout blob {}", b.digest);
    }
    let tmp: Vec<_> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "temp files left: {tmp:?}");
}

/// `mirror copy -o json -v SRC DST EXTRA…`. On loopback every source is near: the probe is
/// answered in well under 20 ms, so ranges are off unless `--range-min-rtt 0` (hidden, for tests
/// and benchmarks) says to use them anyway.
async fn copy_json(src: &str, dst: &str, extra: &[&str]) -> Output {
    let mut args = vec!["copy", "-o", "json", "-v", src, dst];
    args.extend_from_slice(extra);
    mirror_async(&args).await
}

/// Ranges whatever the round-trip time.
const ALWAYS: &[&str] = &["--range-min-rtt", "0"];

/// Distribution 2.8 answers `Range` on blob GETs with 206 and an exact `Content-Range`
/// (docs/registries.md §Range requests on blobs): the large layer comes as ranges, into a
/// registry (in order through the reorder window) and into a layout (written at offsets),
/// byte-identical.
#[tokio::test(flavor = "multi_thread")]
async fn ranges_from_distribution_into_a_registry_and_a_layout_are_byte_identical() {
    let img = big_image();
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", &img).await;
    let dst = Registry::start();
    let from = format!("{}/team/app:v1", src.host());
    let mark = src.mark();
    let out = copy_json(&from, &format!("{}/m/app:v1", dst.host()), ALWAYS).await;
    assert_eq!(out.code, 0, "{out}");
    let large = large_records(&out);
    assert_eq!(large.len(), 1, "{large:?}");
    assert_eq!(large[0]["digest"], big_digest(&img));
    assert_eq!(large[0]["fetched"], "ranges", "{large:?}");
    assert_eq!(large[0]["streams"], 8);
    assert_blobs(&dst.host(), "m/app", &img).await;
    // One ranged GET per chunk of the large layer, all answered 206.
    let big_path = format!("/blobs/{}", big_digest(&img));
    let gets: Vec<_> = src
        .requests_since(mark)
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains(&big_path))
        .collect();
    assert_eq!(gets.len() as u64, (BIG as u64).div_ceil(CHUNK), "{gets:?}");
    assert!(gets.iter().all(|r| r.status == 206), "{gets:?}");

    let dir = tempfile::tempdir().unwrap();
    let out = copy_json(&from, &format!("oci:{}:v1", dir.path().display()), ALWAYS).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(large_records(&out)[0]["fetched"], "ranges", "{out}");
    assert_layout(dir.path(), &img);

    // By default a source that answers the probe within 20 ms is near: one stream.
    let out = copy_json(&from, &format!("{}/n/app:v1", dst.host()), &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let large = large_records(&out);
    assert_eq!(
        (&large[0]["fetched"], &large[0]["reason"]),
        (&Value::from("single"), &Value::from("near")),
        "{large:?}"
    );
    assert_blobs(&dst.host(), "n/app", &img).await;
}

/// crane's registry (go-containerregistry) answers ranges too; `--range-streams 1` turns them
/// off and the report says so.
#[tokio::test(flavor = "multi_thread")]
async fn ranges_from_crane_registry_and_range_streams_1() {
    let img = big_image();
    let src = CraneRegistry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", &img).await;
    let dst = Registry::start();
    let from = format!("{}/team/app:v1", src.host());
    let out = copy_json(&from, &format!("{}/c/app:v1", dst.host()), ALWAYS).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(large_records(&out)[0]["fetched"], "ranges", "{out}");
    assert_blobs(&dst.host(), "c/app", &img).await;

    let dir = tempfile::tempdir().unwrap();
    let to = format!("oci:{}:v1", dir.path().display());
    let out = copy_json(&from, &to, &["--range-streams", "1"]).await;
    assert_eq!(out.code, 0, "{out}");
    let large = large_records(&out);
    assert_eq!(large[0]["fetched"], "single", "{large:?}");
    assert_eq!(large[0]["reason"], "disabled", "{large:?}");
    assert_layout(dir.path(), &img);
}

/// Sources that do not answer the probe with the matching 206: each copy completes with the
/// right digest as one stream, the report names the reason, `-v` says so once, and no other
/// ranged request is made to that host.
#[tokio::test(flavor = "multi_thread")]
async fn sources_that_refuse_ranges_get_one_stream() {
    let img = big_image();
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", &img).await;
    for (mode, says) in [
        (RangeMode::Ignore, "answered 200"),
        (RangeMode::Refuse(416), "416"),
        (RangeMode::Refuse(400), "400"),
        (RangeMode::Shift, "Content-Range"),
    ] {
        let proxy = FaultProxy::start(
            &src.host(),
            FaultConfig {
                range: mode,
                ..FaultConfig::default()
            },
        )
        .await;
        let dst = Registry::start();
        let from = format!("{}/team/app:v1", proxy.host());
        let out = copy_json(&from, &format!("{}/r/app:v1", dst.host()), &[]).await;
        assert_eq!(out.code, 0, "{mode:?}: {out}");
        let large = large_records(&out);
        assert_eq!(large[0]["fetched"], "single", "{mode:?}: {large:?}");
        assert_eq!(large[0]["reason"], "refused", "{mode:?}: {large:?}");
        let detail = large[0]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{mode:?}: {detail}");
        assert_eq!(
            out.stderr.matches("fetched as one stream each").count(),
            1,
            "{mode:?}: said once:\n{out}"
        );
        assert_blobs(&dst.host(), "r/app", &img).await;
        // The probe was the only ranged request; no Range on manifests ever.
        let ranged: Vec<_> = proxy
            .seen()
            .into_iter()
            .filter(|s| s.range.is_some())
            .collect();
        assert_eq!(ranged.len(), 1, "{mode:?}: {ranged:?}");
        assert!(ranged[0].target.contains("/blobs/"), "{ranged:?}");
    }
}

/// Ranges broken off at random (resets, truncated bodies, stalls) are resumed from their own
/// offsets: the copy completes byte-identical, and some ranged requests start inside a chunk.
#[tokio::test(flavor = "multi_thread")]
async fn ranges_broken_off_at_random_are_resumed_from_their_offsets() {
    let img = big_image();
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", &img).await;
    let big = format!("/blobs/{}", big_digest(&img));
    let rules = vec![
        Rule {
            method: "GET",
            path_contains: big.clone(),
            nth: 2,
            fault: Fault::Reset,
        },
        Rule {
            method: "GET",
            path_contains: big.clone(),
            nth: 4,
            fault: Fault::Truncate,
        },
        Rule {
            method: "GET",
            path_contains: big.clone(),
            nth: 6,
            fault: Fault::Stall,
        },
    ];
    let proxy = FaultProxy::start(
        &src.host(),
        FaultConfig {
            kinds: vec![Fault::Reset, Fault::Truncate],
            rate: 0.15,
            seed: 24,
            stall: std::time::Duration::from_secs(5),
            ..FaultConfig::rules(rules)
        },
    )
    .await;
    let dst = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    for to in [
        format!("{}/f/app:v1", dst.host()),
        format!("oci:{}:v1", dir.path().display()),
    ] {
        let out = copy_json(
            &format!("{}/team/app:v1", proxy.host()),
            &to,
            // A stalled range is restarted after --timeout (at most 30 s).
            &["--timeout", "2", "--retries", "8", "--range-min-rtt", "0"],
        )
        .await;
        assert_eq!(out.code, 0, "{to}: {out}\n{}", proxy.fault_summary());
        assert_eq!(large_records(&out)[0]["fetched"], "ranges", "{out}");
    }
    assert_blobs(&dst.host(), "f/app", &img).await;
    assert_layout(dir.path(), &img);
    let chunk = CHUNK;
    let resumed: Vec<String> = proxy
        .seen()
        .into_iter()
        .filter_map(|s| s.range)
        .filter(|r| {
            let first: u64 = r
                .trim_start_matches("bytes=")
                .split('-')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            !first.is_multiple_of(chunk)
        })
        .collect();
    assert!(!resumed.is_empty(), "{}", proxy.fault_summary());
}

/// Largest first: with one transfer at a time the source sees the blob GETs in size order,
/// whatever order the manifest lists them in.
#[tokio::test(flavor = "multi_thread")]
async fn the_largest_blobs_are_fetched_first() {
    let sizes = [3_000, 90_000, 1_500_000, 40_000, 2_500_000, 700];
    let img = fixtures::layered("largest-first", &sizes);
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", &img).await;
    let dst = Registry::start();
    let mark = src.mark();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/o/app:v1", dst.host()),
        "--jobs",
        "1",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let got: Vec<String> = src
        .requests_since(mark)
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/blobs/"))
        .map(|r| r.path.rsplit('/').next().unwrap().to_string())
        .collect();
    let mut want: Vec<&fixtures::Blob> = img.all_blobs();
    want.sort_by_key(|b| std::cmp::Reverse(b.bytes.len()));
    let want: Vec<String> = want.iter().map(|b| b.digest.clone()).collect();
    assert_eq!(got, want, "blob GETs in size order");
}

/// `--limit-rate`: one token bucket for the run holds the average. Measured, with a tolerance:
/// never more than 10 % above the cap; at least half of it, so the cap is not a stall.
#[tokio::test(flavor = "multi_thread")]
async fn the_rate_cap_holds_on_loopback() {
    let img = fixtures::layered("rate", &[12_000_000, 4_000_000]);
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", &img).await;
    let dst = Registry::start();
    let bytes: usize = img.all_blobs().iter().map(|b| b.bytes.len()).sum();
    let started = std::time::Instant::now();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/l/app:v1", dst.host()),
        "--limit-rate",
        "8M",
    ])
    .await;
    let took = started.elapsed().as_secs_f64();
    assert_eq!(out.code, 0, "{out}");
    let rate = bytes as f64 / took;
    assert!(
        rate <= 8e6 * 1.10,
        "{bytes} bytes in {took:.2} s = {rate:.0} B/s"
    );
    assert!(rate >= 4e6, "{bytes} bytes in {took:.2} s = {rate:.0} B/s");

    // The same bucket paces parallel ranges: a 33 MiB layer fetched as ranges at 16M.
    let img = big_image();
    fixtures::push_image(&Http::new(), &src.host(), "team/big", "v1", &img).await;
    let bytes: usize = img.all_blobs().iter().map(|b| b.bytes.len()).sum();
    let started = std::time::Instant::now();
    let mut args = ALWAYS.to_vec();
    args.extend(["--limit-rate", "16M"]);
    let out = copy_json(
        &format!("{}/team/big:v1", src.host()),
        &format!("{}/l/big:v1", dst.host()),
        &args,
    )
    .await;
    let took = started.elapsed().as_secs_f64();
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(large_records(&out)[0]["fetched"], "ranges", "{out}");
    let rate = bytes as f64 / took;
    assert!(
        rate <= 16e6 * 1.10,
        "ranges: {bytes} bytes in {took:.2} s = {rate:.0} B/s"
    );
    assert!(
        rate >= 8e6,
        "ranges: {bytes} bytes in {took:.2} s = {rate:.0} B/s"
    );
}
