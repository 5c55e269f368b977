//! A small OCI distribution client on `reqwest`, and the registry [`Storage`] backend.
//!
//! Why not `oci-client` (0.18)? It was evaluated as the intended base and blocks correctness in
//! exactly the places this tool depends on: its `RegistryError` carries no HTTP status or
//! `Retry-After` (needed to classify a sparse-index rejection, to pick exit code 5 for 401/403,
//! and to retry 429/5xx); `mount_blob` turns the spec's 202 "not mounted" into an error and leaks
//! the opened upload; `pull_manifest_raw` drops `Content-Type`; its token handling is private, so
//! requests we must build ourselves (preflight PUT, referrers, mounts with two scopes) could not
//! share its tokens; and its implicit auth path swallows the token server's reason. Wrapping it
//! would have meant re-implementing every call anyway, so this module implements the dozen
//! requests `mirror` makes, following distribution-spec v1.1 and docs/registries.md.
//!
//! Everything here is per registry host: one connection pool, one token cache keyed by scope.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE,
    RANGE,
};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::Mutex;

use crate::auth::{Auth, Challenge, Credentials};
use crate::error::{redact_url, Error, OciError, RegistryError, Result};
use crate::model::digest::{Algorithm, Digest, VerifyError};
use crate::model::manifest::{Descriptor, ManifestError, RawManifest, MAX_MANIFEST_BYTES};
use crate::model::media;
use crate::transport::retry::{parse_retry_after, RetryPolicy};
use crate::transport::{resume, BlobBody, Pushed, ReferrerList, Storage};

mod auth_flow;
mod catalog;

pub use self::catalog::{Catalog, MAX_CATALOG_ENTRIES, MAX_CATALOG_PAGES};

/// Connection settings for one registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Use `http://` instead of `https://`.
    pub plain_http: bool,
    /// Skip TLS certificate verification.
    pub insecure_tls: bool,
    /// Per-request timeout for everything but blob bodies.
    pub timeout: Duration,
    /// Retry policy for idempotent requests.
    pub retry: RetryPolicy,
    /// `User-Agent`.
    pub user_agent: String,
    /// Try HTTPS first and fall back to plain HTTP when the server answers in plain HTTP
    /// (loopback registries without `--*-plain-http`; decided once, by [`RegistryClient::ping`]).
    pub http_fallback: bool,
    /// Allow user-supplied credentials over plain HTTP to a host that is not loopback.
    pub allow_insecure_auth: bool,
    /// Extra CA certificates and a client certificate (`--*-cert-dir`, `certs.d`).
    pub tls: crate::auth::tls::TlsFiles,
    /// Cancellation: no manifest or tag PUT starts once it is cancelled.
    pub cancel: crate::interrupt::CancelToken,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            plain_http: false,
            insecure_tls: false,
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            user_agent: concat!("sparse-mirror/", env!("CARGO_PKG_VERSION")).into(),
            http_fallback: false,
            allow_insecure_auth: false,
            tls: crate::auth::tls::TlsFiles::default(),
            cancel: crate::interrupt::CancelToken::default(),
        }
    }
}

struct Token {
    value: String,
    expires: Instant,
    fetched: Instant,
}

/// Docker Hub's pull budget, from `ratelimit-limit` / `ratelimit-remaining` (`20;w=21600`) on
/// manifest HEAD and GET answers (docs/registries.md §Rate limits). A GET counts as a pull, a HEAD does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Pulls left in the window.
    pub remaining: u64,
    /// Pulls allowed per window, when sent.
    pub limit: Option<u64>,
    /// The window in seconds (`w=`), when sent.
    pub window: Option<u64>,
}

impl RateLimit {
    /// Read the headers; `None` when the registry sends none (no limit).
    pub fn from_headers(h: &HeaderMap) -> Option<RateLimit> {
        let field = |name: &str| -> Option<(u64, Option<u64>)> {
            let v = h.get(name)?.to_str().ok()?;
            let mut parts = v.split(';');
            let n = parts.next()?.trim().parse().ok()?;
            let w = parts
                .filter_map(|p| p.trim().strip_prefix("w="))
                .find_map(|w| w.parse().ok());
            Some((n, w))
        };
        let (remaining, w1) = field("ratelimit-remaining")?;
        let limit = field("ratelimit-limit");
        Some(RateLimit {
            remaining,
            limit: limit.map(|l| l.0),
            window: w1.or(limit.and_then(|l| l.1)),
        })
    }
}

/// A client for one registry host.
pub struct RegistryClient {
    http: reqwest::Client,
    /// `https://host` or `http://host`; switched once by the HTTP fallback in `ping`.
    base: std::sync::RwLock<String>,
    host: String,
    auth: Auth,
    opts: ClientOptions,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, Token>>,
    /// Credentials after running a credential helper (once, when first needed).
    resolved: tokio::sync::OnceCell<std::result::Result<Credentials, String>>,
    /// Serialises token requests so concurrent requests share one renewal.
    token_fetch: Mutex<()>,
    /// The last Docker Hub pull budget seen on a manifest answer.
    rate: std::sync::Mutex<Option<RateLimit>>,
}

