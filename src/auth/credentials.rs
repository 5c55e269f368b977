//! Where credentials come from, in order (docs/auth.md):
//!
//! 1. flags: `--*-registry-token`, `--*-creds USER[:PASS]` (PASS from `--*-password-stdin` or
//!    asked on the terminal);
//! 2. auth files: `--*-authfile`, `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//!    `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config/…`), then
//!    `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. In each file: `credHelpers` for the
//!    host, then an `auths` entry (`auth` or `identitytoken`), then `credsStore`;
//! 3. anonymous.
//!
//! Only local files are read here. Credential helpers are not run yet: they become
//! [`Credentials::Helper`] and run ([`run_helper`]) when a registry first asks for credentials.

use std::io::Read;
use std::path::{Path, PathBuf};

mod helper;

pub use helper::{helper_timeout, run_helper, HELPER_TIMEOUT};

use crate::auth::{Auth, Credentials};
use crate::error::Error;
use crate::model::reference::DOCKER_HUB;

/// The key docker uses for Docker Hub, and what its credential helpers are asked for.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// What the user typed for one side of the copy.
#[derive(Debug, Clone, Copy)]
pub struct CredentialFlags<'a> {
    /// `src` or `dest`, to name flags in messages.
    pub side: &'a str,
    /// `--*-creds USER[:PASS]`.
    pub creds: Option<&'a str>,
    /// `--*-password-stdin`.
    pub password_stdin: bool,
    /// `--*-registry-token`.
    pub registry_token: Option<&'a str>,
    /// `--*-authfile`.
    pub authfile: Option<&'a Path>,
}

/// Find credentials for `registry` (as in the reference, `docker.io` for Docker Hub) and
/// `repository`. `read_stdin` supplies the whole of stdin for `--*-password-stdin`; `prompt`
/// asks the terminal for the password of `--*-creds USER` (the app layer owns the terminal).
pub fn resolve(
    registry: &str,
    repository: &str,
    f: &CredentialFlags,
    read_stdin: &mut dyn FnMut() -> Result<String, Error>,
    prompt: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<Auth, Error> {
    let side = f.side;
    if let Some(t) = f.registry_token {
        if t.is_empty() {
            return Err(Error::usage(format!("--{side}-registry-token is empty")));
        }
        return Ok(Auth {
            credentials: Credentials::Bearer(t.to_string()),
            source: format!("--{side}-registry-token"),
        });
    }
    if let Some(v) = f.creds {
        let (user, pass) = match v.split_once(':') {
            Some((u, p)) => (u, Some(p.to_string())),
            None => (v, None),
        };
        if user.is_empty() {
            return Err(Error::usage(format!(
                "--{side}-creds has an empty user name"
            )));
        }
        let (password, how) = match (pass, f.password_stdin) {
            (Some(_), true) => {
                return Err(Error::usage(format!(
                    "--{side}-creds includes a password and --{side}-password-stdin was given: \
                     pass only the user name with --{side}-password-stdin"
                )))
            }
            (Some(p), false) => (p, ""),
            (None, true) => (read_stdin()?, ", password from stdin"),
            (None, false) => (
                prompt(&format!("Password for {user} at {registry}: "))
                    .map_err(|e| Error::usage(format!("--{side}-creds {user:?} has no password and {e}; use USER:PASSWORD or --{side}-password-stdin")))?,
                ", password from the terminal",
            ),
        };
        return Ok(Auth {
            credentials: Credentials::Basic {
                username: user.into(),
                password,
            },
            source: format!("--{side}-creds (user {user:?}{how})"),
        });
    }
    if f.password_stdin {
        return Err(Error::usage(format!(
            "--{side}-password-stdin needs --{side}-creds USER"
        )));
    }
    if let Some(file) = f.authfile {
        if !file.is_file() {
            return Err(Error::usage(format!(
                "auth file {} does not exist",
                file.display()
            )));
        }
    }
    for (path, explicit) in auth_file_paths(f.authfile) {
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if explicit => {
                return Err(Error::usage(format!("reading {}: {e}", path.display())))
            }
            Err(_) => continue,
        };
        let json: serde_json::Value = match serde_json::from_slice(&text) {
            Ok(v) => v,
            Err(e) if explicit => {
                return Err(Error::usage(format!(
                    "auth file {} is not valid JSON: {e}",
                    path.display()
                )))
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), "ignoring an auth file that is not valid JSON: {e}");
                continue;
            }
        };
        match lookup(&json, &path, registry, repository) {
            Ok(Some(a)) => return Ok(a),
            Ok(None) => {}
            Err(e) => return Err(Error::usage(e)),
        }
    }
    Ok(Auth::anonymous())
}

