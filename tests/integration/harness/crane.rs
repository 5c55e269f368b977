//! The second registry kind: go-containerregistry's `crane registry serve`, found where
//! `scripts/install-peers` puts it.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{free_port, wait_ready, Req};

/// Finds `crane` (go-containerregistry): `$CRANE_BIN`, then `$MIRROR_PEERS_DIR/bin/crane`, then
/// `${XDG_CACHE_HOME:-$HOME/.cache}/mirror-peers/bin/crane` (where `scripts/install-peers` puts
/// it), then PATH.
fn crane_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CRANE_BIN") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    let peers = std::env::var_os("MIRROR_PEERS_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(cache.map(|c| c.join("mirror-peers")));
    let path = std::env::var_os("PATH").unwrap_or_default();
    peers
        .map(|d| d.join("bin"))
        .chain(std::env::split_paths(&path))
        .map(|d| d.join("crane"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`crane` (go-containerregistry, Debian sid) is not installed; the integration \
                 tests run `crane registry serve` as a second registry: run scripts/install-peers"
            )
        })
}

/// A running `crane registry serve` (go-containerregistry's `pkg/registry`, in-memory storage)
/// on 127.0.0.1. It differs from distribution 2.8: blobs are registry-wide, a sparse index is
/// refused with 404 `MANIFEST_UNKNOWN` naming only the first missing child, and mounts are not
/// supported (202). Killed on drop.
pub struct CraneRegistry {
    child: Child,
    port: u16,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Req {
    /// Parses one line of crane's request log (stderr), e.g.
    /// `2026/12/05 12:49:45 PUT /v2/a/manifests/v1 404 MANIFEST_UNKNOWN Sub-manifest "…" not found`.
    /// crane logs each request as it arrives and adds a status only for error answers, so
    /// `status` is 0 for requests that were answered with success.
    pub fn parse_crane(line: &str) -> Option<Req> {
        let mut parts = line.splitn(6, ' ');
        let (date, time) = (parts.next()?, parts.next()?);
        if date.len() != 10 || time.len() != 8 || !date.as_bytes()[4].eq(&b'/') {
            return None;
        }
        let (method, uri) = (parts.next()?, parts.next()?);
        if !uri.starts_with('/') || !method.chars().all(|c| c.is_ascii_uppercase()) {
            return None;
        }
        let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        Some(Req {
            method: method.into(),
            path: path.into(),
            status,
            query: query.into(),
        })
    }
}

impl CraneRegistry {
    /// Starts `crane registry serve --address 127.0.0.1:PORT` on a free port and waits up to
    /// 10 s for `GET /v2/` to answer 200, panicking with its log.
    pub fn start() -> CraneRegistry {
        let bin = crane_bin();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start(&bin) {
                Ok(r) => return r,
                Err(log) if attempt < 5 && log.contains("address already in use") => continue,
                Err(log) => panic!("crane registry serve failed to start:\n{log}"),
            }
        }
    }

    fn try_start(bin: &Path) -> Result<CraneRegistry, String> {
        let dir = tempfile::tempdir().expect("creating crane temp dir");
        let port = free_port();
        let log_path = dir.path().join("crane.log");
        let log = OpenOptions::new().create(true).append(true).open(&log_path);
        let log = log.expect("creating crane log");
        let child = Command::new(bin)
            .args(["registry", "serve", "--address"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
        let mut reg = CraneRegistry {
            child,
            port,
            log_path,
            _dir: dir,
        };
        match wait_ready(port, &mut reg.child, |s| s == 200) {
            Ok(()) => Ok(reg),
            Err(problem) => Err(format!("{problem}; log:\n{}", reg.log())),
        }
    }

    /// `"127.0.0.1:PORT"`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything crane wrote so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Every request logged so far (crane logs a request when it arrives).
    pub fn requests(&self) -> Vec<Req> {
        let log = self.log();
        let complete = &log[..log.rfind('\n').map_or(0, |i| i + 1)];
        complete.lines().filter_map(Req::parse_crane).collect()
    }

    /// The number of requests so far; pass it to [`CraneRegistry::requests_since`].
    pub fn mark(&self) -> usize {
        self.requests().len()
    }

    /// Requests logged after `mark`.
    pub fn requests_since(&self, mark: usize) -> Vec<Req> {
        let mut reqs = self.requests();
        reqs.drain(..mark.min(reqs.len()));
        reqs
    }
}

impl Drop for CraneRegistry {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!(
                "--- crane {} log (tail) ---\n{}",
                self.host(),
                tail.join("\n")
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
