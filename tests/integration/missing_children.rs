//! Issue 21, rough edge 6: an index whose children the source does not hold (a hostile or
//! half-deleted source) is checked `--jobs` children at a time, by copy and by `--dry-run`.
//! Before, each child the target lacked was HEADed on the source one after another (19 000
//! such children: 106 s for a copy, over 120 s for a dry run, which also GET every child twice).
//! The timings are measured by `scripts/bench-missing-children`; this test proves the
//! concurrency itself: the source answers 50 ms late and counts the requests in flight.
//!
//! The target is an OCI layout, which takes the sparse index (distribution 2.8 refuses it), so
//! the second run finds the tag current and checks the children it lacks.

use std::sync::Arc;
use std::time::Duration;

use crate::fixtures;
use crate::harness::mirror_async;
use crate::hostile_registry_cases::many_children;
use crate::hostile_registry_server::{Answer, HostileServer};

const CHILDREN: usize = 24;
const JOBS: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn children_the_source_lacks_are_checked_jobs_at_a_time() {
    let img = fixtures::multi_arch_oci(1024);
    let (src, _http) = fixtures::seeded(&img).await;
    let index = many_children(CHILDREN);
    // The tag is an index of children the upstream registry does not hold: their HEADs and
    // GETs are forwarded and answered 404.
    let hostile = HostileServer::start_slow(
        Some(src.host()),
        Arc::new(move |r| {
            (r.target.ends_with("/manifests/v1") && matches!(r.method.as_str(), "GET" | "HEAD"))
                .then(|| {
                    Answer::json(200, index.clone())
                        .with("content-type", "application/vnd.oci.image.index.v1+json")
                })
        }),
        Duration::from_millis(50),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let from = format!("{}/team/app:v1", hostile.host());
    let to = format!("oci:{}:v1", dir.path().display());
    let jobs = JOBS.to_string();
    let first = mirror_async(&["copy", &from, &to, "--jobs", &jobs]).await;
    assert_eq!(first.code, 0, "{first}");
    for (run, extra) in [("copy", None), ("dry run", Some("--dry-run"))] {
        let _ = hostile.most_in_flight();
        let before = hostile.seen().len();
        let mut args = vec!["copy", from.as_str(), to.as_str(), "--jobs", jobs.as_str()];
        args.extend(extra);
        let out = mirror_async(&args).await;
        assert_eq!(out.code, 0, "{run}: {out}");
        let seen = hostile.seen();
        let children = |method: &str| {
            seen[before..]
                .iter()
                .filter(|r| r.is(method, "/manifests/sha256:"))
                .count()
        };
        assert_eq!(children("HEAD"), CHILDREN, "{run}: {seen:#?}");
        assert_eq!(
            children("GET"),
            0,
            "{run}: children HEADed missing were read again"
        );
        let most = hostile.most_in_flight();
        assert!(
            (2..=JOBS).contains(&most),
            "{run}: {most} requests at once with --jobs {JOBS}"
        );
    }
}
