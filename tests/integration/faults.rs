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
