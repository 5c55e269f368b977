//! Settings: turn what the user typed into ready-to-use values, or a usage error.
//!
//! One builder per flag group ([`SelectionSettings::from_args`], [`TransferSettings::from_args`],
//! [`AccessSettings::from_args`]) and one per command that combines them ([`CopySettings`],
//! [`VerifySettings`], [`InspectSettings`]); `mirror sync` uses the group builders for its
//! command-line flags and [`AccessSettings::from_args`] for each registry of its file.
//! Everything that can be wrong with the command line is found here, before any I/O:
//! references, platform patterns, rules, credentials syntax. Credential lookup reads local files
//! only. Engine types are produced here; the engine never sees a clap type.

use std::sync::Arc;
use std::time::Duration;

use crate::app::bundle::stamp::now_utc;
use crate::app::cli::{CopyArgs, InspectArgs, RefName, VerifyArgs};
use crate::app::flags::{
    AccessArgs, OnRejectArg, PlatformlessArg, SelectionArgs, SharedAccessArgs, SignatureArgs,
    TransferArgs, WanArgs,
};
use crate::app::signing::{copy_signing, KeyLoader};
use crate::auth::credentials::CredentialFlags;
use crate::auth::Auth;
use crate::engine::artifacts::ArtifactOptions;
use crate::engine::copy::fetch::Transfer;
use crate::engine::copy::OnReject;
use crate::engine::referrers::ArtifactTypeFilter;
use crate::engine::rules::Rules;
use crate::engine::select::{PlatformlessPolicy, Selector};
use crate::error::{Error, Result};
use crate::interrupt::CancelToken;
use crate::model::platform::PlatformFilter;
use crate::model::reference::{ImageRef, RegistryRef};
use crate::transport::ranges::budget::{
    RangeBudget, DEFAULT_STALL, DEFAULT_THRESHOLD, DEFAULT_WINDOW,
};
use crate::transport::rate::RateLimit;
use crate::transport::registry::ClientOptions;
use crate::transport::retry::RetryPolicy;

impl From<OnRejectArg> for OnReject {
    fn from(a: OnRejectArg) -> Self {
        match a {
            OnRejectArg::Fail => OnReject::Fail,
            OnRejectArg::Filter => OnReject::Filter,
            OnRejectArg::Full => OnReject::Full,
        }
    }
}

impl From<PlatformlessArg> for PlatformlessPolicy {
    fn from(a: PlatformlessArg) -> Self {
        match a {
            PlatformlessArg::Copy => PlatformlessPolicy::Copy,
            PlatformlessArg::Skip => PlatformlessPolicy::Skip,
        }
    }
}

/// Which side of a copy a registry is on: names the flags in messages (`--src-…`, `--dest-…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The source (`--src-*`).
    Source,
    /// The target (`--dest-*`).
    Target,
}

impl Side {
    /// The flag prefix: `src` or `dest`.
    pub fn prefix(self) -> &'static str {
        match self {
            Side::Source => "src",
            Side::Target => "dest",
        }
    }
}

/// [`TransferArgs`], resolved.
#[derive(Debug, Clone, Copy)]
pub struct TransferSettings {
    /// Concurrent transfers (`--jobs`).
    pub jobs: usize,
    /// Retries for idempotent steps.
    pub retry: RetryPolicy,
    /// Per-request timeout (at least a second).
    pub timeout: Duration,
    /// How long to wait for another writer of a layout.
    pub lock_timeout: Duration,
}

impl TransferSettings {
    /// Resolve `--jobs`, `--retries`, `--timeout`, `--lock-timeout`.
    pub fn from_args(a: &TransferArgs) -> Self {
        TransferSettings {
            jobs: a.jobs as usize,
            retry: RetryPolicy {
                retries: a.retries,
                ..RetryPolicy::default()
            },
            timeout: Duration::from_secs(a.timeout.max(1)),
            lock_timeout: Duration::from_secs(a.layout.lock_timeout),
        }
    }
}

/// [`WanArgs`] for a run: the ranged-download budget and the rate cap it shares. Called once
/// per run; `file_rate` is `limit-rate` from a sync file (the flag wins). A range that sends
/// nothing for `--timeout` (at most 30 s) is restarted on a new connection.
pub fn wan_settings(a: &WanArgs, file_rate: Option<u64>, transfer: &TransferSettings) -> Transfer {
    Transfer {
        ranges: (a.range_streams > 1).then(|| {
            let window = a.range_window.unwrap_or(DEFAULT_WINDOW);
            let budget = RangeBudget::new(a.range_streams as usize, window, DEFAULT_THRESHOLD);
            let budget = match a.range_chunk {
                Some(c) => budget.with_chunk(c),
                None => budget,
            };
            let budget = match a.range_min_rtt {
                Some(ms) => budget.with_min_rtt(Duration::from_millis(ms)),
                None => budget,
            };
            Arc::new(budget.with_stall(transfer.timeout.min(DEFAULT_STALL)))
        }),
        limit: a
            .limit_rate
            .or(file_rate)
            .map(|r| Arc::new(RateLimit::new(r))),
    }
}

