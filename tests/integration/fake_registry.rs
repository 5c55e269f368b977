//! In-process fake OCI distribution registry (spec v1.1 subset) for the integration tests.
//!
//! This is the only fake registry in the test suite, and it is used only for behaviour that no
//! installable registry has: accepting *sparse* image indexes (children missing, like
//! distribution v3 with `validation.manifests.indexes.platforms: none` or Quay with
//! `FEATURE_SPARSE_INDEX`), switchable referrers API and paging, request recording, and serving
//! hostile content (bytes that do not match their digest, oversized or malformed manifests).
//! Everything else is tested against a real registry. State lives in memory, per repository.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// Behaviour switches for a [`FakeRegistry`].
#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// Accept an index whose child manifests are missing (default `true`).
    pub accept_sparse: bool,
    /// Serve `GET /v2/<name>/referrers/<digest>`; when `false` it answers 404 (default `false`).
    pub referrers_api: bool,
    /// Page size of referrers listings; `None` lists everything in one response (default).
    pub referrers_page_size: Option<usize>,
    /// Fault injection: right after the first PUT of this tag (any repository), point the tag
    /// at these index bytes instead, as a concurrent writer would (default `None`).
    pub race_tag: Option<(String, Vec<u8>)>,
    /// distribution v3 `validation.manifests.indexes.platforms: list`: only index children whose
    /// `platform` os and architecture (variant ignored) match one of these `os/arch` pairs must
    /// exist; the others may be missing whatever `accept_sparse` says (default empty: off).
    pub platform_list: Vec<String>,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            accept_sparse: true,
            referrers_api: false,
            referrers_page_size: None,
            race_tag: None,
            platform_list: vec![],
        }
    }
}

struct Stored {
    content_type: String,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Repo {
    blobs: HashMap<String, Vec<u8>>,
    manifests: HashMap<String, Stored>,
    tags: BTreeMap<String, String>,
}

impl Repo {
    fn resolve(&self, reference: &str) -> Option<String> {
        if reference.contains(':') {
            Some(reference.to_owned())
        } else {
            self.tags.get(reference).cloned()
        }
    }

    /// Stores a manifest under its digest, tags it if `reference` is a tag; returns the digest.
    fn store(&mut self, reference: &str, content_type: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let stored = Stored {
            content_type: content_type.to_owned(),
            bytes: bytes.to_vec(),
        };
        self.manifests.insert(digest.clone(), stored);
        if !reference.contains(':') {
            self.tags.insert(reference.to_owned(), digest.clone());
        }
        digest
    }
}

#[derive(Default)]
struct Inner {
    opts: FakeOptions,
    repos: HashMap<String, Repo>,
    /// Upload id → (repository, bytes so far).
    uploads: HashMap<String, (String, Vec<u8>)>,
    next_upload: u64,
    requests: Vec<(String, String, u16)>,
    raced: bool,
}

impl Inner {
    fn repo(&mut self, name: &str) -> &mut Repo {
        self.repos.entry(name.to_owned()).or_default()
    }
}

type Shared = Arc<Mutex<Inner>>;

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake registry on `127.0.0.1:<random port>`; it stops serving when dropped.
pub struct FakeRegistry {
    addr: SocketAddr,
    state: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeRegistry {
    /// Binds `127.0.0.1:0` and serves in a tokio task until the registry is dropped.
    pub async fn start(opts: FakeOptions) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("fake registry address");
        let state: Shared = Arc::default();
        lock(&state).opts = opts;
        let app = Router::new().fallback(handle).with_state(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async { drop(rx.await) });
        tokio::spawn(IntoFuture::into_future(serve));
        let stop = Some(tx);
        FakeRegistry { addr, state, stop }
    }

    /// The `host:port` to put in image references, e.g. `127.0.0.1:41234`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Every request served so far, in order: (method, path with query, response status).
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        lock(&self.state).requests.clone()
    }

    /// Whether `repo` holds a manifest with this digest.
    pub fn has_manifest(&self, repo: &str, digest: &str) -> bool {
        self.with_repo(repo, |r| r.manifests.contains_key(digest)) == Some(true)
    }

    /// Whether `repo` holds a blob with this digest.
    pub fn has_blob(&self, repo: &str, digest: &str) -> bool {
        self.with_repo(repo, |r| r.blobs.contains_key(digest)) == Some(true)
    }

    /// The content type and exact bytes stored for a tag or digest in `repo`.
    pub fn manifest_bytes(&self, repo: &str, reference: &str) -> Option<(String, Vec<u8>)> {
        self.with_repo(repo, |r| {
            let m = r.manifests.get(&r.resolve(reference)?)?;
            Some((m.content_type.clone(), m.bytes.clone()))
        })?
    }

