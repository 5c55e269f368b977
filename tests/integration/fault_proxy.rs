//! A fault-injecting HTTP/1.1 proxy, placed in front of a real `docker-registry` process.
//!
//! No installable registry misbehaves on demand, so this proxy does it (the one kind of fake the
//! project rules allow): every request is forwarded to the real registry unless a fault says
//! otherwise. Faults are chosen per request, either by [`Rule`]s (the n-th request matching a
//! method and a path part) or at random with probability [`FaultConfig::rate`] from a seeded
//! xorshift generator, so a run is reproducible for a given request order (fully so with
//! `--jobs 1`). Every request is recorded ([`Seen`]) with the fault applied and the status sent.
//!
//! Fault kinds ([`Fault`]):
//! - `Reset`: the TCP connection is reset (RST, `SO_LINGER` 0): half-way through the request
//!   body for uploads, half-way through the response body otherwise, or before any answer
//!   when there is no body;
//! - `Status(500|502|503)`: that status with an OCI error body, not forwarded;
//! - `RateLimit`: 429 `TOOMANYREQUESTS` with `Retry-After: 1`, not forwarded;
//! - `Truncate`: forwarded, but only the first half of the response body is delivered, with
//!   clean framing (no `Content-Length`, chunked end): the client sees a complete short body;
//! - `Stall`: forwarded, then the response stalls for [`FaultConfig::stall`] (2 s by default),
//!   mid-body when there is a body;
//! - `WrongDigest`: forwarded, with `Docker-Content-Digest` replaced by a wrong digest;
//! - `Canned(status, body)`: a scripted answer, e.g. 500 carrying `MANIFEST_BLOB_UNKNOWN`.
//!
//! Besides faults, [`FaultConfig::latency`] delays every request and [`FaultConfig::throttle`]
//! limits body throughput in both directions (to hold an upload open for a signal test).
#![allow(dead_code)]

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::harness::sha256;

/// One kind of misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Connection reset mid-body (request body for uploads, else response body).
    Reset,
    /// This status with an OCI error body, not forwarded.
    Status(u16),
    /// 429 with `Retry-After: 1`, not forwarded.
    RateLimit,
    /// The first half of the response body, cleanly framed.
    Truncate,
    /// A stall of [`FaultConfig::stall`].
    Stall,
    /// A wrong `Docker-Content-Digest` header.
    WrongDigest,
    /// A scripted answer: status and body, not forwarded.
    Canned(u16, &'static str),
}

/// The random fault mix of the issue: reset, 500, 502, 503, 429, truncate, stall, wrong digest.
pub const ALL_FAULTS: [Fault; 8] = [
    Fault::Reset,
    Fault::Status(500),
    Fault::Status(502),
    Fault::Status(503),
    Fault::RateLimit,
    Fault::Truncate,
    Fault::Stall,
    Fault::WrongDigest,
];

/// A scripted fault: applied to the `nth` (1-based; 0 = every) request with this method whose
/// path-and-query contains `path_contains`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// HTTP method, e.g. `"PUT"`.
    pub method: &'static str,
    /// A part of the path and query.
    pub path_contains: String,
    /// Which matching request (1-based); 0 applies to every match.
    pub nth: usize,
    /// What to do.
    pub fault: Fault,
}

/// What the proxy does with a `Range` header on a blob GET (issue 24's sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeMode {
    /// Forwarded: the registry answers it.
    Pass,
    /// Dropped before forwarding: the registry answers 200 with the whole blob, as a server
    /// that ignores `Range` does.
    Ignore,
    /// Answered with this status (416, 400) without forwarding.
    Refuse(u16),
    /// Forwarded starting one byte later than asked: a 206 whose `Content-Range` is not the
    /// range asked for.
    Shift,
}

