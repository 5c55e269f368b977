//! Retries under injected faults: the fault proxy in front of real distribution 2.8 registries.
//!
//! Each test copies the multi-arch fixture from a real registry to a real registry, with a
//! [`FaultProxy`] in front of one or both, and then checks the target directly (not through the
//! proxy): byte-identical index, every child manifest and blob present.

use std::time::Duration;

use crate::fault_proxy::{Fault, FaultConfig, FaultProxy, Rule, Seen, ALL_FAULTS};
use crate::fixtures::{self, Image};
use crate::harness::{mirror_async, Http, Registry};

pub const LAYER: usize = 8 * 1024;

/// A source registry holding `img` as `team/app:v1`.
pub async fn seeded_source(img: &Image) -> Registry {
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", img).await;
    src
}

/// Whether `repo:tag` on `dst` is a complete, byte-identical copy of `img`; the reason if not.
pub async fn check_full_copy(
    dst: &Registry,
    repo: &str,
    tag: &str,
    img: &Image,
) -> Result<(), String> {
    let http = Http::new();
    let (status, ct, bytes) = http.get_manifest(&dst.host(), repo, tag).await;
    if status != 200 {
        return Err(format!("tag {repo}:{tag}: HTTP {status}"));
    }
    if ct.as_deref() != Some(img.index.media_type.as_str()) || bytes[..] != img.index.bytes[..] {
        return Err(format!("tag {repo}:{tag}: index bytes or type differ"));
    }
    for m in img.all_manifests() {
        let (s, _, b) = http.get_manifest(&dst.host(), repo, &m.digest).await;
        if s != 200 || b[..] != m.bytes[..] {
            return Err(format!("manifest {}: HTTP {s} or bytes differ", m.digest));
        }
    }
    for b in img.all_blobs() {
        let (s, body) = http.get_blob(&dst.host(), repo, &b.digest).await;
        if s != 200 || body[..] != b.bytes[..] {
            return Err(format!("blob {}: HTTP {s} or bytes differ", b.digest));
        }
    }
    Ok(())
}

/// A rule for the first request of each kind a copy makes, on the source and target sides.
fn first_of_each(fault: Fault) -> (Vec<Rule>, Vec<Rule>) {
    let rule = |method, part: &str| Rule {
        method,
        path_contains: part.to_string(),
        nth: 1,
        fault,
    };
    let src = vec![
        rule("GET", "/v2/"),
        rule("GET", "/manifests/v1"),
        rule("GET", "/manifests/sha256:"),
        rule("GET", "/blobs/sha256:"),
    ];
    let dst = vec![
        rule("GET", "/v2/"),
        rule("HEAD", "/manifests/v1"),
        rule("HEAD", "/blobs/sha256:"),
        // Once a mount of an uploaded blob from the target repository itself answered 201 (the
        // first such POST), a cold copy asks for each further blob with such a POST.
        Rule {
            method: "POST",
            path_contains: "&from=".to_string(),
            nth: 2,
            fault,
        },
        rule("POST", "/blobs/uploads/"),
        rule("PUT", "/blobs/uploads/"),
        rule("HEAD", "/manifests/sha256:"),
        rule("PUT", "/manifests/sha256:"),
        rule("PUT", "/manifests/v1"),
    ];
    (src, dst)
}

/// Every fault kind, injected once into every kind of request on both sides: each copy still
/// ends byte-identical, and the proxies saw the faults they were told to inject.
#[tokio::test(flavor = "multi_thread")]
async fn every_fault_kind_on_every_request_kind_is_survived() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = seeded_source(&img).await;
    let dst = Registry::start();
    for (n, fault) in ALL_FAULTS.into_iter().enumerate() {
        let (src_rules, dst_rules) = first_of_each(fault);
        let sp = FaultProxy::start(&src.host(), FaultConfig::rules(src_rules)).await;
        let dp = FaultProxy::start(&dst.host(), FaultConfig::rules(dst_rules)).await;
        let repo = format!("kind/{n}");
        let out = mirror_async(&[
            "copy",
            &format!("{}/team/app:v1", sp.host()),
            &format!("{}/{repo}:v1", dp.host()),
        ])
        .await;
        assert_eq!(out.code, 0, "{fault:?}: {out}");
        let injected = |seen: &[Seen]| seen.iter().filter(|s| s.fault.is_some()).count();
        assert!(
            injected(&sp.seen()) >= 4 && injected(&dp.seen()) >= 8,
            "{fault:?}: faults not injected: source {}, target {}",
            sp.fault_summary(),
            dp.fault_summary()
        );
        check_full_copy(&dst, &repo, "v1", &img)
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}\n{out}"));
    }
}

