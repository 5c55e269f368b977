//! Issue 21, rough edge 4: a registry that answers 503 or 429 with a `Retry-After` beyond the
//! 30 s a retry waits (a day, a date years ahead) is not retried five times at the cap: the copy
//! ends at the first answer with what the registry asked for and when to try again. A
//! `Retry-After` within the limit is honoured as before (`faults::retry_after_is_honoured`).
//!
//! The hostile server fronts a real distribution registry and answers only the tag's manifest
//! GET itself; nothing else can send an arbitrary `Retry-After`.

use std::sync::Arc;

use crate::faults::{seeded_source, LAYER};
use crate::fixtures;
use crate::harness::mirror_async;
use crate::hostile_registry_server::{Answer, HostileServer};

/// The copy's stderr, and how many times the manifest was asked for, when the registry answers
/// `status` with `Retry-After: retry_after` to every GET of the tag.
async fn refused(status: u16, retry_after: &'static str) -> (i32, String, usize) {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = seeded_source(&img).await;
    let hostile = HostileServer::start(
        Some(src.host()),
        Arc::new(move |r| {
            r.is("GET", "/manifests/v1").then(|| {
                Answer::json(
                    status,
                    r#"{"errors":[{"code":"UNAVAILABLE","message":"come back later"}]}"#,
                )
                .with("retry-after", retry_after)
            })
        }),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", hostile.host()),
        &format!("oci:{}:v1", dir.path().display()),
    ])
    .await;
    let gets = hostile
        .seen()
        .iter()
        .filter(|r| r.is("GET", "/manifests/v1"))
        .count();
    let stderr = out
        .stderr
        .replace(&hostile.host(), "[REGISTRY]")
        .replace(&dir.path().display().to_string(), "[TEMP]");
    (out.code, stderr, gets)
}

fn snapshot(name: &str, text: &str) {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!(name, text));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_of_a_day_ends_the_copy_at_once() {
    let (code, stderr, gets) = refused(503, "86400").await;
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        gets, 1,
        "retried although the registry asked for a day: {stderr}"
    );
    snapshot("retry-after-seconds-beyond-the-limit", &stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_date_years_ahead_ends_the_copy_at_once() {
    let (code, stderr, gets) = refused(429, "Sat, 01 Jan 2050 00:00:00 GMT").await;
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        gets, 1,
        "retried although the registry asked for years: {stderr}"
    );
    snapshot("retry-after-date-beyond-the-limit", &stderr);
}