/// The auth files to search, in order, with whether the user named the file explicitly.
/// Empty environment variables count as unset.
pub fn auth_file_paths(explicit: Option<&Path>) -> Vec<(PathBuf, bool)> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let home = env("HOME").map(PathBuf::from);
    let mut files = vec![];
    if let Some(f) = explicit {
        files.push((f.to_path_buf(), true));
    }
    if let Some(f) = env("REGISTRY_AUTH_FILE") {
        files.push((f.into(), false));
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        files.push((Path::new(&d).join("containers/auth.json"), false));
    }
    match (env("XDG_CONFIG_HOME"), &home) {
        (Some(d), _) => files.push((Path::new(&d).join("containers/auth.json"), false)),
        (None, Some(h)) => files.push((h.join(".config/containers/auth.json"), false)),
        _ => {}
    }
    match (env("DOCKER_CONFIG"), &home) {
        (Some(d), _) => files.push((Path::new(&d).join("config.json"), false)),
        (None, Some(h)) => files.push((h.join(".docker/config.json"), false)),
        _ => {}
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|(p, _)| seen.insert(p.clone()));
    files
}

/// `docker.io` for every Docker Hub alias, the host otherwise.
fn normalize_host(host: &str) -> String {
    let h = host.to_ascii_lowercase();
    match h.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        _ => h,
    }
}

/// An auth-file key in the form it is matched: `host` or `host/namespace`. Keys with a scheme
/// (docker's `https://index.docker.io/v1/`, `https://host:5000`) name a host only, as docker
/// reads them; keys without one may name a namespace, as containers' auth.json allows.
pub fn normalize_key(key: &str) -> String {
    let (rest, has_scheme) = match key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        Some(r) => (r, true),
        None => (key, false),
    };
    let rest = rest.trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = normalize_host(host);
    if has_scheme || path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    }
}

/// The keys that may hold credentials for `registry/repository`, most specific first.
fn candidates(registry: &str, repository: &str) -> Vec<String> {
    let host = normalize_host(registry);
    let parts: Vec<&str> = repository.split('/').filter(|p| !p.is_empty()).collect();
    let mut out: Vec<String> = (1..=parts.len())
        .rev()
        .map(|n| format!("{host}/{}", parts[..n].join("/")))
        .collect();
    out.push(host);
    out
}

/// What a credential helper is asked for.
fn helper_server(registry: &str) -> String {
    if normalize_host(registry) == DOCKER_HUB {
        DOCKER_HUB_SERVER.to_string()
    } else {
        registry.to_string()
    }
}

/// Look `registry/repository` up in one parsed auth file.
fn lookup(
    json: &serde_json::Value,
    path: &Path,
    registry: &str,
    repository: &str,
) -> Result<Option<Auth>, String> {
    let file = path.display();
    let host = normalize_host(registry);
    if let Some(helpers) = json.get("credHelpers").and_then(|v| v.as_object()) {
        for (key, helper) in helpers {
            if normalize_key(key) != host {
                continue;
            }
            let helper = helper
                .as_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| format!("{file}: credHelpers entry {key:?} is not a helper name"))?;
            return Ok(Some(Auth {
                credentials: Credentials::Helper {
                    helper: helper.to_string(),
                    server: helper_server(registry),
                },
                source: format!(
                    "credential helper docker-credential-{helper} (credHelpers {key:?} in {file})"
                ),
            }));
        }
    }
    if let Some(auths) = json.get("auths").and_then(|v| v.as_object()) {
        for want in candidates(registry, repository) {
            for (key, entry) in auths {
                if normalize_key(key) != want {
                    continue;
                }
                if let Some(a) = entry_credentials(entry, key, &file.to_string())? {
                    return Ok(Some(a));
                }
            }
        }
    }
    if let Some(store) = json.get("credsStore").and_then(|v| v.as_str()) {
        if !store.is_empty() {
            return Ok(Some(Auth {
                credentials: Credentials::Helper {
                    helper: store.to_string(),
                    server: helper_server(registry),
                },
                source: format!(
                    "credential helper docker-credential-{store} (credsStore in {file})"
                ),
            }));
        }
    }
    Ok(None)
}

