//! Settings: turn what the user typed into ready-to-use values, or a usage error.
//!
//! Everything that can be wrong with the command line is found here, before any I/O: references,
//! platform patterns, credentials syntax. Credential lookup reads local files only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::{Auth, Credentials};
use crate::cli::CopyArgs;
use crate::copy::OnReject;
use crate::platform::PlatformFilter;
use crate::reference::{ImageRef, DOCKER_HUB};
use crate::retry::RetryPolicy;
use crate::select::Selector;
use crate::transport::registry::ClientOptions;

/// A usage error (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// One side of the copy.
#[derive(Debug, Clone)]
pub struct EndpointSettings {
    /// The parsed reference.
    pub reference: ImageRef,
    /// Registry connection options.
    pub client: ClientOptions,
    /// Credentials and their source.
    pub auth: Auth,
}

/// Everything `mirror copy` needs.
#[derive(Debug)]
pub struct CopySettings {
    /// Source.
    pub source: EndpointSettings,
    /// Target.
    pub target: EndpointSettings,
    /// The tag to write on the target (None: by digest only).
    pub target_tag: Option<String>,
    /// Selection.
    pub selector: Selector,
    /// Fail when a literal pattern matches nothing.
    pub require_platforms: bool,
    /// Rejection policy.
    pub on_reject: OnReject,
    /// Concurrency.
    pub jobs: usize,
    /// Dry run.
    pub dry_run: bool,
    /// Layout lock wait.
    pub lock_timeout: Duration,
    /// Referrers and digest tags (`--referrers`, `--digest-tags`).
    pub artifacts: crate::artifacts::ArtifactOptions,
}

/// Whether the text names a tag or digest explicitly (after the last `/`).
fn names_tag_or_digest(text: &str) -> bool {
    let t = text.strip_prefix("docker://").unwrap_or(text);
    t.contains('@') || t.rsplit('/').next().is_some_and(|last| last.contains(':'))
}

impl CopySettings {
    /// Validate and resolve `mirror copy` arguments.
    pub fn from_args(a: &CopyArgs) -> Result<Self, UsageError> {
        let source_ref: ImageRef = a
            .source
            .parse()
            .map_err(|e| UsageError(format!("source: {e}")))?;
        let mut target_ref: ImageRef = a
            .target
            .parse()
            .map_err(|e| UsageError(format!("target: {e}")))?;
        let explicit = match &target_ref {
            ImageRef::Registry(_) => names_tag_or_digest(&a.target),
            ImageRef::Layout(l) => l.tag.is_some() || l.digest.is_some(),
        };
        // Without an explicit tag the source tag is reused; a digest-only source is pushed by digest.
        let inherited = if explicit {
            None
        } else {
            source_ref.tag().map(str::to_string)
        };
        match &mut target_ref {
            ImageRef::Registry(r) if !explicit => r.tag = inherited.clone(),
            ImageRef::Layout(l) if !explicit => {
                l.tag = Some(inherited.clone().unwrap_or_else(|| "latest".into()))
            }
            _ => {}
        }
        if let (Some(td), Some(sd)) = (target_ref.digest(), source_ref.digest()) {
            if td != sd {
                return Err(UsageError(format!(
                    "target digest {td} differs from source digest {sd}: a copy keeps the digest"
                )));
            }
        }
        let mut target_tag = target_ref.tag().map(str::to_string);
        if let (ImageRef::Layout(_), crate::cli::RefName::Full, Some(t)) =
            (&target_ref, a.layout_ref_name, &target_tag)
        {
            target_tag = Some(match &source_ref {
                ImageRef::Registry(r) => format!("{}:{t}", r.name()),
                ImageRef::Layout(_) => t.clone(),
            });
        }
        let platforms =
            PlatformFilter::parse(&a.platforms).map_err(|e| UsageError(e.to_string()))?;
        let selector = Selector {
            platforms,
            attestations: !a.no_attestations,
            platformless: a.platformless,
            rules: crate::rules::Rules::parse(&a.always_copy, &a.never_copy)
                .map_err(|e| UsageError(e.to_string()))?,
            include_foreign: a.include_foreign_layers,
        };
        let artifacts = crate::artifacts::ArtifactOptions {
            referrers: a.referrers || !a.referrers_artifact_types.is_empty(),
            types: crate::referrers::ArtifactTypeFilter::parse(&a.referrers_artifact_types)
                .map_err(|e| UsageError(e.to_string()))?,
            digest_tags: a.digest_tags,
            attestations: !a.no_attestations,
            include_foreign: a.include_foreign_layers,
            jobs: a.jobs as usize,
        };
        let retry = RetryPolicy {
            retries: a.retries,
            ..RetryPolicy::default()
        };
        let timeout = Duration::from_secs(a.timeout.max(1));
        let side = |r: ImageRef,
                    plain: bool,
                    verify: bool,
                    creds: &Option<String>,
                    authfile: &Option<PathBuf>,
                    flag: &str|
         -> Result<EndpointSettings, UsageError> {
            let (plain_http, auth) = match &r {
                ImageRef::Registry(rr) => (
                    plain || rr.is_loopback(),
                    credentials(&rr.registry, creds.as_deref(), authfile.as_deref(), flag)?,
                ),
                ImageRef::Layout(_) => (false, Auth::anonymous()),
            };
            Ok(EndpointSettings {
                reference: r,
                client: ClientOptions {
                    plain_http,
                    insecure_tls: !verify,
                    timeout,
                    retry,
                    ..ClientOptions::default()
                },
                auth,
            })
        };
        Ok(CopySettings {
            source: side(
                source_ref,
                a.src_plain_http,
                a.src_tls_verify,
                &a.src_creds,
                &a.src_authfile,
                "--src-creds",
            )?,
            target: side(
                target_ref,
                a.dest_plain_http,
                a.dest_tls_verify,
                &a.dest_creds,
                &a.dest_authfile,
                "--dest-creds",
            )?,
            target_tag,
            selector,
            require_platforms: a.require_platforms,
            on_reject: a.on_reject,
            jobs: a.jobs as usize,
            dry_run: a.dry_run,
            lock_timeout: Duration::from_secs(a.lock_timeout),
            artifacts,
        })
    }
}

