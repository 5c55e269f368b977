//! Command-line definitions (clap derive only; no logic lives here).
//!
//! Every argument's doc comment is its help: the first line is the short help, the rest the
//! long help shown by `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod maintenance;
pub use crate::app::flags::{
    BundleArgs, ColorChoice, CopyHookArgs, GlobalArgs, HookPolicyArgs, MetricsArgs, OnRejectArg,
    OutputFormat, PlatformlessArg, SelectionArgs, SharedAccessArgs, SignatureArgs, SigningArgs,
    SourceAccessArgs, TargetAccessArgs, TransferArgs, WanArgs,
};
pub use maintenance::{
    BundleApplyArgs, BundleCommand, ClientConfigArgs, ClientFormatArg, GcArgs, InventoryArgs,
};
use maintenance::{BUNDLE_EXAMPLES, CLIENT_CONFIG_EXAMPLES, GC_EXAMPLES, INVENTORY_EXAMPLES};

/// Mirror container images between registries and OCI layouts, keeping only the platforms you
/// need, byte-for-byte.
///
/// `mirror copy` copies the selected children of a multi-arch index and then pushes the
/// UNMODIFIED index bytes, so the target holds a sparse index with the source's digest: digest
/// pins and signatures over the index stay valid.
#[derive(Debug, Parser)]
#[command(
    name = "mirror",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = MIRROR_EXAMPLES
)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `mirror --help`: one command per line (a doc comment would be reflowed into a paragraph).
const MIRROR_EXAMPLES: &str = "Examples:
  mirror copy docker.io/library/alpine:3.20 registry.local/alpine:3.20 -p linux/amd64,linux/arm64
  mirror copy --dry-run quay.io/org/app:v1 oci:/mnt/usb/layout:v1 --platform 'linux/*'
  mirror copy SRC DST --platform linux/amd64 --on-reject full --output json
  mirror sync -f mirror.yaml
  mirror verify quay.io/org/app:v1 registry.local/org/app:v1 --platform linux/amd64