/// A clean proxy changes nothing: the copy goes through it byte-identically.
#[tokio::test(flavor = "multi_thread")]
async fn copy_through_a_clean_proxy_is_byte_identical() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = seeded_source(&img).await;
    let dst = Registry::start();
    let sp = FaultProxy::start(&src.host(), FaultConfig::default()).await;
    let dp = FaultProxy::start(&dst.host(), FaultConfig::default()).await;
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", sp.host()),
        &format!("{}/m/app:v1", dp.host()),
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    check_full_copy(&dst, "m/app", "v1", &img).await.unwrap();
    // Every upload went through the proxy (Location rewritten to it).
    let puts = dp
        .seen()
        .into_iter()
        .filter(|s| s.method == "PUT" && s.target.contains("/blobs/uploads/"))
        .count();
    assert_eq!(puts, img.all_blobs().len());
    let _ = Duration::ZERO;
}

fn rule(method: &'static str, part: &str, nth: usize, fault: Fault) -> Rule {
    Rule {
        method,
        path_contains: part.to_string(),
        nth,
        fault,
    }
}

fn requests<'a>(seen: &'a [Seen], method: &str, part: &str) -> Vec<&'a Seen> {
    seen.iter()
        .filter(|s| s.method == method && s.target.contains(part))
        .collect()
}

/// A blob download that breaks off (reset mid-body, or a short body) continues with `Range`
/// from where it stopped instead of starting over; the digest still covers the whole blob.
#[tokio::test(flavor = "multi_thread")]
async fn blob_downloads_resume_with_range() {
    let img = fixtures::multi_arch_oci(256 * 1024);
    let src = seeded_source(&img).await;
    let layer = img.child("linux/amd64").layers()[1].clone();
    for fault in [Fault::Reset, Fault::Truncate] {
        let cfg = FaultConfig::rules(vec![rule("GET", &layer.digest, 1, fault)]);
        let sp = FaultProxy::start(&src.host(), cfg).await;
        let dir = tempfile::tempdir().unwrap();
        let out = mirror_async(&[
            "copy",
            &format!("{}/team/app:v1", sp.host()),
            &format!("oci:{}:v1", dir.path().display()),
            "-p",
            "linux/amd64",
        ])
        .await;
        assert_eq!(out.code, 0, "{fault:?}: {out}");
        let seen = sp.seen();
        let gets = requests(&seen, "GET", &layer.digest);
        assert_eq!(gets.len(), 2, "{fault:?}: {gets:#?}");
        assert_eq!(gets[0].fault, Some(fault));
        let range = gets[1]
            .range
            .as_deref()
            .unwrap_or_else(|| panic!("{fault:?}: the second GET has no Range header: {gets:#?}"));
        let from: u64 = range
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{fault:?}: Range {range:?}"));
        assert!(
            from > 0 && from < layer.bytes.len() as u64,
            "{fault:?}: {range}"
        );
        assert_eq!(
            gets[1].status,
            Some(206),
            "{fault:?}: the registry served the range"
        );
        let hex = layer.digest.strip_prefix("sha256:").unwrap();
        let stored = std::fs::read(dir.path().join("blobs/sha256").join(hex)).unwrap();
        assert!(stored == layer.bytes, "{fault:?}: the resumed blob differs");
    }
}