/// [`SelectionArgs`], compiled into engine types.
#[derive(Debug)]
pub struct SelectionSettings {
    /// Which index entries to mirror.
    pub selector: Selector,
    /// Fail when a literal pattern matches nothing.
    pub require_platforms: bool,
    /// What to do when the target refuses a sparse index.
    pub on_reject: OnReject,
    /// Referrers and digest tags (`--referrers`, `--digest-tags`).
    pub artifacts: ArtifactOptions,
}

impl SelectionSettings {
    /// Compile the patterns and rules; `jobs` bounds the artifact discovery.
    pub fn from_args(a: &SelectionArgs, jobs: usize) -> Result<Self> {
        let platforms =
            PlatformFilter::parse(&a.platforms).map_err(|e| Error::usage(e.to_string()))?;
        let rules =
            Rules::parse(&a.always_copy, &a.never_copy).map_err(|e| Error::usage(e.to_string()))?;
        let types = ArtifactTypeFilter::parse(&a.referrers_artifact_types)
            .map_err(|e| Error::usage(e.to_string()))?;
        Ok(SelectionSettings {
            selector: Selector {
                platforms,
                attestations: !a.no_attestations,
                platformless: a.platformless.into(),
                rules,
                include_foreign: a.include_foreign_layers,
            },
            require_platforms: a.require_platforms,
            on_reject: a.on_reject.into(),
            artifacts: ArtifactOptions {
                referrers: a.referrers || !a.referrers_artifact_types.is_empty(),
                types,
                digest_tags: a.digest_tags,
                attestations: !a.no_attestations,
                include_foreign: a.include_foreign_layers,
                jobs,
            },
        })
    }
}

/// How to reach one registry: connection options (TLS, plain HTTP, timeouts, cancellation)
/// and credentials.
#[derive(Debug, Clone)]
pub struct AccessSettings {
    /// Connection options.
    pub client: ClientOptions,
    /// Credentials and where they came from.
    pub auth: Auth,
}

impl AccessSettings {
    /// Resolve one side's access flags for `registry`: TLS files (`--*-cert-dir` or certs.d),
    /// credentials (token, `--*-creds`, stdin, auth files, helpers), plain HTTP.
    pub fn from_args(
        side: Side,
        a: &AccessArgs,
        shared: &SharedAccessArgs,
        registry: &RegistryRef,
        transfer: &TransferSettings,
        cancel: &CancelToken,
    ) -> Result<Self> {
        let p = side.prefix();
        let tls = crate::auth::tls::for_registry(a.cert_dir.as_deref(), &registry.registry)
            .map_err(|e| match a.cert_dir {
                Some(_) => Error::usage(format!("--{p}-cert-dir: {e}")),
                None => Error::usage(format!("TLS files for {}: {e}", registry.registry)),
            })?;
        let flags = CredentialFlags {
            side: p,
            creds: a.creds.as_deref(),
            password_stdin: a.password_stdin,
            registry_token: a.registry_token.as_deref(),
            authfile: a.authfile.as_deref().or(shared.authfile.as_deref()),
        };
        let auth = crate::auth::credentials::resolve(
            &registry.registry,
            &registry.repository,
            &flags,
            &mut || crate::auth::credentials::read_password_stdin(p),
            &mut crate::app::printer::prompt_password,
        )?;
        Ok(AccessSettings {
            client: ClientOptions {
                plain_http: a.plain_http,
                http_fallback: !a.plain_http && registry.is_loopback(),
                insecure_tls: !a.tls_verify,
                timeout: transfer.timeout,
                retry: transfer.retry,
                allow_insecure_auth: shared.allow_insecure_auth,
                tls,
                cancel: cancel.clone(),
                ..ClientOptions::default()
            },
            auth,
        })
    }
}

/// One side of a command: the reference and how to reach it.
#[derive(Debug, Clone)]
pub struct EndpointSettings {
    /// The parsed reference.
    pub reference: ImageRef,
    /// Registry connection options (defaults for a layout, but for the cancellation token).
    pub client: ClientOptions,
    /// Credentials and their source (anonymous for a layout).
    pub auth: Auth,
}

