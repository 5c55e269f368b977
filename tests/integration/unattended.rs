//! Running `mirror` unattended (issue 17): `target-prefix` mapping and `source-registry`
//! discovery through the catalog against distribution 2.8; an in-process server only for a
//! catalog that answers 401 or 404.

use std::path::Path;

use crate::fixtures;
use crate::harness::{mirror_in_async, Http, Output, Registry};
use sparse_mirror::app::sync::report::{ItemReport, Line, Summary};

const LAYER: usize = 1024;

/// Decode `--output json`: item lines, then the summary line.
pub(crate) fn lines(out: &Output) -> (Vec<ItemReport>, Summary) {
    let mut items = vec![];
    let mut summary = None;
    for l in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Line>(l)
            .unwrap_or_else(|e| panic!("JSON line does not decode ({e}): {l}\n{out}"))
        {
            Line::Item(i) => items.push(i),
            Line::Summary(s) => summary = Some(s),
        }
    }
    (
        items,
        summary.unwrap_or_else(|| panic!("no summary: {out}")),
    )
}

pub(crate) async fn sync(dir: &Path, cfg: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    std::fs::write(dir.join("mirror.yaml"), cfg).unwrap();
    let mut args = vec!["sync", "-f", "mirror.yaml", "--no-cache"];
    args.extend_from_slice(extra);
    mirror_in_async(dir, &args, env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn target_prefix_maps_each_source_path_under_the_prefix() {
    let (src, dst) = (Registry::start(), Registry::start());
    let http = Http::new();
    let img = fixtures::single_manifest(LAYER);
    for repo in ["library/nginx", "team/app"] {
        fixtures::push_image(&http, &src.host(), repo, "v1", &img).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "defaults:\n  target-prefix: {d}/mirror\nimages:\n  - source: {s}/library/nginx\n    tags: [v1]\n  - source: {s}/team/app\n    tags: [v1]\n  - source: {s}/team/app\n    target-prefix: {d}/other/\n    tags: [v1]\n",
        s = src.host(),
        d = dst.host()
    );
    let out = sync(dir.path(), &cfg, &["-o", "json"], &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, _) = lines(&out);
    let mut targets: Vec<&str> = items.iter().map(|i| i.target.as_str()).collect();
    targets.sort();
    let d = dst.host();
    assert_eq!(
        targets,
        vec![
            format!("{d}/mirror/library/nginx:v1"),
            format!("{d}/mirror/team/app:v1"),
            format!("{d}/other/team/app:v1"),
        ]
    );
    for repo in ["mirror/library/nginx", "mirror/team/app", "other/team/app"] {
        assert_eq!(
            dst.tag_target(repo, "v1").as_deref(),
            Some(img.index.digest.as_str()),
            "{repo}"
        );
    }
    // Both keys in one entry: refused with the entry's line, nothing run.
    let bad = format!(
        "images:\n  - source: {s}/team/app\n    target: {d}/x\n    target-prefix: {d}/y\n    tags: [v1]\n",
        s = src.host(),
        d = dst.host()
    );
    let out = sync(dir.path(), &bad, &[], &[]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("mirror.yaml:2: images[0]: `target` and `target-prefix` exclude each other"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_pages_the_catalog_filters_and_maps_repositories() {
    let (src, dst) = (Registry::start(), Registry::start());
    let http = Http::new();
    let img = fixtures::single_manifest(LAYER);
    let repos = [
        "other/app",
        "team/api",
        "team/app",
        "team/app-test",
        "team/tool",
        "teamx/app",
    ];
    for repo in repos {
        fixtures::push_image(&http, &src.host(), repo, "v1", &img).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "images:\n  - source-registry: {s}/team\n    repositories: {{regex: '^team/a', exclude: ['-test$']}}\n    target-prefix: {d}/m\n    tags: {{regex: '^v'}}\n",
        s = src.host(),
        d = dst.host()
    );
    let env = [("MIRROR_CATALOG_PAGE_SIZE", "2")];
    let mark = src.mark();
    let out = sync(dir.path(), &cfg, &["--dry-run", "-o", "json"], &env).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, summary) = lines(&out);
    let catalog_gets = src
        .requests_since(mark)
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/v2/_catalog"))
        .count();
    assert_eq!(catalog_gets, 3, "6 repositories in pages of 2");
    assert_eq!(summary.discovered.len(), 1, "{out}");
    let found = &summary.discovered[0];
    assert_eq!(found.repositories, vec!["team/api", "team/app"]);
    assert_eq!((found.catalog_pages, found.catalog_repositories), (3, 6));
    assert_eq!(found.target_prefix, format!("{}/m", dst.host()));
    let mut targets: Vec<String> = items.iter().map(|i| i.target.clone()).collect();
    targets.sort();
    assert_eq!(
        targets,
        vec![
            format!("{}/m/team/api:v1", dst.host()),
            format!("{}/m/team/app:v1", dst.host())
        ]
    );
    // Human dry run says what was found.
    let out = sync(dir.path(), &cfg, &["--dry-run"], &env).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "discovered 2 of 6 repositories in {}/team (3 catalog page(s))",
            src.host()
        )),
        "{out}"
    );
    // The real run copies exactly those.
    let out = sync(dir.path(), &cfg, &[], &env).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(dst.tag_exists("m/team/api", "v1"));
    assert!(dst.tag_exists("m/team/app", "v1"));
    for not in [
        "m/team/app-test",
        "m/team/tool",
        "m/teamx/app",
        "m/other/app",
    ] {
        assert!(!dst.tag_exists(not, "v1"), "{not} must not be mirrored");
    }
}

/// A registry answering `GET /v2/` with 200 and `GET /v2/_catalog` with `status`.
async fn no_catalog_server(status: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                let req = String::from_utf8_lossy(&buf[..got]).into_owned();
                let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                let answer = if path == "/v2/" {
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".to_string()
                } else if status == 401 {
                    let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
                    format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"r\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                } else {
                    let body = r#"{"errors":[{"code":"NOT_FOUND","message":"not found"}]}"#;
                    format!("HTTP/1.1 {status} Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                };
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    host
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_answering_401_or_404_is_a_config_error_suggesting_a_list() {
    for status in [401u16, 404] {
        let host = no_catalog_server(status).await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = format!(
            "registries:\n  {host}:\n    plain-http: true\nimages:\n  - source-registry: {host}/team\n    target-prefix: 127.0.0.1:1/m\n    tags: [v1]\n"
        );
        let out = sync(dir.path(), &cfg, &["--dry-run"], &[]).await;
        assert_eq!(out.code, 2, "{status}: {out}");
        for needle in [
            "mirror.yaml:5: images[0].source-registry:",
            &format!("{host} does not serve its repository catalog"),
            &format!("GET /v2/_catalog answered {status}"),
            "list the repositories as `source:` entries instead",
        ] {
            assert!(
                out.stderr.contains(needle),
                "{status}: lacks {needle:?}: {out}"
            );
        }
    }
}

/// `promtool`: `$PROMTOOL_BIN`, then `$MIRROR_PEERS_DIR/bin`, then
/// `${XDG_CACHE_HOME:-~/.cache}/mirror-peers/bin` (where `scripts/install-peers` puts it), then PATH.
fn promtool() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("PROMTOOL_BIN") {
        return p.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")));
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::var_os("MIRROR_PEERS_DIR")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(cache.map(|c| c.join("mirror-peers")))
        .map(|d| d.join("bin"))
        .chain(std::env::split_paths(&path))
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`promtool` is not installed; run scripts/install-peers (Debian package prometheus)")
        })
}

/// `promtool check metrics` must accept the file without a lint problem.
fn promtool_check(file: &Path) {
    let text = std::fs::read(file).unwrap();
    let mut child = std::process::Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&text)
    );
}