/// Per-proxy behaviour.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Probability of a random fault per request (0.0 ..= 1.0).
    pub rate: f64,
    /// Seed of the generator choosing random faults.
    pub seed: u64,
    /// The random fault mix.
    pub kinds: Vec<Fault>,
    /// How long a `Stall` lasts.
    pub stall: Duration,
    /// Scripted faults, checked before random ones.
    pub rules: Vec<Rule>,
    /// A delay added to every request.
    pub latency: Duration,
    /// Body throughput limit in bytes per second, both directions.
    pub throttle: Option<u64>,
    /// Read a whole request body before forwarding it, as nginx does by default
    /// (`proxy_request_buffering on`): an upload the client abandons never reaches the registry.
    pub buffer_requests: bool,
    /// Rewrite every `Location` to carry this userinfo (`user:password`) and these extra query
    /// parameters (`token=…&X-Amz-Signature=…`), as a registry handing out signed URLs would.
    pub decorate_location: Option<(&'static str, &'static str)>,
    /// What happens to `Range` headers of blob GETs.
    pub range: RangeMode,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate: 0.0,
            seed: 1,
            kinds: ALL_FAULTS.to_vec(),
            stall: Duration::from_secs(2),
            rules: vec![],
            latency: Duration::ZERO,
            throttle: None,
            buffer_requests: false,
            decorate_location: None,
            range: RangeMode::Pass,
        }
    }
}

impl FaultConfig {
    /// Random faults from [`ALL_FAULTS`] at `rate`, seeded.
    pub fn random(rate: f64, seed: u64) -> Self {
        FaultConfig {
            rate,
            seed,
            ..Self::default()
        }
    }

    /// Only scripted faults.
    pub fn rules(rules: Vec<Rule>) -> Self {
        FaultConfig {
            rules,
            ..Self::default()
        }
    }
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When it arrived, since the proxy started.
    pub at: Duration,
    /// Method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// The status sent to the client (`None`: the connection was reset before an answer).
    pub status: Option<u16>,
    /// The `Location` header sent to the client.
    pub location: Option<String>,
    /// The request's `Range` header.
    pub range: Option<String>,
}

impl Seen {
    /// Whether the client received a success status.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
            && !matches!(self.fault, Some(Fault::Reset | Fault::Truncate))
    }
}

struct Shared {
    upstream: String,
    cfg: FaultConfig,
    started: Instant,
    rng: Mutex<u64>,
    seen: Mutex<Vec<Seen>>,
    client: reqwest::Client,
}

