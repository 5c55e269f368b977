//! Ranged blob GETs from a registry: the probe, the per-host fallback, and redirected blob URLs.
//!
//! - **Probe, do not assume.** The first range of every blob is the probe: it must be answered
//!   `206` with `Content-Range: bytes FIRST-LAST/SIZE`, exactly the bytes asked for and the
//!   descriptor's size. Anything else (`200` with the whole blob, `416`, `400`, `501`, another
//!   range or total) marks the host as refusing ranges for the rest of the run
//!   ([`RangeSupport::Refused`]), said once at `-v`; its blobs then come as one stream each.
//!   What distribution and crane's registry answer:
//!   docs/registries.md §Range requests on blobs.
//! - **Only where they help.** A host whose round trip (the fastest of three TCP handshakes,
//!   measured once per run after the first probe) is under `--range-min-rtt` (20 ms) is near:
//!   one stream fills such a path, and ranges would only cost CPU and memory
//!   ([`RangeSupport::Near`], reason `near` in the report).
//! - **Only blobs.** Manifests are never asked for with `Range` (they are small, and digests of
//!   manifests are checked on the whole body).
//! - **Redirects.** Ranges go through `ranges_http` (HTTP/1.1, redirects not followed), so a
//!   redirect (S3, GCS, Azure, a CDN) is followed here: the redirected URL is kept for the
//!   blob's other ranges and asked without the registry's `Authorization` (`client.rs` sends
//!   credentials only to the registry's own origin; docs/auth.md). When the redirected URL is
//!   refused (`400`, `401`, `403`: a signed URL that expired mid-blob), the registry is asked
//!   again for a fresh one, once per request.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_RANGE, LOCATION, RANGE};
use reqwest::{Method, Response, StatusCode};

use super::client::{RangeSupport, RegistryClient, MAX_REDIRECTS};
use super::errors::{network_error, registry_error};
use super::headers;
use crate::error::{redact_url, Error, Result};
use crate::transport::ranges::budget::{RangeBudget, RangeSource};
use crate::transport::ranges::RangedBlob;
use crate::transport::resume::Body;
use crate::transport::retry::RetryPolicy;

/// What the probe found.
pub(super) enum Probed {
    /// Ranges work: the blob, its first range already open.
    Ranged(RangedBlob),
    /// They do not (the reason); fetch the blob as one stream.
    Refused(String),
    /// They would not help (the reason): the host answers faster than `--range-min-rtt`.
    Near(String),
}

/// One blob of one repository, as a [`RangeSource`].
struct BlobRanges {
    client: Arc<RegistryClient>,
    /// The registry's blob URL.
    url: String,
    scope: String,
    size: u64,
    /// `blob sha256:… from host/repo`, for messages.
    what: String,
    /// Where the registry redirected this blob's GETs to, once it has.
    redirected: Mutex<Option<String>>,
    /// Why the registry stopped answering ranges of this blob, once it has.
    refused: Mutex<Option<String>>,
}

/// How one range request was answered.
enum Answer {
    /// `206` with the matching `Content-Range`.
    Range(Body),
    /// Anything else a registry may answer to a `Range` it does not support.
    Refused(String),
}

/// Whether the registry answers `Range` on blob GETs, as seen so far in this run.
pub(super) fn support(client: &RegistryClient) -> RangeSupport {
    client.ranges.lock().expect("not poisoned").clone()
}

/// Note that `client`'s host refuses ranges; says so once at `-v`.
fn refuse(client: &RegistryClient, reason: &str) {
    let mut s = client.ranges.lock().expect("not poisoned");
    if !matches!(*s, RangeSupport::Refused(_)) {
        tracing::debug!(
            registry = %client.host,
            "{reason}: blobs from {} are fetched as one stream each for the rest of the run",
            client.host
        );
        *s = RangeSupport::Refused(reason.to_string());
    }
}

