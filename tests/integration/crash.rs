//! Crash safety: `mirror` is killed with SIGKILL (no cleanup possible) at random moments of a
//! copy, to a real registry and to an `oci:` layout. After each kill:
//! - no tag points at an image with a missing child manifest or blob;
//! - the layout's `index.json` parses;
//! - a rerun completes and the target ends byte-identical to the source.
//!
//! The proxies add a little latency to every request so the copy is spread out in time and the
//! kills land in every phase (before any write, among blobs, among manifests, after the tag).
//! The moments come from a seeded generator, counted in requests seen by a proxy (plus a small
//! delay) relative to an undisturbed calibration copy, half of them in the manifest/tag phase.
//! At least half of the planned kills must interrupt a running copy (the test fails otherwise:
//! kills that land after the process exited test nothing).
//! Knobs (env): `MIRROR_CRASH_KILLS` (default 20), `MIRROR_CRASH_SEED` (default 11).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::fault_proxy::{FaultConfig, FaultProxy, Seen};
use crate::faults::{check_full_copy, seeded_source};
use crate::fixtures::{self, Image};
use crate::harness::{mirror_async, mirror_bin, Registry};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A seeded generator of uniform numbers in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        let x = &mut self.0;
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        (*x >> 11) as f64 / (1u64 << 53) as f64
    }
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        (lo + ((hi - lo + 1) as f64 * self.next()) as usize).min(hi)
    }
}

/// When to kill: once the proxy has seen `requests` more requests, plus `delay`.
#[derive(Debug, Clone, Copy)]
struct Moment {
    requests: usize,
    delay: Duration,
}

/// Run `mirror ARGS` and SIGKILL it at `m` (if it is still running). Returns whether it was
/// killed. Moments are counted in requests rather than time, so they land in the same phase
/// however fast the machine is.
async fn kill_at(args: &[String], proxy: &FaultProxy, m: Moment) -> bool {
    let base = proxy.seen().len();
    let mut child = tokio::process::Command::new(mirror_bin())
        .args(args)
        .env("MIRROR_TEST", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if proxy.seen().len() - base >= m.requests {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(m.delay).await;
    if child.try_wait().unwrap().is_some() {
        return false;
    }
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    true
}

/// What a killed copy left on a layout: `Err` if the invariants do not hold.
fn check_layout_after_kill(dir: &Path, img: &Image) -> Result<&'static str, String> {
    let index = dir.join("index.json");
    if !index.exists() {
        return Ok("nothing written");
    }
    let text = std::fs::read(&index).map_err(|e| e.to_string())?;
    let v: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("index.json does not parse: {e}"))?;
    let entries = v["manifests"]
        .as_array()
        .ok_or("index.json has no manifests")?;
    let tagged = entries
        .iter()
        .any(|e| e["annotations"]["org.opencontainers.image.ref.name"] == "v1");
    if !tagged {
        return Ok("untagged");
    }
    let blob = |d: &str| {
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    for m in img.all_manifests() {
        if std::fs::read(blob(&m.digest)).ok().as_deref() != Some(&m.bytes[..]) {
            return Err(format!(
                "tagged, but manifest {} is missing or wrong",
                m.digest
            ));
        }
    }
    for b in img.all_blobs() {
        if std::fs::read(blob(&b.digest)).ok().as_deref() != Some(&b.bytes[..]) {
            return Err(format!("tagged, but blob {} is missing or wrong", b.digest));
        }
    }
    Ok("tagged and complete")
}

/// Same for a registry repository.
async fn check_registry_after_kill(
    dst: &Registry,
    repo: &str,
    img: &Image,
) -> Result<&'static str, String> {
    if !dst.tag_exists(repo, "v1") {
        let manifests = img
            .all_manifests()
            .iter()
            .filter(|m| dst.manifest_revision_exists(repo, &m.digest))
            .count();
        return Ok(match (dst.any_layer_links(repo), manifests) {
            (0, 0) => "nothing written",
            (_, 0) => "untagged, some blobs",
            _ => "untagged, blobs and manifests",
        });
    }
    if dst.tag_target(repo, "v1").as_deref() != Some(img.index.digest.as_str()) {
        return Err("the tag points at another digest".into());
    }
    check_full_copy(dst, repo, "v1", img)
        .await
        .map(|_| "tagged and complete")
        .map_err(|e| format!("tagged, but {e}"))
}

fn layout_matches(dir: &Path, img: &Image) -> Result<(), String> {
    match check_layout_after_kill(dir, img)? {
        "tagged and complete" => {}
        other => return Err(format!("after the rerun: {other}")),
    }
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let entries = v["manifests"].as_array().unwrap();
    if entries.len() != 1 || entries[0]["digest"] != img.index.digest.as_str() {
        return Err(format!("index.json lists {entries:?}"));
    }
    Ok(())
}

