//! The copy's vocabulary, shared by `copy.rs` (the order), `copy/blobs.rs`, `copy/reject.rs`,
//! the use case (`image/`), artifacts and the report: options, the `--on-reject` policy, the
//! delta-bundle view, and what a copy did.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::copy::fetch::{LargeBlob, Transfer};
use crate::engine::invariant::Confirmed;
use crate::engine::plan::Plan;
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::retry::RetryPolicy;

/// What to do when the target refuses a sparse index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnReject {
    /// Stop with exit code 4; nothing is tagged.
    Fail,
    /// Push a new index listing only the copied entries (new digest).
    Filter,
    /// Copy the remaining children too and push the original index.
    Full,
}

/// Options for [`execute`].
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Tag to write on the target; `None` pushes the root by digest only.
    pub tag: Option<String>,
    /// Concurrent blob transfers.
    pub jobs: usize,
    /// Sparse rejection policy.
    pub on_reject: OnReject,
    /// Retry policy for whole blob copies.
    pub retry: RetryPolicy,
    /// The source reference, for messages.
    pub source_ref: String,
    /// The target reference, for messages.
    pub target_ref: String,
    /// `--include-foreign-layers` (kept when `--on-reject full` re-plans).
    pub include_foreign: bool,
    /// Do not call `finish` on the target: the caller does, after copying referrers.
    pub defer_finish: bool,
    /// Manifests already known to be on the target (read from it while planning): not HEADed.
    pub known_present: HashSet<Digest>,
    /// What the target tag names (the use case read it with the target state).
    pub target_current: Option<Digest>,
    /// Cancellation (SIGINT/SIGTERM): checked before each step, awaited while blobs move.
    pub cancel: crate::interrupt::CancelToken,
    /// The target is a delta bundle (docs/air-gap.md): what the far side already holds.
    pub delta: Option<Arc<Delta>>,
    /// Blobs the caller has just found on the target: counted as existing without a request.
    pub known_blobs: Arc<HashSet<Digest>>,
    /// Ranged downloads and the rate limit, shared by the run (`copy/fetch.rs`).
    pub transfer: Transfer,
}

/// A delta bundle's view of the far side, for a copy into the bundle.
#[derive(Debug, Clone, Default)]
pub struct Delta {
    /// Blobs the far side holds for this image's target repository (an inventory or a ledger
    /// says so): left out of the bundle, counted as [`BlobStats::left_out`], and confirmed for
    /// the tag-last check on that claim (the apply checks each one on the far side).
    pub left_out: HashSet<Digest>,
    /// Who found that the far registry refuses sparse indexes: `--on-reject` applies on the
    /// near side, before the bundle is written.
    pub refuses_sparse: Option<String>,
}

/// How the sparse-index question was settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preflight {
    /// Not sparse, not a registry, or already up to date.
    NotNeeded,
    /// The target accepted the sparse index by digest.
    Accepted,
    /// The target refused it; `--on-reject` was applied.
    Rejected,
    /// The answer did not settle it; the final push decides.
    Inconclusive,
}

/// What the policy did after a rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum RejectAction {
    /// No rejection happened.
    None,
    /// A filtered index was pushed instead.
    Filtered {
        /// The new index digest.
        digest: Digest,
    },
    /// All children were copied.
    Full,
}

/// Byte and object counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStats {
    /// Blobs streamed from the source.
    pub copied: u64,
    /// Their bytes.
    pub copied_bytes: u64,
    /// Blobs already on the target.
    pub existing: u64,
    /// Their bytes.
    pub existing_bytes: u64,
    /// Blobs mounted from another repository.
    pub mounted: u64,
    /// Their bytes.
    pub mounted_bytes: u64,
    /// Delta bundle: blobs left out because the far side holds them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub left_out: u64,
    /// Their bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub left_out_bytes: u64,
    /// How each copied blob of at least the range threshold (32 MiB) was fetched: as parallel
    /// ranges, or as one stream and why (`copy/fetch.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub large: Vec<LargeBlob>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The result of a copy.
#[derive(Debug, Clone)]
pub struct CopyOutcome {
    /// The plan that was finally executed (differs from the input after `--on-reject full`).
    pub plan: Plan,
    /// The digest the target tag now names.
    pub pushed_digest: Digest,
    /// Nothing had to be written.
    pub up_to_date: bool,
    /// Child manifests that were missing on an otherwise up-to-date target and were repaired.
    pub repaired: Vec<Digest>,
    /// Preflight result.
    pub preflight: Preflight,
    /// Rejection handling.
    pub reject_action: RejectAction,
    /// Blob counts.
    pub blobs: BlobStats,
    /// Manifests written (children, nested indexes, root).
    pub manifests_pushed: u64,
    /// Manifests already present.
    pub manifests_existing: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// What the copy confirmed on the target; checked before the tag is written.
    pub confirmed: Confirmed,
}

pub(crate) fn descriptor_of(m: &RawManifest) -> Descriptor {
    Descriptor {
        media_type: m.media_type.clone(),
        digest: m.digest.clone(),
        size: m.bytes.len() as u64,
        platform: None,
        artifact_type: None,
        annotations: Default::default(),
        urls: vec![],
    }
}