/// Probe `url` (a blob of `size` bytes) with its first range; on a `206` that matches, the
/// ranged blob.
pub(super) async fn probe(
    client: &Arc<RegistryClient>,
    (url, scope, what): (String, String, String),
    size: u64,
    budget: &Arc<RangeBudget>,
    retry: RetryPolicy,
) -> Result<Probed> {
    match support(client) {
        RangeSupport::Refused(reason) => return Ok(Probed::Refused(reason)),
        RangeSupport::Near(reason) => return Ok(Probed::Near(reason)),
        _ => {}
    }
    let blob = Arc::new(BlobRanges {
        client: client.clone(),
        url,
        scope,
        size,
        what,
        redirected: Mutex::new(None),
        refused: Mutex::new(None),
    });
    let (first, last) = budget.first_range(size);
    let asked = Instant::now();
    let answer = retry
        .run("GET blob range", || blob.get(first, last))
        .await?;
    let took = asked.elapsed();
    match answer {
        Answer::Range(body) => {
            // The first probe of the host decides whether it is near: the round trip to the
            // host that serves the bytes (the redirected one, if any).
            if support(client) == RangeSupport::Unknown {
                let serving = blob.redirected.lock().expect("not poisoned").clone();
                let serving = serving.unwrap_or_else(|| blob.url.clone());
                let (rtt, how) = match handshake_rtt(&serving).await {
                    Some(rtt) => (rtt, "a TCP handshake with"),
                    None => (took, "the Range probe of"),
                };
                let mut s = client.ranges.lock().expect("not poisoned");
                if *s == RangeSupport::Unknown {
                    if rtt < budget.min_rtt() {
                        let reason = format!(
                            "{how} {} took {:.1} ms (under {} ms): one stream fills a path \
                             this short",
                            host_of(&serving),
                            rtt.as_secs_f64() * 1000.0,
                            budget.min_rtt().as_millis()
                        );
                        tracing::debug!(registry = %client.host, "{reason}");
                        *s = RangeSupport::Near(reason);
                    } else {
                        *s = RangeSupport::Works;
                    }
                }
            }
            if let RangeSupport::Near(reason) = support(client) {
                return Ok(Probed::Near(reason));
            }
            let source: Arc<dyn RangeSource> = Arc::new(Ranges(blob));
            Ok(Probed::Ranged(RangedBlob::new(
                source,
                size,
                body,
                budget.clone(),
                retry,
            )))
        }
        Answer::Refused(reason) => {
            refuse(client, &reason);
            Ok(Probed::Refused(reason))
        }
    }
}

impl BlobRanges {
    /// `GET` bytes `first..=last`, following redirects (see the module docs).
    async fn get(&self, first: u64, last: u64) -> Result<Answer> {
        let mut hops = 0;
        let mut renewed = false;
        // A URL the registry has just redirected this request to.
        let mut next: Option<String> = None;
        loop {
            // The blob's redirected URL, unless this request was refused there already: then
            // the registry is asked for a fresh one, which this request uses.
            let kept = match (next.take(), renewed) {
                (Some(u), _) => Some(u),
                (None, false) => self.redirected.lock().expect("not poisoned").clone(),
                (None, true) => None,
            };
            let (url, redirected) = match kept {
                Some(u) => (u, true),
                None => (self.url.clone(), false),
            };
            let mut h = HeaderMap::new();
            let range = format!("bytes={first}-{last}");
            h.insert(
                RANGE,
                HeaderValue::from_str(&range).expect("ASCII header value"),
            );
            let c = &self.client;
            let sent = c
                .send_on(
                    &c.ranges_http,
                    Method::GET,
                    &url,
                    &self.scope,
                    h,
                    None,
                    false,
                )
                .await;
            let resp = match sent {
                // A redirected URL that refuses us (`client.rs` turned its 401/403 into an
                // authentication error): a signed URL that expired. Ask the registry again.
                Err(e) if redirected && !renewed && is_refusal(&e) => {
                    self.renew(&url, &e.to_string());
                    renewed = true;
                    continue;
                }
                r => r?,
            };
            let status = resp.status();
            if status.is_redirection() {
                hops += 1;
                let to = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|loc| headers::resolve(&origin(&url), loc));
                match to {
                    Some(to) if hops <= MAX_REDIRECTS => {
                        tracing::debug!(
                            blob = %self.what,
                            to = %redact_url(&to),
                            "blob GET redirected; its ranges go there, without the registry's credentials"
                        );
                        *self.redirected.lock().expect("not poisoned") = Some(to.clone());
                        next = Some(to);
                        continue;
                    }
                    _ => return Err(registry_error(&Method::GET, &url, resp).await.into()),
                }
            }
            if redirected && !renewed && status == StatusCode::BAD_REQUEST {
                self.renew(&url, "400 Bad Request");
                renewed = true;
                continue;
            }
            return self.answer(&url, &range, resp).await;
        }
    }

    /// Forget the redirected URL `url` (unless another request has replaced it already), so
    /// the next request asks the registry for a fresh one.
    fn renew(&self, url: &str, why: &str) {
        tracing::debug!(
            blob = %self.what,
            url = %redact_url(url),
            "the redirected blob URL was refused ({why}); asking the registry for a new one"
        );
        let mut kept = self.redirected.lock().expect("not poisoned");
        if kept.as_deref() == Some(url) {
            *kept = None;
        }
    }

    async fn answer(&self, url: &str, range: &str, resp: Response) -> Result<Answer> {
        let status = resp.status();
        let host = self.client.host.clone();
        match status.as_u16() {
            206 => {
                let given = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let asked = range.trim_start_matches("bytes=");
                let matches = headers::content_range(&given).is_some_and(|r| {
                    format!("{}-{}", r.first, r.last) == asked && r.total == Some(self.size)
                });
                if !matches {
                    return Ok(Answer::Refused(format!(
                        "{host} answered Content-Range {} to Range: {range} of a {}-byte blob",
                        headers::quote(&given),
                        self.size
                    )));
                }
                let (m, u) = (Method::GET, url.to_string());
                let body = resp
                    .bytes_stream()
                    .map_err(move |e| network_error(&m, &u, e))
                    .boxed();
                Ok(Answer::Range(body))
            }
            200 => Ok(Answer::Refused(format!(
                "{host} answered 200 (the whole blob) to a Range request"
            ))),
            400 | 416 | 501 => Ok(Answer::Refused(format!(
                "{host} answered {status} to Range: {range}"
            ))),
            _ => Err(registry_error(&Method::GET, url, resp).await.into()),
        }
    }
}