fn temp_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy().starts_with(".tmp-") {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_never_leaves_a_tag_on_an_incomplete_image() {
    let kills: usize = env("MIRROR_CRASH_KILLS", 20);
    let seed: u64 = env("MIRROR_CRASH_SEED", 11);
    let img = fixtures::multi_arch_oci(32 * 1024);
    let src = seeded_source(&img).await;
    let dst = Registry::start();
    let slow = |ms| FaultConfig {
        latency: Duration::from_millis(ms),
        ..FaultConfig::default()
    };
    let sp = FaultProxy::start(&src.host(), slow(4)).await;
    let dp = FaultProxy::start(&dst.host(), slow(4)).await;
    let source = format!("{}/team/app:v1", sp.host());
    let work = tempfile::tempdir().unwrap();

    for target in ["registry", "layout"] {
        let dest = |k: &str| match target {
            "registry" => format!("{}/crash/{k}:v1", dp.host()),
            _ => format!("oci:{}:v1", work.path().join(k).display()),
        };
        // Calibrate on an undisturbed copy: how many requests the watched proxy sees
        // (target side for a registry, source side for a layout), and where the manifest
        // phase is (registry: first manifest PUT to the tag PUT; layout: after the last source
        // request, while manifests and index.json are written locally).
        let proxy = if target == "registry" { &dp } else { &sp };
        let (base, t0, p0) = (proxy.seen().len(), Instant::now(), proxy.elapsed());
        let out = mirror_async(&["copy", &source, &dest("calibration")]).await;
        assert_eq!(out.code, 0, "{out}");
        let span = t0.elapsed();
        let seen = proxy.seen()[base..].to_vec();
        let total = seen.len();
        let put = |s: &Seen, part: &str| s.method == "PUT" && s.target.contains(part);
        let mut rng = Rng(seed.max(1));
        let plan: Vec<Moment> = (0..kills)
            .map(|i| {
                let jitter = Duration::from_micros((rng.next() * 8000.0) as u64);
                if i % 2 == 0 {
                    // Anywhere in the copy.
                    let requests = rng.between(1, total);
                    Moment {
                        requests,
                        delay: jitter,
                    }
                } else if target == "registry" {
                    let first = seen.iter().position(|s| put(s, "/manifests/sha256:"));
                    let tag = seen.iter().rposition(|s| put(s, "/manifests/v1"));
                    let requests = rng.between(first.unwrap() + 1, tag.unwrap() + 1);
                    Moment {
                        requests,
                        delay: jitter,
                    }
                } else {
                    let tail = span.saturating_sub(seen.last().unwrap().at - p0);
                    let delay = tail.mul_f64(rng.next() * 1.2);
                    Moment {
                        requests: total,
                        delay,
                    }
                }
            })
            .collect();
        let mut outcomes: Vec<String> = vec![];
        let mut interrupted = 0usize;
        for (k, m) in plan.into_iter().enumerate() {
            let name = format!("kill{k}");
            let args = vec!["copy".to_string(), source.clone(), dest(&name)];
            let killed = kill_at(&args, proxy, m).await;
            interrupted += usize::from(killed);
            let at = format!("request {} + {} µs", m.requests, m.delay.as_micros());
            let dir = work.path().join(&name);
            let state = match target {
                "registry" => check_registry_after_kill(&dst, &format!("crash/{name}"), &img).await,
                _ => check_layout_after_kill(&dir, &img),
            }
            .unwrap_or_else(|e| panic!("{target}, SIGKILL at {at}: {e}"));
            let temps = if target == "layout" {
                temp_files(&dir)
            } else {
                0
            };
            // The rerun finishes the job.
            let out = mirror_async(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
            assert_eq!(out.code, 0, "{target}, rerun after SIGKILL at {at}: {out}");
            match target {
                "registry" => check_full_copy(&dst, &format!("crash/{name}"), "v1", &img).await,
                _ => layout_matches(&dir, &img),
            }
            .unwrap_or_else(|e| panic!("{target}, rerun after SIGKILL at {at}: {e}"));
            outcomes.push(format!(
                "{at:>24}: {}{}",
                if killed {
                    state
                } else {
                    "finished before the kill"
                },
                if temps > 0 {
                    format!(" ({temps} temp file(s) left)")
                } else {
                    String::new()
                }
            ));
        }
        eprintln!(
            "crash test, {target} target ({} ms and {total} requests per copy): {interrupted} of {kills} kills interrupted a running copy\n  {}",
            span.as_millis(),
            outcomes.join("\n  ")
        );
        // A kill that lands after the copy exited tests nothing: most must land mid-copy.
        assert!(
            interrupted * 2 >= kills,
            "{target}: only {interrupted} of {kills} kills interrupted a running copy:\n  {}",
            outcomes.join("\n  ")
        );
    }
}