Each command's --help has its own examples.";

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy an image, keeping only selected platforms and the original index digest.
    ///
    /// Order on the target: blobs, child manifests by digest, then the unmodified index by tag,
    /// so a tag never points at an incomplete image. A rerun against an up-to-date target only
    /// HEADs and writes nothing.
    ///
    /// Exit codes: 0 done or up to date; 1 failure; 2 usage; 3 nothing selected or a required
    /// platform absent; 4 the target rejected the sparse index; 5 authentication; 8 no valid
    /// signature (--require-signature); 130 interrupted.
    #[command(after_long_help = COPY_EXAMPLES)]
    Copy(Box<CopyArgs>),

    /// Show what a reference resolves to: the index, every child with its platform and size,
    /// attestations, annotations, and which children a sparse source lacks. Copies nothing.
    ///
    /// Example: mirror inspect docker.io/library/alpine:3.20 --output json
    Inspect(InspectArgs),

    /// List what registry repositories or OCI layouts hold (tags, manifests, blobs, with digests
    /// and sizes), for computing an air-gap delta against it. Writes nothing (but see
    /// --probe-sparse).
    ///
    /// REF is REGISTRY/REPO (every tag, from tags/list), REGISTRY/REPO:TAG or @DIGEST (just that
    /// one), or oci:DIR (every entry of index.json). Each tag is resolved with a HEAD, each
    /// manifest fetched, each index's children too (the ones a sparse index lacks are not
    /// listed), and each blob a manifest references is checked with a HEAD. A repository that
    /// does not exist yet is listed empty. No `_catalog` request is made: the repositories are
    /// the ones named, or the targets of a sync file (-f).
    ///
    /// `--output json` prints the inventory file (format sparse-mirror.inventory.v1, with a
    /// checksum; docs/json-output.md) that `--inventory FILE` of a bundle run reads. The default
    /// output is one line per repository and the sparse-index verdict per registry.
    ///
    /// Exit codes: 0 listed; 1 failure (a registry error names the request); 2 usage or an
    /// invalid sync file; 5 authentication; 130 interrupted.
    #[command(after_long_help = INVENTORY_EXAMPLES)]
    Inventory(Box<InventoryArgs>),

    /// Write man pages (mirror.1 and one per subcommand) into a directory.
    ///
    /// Example: mirror man /usr/local/share/man/man1
    Man {
        /// Where to write the pages.
        #[arg(value_hint = clap::ValueHint::DirPath)]
        dir: PathBuf,
    },

    /// Print shell completions to stdout.
    ///
    /// Example: mirror completions bash > /etc/bash_completion.d/mirror
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Mirror every image and tag listed in a YAML file: incremental, parallel, shardable.
    ///
    /// For each (image, tag): HEAD the source and the target tag. Same digest: HEAD the selected
    /// children on the target and skip (no GET on the source, no PUT), or copy just the missing
    /// ones (a platform newly added to the file, a deleted child) without re-pushing the index.
    /// Different digest: copy. One failing image does not stop the others.
    ///
    /// Exit codes: 0 all done; 2 the file has an error (nothing ran); 6 some items failed;
    /// 7 (--verify) the mirror is incomplete; 130 interrupted. See docs/sync.md.
    #[command(after_long_help = SYNC_EXAMPLES)]
    Sync(Box<SyncArgs>),

    /// Write the configuration that points clients at the mirror: containerd hosts.toml,
    /// a registries.conf.d drop-in (CRI-O, podman, skopeo, buildah), OpenShift
    /// ImageDigestMirrorSet and ImageTagMirrorSet.
    ///
    /// Each source repository the sync file maps (Docker Hub names normalised, `target`,
    /// `target-prefix`, `source-registry` discovery) gets its mirrors in the file's order. The
    /// targets are read first, as `mirror verify` reads them: a pull by digest is served by a
    /// mirror only under the same digest, so a tag holding a filtered index (`on-reject:
    /// filter`) gets a comment and a warning that pulls by its source digest go upstream, with
    /// the fix. Mirrors over plain HTTP or with `tls-verify: false` are marked insecure;
    /// `cert-dir` CA files are referenced. Writes nothing to any registry.
    ///
    /// Exit codes: 0 written (warnings do not change it); 1 failure; 2 usage or an invalid sync
    /// file; 5 authentication; 130 interrupted. See docs/sync.md.
    #[command(after_long_help = CLIENT_CONFIG_EXAMPLES)]
    ClientConfig(Box<ClientConfigArgs>),

    /// Apply or check a delta bundle on the air-gapped side (written by `copy`/`sync --bundle`).
    ///
    /// `check` verifies bundle.json and every volume (presence, size, SHA-256) and names a
    /// missing or damaged one. `apply` does the same first, then pushes each image to the target
    /// bundle.json names: each blob the bundle left out must already be there (HEAD), or is
    /// mounted from the repository the inventory named; an image for which one is not fails
    /// alone, untagged, and the others complete. Tag last, as always. See docs/air-gap.md.
    ///
    /// Exit codes: 0 all applied; 1 the bundle is unreadable (nothing pushed); 2 usage; 5
    /// authentication; 6 some images failed; 130 interrupted.
    #[command(subcommand, after_long_help = BUNDLE_EXAMPLES)]
    Bundle(BundleCommand),

    /// Check that a target holds a complete mirror of a source image (HEAD requests only).
    ///
    /// Checks that the target tag names the source digest, and that every selected child
    /// manifest and each of its blobs is present. Missing objects are listed. Takes the same
    /// selection options as `mirror copy`, so it checks what that copy was asked to make.
    ///
    /// Exit codes: 0 complete; 7 incomplete (or it could not be checked); 8 no valid signature on
    /// the target (--require-signature); 2 usage.
    #[command(after_long_help = VERIFY_EXAMPLES)]
    Verify(Box<VerifyArgs>),

    /// Delete the blobs of an OCI layout that nothing reachable from its index.json references.
    ///
    /// Marks every manifest and blob reachable from index.json (an index's present children,
    /// each manifest's config and layers), then deletes the rest of blobs/, holding the layout's
    /// lock so no copy commits meanwhile. Blobs younger than --min-age stay: a copy that is still
    /// writing has not named them in index.json yet. `--dry-run` lists what would go, with sizes.
    ///
    /// Exit codes: 0 done; 1 the layout cannot be read (nothing deleted); 2 usage.
    #[command(after_long_help = GC_EXAMPLES)]
    Gc(GcArgs),
}

const SYNC_EXAMPLES: &str = "Examples:
  mirror sync -f mirror.yaml
  mirror sync -f mirror.yaml --dry-run
  mirror sync -f mirror.yaml --output json > report.jsonl
  mirror sync -f mirror.yaml --shard 2/8            # machine 2 of 8 (0-based)
  JOB_COMPLETION_INDEX=2 mirror sync -f mirror.yaml --shards 8
  mirror sync -f mirror.yaml --verify --parallel 8 --jobs 16 --min-rate-remaining 20

