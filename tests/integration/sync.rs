//! `mirror sync` and `mirror verify` against real distribution 2.8 processes (two sources, one
//! target registry, one OCI layout target), with request counting from the access logs. The
//! in-process fake is used only where 2.8 cannot serve: a target accepting sparse indexes and
//! paginated tag listings; a small proxy adds Docker Hub rate-limit headers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fixtures::{self, Image};
use crate::harness::{count, mirror_in_async, show, Http, Output, Registry, Req};
use sparse_mirror::app::sync::report::{Action, ItemReport, Line, Summary};

const LAYER: usize = 1024;

/// Decode `--output json`: item lines, then exactly one summary line, last.
fn lines(out: &Output) -> (Vec<ItemReport>, Summary) {
    let mut items = vec![];
    let mut summary = None;
    for l in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        assert!(summary.is_none(), "a line after the summary: {out}");
        match serde_json::from_str::<Line>(l)
            .unwrap_or_else(|e| panic!("JSON line does not decode ({e}): {l}\n{out}"))
        {
            Line::Item(i) => items.push(i),
            Line::Summary(s) => summary = Some(s),
        }
    }
    (
        items,
        summary.unwrap_or_else(|| panic!("no summary line: {out}")),
    )
}

async fn push_tags(http: &Http, host: &str, repo: &str, img: &Image, tags: &[&str]) {
    fixtures::push_image(http, host, repo, tags[0], img).await;
    for t in &tags[1..] {
        fixtures::push_manifest_only(http, host, repo, t, &img.index).await;
    }
}

async fn sync(dir: &Path, cfg: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    std::fs::write(dir.join("mirror.yaml"), cfg).unwrap();
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    let mut args = vec!["sync", "-f", "mirror.yaml", "--cache-dir", cache];
    args.extend_from_slice(extra);
    mirror_in_async(dir, &args, env).await
}

fn writes(reqs: &[Req]) -> Vec<&Req> {
    reqs.iter()
        .filter(|r| !matches!(r.method.as_str(), "GET" | "HEAD"))
        .collect()
}

fn manifest_gets(reqs: &[Req]) -> Vec<&Req> {
    reqs.iter()
        .filter(|r| r.method == "GET" && r.path.contains("/manifests/"))
        .collect()
}

