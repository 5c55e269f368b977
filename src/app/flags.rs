//! The flag groups that several commands share, each flag defined once (clap derive only).
//!
//! Commands flatten the groups they need (`#[command(flatten)]`): `copy` and `verify` take
//! [`SelectionArgs`], [`TransferArgs`], [`SourceAccessArgs`], [`TargetAccessArgs`] and
//! [`SharedAccessArgs`]; `sync` takes [`TransferArgs`] and [`SharedAccessArgs`] (the rest is in
//! its file); `inspect` takes [`SourceAccessArgs`] and [`SharedAccessArgs`]. So a flag has the
//! same name, range, format and environment variable wherever it appears. `settings.rs` turns
//! each group into ready values.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::transport::ranges::budget::DEFAULT_STREAMS;

mod access;
pub use access::{AccessArgs, SharedAccessArgs, SourceAccessArgs, TargetAccessArgs};

/// Which platforms and artifacts a mirror holds: the selection of `copy` and `verify`.
#[derive(Debug, Clone, Default, Args)]
pub struct SelectionArgs {
    /// Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes.
    ///
    /// Repeat the flag or separate with commas. Without it every platform is mirrored and the
    /// index is complete. `linux/arm` matches every arm variant, `linux/arm64/v8` equals
    /// `linux/arm64`. Examples: linux/amd64, 'linux/*', '*/arm64', 'windows/amd64:10.0.17763.*'.
    #[arg(
        short = 'p',
        long = "platform",
        value_name = "PATTERN",
        help_heading = "Selection"
    )]
    pub platforms: Vec<String>,

    /// Fail (exit 3) when a literal --platform matches nothing, instead of warning.
    #[arg(long, help_heading = "Selection")]
    pub require_platforms: bool,

    /// Leave out BuildKit attestation manifests of the selected platforms.
    #[arg(long, help_heading = "Selection")]
    pub no_attestations: bool,

    /// What to do with index entries that have no platform (artifacts, nested indexes).
    #[arg(long, value_enum, default_value_t = PlatformlessArg::Copy, value_name = "POLICY", help_heading = "Selection")]
    pub platformless: PlatformlessArg,

    /// When the target refuses a sparse index: fail (exit 4), filter (push a new, smaller index
    /// with a NEW digest), or full (copy every child and push the original index).
    ///
    /// The refusal is detected before any blob moves, by pushing the index by digest first.
    /// `mirror verify` takes the same value, so a filtered mirror made on purpose counts as
    /// complete.
    #[arg(long, value_enum, default_value_t = OnRejectArg::Fail, value_name = "POLICY", help_heading = "Selection")]
    pub on_reject: OnRejectArg,

    /// Mirror referrers of the index and of each selected child: signatures, SBOMs, attestations
    /// (manifests whose `subject` names them), recursively; `verify` checks them.
    ///
    /// Read through the referrers API, or the `sha256-<hex>` fallback tag where a registry
    /// has none (and in OCI layouts). Pushed after their subject; on a target that does not
    /// answer `OCI-Subject`, the fallback tag's index is maintained: merged with what is
    /// there, never dropping other entries. Referrers of children the platform filter leaves
    /// out stay behind. See docs/artifacts.md.
    #[arg(long, help_heading = "Supply chain")]
    pub referrers: bool,

    /// Only referrers whose artifact type matches GLOB (repeatable; implies --referrers).
    ///
    /// The artifact type is the manifest's `artifactType`, else its config media type, e.g.
    /// application/spdx+json, 'application/vnd.dev.sigstore.*', application/vnd.cncf.notary.signature.
    #[arg(
        long = "referrers-artifact-type",
        value_name = "GLOB",
        help_heading = "Supply chain"
    )]
    pub referrers_artifact_types: Vec<String>,

    /// Mirror cosign-style tags `sha256-<hex>.<suffix>` (.sig, .att, .sbom, any suffix) of the
    /// index and of each selected child, byte for byte; `verify` checks them.
    #[arg(long, help_heading = "Supply chain")]
    pub digest_tags: bool,

    /// Index entries that match RULE are mirrored even when the platform filter skips them
    /// (repeatable).
    ///
    /// RULE is artifact-type=GLOB, media-type=GLOB or annotation:KEY=GLOB, matched against the
    /// entry as the index lists it. A nested index forced in is copied whole. The plan names
    /// the rule that decided each entry.
    #[arg(long, value_name = "RULE", help_heading = "Supply chain")]
    pub always_copy: Vec<String>,

    /// Leave out index entries that match RULE (same forms as --always-copy; repeatable).
    ///
    /// --never-copy wins when both match, as a `!` exclude wins in --platform.
    #[arg(long, value_name = "RULE", help_heading = "Supply chain")]
    pub never_copy: Vec<String>,

    /// Foreign / non-distributable layers (Windows base layers) are copied too, each downloaded
    /// from its URLs and verified by digest.
    ///
    /// By default they are skipped and listed in the report: runtimes fetch them from their
    /// URLs. The manifests keep their URLs either way, so the target must allow them.
    #[arg(long, help_heading = "Supply chain")]
    pub include_foreign_layers: bool,
}