A minimal mirror.yaml:
  defaults:
    platforms: [linux/amd64, linux/arm64]
  images:
    - source: docker.io/library/nginx
      target: registry.example.com/mirror/nginx
      tags: {semver: \">=1.26 <2\", exclude: \"-perl$\"}";

const VERIFY_EXAMPLES: &str = "Examples:
  mirror verify docker.io/library/nginx:1.27 registry.local/nginx:1.27 -p linux/amd64,linux/arm64
  mirror verify quay.io/org/app:v1 oci:/mnt/usb/mirror:v1 --output json";

/// Options of `mirror sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The configuration file (YAML; see docs/sync.md).
    #[arg(short = 'f', long = "file", value_name = "FILE", value_hint = clap::ValueHint::FilePath, env = "MIRROR_SYNC_FILE")]
    pub file: PathBuf,

    /// Show what would be copied or repaired, with sizes; write nothing.
    #[arg(long, help_heading = "Sync")]
    pub dry_run: bool,

    /// After syncing, verify every item (exit 7 when something is still missing).
    #[arg(long, help_heading = "Sync")]
    pub verify: bool,

    /// Images (work items) processed at the same time.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Sync")]
    pub parallel: u16,

    /// Go on after an item fails (the default); the exit code is then 6.
    #[arg(long, overrides_with = "no_keep_going", help_heading = "Sync")]
    pub keep_going: bool,

    /// Stop starting new items after the first failure.
    #[arg(long, overrides_with = "keep_going", help_heading = "Sync")]
    pub no_keep_going: bool,

    /// Run only shard INDEX of COUNT (0-based): N machines with 0/N … N-1/N cover every item once.
    #[arg(
        long,
        value_name = "INDEX/COUNT",
        conflicts_with = "shards",
        help_heading = "Sharding"
    )]
    pub shard: Option<String>,

    /// Split into COUNT shards and run the one named by $JOB_COMPLETION_INDEX (Kubernetes Indexed Job).
    #[arg(long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Sharding")]
    pub shards: Option<u64>,

    /// Pause before pulling when a registry's `ratelimit-remaining` (Docker Hub) drops below N.
    #[arg(long, default_value_t = 0, value_name = "N", help_heading = "Transfer")]
    pub min_rate_remaining: u64,

    /// Where to keep index manifests between runs, so unchanged tags cost HEAD requests only.
    ///
    /// Content-addressed and verified on read; deleting it is always safe. Default:
    /// $XDG_CACHE_HOME/sparse-mirror/manifests (or ~/.cache/…).
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, help_heading = "Transfer")]
    pub cache_dir: Option<PathBuf>,

    /// Use no manifest cache (an unchanged tag then costs one GET on the target, none on the source).
    #[arg(long, help_heading = "Transfer")]
    pub no_cache: bool,

    /// After the items, delete the target tags each entry's rules own and no longer select.
    ///
    /// Owned: the entry's `regex`/`exclude`/`semver` match the tag. Dropped: cut by `latest`,
    /// or the source answers 404 for it. Their cosign tags and referrers go too; a digest
    /// another tag still needs stays. Nothing is pruned for an entry whose listing or any item
    /// failed. `prune: true` in the file does the same per entry, `prune: false` keeps an entry
    /// out. With --bundle, the plan goes into bundle.json for `bundle apply --prune`. See
    /// docs/sync.md ("Pruning").
    #[arg(long, help_heading = "Prune")]
    pub prune: bool,

    /// More tag deletions than N in one run deletes nothing (exit 6, the list printed); 0 only
    /// plans.
    #[arg(long, default_value_t = 10, value_name = "N", help_heading = "Prune")]
    pub prune_max: usize,

    /// OCI layout targets: after pruning, unreferenced blobs younger than this stay (a copy
    /// may still be writing them).
    #[arg(
        long,
        default_value_t = 3600,
        value_name = "SECONDS",
        help_heading = "Prune"
    )]
    pub gc_min_age: u64,

    /// Transfer limits.
    #[command(flatten)]
    pub transfer: TransferArgs,

    /// Ranged downloads and the rate cap (`limit-rate` in the file too).
    #[command(flatten)]
    pub wan: WanArgs,

    /// Registry access shared by every host (per-host settings live in the file).
    #[command(flatten)]
    pub access: SharedAccessArgs,

    /// Hook timeout and exit-code policy (the hooks themselves are in the file).
    #[command(flatten)]
    pub hooks: HookPolicyArgs,

    /// The gateway's site key, for every image (the file's `sign-key` wins).
    #[command(flatten)]
    pub signing: SigningArgs,

    /// Air-gap delta bundle.
    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Monitoring.
    #[command(flatten)]
    pub metrics: MetricsArgs,

    /// After the run, write the client configuration (as `mirror client-config --output-dir
    /// DIR`, every format) from what the targets hold now.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, help_heading = "Sync")]
    pub client_config: Option<PathBuf>,
}

