//! Issue 21, rough edge 5: a blob body that ends before its `Content-Length` (the registry or a
//! proxy in front of it closes the body early, every time) fails naming the blob, the registry
//! and the method, with a hint that fits: the body was cut short and retried, which points at
//! the registry's storage or a proxy, not at the host and port.
//!
//! The hostile server fronts a real distribution registry and cuts only that blob's GETs short;
//! no installable registry can be made to do that.

use std::sync::Arc;

use crate::faults::{seeded_source, LAYER};
use crate::fixtures;
use crate::harness::mirror_async;
use crate::hostile_registry_server::{Answer, Body, HostileServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_blob_body_shorter_than_its_content_length_gets_a_hint_that_fits() {
    let img = fixtures::multi_arch_oci(LAYER);
    let src = seeded_source(&img).await;
    let layer = img.child("linux/amd64").layers()[0].clone();
    let path = format!("/blobs/{}", layer.digest);
    let size = layer.bytes.len() as u64;
    let hostile = HostileServer::start(
        Some(src.host()),
        Arc::new(move |r| {
            r.is("GET", &path).then(|| Answer {
                status: 200,
                headers: vec![("content-length", size.to_string().into_bytes())],
                body: Body::Lying {
                    claimed: size,
                    sent: vec![7; 100],
                },
            })
        }),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", hostile.host()),
        &format!("oci:{}:v1", dir.path().display()),
        "--jobs",
        "1",
    ])
    .await;
    let stderr = out
        .stderr
        .replace(&hostile.host(), "[REGISTRY]")
        .replace(&dir.path().display().to_string(), "[TEMP]");
    assert_eq!(out.code, 1, "{stderr}");
    // The first GET and five resumes with Range; the resumes were the retries, so the blob
    // copy around them does not start over (that made 36 GETs).
    let gets = hostile
        .seen()
        .iter()
        .filter(|r| r.is("GET", &format!("/blobs/{}", layer.digest)))
        .count();
    assert_eq!(gets, 6, "{stderr}");
    assert!(
        !stderr.contains("host and port are right"),
        "the network hint points the wrong way: {stderr}"
    );
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!("blob-body-shorter-than-content-length", stderr));
}