/// A blob upload that fails mid-body is cancelled (DELETE of its session) and restarted from
/// a fresh source stream in a NEW upload session; the half-sent body is never reused.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_upload_restarts_in_a_fresh_session() {
    let img = fixtures::multi_arch_oci(64 * 1024);
    let src = seeded_source(&img).await;
    let dst = Registry::start();
    let cfg = FaultConfig::rules(vec![rule("PUT", "/blobs/uploads/", 1, Fault::Reset)]);
    let dp = FaultProxy::start(&dst.host(), cfg).await;
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/m/app:v1", dp.host()),
        "--jobs",
        "1",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    check_full_copy(&dst, "m/app", "v1", &img).await.unwrap();
    let seen = dp.seen();
    let puts = requests(&seen, "PUT", "/blobs/uploads/");
    let failed = puts[0];
    assert_eq!(failed.fault, Some(Fault::Reset));
    let session = |s: &Seen| s.target.split('?').next().unwrap().to_string();
    let digest = failed.target.split("digest=").nth(1).unwrap().to_string();
    let retry = puts[1..]
        .iter()
        .find(|s| s.target.ends_with(&format!("digest={digest}")))
        .expect("the blob was uploaded again");
    assert_ne!(
        session(retry),
        session(failed),
        "the retry reused the session"
    );
    assert_eq!(retry.status, Some(201));
    let deletes = requests(&seen, "DELETE", &session(failed));
    assert_eq!(
        deletes.len(),
        1,
        "the broken session was cancelled: {seen:#?}"
    );
    assert_eq!(deletes[0].status, Some(204));
    // One session (a POST answered 202) per upload attempt: a new session for the retry. (The
    // one POST answered 201 is the check of the blob probe after the first upload.)
    let posts = requests(&seen, "POST", "/blobs/uploads/");
    let opened = posts.iter().filter(|s| s.status == Some(202)).count();
    assert_eq!(opened, puts.len(), "{seen:#?}");
    assert_eq!(posts.len(), puts.len() + 1, "{seen:#?}");
}

const MANIFEST_BLOB_UNKNOWN_500: &str = r#"{"errors":[{"code":"UNKNOWN","message":"unknown error"},{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}"#;
const MANIFEST_INVALID_400: &str =
    r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}"#;
const DENIED_403: &str =
    r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#;
const UNAUTHORIZED_401: &str =
    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
const BLOB_UNKNOWN_404: &str =
    r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#;

/// 400, 401, 403, 404 and a 500 carrying MANIFEST_BLOB_UNKNOWN are answers, not accidents:
/// exactly one attempt, the registry's code in the message, the documented exit code, no tag.
#[tokio::test(flavor = "multi_thread")]
async fn non_retryable_answers_fail_fast_with_the_registry_code() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = seeded_source(&img).await;
    let dst = Registry::start();
    let child = img.child("linux/amd64").digest.clone();
    let layer = img.child("linux/amd64").layers()[1].digest.clone();
    // (side, method, path part, status, body, exit code, text in stderr)
    let cases: Vec<(&str, &'static str, String, u16, &'static str, i32, &str)> = vec![
        (
            "dst",
            "PUT",
            "/manifests/v1".into(),
            500,
            MANIFEST_BLOB_UNKNOWN_500,
            1,
            "MANIFEST_BLOB_UNKNOWN",
        ),
        (
            "dst",
            "PUT",
            format!("/manifests/{child}"),
            400,
            MANIFEST_INVALID_400,
            1,
            "MANIFEST_INVALID",
        ),
        (
            "dst",
            "POST",
            "/blobs/uploads/".into(),
            403,
            DENIED_403,
            5,
            "DENIED",
        ),
        (
            "dst",
            "PUT",
            "/manifests/v1".into(),
            401,
            UNAUTHORIZED_401,
            5,
            "UNAUTHORIZED",
        ),
        (
            "src",
            "GET",
            format!("/blobs/{layer}"),
            404,
            BLOB_UNKNOWN_404,
            1,
            "BLOB_UNKNOWN",
        ),
    ];
    for (n, (side, method, part, status, body, code, text)) in cases.into_iter().enumerate() {
        let r = vec![rule(method, &part, 0, Fault::Canned(status, body))];
        let (scfg, dcfg) = if side == "src" {
            (FaultConfig::rules(r), FaultConfig::default())
        } else {
            (FaultConfig::default(), FaultConfig::rules(r))
        };
        let sp = FaultProxy::start(&src.host(), scfg).await;
        let dp = FaultProxy::start(&dst.host(), dcfg).await;
        let repo = format!("fast/{n}");
        let out = mirror_async(&[
            "copy",
            &format!("{}/team/app:v1", sp.host()),
            &format!("{}/{repo}:v1", dp.host()),
            "--jobs",
            "1",
        ])
        .await;
        let what = format!("{status} on {method} {part}");
        assert_eq!(out.code, code, "{what}: {out}");
        assert!(out.stderr.contains(text), "{what}: {out}");
        assert!(
            out.stderr.contains(&format!("HTTP {status}")),
            "{what}: {out}"
        );
        let proxy = if side == "src" { &sp } else { &dp };
        let seen = proxy.seen();
        let hits = requests(&seen, method, &part);
        assert_eq!(hits.len(), 1, "{what}: retried: {hits:#?}");
        assert!(!dst.tag_exists(&repo, "v1"), "{what}: a tag was written");
    }
}