/// Credentials in one `auths` entry: `identitytoken` wins over `auth` (as in docker); an entry
/// with neither (a marker written next to a `credsStore`) gives `None`.
fn entry_credentials(
    entry: &serde_json::Value,
    key: &str,
    file: &str,
) -> Result<Option<Auth>, String> {
    use base64::Engine;
    let s = |k: &str| {
        entry
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let (mut user, mut pass) = (
        s("username").map(str::to_string),
        s("password").map(str::to_string),
    );
    if let Some(raw) = s("auth") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| {
                format!("{file}: the \"auth\" of entry {key:?} is not base64 of USER:PASSWORD")
            })?;
        let (u, p) = decoded.split_once(':').ok_or_else(|| {
            format!("{file}: the \"auth\" of entry {key:?} has no ':' between user and password")
        })?;
        user = Some(u.to_string());
        pass = Some(p.to_string());
    }
    if let Some(token) = s("identitytoken") {
        let username = user.unwrap_or_default();
        return Ok(Some(Auth {
            credentials: Credentials::IdentityToken {
                username: username.clone(),
                token: token.to_string(),
            },
            source: format!(
                "{file} (entry {key:?}, identity token{})",
                if username.is_empty() {
                    String::new()
                } else {
                    format!(" of user {username:?}")
                }
            ),
        }));
    }
    match (user, pass) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Auth {
            source: format!("{file} (entry {key:?}, user {u:?})"),
            credentials: Credentials::Basic {
                username: u,
                password: p,
            },
        })),
        _ => Ok(None),
    }
}

