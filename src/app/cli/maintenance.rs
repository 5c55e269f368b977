//! The arguments of the commands around the mirror rather than the copy itself: `bundle`
//! (check, apply), `gc`, `client-config` and `inventory`, with their `--help` examples.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::app::flags::{
    LayoutLockArgs, OnRejectArg, SharedAccessArgs, TargetAccessArgs, TransferArgs,
};

pub const BUNDLE_EXAMPLES: &str = "Examples:
  mirror bundle check /media/usb/trip-42
  mirror bundle apply /media/usb/trip-42 --dry-run
  mirror bundle apply /media/usb/trip-42 --dest-creds mirror --output json";

/// `mirror bundle` subcommands.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Push every image of a bundle to its target; left-out blobs must be there already.
    Apply(Box<BundleApplyArgs>),
    /// Verify bundle.json and every volume without unpacking or pushing anything.
    Check {
        /// The bundle directory (holds bundle.json).
        #[arg(value_hint = clap::ValueHint::DirPath)]
        dir: PathBuf,
    },
}

/// `mirror bundle apply`.
#[derive(Debug, Args)]
pub struct BundleApplyArgs {
    /// The bundle directory (holds bundle.json and the layout or its volumes).
    #[arg(value_hint = clap::ValueHint::DirPath)]
    pub dir: PathBuf,

    /// Say what would be pushed and which left-out blobs are present, mountable or missing
    /// (HEAD requests only); push nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// When the target refuses a sparse index: fail (exit 6 for that image), or push a
    /// filtered index (new digest). `full` cannot help here: the bundle holds only the
    /// selected platforms.
    #[arg(long, value_enum, default_value_t = OnRejectArg::Fail, value_name = "POLICY")]
    pub on_reject: OnRejectArg,

    /// Repositories applied at the same time (the images of one repository go one after
    /// another).
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,

    /// Where volumes are unpacked (default: the system temp directory).
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub work_dir: Option<PathBuf>,

    /// After the images, apply the bundle's deletion plan (written by `sync --bundle --prune`):
    /// each far tag that still names the planned digest is deleted with its artifacts, never a
    /// digest another tag needs. Nothing is pruned in a repository where an image failed.
    #[arg(long)]
    pub prune: bool,

    /// More tag deletions than N deletes nothing (exit 6, the list printed); 0 only plans.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub prune_max: usize,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub transfer: TransferArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub dest: TargetAccessArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub access: SharedAccessArgs,
}

pub const GC_EXAMPLES: &str = "Examples:
  mirror gc oci:/mnt/usb/mirror --dry-run          # what would go, with sizes
  mirror gc oci:/mnt/usb/mirror --min-age 0        # everything unreferenced, now
  mirror gc oci:/mnt/usb/mirror --output json";

/// Options of `mirror gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// The layout: oci:DIR.
    #[arg(value_name = "LAYOUT")]
    pub layout: String,

    /// List the unreferenced blobs and their sizes; delete nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Keep unreferenced blobs younger than this many seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub min_age: u64,

    /// How long to wait for a copy that holds the layout's lock.
    #[command(flatten)]
    pub lock: LayoutLockArgs,
}

pub const CLIENT_CONFIG_EXAMPLES: &str = "Examples:
  mirror client-config -f mirror.yaml --output-dir /srv/client-config
  mirror client-config -f mirror.yaml --format containerd --output-dir /etc/containerd
  mirror client-config -f mirror.yaml --format idms,itms | oc apply -f -
  mirror client-config -f mirror.yaml --dry-run
  mirror sync -f mirror.yaml --client-config /srv/client-config

Under --output-dir DIR: certs.d/<registry>/hosts.toml (containerd config_path, ctr --hosts-dir),
registries.conf.d/50-sparse-mirror.conf, imagedigestmirrorset.yaml, imagetagmirrorset.yaml.";

/// `--format` of `mirror client-config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientFormatArg {
    /// containerd certs.d/<registry>/hosts.toml.
    Containerd,
    /// A registries.conf.d drop-in (CRI-O, podman, skopeo, buildah).
    RegistriesConf,
    /// An OpenShift ImageDigestMirrorSet.
    Idms,
    /// An OpenShift ImageTagMirrorSet.
    Itms,
}

/// Options of `mirror client-config`.
#[derive(Debug, Args)]
pub struct ClientConfigArgs {
    /// The sync configuration file (YAML; see docs/sync.md).
    #[arg(short = 'f', long = "file", value_name = "FILE", value_hint = clap::ValueHint::FilePath, env = "MIRROR_SYNC_FILE")]
    pub file: PathBuf,

    /// Which files (comma-separated or repeated; default: all four).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FORMAT")]
    pub format: Vec<ClientFormatArg>,

    /// Write the files under DIR (each through a temporary file and a rename); without it they
    /// are printed to stdout.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub output_dir: Option<PathBuf>,

    /// Print the plan (each source, its mirrors, whether pulls by digest are served) and the
    /// files that would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Targets checked at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,

    /// Request limits.
    #[command(flatten)]
    pub transfer: TransferArgs,

    /// Registry access shared by every host (per-host settings live in the file).
    #[command(flatten)]
    pub access: SharedAccessArgs,
}

pub const INVENTORY_EXAMPLES: &str = "Examples:
  # on the far side: what the disconnected registry holds, for every target of the sync file
  mirror inventory -f mirror.yaml --output json > inventory.json

  # some repositories and one tag; and whether the registry takes sparse indexes
  mirror inventory registry.airgap/org/app registry.airgap/org/db:v2 --probe-sparse

  # then, on the near side: ship only what inventory.json does not list
  mirror sync -f mirror.yaml --bundle /mnt/usb/bundle --inventory inventory.json";

/// Options of `mirror inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Repositories: [docker://]REGISTRY/REPO[:TAG|@DIGEST] or oci:DIR[:TAG].
    #[arg(value_name = "REF", required_unless_present = "file")]
    pub references: Vec<String>,

    /// Also every target repository of this sync file (YAML; see docs/sync.md).
    ///
    /// `source-registry:` entries are not covered: their targets come from a catalog, and this
    /// command reads none (a warning names them; give those repositories as REF).
    #[arg(short = 'f', long = "file", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub file: Option<PathBuf>,

    /// Per registry, PUT (by digest, untagged) a tiny index whose only child does not exist, and
    /// record whether the registry accepts sparse indexes (accepted, rejected or unknown).
    ///
    /// An accepting registry keeps that ~250-byte index, untagged, in the first repository of
    /// the run on it (its digest is printed on stderr); garbage collection removes it. Needs push
    /// access. Without this flag the verdict is `unknown`.
    #[arg(long)]
    pub probe_sparse: bool,

    /// Request limits (`--jobs` bounds the HEAD and GET requests in flight).
    #[command(flatten)]
    pub transfer: TransferArgs,

    /// Registry access (the registries' entries of a sync file fill in what these leave unset).
    #[command(flatten)]
    pub dest: TargetAccessArgs,

    /// Access options.
    #[command(flatten)]
    pub access: SharedAccessArgs,
}