/// A running proxy on `127.0.0.1:<random port>`; stops accepting when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Start a proxy forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: &str, cfg: FaultConfig) -> FaultProxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("proxy client");
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            rng: Mutex::new(cfg.seed.max(1)),
            cfg,
            started: Instant::now(),
            seen: Mutex::new(vec![]),
            client,
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                tokio::spawn(serve_connection(s.clone(), tcp, addr));
            }
        });
        FaultProxy { addr, shared, task }
    }

    /// `127.0.0.1:PORT`, to put in image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Time since the proxy started (the clock of [`Seen::at`]).
    pub fn elapsed(&self) -> Duration {
        self.shared.started.elapsed()
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// How many requests got each fault, as text for reports.
    pub fn fault_summary(&self) -> String {
        let seen = self.seen();
        let mut counts: Vec<(String, usize)> = vec![];
        for s in &seen {
            let k = match s.fault {
                Some(f) => format!("{f:?}"),
                None => continue,
            };
            match counts.iter_mut().find(|(n, _)| *n == k) {
                Some((_, c)) => *c += 1,
                None => counts.push((k, 1)),
            }
        }
        counts.sort();
        let faults: usize = counts.iter().map(|(_, c)| c).sum();
        format!(
            "{} requests, {} faults ({})",
            seen.len(),
            faults,
            counts
                .iter()
                .map(|(k, c)| format!("{k} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Shared between a connection task and its requests: firing it resets the connection.
#[derive(Default)]
struct Kill {
    fired: AtomicBool,
    notify: Notify,
}

impl Kill {
    fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }
}

/// A TCP stream that, once its [`Kill`] fired, closes with RST instead of FIN.
struct KillableIo {
    tcp: TcpStream,
    kill: Arc<Kill>,
}

impl Drop for KillableIo {
    fn drop(&mut self) {
        if self.kill.fired.load(Ordering::SeqCst) {
            let _ = self.tcp.set_zero_linger();
        }
    }
}

impl AsyncRead for KillableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kill.fired.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.fired.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

type Body = UnsyncBoxBody<Bytes, io::Error>;

async fn serve_connection(shared: Arc<Shared>, tcp: TcpStream, me: SocketAddr) {
    let kill = Arc::new(Kill::default());
    let io = TokioIo::new(KillableIo {
        tcp,
        kill: kill.clone(),
    });
    let k = kill.clone();
    let svc = hyper::service::service_fn(move |req| handle(shared.clone(), k.clone(), me, req));
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, svc);
    tokio::select! {
        _ = conn => {}
        // Dropping the connection drops the socket; KillableIo makes that an RST.
        _ = kill.notify.notified() => {}
    }
}

fn next_random(shared: &Shared) -> u64 {
    let mut s = shared.rng.lock().unwrap();
    // xorshift64*
    let mut x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn decide(shared: &Shared, method: &str, target: &str, earlier: &[Seen]) -> Option<Fault> {
    for r in &shared.cfg.rules {
        if r.method != method || !target.contains(&r.path_contains) {
            continue;
        }
        let n = earlier
            .iter()
            .filter(|s| s.method == method && s.target.contains(&r.path_contains))
            .count()
            + 1;
        if r.nth == 0 || r.nth == n {
            return Some(r.fault);
        }
    }
    if shared.cfg.rate <= 0.0 || shared.cfg.kinds.is_empty() {
        return None;
    }
    let roll = (next_random(shared) >> 11) as f64 / (1u64 << 53) as f64;
    let pick = next_random(shared) as usize % shared.cfg.kinds.len();
    (roll < shared.cfg.rate).then(|| shared.cfg.kinds[pick])
}

fn full(status: u16, headers: &[(&str, String)], body: Bytes) -> Response<Body> {
    let mut b = Response::builder()
        .status(status)
        .header("Docker-Distribution-API-Version", "registry/2.0");
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(Full::new(body).map_err(|e| match e {}).boxed_unsync())
        .expect("valid response")
}

fn oci_error(status: u16, head: bool) -> Response<Body> {
    let (code, message) = match status {
        429 => ("TOOMANYREQUESTS", "too many requests (fault proxy)"),
        503 => ("UNAVAILABLE", "service unavailable (fault proxy)"),
        _ => ("UNKNOWN", "unknown error (fault proxy)"),
    };
    let body = if status == 502 {
        "<html><body>502 Bad Gateway (fault proxy)</body></html>\n".to_string()
    } else {
        format!(r#"{{"errors":[{{"code":"{code}","message":"{message}"}}]}}"#)
    };
    let ct = if status == 502 {
        "text/html"
    } else {
        "application/json"
    };
    let mut headers = vec![("Content-Type", ct.to_string())];
    if status == 429 {
        headers.push(("Retry-After", "1".to_string()));
    }
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    full(status, &headers, body)
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn content_length(h: &hyper::HeaderMap) -> Option<u64> {
    h.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn has_request_body(req: &Request<Incoming>) -> bool {
    match content_length(req.headers()) {
        Some(n) => n > 0,
        None => req.headers().contains_key("transfer-encoding"),
    }
}

fn update(shared: &Shared, i: usize, f: impl FnOnce(&mut Seen)) {
    if let Some(s) = shared.seen.lock().unwrap().get_mut(i) {
        f(s)
    }
}

async fn handle(
    shared: Arc<Shared>,
    kill: Arc<Kill>,
    me: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let (i, fault) = {
        let mut seen = shared.seen.lock().unwrap();
        let fault = decide(&shared, &method, &target, &seen);
        seen.push(Seen {
            at: shared.started.elapsed(),
            method: method.clone(),
            target: target.clone(),
            fault,
            status: None,
            location: None,
            range: req
                .headers()
                .get("range")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        });
        (seen.len() - 1, fault)
    };
    if !shared.cfg.latency.is_zero() {
        tokio::time::sleep(shared.cfg.latency).await;
    }
    let head = req.method() == Method::HEAD;
    let answer = |status: u16, resp: Response<Body>| {
        update(&shared, i, |s| s.status = Some(status));
        Ok(resp)
    };
    match fault {
        Some(Fault::Status(s)) => {
            drain(req.into_body()).await;
            return answer(s, oci_error(s, head));
        }
        Some(Fault::RateLimit) => {
            drain(req.into_body()).await;
            return answer(429, oci_error(429, head));
        }
        Some(Fault::Canned(s, body)) => {
            drain(req.into_body()).await;
            let b = if head {
                Bytes::new()
            } else {
                Bytes::from_static(body.as_bytes())
            };
            let ct = [("Content-Type", "application/json".to_string())];
            return answer(s, full(s, &ct, b));
        }
        Some(Fault::Reset) if has_request_body(&req) => {
            let half = content_length(req.headers()).map_or(1, |n| n / 2);
            let mut body = req.into_body();
            let mut got = 0u64;
            while got < half.max(1) {
                match body.frame().await {
                    Some(Ok(f)) => got += f.data_ref().map_or(0, |d| d.len() as u64),
                    _ => break,
                }
            }
            kill.fire();
            std::future::pending::<()>().await;
            unreachable!()
        }
        _ => {}
    }

    let range = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ranged_blob = range.is_some() && target.contains("/blobs/sha256:");
    if let (true, RangeMode::Refuse(s)) = (ranged_blob, shared.cfg.range) {
        drain(req.into_body()).await;
        return answer(s, full(s, &[], Bytes::new()));
    }
    // Forward to the real registry.
    let mut rb = shared.client.request(
        req.method().clone(),
        format!("http://{}{}", shared.upstream, target),
    );
    for (k, v) in req.headers() {
        if HOP_BY_HOP.contains(&k.as_str()) || k == "host" {
            continue;
        }
        if k == "range" && ranged_blob {
            match shared.cfg.range {
                RangeMode::Ignore => continue,
                RangeMode::Shift => {
                    let r = range.as_deref().unwrap_or_default();
                    let shifted = r
                        .strip_prefix("bytes=")
                        .and_then(|r| r.split_once('-'))
                        .and_then(|(a, b)| {
                            Some(format!("bytes={}-{b}", a.parse::<u64>().ok()? + 1))
                        })
                        .unwrap_or_else(|| r.to_string());
                    rb = rb.header(k, shifted);
                    continue;
                }
                _ => {}
            }
        }
        rb = rb.header(k, v);
    }
    // distribution builds Location URLs from X-Forwarded-Host: keep the client on the proxy.
    rb = rb
        .header("X-Forwarded-Host", me.to_string())
        .header("X-Forwarded-Proto", "http");
    if has_request_body(&req) {
        let body = req
            .into_body()
            .into_data_stream()
            .map_err(io::Error::other)
            .boxed();
        let body = throttled(body, shared.cfg.throttle);
        if shared.cfg.buffer_requests {
            let Ok(chunks) = body.try_collect::<Vec<Bytes>>().await else {
                // The client gave up: nothing is forwarded.
                return answer(400, full(400, &[], Bytes::new()));
            };
            rb = rb.body(chunks.concat());
        } else {
            rb = rb.body(reqwest::Body::wrap_stream(body));
        }
    }
    let up = match rb.send().await {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("fault proxy: upstream failed: {e}\n");
            return answer(502, full(502, &[], Bytes::from(msg)));
        }
    };
    let status = up.status().as_u16();
    let mut out = Response::builder().status(status);
    let up_len = if head {
        Some(0)
    } else {
        content_length(up.headers())
    };
    let has_body = up_len != Some(0);
    let mut location = None;
    for (k, v) in up.headers() {
        if HOP_BY_HOP.contains(&k.as_str()) {
            continue;
        }
        let mut v = v.clone();
        if k == "location" {
            let mut l = v
                .to_str()
                .unwrap_or_default()
                .replace(&shared.upstream, &me.to_string());
            if let Some((userinfo, query)) = shared.cfg.decorate_location {
                l = l.replacen("http://", &format!("http://{userinfo}@"), 1);
                l.push(if l.contains('?') { '&' } else { '?' });
                l.push_str(query);
            }
            v = HeaderValue::from_str(&l).expect("header value");
            location = Some(l);
        }
        if k == "docker-content-digest" && fault == Some(Fault::WrongDigest) {
            let wrong = sha256(format!("wrong {}", v.to_str().unwrap_or_default()).as_bytes());
            v = HeaderValue::from_str(&wrong).expect("header value");
        }
        if k == CONTENT_LENGTH && fault == Some(Fault::Truncate) && has_body {
            continue;
        }
        out = out.header(HeaderName::from(k), v);
    }
    update(&shared, i, |s| {
        s.status = Some(status);
        s.location = location;
    });
    let half = up_len.map_or(1, |n| (n / 2).max(1));
    let after = match fault {
        Some(Fault::Reset) if !has_body => {
            update(&shared, i, |s| s.status = None);
            kill.fire();
            std::future::pending::<()>().await;
            unreachable!()
        }
        Some(Fault::Stall) if !has_body => {
            tokio::time::sleep(shared.cfg.stall).await;
            None
        }
        Some(Fault::Reset) => Some(After::Kill),
        Some(Fault::Truncate) if has_body => Some(After::End),
        Some(Fault::Stall) => Some(After::Stall(shared.cfg.stall)),
        _ => None,
    };
    let body = if head {
        Empty::new().map_err(|e| match e {}).boxed_unsync()
    } else {
        let inner = up.bytes_stream().map_err(io::Error::other).boxed();
        let shaped = shape(inner, after.map(|a| (half, a)), kill.clone());
        let s = throttled(shaped, shared.cfg.throttle).map_ok(Frame::data);
        BodyExt::boxed_unsync(StreamBody::new(s))
    };
    Ok(out.body(body).expect("valid response"))
}

async fn drain(mut body: Incoming) {
    while let Some(Ok(_)) = body.frame().await {}
}

#[derive(Debug, Clone, Copy)]
enum After {
    /// End the body cleanly (a short body).
    End,
    /// Reset the connection.
    Kill,
    /// Pause, then go on.
    Stall(Duration),
}

/// Deliver `inner` up to byte `cut.0`, then do `cut.1`.
fn shape(
    inner: BoxStream<'static, io::Result<Bytes>>,
    cut: Option<(u64, After)>,
    kill: Arc<Kill>,
) -> BoxStream<'static, io::Result<Bytes>> {
    let Some((at, after)) = cut else {
        return inner;
    };
    struct St {
        inner: BoxStream<'static, io::Result<Bytes>>,
        sent: u64,
        carry: Option<Bytes>,
        then: Option<After>,
        done: bool,
    }
    let st = St {
        inner,
        sent: 0,
        carry: None,
        then: None,
        done: false,
    };
    stream::unfold(st, move |mut st| {
        let kill = kill.clone();
        async move {
            if st.done {
                return None;
            }
            match st.then.take() {
                Some(After::End) => return None,
                Some(After::Kill) => {
                    // Let the client read what was sent: an RST discards unread data.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    kill.fire();
                    std::future::pending::<()>().await;
                }
                Some(After::Stall(d)) => tokio::time::sleep(d).await,
                None => {}
            }
            let chunk = match st.carry.take() {
                Some(c) => c,
                None => match st.inner.next().await {
                    Some(Ok(c)) => c,
                    Some(Err(e)) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                    None => return None,
                },
            };
            let before = st.sent;
            st.sent += chunk.len() as u64;
            if before < at && st.sent >= at {
                let head = chunk.slice(..(at - before) as usize);
                let tail = chunk.slice((at - before) as usize..);
                st.then = Some(after);
                if !tail.is_empty() {
                    st.carry = Some(tail);
                }
                st.sent = at;
                return Some((Ok(head), st));
            }
            Some((Ok(chunk), st))
        }
    })
    .boxed()
}

/// Limit a body to `rate` bytes per second (in 16 KiB pieces).
fn throttled(
    s: BoxStream<'static, io::Result<Bytes>>,
    rate: Option<u64>,
) -> BoxStream<'static, io::Result<Bytes>> {
    let Some(rate) = rate else {
        return s;
    };
    s.flat_map(|r| {
        let pieces: Vec<io::Result<Bytes>> = match r {
            Ok(b) => (0..b.len())
                .step_by(16 * 1024)
                .map(|i| Ok(b.slice(i..(i + 16 * 1024).min(b.len()))))
                .collect(),
            Err(e) => vec![Err(e)],
        };
        stream::iter(pieces)
    })
    .then(move |r| async move {
        if let Ok(b) = &r {
            let secs = b.len() as f64 / rate as f64;
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        }
        r
    })
    .boxed()
}
