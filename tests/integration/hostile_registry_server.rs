//! A scriptable hostile registry for the corpus in `hostile_registry.rs`, and a runner that
//! measures the `mirror` binary (exit code, wall time, peak RSS).
//!
//! [`HostileServer`] answers each request with its [`Script`] when the script has an answer,
//! and otherwise forwards it to a real `docker-registry` (the upstream), so every case is a real
//! registry with exactly one misbehaviour. Answers can carry any header bytes HTTP allows, and
//! bodies that are huge, never end, or end before their `Content-Length`. Every request is
//! recorded with its `Authorization` header, so credential leaks can be asserted on.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::harness::{mirror_bin, Output};

/// What the script sees of a request.
#[derive(Debug, Clone)]
pub struct Req {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// This server's `127.0.0.1:PORT`.
    pub own: String,
}

impl Req {
    /// Whether the request is `method` on a target containing `part`.
    pub fn is(&self, method: &str, part: &str) -> bool {
        self.method == method && self.target.contains(part)
    }
}

/// A response body.
pub enum Body {
    /// These bytes (with their true `Content-Length`).
    Bytes(Vec<u8>),
    /// 64 KiB chunks of `fill`, forever.
    Endless(u8),
    /// `Content-Length: claimed`, then only `sent`, then the connection closes.
    Lying { claimed: u64, sent: Vec<u8> },
}

/// A scripted answer.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Header name and raw value bytes (anything `HeaderValue::from_bytes` takes).
    pub headers: Vec<(&'static str, Vec<u8>)>,
    /// The body.
    pub body: Body,
}

impl Answer {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status,
            headers: vec![("content-type", b"application/json".to_vec())],
            body: Body::Bytes(body.into()),
        }
    }
    /// Add a header.
    pub fn with(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }
}

/// The script: `Some` answers the request, `None` forwards it to the upstream (or answers 404
/// when there is none).
pub type Script = Arc<dyn Fn(&Req) -> Option<Answer> + Send + Sync>;

struct Shared {
    upstream: Option<String>,
    script: Script,
    own: String,
    seen: Mutex<Vec<Req>>,
    client: reqwest::Client,
    /// Added before every answer (scripted or forwarded).
    latency: Duration,
    /// Requests being answered now, and the most at once since the last reset.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

/// A running hostile server on `127.0.0.1:<random port>`; stops when dropped.
pub struct HostileServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostileServer {
    /// Start a server running `script` in front of `upstream` (`host:port`), if any.
    pub async fn start(upstream: Option<String>, script: Script) -> HostileServer {
        Self::start_slow(upstream, script, Duration::ZERO).await
    }