fn layout_config(a: &str, b: &str, t: &str, layout: &str, app_platforms: &str) -> String {
    format!(
        r#"# 20 items: two sources, a registry target and an OCI layout target
defaults:
  platforms: [linux/amd64, linux/arm64]
images:
  - source: ${{SRC_A}}/team/app
    target: oci:{layout}
    tags: [v1, v2, v3, v4, v5]
    platforms: {app_platforms}
  - source: {a}/team/list
    target: {t}/mirror/list
    platforms: []
    tags:
      regex: '^1\.'
  - source: {b}/lib/single
    target: {t}/mirror/single
    tags: [s1, s2, s3, s4, s5]
  - source: {b}/lib/nested
    target: {t}/mirror/nested
    on-reject: full
    tags:
      semver: ">=1 <2"
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_copies_then_reruns_with_heads_only_then_picks_up_a_platform_then_repairs() {
    let (a, b, t) = (Registry::start(), Registry::start(), Registry::start());
    let http = Http::new();
    let app = fixtures::multi_arch_oci(LAYER);
    let list = fixtures::docker_list(LAYER);
    let single = fixtures::single_manifest(LAYER);
    let nested = fixtures::nested_index(LAYER);
    push_tags(
        &http,
        &a.host(),
        "team/app",
        &app,
        &["v1", "v2", "v3", "v4", "v5"],
    )
    .await;
    push_tags(
        &http,
        &a.host(),
        "team/list",
        &list,
        &["1.0", "1.1", "1.2", "1.3", "1.4"],
    )
    .await;
    push_tags(
        &http,
        &b.host(),
        "lib/single",
        &single,
        &["s1", "s2", "s3", "s4", "s5"],
    )
    .await;
    let semver = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"];
    push_tags(&http, &b.host(), "lib/nested", &nested, &semver).await;
    fixtures::push_manifest_only(&http, &b.host(), "lib/nested", "2.0.0", &nested.index).await;

    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let layout_s = layout.to_str().unwrap().to_string();
    let env = [("SRC_A", a.host())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cfg = layout_config(
        &a.host(),
        &b.host(),
        &t.host(),
        &layout_s,
        "[linux/amd64, linux/arm64]",
    );

    // 1. First run copies all 20 items.
    let out = sync(dir.path(), &cfg, &["-o", "json"], &env).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(items.len(), 20, "{out}");
    assert_eq!(
        (summary.items, summary.copied, summary.failed),
        (20, 20, 0),
        "{out}"
    );
    assert!(
        !items.iter().any(|i| i.source.contains("2.0.0")),
        "semver <2 excludes 2.0.0"
    );
    let (_, ct, bytes) = http.get_manifest(&t.host(), "mirror/list", "1.3").await;
    assert_eq!(
        (ct.as_deref(), &bytes[..]),
        (Some(fixtures::DOCKER_LIST), &list.index.bytes[..])
    );
    let (_, _, bytes) = http.get_manifest(&t.host(), "mirror/nested", "1.4.0").await;
    assert_eq!(
        &bytes[..],
        &nested.index.bytes[..],
        "nested index kept byte-for-byte"
    );
    let index_json = std::fs::read(layout.join("index.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&index_json).unwrap();
    let tagged: BTreeSet<String> = doc["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["digest"] == app.index.digest.as_str())
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(tagged.len(), 5, "{doc}");
    let v7 = app.child("linux/arm/v7");
    let v7_att = app.attestation_for(&v7.digest);
    let blob_file = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    assert!(blob_file(&app.child("linux/arm64/v8").digest).is_file());
    assert!(!blob_file(&v7.digest).exists(), "the layout is sparse");

    // 2. Nothing changed: HEAD requests only. No GET on the sources, no blob request anywhere,
    //    no write anywhere; one HEAD per tag on a source; 1 + children HEADs per tag on the target.
    let marks = (a.mark(), b.mark(), t.mark());
    let out = sync(dir.path(), &cfg, &["-o", "json"], &env).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(summary.skipped_unchanged, 20, "{out}");
    assert!(items
        .iter()
        .all(|i| i.manifests_pushed == 0 && i.blobs.copied == 0));
    let (ra, rb, rt) = (
        a.requests_since(marks.0),
        b.requests_since(marks.1),
        t.requests_since(marks.2),
    );
    for (name, reqs) in [("source A", &ra), ("source B", &rb), ("target", &rt)] {
        assert_eq!(count(reqs, "GET", "/blobs/"), 0, "{name}:\n{}", show(reqs));
        assert_eq!(count(reqs, "HEAD", "/blobs/"), 0, "{name}:\n{}", show(reqs));
        assert!(
            writes(reqs).is_empty(),
            "{name} was written to:\n{}",
            show(reqs)
        );
        assert!(
            manifest_gets(reqs).is_empty(),
            "{name}: manifest GETs\n{}",
            show(reqs)
        );
    }
    assert_eq!(
        count(&ra, "HEAD", "/manifests/"),
        10,
        "one HEAD per tag:\n{}",
        show(&ra)
    );
    assert_eq!(
        count(&rb, "HEAD", "/manifests/"),
        10,
        "one HEAD per tag:\n{}",
        show(&rb)
    );
    let expected_target_heads: usize = items
        .iter()
        .filter(|i| !i.target.starts_with("oci:"))
        .map(|i| 1 + i.children_checked)
        .sum();
    // Besides the HEADs: at most one `GET /v2/` per registry and run (connection check).
    let pings = rt.iter().filter(|r| r.path == "/v2/").count();
    assert!(pings <= 1, "{}", show(&rt));
    assert_eq!(rt.len() - pings, expected_target_heads, "{}", show(&rt));
    assert_eq!(count(&rt, "HEAD", "/manifests/"), rt.len() - pings);
    assert_eq!(
        std::fs::read(layout.join("index.json")).unwrap(),
        index_json
    );

    // 2b. Without the manifest cache an unchanged tag costs one GET on the TARGET (the index
    //     bytes are identical there), still nothing on the sources.
    let marks = (a.mark(), b.mark(), t.mark());
    let out = sync(dir.path(), &cfg, &["-o", "json", "--no-cache"], &env).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(lines(&out).1.skipped_unchanged, 20, "{out}");
    let (ra, rb, rt) = (
        a.requests_since(marks.0),
        b.requests_since(marks.1),
        t.requests_since(marks.2),
    );
    assert!(
        manifest_gets(&ra).is_empty() && manifest_gets(&rb).is_empty(),
        "{}{}",
        show(&ra),
        show(&rb)
    );
    assert!(
        writes(&rt).is_empty() && count(&rt, "GET", "/blobs/") == 0,
        "{}",
        show(&rt)
    );
    assert!(
        manifest_gets(&rt)
            .iter()
            .all(|r| r.path.contains("/manifests/sha256:")),
        "{}",
        show(&rt)
    );

    // 3. A platform added to the file: only the new children are copied; the index is not
    //    pushed again (the layout's index.json, which holds the tags, is untouched).
    let cfg3 = layout_config(
        &a.host(),
        &b.host(),
        &t.host(),
        &layout_s,
        "[linux/amd64, linux/arm64, linux/arm/v7]",
    );
    let mark_a = a.mark();
    let out = sync(dir.path(), &cfg3, &["-o", "json", "--parallel", "1"], &env).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(
        (summary.partial_repair, summary.skipped_unchanged),
        (1, 19),
        "{out}"
    );
    let repaired = items
        .iter()
        .find(|i| i.action == Action::PartialRepair)
        .unwrap();
    let got: BTreeSet<String> = repaired.repaired.iter().map(|d| d.to_string()).collect();
    let want: BTreeSet<String> = [v7.digest.clone(), v7_att.digest.clone()].into();
    assert_eq!(got, want, "{out}");
    assert_eq!(
        repaired.manifests_pushed, 2,
        "children only, no index: {out}"
    );
    assert!(blob_file(&v7.digest).is_file() && blob_file(&v7_att.digest).is_file());
    assert_eq!(
        std::fs::read(layout.join("index.json")).unwrap(),
        index_json
    );
    let ra = a.requests_since(mark_a);
    let gets: BTreeSet<String> = manifest_gets(&ra)
        .iter()
        .map(|r| r.path.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        gets,
        want,
        "only the new children are read from the source:\n{}",
        show(&ra)
    );

    // 4. A child deleted on the target: verify lists it (exit 7); the next sync repairs it
    //    without pushing the index or any tag again; verify is then clean.
    let gone = list.child("linux/arm/v7");
    assert_eq!(
        http.delete_manifest(&t.host(), "mirror/list", &gone.digest)
            .await,
        202
    );
    let src_ref = format!("{}/team/list:1.2", a.host());
    let dst_ref = format!("{}/mirror/list:1.2", t.host());
    let out = mirror_in_async(
        dir.path(),
        &["verify", &src_ref, &dst_ref, "-o", "json"],
        &[],
    )
    .await;
    assert_eq!(out.code, 7, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!((summary.incomplete, summary.exit_code), (1, 7));
    assert_eq!(items[0].missing.len(), 1, "{out}");
    assert_eq!(items[0].missing[0].kind, "manifest");
    assert_eq!(
        items[0].missing[0].digest.as_ref().unwrap().as_str(),
        gone.digest
    );
    assert_eq!(
        items[0].missing[0].platform.as_deref(),
        Some("linux/arm/v7")
    );
    let human = mirror_in_async(dir.path(), &["verify", &src_ref, &dst_ref], &[]).await;
    assert_eq!(human.code, 7, "{human}");
    assert!(
        human.stderr.contains(&gone.digest),
        "lists the missing child: {human}"
    );
    assert!(human.stdout.contains("incomplete"), "{human}");

    let mark_t = t.mark();
    let out = sync(
        dir.path(),
        &cfg3,
        &["-o", "json", "--parallel", "1", "--verify"],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(
        (summary.partial_repair, summary.complete, summary.incomplete),
        (1, 20, 0),
        "{out}"
    );
    let fixed = items
        .iter()
        .find(|i| i.action == Action::PartialRepair)
        .unwrap();
    assert_eq!(fixed.repaired.len(), 1);
    assert_eq!(fixed.repaired[0].as_str(), gone.digest);
    let rt = t.requests_since(mark_t);
    let puts: Vec<&Req> = rt
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/manifests/"))
        .collect();
    assert_eq!(puts.len(), 1, "only the child is pushed:\n{}", show(&rt));
    assert!(puts[0].path.ends_with(&gone.digest));
    let out = mirror_in_async(dir.path(), &["verify", &src_ref, &dst_ref], &[]).await;
    assert_eq!(out.code, 0, "{out}");

    // 5. Human output: a line per item on stderr, a table and a summary on stdout.
    let out = sync(dir.path(), &cfg3, &[], &env).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stderr.lines().filter(|l| l.starts_with('[')).count(),
        20,
        "{out}"
    );
    assert!(out.stdout.starts_with("ACTION"), "{out}");
    assert!(
        out.stdout
            .contains("20 item(s): 20 unchanged, 0 failed; nothing written"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_lists_missing_blobs_and_wrong_tags() {
    let (src, dst) = (Registry::start(), Registry::start());
    let http = Http::new();
    let img = fixtures::docker_list(LAYER);
    push_tags(&http, &src.host(), "a", &img, &["v1"]).await;
    fixtures::push_image(&http, &dst.host(), "m", "v1", &img).await;
    let other = fixtures::single_manifest(LAYER);
    fixtures::push_image(&http, &dst.host(), "m", "v2", &other).await;
    let s = format!("{}/a:v1", src.host());
    let out = mirror_in_async(
        Path::new("."),
        &["verify", &s, &format!("{}/m", dst.host())],
        &[],
    )
    .await;
    assert_eq!(
        out.code, 0,
        "the target tag defaults to the source tag: {out}"
    );
    // A blob unlinked from the target repository.
    let layer = &img.child("linux/386").layers()[1];
    let url = format!("{}/v2/m/blobs/{}", dst.url(), layer.digest);
    let status = http.client.delete(&url).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 202);
    let out = mirror_in_async(
        Path::new("."),
        &["verify", &s, &format!("{}/m:v1", dst.host()), "-o", "json"],
        &[],
    )
    .await;
    assert_eq!(out.code, 7, "{out}");
    let (items, _) = lines(&out);
    let m = &items[0].missing;
    assert_eq!(m.len(), 1, "{out}");
    assert_eq!(
        (m[0].kind.as_str(), m[0].digest.as_ref().unwrap().as_str()),
        ("blob", layer.digest.as_str())
    );
    assert_eq!(
        m[0].of.as_ref().unwrap().as_str(),
        img.child("linux/386").digest
    );
    // The platform filter decides what must be there.
    let out = mirror_in_async(
        Path::new("."),
        &[
            "verify",
            &s,
            &format!("{}/m:v1", dst.host()),
            "-p",
            "linux/amd64",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    // A tag naming another digest.
    let out = mirror_in_async(
        Path::new("."),
        &["verify", &s, &format!("{}/m:v2", dst.host()), "-o", "json"],
        &[],
    )
    .await;
    assert_eq!(out.code, 7, "{out}");
    let (items, _) = lines(&out);
    assert_eq!(items[0].missing[0].kind, "wrong-digest");
    assert_eq!(
        items[0].missing[0].digest.as_ref().unwrap().as_str(),
        other.index.digest
    );
}

/// 30 tags to select from.
const THIRTY: [&str; 30] = [
    "1.20",
    "1.21",
    "1.22",
    "1.23",
    "1.24",
    "1.25",
    "1.26",
    "1.27",
    "1.28",
    "1.29",
    "1.24.1",
    "1.24.2",
    "1.25.1",
    "1.26.1",
    "1.27.1",
    "2.0.0",
    "2.0.1",
    "2.1.0",
    "2.2.0-rc1",
    "2.2.0-rc2",
    "v3.0.0",
    "v3.1.0",
    "1.26-alpine",
    "1.27-alpine",
    "1.28-alpine",
    "latest",
    "edge",
    "stable",
    "nightly",
    "main",
];

fn selected(items: &[ItemReport], image: usize) -> BTreeSet<String> {
    items
        .iter()
        .filter(|i| i.image == image)
        .map(|i| i.source.rsplit_once(':').unwrap().1.to_string())
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_selection_forms_against_thirty_tags() {
    let src = Registry::start();
    let http = Http::new();
    let img = fixtures::single_manifest(LAYER);
    push_tags(&http, &src.host(), "r", &img, &THIRTY).await;
    assert_eq!(http.tags(&src.host(), "r").await.len(), 30);
    let dir = tempfile::tempdir().unwrap();
    let s = src.host();
    let o = dir.path().display();
    let cfg = format!(
        r#"images:
  - source: {s}/r
    target: oci:{o}/regex
    tags: {{regex: '^1\.2[4-6]'}}
  - source: {s}/r
    target: oci:{o}/exclude
    tags:
      regex: ['^1\.', '^v']
      exclude: ['-alpine$', '\.1$']
  - source: {s}/r
    target: oci:{o}/semver
    tags: {{semver: ">=1.24 <2", exclude: "-"}}
  - source: {s}/r
    target: oci:{o}/latest
    tags: {{latest: 3, exclude: "-rc"}}
  - source: {s}/r
    target: oci:{o}/list
    tags:
      list: [edge, "stable@{d}"]
      latest: 1
"#,
        d = img.index.digest
    );
    let out = sync(dir.path(), &cfg, &["--dry-run", "-o", "json"], &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(summary.would_copy, items.len(), "{out}");
    assert_eq!(
        selected(&items, 0),
        set(&[
            "1.24",
            "1.25",
            "1.26",
            "1.24.1",
            "1.24.2",
            "1.25.1",
            "1.26.1",
            "1.26-alpine"
        ])
    );
    assert_eq!(
        selected(&items, 1),
        set(&[
            "1.20", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26", "1.27", "1.28", "1.29",
            "1.24.2", "v3.0.0", "v3.1.0"
        ])
    );
    assert_eq!(
        selected(&items, 2),
        set(&[
            "1.24", "1.24.1", "1.24.2", "1.25", "1.25.1", "1.26", "1.26.1", "1.27", "1.27.1",
            "1.28", "1.29"
        ])
    );
    assert_eq!(selected(&items, 3), set(&["v3.1.0", "v3.0.0", "2.1.0"]));
    let pinned: Vec<&ItemReport> = items.iter().filter(|i| i.image == 4).collect();
    assert_eq!(pinned.len(), 3, "{out}");
    assert!(pinned
        .iter()
        .any(|i| i.source.ends_with(&format!("stable@{}", img.index.digest))));
    assert!(pinned.iter().any(|i| i.source.ends_with(":v3.1.0")));
    assert!(
        items.iter().all(|i| i.planned_bytes.unwrap_or(0) > 0),
        "dry run shows sizes"
    );
    assert!(
        !dir.path().join("regex").exists(),
        "a dry run writes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_listing_follows_pagination_links() {
    // distribution 2.8 ignores `n`; the fake pages like distribution v3 (Link: rel="next").
    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let img = fixtures::single_manifest(LAYER);
    for b in &img.index.blobs {
        fake.put_blob("p", &b.bytes);
    }
    for t in THIRTY {
        fake.put_manifest("p", t, &img.index.media_type, &img.index.bytes);
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "images:\n  - source: {}/p\n    target: oci:{}/out\n    tags: {{regex: '.'}}\n",
        fake.host(),
        dir.path().display()
    );
    let out = sync(
        dir.path(),
        &cfg,
        &["--dry-run", "-o", "json"],
        &[("MIRROR_TAG_PAGE_SIZE", "7")],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let (items, _) = lines(&out);
    assert_eq!(selected(&items, 0), set(&THIRTY));
    let pages = fake
        .requests()
        .iter()
        .filter(|(m, p, _)| m == "GET" && p.contains("/tags/list"))
        .count();
    assert_eq!(pages, 5, "30 tags in pages of 7: {:?}", fake.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn shards_partition_the_items_exactly() {
    let src = Registry::start();
    let http = Http::new();
    let img = fixtures::single_manifest(LAYER);
    let tags: Vec<String> = (0..22).map(|i| format!("t{i}")).collect();
    let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    push_tags(&http, &src.host(), "r", &img, &tag_refs).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "images:\n  - source: {s}/r\n    target: oci:{o}/a\n    tags: {{regex: '^t1'}}\n  - source: {s}/r\n    target: oci:{o}/b\n    tags:\n      regex: '^t[02-9]'\n      digests: [\"{d}\"]\n    platforms: linux/amd64\n",
        s = src.host(),
        o = dir.path().display(),
        d = img.index.digest
    );
    // oci: targets cannot take untagged digest pins: that is a configuration error.
    let out = sync(dir.path(), &cfg, &["--dry-run"], &[]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("mirror.yaml:5: images[1]"), "{out}");
    let cfg = cfg.replace(
        &format!("oci:{}/b", dir.path().display()),
        &format!("{}/mirror/b", src.host()),
    );
    let out = sync(dir.path(), &cfg, &["--dry-run", "-o", "json"], &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let all: Vec<String> = lines(&out).0.into_iter().map(|i| i.source).collect();
    assert_eq!(all.len(), 23, "22 tags + 1 digest pin: {out}");
    let all: BTreeSet<String> = all.into_iter().collect();
    for n in 1..=5u32 {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for i in 0..n {
            let shard = format!("{i}/{n}");
            let out = sync(
                dir.path(),
                &cfg,
                &["--dry-run", "-o", "json", "--shard", &shard],
                &[],
            )
            .await;
            assert_eq!(out.code, 0, "{out}");
            let (items, summary) = lines(&out);
            assert_eq!(summary.shard.as_deref(), Some(shard.as_str()));
            assert_eq!(summary.items_total, 23);
            for it in items {
                *seen.entry(it.source).or_default() += 1;
            }
        }
        assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), all, "n={n}");
        assert!(seen.values().all(|&c| c == 1), "n={n}: {seen:?}");
    }
    // Kubernetes Indexed Job form: --shards N with JOB_COMPLETION_INDEX.
    let a = sync(
        dir.path(),
        &cfg,
        &["--dry-run", "-o", "json", "--shard", "2/3"],
        &[],
    )
    .await;
    let b = sync(
        dir.path(),
        &cfg,
        &["--dry-run", "-o", "json", "--shards", "3"],
        &[("JOB_COMPLETION_INDEX", "2")],
    )
    .await;
    let names = |o: &Output| {
        lines(o)
            .0
            .into_iter()
            .map(|i| i.source)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(names(&a), names(&b));
    let bad = sync(
        dir.path(),
        &cfg,
        &["--shards", "3"],
        &[("JOB_COMPLETION_INDEX", "3")],
    )
    .await;
    assert_eq!(bad.code, 2, "{bad}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_going_reports_the_failure_and_exits_6() {
    let (src, dst) = (Registry::start(), Registry::start());
    let http = Http::new();
    let img = fixtures::docker_list(LAYER);
    push_tags(&http, &src.host(), "ok", &img, &["1", "2", "3"]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "images:\n  - source: {s}/does/not/exist\n    target: {d}/m/missing\n    tags: [v1]\n  - source: {s}/ok\n    target: {d}/m/ok\n    tags: ['1', '2', '3']\n",
        s = src.host(),
        d = dst.host()
    );
    let out = sync(dir.path(), &cfg, &["-o", "json", "--parallel", "1"], &[]).await;
    assert_eq!(out.code, 6, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(
        (summary.failed, summary.copied, summary.exit_code),
        (1, 3, 6),
        "{out}"
    );
    let failed = items.iter().find(|i| i.action == Action::Failed).unwrap();
    assert!(failed.source.contains("does/not/exist:v1"));
    let err = failed.error.as_deref().unwrap();
    assert!(err.contains("does/not/exist"), "{err}");
    assert_eq!(failed.exit_code, Some(1));
    for t in ["1", "2", "3"] {
        assert_eq!(
            http.head_manifest(&dst.host(), "m/ok", t)
                .await
                .1
                .as_deref(),
            Some(img.index.digest.as_str())
        );
    }
    // --no-keep-going: nothing after the first failure starts.
    let cfg2 = cfg.replace("m/ok", "m/ok2");
    let out = sync(
        dir.path(),
        &cfg2,
        &["--no-keep-going", "--parallel", "1"],
        &[],
    )
    .await;
    assert_eq!(out.code, 6, "{out}");
    assert!(out.stderr.contains("not started"), "{out}");
    assert_eq!(http.head_manifest(&dst.host(), "m/ok2", "1").await.0, 404);
    // A listing failure (regex on a repository that does not exist) is one failed item.
    let cfg3 = format!(
        "images:\n  - source: {s}/nope\n    target: {d}/m/nope\n    tags: {{regex: '.'}}\n",
        s = src.host(),
        d = dst.host()
    );
    let out = sync(dir.path(), &cfg3, &["-o", "json"], &[]).await;
    assert_eq!(out.code, 6, "{out}");
    let (items, _) = lines(&out);
    assert_eq!(items.len(), 1);
    let err = items[0].error.as_deref().unwrap();
    assert!(
        err.contains("repository") && err.contains("/nope") && err.contains("tags/list"),
        "{out}"
    );
    assert!(items[0].source.ends_with("/nope:*"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn config_errors_name_file_line_and_key_and_run_nothing() {
    let src = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let mark = src.mark();
    let cases = [
        (
            format!("images:\n  - source: {}/a\n    target: oci:x\n    tags:\n      semver: '>=banana'\n", src.host()),
            "mirror.yaml:5:",
            "semver",
        ),
        (
            format!("defaults:\n  jobs: 0\nimages:\n  - source: {}/a\n    target: oci:x\n    tags: [v1]\n", src.host()),
            "mirror.yaml:2:",
            "jobs",
        ),
        (
            format!("images:\n  - source: {}/a\n    target: oci:x\n    tags: [v1]\n    platfroms: [linux/amd64]\n", src.host()),
            "mirror.yaml:5:",
            "platfroms",
        ),
        (
            "images:\n  - source: ${MIRROR_TEST_UNSET_HOST}/a\n    target: oci:x\n    tags: [v1]\n".to_string(),
            "mirror.yaml:2:",
            "MIRROR_TEST_UNSET_HOST is not set",
        ),
    ];
    for (cfg, at, key) in cases {
        let out = sync(dir.path(), &cfg, &[], &[]).await;
        assert_eq!(out.code, 2, "{out}");
        assert!(out.stderr.contains(at), "wants {at}: {out}");
        assert!(out.stderr.contains(key), "wants {key}: {out}");
        assert!(out.stdout.is_empty(), "{out}");
    }
    assert!(
        src.requests_since(mark).is_empty(),
        "a bad file must not cause any request"
    );
    assert!(!dir.path().join("x").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_images_writing_one_tag_are_refused_at_the_second_entry_line() {
    let src = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let mark = src.mark();
    // Flow-style entries: the line comes from the parser's span of the entry.
    let cfg = format!(
        "images:\n  - {{source: {h}/a, target: oci:x, tags: [v1]}}\n\n  # the same target\n  - {{source: {h}/b, target: oci:x, tags: [v1, v2]}}\n",
        h = src.host()
    );
    let out = sync(dir.path(), &cfg, &[], &[]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("mirror.yaml:5: images[0] and images[1] both write oci:x:v1"),
        "{out}"
    );
    assert!(src.requests_since(mark).is_empty(), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_pushed_earlier_in_the_run_are_mounted_not_uploaded_again() {
    let (src_a, src_b, dst) = (Registry::start(), Registry::start(), Registry::start());
    let http = Http::new();
    let img = fixtures::docker_list(LAYER);
    push_tags(&http, &src_a.host(), "x", &img, &["1"]).await;
    push_tags(&http, &src_b.host(), "y", &img, &["1"]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "images:\n  - source: {}/x\n    target: {d}/m/x\n    tags: ['1']\n  - source: {}/y\n    target: {d}/m/y\n    tags: ['1']\n",
        src_a.host(),
        src_b.host(),
        d = dst.host()
    );
    let mark = dst.mark();
    let out = sync(dir.path(), &cfg, &["--parallel", "1", "-o", "json"], &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let reqs = dst.requests_since(mark);
    let uploads = reqs
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/blobs/uploads/"))
        .count();
    let mounts = reqs
        .iter()
        .filter(|r| {
            // (not the check of the blob probe, a mount from the repository itself)
            r.method == "POST"
                && r.path.contains("/m/y/")
                && r.query.contains("mount=")
                && r.query.ends_with("from=m/x")
                && r.status == 201
        })
        .count();
    let unique = img.all_blobs().len();
    assert_eq!(uploads, unique, "each blob uploaded once:\n{}", show(&reqs));
    assert_eq!(
        mounts,
        unique,
        "the second repository mounts them:\n{}",
        show(&reqs)
    );
    let (items, _) = lines(&out);
    assert_eq!(items[1].blobs.mounted as usize, unique, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_platform_added_later_reaches_a_sparse_registry_target_without_an_index_push() {
    let src = Registry::start();
    let http = Http::new();
    let img = fixtures::multi_arch_oci(LAYER);
    push_tags(&http, &src.host(), "team/app", &img, &["v1", "v2"]).await;
    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = |platforms: &str| {
        format!(
            "images:\n  - source: {}/team/app\n    target: {}/mirror/app\n    tags: [v1, v2]\n    platforms: {platforms}\n",
            src.host(),
            fake.host()
        )
    };
    let out = sync(dir.path(), &cfg("linux/amd64"), &["--parallel", "1"], &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let arm = img.child("linux/arm64/v8");
    assert!(!fake.has_manifest("mirror/app", &arm.digest));
    let before = fake.requests().len();
    let mark = src.mark();
    let out = sync(
        dir.path(),
        &cfg("[linux/amd64, linux/arm64]"),
        &["--parallel", "1", "-o", "json"],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let (_, summary) = lines(&out);
    assert_eq!(
        (summary.partial_repair, summary.skipped_unchanged),
        (1, 1),
        "{out}"
    );
    assert!(fake.has_manifest("mirror/app", &arm.digest));
    let puts: Vec<String> = fake.requests()[before..]
        .iter()
        .filter(|(m, p, _)| m == "PUT" && p.contains("/manifests/"))
        .map(|(_, p, _)| p.rsplit('/').next().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = [
        arm.digest.clone(),
        img.attestation_for(&arm.digest).digest.clone(),
    ]
    .into();
    assert_eq!(
        puts.iter().cloned().collect::<BTreeSet<_>>(),
        want,
        "{puts:?}"
    );
    let reqs = src.requests_since(mark);
    assert!(
        manifest_gets(&reqs)
            .iter()
            .all(|r| want.iter().any(|w| r.path.ends_with(w.as_str()))),
        "the index is not read again from the source:\n{}",
        show(&reqs)
    );
}

/// A proxy in front of a real registry that adds Docker Hub rate-limit headers: every manifest
/// GET spends one pull from a budget that refills `window_ms` after its first pull.
async fn rate_limited_proxy(upstream: String, budget: i64, window_ms: u64) -> String {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;
    use std::time::{Duration, Instant};
    // (pulls left, when the current window started)
    let state = Arc::new(std::sync::Mutex::new((budget, None::<Instant>)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let client = reqwest::Client::new();
    let handler = move |req: Request| {
        let (client, upstream, state) = (client.clone(), upstream.clone(), state.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let mut rb = client
                .request(parts.method.clone(), format!("http://{upstream}{pq}"))
                .body(body);
            for (k, v) in &parts.headers {
                if !matches!(
                    k.as_str(),
                    "host" | "content-length" | "transfer-encoding" | "connection"
                ) {
                    rb = rb.header(k, v);
                }
            }
            let resp = rb.send().await.unwrap();
            let manifest = parts.uri.path().contains("/manifests/");
            let left = {
                let mut st = state.lock().unwrap();
                if st
                    .1
                    .is_some_and(|t| t.elapsed() > Duration::from_millis(window_ms))
                {
                    *st = (budget, None);
                }
                if manifest && parts.method == "GET" {
                    st.0 -= 1;
                    st.1.get_or_insert_with(Instant::now);
                }
                st.0.max(0)
            };
            let mut out = Response::builder().status(resp.status().as_u16());
            for (k, v) in resp.headers() {
                if !matches!(
                    k.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    out = out.header(k, v);
                }
            }
            if manifest {
                out = out
                    .header("ratelimit-limit", format!("{budget};w=21600"))
                    .header("ratelimit-remaining", format!("{left};w=21600"));
            }
            let bytes = resp.bytes().await.unwrap();
            out.body(Body::from(bytes)).unwrap()
        }
    };
    let app = axum::Router::new().fallback(handler);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    host
}

#[tokio::test(flavor = "multi_thread")]
async fn low_docker_hub_budget_pauses_and_says_so() {
    let src = Registry::start();
    let http = Http::new();
    let img = fixtures::docker_list(LAYER);
    push_tags(&http, &src.host(), "lib/x", &img, &["1", "2"]).await;
    let tag2 = fixtures::single_manifest(LAYER);
    fixtures::push_image(&http, &src.host(), "lib/y", "1", &tag2).await;
    let proxy = rate_limited_proxy(src.host(), 6, 1500).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "images:\n  - source: {p}/lib/x\n    target: oci:{o}/x\n    tags: ['1', '2']\n  - source: {p}/lib/y\n    target: oci:{o}/y\n    tags: ['1']\n",
        p = proxy,
        o = dir.path().display()
    );
    // The first image uses 5 pulls (list + 4 children): the budget drops to 1 < 3.
    let out = sync(
        dir.path(),
        &cfg,
        &["--parallel", "1", "--min-rate-remaining", "3", "-o", "json"],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("ratelimit-remaining is 1 of 6"),
        "{out}"
    );
    assert!(
        out.stderr.contains("below --min-rate-remaining 3: pausing"),
        "{out}"
    );
    assert!(out.stderr.contains("resuming"), "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(summary.failed, 0);
    assert!(
        items
            .iter()
            .any(|i| i.warnings.iter().any(|w| w.contains("pausing"))),
        "{out}"
    );
    // Each pause is counted where it happens (the metrics file reads this count): one per
    // pause warning of the item, and at least one in the run.
    for i in &items {
        let said = i.warnings.iter().filter(|w| w.contains("pausing")).count() as u64;
        assert_eq!(i.rate_limit_pauses, said, "{out}");
    }
    assert!(items.iter().any(|i| i.rate_limit_pauses > 0), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn referrers_and_digest_tags_are_mirrored_checked_and_repaired() {
    use crate::supply_chain::{fallback_digests, sorted, Chain};
    let chain = Chain::new();
    let (src, dst) = (Registry::start(), Registry::start());
    let http = Http::new();
    chain.push(&http, &src.host(), "team/app", true).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "defaults:\n  referrers: true\n  digest-tags: true\nimages:\n  - source: {}/team/app\n    target: {}/mirror/app\n    tags: [v1]\n",
        src.host(),
        dst.host()
    );
    let out = sync(dir.path(), &cfg, &["-o", "json"], &[]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(lines(&out).1.copied, 1, "{out}");
    let index = &chain.img.index.digest;
    assert_eq!(
        fallback_digests(&http, &dst.host(), "mirror/app", index).await,
        sorted(&[&chain.sbom, &chain.index_sig]),
        "referrers of the index reach the target's fallback tag"
    );
    for a in &chain.cosign {
        let t = a.tag.as_deref().unwrap();
        let (status, digest) = http.head_manifest(&dst.host(), "mirror/app", t).await;
        assert_eq!(
            (status, digest.as_deref()),
            (200, Some(a.manifest.digest.as_str())),
            "{t}"
        );
    }

    // Unchanged: nothing is written on the target (the fallback indexes are merged unchanged).
    let mark = dst.mark();
    let out = sync(dir.path(), &cfg, &["-o", "json"], &[]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(lines(&out).1.skipped_unchanged, 1, "{out}");
    let reqs = dst.requests_since(mark);
    assert!(writes(&reqs).is_empty(), "{}", show(&reqs));

    // verify --referrers --digest-tags finds a referrer deleted on the target; sync restores it.
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let check = [
        "verify",
        &s,
        &d,
        "--referrers",
        "--digest-tags",
        "-o",
        "json",
    ];
    let out = mirror_in_async(dir.path(), &check, &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let gone = &chain.index_sig.manifest.digest;
    assert_eq!(
        http.delete_manifest(&dst.host(), "mirror/app", gone).await,
        202
    );
    let out = mirror_in_async(dir.path(), &check, &[]).await;
    assert_eq!(out.code, 7, "{out}");
    let (items, _) = lines(&out);
    assert_eq!(items[0].missing.len(), 1, "{out}");
    assert_eq!(items[0].missing[0].kind, "referrer");
    assert_eq!(items[0].missing[0].digest.as_ref().unwrap().as_str(), gone);
    let mark = dst.mark();
    let out = sync(dir.path(), &cfg, &["-o", "json"], &[]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(lines(&out).1.partial_repair, 1, "{out}");
    let reqs = dst.requests_since(mark);
    assert_eq!(count(&reqs, "PUT", "/manifests/v1"), 0, "{}", show(&reqs));
    assert_eq!(
        count(&reqs, "PUT", &format!("/manifests/{gone}")),
        1,
        "{}",
        show(&reqs)
    );
    let out = mirror_in_async(dir.path(), &check, &[]).await;
    assert_eq!(out.code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_registry_fails_its_items_once_each_and_the_rest_goes_on() {
    let (src, dst) = (Registry::start(), Registry::start());
    let http = Http::new();
    let img = fixtures::single_manifest(LAYER);
    push_tags(&http, &src.host(), "ok", &img, &["1"]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "images:\n  - source: 127.0.0.1:{closed}/gone\n    target: {d}/m/gone\n    tags: [a, b, c]\n  - source: {s}/ok\n    target: {d}/m/ok\n    tags: ['1']\n",
        s = src.host(),
        d = dst.host()
    );
    let out = sync(dir.path(), &cfg, &["-o", "json", "--retries", "0"], &[]).await;
    assert_eq!(out.code, 6, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!((summary.failed, summary.copied), (3, 1), "{out}");
    for i in items.iter().filter(|i| i.action == Action::Failed) {
        let e = i.error.as_deref().unwrap();
        assert!(e.contains(&format!("127.0.0.1:{closed}")), "{e}");
        assert!(e.contains("hint:"), "a network hint: {e}");
    }
}