/// A request body: replayable bytes (re-sent after a 401 challenge) or a one-shot stream.
enum SendBody {
    Bytes(Bytes),
    Stream(reqwest::Body),
}

/// What to ask a token server for.
fn scope(repo: &str, push: bool) -> String {
    format!(
        "repository:{repo}:{}",
        if push { "pull,push" } else { "pull" }
    )
}

fn network_error(method: &Method, url: &str, e: reqwest::Error) -> Error {
    // reqwest puts the full URL (with upload-state tokens) in its message: drop it.
    let e = e.without_url();
    let mut message = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !message.contains(&t) {
            message.push_str(": ");
            message.push_str(&t);
        }
        src = s.source();
    }
    let lower = message.to_ascii_lowercase();
    let https_to_http = lower.contains("invalidcontenttype")
        || lower.contains("corrupt message")
        || lower.contains("wrong version number");
    // A certificate the client cannot verify, or one the server refuses, does not heal by itself.
    let tls_refused = is_tls_refusal(&lower);
    Error::Network {
        method: method.to_string(),
        url: redact_url(url),
        message,
        transient: !https_to_http
            && !tls_refused
            && (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode()),
        https_to_http,
    }
}

/// Whether a (lower-cased) transport error is a TLS certificate problem on either side.
fn is_tls_refusal(lower: &str) -> bool {
    lower.contains("invalid peer certificate")
        || lower.contains("certificate required")
        || lower.contains("certificaterequired")
        || lower.contains("bad certificate")
        || lower.contains("badcertificate")
        || lower.contains("unknown ca")
        || lower.contains("unknownca")
        || lower.contains("certificate unknown")
        || lower.contains("certificateunknown")
}

async fn registry_error(method: &Method, url: &str, resp: Response) -> RegistryError {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = if *method == Method::HEAD {
        Bytes::new()
    } else {
        read_limited(resp, 64 * 1024).await.unwrap_or_default()
    };
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(default)]
        errors: Vec<OciError>,
    }
    let errors = serde_json::from_slice::<Envelope>(&body)
        .map(|e| e.errors)
        .unwrap_or_default();
    let body = (errors.is_empty() && !body.is_empty())
        .then(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    RegistryError {
        method: method.to_string(),
        url: redact_url(url),
        status,
        errors,
        body,
        retry_after,
    }
}

/// Why [`read_limited`] stopped.
enum Limited {
    /// More than the limit: this many bytes had arrived.
    TooLarge(u64),
    /// The body failed.
    Failed(String),
}

impl std::fmt::Display for Limited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limited::TooLarge(n) => write!(f, "body larger than the limit ({n} bytes or more)"),
            Limited::Failed(m) => f.write_str(m),
        }
    }
}