impl EndpointSettings {
    /// Resolve access for `reference` (a layout needs none).
    pub fn new(
        reference: ImageRef,
        side: Side,
        a: &AccessArgs,
        shared: &SharedAccessArgs,
        transfer: &TransferSettings,
        cancel: &CancelToken,
    ) -> Result<Self> {
        let access = match &reference {
            ImageRef::Registry(r) => {
                AccessSettings::from_args(side, a, shared, r, transfer, cancel)?
            }
            ImageRef::Layout(_) => AccessSettings {
                client: ClientOptions {
                    cancel: cancel.clone(),
                    ..ClientOptions::default()
                },
                auth: Auth::anonymous(),
            },
        };
        Ok(EndpointSettings {
            reference,
            client: access.client,
            auth: access.auth,
        })
    }
}

/// Parse SRC and DST; the target inherits the source tag when it names none (a layout falls
/// back to `latest`, a registry target of a digest-only source is written by digest). Returns
/// the references and the tag to write on the target.
fn source_and_target(
    source: &str,
    target: &str,
    ref_name: RefName,
) -> Result<(ImageRef, ImageRef, Option<String>)> {
    let source_ref: ImageRef = source
        .parse()
        .map_err(|e| Error::usage(format!("source: {e}")))?;
    let mut target_ref: ImageRef = target
        .parse()
        .map_err(|e| Error::usage(format!("target: {e}")))?;
    let explicit = match &target_ref {
        ImageRef::Registry(_) => crate::model::reference::names_tag_or_digest(target),
        ImageRef::Layout(l) => l.tag.is_some() || l.digest.is_some(),
    };
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
            return Err(Error::usage(format!(
                "target digest {td} differs from source digest {sd}: a copy keeps the digest"
            )));
        }
    }
    let mut target_tag = target_ref.tag().map(str::to_string);
    if let (ImageRef::Layout(_), RefName::Full, Some(t)) = (&target_ref, ref_name, &target_tag) {
        target_tag = Some(match &source_ref {
            ImageRef::Registry(r) => format!("{}:{t}", r.name()),
            ImageRef::Layout(_) => t.clone(),
        });
    }
    Ok((source_ref, target_ref, target_tag))
}

/// Both sides of a copy or verify: references, access and the target tag.
struct Sides {
    source: EndpointSettings,
    target: EndpointSettings,
    target_tag: Option<String>,
}

impl Sides {
    /// Parse SRC and DST (see [`source_and_target`]) and resolve each side's access.
    fn from_args(
        (source, target, ref_name): (&str, &str, RefName),
        (src, dest): (AccessArgs, AccessArgs),
        access: &SharedAccessArgs,
        transfer: &TransferSettings,
        cancel: &CancelToken,
    ) -> Result<Self> {
        let (source_ref, target_ref, target_tag) = source_and_target(source, target, ref_name)?;
        one_stdin(&src, &dest)?;
        Ok(Sides {
            source: EndpointSettings::new(
                source_ref,
                Side::Source,
                &src,
                access,
                transfer,
                cancel,
            )?,
            target: EndpointSettings::new(
                target_ref,
                Side::Target,
                &dest,
                access,
                transfer,
                cancel,
            )?,
            target_tag,
        })
    }
}

/// Both sides cannot read stdin.
fn one_stdin(src: &AccessArgs, dest: &AccessArgs) -> Result<()> {
    if src.password_stdin && dest.password_stdin {
        return Err(Error::usage(
            "--src-password-stdin and --dest-password-stdin cannot both read stdin",
        ));
    }
    Ok(())
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
    pub artifacts: ArtifactOptions,
    /// Cancellation, for the engine.
    pub cancel: CancelToken,
    /// The signature gate (`--require-signature`).
    pub signatures: crate::engine::signature::Policy,
    /// `--range-streams`, `--limit-rate`: shared by the run.
    pub wan: Transfer,
    /// The gateway (`--sign-key`), checked against `signatures`.
    pub signing: Option<std::sync::Arc<crate::engine::signature::publish::SiteSigning>>,
    /// Warnings found while reading the settings (a signing key other users can read).
    pub warnings: Vec<String>,
}

/// A public key file larger than this is refused before it is read.
const MAX_KEY_FILE: u64 = crate::engine::signature::keys::MAX_KEY_FILE as u64;

/// The signature policy of `--require-signature` / `--require-signature-children`: every key
/// file read and parsed now (a bad key is a usage error, exit 2, before any I/O).
pub fn signature_policy(a: &SignatureArgs) -> Result<crate::engine::signature::Policy> {
    let keys = a
        .require_signature
        .iter()
        .map(|p| read_public_key(p))
        .collect::<Result<Vec<_>>>()?;
    let keyless = crate::app::keyless_settings::keyless_policy(a)?;
    if a.require_signature_children && keys.is_empty() && keyless.is_none() {
        return Err(Error::Usage {
            message: "--require-signature-children needs --require-signature or --require-signature-identity[-regexp]".into(),
            hint: None,
        });
    }
    Ok(crate::engine::signature::Policy {
        keys,
        keyless,
        children: a.require_signature_children,
    })
}