/// A 401 or 403 turned into an authentication error by `client.rs`.
fn is_refusal(e: &Error) -> bool {
    matches!(
        e.root(),
        Error::Auth {
            status: Some(401 | 403),
            ..
        }
    )
}

/// The round trip to `url`'s host: the fastest of three TCP handshakes made at once (the
/// kernel answers a handshake, so a busy server does not lengthen it, as it would a request).
/// `None` when the host cannot be reached directly (a proxy in the way).
async fn handshake_rtt(url: &str) -> Option<Duration> {
    let u = reqwest::Url::parse(url).ok()?;
    let addr = tokio::task::spawn_blocking(move || u.socket_addrs(|| None))
        .await
        .ok()?
        .ok()?
        .into_iter()
        .next()?;
    let tries = (0..3).map(|_| {
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                .ok()
                .map(|_| t.elapsed())
        })
    });
    futures_util::future::join_all(tries)
        .await
        .into_iter()
        .filter_map(|r| r.ok().flatten())
        .min()
}

/// `host[:port]` of `url`, for messages.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_string();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_default()
}

/// `scheme://host[:port]` of `url` (what a relative `Location` is resolved against).
fn origin(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// The [`RangeSource`] the ranged download asks for its other ranges.
struct Ranges(Arc<BlobRanges>);

impl RangeSource for Ranges {
    fn open(&self, first: u64, last: u64) -> BoxFuture<'static, Result<Body>> {
        let blob = self.0.clone();
        Box::pin(async move {
            match blob.get(first, last).await? {
                Answer::Range(body) => Ok(body),
                // It worked for the probe and stopped working: no more ranges from this host.
                // Not retried as a range; the engine fetches the blob again as one stream
                // (`refused` below says why).
                Answer::Refused(reason) => {
                    refuse(&blob.client, &reason);
                    *blob.refused.lock().expect("not poisoned") = Some(reason.clone());
                    Err(Error::Network {
                        method: "GET".into(),
                        url: blob.what.clone(),
                        message: format!("{reason}, after earlier ranges were answered"),
                        transient: false,
                        https_to_http: false,
                    })
                }
            }
        })
    }

    fn describe(&self) -> String {
        self.0.what.clone()
    }

    /// This blob's own refusal: a blob that failed for another reason while another blob of
    /// the host was refused keeps its own error, it is not fetched again as one stream.
    fn refused(&self) -> Option<String> {
        self.0.refused.lock().expect("not poisoned").clone()
    }
}