/// Read at most `limit` bytes of a body; more is an error.
async fn read_limited(resp: Response, limit: usize) -> std::result::Result<Bytes, Limited> {
    let mut out = BytesMut::new();
    let mut s = resp.bytes_stream();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| Limited::Failed(e.to_string()))?;
        if out.len() + chunk.len() > limit {
            return Err(Limited::TooLarge((out.len() + chunk.len()) as u64));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

impl RegistryClient {
    /// A client for `host` (as in the reference: `127.0.0.1:5000`, `registry-1.docker.io`).
    pub fn new(host: &str, auth: Auth, opts: ClientOptions) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(opts.timeout)
            .pool_max_idle_per_host(32)
            .tls_danger_accept_invalid_certs(opts.insecure_tls);
        // reqwest's default redirect policy follows up to 10 hops and drops `Authorization`
        // when the host, port or scheme changes (tests/integration/auth_redirect.rs checks it).
        let builder = opts.tls.apply(builder).map_err(|e| {
            Error::Internal(format!(
                "TLS files for {host}{}: {e}",
                opts.tls
                    .dir
                    .as_ref()
                    .map(|d| format!(" in {}", d.display()))
                    .unwrap_or_default()
            ))
        })?;
        let http = builder
            .build()
            .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))?;
        let scheme = if opts.plain_http { "http" } else { "https" };
        Ok(RegistryClient {
            http,
            base: std::sync::RwLock::new(format!("{scheme}://{host}")),
            host: host.to_string(),
            auth,
            opts,
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            resolved: tokio::sync::OnceCell::new(),
            token_fetch: Mutex::new(()),
            rate: std::sync::Mutex::new(None),
        })
    }

    /// `https://host` or `http://host`.
    pub fn base(&self) -> String {
        self.base.read().expect("not poisoned").clone()
    }

    /// The registry host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The pull budget from the last manifest answer that carried rate-limit headers.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        *self.rate.lock().expect("not poisoned")
    }

    fn note_rate_limit(&self, h: &HeaderMap) {
        if let Some(r) = RateLimit::from_headers(h) {
            *self.rate.lock().expect("not poisoned") = Some(r);
        }
    }

    /// Send a request with authentication. A replayable body (or none) is sent again after a
    /// 401 challenge with a fresh token. A streamed body cannot be: the token is renewed and a
    /// transient error returned, so the caller's retry restarts from a fresh stream.
    async fn send(
        &self,
        method: Method,
        url: &str,
        scope: &str,
        headers: HeaderMap,
        body: Option<SendBody>,
        timeout: bool,
    ) -> Result<Response> {
        let mut body = body;
        for attempt in 0..2 {
            let mut req = self
                .http
                .request(method.clone(), url)
                .headers(headers.clone());
            if timeout {
                req = req.timeout(self.opts.timeout);
            }
            let sent_at = Instant::now();
            if let Some(h) = self.auth_header(scope, url).await? {
                req = req.header(AUTHORIZATION, h);
            }
            let replay = match &body {
                Some(SendBody::Bytes(b)) => Some(SendBody::Bytes(b.clone())),
                _ => None,
            };
            let streamed = matches!(body, Some(SendBody::Stream(_)));
            match body.take() {
                Some(SendBody::Bytes(b)) => req = req.body(b),
                Some(SendBody::Stream(b)) => req = req.body(b),
                None => {}
            }
            let resp = req
                .send()
                .await
                .map_err(|e| network_error(&method, url, e))?;
            if resp.status() == StatusCode::UNAUTHORIZED
                && attempt == 0
                && self.handle_challenge(&resp, scope, sent_at).await?
            {
                if !streamed {
                    body = replay;
                    continue;
                }
                return Err(Error::Network {
                    method: method.to_string(),
                    url: redact_url(url),
                    message:
                        "the registry refused the token during a streamed upload (it expired); \
                              the token was renewed and the upload starts again"
                            .into(),
                    transient: true,
                    https_to_http: false,
                });
            }
            return self.check_auth(&method, url, resp).await;
        }
        unreachable!("the loop returns on its second pass")
    }

    async fn check_auth(&self, method: &Method, url: &str, resp: Response) -> Result<Response> {
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            let e = registry_error(method, url, resp).await;
            let reason = if status == 403 {
                format!("{e} (the account may lack rights on this repository)")
            } else {
                e.to_string()
            };
            return Err(Error::Auth {
                registry: self.host.clone(),
                reason,
                credential_source: self.auth.source.clone(),
                status: Some(status),
            });
        }
        Ok(resp)
    }

    /// `GET /v2/` and, when the registry asks, authenticate for `scope` now, so a wrong password
    /// or a token-server refusal is reported with its real reason before any work starts.
    pub async fn ping(&self, scope_repo: &str, push: bool) -> Result<()> {
        let sc = scope(scope_repo, push);
        let resp = match self.get_v2(&sc).await {
            // A loopback registry without --*-plain-http: HTTPS first, plain HTTP when the
            // server answers the TLS handshake in plain HTTP (as docker does for localhost).
            // Nothing listening: report the plain HTTP attempt, the likelier intent.
            Err(e)
                if self.opts.http_fallback
                    && self.base().starts_with("https://")
                    && matches!(e.root(), Error::Network { https_to_http, message, .. }
                        if *https_to_http || message.to_ascii_lowercase().contains("connection refused")) =>
            {
                tracing::debug!(registry = %self.host, "the registry speaks plain HTTP; using http://");
                *self.base.write().expect("not poisoned") = format!("http://{}", self.host);
                self.get_v2(&sc).await?
            }
            r => r?,
        };
        let url = format!("{}/v2/", self.base());
        if resp.status() == StatusCode::UNAUTHORIZED {
            if self.handle_challenge(&resp, &sc, Instant::now()).await? {
                // Confirm that the credentials (or the token) work for /v2/.
                let resp = self
                    .send(Method::GET, &url, &sc, HeaderMap::new(), None, true)
                    .await?;
                if !resp.status().is_success() && resp.status() != StatusCode::NOT_FOUND {
                    return Err(registry_error(&Method::GET, &url, resp).await.into());
                }
                return Ok(());
            }
            return self.check_auth(&Method::GET, &url, resp).await.map(|_| ());
        }
        if !resp.status().is_success() && resp.status() != StatusCode::NOT_FOUND {
            return Err(registry_error(&Method::GET, &url, resp).await.into());
        }
        Ok(())
    }

    async fn get_v2(&self, sc: &str) -> Result<Response> {
        let url = format!("{}/v2/", self.base());
        self.opts
            .retry
            .run("ping", || async {
                let mut req = self.http.get(&url).timeout(self.opts.timeout);
                if let Some(h) = self.auth_header(sc, &url).await? {
                    req = req.header(AUTHORIZATION, h);
                }
                let resp = req
                    .send()
                    .await
                    .map_err(|e| network_error(&Method::GET, &url, e))?;
                // 408/429/5xx are answers worth retrying, not results.
                let e = matches!(resp.status().as_u16(), 408 | 429 | 500..=599);
                if e {
                    return Err(registry_error(&Method::GET, &url, resp).await.into());
                }
                Ok(resp)
            })
            .await
    }
}

