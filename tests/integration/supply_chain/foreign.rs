//! Foreign (non-distributable) layers, as in Windows base images: a Docker schema2 manifest
//! whose base layer has the `…rootfs.foreign.diff.tar.gzip` type and a `urls` entry served by a
//! loopback HTTP server. Source and target are real distribution 2.8, configured to allow
//! loopback layer URLs (by default it allows none, which is the rejection case).

use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Router;

use super::report;
use crate::fixtures::{
    self, pseudo_bytes, Blob, Manifest, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST,
};
use crate::harness::{mirror_async, sha256, Http, Registry};

const FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
const ALLOW_LOOPBACK_URLS: &str =
    "validation:\n  manifests:\n    urls:\n      allow:\n        - '^http://127\\.0\\.0\\.1:'\n";

#[derive(Clone)]
struct Served {
    bytes: Arc<Vec<u8>>,
    hits: Arc<AtomicUsize>,
}

/// Serves `bytes` at every path on 127.0.0.1; returns (base URL, hit counter).
async fn layer_server(bytes: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Served {
        bytes: Arc::new(bytes),
        hits: Arc::default(),
    };
    let hits = served.hits.clone();
    async fn handle(State(s): State<Served>) -> Response {
        s.hits.fetch_add(1, Ordering::SeqCst);
        Response::builder()
            .status(200)
            .header("Content-Type", "application/octet-stream")
            .body(Body::from(s.bytes.as_ref().clone()))
            .unwrap()
    }
    let app = Router::new().fallback(handle).with_state(served);
    tokio::spawn(IntoFuture::into_future(axum::serve(listener, app)));
    (format!("http://{addr}"), hits)
}

struct Windows {
    manifest: Manifest,
    foreign: Blob,
    hits: Arc<AtomicUsize>,
}

/// A windows/amd64 image: foreign base layer (served at its URL) + one normal layer.
async fn windows_image(serve_wrong_bytes: bool) -> Windows {
    let foreign = Blob::new(FOREIGN, pseudo_bytes("windows/base", 6000));
    let served = if serve_wrong_bytes {
        pseudo_bytes("windows/tampered", 6000)
    } else {
        foreign.bytes.clone()
    };
    let (base, hits) = layer_server(served).await;
    let url = format!("{base}/layers/{}", foreign.digest);
    let layer = Blob::new(DOCKER_LAYER, pseudo_bytes("windows/app", 3000));
    let config = Blob::new(
        DOCKER_CONFIG,
        format!(
            "{{\"architecture\":\"amd64\",\"os\":\"windows\",\"os.version\":\"10.0.17763.5936\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{}\",\"{}\"]}}}}",
            foreign.digest, layer.digest
        )
        .into_bytes(),
    );
    let bytes = format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{DOCKER_MANIFEST}\",\n   \"config\": {{\"mediaType\": \"{DOCKER_CONFIG}\", \"size\": {}, \"digest\": \"{}\"}},\n   \"layers\": [\n      {{\"mediaType\": \"{FOREIGN}\", \"size\": {}, \"digest\": \"{}\", \"urls\": [\"{url}\"]}},\n      {{\"mediaType\": \"{DOCKER_LAYER}\", \"size\": {}, \"digest\": \"{}\"}}\n   ]\n}}\n",
        config.bytes.len(),
        config.digest,
        foreign.bytes.len(),
        foreign.digest,
        layer.bytes.len(),
        layer.digest
    )
    .into_bytes();
    Windows {
        manifest: Manifest {
            media_type: DOCKER_MANIFEST.into(),
            digest: sha256(&bytes),
            bytes,
            platform: Some("windows/amd64".into()),
            blobs: vec![config, layer],
            attestation_of: None,
        },
        foreign,
        hits,
    }
}

