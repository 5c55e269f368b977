//! Authentication and TLS against real secured registries (issue 4).
//!
//! Every registry here is a real `docker-registry` (distribution 2.8) process: htpasswd over
//! TLS with a CA made by the `openssl` CLI at test time, and token auth verifying ES256 JWTs
//! from [`token_issuer`], a small in-test token server (the one fake: no installable token
//! server is packaged). The redirect test also uses a tiny in-test source registry, because no
//! installable registry redirects blob downloads to another host on loopback.
#![allow(dead_code)]

mod hygiene; // no secret in -vv logs, JSON output or errors
mod pki; // openssl CLI: CA, server and client certificates; htpasswd files
mod redirect; // Authorization is never forwarded to another host
mod sources; // credential helpers, auth.json vs config.json, stdin, terminal
mod tls_basic; // htpasswd over TLS: creds, --dest-cert-dir, --dest-tls-verify=false, mTLS
mod token; // token auth: mount scopes, expiry mid-copy, identity tokens
pub mod token_issuer;
mod upload_expiry; // a token refused during a streamed upload (fault injection) // the in-test token server

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::fixtures::{self, Image};
use crate::harness::{mirror_bin, Output, Registry};

/// Layer size of the fixtures used here: small, the tests are about access, not volume.
pub const LAYER: usize = 4 * 1024;

/// A temp dir with isolated HOME and config locations, so the developer's own
/// `~/.docker/config.json` or `auth.json` never takes part in a test.
pub struct Env {
    pub dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let p = |s: &str| dir.path().join(s).display().to_string();
        let vars = vec![
            ("HOME".into(), p("home")),
            ("XDG_RUNTIME_DIR".into(), p("run")),
            ("XDG_CONFIG_HOME".into(), p("config")),
            ("DOCKER_CONFIG".into(), p("docker")),
            ("REGISTRY_AUTH_FILE".into(), String::new()),
        ];
        Env { dir, vars }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` at `rel` (parents created); returns the path.
    pub fn file(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        crate::harness::write(&p, text.as_bytes());
        p
    }

    /// `$XDG_RUNTIME_DIR/containers/auth.json`.
    pub fn auth_json(&self, text: &str) -> PathBuf {
        self.file("run/containers/auth.json", text)
    }

    /// `$DOCKER_CONFIG/config.json`.
    pub fn docker_config(&self, text: &str) -> PathBuf {
        self.file("docker/config.json", text)
    }

    /// Sets or overrides an environment variable for the runs.
    pub fn set(&mut self, k: &str, v: &str) {
        self.vars.retain(|(key, _)| key != k);
        self.vars.push((k.into(), v.into()));
    }

    /// Puts `dir` first on PATH.
    pub fn prepend_path(&mut self, dir: &Path) {
        let path = std::env::var("PATH").unwrap_or_default();
        self.set("PATH", &format!("{}:{path}", dir.display()));
    }

    /// Runs `mirror ARGS` with this environment and `stdin` (null when `None`).
    pub fn mirror(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run(&self.vars, args, stdin)
    }

    /// Async [`Env::mirror`], for tests that serve HTTP on their own runtime.
    pub async fn mirror_async(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let vars = self.vars.clone();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&vars, &a, None)
        })
        .await
        .unwrap()
    }
}

fn run(vars: &[(String, String)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(mirror_bin());
    cmd.args(args)
        .env("MIRROR_TEST", "1")
        .env("NO_COLOR", "1")
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning mirror");
    if let Some(text) = stdin {
        let mut s = child.stdin.take().unwrap();
        s.write_all(text.as_bytes()).unwrap();
    }
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    let _ = out.read_to_string(&mut stdout);
    let stderr = t.join().unwrap();
    let status = child.wait().unwrap();
    Output {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

/// An OCI layout holding `img` under tag `v1`, in `env`'s temp dir.
pub fn layout(env: &Env, img: &Image) -> String {
    let dir = env.path("layout");
    fixtures::write_layout(&dir, "v1", img);
    format!("oci:{}:v1", dir.display())
}

/// Asserts the registry holds `img` complete under `repo:tag` (files on disk).
pub fn assert_holds(reg: &Registry, repo: &str, tag: &str, img: &Image) {
    assert_eq!(
        reg.tag_target(repo, tag).as_deref(),
        Some(img.index.digest.as_str()),
        "{repo}:{tag} points at the source digest"
    );
    for b in img.all_blobs() {
        assert!(
            reg.blob_uploaded(repo, &b.digest),
            "blob {} in {repo}",
            b.digest
        );
    }
    for m in img.all_manifests() {
        assert!(
            reg.manifest_revision_exists(repo, &m.digest),
            "manifest {} in {repo}",
            m.digest
        );
    }
}

/// Asserts that none of `secrets` appears in the run's stdout or stderr.
pub fn assert_no_secret(out: &Output, secrets: &[&str]) {
    for s in secrets {
        assert!(s.len() >= 6, "secret {s:?} too short to scan for");
        assert!(
            !out.stdout.contains(s) && !out.stderr.contains(s),
            "secret {s:?} leaked:\n{out}"
        );
    }
}

/// `base64(user:pass)`, as it appears in a Basic header or an auth file.
pub fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
}

/// A password unique to this run (so a scan cannot match by accident).
pub fn secret(label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{label}-{:x}{:x}",
        nanos & 0xffff_ffff,
        N.fetch_add(1, Ordering::Relaxed) + std::process::id() as u64
    )
}
