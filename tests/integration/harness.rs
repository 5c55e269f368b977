//! Integration-test harness: a real `docker-registry` (CNCF distribution 2.8)
//! process per test, access-log request counting, on-disk storage probes, a
//! small async registry HTTP client and a runner for the `mirror` binary. A second
//! registry kind, `crane registry serve` (go-containerregistry), is [`CraneRegistry`].
#![allow(dead_code)]

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

mod crane;
pub use crane::CraneRegistry;
mod peers;
pub use peers::peer_bin;

/// All four manifest media types, sent as `Accept` by [`Http`] manifest requests.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// Returns `"sha256:<hex>"` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Splits `"sha256:<hex>"` into its hex part, panicking on other algorithms.
fn digest_hex(digest: &str) -> &str {
    digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("expected a sha256 digest, got {digest:?}"))
}

// ---------------------------------------------------------------- Registry --

/// A running `docker-registry serve` on 127.0.0.1 with filesystem storage in
/// a temp dir. Killed (and the storage removed) on drop.
pub struct Registry {
    child: Child,
    port: u16,
    log_path: PathBuf,
    data: PathBuf,
    // Last field: removed after the process has been killed.
    _dir: tempfile::TempDir,
}

/// One request parsed from the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Req {
    /// HTTP method, e.g. `"PUT"`, `"HEAD"`.
    pub method: String,
    /// Request path without the query string, e.g. `/v2/a/manifests/v1`.
    pub path: String,
    /// Response status code.
    pub status: u16,
    /// Raw query string without the `?` (empty if none).
    pub query: String,
}

impl fmt::Display for Req {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.method, self.path, self.status)
    }
}

impl Req {
    /// Parses one access-log line, e.g.
    /// `127.0.0.1 - - [28/Nov/2026:02:40:47 +0000] "HEAD /v2/a/manifests/v1 HTTP/1.1" 404 92 "" "curl/7.88.1"`.
    /// Returns `None` for other lines (the registry's logrus output).
    pub fn parse(line: &str) -> Option<Req> {
        let rest = &line[line.find("] \"")? + 3..];
        let (request, rest) = rest.split_once('"')?;
        let mut parts = request.split(' ');
        let (method, uri) = (parts.next()?, parts.next()?);
        if !parts.next()?.starts_with("HTTP/") {
            return None;
        }
        let status = rest.trim_start().split(' ').next()?.parse().ok()?;
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        Some(Req {
            method: method.into(),
            path: path.into(),
            status,
            query: query.into(),
        })
    }
}

/// Counts requests with `method` whose path contains `path_part`.
pub fn count(reqs: &[Req], method: &str, path_part: &str) -> usize {
    reqs.iter()
        .filter(|r| r.method == method && r.path.contains(path_part))
        .count()
}

/// Renders requests one per line, for assertion messages.
pub fn show(reqs: &[Req]) -> String {
    reqs.iter().map(|r| format!("  {r}\n")).collect()
}

/// Finds the `docker-registry` binary (`$REGISTRY_BIN` overrides the PATH lookup).
fn registry_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("REGISTRY_BIN") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("docker-registry"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`docker-registry` (CNCF distribution) is not installed; the integration tests \
                 need it: run `apt-get install -y docker-registry`"
            )
        })
}