/// `--platformless` values (mapped to the engine's `PlatformlessPolicy` in settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum PlatformlessArg {
    /// Copy them (default).
    #[default]
    Copy,
    /// Leave them out.
    Skip,
}

/// `--on-reject` values (mapped to the engine's `OnReject` in settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OnRejectArg {
    /// Stop with exit code 4; nothing is tagged.
    #[default]
    Fail,
    /// Push a new index listing only the copied entries (new digest).
    Filter,
    /// Copy the remaining children too and push the original index.
    Full,
}

/// The most concurrent transfers `--jobs` allows (every command).
pub const MAX_JOBS: u16 = 256;

/// Concurrency, retries and timeouts.
#[derive(Debug, Clone, Args)]
pub struct TransferArgs {
    /// Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them
    /// (rounded up) move blobs of 1 MiB or more.
    ///
    /// That bounds memory (each large transfer holds ~0.8 MiB of buffers) without slowing the
    /// copy. For `mirror sync` this counts across the whole run; each image is also capped by
    /// its `jobs`.
    #[arg(short, long, default_value_t = 8, value_name = "N", env = "MIRROR_JOBS", value_parser = clap::value_parser!(u16).range(1..=MAX_JOBS as i64), help_heading = "Transfer")]
    pub jobs: u16,

    /// Retries for each idempotent request or blob copy (exponential backoff with jitter).
    #[arg(long, default_value_t = 5, value_name = "N", help_heading = "Transfer")]
    pub retries: u32,

    /// Per-request timeout in seconds (blob bodies excepted).
    #[arg(
        long,
        default_value_t = 60,
        value_name = "SECONDS",
        help_heading = "Transfer"
    )]
    pub timeout: u64,

    /// OCI layouts.
    #[command(flatten)]
    pub layout: LayoutLockArgs,
}

impl Default for TransferArgs {
    fn default() -> Self {
        TransferArgs {
            jobs: 8,
            retries: 5,
            timeout: 60,
            layout: LayoutLockArgs { lock_timeout: 60 },
        }
    }
}

/// Long paths: ranged downloads and the rate cap, for the commands that move blobs (`copy`,
/// `sync`).
#[derive(Debug, Clone, Args)]
pub struct WanArgs {
    /// Fetch each blob of 32 MiB or more as N byte ranges in parallel, each on its own HTTP/1.1
    /// connection (N for the whole run); 1 turns ranges off.
    ///
    /// Over a long path one TCP stream moves about its window per round trip (about 25 MB/s at
    /// 100 ms) however fast the link is; N ranges move up to N times that. The first range
    /// is a probe: a source that does not answer it with the matching 206 gets one stream per
    /// blob for the rest of the run (-v says so), and so does one that answers within 20 ms,
    /// where one stream already fills the path. Ranges enter an upload in order through a
    /// 28 MiB reorder window, or are written at their offsets into an OCI layout; the digest is
    /// checked over the whole blob either way. See docs/performance.md (WAN).
    #[arg(long, default_value_t = DEFAULT_STREAMS as u16, value_name = "N", env = "MIRROR_RANGE_STREAMS", value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Transfer")]
    pub range_streams: u16,

