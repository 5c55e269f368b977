//! SIGINT / SIGTERM during a large blob transfer: exit 130, upload sessions cancelled, no
//! temp files left, no tag. The fault proxy throttles the transfer so the signal lands while
//! the upload (or download) is in flight.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::fault_proxy::{FaultConfig, FaultProxy, Seen};
use crate::fixtures;
use crate::harness::{mirror_bin, Http, Registry};

const BIG: usize = 16 * 1024 * 1024;

/// Start `mirror ARGS`, wait until `ready` holds for the proxy's requests, then send `signal`;
/// returns (exit code, stderr).
pub(crate) async fn interrupt_when(
    args: &[String],
    proxy: &FaultProxy,
    ready: impl Fn(&[Seen]) -> bool,
    signal: &str,
) -> (Option<i32>, String) {
    let mut child = tokio::process::Command::new(mirror_bin())
        .args(args)
        .env("MIRROR_TEST", "1")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(&proxy.seen()) {
        assert!(Instant::now() < deadline, "the transfer never started");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("mirror ended before the signal: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the body flow for a moment: the signal lands mid-transfer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let signalled = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("mirror did not exit within 20 s of the signal")
        .unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(8),
        "cleanup took {:?}",
        signalled.elapsed()
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn files_named(dir: &Path, prefix: &str) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().starts_with(prefix) {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// SIGINT while two 16 MiB layers are being uploaded. Two deployments of the same real
/// registry: behind a proxy that buffers request bodies (nginx's default,
/// `proxy_request_buffering on`) and directly.
///
/// Either way: exit 130, a DELETE for every upload session that did not complete, nothing
/// committed, no manifest, no tag. Behind the buffering proxy the registry never saw the
/// abandoned bytes, so the DELETE answers 204 and the session is gone from its storage.
/// Directly, distribution 2.8 has already stored part of the body; its `_state` token still
/// says offset 0, so it answers the DELETE with 404 BLOB_UPLOAD_INVALID and (a registry bug:
/// `ResumeBlobUpload` closes the writer before `Cancel`) keeps the partial data until its
/// upload purger runs. The test states that instead of hiding it.
#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_a_large_upload_cancels_the_session_and_exits_130() {
    let img = fixtures::single_manifest(BIG);
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "big", "v1", &img).await;
    let dst = Registry::start();
    let layers: Vec<String> = img
        .index
        .layers()
        .iter()
        .map(|b| b.digest.clone())
        .collect();
    for buffering in [true, false] {
        let cfg = FaultConfig {
            throttle: Some(2 * 1024 * 1024),
            buffer_requests: buffering,
            ..FaultConfig::default()
        };
        let dp = FaultProxy::start(&dst.host(), cfg).await;
        let repo = if buffering {
            "buffered/big"
        } else {
            "direct/big"
        };
        let args = vec![
            "copy".to_string(),
            format!("{}/big:v1", src.host()),
            format!("{}/{repo}:v1", dp.host()),
        ];
        let uploading = |seen: &[Seen]| {
            seen.iter().any(|s| {
                s.method == "PUT"
                    && layers
                        .iter()
                        .any(|l| s.target.ends_with(&format!("digest={l}")))
            })
        };
        let (code, stderr) = interrupt_when(&args, &dp, uploading, "INT").await;
        let how = if buffering {
            "behind a buffering proxy"
        } else {
            "direct"
        };
        assert_eq!(code, Some(130), "{how}: {stderr}");
        assert!(stderr.contains("interrupted"), "{how}: {stderr}");
        assert!(
            stderr.contains("run the same command again"),
            "{how}: {stderr}"
        );

        // Every session opened was completed (201) or cancelled with a DELETE.
        let seen = dp.seen();
        let show = || {
            seen.iter()
                .map(|s| {
                    format!(
                        "{} {} {:?}",
                        s.method,
                        &s.target[..s.target.len().min(80)],
                        s.status
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let sessions: Vec<String> = seen
            .iter()
            .filter(|s| s.method == "POST" && s.status == Some(202))
            .filter_map(|s| s.location.clone())
            .map(|l| {
                l.split('?')
                    .next()
                    .unwrap()
                    .split("/v2/")
                    .nth(1)
                    .unwrap()
                    .to_string()
            })
            .collect();
        let mut deletes = vec![];
        for id in &sessions {
            let completed = seen.iter().any(|s| {
                s.method == "PUT" && s.target.contains(id.as_str()) && s.status == Some(201)
            });
            let delete = seen
                .iter()
                .find(|s| s.method == "DELETE" && s.target.contains(id.as_str()));
            assert!(
                completed || delete.is_some(),
                "{how}: session {id} left open:\n{}",
                show()
            );
            deletes.extend(delete.map(|d| d.status));
        }
        assert!(
            !deletes.is_empty(),
            "{how}: no upload was in flight:\n{}",
            show()
        );
        for l in &layers {
            assert!(
                !dst.blob_uploaded(repo, l),
                "{how}: layer {l} was committed"
            );
        }
        assert!(
            !dst.manifest_revision_exists(repo, &img.index.digest),
            "{how}"
        );
        assert!(!dst.tag_exists(repo, "v1"), "{how}");
        // What the registry still holds for this repository's uploads: sessions with data.
        let uploads = dst
            .storage_dir()
            .join(format!("docker/registry/v2/repositories/{repo}/_uploads"));
        let with_data: Vec<String> = std::fs::read_dir(&uploads)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("data").exists() || e.path().join("startedat").exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if buffering {
            assert!(
                deletes.iter().all(|s| *s == Some(204)),
                "{how}: {deletes:?}\n{}",
                show()
            );
            // distribution re-creates an empty `hashstates/` stub after a cancel; the session
            // itself (data, startedat) is gone and the registry no longer knows it.
            assert!(
                with_data.is_empty(),
                "{how}: sessions left in {}: {with_data:?}",
                uploads.display()
            );
            for d in seen.iter().filter(|s| s.method == "DELETE") {
                let url = format!("{}{}", dst.url(), d.target);
                let status = Http::new().client.get(&url).send().await.unwrap().status();
                assert_eq!(status, 404, "{how}: the cancelled session still answers");
            }
        } else {
            eprintln!(
                "direct to distribution 2.8: DELETE answered {deletes:?}; {} partial session(s) stay in _uploads until the registry purges them",
                with_data.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_large_download_to_a_layout_leaves_no_temp_files() {
    let img = fixtures::single_manifest(BIG);
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "big", "v1", &img).await;
    let cfg = FaultConfig {
        throttle: Some(2 * 1024 * 1024),
        ..FaultConfig::default()
    };
    let sp = FaultProxy::start(&src.host(), cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let layers: Vec<String> = img
        .index
        .layers()
        .iter()
        .map(|b| b.digest.clone())
        .collect();
    let metrics = tempfile::tempdir().unwrap();
    let metrics_file = metrics.path().join("mirror.prom");
    let args = vec![
        "copy".to_string(),
        format!("{}/big:v1", sp.host()),
        format!("oci:{}:v1", dir.path().display()),
        "--metrics-file".to_string(),
        metrics_file.display().to_string(),
    ];
    // Ready once the big layer is being written to its temp file in the layout.
    let downloading = |seen: &[Seen]| {
        seen.iter()
            .any(|s| s.method == "GET" && layers.iter().any(|l| s.target.ends_with(l.as_str())))
            && !files_named(dir.path(), ".tmp-").is_empty()
    };
    let (code, stderr) = interrupt_when(&args, &sp, downloading, "TERM").await;
    assert_eq!(code, Some(130), "{stderr}");
    // A cron job's monitoring sees the interrupted run: the metrics file names its exit code.
    let prom = std::fs::read_to_string(&metrics_file)
        .unwrap_or_else(|e| panic!("no metrics file after the interrupt ({e}): {stderr}"));
    assert!(
        prom.lines()
            .any(|l| l.starts_with("mirror_run_exit_code{") && l.ends_with(" 130")),
        "{prom}"
    );
    let temps = files_named(dir.path(), ".tmp-");
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"],
        serde_json::json!([]),
        "a tag was written"
    );
    for l in &layers {
        let hex = l.strip_prefix("sha256:").unwrap();
        assert!(
            !dir.path().join("blobs/sha256").join(hex).exists(),
            "layer {l} written"
        );
    }
}

/// The same for `mirror sync`: the running item cancels its uploads, no other item starts,
/// exit 130.
#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_a_sync_cancels_the_upload_and_exits_130() {
    let img = fixtures::single_manifest(BIG);
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "big", "v1", &img).await;
    let dst = Registry::start();
    let cfg = FaultConfig {
        throttle: Some(2 * 1024 * 1024),
        buffer_requests: true,
        ..FaultConfig::default()
    };
    let dp = FaultProxy::start(&dst.host(), cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mirror.yaml");
    std::fs::write(
        &file,
        format!(
            "images:\n  - source: {s}/big\n    target: {d}/s/one\n    tags: [v1]\n  - source: {s}/big\n    target: {d}/s/two\n    tags: [v1]\n",
            s = src.host(),
            d = dp.host()
        ),
    )
    .unwrap();
    let args = vec![
        "sync".to_string(),
        "-f".to_string(),
        file.display().to_string(),
        "--parallel".to_string(),
        "1".to_string(),
    ];
    let uploading = |seen: &[Seen]| {
        seen.iter().any(|s| {
            s.method == "PUT"
                && s.target.contains("/blobs/uploads/")
                && s.target.contains("digest=")
                && s.status.is_none()
        })
    };
    let (code, stderr) = interrupt_when(&args, &dp, uploading, "INT").await;
    assert_eq!(code, Some(130), "{stderr}");
    let seen = dp.seen();
    let deletes: Vec<&Seen> = seen.iter().filter(|s| s.method == "DELETE").collect();
    assert!(
        !deletes.is_empty(),
        "no upload session was cancelled: {seen:#?}"
    );
    assert!(
        deletes.iter().all(|d| d.status == Some(204)),
        "{deletes:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.target.starts_with("/v2/s/two/") && s.method != "HEAD" && s.method != "GET"),
        "the second item started after the interrupt"
    );
    assert!(!dst.tag_exists("s/one", "v1") && !dst.tag_exists("s/two", "v1"));
}