    /// The digest a tag in `repo` points at.
    pub fn tag_digest(&self, repo: &str, tag: &str) -> Option<String> {
        self.with_repo(repo, |r| r.tags.get(tag).cloned())?
    }

    fn with_repo<T>(&self, repo: &str, f: impl FnOnce(&Repo) -> T) -> Option<T> {
        lock(&self.state).repos.get(repo).map(f)
    }

    /// Seeds a blob directly (no HTTP, no checks) and returns its digest.
    pub fn put_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let (mut inner, data) = (lock(&self.state), bytes.to_vec());
        inner.repo(repo).blobs.insert(digest.clone(), data);
        digest
    }

    /// Seeds `bytes` as the blob named `digest`, whether or not they match it (hostile sources).
    pub fn put_blob_at(&self, repo: &str, digest: &str, bytes: &[u8]) {
        let (mut inner, data) = (lock(&self.state), bytes.to_vec());
        inner.repo(repo).blobs.insert(digest.to_owned(), data);
    }

    /// Seeds `bytes` as the manifest named `digest`, whether or not they match it (hostile sources).
    pub fn put_manifest_at(&self, repo: &str, digest: &str, ct: &str, bytes: &[u8]) {
        let stored = Stored {
            content_type: ct.to_owned(),
            bytes: bytes.to_vec(),
        };
        lock(&self.state)
            .repo(repo)
            .manifests
            .insert(digest.to_owned(), stored);
    }

    /// Seeds a manifest with no validation (e.g. a sparse index as a mirror source); tags it
    /// when `reference` is a tag and returns its digest.
    pub fn put_manifest(&self, repo: &str, reference: &str, ct: &str, bytes: &[u8]) -> String {
        lock(&self.state).repo(repo).store(reference, ct, bytes)
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

type Headers = Vec<(&'static str, String)>;

fn respond(status: u16, headers: &[(&str, String)], body: Vec<u8>) -> Response {
    let api_version = ("Docker-Distribution-API-Version", "registry/2.0");
    let mut builder = Response::builder()
        .status(status)
        .header(api_version.0, api_version.1);
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(Body::from(body)).expect("valid response")
}

fn json_response(status: u16, mut headers: Headers, body: &Value) -> Response {
    headers.push(("Content-Type", "application/json".to_owned()));
    respond(status, &headers, body.to_string().into_bytes())
}

fn error_entry(code: &str, detail: Option<&str>) -> Value {
    let message = match code {
        "BLOB_UNKNOWN" | "MANIFEST_BLOB_UNKNOWN" => "blob unknown to registry",
        "BLOB_UPLOAD_UNKNOWN" => "blob upload unknown to registry",
        "DIGEST_INVALID" => "provided digest did not match uploaded content",
        "MANIFEST_INVALID" => "manifest invalid",
        "MANIFEST_UNKNOWN" => "manifest unknown",
        "NAME_UNKNOWN" => "repository name not known to registry",
        _ => "The operation is unsupported.",
    };
    match detail {
        Some(d) => json!({ "code": code, "message": message, "detail": d }),
        None => json!({ "code": code, "message": message }),
    }
}

/// An OCI error response.
fn errors(status: u16, entries: Vec<Value>) -> Response {
    json_response(status, vec![], &json!({ "errors": entries }))
}

fn error(status: u16, code: &str, detail: Option<&str>) -> Response {
    errors(status, vec![error_entry(code, detail)])
}

fn unsupported() -> Response {
    error(405, "UNSUPPORTED", None)
}

/// What distribution 2.8 answers for a route it does not have.
fn not_found() -> Response {
    respond(404, &[], b"404 page not found\n".to_vec())
}

/// The percent-decoded value of `key` in a query (`+` stays literal, as in media types).
fn query_param(query: &str, key: &str) -> Option<String> {
    let mut pairs = query.split('&');
    let value = pairs
        .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))?
        .as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < value.len() {
        let hex = value
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
        let decoded = hex.and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        let (byte, step) = match decoded {
            Some(byte) if value[i] == b'%' => (byte, 3),
            _ => (value[i], 1),
        };
        out.push(byte);
        i += step;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

async fn handle(State(state): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut inner = lock(&state);
    let mut resp = route(&mut inner, &parts, &body);
    let uri = &parts.uri;
    let target = uri
        .path_and_query()
        .map_or(uri.path(), |p| p.as_str())
        .to_owned();
    let record = (parts.method.to_string(), target, resp.status().as_u16());
    inner.requests.push(record);
    if parts.method == Method::HEAD {
        *resp.body_mut() = Body::empty();
    }
    resp
}

/// Splits the path after `/v2/` into (repository name, endpoint kind, last segment).
fn parse(tail: &str) -> Option<(&str, &'static str, &str)> {
    if let Some(name) = tail.strip_suffix("/tags/list") {
        return Some((name, "tags", ""));
    }
    if let Some(name) = tail.trim_end_matches('/').strip_suffix("/blobs/uploads") {
        return Some((name, "start-upload", ""));
    }
    let kinds = [
        ("/blobs/uploads/", "upload"),
        ("/blobs/", "blob"),
        ("/manifests/", "manifest"),
        ("/referrers/", "referrers"),
    ];
    kinds.into_iter().find_map(|(marker, kind)| {
        let at = tail.rfind(marker)?;
        let (name, last) = (&tail[..at], &tail[at + marker.len()..]);
        let valid = !name.is_empty() && !last.is_empty() && !last.contains('/');
        valid.then_some((name, kind, last))
    })
}

fn route(s: &mut Inner, p: &Parts, body: &[u8]) -> Response {
    let q = p.uri.query().unwrap_or("");
    let Some(tail) = p.uri.path().strip_prefix("/v2") else {
        return not_found();
    };
    let tail = tail.strip_prefix('/').unwrap_or(tail);
    if tail.is_empty() {
        return json_response(200, vec![], &json!({}));
    }
    let Some((name, kind, last)) = parse(tail) else {
        return not_found();
    };
    match (p.method.as_str(), kind) {
        ("GET", "tags") => tags_list(s, name, q),
        ("POST", "start-upload") => start_upload(s, name, q, body),
        (_, "upload") => upload(s, p, name, last, body),
        ("GET" | "HEAD", "blob") => get_blob(s, name, last),
        ("GET" | "HEAD", "manifest") => get_manifest(s, name, last),
        ("PUT", "manifest") => put_manifest(s, p, name, last, body),
        ("DELETE", "manifest") => delete_manifest(s, name, last),
        ("GET", "referrers") if s.opts.referrers_api => referrers(s, name, last, q),
        ("GET", "referrers") => not_found(),
        _ => unsupported(),
    }
}

fn upload_headers(name: &str, id: &str, len: usize) -> Headers {
    vec![
        ("Location", format!("/v2/{name}/blobs/uploads/{id}")),
        ("Range", format!("0-{}", len.saturating_sub(1))),
        ("Docker-Upload-UUID", id.to_owned()),
        ("Content-Length", "0".to_owned()),
    ]
}

fn blob_created(name: &str, digest: &str) -> Response {
    let location = format!("/v2/{name}/blobs/{digest}");
    let digest = digest.to_owned();
    respond(
        201,
        &[("Location", location), ("Docker-Content-Digest", digest)],
        vec![],
    )
}

/// Stores a finished upload if its sha256 is `digest`.
fn finish_blob(s: &mut Inner, name: &str, digest: &str, data: Vec<u8>) -> Response {
    if sha256(&data) != digest {
        return error(400, "DIGEST_INVALID", Some(digest));
    }
    s.repo(name).blobs.insert(digest.to_owned(), data);
    blob_created(name, digest)
}

fn start_upload(s: &mut Inner, name: &str, q: &str, body: &[u8]) -> Response {
    if let (Some(digest), Some(from)) = (query_param(q, "mount"), query_param(q, "from")) {
        let found = s.repos.get(&from).and_then(|r| r.blobs.get(&digest));
        if let Some(data) = found.cloned() {
            s.repo(name).blobs.insert(digest.clone(), data);
            return blob_created(name, &digest);
        }
    } else if let Some(digest) = query_param(q, "digest") {
        return finish_blob(s, name, &digest, body.to_vec()); // single-POST upload
    }
    s.next_upload += 1;
    let id = format!("fake-upload-{:08}", s.next_upload);
    s.uploads.insert(id.clone(), (name.to_owned(), Vec::new()));
    respond(202, &upload_headers(name, &id, 0), vec![])
}

fn upload(s: &mut Inner, p: &Parts, name: &str, id: &str, body: &[u8]) -> Response {
    let Some((_, data)) = s.uploads.get_mut(id).filter(|(repo, _)| repo == name) else {
        return error(404, "BLOB_UPLOAD_UNKNOWN", Some(id));
    };
    match p.method {
        Method::GET => respond(204, &upload_headers(name, id, data.len()), vec![]),
        Method::PATCH => {
            let range = p.headers.get("Content-Range").and_then(|v| v.to_str().ok());
            let start = range.and_then(|r| r.split('-').next()?.trim().parse::<usize>().ok());
            if start.is_some_and(|start| start != data.len()) {
                return respond(416, &upload_headers(name, id, data.len()), vec![]);
            }
            data.extend_from_slice(body);
            respond(202, &upload_headers(name, id, data.len()), vec![])
        }
        Method::PUT => {
            let Some(digest) = query_param(p.uri.query().unwrap_or(""), "digest") else {
                return error(400, "DIGEST_INVALID", Some("missing digest parameter"));
            };
            let (_, mut data) = s.uploads.remove(id).unwrap_or_default();
            data.extend_from_slice(body);
            finish_blob(s, name, &digest, data)
        }
        Method::DELETE => {
            s.uploads.remove(id);
            respond(204, &[], vec![])
        }
        _ => unsupported(),
    }
}

fn get_blob(s: &mut Inner, name: &str, digest: &str) -> Response {
    let Some(data) = s.repos.get(name).and_then(|r| r.blobs.get(digest)) else {
        return error(404, "BLOB_UNKNOWN", Some(digest));
    };
    let headers = [
        ("Content-Type", "application/octet-stream".to_owned()),
        ("Content-Length", data.len().to_string()),
        ("Docker-Content-Digest", digest.to_owned()),
    ];
    respond(200, &headers, data.clone())
}

fn manifest_unknown() -> Response {
    error(404, "MANIFEST_UNKNOWN", None)
}

fn get_manifest(s: &mut Inner, name: &str, reference: &str) -> Response {
    let repo = s.repos.get(name);
    let digest = repo.and_then(|r| r.resolve(reference));
    let Some((repo, digest)) = repo.zip(digest) else {
        return manifest_unknown();
    };
    let Some(m) = repo.manifests.get(&digest) else {
        return manifest_unknown();
    };
    let headers = [
        ("Content-Type", m.content_type.clone()),
        ("Content-Length", m.bytes.len().to_string()),
        ("Docker-Content-Digest", digest),
    ];
    respond(200, &headers, m.bytes.clone())
}

/// The `digest` of the descriptor (object) or descriptors (array) under `key`.
fn descriptor_digests<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    let digest = |d: &'a Value| d.get("digest").and_then(Value::as_str);
    match v.get(key) {
        Some(Value::Array(list)) => list.iter().filter_map(digest).collect(),
        Some(one) => digest(one).into_iter().collect(),
        None => vec![],
    }
}

fn put_manifest(s: &mut Inner, p: &Parts, name: &str, reference: &str, body: &[u8]) -> Response {
    let content_type = p.headers.get("Content-Type").and_then(|v| v.to_str().ok());
    let Some(content_type) = content_type.filter(|ct| !ct.is_empty()) else {
        return error(400, "MANIFEST_INVALID", Some("missing Content-Type"));
    };
    if reference.contains(':') && reference != sha256(body) {
        return error(400, "DIGEST_INVALID", Some(reference));
    }
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return error(400, "MANIFEST_INVALID", Some("manifest is not JSON"));
    };
    let empty = Repo::default();
    let repo = s.repos.get(name).unwrap_or(&empty);
    let mut missing = Vec::new();
    if doc.get("manifests").is_some() {
        let children = descriptor_digests(&doc, "manifests");
        let absent = |d: &&str| !repo.manifests.contains_key(*d) && !s.opts.accept_sparse;
        if s.opts.platform_list.is_empty() {
            missing.extend(children.into_iter().filter(absent));
        } else {
            let listed = |e: &Value| {
                let p = |k: &str| e.pointer(&format!("/platform/{k}")).and_then(Value::as_str);
                let os_arch = format!(
                    "{}/{}",
                    p("os").unwrap_or(""),
                    p("architecture").unwrap_or("")
                );
                s.opts.platform_list.contains(&os_arch)
            };
            let entries = doc["manifests"].as_array().into_iter().flatten();
            let required = entries
                .filter(|e| listed(e))
                .filter_map(|e| e["digest"].as_str());
            missing.extend(required.filter(|d| !repo.manifests.contains_key(*d)));
        }
    } else {
        let mut blobs = descriptor_digests(&doc, "config");
        blobs.extend(descriptor_digests(&doc, "layers"));
        missing.extend(blobs.into_iter().filter(|d| !repo.blobs.contains_key(*d)));
    }
    if !missing.is_empty() {
        let unknown = |d| error_entry("MANIFEST_BLOB_UNKNOWN", Some(d));
        return errors(400, missing.into_iter().map(unknown).collect());
    }
    let digest = s.repo(name).store(reference, content_type, body);
    let race = s.opts.race_tag.clone().filter(|(t, _)| t == reference);
    if let Some((_, theirs)) = race.filter(|_| !s.raced) {
        s.raced = true;
        s.repo(name).store(reference, INDEX_MEDIA_TYPE, &theirs);
    }
    let location = format!("/v2/{name}/manifests/{digest}");
    let mut headers = vec![("Location", location), ("Docker-Content-Digest", digest)];
    let subject = doc.pointer("/subject/digest").and_then(Value::as_str);
    if let Some(subject) = subject.filter(|_| s.opts.referrers_api) {
        headers.push(("OCI-Subject", subject.to_owned()));
    }
    respond(201, &headers, vec![])
}