    /// Cap the run's blob traffic at RATE bytes per second: 20M (20 MB/s), 512k, 1.5G, 20Mi
    /// (MiB/s).
    ///
    /// One token bucket for every transfer of the run, downloads and uploads alike; each blob
    /// byte is charged once, so a registry-to-registry copy moves at most RATE down and RATE
    /// up. Manifests are not counted. In `mirror sync`, overrides `limit-rate` in the file.
    #[arg(long, value_name = "RATE", value_parser = crate::transport::rate::parse_rate, help_heading = "Transfer")]
    pub limit_rate: Option<u64>,

    /// The reorder window of ranged downloads, for the run (benchmarks; default 28Mi).
    #[arg(long, hide = true, value_name = "BYTES", value_parser = crate::transport::rate::parse_rate)]
    pub range_window: Option<u64>,

    /// Bytes per range request (benchmarks; default: half the window's share per stream).
    #[arg(long, hide = true, value_name = "BYTES", value_parser = crate::transport::rate::parse_rate)]
    pub range_chunk: Option<u64>,

    /// Sources that answer the range probe faster than this (milliseconds) get one stream
    /// (tests and benchmarks; default 20).
    #[arg(long, hide = true, value_name = "MS")]
    pub range_min_rtt: Option<u64>,
}

impl Default for WanArgs {
    fn default() -> Self {
        WanArgs {
            range_streams: DEFAULT_STREAMS as u16,
            limit_rate: None,
            range_window: None,
            range_chunk: None,
            range_min_rtt: None,
        }
    }
}

/// How long to wait for an OCI layout's lock (in the transfer group, and alone in `mirror gc`).
#[derive(Debug, Clone, Copy, Args)]
pub struct LayoutLockArgs {
    /// Seconds to wait for another writer of the same OCI layout before failing.
    #[arg(
        long,
        default_value_t = 60,
        value_name = "SECONDS",
        help_heading = "OCI layouts"
    )]
    pub lock_timeout: u64,
}

/// The signature gate of `copy` and `verify` (docs/signatures.md).
#[derive(Debug, Clone, Default, Args)]
pub struct SignatureArgs {
    /// Refuse (exit 8, nothing written) unless a signature over the source index digest
    /// verifies with this PEM public key; repeatable, any one key suffices.
    ///
    /// Keys: PEM SubjectPublicKeyInfo (cosign.pub): ECDSA P-256/P-384, Ed25519, RSA. Signatures:
    /// cosign simple-signing (`sha256-<hex>.sig` tags, referrers) and cosign 3 Sigstore bundles
    /// (referrers, or the `sha256-<hex>` fallback tag), verified in-process. `mirror verify`
    /// checks the same policy on the target.
    #[arg(
        long = "require-signature",
        value_name = "KEY_FILE",
        help_heading = "Signatures"
    )]
    pub require_signature: Vec<PathBuf>,

    /// With --require-signature or an identity: every selected child manifest must carry a
    /// valid signature too.
    #[arg(long, help_heading = "Signatures")]
    pub require_signature_children: bool,

    /// Accept keyless cosign signatures whose certificate names this identity (the SAN: an
    /// email or URI), as cosign's --certificate-identity; repeatable. Needs an issuer flag and
    /// --trusted-root. Checked offline: certificate chain, SCT, Rekor entry (docs/signatures.md).
    #[arg(
        long,
        value_name = "IDENTITY",
        requires = "trusted_root",
        help_heading = "Signatures"
    )]
    pub require_signature_identity: Vec<String>,

    /// As --require-signature-identity, a regular expression matched anywhere in the SAN (as
    /// cosign's --certificate-identity-regexp; anchor it with ^…$); repeatable.
    #[arg(
        long,
        value_name = "RE",
        requires = "trusted_root",
        help_heading = "Signatures"
    )]
    pub require_signature_identity_regexp: Vec<String>,

    /// The OIDC issuer the identities must come from, as cosign's --certificate-oidc-issuer.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "require_signature_issuer_regexp",
        help_heading = "Signatures"
    )]
    pub require_signature_issuer: Option<String>,

    /// As --require-signature-issuer, a regular expression (cosign's
    /// --certificate-oidc-issuer-regexp).
    #[arg(long, value_name = "RE", help_heading = "Signatures")]
    pub require_signature_issuer_regexp: Option<String>,

    /// The Sigstore trusted root (trusted_root.json: Fulcio CAs, Rekor and CT log keys,
    /// timestamp authorities) keyless signatures are checked against; read from disk, never
    /// fetched. Refresh it on the connected side (`cosign trusted-root create`).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath, help_heading = "Signatures")]
    pub trusted_root: Option<PathBuf>,
}