/// Retries are bounded: a registry that keeps failing ends the copy with the last answer,
/// how many attempts were made, and no tag.
#[tokio::test(flavor = "multi_thread")]
async fn exhausted_retries_end_with_a_clear_error_and_no_tag() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = seeded_source(&img).await;
    let dst = Registry::start();
    let cfg = FaultConfig::rules(vec![rule("PUT", "/manifests/v1", 0, Fault::Status(503))]);
    let dp = FaultProxy::start(&dst.host(), cfg).await;
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/m/app:v1", dp.host()),
        "--retries",
        "2",
    ])
    .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("gave up after 3 attempts"), "{out}");
    assert!(out.stderr.contains("HTTP 503"), "{out}");
    assert!(
        out.stderr.contains(&img.index.digest),
        "names the index: {out}"
    );
    assert_eq!(requests(&dp.seen(), "PUT", "/manifests/v1").len(), 3);
    assert!(!dst.tag_exists("m/app", "v1"));
    // Everything below the tag is in place, so a rerun only has to write the tag.
    for m in &img.children {
        assert!(dst.manifest_revision_exists("m/app", &m.digest));
    }
}

/// A request that stalls longer than `--timeout` is abandoned and retried, not waited out.
#[tokio::test(flavor = "multi_thread")]
async fn a_stall_longer_than_the_timeout_is_retried() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = seeded_source(&img).await;
    let cfg = FaultConfig::rules(vec![rule("GET", "/manifests/v1", 1, Fault::Stall)]);
    let sp = FaultProxy::start(
        &src.host(),
        FaultConfig {
            stall: Duration::from_secs(5),
            ..cfg
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", sp.host()),
        &format!("oci:{}:v1", dir.path().display()),
        "--timeout",
        "1",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let seen = sp.seen();
    let gets = requests(&seen, "GET", "/manifests/v1");
    assert_eq!(gets.len(), 2, "{gets:#?}");
    let waited = gets[1].at - gets[0].at;
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "retried after {waited:?}, expected about the 1 s timeout"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited the stall out"
    );
}

/// `Retry-After: 1` on a 429 is honoured (without the test-mode delay shrinking).
#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = seeded_source(&img).await;
    let cfg = FaultConfig::rules(vec![rule("GET", "/manifests/v1", 1, Fault::RateLimit)]);
    let sp = FaultProxy::start(&src.host(), cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(crate::harness::mirror_bin())
        .args([
            "copy",
            "--dry-run",
            &format!("{}/team/app:v1", sp.host()),
            &format!("oci:{}:v1", dir.path().display()),
        ])
        .env_remove("MIRROR_TEST")
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = sp.seen();
    let gets = requests(&seen, "GET", "/manifests/v1");
    assert_eq!(gets.len(), 2, "{gets:#?}");
    assert_eq!(gets[0].status, Some(429));
    let waited = gets[1].at - gets[0].at;
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "retried after {waited:?}, expected Retry-After: 1"
    );
}

/// A registry that refuses the blob POST with `?mount=&from=<the same repository>` (here with
/// 400 UNSUPPORTED, as a registry without mount support might) costs one refused request (the
/// check after the first upload): the copy goes on with HEAD + POST + PUT per blob and ends
/// byte-identical.
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_refusing_the_mount_post_gets_head_requests_instead() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = seeded_source(&img).await;
    let dst = Registry::start();
    const UNSUPPORTED_400: &str =
        r#"{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#;
    let dp = FaultProxy::start(
        &dst.host(),
        FaultConfig::rules(vec![rule(
            "POST",
            "&from=",
            0,
            Fault::Canned(400, UNSUPPORTED_400),
        )]),
    )
    .await;
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("{}/nomount/app:v1", dp.host()),
        "--jobs",
        "1",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    check_full_copy(&dst, "nomount/app", "v1", &img)
        .await
        .unwrap();
    let seen = dp.seen();
    assert_eq!(requests(&seen, "POST", "&from=").len(), 1, "{seen:#?}");
    let uploads = requests(&seen, "PUT", "/blobs/uploads/").len();
    assert_eq!(
        requests(&seen, "HEAD", "/blobs/").len(),
        uploads,
        "{seen:#?}"
    );
}
