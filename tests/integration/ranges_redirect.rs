//! Issue 24: a registry that redirects blob GETs to another host (object storage, a CDN) with
//! signed URLs that expire. In-test servers, because no installable registry redirects blob
//! downloads to another loopback port: the "registry" requires Basic credentials and answers
//! every blob GET with a 307 to "storage", whose URLs carry a signature valid for three
//! requests; storage honours `Range` and refuses an expired signature with 403, as S3 does.
//! The ranges must go to storage without the registry's credentials, and an expired URL must
//! be renewed through the registry.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;

use crate::fixtures::{self, Image};
use crate::harness::{mirror_async, sha256};
use crate::ranges::{big_digest, big_image, large_records};

/// Requests a server saw: path and query, `Authorization`, `Range`.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>)>>>;

/// How many requests one signed URL is good for.
const SIGNATURE_USES: usize = 3;

struct Front {
    img: Image,
    auth: String,
    storage: String,
    signed: Mutex<usize>,
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

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn registry(State(s): State<Arc<Front>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let auth = header(&req, "authorization");
    s.seen
        .lock()
        .unwrap()
        .push((path.clone(), auth.clone(), header(&req, "range")));
    if auth.as_deref() != Some(s.auth.as_str()) {
        return respond(
            401,
            &[("www-authenticate", r#"Basic realm="ranges""#)],
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
        let head = req.method() == axum::http::Method::HEAD;
        respond(200, &hs, if head { vec![] } else { m.bytes.clone() })
    } else if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
        let mut n = s.signed.lock().unwrap();
        *n += 1;
        let to = format!("http://{}/bucket/{d}?X-Amz-Signature=sig{n}", s.storage);
        respond(307, &[("location", to.as_str())], vec![])
    } else {
        respond(404, &[], vec![])
    }
}

struct Storage {
    img: Image,
    seen: Seen,
    uses: Mutex<std::collections::HashMap<String, usize>>,
}

async fn storage(State(s): State<Arc<Storage>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let range = header(&req, "range");
    s.seen.lock().unwrap().push((
        format!("{path}?{query}"),
        header(&req, "authorization"),
        range.clone(),
    ));
    let used = {
        let mut uses = s.uses.lock().unwrap();
        let n = uses.entry(query.clone()).or_default();
        *n += 1;
        *n
    };
    if used > SIGNATURE_USES {
        return respond(
            403,
            &[],
            b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
                .to_vec(),
        );
    }
    let d = path.trim_start_matches("/bucket/");
    let Some(b) = s.img.all_blobs().into_iter().find(|b| b.digest == d) else {
        return respond(404, &[], vec![]);
    };
    let total = b.bytes.len();
    match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(r) => {
            let (a, z) = r.split_once('-').unwrap();
            let a: usize = a.parse().unwrap();
            let z: usize = z.parse::<usize>().unwrap_or(total - 1).min(total - 1);
            let cr = format!("bytes {a}-{z}/{total}");
            respond(
                206,
                &[("content-range", cr.as_str())],
                b.bytes[a..=z].to_vec(),
            )
        }
        None => respond(200, &[], b.bytes.clone()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redirected_ranges_carry_no_credentials_and_expired_urls_are_renewed() {
    let img = big_image();
    let storage_seen: Seen = Arc::default();
    let storage_addr = serve(
        Router::new()
            .fallback(storage)
            .with_state(Arc::new(Storage {
                img: img.clone(),
                seen: storage_seen.clone(),
                uses: Mutex::default(),
            })),
    )
    .await;
    let pass = format!("range-pass-{}", std::process::id());
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("erin:{pass}"))
    };
    let front = Arc::new(Front {
        img: img.clone(),
        auth: format!("Basic {basic}"),
        storage: storage_addr,
        signed: Mutex::new(0),
        seen: Arc::default(),
    });
    let reg = serve(Router::new().fallback(registry).with_state(front.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let out = mirror_async(&[
        "copy",
        "-o",
        "json",
        &format!("{reg}/app:v1"),
        &format!("oci:{}:v1", dir.path().display()),
        "--src-creds",
        &format!("erin:{pass}"),
        "--range-min-rtt",
        "0",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(large_records(&out)[0]["fetched"], "ranges", "{out}");
    for b in img.all_blobs() {
        let got = std::fs::read(fixtures::layout_blob(dir.path(), &b.digest)).unwrap();
        assert_eq!(sha256(&got), b.digest);
    }
    let at_storage = storage_seen.lock().unwrap().clone();
    assert!(
        at_storage.iter().all(|(_, auth, _)| auth.is_none()),
        "no Authorization at storage: {at_storage:?}"
    );
    let big = big_digest(&img);
    let big_at_storage: Vec<_> = at_storage
        .iter()
        .filter(|(p, _, _)| p.contains(&big))
        .collect();
    assert!(
        big_at_storage.iter().all(|(_, _, r)| r.is_some()),
        "every request for the large blob is a range: {big_at_storage:?}"
    );
    // 19 ranges at 3 uses per signature: the registry was asked again for fresh URLs.
    let at_registry = front.seen.lock().unwrap().clone();
    let renewals = at_registry
        .iter()
        .filter(|(p, _, _)| p.ends_with(&big))
        .count();
    assert!(
        renewals >= 3,
        "the registry re-signed the URL: {at_registry:?}"
    );
    assert!(
        at_registry
            .iter()
            .filter(|(p, _, _)| p.contains("/manifests/"))
            .all(|(_, _, r)| r.is_none()),
        "no Range on manifests"
    );
}
