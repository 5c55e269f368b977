//! Settings: turn what the user typed into ready-to-use values, or a usage error.
//!
//! Everything that can be wrong with the command line is found here, before any I/O: references,
//! platform patterns, credentials syntax. Credential lookup reads local files only.

use std::path::Path;
use std::time::Duration;

use crate::app::cli::CopyArgs;
use crate::auth::credentials::CredentialFlags;
use crate::auth::Auth;
use crate::engine::copy::OnReject;
use crate::engine::select::Selector;
use crate::model::platform::PlatformFilter;
use crate::model::reference::ImageRef;
use crate::transport::registry::ClientOptions;
use crate::transport::retry::RetryPolicy;

pub use crate::error::UsageError;

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
    pub artifacts: crate::engine::artifacts::ArtifactOptions,
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
        if let (ImageRef::Layout(_), crate::app::cli::RefName::Full, Some(t)) =
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
            rules: crate::engine::rules::Rules::parse(&a.always_copy, &a.never_copy)
                .map_err(|e| UsageError(e.to_string()))?,
            include_foreign: a.include_foreign_layers,
        };
        let artifacts = crate::engine::artifacts::ArtifactOptions {
            referrers: a.referrers || !a.referrers_artifact_types.is_empty(),
            types: crate::engine::referrers::ArtifactTypeFilter::parse(&a.referrers_artifact_types)
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
                    cert_dir: Option<&Path>,
                    flags: CredentialFlags|
         -> Result<EndpointSettings, UsageError> {
            let mut client = ClientOptions {
                insecure_tls: !verify,
                timeout,
                retry,
                allow_insecure_auth: a.allow_insecure_auth,
                ..ClientOptions::default()
            };
            let auth = match &r {
                ImageRef::Registry(rr) => {
                    client.plain_http = plain;
                    client.http_fallback = !plain && rr.is_loopback();
                    client.tls = crate::auth::tls::for_registry(cert_dir, &rr.registry)
                        .map_err(|e| UsageError(format!("--{}-cert-dir: {e}", flags.side)))?;
                    crate::auth::credentials::resolve(
                        &rr.registry,
                        &rr.repository,
                        &flags,
                        &mut || crate::auth::credentials::read_password_stdin(flags.side),
                    )?
                }
                ImageRef::Layout(_) => Auth::anonymous(),
            };
            Ok(EndpointSettings {
                reference: r,
                client,
                auth,
            })
        };
        Ok(CopySettings {
            source: side(
                source_ref,
                a.src_plain_http,
                a.src_tls_verify,
                a.src_cert_dir.as_deref(),
                CredentialFlags {
                    side: "src",
                    creds: a.src_creds.as_deref(),
                    password_stdin: a.src_password_stdin,
                    registry_token: a.src_registry_token.as_deref(),
                    authfile: a.src_authfile.as_deref(),
                },
            )?,
            target: side(
                target_ref,
                a.dest_plain_http,
                a.dest_tls_verify,
                a.dest_cert_dir.as_deref(),
                CredentialFlags {
                    side: "dest",
                    creds: a.dest_creds.as_deref(),
                    password_stdin: a.dest_password_stdin,
                    registry_token: a.dest_registry_token.as_deref(),
                    authfile: a.dest_authfile.as_deref(),
                },
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
}