pub(crate) fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// Poll `GET /v2/` on `port` until `ready(status)` holds; the error says why not (the process
/// exited, or 10 s passed).
pub(crate) fn wait_ready(
    port: u16,
    child: &mut std::process::Child,
    ready: impl Fn(u16) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if probe(port).is_some_and(&ready) {
            return Ok(());
        }
        match child.try_wait() {
            Ok(Some(status)) => return Err(format!("exited with {status}")),
            _ if Instant::now() > deadline => {
                return Err("no ready answer from GET /v2/ after 10 s".into())
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Minimal blocking `GET /v2/` returning the status code (avoids needing a runtime).
pub(crate) fn probe(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let status_line = std::str::from_utf8(&buf[..n]).ok()?;
    status_line.split(' ').nth(1)?.parse().ok()
}

impl Registry {
    /// Starts a registry with the default config (see [`Registry::start_with`]).
    pub fn start() -> Registry {
        Self::start_with("")
    }

    /// Starts a registry; `extra_yaml` is appended verbatim to the config as
    /// additional top-level keys (do not repeat `version`/`log`/`storage`/`http`).
    /// Waits up to 10 s for `GET /v2/` to answer 200, panicking with the log.
    pub fn start_with(extra_yaml: &str) -> Registry {
        Self::start_secured("", extra_yaml)
    }

    /// Starts a registry with `http_yaml` added under `http:` (indented by the caller with
    /// two spaces, e.g. `"  tls:\n    certificate: …"`) and `extra_yaml` as top-level keys (for
    /// `auth:`). Ready when `GET /v2/` gets any HTTP answer (401 with auth, 400 for plain HTTP
    /// to a TLS port), or exactly 200 when both are empty.
    pub fn start_secured(http_yaml: &str, extra_yaml: &str) -> Registry {
        Self::start_inner(http_yaml, extra_yaml, true)
    }

    /// Starts a registry with distribution's default `storage.delete.enabled: false`: every
    /// DELETE answers 405 `UNSUPPORTED`.
    pub fn start_without_deletes() -> Registry {
        Self::start_inner("", "", false)
    }

    fn start_inner(http_yaml: &str, extra_yaml: &str, deletes: bool) -> Registry {
        let bin = registry_bin();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start(&bin, http_yaml, extra_yaml, deletes) {
                Ok(r) => return r,
                // Another process grabbed the port between our probe and its bind.
                Err(log) if attempt < 5 && log.contains("address already in use") => continue,
                Err(log) => panic!("docker-registry failed to start:\n{log}"),
            }
        }
    }

    fn try_start(
        bin: &Path,
        http_yaml: &str,
        extra_yaml: &str,
        deletes: bool,
    ) -> Result<Registry, String> {
        let dir = tempfile::tempdir().expect("creating registry temp dir");
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {deletes}\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: test\n{http_yaml}\n{extra_yaml}\n",
            data.display()
        );
        let config_path = dir.path().join("config.yml");
        fs::write(&config_path, &config).unwrap();
        let log_path = dir.path().join("registry.log");
        // One O_APPEND file description shared by stdout (access log) and stderr.
        let log = OpenOptions::new().create(true).append(true).open(&log_path);
        let log = log.expect("creating registry log");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
        let mut reg = Registry {
            child,
            port,
            log_path,
            data,
            _dir: dir,
        };
        let secured = !http_yaml.is_empty() || extra_yaml.contains("auth:");
        match wait_ready(port, &mut reg.child, |s| s == 200 || secured) {
            Ok(()) => Ok(reg),
            Err(problem) => Err(format!("{problem}; config:\n{config}\nlog:\n{}", reg.log())),
        }
    }

    /// `"127.0.0.1:PORT"`, the registry reference host.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `"http://127.0.0.1:PORT"`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// The filesystem storage root (`rootdirectory` of the config).
    pub fn storage_dir(&self) -> PathBuf {
        self.data.clone()
    }

    /// Everything the registry wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// All requests parsed from the access log so far (no waiting).
    pub fn requests(&self) -> Vec<Req> {
        let log = self.log();
        // Ignore a trailing partial line that is still being written.
        let complete = &log[..log.rfind('\n').map_or(0, |i| i + 1)];
        complete.lines().filter_map(Req::parse).collect()
    }

    /// Access-log lines are written after the response is sent, so wait until
    /// the count has been stable for 200 ms (at most 5 s).
    fn settled_requests(&self) -> Vec<Req> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut reqs = self.requests();
        let mut since = Instant::now();
        while since.elapsed() < Duration::from_millis(200) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(25));
            let now = self.requests();
            if now.len() != reqs.len() {
                since = Instant::now();
            }
            reqs = now;
        }
        reqs
    }

    /// Waits for the access log to settle and returns the number of requests
    /// so far; pass it to [`Registry::requests_since`].
    pub fn mark(&self) -> usize {
        self.settled_requests().len()
    }

    /// Requests made after `mark` (waits for the access log to settle first).
    pub fn requests_since(&self, mark: usize) -> Vec<Req> {
        let mut reqs = self.settled_requests();
        reqs.drain(..mark.min(reqs.len()));
        reqs
    }

    /// `<data>/docker/registry/v2/repositories/<repo>/<rel>`.
    fn repo_path(&self, repo: &str, rel: &str) -> PathBuf {
        self.data
            .join(format!("docker/registry/v2/repositories/{repo}/{rel}"))
    }

    fn repo_file(&self, repo: &str, rel: &str) -> bool {
        self.repo_path(repo, rel).is_file()
    }

    /// Whether `digest` is linked into `repo`:
    /// `<data>/docker/registry/v2/repositories/<repo>/_layers/sha256/<hex>/link`.
    pub fn blob_uploaded(&self, repo: &str, digest: &str) -> bool {
        self.repo_file(repo, &format!("_layers/sha256/{}/link", digest_hex(digest)))
    }

    /// Number of `_layers/sha256/*/link` files of `repo` (blobs linked into it).
    pub fn any_layer_links(&self, repo: &str) -> usize {
        let entries = fs::read_dir(self.repo_path(repo, "_layers/sha256"))
            .into_iter()
            .flatten();
        entries
            .filter(|e| e.as_ref().is_ok_and(|e| e.path().join("link").is_file()))
            .count()
    }

    /// Whether the blob's data exists in global storage (any repo):
    /// `<data>/docker/registry/v2/blobs/sha256/<hex[..2]>/<hex>/data`.
    pub fn blob_data_exists(&self, digest: &str) -> bool {
        let hex = digest_hex(digest);
        let rel = format!("docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]);
        self.data.join(rel).is_file()
    }

    /// Whether manifest `digest` is stored in `repo`:
    /// `<repo>/_manifests/revisions/sha256/<hex>/link`.
    pub fn manifest_revision_exists(&self, repo: &str, digest: &str) -> bool {
        let hex = digest_hex(digest);
        self.repo_file(repo, &format!("_manifests/revisions/sha256/{hex}/link"))
    }

    /// Whether `tag` exists in `repo`: `<repo>/_manifests/tags/<tag>/current/link`.
    pub fn tag_exists(&self, repo: &str, tag: &str) -> bool {
        self.repo_file(repo, &format!("_manifests/tags/{tag}/current/link"))
    }

    /// The digest a tag points at on disk (`current/link` contents), if any.
    pub fn tag_target(&self, repo: &str, tag: &str) -> Option<String> {
        let link = self.repo_path(repo, &format!("_manifests/tags/{tag}/current/link"));
        Some(fs::read_to_string(link).ok()?.trim().to_string())
    }
}