/// Reads one PEM public key file (bounded), for `--require-signature` and the sync config.
pub fn read_public_key(p: &std::path::Path) -> Result<crate::engine::signature::PublicKey> {
    let name = p.display().to_string();
    let hint = "pass a PEM public key file (e.g. cosign.pub from `cosign generate-key-pair`)";
    let usage = |m: String| Error::Usage {
        message: format!("--require-signature {m}"),
        hint: Some(hint.into()),
    };
    let meta = std::fs::metadata(p).map_err(|e| usage(format!("{name}: {e}")))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(usage(format!(
            "{name}: {} bytes is too large for a public key (at most {MAX_KEY_FILE})",
            meta.len()
        )));
    }
    let bytes = std::fs::read(p).map_err(|e| usage(format!("{name}: {e}")))?;
    crate::engine::signature::PublicKey::from_pem(&bytes, &name).map_err(|e| usage(e.0))
}

impl CopySettings {
    /// Validate and resolve `mirror copy` arguments.
    pub fn from_args(a: &CopyArgs, cancel: &CancelToken) -> Result<Self> {
        let transfer = TransferSettings::from_args(&a.transfer);
        let selection = SelectionSettings::from_args(&a.selection, transfer.jobs)?;
        let sides = Sides::from_args(
            (&a.source, &a.target, a.layout_ref_name),
            (a.src.view(), a.dest.view()),
            &a.access,
            &transfer,
            cancel,
        )?;
        if a.signing.sign_key_password_stdin && (a.src.password_stdin || a.dest.password_stdin) {
            return Err(Error::usage(
                "--sign-key-password-stdin and --src/--dest-password-stdin cannot both read stdin",
            ));
        }
        let signatures = signature_policy(&a.signatures)?;
        let mut keys = KeyLoader::new(a.signing.sign_key_password_stdin);
        let signing = copy_signing(&a.signing, &signatures, &mut keys, &now_utc())?;
        Ok(CopySettings {
            source: sides.source,
            target: sides.target,
            target_tag: sides.target_tag,
            selector: selection.selector,
            require_platforms: selection.require_platforms,
            on_reject: selection.on_reject,
            jobs: transfer.jobs,
            dry_run: a.dry_run,
            lock_timeout: transfer.lock_timeout,
            artifacts: selection.artifacts,
            cancel: cancel.clone(),
            wan: wan_settings(&a.wan, None, &transfer),
            signatures,
            signing,
            warnings: keys.warnings,
        })
    }
}

/// Everything `mirror verify` needs.
#[derive(Debug)]
pub struct VerifySettings {
    /// Source.
    pub source: EndpointSettings,
    /// Target.
    pub target: EndpointSettings,
    /// The tag the target should carry (None: the source digest).
    pub target_tag: Option<String>,
    /// What the mirror should hold.
    pub selection: SelectionSettings,
    /// Concurrency, retries, timeouts.
    pub transfer: TransferSettings,
    /// Cancellation.
    pub cancel: CancelToken,
    /// The signature policy checked on the target (`--require-signature`).
    pub signatures: crate::engine::signature::Policy,
}

impl VerifySettings {
    /// Validate and resolve `mirror verify` arguments (the same groups as `mirror copy`).
    pub fn from_args(a: &VerifyArgs, cancel: &CancelToken) -> Result<Self> {
        let transfer = TransferSettings::from_args(&a.transfer);
        let selection = SelectionSettings::from_args(&a.selection, transfer.jobs)?;
        let sides = Sides::from_args(
            (&a.source, &a.target, RefName::Tag),
            (a.src.view(), a.dest.view()),
            &a.access,
            &transfer,
            cancel,
        )?;
        Ok(VerifySettings {
            source: sides.source,
            target: sides.target,
            target_tag: sides.target_tag,
            selection,
            transfer,
            cancel: cancel.clone(),
            signatures: signature_policy(&a.signatures)?,
        })
    }
}

/// Everything `mirror inspect` needs.
#[derive(Debug)]
pub struct InspectSettings {
    /// What to inspect.
    pub source: EndpointSettings,
    /// Also list referrers and digest tags.
    pub referrers: bool,
    /// Cancellation.
    pub cancel: CancelToken,
}

impl InspectSettings {
    /// Validate and resolve `mirror inspect` arguments.
    pub fn from_args(a: &InspectArgs, cancel: &CancelToken) -> Result<Self> {
        let reference: ImageRef = a.source.parse().map_err(|e| Error::usage(format!("{e}")))?;
        let transfer = TransferSettings::from_args(&TransferArgs::default());
        Ok(InspectSettings {
            source: EndpointSettings::new(
                reference,
                Side::Source,
                &a.src.view(),
                &a.access,
                &transfer,
                cancel,
            )?,
            referrers: a.referrers,
            cancel: cancel.clone(),
        })
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