/// Options of `mirror verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Source: [docker://]REGISTRY/REPO[:TAG][@DIGEST] or oci:DIR[:TAG|@DIGEST].
    #[arg(value_name = "SRC")]
    pub source: String,

    /// Target: [docker://]REGISTRY/REPO[:TAG] or oci:DIR[:TAG]. Without a tag, the source tag is used.
    #[arg(value_name = "DST")]
    pub target: String,

    /// What the mirror should hold (as the copy that made it was told).
    #[command(flatten)]
    pub selection: SelectionArgs,

    /// Request limits (verify sends HEAD requests only).
    #[command(flatten)]
    pub transfer: TransferArgs,

    /// Source registry access.
    #[command(flatten)]
    pub src: SourceAccessArgs,

    /// Target registry access.
    #[command(flatten)]
    pub dest: TargetAccessArgs,

    /// Access options for both sides.
    #[command(flatten)]
    pub access: SharedAccessArgs,

    /// The signature policy the target must meet.
    #[command(flatten)]
    pub signatures: SignatureArgs,

    /// Monitoring.
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

const COPY_EXAMPLES: &str = "Examples:
  # amd64 and arm64 only, plus their BuildKit attestations; the index keeps its digest
  mirror copy docker.io/library/nginx:1.27 registry.local/nginx:1.27 -p linux/amd64,linux/arm64

  # to an OCI layout directory (air gap), then from it to the disconnected registry
  mirror copy quay.io/org/app:v1 oci:/mnt/usb/mirror:v1 -p 'linux/*' -p '!linux/s390x'
  mirror copy oci:/mnt/usb/mirror:v1 registry.airgap/org/app:v1

  # see what would be copied, with sizes, without writing anything
  mirror copy --dry-run SRC DST --platform linux/arm64

  # the target refuses sparse indexes: copy every child instead of failing
  mirror copy SRC DST --platform linux/amd64 --on-reject full";

/// Options of `mirror inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// What to inspect: [docker://]REGISTRY/REPO[:TAG][@DIGEST], oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG].
    #[arg(value_name = "SRC")]
    pub source: String,

    /// Also list referrers (OCI referrers API or `sha256-<hex>` fallback tag) and cosign-style
    /// `sha256-<hex>.*` digest tags of the index and every child.
    #[arg(long)]
    pub referrers: bool,

    /// Registry access.
    #[command(flatten)]
    pub src: SourceAccessArgs,

    /// Access options.
    #[command(flatten)]
    pub access: SharedAccessArgs,
}

/// Options of `mirror copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source: [docker://]REGISTRY/REPO[:TAG][@DIGEST] or oci:DIR[:TAG|@DIGEST].
    #[arg(value_name = "SRC")]
    pub source: String,

    /// Target: [docker://]REGISTRY/REPO[:TAG] or oci:DIR[:TAG]. Without a tag, the source tag is used.
    #[arg(value_name = "DST")]
    pub target: String,

    /// Show the plan (entries, reasons, sizes) and write nothing.
    #[arg(long, alias = "plan")]
    pub dry_run: bool,

    /// What to copy.
    #[command(flatten)]
    pub selection: SelectionArgs,

    /// Transfer limits.
    #[command(flatten)]
    pub transfer: TransferArgs,

    /// Ranged downloads and the rate cap.
    #[command(flatten)]
    pub wan: WanArgs,

    /// Source registry access.
    #[command(flatten)]
    pub src: SourceAccessArgs,

    /// Target registry access.
    #[command(flatten)]
    pub dest: TargetAccessArgs,

    /// Access options for both sides.
    #[command(flatten)]
    pub access: SharedAccessArgs,

    /// The signature gate.
    #[command(flatten)]
    pub signatures: SignatureArgs,

    /// The gateway: sign what crossed with the site key.
    #[command(flatten)]
    pub signing: SigningArgs,

    /// What an OCI-layout target records in `org.opencontainers.image.ref.name`: the tag, or the
    /// full source reference (`registry/repo:tag`). Both forms are accepted when reading.
    #[arg(long, value_enum, default_value_t = RefName::Tag, value_name = "FORM", help_heading = "OCI layouts")]
    pub layout_ref_name: RefName,

    /// Hooks.
    #[command(flatten)]
    pub hooks: CopyHookArgs,

    /// Air-gap delta bundle.
    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Monitoring.
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// `--layout-ref-name` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RefName {
    /// Just the tag, e.g. `v1` (what skopeo and regclient write).
    Tag,
    /// The full source reference, e.g. `quay.io/org/app:v1`.
    Full,
}