/// A source registry holding the image (without the foreign blob, like a real Windows image).
async fn source(w: &Windows) -> Registry {
    let src = Registry::start_with(ALLOW_LOOPBACK_URLS);
    let http = Http::new();
    fixtures::push_blobs(
        &http,
        &src.host(),
        "win/app",
        &w.manifest.blobs.iter().collect::<Vec<_>>(),
    )
    .await;
    fixtures::push_manifest_only(&http, &src.host(), "win/app", "v1", &w.manifest).await;
    src
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_layers_are_skipped_by_default_and_listed() {
    let w = windows_image(false).await;
    let src = source(&w).await;
    let dst = Registry::start_with(ALLOW_LOOPBACK_URLS);
    let s = format!("{}/win/app:v1", src.host());
    let d = format!("{}/mirror/win:v1", dst.host());
    let out = mirror_async(&["copy", &s, &d, "-o", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    let listed: Vec<String> = r.foreign_layers.iter().map(|d| d.to_string()).collect();
    assert_eq!(listed, vec![w.foreign.digest.clone()]);
    assert!(r.foreign_layers_copied.is_empty());
    assert!(out.stderr.contains("foreign layer"), "{out}");
    assert!(!dst.blob_uploaded("mirror/win", &w.foreign.digest));
    assert_eq!(w.hits.load(Ordering::SeqCst), 0, "the URL was not fetched");
    let (_, _, bytes) = Http::new()
        .get_manifest(&dst.host(), "mirror/win", "v1")
        .await;
    assert_eq!(&bytes[..], &w.manifest.bytes[..]);
}

#[tokio::test(flavor = "multi_thread")]
async fn include_foreign_layers_downloads_them_from_their_url() {
    let w = windows_image(false).await;
    let src = source(&w).await;
    let dst = Registry::start_with(ALLOW_LOOPBACK_URLS);
    let s = format!("{}/win/app:v1", src.host());
    let d = format!("{}/mirror/win:v1", dst.host());
    let out = mirror_async(&["copy", &s, &d, "--include-foreign-layers", "-o", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    let r = report(&out.stdout);
    assert!(r.foreign_layers.is_empty(), "{:?}", r.foreign_layers);
    let copied: Vec<String> = r
        .foreign_layers_copied
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(copied, vec![w.foreign.digest.clone()]);
    assert_eq!(w.hits.load(Ordering::SeqCst), 1);
    let (st, body) = Http::new()
        .get_blob(&dst.host(), "mirror/win", &w.foreign.digest)
        .await;
    assert_eq!(st, 200);
    assert_eq!(&body[..], &w.foreign.bytes[..]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_layer_with_the_wrong_bytes_is_not_stored() {
    let w = windows_image(true).await;
    let src = source(&w).await;
    let dst = Registry::start_with(ALLOW_LOOPBACK_URLS);
    let s = format!("{}/win/app:v1", src.host());
    let d = format!("{}/mirror/win:v1", dst.host());
    let out = mirror_async(&["copy", &s, &d, "--include-foreign-layers"]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains(&w.foreign.digest), "{out}");
    assert!(
        out.stderr.contains("downloaded from http://127.0.0.1"),
        "{out}"
    );
    assert!(!dst.blob_uploaded("mirror/win", &w.foreign.digest));
    assert!(!dst.tag_exists("mirror/win", "v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_refuses_layer_urls_gets_a_clear_error_and_hint() {
    let w = windows_image(false).await;
    let src = source(&w).await;
    let dst = Registry::start(); // distribution's default: no layer URL is allowed
    let s = format!("{}/win/app:v1", src.host());
    let d = format!("{}/mirror/win:v1", dst.host());
    let out = mirror_async(&["copy", &s, &d]).await;
    assert_eq!(out.code, 1, "{out}");
    eprintln!("DEBUG {out}");
    eprintln!("DEBUG-REQS {}", crate::harness::show(&dst.requests()));
    assert!(out.stderr.contains("refused manifest"), "{out}");
    assert!(out.stderr.contains("foreign layer"), "{out}");
    assert!(
        out.stderr.contains("http://127.0.0.1"),
        "names the URL: {out}"
    );
    assert!(
        out.stderr.contains("validation.manifests.urls.allow"),
        "hint: {out}"
    );
    assert!(!dst.tag_exists("mirror/win", "v1"));
}