/// `name{labels}` → value, for every sample of the file.
fn samples(file: &Path) -> std::collections::BTreeMap<String, f64> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_file_passes_promtool_matches_the_report_and_keeps_last_success() {
    let src = Registry::start();
    let dst = Registry::start();
    let http = Http::new();
    let img = fixtures::multi_arch_oci(LAYER);
    fixtures::push_image(&http, &src.host(), "team/app", "v1", &img).await;
    fixtures::push_image(&http, &src.host(), "team/app", "v2", &img).await;
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("mirror.prom");
    let prom_s = prom.to_str().unwrap();
    let cfg = format!(
        "images:\n  - source: {s}/team/app\n    target: {d}/m/app\n    tags: [v1, v2]\n  - source: {s}/team/none\n    target: {d}/m/none\n    tags: [v1]\n",
        s = src.host(),
        d = dst.host()
    );
    let out = sync(
        dir.path(),
        &cfg,
        &["-o", "json", "--metrics-file", prom_s],
        &[],
    )
    .await;
    assert_eq!(out.code, 6, "one item fails: {out}");
    promtool_check(&prom);
    let (items, summary) = lines(&out);
    let m = samples(&prom);
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in {m:#?}"));
    assert_eq!(get(r#"mirror_run_exit_code{command="sync"}"#), 6.0);
    assert_eq!(
        get(r#"mirror_items_total{command="sync",outcome="copied"}"#),
        summary.copied as f64
    );
    assert_eq!(
        get(r#"mirror_items_total{command="sync",outcome="failed"}"#),
        summary.failed as f64
    );
    assert_eq!(
        get(r#"mirror_blobs_total{command="sync",state="copied"}"#),
        summary.blobs_copied as f64
    );
    assert_eq!(
        get(r#"mirror_blob_bytes_total{command="sync",state="copied"}"#),
        summary.bytes_copied as f64
    );
    let existing: u64 = items.iter().map(|i| i.blobs.existing).sum();
    assert_eq!(
        get(r#"mirror_blobs_total{command="sync",state="existing"}"#),
        existing as f64
    );
    assert_eq!(
        get(r#"mirror_manifests_pushed_total{command="sync"}"#),
        summary.manifests_pushed as f64
    );
    assert_eq!(
        get(r#"mirror_rate_limit_pauses_total{command="sync"}"#),
        0.0
    );
    assert!(summary.blobs_copied > 0 && summary.manifests_pushed > 0);
    let (s, d) = (src.host(), dst.host());
    let key = |metric: &str, tag: &str| {
        format!(r#"{metric}{{image="{s}/team/app:{tag}",target="{d}/m/app:{tag}"}}"#)
    };
    let first_success = get(&key("mirror_image_last_success_timestamp_seconds", "v1"));
    assert!(first_success > 1.7e9);
    assert_eq!(
        get(&format!(
            r#"mirror_image_outcome{{image="{s}/team/app:v1",target="{d}/m/app:v1",outcome="copied"}}"#
        )),
        1.0
    );
    let failed = format!(r#"image="{s}/team/none:v1",target="{d}/m/none:v1""#);
    assert!(
        !m.contains_key(&format!(
            "mirror_image_last_success_timestamp_seconds{{{failed}}}"
        )),
        "a never-successful item has no last success"
    );
    assert_eq!(
        get(&format!(
            "mirror_image_outcome{{{failed},outcome=\"failed\"}}"
        )),
        1.0
    );
    assert!(!std::fs::read_to_string(&prom).unwrap().contains("sha256:"));
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp"))
            .count(),
        0,
        "no temporary file left"
    );

    // The source goes away: every item fails, the last success stays, the attempt moves on.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    drop(src);
    let out = sync(
        dir.path(),
        &cfg,
        &["-o", "json", "--metrics-file", prom_s, "--retries", "0"],
        &[],
    )
    .await;
    assert_eq!(out.code, 6, "{out}");
    promtool_check(&prom);
    let m2 = samples(&prom);
    let get2 = |k: &str| *m2.get(k).unwrap_or_else(|| panic!("no {k} in {m2:#?}"));
    assert_eq!(
        get2(&key("mirror_image_last_success_timestamp_seconds", "v1")),
        first_success
    );
    assert!(get2(&key("mirror_image_last_attempt_timestamp_seconds", "v1")) > first_success);
    assert_eq!(
        get2(r#"mirror_items_total{command="sync",outcome="failed"}"#),
        3.0
    );

    // copy and verify write the same families; a copy's numbers match its JSON report.
    let copy_prom = dir.path().join("copy.prom");
    let out = crate::harness::mirror_async(&[
        "copy",
        &format!("{d}/m/app:v1"),
        &format!("{d}/c/app:v1"),
        "-o",
        "json",
        "--metrics-file",
        copy_prom.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    promtool_check(&copy_prom);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let m3 = samples(&copy_prom);
    assert_eq!(
        m3[r#"mirror_blobs_total{command="copy",state="mounted"}"#]
            + m3[r#"mirror_blobs_total{command="copy",state="copied"}"#],
        (report["blobs"]["mounted"].as_u64().unwrap() + report["blobs"]["copied"].as_u64().unwrap())
            as f64
    );
    assert_eq!(
        m3[r#"mirror_manifests_pushed_total{command="copy"}"#],
        report["manifests_pushed"].as_u64().unwrap() as f64
    );
    let verify_prom = dir.path().join("verify.prom");
    let out = crate::harness::mirror_async(&[
        "verify",
        &format!("{d}/m/app:v1"),
        &format!("{d}/c/app:v1"),
        "--metrics-file",
        verify_prom.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    promtool_check(&verify_prom);
    let m4 = samples(&verify_prom);
    assert_eq!(
        m4[r#"mirror_items_total{command="verify",outcome="complete"}"#],
        1.0
    );
    assert_eq!(m4[r#"mirror_run_exit_code{command="verify"}"#], 0.0);
}

/// The `<!-- docs-test: NAME -->` examples of docs/sync.md: the YAML block after the marker is
/// the configuration, the `sh` block after it the commands (run with `sh -c`, `mirror` on PATH).
/// Host names and directories are replaced by local ones.
#[tokio::test(flavor = "multi_thread")]
async fn sync_md_unattended_examples_run() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sync.md"))
        .unwrap();
    let (src, dst) = (Registry::start(), Registry::start());
    let http = Http::new();
    let img = fixtures::single_manifest(LAYER);
    for repo in ["team/app", "team/api", "team/app-test", "library/nginx"] {
        fixtures::push_image(&http, &src.host(), repo, "v1", &img).await;
    }
    let work = tempfile::tempdir().unwrap();
    let textfile = work.path().join("textfile");
    let state = work.path().join("state");
    let bin = work.path().join("bin");
    for d in [&textfile, &state, &bin] {
        std::fs::create_dir(d).unwrap();
    }
    std::os::unix::fs::symlink(crate::harness::mirror_bin(), bin.join("mirror")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let subst = |t: &str| {
        t.replace("registry.example.com", &src.host())
            .replace("registry.internal", &dst.host())
            .replace(
                "/var/lib/node_exporter/textfile",
                textfile.to_str().unwrap(),
            )
            .replace("/var/lib/mirror", state.to_str().unwrap())
    };
    let block = |from: &str, fence: &str| -> String {
        let start = from
            .find(fence)
            .unwrap_or_else(|| panic!("no {fence} block"))
            + fence.len();
        let end = from[start..].find("```").unwrap();
        from[start..start + end].to_string()
    };
    let mut ran = vec![];
    for part in doc.split("<!-- docs-test: ").skip(1) {
        let name = &part[..part.find(" -->").unwrap()];
        let yaml = block(part, "```yaml\n");
        let after_yaml = &part[part.find("```yaml\n").unwrap() + 8..];
        let after_yaml = &after_yaml[after_yaml.find("```").unwrap() + 3..];
        let sh = block(after_yaml, "```sh\n");
        std::fs::write(work.path().join("mirror.yaml"), subst(&yaml)).unwrap();
        for line in sh.lines().filter(|l| l.starts_with("mirror ")) {
            let out = tokio::process::Command::new("sh")
                .args(["-c", &subst(line)])
                .current_dir(work.path())
                .env("PATH", &path)
                .env("MIRROR_TEST", "1")
                .env("NO_COLOR", "1")
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "docs/sync.md {name}: `{line}` failed: {}\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        match name {
            "prefix" => {
                assert!(dst.tag_exists("mirror/library/nginx", "v1"));
                assert!(dst.tag_exists("mirror/team/app", "v1"));
            }
            "discovery" => {
                assert!(dst.tag_exists("mirror/team/api", "v1"));
                assert!(!dst.tag_exists("mirror/team/app-test", "v1"));
            }
            "metrics" => {
                for f in ["mirror.prom", "mirror-copy.prom"] {
                    promtool_check(&textfile.join(f));
                }
                // The abridged file shown in the doc is what the run wrote.
                let shown = block(after_yaml, "```text\n");
                let real = std::fs::read_to_string(textfile.join("mirror.prom")).unwrap();
                for l in shown.lines() {
                    let l = subst(l);
                    let want = if l.starts_with("mirror_image_last_success") {
                        l.rsplit_once(' ').unwrap().0.to_string()
                    } else {
                        l
                    };
                    assert!(
                        real.lines().any(|r| r.starts_with(&want)),
                        "docs/sync.md shows {want:?}; the file has:\n{real}"
                    );
                }
            }
            "hooks" => {
                let changed = state.join(format!(
                    "changed-{}_hooked_app_v1.json",
                    dst.host().replace(':', "_")
                ));
                let item: ItemReport =
                    serde_json::from_slice(&std::fs::read(&changed).unwrap()).unwrap();
                assert_eq!(item.source, format!("{}/team/app:v1", src.host()));
                let log = std::fs::read_to_string(state.join("failures.log")).unwrap();
                assert_eq!(
                    log.trim(),
                    format!("{}/team/app:missing failed", src.host())
                );
                let copy: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(state.join("copy.json")).unwrap())
                        .unwrap();
                assert_eq!(copy["source_digest"], img.index.digest.as_str());
            }
            other => panic!("docs/sync.md: unknown docs-test {other}"),
        }
        ran.push(name.to_string());
    }
    assert_eq!(ran, vec!["prefix", "discovery", "metrics", "hooks"]);
}