/// `--sign-format` values (mapped to the engine's `SignFormat` in app/signing.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SignFormatArg {
    /// cosign's `sha256-<hex>.sig` tag: read by cosign 2 and 3, Kyverno, policy-controller and
    /// Connaisseur; works on every registry.
    #[default]
    Tag,
    /// A Sigstore bundle referrer (cosign 3's format; the `sha256-<hex>` fallback tag where the
    /// registry has no referrers API).
    Bundle,
    /// Both.
    Both,
}

/// The gateway of `copy` and `sync`: sign what was verified and copied with the site key
/// (docs/signatures.md).
#[derive(Debug, Clone, Default, Args)]
pub struct SigningArgs {
    /// Once the image is complete on the target, sign the digest its tag resolves to (the
    /// source's index, a sparse or a filtered one) with this private key, so clusters behind
    /// the gap trust one site key. Needs --require-signature: only what was verified is signed.
    ///
    /// Keys: cosign's encrypted cosign.key (password from COSIGN_PASSWORD or
    /// --sign-key-password-stdin) or an unencrypted PKCS#8 PEM: ECDSA P-256/P-384, RSA of at
    /// least 2048 bits, Ed25519. A digest that already carries a valid signature by this key is
    /// not signed again.
    #[arg(long, value_name = "KEY_FILE", value_hint = clap::ValueHint::FilePath, help_heading = "Signatures")]
    pub sign_key: Option<PathBuf>,

    /// With --sign-key: also sign each copied child image manifest.
    #[arg(long, requires = "sign_key", help_heading = "Signatures")]
    pub sign_children: bool,

    /// With --sign-key: which signature objects to write.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        requires = "sign_key",
        help_heading = "Signatures"
    )]
    pub sign_format: Option<SignFormatArg>,

    /// With --sign-key: read the password of cosign's encrypted key from stdin (instead of
    /// COSIGN_PASSWORD).
    #[arg(long, requires = "sign_key", help_heading = "Signatures")]
    pub sign_key_password_stdin: bool,
}

/// `--bundle`: write a delta bundle for an air-gapped side instead of the target
/// (docs/air-gap.md). `copy` and `sync` take it.
#[derive(Debug, Clone, Default, Args)]
pub struct BundleArgs {
    /// Write everything into a bundle directory DIR instead of the target: an OCI layout
    /// (DIR/layout) plus DIR/bundle.json, which maps each image to its target. The target (or
    /// the sync file's targets) is the far side's, and nothing is written there now; carry DIR
    /// across and run `mirror bundle apply DIR` on the far side.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, help_heading = "Air-gap bundle")]
    pub bundle: Option<PathBuf>,

