//! `Authorization` is never forwarded to another host: a source registry (in-test, because no
//! installable registry redirects blob downloads to another loopback port) requires Basic
//! credentials and answers every blob GET with a 307 to a second server, "object storage",
//! which records the headers it receives.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;

use super::{assert_no_secret, basic, secret, Env, LAYER};
use crate::fixtures::{self, Image};

/// (path, Authorization header) of every request a server saw.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct Source {
    img: Image,
    auth: String,
    storage: String,
    seen: Seen,
}

async fn serve(app: Router) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(IntoFuture::into_future(axum::serve(l, app)));
    addr
}

fn respond(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> Response {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::from(body)).unwrap()
}

async fn registry(State(s): State<Arc<Source>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    s.seen.lock().unwrap().push((path.clone(), auth.clone()));
    if auth.as_deref() != Some(s.auth.as_str()) {
        return respond(
            401,
            &[("www-authenticate", r#"Basic realm="redirect-test""#)],
            vec![],
        );
    }
    let m = &s.img.index;
    if path == "/v2/" {
        respond(200, &[], vec![])
    } else if path.starts_with("/v2/app/manifests/") {
        let len = m.bytes.len().to_string();
        let hs = [
            ("content-type", m.media_type.as_str()),
            ("docker-content-digest", m.digest.as_str()),
            ("content-length", len.as_str()),
        ];
        let body = if req.method() == axum::http::Method::HEAD {
            vec![]
        } else {
            m.bytes.clone()
        };
        respond(200, &hs, body)
    } else if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
        let to = format!(
            "http://{}/bucket/{d}?X-Amz-Signature=presigned-secret",
            s.storage
        );
        respond(307, &[("location", to.as_str())], vec![])
    } else {
        respond(404, &[], vec![])
    }
}

async fn storage(State((img, seen)): State<(Arc<Image>, Seen)>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.lock().unwrap().push((path.clone(), auth));
    let d = path.trim_start_matches("/bucket/");
    match img.all_blobs().into_iter().find(|b| b.digest == d) {
        Some(b) => respond(
            200,
            &[("content-type", "application/octet-stream")],
            b.bytes.clone(),
        ),
        None => respond(404, &[], vec![]),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn authorization_is_not_forwarded_on_a_cross_host_redirect() {
    let env = Env::new();
    let img = fixtures::single_manifest(LAYER);
    let storage_seen: Seen = Arc::default();
    let storage_addr = serve(
        Router::new()
            .fallback(storage)
            .with_state((Arc::new(img.clone()), storage_seen.clone())),
    )
    .await;
    let pass = secret("redirect-pass");
    let source = Arc::new(Source {
        img: img.clone(),
        auth: format!("Basic {}", basic("dave", &pass)),
        storage: storage_addr,
        seen: Arc::default(),
    });
    let reg_addr = serve(Router::new().fallback(registry).with_state(source.clone())).await;
    let dir = env.path("copy");
    let out = env
        .mirror_async(&[
            "copy",
            &format!("{reg_addr}/app:v1"),
            &format!("oci:{}:v1", dir.display()),
            "--src-creds",
            &format!("dave:{pass}"),
            "-vv",
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    for b in img.all_blobs() {
        let hex = b.digest.trim_start_matches("sha256:");
        assert_eq!(
            std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap(),
            b.bytes,
            "{}",
            b.digest
        );
    }
    let at_storage = storage_seen.lock().unwrap().clone();
    assert_eq!(
        at_storage.len(),
        img.all_blobs().len(),
        "every blob came from storage: {at_storage:?}"
    );
    assert!(
        at_storage.iter().all(|(_, auth)| auth.is_none()),
        "no Authorization at storage: {at_storage:?}"
    );
    let at_registry = source.seen.lock().unwrap().clone();
    let blob_gets: Vec<_> = at_registry
        .iter()
        .filter(|(p, _)| p.contains("/blobs/"))
        .collect();
    assert_eq!(blob_gets.len(), img.all_blobs().len(), "{at_registry:?}");
    assert!(
        blob_gets
            .iter()
            .all(|(_, a)| a.as_deref() == Some(source.auth.as_str())),
        "the registry did get credentials"
    );
    assert_no_secret(&out, &[&pass, &basic("dave", &pass), "presigned-secret"]);
}