impl Drop for Registry {
    /// Kills the process; if the test is panicking, prints the log's tail first.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!(
                "--- registry {} log (tail) ---\n{}",
                self.host(),
                tail.join("\n")
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// -------------------------------------------------------------------- Http --

/// Async registry client for test setup and verification (plain http only).
/// Transport errors panic; HTTP statuses are returned.
#[derive(Clone)]
pub struct Http {
    /// The underlying client, for requests not covered by the helpers.
    pub client: reqwest::Client,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

fn check<T>(r: Result<T, reqwest::Error>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e:?}"))
}

/// Sends `req`, panicking on transport errors; returns (status, headers-bearing response).
async fn send(req: reqwest::RequestBuilder, url: &str) -> (u16, reqwest::Response) {
    let resp = check(req.send().await, url);
    (resp.status().as_u16(), resp)
}

impl Http {
    /// Builds a client. reqwest 0.13 needs a rustls provider even for plain
    /// http, so this installs ring's as process default (if none is yet).
    pub fn new() -> Http {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("building reqwest client");
        Http { client }
    }

    /// `HEAD /v2/<repo>/manifests/<reference>` → (status, `Docker-Content-Digest`).
    pub async fn head_manifest(
        &self,
        host: &str,
        repo: &str,
        reference: &str,
    ) -> (u16, Option<String>) {
        let url = format!("http://{host}/v2/{repo}/manifests/{reference}");
        let (status, resp) = send(
            self.client.head(&url).header("Accept", MANIFEST_ACCEPT),
            &url,
        )
        .await;
        (status, header(&resp, "docker-content-digest"))
    }