/// Find credentials for `registry`: the flag, then auth files, then anonymous.
pub fn credentials(
    registry: &str,
    flag_value: Option<&str>,
    authfile: Option<&Path>,
    flag: &str,
) -> Result<Auth, UsageError> {
    if let Some(v) = flag_value {
        let (user, pass) = v
            .split_once(':')
            .ok_or_else(|| UsageError(format!("{flag} expects USER:PASSWORD")))?;
        return Ok(Auth {
            credentials: Credentials::Basic {
                username: user.into(),
                password: pass.into(),
            },
            source: format!("{flag} (user {user:?})"),
        });
    }
    let mut files: Vec<PathBuf> = vec![];
    if let Some(f) = authfile {
        if !f.exists() {
            return Err(UsageError(format!(
                "auth file {} does not exist",
                f.display()
            )));
        }
        files.push(f.to_path_buf());
    }
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(f.into());
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        files.push(Path::new(&d).join("containers/auth.json"));
    }
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => files.push(Path::new(&d).join("config.json")),
        None => {
            if let Some(h) = std::env::var_os("HOME") {
                files.push(Path::new(&h).join(".docker/config.json"));
            }
        }
    }
    for f in files {
        if let Some(a) = from_auth_file(&f, registry) {
            return Ok(a);
        }
    }
    Ok(Auth::anonymous())
}

fn from_auth_file(path: &Path, registry: &str) -> Option<Auth> {
    use base64::Engine;
    let text = std::fs::read(path).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let aliases: Vec<&str> = if registry == DOCKER_HUB {
        vec![
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io/v1/",
        ]
    } else {
        vec![registry]
    };
    for (key, entry) in auths {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let host = if key.starts_with("https://index.docker.io/v1") {
            key.as_str()
        } else {
            host.split('/').next().unwrap_or(host)
        };
        if !aliases.iter().any(|a| *a == host || *a == key) {
            continue;
        }
        let raw = entry.get("auth")?.as_str()?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, pass) = decoded.split_once(':')?;
        return Some(Auth {
            credentials: Credentials::Basic {
                username: user.into(),
                password: pass.into(),
            },
            source: format!("{} (entry {key:?}, user {user:?})", path.display()),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_tags() {
        assert!(names_tag_or_digest("127.0.0.1:5000/a:v1"));
        assert!(!names_tag_or_digest("127.0.0.1:5000/a"));
        assert!(names_tag_or_digest("a@sha256:x"));
        assert!(!names_tag_or_digest("docker://localhost:5000/a/b"));
    }

    #[test]
    fn auth_file_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.json");
        std::fs::write(&f, r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwdw=="},"reg.local:5000":{"auth":"YTpi"}}}"#).unwrap();
        let a = from_auth_file(&f, "docker.io").unwrap();
        assert!(a.source.contains("user \"user\""));
        assert!(!a.source.contains("pw"));
        assert!(from_auth_file(&f, "reg.local:5000").is_some());
        assert!(from_auth_file(&f, "other").is_none());
    }
}
