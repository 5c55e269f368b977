//! The HTTP client for one registry host: connection settings, the authenticated `send` every
//! request goes through (one replay after a 401 challenge), and the `GET /v2/` ping with its
//! plain-HTTP fallback. The token handshake itself is in `auth_flow.rs`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::Mutex;

use super::errors::{network_error, registry_error};
use crate::auth::{Auth, Challenge, Credentials};
use crate::error::{redact_url, Error, Result};
use crate::transport::retry::RetryPolicy;

/// The most redirects one request follows (docs/reliability.md).
pub const MAX_REDIRECTS: usize = 10;

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

pub(super) struct Token {
    pub(super) value: String,
    pub(super) expires: Instant,
    pub(super) fetched: Instant,
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
    pub(super) http: reqwest::Client,
    /// `https://host` or `http://host`; switched once by the HTTP fallback in `ping`.
    pub(super) base: std::sync::RwLock<String>,
    pub(super) host: String,
    pub(super) auth: Auth,
    pub(super) opts: ClientOptions,
    pub(super) challenge: Mutex<Option<Challenge>>,
    pub(super) tokens: Mutex<HashMap<String, Token>>,
    /// Credentials after running a credential helper (once, when first needed).
    pub(super) resolved: tokio::sync::OnceCell<std::result::Result<Credentials, String>>,
    /// Serialises token requests so concurrent requests share one renewal.
    pub(super) token_fetch: Mutex<()>,
    /// The last Docker Hub pull budget seen on a manifest answer.
    pub(super) rate: std::sync::Mutex<Option<RateLimit>>,
    /// The HTTP/1.1 pool for ranged blob downloads (`ranges.rs`).
    pub(super) ranges_http: reqwest::Client,
    /// Whether this host answers `Range` on blob GETs, as far as the run has seen.
    pub(super) ranges: std::sync::Mutex<RangeSupport>,
}

/// What a host has shown about `Range` on blob GETs (`ranges.rs` probes it once per run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeSupport {
    /// Not asked yet.
    Unknown,
    /// A probe was answered with the matching `206`.
    Works,
    /// A probe was answered otherwise (the reason): one stream per blob for the rest of the run.
    Refused(String),
    /// A probe was answered within `--range-min-rtt` (the reason): the host is near, one stream
    /// per blob fills the path.
    Near(String),
}

/// A reqwest client with the settings every connection to `host` shares, and `extra`.
fn build_http(
    host: &str,
    opts: &ClientOptions,
    extra: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .user_agent(opts.user_agent.clone())
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(opts.timeout)
        .pool_max_idle_per_host(32)
        .tls_danger_accept_invalid_certs(opts.insecure_tls);
    let builder = opts.tls.apply(extra(builder)).map_err(|e| {
        Error::Internal(format!(
            "TLS files for {host}{}: {e}",
            opts.tls
                .dir
                .as_ref()
                .map(|d| format!(" in {}", d.display()))
                .unwrap_or_default()
        ))
    })?;
    builder
        .build()
        .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))
}

/// A request body: replayable bytes (re-sent after a 401 challenge) or a one-shot stream.
pub(super) enum SendBody {
    Bytes(Bytes),
    Stream(reqwest::Body),
}

/// What to ask a token server for.
pub(super) fn scope(repo: &str, push: bool) -> String {
    format!(
        "repository:{repo}:{}",
        if push { "pull,push" } else { "pull" }
    )
}

impl RegistryClient {
    /// A client for `host` (as in the reference: `127.0.0.1:5000`, `registry-1.docker.io`).
    pub fn new(host: &str, auth: Auth, opts: ClientOptions) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // At most MAX_REDIRECTS hops; reqwest drops `Authorization` when a redirect changes
        // the host, port or scheme (tests/integration/auth/redirect.rs and hostile_registry.rs
        // check it).
        let http = build_http(host, &opts, |b| {
            b.redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        })?;
        // Ranged blob downloads (ranges.rs): HTTP/1.1 only, so each range has its own
        // connection and TCP window (HTTP/2 streams share one connection's flow control), and
        // redirects are followed by ranges.rs itself, which keeps the redirected URL for the
        // blob's other ranges.
        let ranges_http = build_http(host, &opts, |b| {
            b.http1_only()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(64)
        })?;
        let scheme = if opts.plain_http { "http" } else { "https" };
        Ok(RegistryClient {
            http,
            ranges_http,
            ranges: std::sync::Mutex::new(RangeSupport::Unknown),
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

    pub(super) fn note_rate_limit(&self, h: &HeaderMap) {
        if let Some(r) = RateLimit::from_headers(h) {
            *self.rate.lock().expect("not poisoned") = Some(r);
        }
    }

    /// Send a request with authentication. A replayable body (or none) is sent again after a
    /// 401 challenge with a fresh token. A streamed body cannot be: the token is renewed and a
    /// transient error returned, so the caller's retry restarts from a fresh stream.
    pub(super) async fn send(
        &self,
        method: Method,
        url: &str,
        scope: &str,
        headers: HeaderMap,
        body: Option<SendBody>,
        timeout: bool,
    ) -> Result<Response> {
        self.send_on(&self.http, method, url, scope, headers, body, timeout)
            .await
    }

    /// [`send`](Self::send) on another connection pool (`ranges_http`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send_on(
        &self,
        http: &reqwest::Client,
        method: Method,
        url: &str,
        scope: &str,
        headers: HeaderMap,
        body: Option<SendBody>,
        timeout: bool,
    ) -> Result<Response> {
        let mut body = body;
        // Credentials stay with their host: a server-given URL on another origin (an upload
        // `Location`, a paging `Link`) gets no `Authorization`, and its 401 is not answered
        // with a token (docs/auth.md).
        let ours = super::headers::same_origin(&self.base(), url);
        if !ours {
            tracing::debug!(
                registry = %self.host,
                url = %redact_url(url),
                "a URL on another host: sent without credentials"
            );
        }
        for attempt in 0..2 {
            let mut req = http.request(method.clone(), url).headers(headers.clone());
            if timeout {
                req = req.timeout(self.opts.timeout);
            }
            let sent_at = Instant::now();
            if ours {
                if let Some(h) = self.auth_header(scope, url).await? {
                    req = req.header(AUTHORIZATION, h);
                }
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
                && ours
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

    pub(super) async fn check_auth(
        &self,
        method: &Method,
        url: &str,
        resp: Response,
    ) -> Result<Response> {
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
    use reqwest::header::HeaderValue;

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