/// A repository in a registry: the registry [`Storage`] backend.
pub struct RegistryRepo {
    client: Arc<RegistryClient>,
    repo: String,
    push: bool,
    tags_page: usize,
    /// Upload sessions opened and not yet finished or cancelled (their `Location`s), so an
    /// interrupted copy can cancel them ([`Storage::abort`]).
    open_uploads: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Upload sessions opened by [`Storage::has_blob_before_push`], by digest, for the
    /// `push_blob` that follows.
    reserved: std::sync::Mutex<std::collections::HashMap<Digest, String>>,
    /// Whether this registry answers a `POST ?mount=&from=<this repository>` for a blob that is
    /// here with 201 (`PROBE_*`): learnt once, with a blob known to be here.
    probe: std::sync::atomic::AtomicU8,
}

/// Not yet known whether the registry supports the blob probe (see `has_blob_before_push`).
const PROBE_UNKNOWN: u8 = 0;
/// Being found out.
const PROBE_CHECKING: u8 = 1;
/// A mount from the repository itself answered 201 for a blob that is here.
const PROBE_WORKS: u8 = 2;
/// It did not (202, an error): `HEAD` for the rest of the run.
const PROBE_UNSUPPORTED: u8 = 3;

/// What a manifest HEAD found.
struct Head {
    digest: Option<Digest>,
}

impl RegistryRepo {
    /// A repository handle. `push` selects the token scope (`pull` or `pull,push`).
    pub fn new(client: Arc<RegistryClient>, repo: &str, push: bool) -> Self {
        RegistryRepo {
            client,
            repo: repo.to_string(),
            push,
            tags_page: 1000,
            open_uploads: Default::default(),
            reserved: Default::default(),
            probe: std::sync::atomic::AtomicU8::new(PROBE_UNKNOWN),
        }
    }

    /// The `n` asked for per `tags/list` page (default 1000; registries may clamp it).
    pub fn with_tags_page_size(mut self, n: usize) -> Self {
        self.tags_page = n.max(1);
        self
    }

    /// GET a small JSON document (tags/list, referrers) with retries: `Ok(None)` on 404,
    /// otherwise the body and the response headers.
    async fn get_json(&self, url: &str, accept: &str) -> Result<Option<(HeaderMap, Bytes)>> {
        let mut h = HeaderMap::new();
        h.insert(
            ACCEPT,
            HeaderValue::from_str(accept).map_err(|e| Error::Internal(e.to_string()))?,
        );
        self.client
            .opts
            .retry
            .run("GET", || async {
                let resp = self
                    .client
                    .send(Method::GET, url, &self.scope(), h.clone(), None, true)
                    .await?;
                if resp.status() == StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !resp.status().is_success() {
                    return Err(registry_error(&Method::GET, url, resp).await.into());
                }
                let headers = resp.headers().clone();
                let body =
                    read_limited(resp, MAX_MANIFEST_BYTES)
                        .await
                        .map_err(|m| Error::Network {
                            method: "GET".into(),
                            url: redact_url(url),
                            message: m.to_string(),
                            transient: true,
                            https_to_http: false,
                        })?;
                Ok(Some((headers, body)))
            })
            .await
    }