fn delete_manifest(s: &mut Inner, name: &str, reference: &str) -> Response {
    let Some(repo) = s.repos.get_mut(name) else {
        return manifest_unknown();
    };
    let removed = if reference.contains(':') {
        repo.tags.retain(|_, d| d != reference);
        repo.manifests.remove(reference).is_some()
    } else {
        repo.tags.remove(reference).is_some()
    };
    match removed {
        true => respond(202, &[], vec![]),
        false => manifest_unknown(),
    }
}

fn tags_list(s: &mut Inner, name: &str, q: &str) -> Response {
    let Some(repo) = s.repos.get(name) else {
        return error(404, "NAME_UNKNOWN", Some(name));
    };
    let last = query_param(q, "last").unwrap_or_default();
    let n = query_param(q, "n").and_then(|n| n.parse::<usize>().ok());
    let after: Vec<&String> = repo.tags.keys().filter(|t| **t > last).collect();
    let page = &after[..n.unwrap_or(after.len()).min(after.len())];
    let mut headers = vec![];
    if let (Some(n), Some(last), true) = (n, page.last(), page.len() < after.len()) {
        let next = format!("</v2/{name}/tags/list?last={last}&n={n}>; rel=\"next\"");
        headers.push(("Link", next));
    }
    json_response(200, headers, &json!({ "name": name, "tags": page }))
}