    /// [`start`](Self::start), answering every request `latency` late (a distant registry), so
    /// how many requests a client has in flight shows in [`most_in_flight`](Self::most_in_flight).
    pub async fn start_slow(
        upstream: Option<String>,
        script: Script,
        latency: Duration,
    ) -> HostileServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let shared = Arc::new(Shared {
            upstream,
            script,
            own: addr.to_string(),
            seen: Mutex::new(vec![]),
            client,
            latency,
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(s.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        HostileServer { addr, shared, task }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Req> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The most requests answered at once (until their heads were sent) since the last call;
    /// resets the count.
    pub fn most_in_flight(&self) -> usize {
        self.shared.most_in_flight.swap(0, Ordering::SeqCst)
    }
}

type Out = Response<UnsyncBoxBody<Bytes, std::io::Error>>;

fn full(b: impl Into<Bytes>) -> UnsyncBoxBody<Bytes, std::io::Error> {
    http_body_util::Full::new(b.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

async fn handle(s: Arc<Shared>, req: Request<Incoming>) -> Result<Out, Infallible> {
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.most_in_flight.fetch_max(now, Ordering::SeqCst);
    if !s.latency.is_zero() {
        tokio::time::sleep(s.latency).await;
    }
    let out = answer_or_forward(&s, req).await;
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    Ok(out)
}

async fn answer_or_forward(s: &Arc<Shared>, req: Request<Incoming>) -> Out {
    let r = Req {
        method: req.method().to_string(),
        target: req
            .uri()
            .path_and_query()
            .map_or("/".into(), |p| p.to_string()),
        authorization: req
            .headers()
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        own: s.own.clone(),
    };
    s.seen.lock().unwrap().push(r.clone());
    if let Some(a) = (s.script)(&r) {
        return answer(a);
    }
    let Some(up) = &s.upstream else {
        return answer(Answer::json(404, r#"{"errors":[]}"#));
    };
    forward(s, up, req).await
}

fn answer(a: Answer) -> Out {
    let body = match a.body {
        Body::Bytes(b) => full(b),
        Body::Endless(fill) => {
            let chunk = Bytes::from(vec![fill; 64 * 1024]);
            let s = stream::repeat(chunk).map(|c| Ok::<_, std::io::Error>(Frame::data(c)));
            StreamBody::new(s).boxed_unsync()
        }
        Body::Lying { sent, .. } => {
            // The head and `sent` go out first (hyper flushes while the stream waits), then the
            // body fails and hyper closes the connection short of the `Content-Length`, as a
            // registry or proxy that dies mid-body does. Ending the stream at once instead made
            // hyper drop the connection before the head was sent.
            let cut = stream::once(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(std::io::Error::other("the body is cut short"))
            });
            let s =
                stream::iter([Ok::<_, std::io::Error>(Frame::data(Bytes::from(sent)))]).chain(cut);
            StreamBody::new(s).boxed_unsync()
        }
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = hyper::StatusCode::from_u16(a.status).expect("status");
    for (k, v) in a.headers {
        resp.headers_mut().append(
            HeaderName::from_static(k),
            HeaderValue::from_bytes(&v).expect("a header value HTTP allows"),
        );
    }
    resp
}

async fn forward(s: &Shared, up: &str, req: Request<Incoming>) -> Out {
    let (parts, body) = req.into_parts();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("http://{up}{target}");
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut rb = s.client.request(parts.method.clone(), &url);
    for (k, v) in &parts.headers {
        if k != "host" && k != "authorization" {
            rb = rb.header(k, v);
        }
    }
    let resp = match rb.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            let mut r = Response::new(full(e.to_string()));
            *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            return r;
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    let mut out = Response::new(full(bytes));
    *out.status_mut() = status;
    for (k, v) in &headers {
        if k == "content-length" || k == "transfer-encoding" || k == "connection" {
            continue;
        }
        let v = if k == "location" {
            let l = String::from_utf8_lossy(v.as_bytes()).replace(up, &s.own);
            HeaderValue::from_str(&l).unwrap_or_else(|_| v.clone())
        } else {
            v.clone()
        };
        out.headers_mut().append(k.clone(), v);
    }
    out
}

/// One measured `mirror` run.
pub struct Measured {
    /// Exit code, stdout, stderr (code -1 when killed).
    pub out: Output,
    /// Peak resident set size in KiB (`ru_maxrss` from `wait4`).
    pub peak_kib: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Run `mirror ARGS` (env `MIRROR_TEST=1`, `NO_COLOR=1`) and measure it; killed after `limit`.
/// Blocking work runs on a blocking thread, so in-process servers keep serving.
pub async fn mirror_measured(args: &[&str], limit: Duration) -> Measured {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || run_measured(&args, limit))
        .await
        .expect("the measuring thread")
}

/// GNU time: its `%M` is the peak RSS of the command alone. (`wait4` on a child spawned from
/// the test process is not: Linux carries the parent's high-water mark across the `vfork` +
/// `exec` that `Command` uses, so every child would report the test binary's peak.)
const TIME: &str = "/usr/bin/time";

fn run_measured(args: &[String], limit: Duration) -> Measured {
    use std::os::unix::process::CommandExt;
    assert!(
        std::path::Path::new(TIME).is_file(),
        "{TIME} (GNU time) is needed to measure peak memory: apt-get install -y time"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let rss_file = dir.path().join("rss");
    let started = Instant::now();
    let mut child = Command::new(TIME)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(mirror_bin())
        .args(args)
        .env("MIRROR_TEST", "1")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills `mirror` too.
        .process_group(0)
        .spawn()
        .expect("spawning mirror under /usr/bin/time");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let pgid = child.id() as i32;
    let deadline = Instant::now() + limit;
    let (status, killed) = loop {
        if let Some(st) = child.try_wait().expect("waiting for mirror") {
            break (st, false);
        }
        if Instant::now() > deadline {
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            break (child.wait().expect("waiting for mirror"), true);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let mut stderr = err.join().unwrap();
    if killed {
        stderr.push_str(&format!(
            "\n[hostile corpus: mirror killed after {limit:?}]"
        ));
    }
    // GNU time exits with the command's code (and writes "Command exited with non-zero
    // status N" before the number in its output file).
    let rss = std::fs::read_to_string(&rss_file).unwrap_or_default();
    let peak_kib = rss
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .next_back()
        .unwrap_or(0);
    Measured {
        out: Output {
            code: if killed {
                -1
            } else {
                status.code().unwrap_or(-1)
            },
            stdout: out.join().unwrap(),
            stderr,
        },
        peak_kib,
        elapsed,
    }
}