    /// The `rel="next"` target of a `Link` header, resolved against the registry.
    fn next_link(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|l| {
                let (target, params) = l.trim().split_once(';')?;
                let next = params
                    .split(';')
                    .any(|p| p.trim().trim_start_matches("rel=").trim_matches('"') == "next");
                let t = target.trim().strip_prefix('<')?.strip_suffix('>')?;
                next.then(|| self.resolve_location(t))
            })
    }

    /// The shared client.
    pub fn client(&self) -> &RegistryClient {
        &self.client
    }

    /// Authenticate up front (see [`RegistryClient::ping`]).
    pub async fn ping(&self) -> Result<()> {
        self.client.ping(&self.repo, self.push).await
    }

    fn scope(&self) -> String {
        scope(&self.repo, self.push)
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.client.base(), self.repo)
    }

    fn resolve_location(&self, loc: &str) -> String {
        if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else if loc.starts_with('/') {
            format!("{}{loc}", self.client.base())
        } else {
            format!("{}/{loc}", self.client.base())
        }
    }

    async fn head_manifest(&self, reference: &str) -> Result<Option<Head>> {
        let url = self.url(&format!("manifests/{reference}"));
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(media::MANIFEST_ACCEPT));
        self.client
            .opts
            .retry
            .run("HEAD manifest", || async {
                let resp = self
                    .client
                    .send(Method::HEAD, &url, &self.scope(), h.clone(), None, true)
                    .await?;
                self.client.note_rate_limit(resp.headers());
                match resp.status() {
                    s if s.is_success() => Ok(Some(Head {
                        digest: resp
                            .headers()
                            .get("docker-content-digest")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok()),
                    })),
                    StatusCode::NOT_FOUND => Ok(None),
                    _ => Err(registry_error(&Method::HEAD, &url, resp).await.into()),
                }
            })
            .await
    }

    async fn get_manifest_once(
        &self,
        url: &str,
        reference: &str,
        hint: Option<&str>,
    ) -> Result<RawManifest> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(media::MANIFEST_ACCEPT));
        let resp = self
            .client
            .send(Method::GET, url, &self.scope(), h, None, true)
            .await?;
        self.client.note_rate_limit(resp.headers());
        if !resp.status().is_success() {
            return Err(registry_error(&Method::GET, url, resp).await.into());
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let header_digest: Option<Digest> = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let what = || format!("manifest {reference} from {}", self.describe());
        // Refuse an oversized manifest without reading it, and without retrying: it is not a
        // network problem.
        let too_large = |n: u64| Error::Manifest {
            what: what(),
            source: ManifestError::TooLarge(n as usize),
        };
        if let Some(n) = resp
            .content_length()
            .filter(|n| *n > MAX_MANIFEST_BYTES as u64)
        {
            return Err(too_large(n));
        }
        let bytes = match read_limited(resp, MAX_MANIFEST_BYTES).await {
            Ok(b) => b,
            Err(Limited::TooLarge(n)) => return Err(too_large(n)),
            Err(Limited::Failed(m)) => {
                return Err(Error::Network {
                    method: "GET".into(),
                    url: redact_url(url),
                    message: m,
                    transient: true,
                    https_to_http: false,
                })
            }
        };
        let digest = match reference.parse::<Digest>() {
            Ok(want) => {
                let got = Digest::of(want.algorithm(), &bytes);
                if got != want {
                    return Err(Error::Verify {
                        what: what(),
                        source: VerifyError::Digest {
                            expected: want,
                            actual: got,
                        },
                    });
                }
                got
            }
            Err(_) => {
                let alg = header_digest
                    .as_ref()
                    .map_or(Algorithm::Sha256, Digest::algorithm);
                let got = Digest::of(alg, &bytes);
                if let Some(hd) = header_digest {
                    if hd != got {
                        // Either the body was damaged in transit or the header lies: retry.
                        return Err(Error::Verify {
                            what: what(),
                            source: VerifyError::Source(format!(
                                "Docker-Content-Digest {hd} does not match the body ({got})"
                            )),
                        });
                    }
                }
                got
            }
        };
        let hint = hint.or(content_type.as_deref());
        RawManifest::from_bytes(bytes, digest, hint).map_err(|source| Error::Manifest {
            what: what(),
            source,
        })
    }

    async fn upload_session(
        &self,
        query: &str,
        scope: &str,
    ) -> Result<(StatusCode, Option<String>)> {
        let url = format!("{}{query}", self.url("blobs/uploads/"));
        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let resp = self
            .client
            .send(
                Method::POST,
                &url,
                scope,
                h,
                Some(SendBody::Bytes(Bytes::new())),
                true,
            )
            .await?;
        let status = resp.status();
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| self.resolve_location(l));
        if status == StatusCode::CREATED || status == StatusCode::ACCEPTED {
            return Ok((status, loc));
        }
        Err(registry_error(&Method::POST, &url, resp).await.into())
    }

    /// Record an upload session as open (or no longer open), for [`Storage::abort`].
    fn track_upload(&self, loc: &str, open: bool) {
        let mut set = self.open_uploads.lock().expect("not poisoned");
        if open {
            set.insert(loc.to_string());
        } else {
            set.remove(loc);
        }
    }

    /// Find out, once per run, whether the blob probe of `has_blob_before_push` works here:
    /// `d` is known to be in this repository (a HEAD found it, or it was just uploaded), so a
    /// registry that implements mounts answers the probe for it with 201. Anything else (202,
    /// an error) means HEAD for the rest of the run. Costs one request per run.
    async fn learn_probe(&self, d: &Descriptor) {
        use std::sync::atomic::Ordering;
        if !self.push
            || self
                .probe
                .compare_exchange(
                    PROBE_UNKNOWN,
                    PROBE_CHECKING,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_err()
        {
            return;
        }
        let learnt = match self.mount_from_itself(d).await {
            Ok((StatusCode::CREATED, _)) => PROBE_WORKS,
            Ok((status, loc)) => {
                if let Some(loc) = loc {
                    self.cancel_upload(&loc).await;
                }
                tracing::debug!(%status, "a mount of a blob from its own repository was not done; using HEAD");
                PROBE_UNSUPPORTED
            }
            Err(e) => {
                tracing::debug!(error = %e, "a mount of a blob from its own repository failed; using HEAD");
                PROBE_UNSUPPORTED
            }
        };
        self.probe.store(learnt, Ordering::SeqCst);
    }

    /// `POST blobs/uploads/?mount=<d>&from=<this repository>`: 201 when `d` is linked here and
    /// the registry implements mounts, otherwise 202 and an upload session (or an error).
    async fn mount_from_itself(&self, d: &Descriptor) -> Result<(StatusCode, Option<String>)> {
        let q = format!("?mount={}&from={}", d.digest, self.repo);
        self.upload_session(&q, &self.scope()).await
    }

    /// The upload session reserved for `d` by `has_blob_before_push`, if any.
    fn take_reserved(&self, d: &Digest) -> Option<String> {
        self.reserved.lock().expect("not poisoned").remove(d)
    }

    /// Cancel an upload session (best effort).
    async fn cancel_upload(&self, location: &str) {
        let _ = self
            .client
            .send(
                Method::DELETE,
                location,
                &self.scope(),
                HeaderMap::new(),
                None,
                true,
            )
            .await;
    }
}

