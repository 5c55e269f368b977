//! A token refused in the middle of a streamed blob upload. A streamed body cannot be sent
//! again, so the client renews the token and restarts the blob from a fresh source stream.
//! Fault injection with a small in-test registry: a real one cannot be made to let a token
//! expire between the POST that opens an upload and the PUT that streams it.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;

use super::{layout, Env, LAYER};
use crate::fixtures;
use crate::harness::sha256;

#[derive(Default)]
struct Fake {
    addr: String,
    tokens: u32,
    refused_put: bool,
    uploads: u32,
    blobs: HashMap<String, Vec<u8>>,
    log: Vec<String>,
}

fn respond(status: u16, headers: &[(&str, String)]) -> Response {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, v.as_str());
    }
    r.body(Body::empty()).unwrap()
}

async fn handle(State(s): State<Arc<Mutex<Fake>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 64 << 20).await.unwrap_or_default();
    let path = parts.uri.path().to_string();
    let mut guard = s.lock().unwrap();
    let f = &mut *guard;
    let line = format!("{} {path}", parts.method);
    if path == "/token" {
        f.tokens += 1;
        let n = f.tokens;
        f.log.push(format!("{line} -> token{n}"));
        let json = format!(r#"{{"token":"tok-{}-abcdef","expires_in":300}}"#, f.tokens);
        return Response::builder()
            .status(200)
            .body(Body::from(json))
            .unwrap();
    }
    let challenge = format!(
        r#"Bearer realm="http://{}/token",service="fake",error="invalid_token""#,
        f.addr
    );
    let current = format!("Bearer tok-{}-abcdef", f.tokens);
    let authorized = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(current.as_str());
    if !authorized || f.tokens == 0 {
        f.log.push(format!("{line} -> 401"));
        return respond(401, &[("www-authenticate", challenge)]);
    }
    let is_upload_put = parts.method == Method::PUT && path.contains("/blobs/uploads/");
    if is_upload_put && !f.refused_put {
        // The token "expires" while the body streams: the whole body was read, then refused.
        f.refused_put = true;
        let n = body.len();
        f.log.push(format!("{line} -> 401 after {n} bytes"));
        return respond(401, &[("www-authenticate", challenge)]);
    }
    let (status, headers) = match parts.method.clone() {
        m if m == Method::GET && path == "/v2/" => (200, vec![]),
        m if m == Method::HEAD => (404, vec![]),
        m if m == Method::POST && path.ends_with("/blobs/uploads/") => {
            f.uploads += 1;
            (
                202,
                vec![(
                    "location",
                    format!("/v2/app/blobs/uploads/u{}?_state=s3cr3t-state", f.uploads),
                )],
            )
        }
        m if m == Method::PUT && is_upload_put => {
            let digest = parts
                .uri
                .query()
                .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("digest=")))
                .unwrap_or_default()
                .replace("%3A", ":");
            assert_eq!(sha256(&body), digest, "the restarted upload is complete");
            f.blobs.insert(digest.clone(), body.to_vec());
            (201, vec![("docker-content-digest", digest)])
        }
        m if m == Method::PUT && path.contains("/manifests/") => {
            (201, vec![("docker-content-digest", sha256(&body))])
        }
        m if m == Method::DELETE => (204, vec![]),
        _ => (404, vec![]),
    };
    f.log.push(format!("{line} -> {status}"));
    respond(status, &headers)
}

#[tokio::test(flavor = "multi_thread")]
async fn token_refused_during_a_streamed_upload_restarts_the_blob() {
    let env = Env::new();
    let state: Arc<Mutex<Fake>> = Arc::default();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    state.lock().unwrap().addr = addr.clone();
    let app = Router::new().fallback(handle).with_state(state.clone());
    tokio::spawn(IntoFuture::into_future(axum::serve(l, app)));
    let img = fixtures::single_manifest(LAYER);
    let out = env
        .mirror_async(&[
            "copy",
            &layout(&env, &img),
            &format!("{addr}/app:v1"),
            "--jobs",
            "1",
            "-vv",
        ])
        .await;
    let f = state.lock().unwrap();
    let log = f.log.join("\n");
    assert_eq!(out.code, 0, "{out}\n{log}");
    assert!(f.refused_put, "{log}");
    assert_eq!(f.tokens, 2, "one renewal:\n{log}");
    for b in img.all_blobs() {
        assert_eq!(
            f.blobs.get(&b.digest),
            Some(&b.bytes),
            "{}:\n{log}",
            b.digest
        );
    }
    assert!(
        out.stderr
            .contains("the token was renewed and the upload starts again"),
        "logged: {out}"
    );
    assert!(!out.stderr.contains("s3cr3t-state"), "{out}");
}
