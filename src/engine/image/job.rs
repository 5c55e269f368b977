//! The use case's input and output: the [`ImageJob`] every command builds, the target as it
//! gets it ([`TargetSlot`]), and the [`ImageOutcome`] every command reports. Shared by the use
//! case (`image/mod.rs`), its read-only checks (`image/verify.rs`) and the report.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::engine::artifacts::target::ArtifactOutcome;
use crate::engine::artifacts::ArtifactOptions;
use crate::engine::copy::fetch::Transfer;
use crate::engine::copy::types::{CopyOutcome, Delta, OnReject};
use crate::engine::image::reader::{ManifestCache, PullGate};
use crate::engine::image::state::TargetState;
use crate::engine::plan::Plan;
use crate::engine::referrers::ArtifactPlan;
use crate::engine::select::Selector;
use crate::engine::signature;
use crate::engine::signature::publish::{Signed, SiteSigning};
use crate::error::Result;
use crate::interrupt::CancelToken;
use crate::model::digest::Digest;
use crate::transport::retry::RetryPolicy;

/// What the use case may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Copy what is missing.
    Write,
    /// Plan and check; never write.
    DryRun,
    /// Check the target completely (children, blobs, artifacts); never write.
    Verify,
}

/// One image to mirror (or check).
pub struct ImageJob {
    /// The tag or digest to HEAD on the source.
    pub source_reference: String,
    /// The tag to write on the target; `None`: by digest.
    pub target_tag: Option<String>,
    /// The source, for messages and reports.
    pub source_text: String,
    /// The target, for messages and reports.
    pub target_text: String,
    /// The selection.
    pub selector: Selector,
    /// What to do when the target refuses a sparse index (and which filtered state is complete).
    pub on_reject: OnReject,
    /// Concurrent transfers and checks.
    pub jobs: usize,
    /// Retry policy for whole blob copies.
    pub retry: RetryPolicy,
    /// Referrers and digest tags.
    pub artifacts: ArtifactOptions,
    /// Write, dry run or verify.
    pub mode: Mode,
    /// A literal `--platform` that matches nothing is an error, not a warning.
    pub require_platforms: bool,
    /// Dry run: also size the skipped entries and HEAD the planned blobs on the target.
    pub dry_run_details: bool,
    /// The local manifest cache.
    pub cache: Option<Arc<ManifestCache>>,
    /// Awaited before each GET on the source.
    pub gate: Option<Arc<dyn PullGate>>,
    /// Held while writing (sync: one writer per target repository).
    pub write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Cancellation: checked between steps; blob transfers stop when it fires.
    pub cancel: CancelToken,
    /// `--require-signature`: checked on the source before anything is written (write and dry
    /// run), or on the target once it is complete (verify).
    pub signatures: signature::Policy,
    /// The target is a delta bundle: blobs the far side holds are left out, and a far registry
    /// known to refuse sparse indexes gets `on_reject` now (docs/air-gap.md).
    pub delta: Option<Arc<Delta>>,
    /// Blobs the caller has just found on the target (`mirror bundle apply` checks the blobs a
    /// bundle left out before it starts): counted as present without asking again.
    pub known_blobs: Arc<HashSet<Digest>>,
    /// Ranged downloads and the rate limit, shared by the run (`copy/fetch.rs`).
    pub transfer: Transfer,
    /// `--sign-key`: once the image is complete on the target, sign what the target reference
    /// resolves to (and, with `children`, each copied child) with the site key.
    pub site_signing: Option<Arc<SiteSigning>>,
}

/// Opens a target that does not exist yet (an OCI layout), once a write is due.
pub type OpenTarget<E> = Box<dyn FnOnce() -> BoxFuture<'static, Result<Arc<E>>> + Send>;

/// The target as the use case gets it.
pub enum TargetSlot<E> {
    /// Open (it may still lack the image).
    Open(Arc<E>),
    /// Does not exist yet: its state is [`TargetState::Absent`], and it is opened (created) only
    /// when something is written, after the source was read.
    Later(OpenTarget<E>),
}

/// What happened, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageAction {
    /// Nothing needed writing.
    UpToDate,
    /// The image was copied (the reference was absent or named another digest).
    Copied,
    /// Missing children (or artifacts) were copied; the index was not pushed again.
    Repaired,
    /// Dry run: would copy.
    WouldCopy,
    /// Dry run: would copy missing children.
    WouldRepair,
    /// Verify: everything is there.
    Complete,
    /// Verify: something is missing.
    Incomplete,
}

/// Something a verify (or a dry run) found missing on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Missing {
    /// `tag` (the target tag is absent), `wrong-digest` (it names another digest), `manifest`
    /// (a selected child manifest), `blob`, `referrer` or `digest-tag`.
    pub kind: String,
    /// The missing object, or for `wrong-digest` the digest the target tag names.
    pub digest: Option<Digest>,
    /// The child's platform, for manifests.
    pub platform: Option<String>,
    /// For blobs: the manifest that needs it.
    pub of: Option<Digest>,
}

/// What [`mirror_image`] did, for every command to report.
#[derive(Debug, Clone)]
pub struct ImageOutcome {
    /// The source root digest.
    pub source_digest: Digest,
    /// The target's state before the run.
    pub before: TargetState,
    /// Its state after the run (the same as `before` in the read-only modes).
    pub after: TargetState,
    /// What happened.
    pub action: ImageAction,
    /// The source plan: complete when it was resolved, else the selection (a shallow plan,
    /// whose image manifests were not read).
    pub plan: Plan,
    /// The copy; in [`Mode::Write`] always present (describing a no-op when nothing ran).
    pub copy: Option<CopyOutcome>,
    /// Referrers and digest tags found on the source.
    pub artifact_plan: ArtifactPlan,
    /// What the artifact copy did.
    pub artifacts: Option<ArtifactOutcome>,
    /// Verify, dry-run repair: what is missing.
    pub missing: Vec<Missing>,
    /// Selected child manifests checked on the target.
    pub children_checked: usize,
    /// Dry run: bytes of the blobs the copy would need at most.
    pub planned_bytes: Option<u64>,
    /// Dry run with details: bytes of the planned blobs already on the target.
    pub present_bytes: Option<u64>,
    /// Dry run with details: total sizes of skipped entries, by digest.
    pub skipped_sizes: Vec<(Digest, u64)>,
    /// Seconds spent.
    pub seconds: f64,
    /// `--require-signature`: the signature that verified for the index, then for each child.
    pub signatures: Vec<signature::Verified>,
    /// `--sign-key`: the site signatures written, found already there, or (dry run) planned.
    pub signed: Vec<Signed>,
}

impl ImageOutcome {
    /// The digest the target reference resolves to (after the run).
    pub fn resolves_to(&self) -> Option<&Digest> {
        self.after.resolves_to()
    }
}