/// `GET` a blob from byte `offset` on (`Range`, when `offset` > 0). Returns where the body
/// really starts: `offset` for a 206, 0 for a 200 from a source that ignores `Range`.
async fn open_blob(
    client: Arc<RegistryClient>,
    url: String,
    scope: String,
    offset: u64,
) -> Result<(u64, resume::Body)> {
    let mut h = HeaderMap::new();
    if offset > 0 {
        let v = HeaderValue::from_str(&format!("bytes={offset}-")).expect("ASCII header value");
        h.insert(RANGE, v);
    }
    let resp = client
        .send(Method::GET, &url, &scope, h, None, false)
        .await?;
    let start = match resp.status() {
        StatusCode::PARTIAL_CONTENT => {
            let range = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !range.starts_with(&format!("bytes {offset}-")) {
                return Err(Error::Internal(format!(
                    "GET {} with Range from byte {offset} answered Content-Range {range:?}",
                    redact_url(&url)
                )));
            }
            offset
        }
        s if s.is_success() => 0,
        _ => return Err(registry_error(&Method::GET, &url, resp).await.into()),
    };
    let m = Method::GET;
    let stream = resp
        .bytes_stream()
        .map_err(move |e| network_error(&m, &url, e))
        .boxed();
    Ok((start, stream))
}

impl Storage for RegistryRepo {
    fn describe(&self) -> String {
        format!("{}/{}", self.client.host, self.repo)
    }