    /// Leave out the blobs this inventory (`mirror inventory --output json` on the far side)
    /// lists for the target repository, or for another repository of the same registry (the
    /// apply mounts those). Repeatable.
    #[arg(long = "inventory", value_name = "FILE", requires = "bundle", value_hint = clap::ValueHint::FilePath, help_heading = "Air-gap bundle")]
    pub inventories: Vec<PathBuf>,

    /// The near side's record of what earlier bundles shipped: read as an inventory (when it
    /// exists), and this bundle's blobs are added to it once the bundle is sealed.
    #[arg(long, value_name = "FILE", requires = "bundle", value_hint = clap::ValueHint::FilePath, help_heading = "Air-gap bundle")]
    pub ledger: Option<PathBuf>,

    /// Pack the layout into tar volumes of at most SIZE bytes (e.g. 4G, 700M, 64K), each with
    /// its own SHA-256 in bundle.json.
    #[arg(
        long,
        value_name = "SIZE",
        requires = "bundle",
        help_heading = "Air-gap bundle"
    )]
    pub max_volume_size: Option<String>,

    /// Pack the layout into one tar volume (DIR/layout.tar.001).
    #[arg(long, requires = "bundle", help_heading = "Air-gap bundle")]
    pub pack: bool,
}

/// Output and logging options.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Human, global = true, env = "MIRROR_OUTPUT")]
    pub output: OutputFormat,

    /// Print only errors on stderr: no warnings, no summary, no progress.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,

    /// More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Never draw progress bars (they are drawn only when stderr is a terminal anyway).
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// When to use colour on stderr. NO_COLOR is honoured by `auto`.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

/// `--output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `TARGET@DIGEST` on stdout, a summary on stderr.
    Human,
    /// The JSON report on stdout (see docs/json-output.md).
    Json,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Options shared by `copy` and `sync`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HookPolicyArgs {
    /// Kill a hook (its whole process group) after SECS seconds [default: 60, or `hooks.timeout` in a sync file].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400), help_heading = "Hooks")]
    pub hook_timeout: Option<u64>,

    /// A failed hook makes the exit code non-zero (copy: 1; sync: 6) when it would be 0.
    #[arg(long, help_heading = "Hooks")]
    pub hook_failure_exit: bool,
}

/// `mirror copy`'s hooks.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CopyHookArgs {
    /// Run CMD after the copy wrote something (not for an up-to-date target or a dry run).
    ///
    /// CMD is split into words at spaces ('…' and "…" group words) and run without a shell
    /// (write `sh -c '…'` for one). It gets the JSON report on stdin and MIRROR_SOURCE,
    /// MIRROR_TARGET, MIRROR_DIGEST in its environment, which is otherwise cleared but for
    /// PATH, HOME, USER, LANG, LC_*, TZ, TMPDIR and --hook-env names.
    #[arg(long, value_name = "CMD", help_heading = "Hooks")]
    pub on_change: Option<String>,

    /// Run CMD after the copy failed (stdin: `{"source","target","error","exit_code"}`).
    #[arg(long, value_name = "CMD", help_heading = "Hooks")]
    pub on_failure: Option<String>,

    /// Pass this environment variable to hooks (repeatable; MIRROR_*, REGISTRY_AUTH_FILE and DOCKER_CONFIG are refused).
    #[arg(long, value_name = "NAME", help_heading = "Hooks")]
    pub hook_env: Vec<String>,

    /// Timeout and exit-code policy.
    #[command(flatten)]
    pub policy: HookPolicyArgs,
}

/// `--metrics-file`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MetricsArgs {
    /// Write Prometheus metrics (text format) to PATH when the run ends, replacing the file
    /// atomically: for node_exporter's textfile collector (name it `*.prom`). See docs/sync.md.
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath, help_heading = "Monitoring")]
    pub metrics_file: Option<PathBuf>,
}