/// The referrers descriptor of a stored manifest whose `subject` is `subject`.
fn referrer(digest: &str, m: &Stored, subject: &str, filter: Option<&str>) -> Option<Value> {
    let doc: Value = serde_json::from_slice(&m.bytes).ok()?;
    if doc.pointer("/subject/digest").and_then(Value::as_str) != Some(subject) {
        return None;
    }
    let config_type = doc.pointer("/config/mediaType");
    let artifact_type = doc.get("artifactType").or(config_type);
    if filter.is_some() && artifact_type.and_then(Value::as_str) != filter {
        return None;
    }
    let media_type = doc
        .get("mediaType")
        .unwrap_or(&json!(m.content_type))
        .clone();
    let mut desc = json!({ "mediaType": media_type, "digest": digest, "size": m.bytes.len() });
    if let Some(artifact_type) = artifact_type {
        desc["artifactType"] = artifact_type.clone();
    }
    if let Some(annotations) = doc.get("annotations") {
        desc["annotations"] = annotations.clone();
    }
    Some(desc)
}

fn referrers(s: &mut Inner, name: &str, subject: &str, q: &str) -> Response {
    let (filter, last) = (query_param(q, "artifactType"), query_param(q, "last"));
    let manifests = s.repos.get(name).into_iter().flat_map(|r| &r.manifests);
    let mut found: Vec<(&String, Value)> = manifests
        .filter(|(digest, _)| last.as_ref().is_none_or(|last| *digest > last))
        .filter_map(|(d, m)| Some((d, referrer(d, m, subject, filter.as_deref())?)))
        .collect();
    found.sort_by(|a, b| a.0.cmp(b.0));
    let mut headers = vec![("Content-Type", INDEX_MEDIA_TYPE.to_owned())];
    if filter.is_some() {
        headers.push(("OCI-Filters-Applied", "artifactType".to_owned()));
    }
    let page_size = s.opts.referrers_page_size;
    if let Some(size) = page_size.filter(|&p| p > 0 && found.len() > p) {
        found.truncate(size);
        let cursor = found[size - 1].0;
        let mut next = format!("/v2/{name}/referrers/{subject}?last={cursor}&n={size}");
        if let Some(f) = &filter {
            next.push_str(&format!("&artifactType={f}"));
        }
        headers.push(("Link", format!("<{next}>; rel=\"next\"")));
    }
    let manifests: Vec<Value> = found.into_iter().map(|(_, d)| d).collect();
    let index =
        json!({ "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests });
    respond(200, &headers, index.to_string().into_bytes())
}