/// Read a password for `--*-password-stdin`: all of stdin, without the final line break.
pub fn read_password_stdin(side: &str) -> Result<String, Error> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Error::usage(format!("--{side}-password-stdin: reading stdin: {e}")))?;
    let p = s.strip_suffix('\n').unwrap_or(&s);
    let p = p.strip_suffix('\r').unwrap_or(p);
    if p.is_empty() {
        return Err(Error::usage(format!(
            "--{side}-password-stdin: stdin was empty"
        )));
    }
    Ok(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn keys_normalize_like_docker_and_containers() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("index.docker.io"), "docker.io");
        assert_eq!(normalize_key("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_key("docker.io"), "docker.io");
        assert_eq!(
            normalize_key("https://reg.local:5000/v2/"),
            "reg.local:5000"
        );
        assert_eq!(normalize_key("quay.io/org"), "quay.io/org");
        assert_eq!(normalize_key("docker.io/library"), "docker.io/library");
        assert_eq!(
            candidates("quay.io", "org/team/app"),
            [
                "quay.io/org/team/app",
                "quay.io/org/team",
                "quay.io/org",
                "quay.io"
            ]
        );
    }

    #[test]
    fn docker_hub_aliases_resolve_to_one_entry() {
        for key in [
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io/v1/",
        ] {
            let j = json(&format!(
                r#"{{"auths":{{"{key}":{{"auth":"dXNlcjpwdw=="}}}}}}"#
            ));
            let a = lookup(&j, Path::new("c.json"), "docker.io", "library/alpine")
                .unwrap()
                .unwrap_or_else(|| panic!("{key} not found"));
            assert!(
                matches!(a.credentials, Credentials::Basic { ref username, ref password } if username == "user" && password == "pw")
            );
            assert!(!a.source.contains("pw"), "{}", a.source);
        }
    }

    #[test]
    fn most_specific_entry_wins() {
        let j =
            json(r#"{"auths":{"quay.io":{"auth":"aG9zdDpw"},"quay.io/org":{"auth":"b3JnOnA="}}}"#);
        let a = lookup(&j, Path::new("a.json"), "quay.io", "org/app")
            .unwrap()
            .unwrap();
        assert!(a.source.contains("user \"org\""), "{}", a.source);
        let a = lookup(&j, Path::new("a.json"), "quay.io", "other/app")
            .unwrap()
            .unwrap();
        assert!(a.source.contains("user \"host\""), "{}", a.source);
        assert!(lookup(&j, Path::new("a.json"), "ghcr.io", "org/app")
            .unwrap()
            .is_none());
    }

    #[test]
    fn helpers_then_entries_then_store() {
        let j = json(
            r#"{"credHelpers":{"gcr.io":"gcloud"},"credsStore":"desktop",
                "auths":{"gcr.io":{"auth":"dTpw"},"reg.local":{"auth":"dTpw"},"other":{}}}"#,
        );
        let c = |r: &str| lookup(&j, Path::new("c.json"), r, "a").unwrap().unwrap();
        assert!(
            matches!(c("gcr.io").credentials, Credentials::Helper { ref helper, ref server } if helper == "gcloud" && server == "gcr.io")
        );
        assert!(matches!(
            c("reg.local").credentials,
            Credentials::Basic { .. }
        ));
        assert!(
            matches!(c("other").credentials, Credentials::Helper { ref helper, .. } if helper == "desktop")
        );
        assert!(
            matches!(c("docker.io").credentials, Credentials::Helper { ref server, .. } if server == DOCKER_HUB_SERVER)
        );
    }

    #[test]
    fn identity_tokens() {
        let j = json(r#"{"auths":{"reg.local":{"auth":"dTo=","identitytoken":"refresh-abc"}}}"#);
        let a = lookup(&j, Path::new("c.json"), "reg.local", "a")
            .unwrap()
            .unwrap();
        assert!(
            matches!(a.credentials, Credentials::IdentityToken { ref username, ref token } if username == "u" && token == "refresh-abc")
        );
        assert!(!a.source.contains("refresh-abc"));
    }

    #[test]
    fn broken_entries_are_named_without_secrets() {
        let j = json(r#"{"auths":{"reg.local":{"auth":"bm9jb2xvbg=="}}}"#);
        let e = lookup(&j, Path::new("c.json"), "reg.local", "a").unwrap_err();
        assert!(e.contains("reg.local") && e.contains("no ':'"), "{e}");
        assert!(!e.contains("nocolon"), "{e}");
    }

    #[test]
    fn flags_come_first() {
        let mut no_stdin = || -> Result<String, Error> { panic!("stdin read") };
        let mut no_prompt = |_: &str| -> Result<String, String> { panic!("terminal read") };
        let f = CredentialFlags {
            side: "dest",
            creds: Some("ci:p:w"),
            password_stdin: false,
            registry_token: None,
            authfile: None,
        };
        let a = resolve("reg.local", "a", &f, &mut no_stdin, &mut no_prompt).unwrap();
        assert!(
            matches!(a.credentials, Credentials::Basic { ref password, .. } if password == "p:w")
        );
        let mut stdin = || Ok("from-stdin".to_string());
        let f = CredentialFlags {
            creds: Some("ci"),
            password_stdin: true,
            ..f
        };
        let a = resolve("reg.local", "a", &f, &mut stdin, &mut no_prompt).unwrap();
        assert!(
            matches!(a.credentials, Credentials::Basic { ref password, .. } if password == "from-stdin")
        );
        assert!(a.source.contains("password from stdin"));
        let f = CredentialFlags {
            creds: Some("ci:pw"),
            ..f
        };
        assert!(resolve("reg.local", "a", &f, &mut stdin, &mut no_prompt).is_err());
        let f = CredentialFlags {
            creds: None,
            password_stdin: false,
            registry_token: Some("tok"),
            ..f
        };
        let a = resolve("reg.local", "a", &f, &mut no_stdin, &mut no_prompt).unwrap();
        assert!(matches!(a.credentials, Credentials::Bearer(ref t) if t == "tok"));
    }
}