    async fn fetch_manifest(&self, reference: &str, hint: Option<&str>) -> Result<RawManifest> {
        let url = self.url(&format!("manifests/{reference}"));
        self.client
            .opts
            .retry
            .run_when("GET manifest", Error::is_transient_or_damaged, || {
                self.get_manifest_once(&url, reference, hint)
            })
            .await
    }

    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        match self.head_manifest(reference).await? {
            None => Ok(None),
            Some(Head { digest: Some(d) }) => Ok(Some(d)),
            // No digest header: fall back to a GET.
            Some(Head { digest: None }) => {
                Ok(Some(self.fetch_manifest(reference, None).await?.digest))
            }
        }
    }

    async fn has_manifest(&self, d: &Descriptor) -> Result<bool> {
        Ok(self.head_manifest(d.digest.as_str()).await?.is_some())
    }

    async fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        let url = self.url(&format!("blobs/{}", d.digest));
        self.client
            .opts
            .retry
            .run("HEAD blob", || async {
                let resp = self
                    .client
                    .send(
                        Method::HEAD,
                        &url,
                        &self.scope(),
                        HeaderMap::new(),
                        None,
                        true,
                    )
                    .await?;
                match resp.status() {
                    s if s.is_success() => Ok(true),
                    StatusCode::NOT_FOUND => Ok(false),
                    _ => Err(registry_error(&Method::HEAD, &url, resp).await.into()),
                }
            })
            .await
    }

    async fn has_blob_before_push(&self, d: &Descriptor) -> Result<bool> {
        use std::sync::atomic::Ordering;
        if !self.push || self.probe.load(Ordering::SeqCst) != PROBE_WORKS {
            let has = self.has_blob(d).await?;
            if has {
                self.learn_probe(d).await;
            }
            return Ok(has);
        }
        // One request instead of HEAD + POST: a mount from this very repository succeeds (201)
        // exactly when the blob is linked here already, and otherwise opens the upload (202),
        // as the distribution spec asks of a mount that cannot be done. Used only once this
        // registry answered 201 for a blob known to be here (`learn_probe`): one that ignores
        // mounts answers 202 to everything, and blobs already here would be uploaded again.
        match self.mount_from_itself(d).await {
            Ok((StatusCode::CREATED, _)) => return Ok(true),
            Ok((_, Some(loc))) => {
                self.track_upload(&loc, true);
                let earlier = self
                    .reserved
                    .lock()
                    .expect("not poisoned")
                    .insert(d.digest.clone(), loc);
                if let Some(earlier) = earlier {
                    self.cancel_upload(&earlier).await;
                    self.track_upload(&earlier, false);
                }
                return Ok(false);
            }
            Ok((status, None)) => {
                tracing::debug!(%status, "POST blobs/uploads/ answered without a Location; using HEAD");
                self.probe.store(PROBE_UNSUPPORTED, Ordering::SeqCst);
            }
            Err(e) => match e.root() {
                Error::Registry(r) if !r.is_transient() && !matches!(r.status, 401 | 403) => {
                    tracing::debug!(error = %e, "a mount from the same repository was refused; using HEAD");
                    self.probe.store(PROBE_UNSUPPORTED, Ordering::SeqCst);
                }
                // Auth and interruption: as they are. Transient trouble: the HEAD retries.
                Error::Registry(r) if !r.is_transient() => return Err(e),
                Error::Registry(_) | Error::Network { .. } => {}
                _ => return Err(e),
            },
        }
        self.has_blob(d).await
    }

    async fn fetch_blob(&self, d: &Descriptor) -> Result<BlobBody> {
        let url = self.url(&format!("blobs/{}", d.digest));
        let (client, scope) = (self.client.clone(), self.scope());
        let (_, first) = self
            .client
            .opts
            .retry
            .run("GET blob", || {
                open_blob(client.clone(), url.clone(), scope.clone(), 0)
            })
            .await?;
        // A body that breaks off is resumed with `Range` (verified as a whole by the caller).
        let reopen: resume::Reopen = Arc::new(move |offset| {
            Box::pin(open_blob(
                client.clone(),
                url.clone(),
                scope.clone(),
                offset,
            ))
        });
        let what = format!("blob {} from {}", d.digest, self.describe());
        let stream = resume::resuming(first, d.size, self.client.opts.retry, what, reopen);
        Ok(BlobBody {
            size: d.size,
            stream,
        })
    }

    async fn push_blob(&self, d: &Descriptor, body: BlobBody) -> Result<()> {
        let reserved = self.take_reserved(&d.digest);
        let loc = match reserved {
            Some(loc) => loc,
            None => {
                let (status, loc) = self.upload_session("", &self.scope()).await?;
                let Some(loc) = loc else {
                    return Err(Error::Internal(format!(
                        "{} answered POST blobs/uploads/ with {status} but no Location",
                        self.describe()
                    )));
                };
                self.track_upload(&loc, true);
                loc
            }
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let put_url = format!("{loc}{sep}digest={}", d.digest);
        // The caller verifies the stream (copy.rs); a stream error aborts the PUT before the last
        // byte, so the registry never commits the upload.
        let verified = body
            .stream
            .map_err(|e| std::io::Error::other(e.to_string()));
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from(d.size));
        let resp = self
            .client
            .send(
                Method::PUT,
                &put_url,
                &self.scope(),
                h,
                Some(SendBody::Stream(reqwest::Body::wrap_stream(verified))),
                false,
            )
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                self.cancel_upload(&loc).await;
                self.track_upload(&loc, false);
                return Err(e);
            }
        };
        if resp.status() == StatusCode::CREATED || resp.status().is_success() {
            self.track_upload(&loc, false);
            self.learn_probe(d).await;
            return Ok(());
        }
        let e = registry_error(&Method::PUT, &put_url, resp).await;
        self.cancel_upload(&loc).await;
        self.track_upload(&loc, false);
        Err(e.into())
    }

    async fn push_manifest(&self, m: &RawManifest, tag: Option<&str>) -> Result<Pushed> {
        // Never start a manifest or tag PUT after an interrupt.
        self.client.opts.cancel.check()?;
        let reference = tag.map_or_else(|| m.digest.to_string(), str::to_string);
        let url = self.url(&format!("manifests/{reference}"));
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&m.media_type).map_err(|_| {
                Error::Internal(format!(
                    "media type {:?} is not a header value",
                    m.media_type
                ))
            })?,
        );
        self.client
            .opts
            .retry
            .run("PUT manifest", || async {
                let resp = self
                    .client
                    .send(
                        Method::PUT,
                        &url,
                        &self.scope(),
                        h.clone(),
                        Some(SendBody::Bytes(m.bytes.clone())),
                        true,
                    )
                    .await?;
                if !resp.status().is_success() {
                    return Err(registry_error(&Method::PUT, &url, resp).await.into());
                }
                let oci_subject: Option<Digest> = resp
                    .headers()
                    .get("oci-subject")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                if let Some(got) = resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                {
                    if got != m.digest.as_str() && got.starts_with(m.digest.algorithm().as_str()) {
                        return Err(Error::Verify {
                            what: format!("manifest {} pushed to {}", m.digest, self.describe()),
                            source: VerifyError::Source(format!(
                                "the registry stored it as {got}: the bytes changed in transit"
                            )),
                        });
                    }
                }
                Ok(oci_subject.map_or(Pushed::Written, Pushed::SubjectIndexed))
            })
            .await
    }

    async fn try_mount(&self, d: &Descriptor, from: &Self) -> Result<bool> {
        if from.client.host != self.client.host || from.repo == self.repo {
            return Ok(false);
        }
        let q = format!("?mount={}&from={}", d.digest, from.repo);
        // The registry checks push on this repository and pull on the source in one request
        // (distribution `app.authorized`): ask for one token carrying both scopes.
        let scopes = format!("{} {}", self.scope(), scope(&from.repo, false));
        match self.upload_session(&q, &scopes).await {
            Ok((StatusCode::CREATED, _)) => {
                // Mounted: the session has_blob_before_push opened is not needed.
                if let Some(loc) = self.take_reserved(&d.digest) {
                    self.cancel_upload(&loc).await;
                    self.track_upload(&loc, false);
                }
                Ok(true)
            }
            Ok((_, Some(loc))) => {
                // 202: not mounted, an upload was opened instead; we upload separately, so cancel it.
                self.cancel_upload(&loc).await;
                Ok(false)
            }
            Ok(_) => Ok(false),
            Err(e) if e.kind() == crate::error::ErrorKind::Auth => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn is_registry(&self) -> bool {
        true
    }

    async fn list_tags(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut url = self.url(&format!("tags/list?n={}", self.tags_page));
        let mut tags = vec![];
        for _page in 0..100_000 {
            let Some((headers, body)) = self.get_json(&url, "application/json").await? else {
                // An unknown repository has no tags.
                return Ok(tags);
            };
            let page: Page = serde_json::from_slice(&body).map_err(|e| {
                Error::Internal(format!(
                    "GET {} answered a tag list that is not JSON: {e}",
                    redact_url(&url)
                ))
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match self.next_link(&headers) {
                Some(next) if next != url => url = next,
                _ => return Ok(tags),
            }
        }
        Err(Error::Internal(format!(
            "{}: tags/list pagination did not end",
            self.describe()
        )))
    }

    async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<ReferrerList>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            manifests: Vec<Descriptor>,
        }
        let mut url = self.url(&format!("referrers/{subject}"));
        if let Some(t) = artifact_type {
            let mut u = reqwest::Url::parse(&url)
                .map_err(|e| Error::Internal(format!("referrers URL: {e}")))?;
            u.query_pairs_mut().append_pair("artifactType", t);
            url = u.to_string();
        }
        let mut out = ReferrerList::default();
        for page in 0..10_000 {
            let Some((headers, body)) = self.get_json(&url, media::OCI_INDEX).await? else {
                if page == 0 {
                    return Ok(None);
                }
                return Err(Error::Missing {
                    what: format!("referrers page {}", redact_url(&url)),
                    place: self.describe(),
                    sparse: false,
                });
            };
            let p: Page = serde_json::from_slice(&body).map_err(|e| Error::Manifest {
                what: format!("referrers of {subject} from {}", self.describe()),
                source: crate::model::manifest::ManifestError::Invalid(e.to_string()),
            })?;
            out.descriptors.extend(p.manifests);
            out.filtered |= headers
                .get("oci-filters-applied")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            match self.next_link(&headers) {
                Some(next) if next != url => url = next,
                _ => return Ok(Some(out)),
            }
        }
        Err(Error::Internal(format!(
            "{}: referrers pagination did not end",
            self.describe()
        )))
    }

    async fn finish(&self) -> Result<()> {
        Ok(())
    }

    async fn abort(&self) {
        self.reserved.lock().expect("not poisoned").clear();
        let open: Vec<String> = self
            .open_uploads
            .lock()
            .expect("not poisoned")
            .drain()
            .collect();
        let cancels = open.iter().map(|loc| async move {
            let done = tokio::time::timeout(Duration::from_secs(5), self.cancel_upload(loc)).await;
            tracing::debug!(location = %redact_url(loc), ok = done.is_ok(), "cancelled upload session");
        });
        futures_util::future::join_all(cancels).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A server that answers everything in plain HTTP: 200 to `GET /v2/`, 400 to anything else
    /// (a TLS ClientHello included), like a registry without TLS.
    fn plain_http_server() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let n = c.read(&mut buf).unwrap_or(0);
                let status = if buf[..n].starts_with(b"GET /v2/ ") {
                    "200 OK"
                } else {
                    "400 Bad Request"
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        addr
    }

    fn opts(fallback: bool) -> ClientOptions {
        ClientOptions {
            http_fallback: fallback,
            retry: RetryPolicy::none(),
            ..ClientOptions::default()
        }
    }

    #[tokio::test]
    async fn https_to_a_plain_http_registry_gets_a_hint() {
        let host = plain_http_server();
        let c = RegistryClient::new(&host, Auth::anonymous(), opts(false)).unwrap();
        let e = c.ping("a", false).await.unwrap_err();
        assert!(
            matches!(
                e.root(),
                Error::Network {
                    https_to_http: true,
                    transient: false,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.hints().iter().any(|h| h.contains("--src-plain-http")),
            "{:?}",
            e.hints()
        );
    }

    #[tokio::test]
    async fn loopback_falls_back_to_plain_http() {
        let host = plain_http_server();
        let c = RegistryClient::new(&host, Auth::anonymous(), opts(true)).unwrap();
        c.ping("a", false).await.unwrap();
        assert_eq!(c.base(), format!("http://{host}"));
    }
}

#[cfg(test)]
mod rate_limit_tests {
    use super::*;

    #[test]
    fn docker_hub_rate_limit_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(RateLimit::from_headers(&h), None);
        h.insert("ratelimit-limit", HeaderValue::from_static("100;w=21600"));
        h.insert(
            "ratelimit-remaining",
            HeaderValue::from_static("20;w=21600"),
        );
        assert_eq!(
            RateLimit::from_headers(&h),
            Some(RateLimit {
                remaining: 20,
                limit: Some(100),
                window: Some(21600)
            })
        );
        h.insert("ratelimit-remaining", HeaderValue::from_static("7"));
        assert_eq!(RateLimit::from_headers(&h).unwrap().window, Some(21600));
    }
}