    /// `GET /v2/<repo>/manifests/<reference>` → (status, `Content-Type`, body).
    pub async fn get_manifest(
        &self,
        host: &str,
        repo: &str,
        reference: &str,
    ) -> (u16, Option<String>, bytes::Bytes) {
        let url = format!("http://{host}/v2/{repo}/manifests/{reference}");
        let (status, resp) = send(
            self.client.get(&url).header("Accept", MANIFEST_ACCEPT),
            &url,
        )
        .await;
        let ct = header(&resp, "content-type");
        (status, ct, check(resp.bytes().await, &url))
    }

    /// `HEAD /v2/<repo>/blobs/<digest>` → status.
    pub async fn head_blob(&self, host: &str, repo: &str, digest: &str) -> u16 {
        let url = format!("http://{host}/v2/{repo}/blobs/{digest}");
        send(self.client.head(&url), &url).await.0
    }

    /// `GET /v2/<repo>/blobs/<digest>` → (status, body).
    pub async fn get_blob(&self, host: &str, repo: &str, digest: &str) -> (u16, bytes::Bytes) {
        let url = format!("http://{host}/v2/{repo}/blobs/{digest}");
        let (status, resp) = send(self.client.get(&url), &url).await;
        (status, check(resp.bytes().await, &url))
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with `Content-Type: media_type`
    /// → (status, response body).
    pub async fn put_manifest(
        &self,
        host: &str,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> (u16, String) {
        let url = format!("http://{host}/v2/{repo}/manifests/{reference}");
        let req = self.client.put(&url).header("Content-Type", media_type);
        let (status, resp) = send(req.body(bytes.to_vec()), &url).await;
        (status, check(resp.text().await, &url))
    }

    /// Monolithic upload (`POST .../blobs/uploads/` then `PUT <Location>&digest=`),
    /// asserting 202 then 201; returns the digest.
    pub async fn push_blob(&self, host: &str, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let url = format!("http://{host}/v2/{repo}/blobs/uploads/");
        let (status, resp) = send(self.client.post(&url), &url).await;
        let loc = header(&resp, "location");
        let body = check(resp.text().await, &url);
        assert_eq!(status, 202, "POST {url}: {body}");
        let loc = loc.unwrap_or_else(|| panic!("POST {url}: 202 without Location"));
        let loc = if loc.starts_with("http://") || loc.starts_with("https://") {
            loc
        } else if loc.starts_with('/') {
            format!("http://{host}{loc}")
        } else {
            format!("http://{host}/v2/{repo}/blobs/uploads/{loc}")
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let put_url = format!("{loc}{sep}digest={digest}");
        let req = self
            .client
            .put(&put_url)
            .header("Content-Type", "application/octet-stream");
        let (status, resp) = send(req.body(bytes.to_vec()), &put_url).await;
        let body = check(resp.text().await, &put_url);
        assert_eq!(status, 201, "PUT blob {digest} to {repo}: {body}");
        digest
    }

    /// `GET /v2/<repo>/tags/list` → tags (empty if the repo is unknown).
    pub async fn tags(&self, host: &str, repo: &str) -> Vec<String> {
        let url = format!("http://{host}/v2/{repo}/tags/list");
        let (status, resp) = send(self.client.get(&url), &url).await;
        let body = check(resp.bytes().await, &url);
        if status == 404 {
            return Vec::new();
        }
        assert_eq!(status, 200, "GET {url}: {}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("tags/list JSON");
        let tags = v["tags"].as_array().into_iter().flatten();
        tags.filter_map(|t| t.as_str().map(String::from)).collect()
    }

    /// `DELETE /v2/<repo>/manifests/<digest>` → status (202 on success).
    pub async fn delete_manifest(&self, host: &str, repo: &str, digest: &str) -> u16 {
        let url = format!("http://{host}/v2/{repo}/manifests/{digest}");
        send(self.client.delete(&url), &url).await.0
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    let value = resp.headers().get(name)?;
    Some(value.to_str().ok()?.to_string())
}

// ------------------------------------------------------------------ mirror --

/// Path of the `mirror` binary cargo built for this test run.
pub fn mirror_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mirror"))
}

/// Result of one `mirror` run; `Display`/`Debug` print code, stdout and stderr.
#[derive(Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit code (-1 if killed by a signal or the timeout).
    pub code: i32,
    /// Captured stdout (lossy UTF-8).
    pub stdout: String,
    /// Captured stderr (lossy UTF-8).
    pub stderr: String,
}

impl Output {
    /// Whether the exit code is 0.
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.code,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A `mirror` run that has not finished within this is killed (code -1).
pub const MIRROR_TIMEOUT: Duration = Duration::from_secs(180);

fn mirror_command(dir: Option<&Path>, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(mirror_bin());
    cmd.args(args).env("MIRROR_TEST", "1").env("NO_COLOR", "1");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.envs(envs.iter().copied());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd
}

/// Runs `mirror ARGS` synchronously (env `MIRROR_TEST=1`, `NO_COLOR=1`, stdin null).
/// Blocks the thread: in a `#[tokio::test]` that also serves HTTP in-process,
/// use [`mirror_async`] instead.
pub fn mirror(args: &[&str]) -> Output {
    run_sync(mirror_command(None, args, &[]))
}

/// Like [`mirror`] but in working directory `dir` with extra environment `envs`.
pub fn mirror_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    run_sync(mirror_command(Some(dir), args, envs))
}

/// Async [`mirror`] (tokio::process), for tests that serve HTTP on their runtime.
pub async fn mirror_async(args: &[&str]) -> Output {
    run_async(mirror_command(None, args, &[])).await
}

/// Async [`mirror_in`].
pub async fn mirror_in_async(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    run_async(mirror_command(Some(dir), args, envs)).await
}

fn run_sync(mut cmd: Command) -> Output {
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {:?}: {e}", mirror_bin()));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + MIRROR_TIMEOUT;
    let (code, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("waiting for mirror") {
            break (status.code().unwrap_or(-1), false);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break (-1, true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = err.join().unwrap();
    if timed_out {
        stderr.push_str(&format!(
            "\n[harness: mirror killed after {MIRROR_TIMEOUT:?}]"
        ));
    }
    Output {
        code,
        stdout: out.join().unwrap(),
        stderr,
    }
}

async fn run_async(cmd: Command) -> Output {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {:?}: {e}", mirror_bin()));
    let Ok(out) = tokio::time::timeout(MIRROR_TIMEOUT, child.wait_with_output()).await else {
        let stderr = format!("[harness: mirror killed after {MIRROR_TIMEOUT:?}]");
        return Output {
            code: -1,
            stdout: String::new(),
            stderr,
        };
    };
    let out = out.expect("waiting for mirror");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let code = out.status.code().unwrap_or(-1);
    Output {
        code,
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

/// Reads a file, panicking with its path on error.
pub fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Creates `path` (and parents) with `bytes`, panicking with the path on error.
pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    File::create(path)
        .and_then(|mut f| f.write_all(bytes))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
