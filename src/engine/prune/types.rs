//! The prune's plan and outcome types (`engine/prune.rs` runs them; `app` reports them).

use std::sync::Arc;

use crate::error::Error;
use crate::model::digest::Digest;

/// What to delete, and how.
#[derive(Debug, Clone, Default)]
pub struct PruneJob {
    /// The planned tags (layout: ref names).
    pub planned: Vec<Planned>,
    /// Delete the referrers of deleted subjects (the entry mirrors referrers).
    pub referrers: bool,
    /// Delete their cosign-style digest tags (the entry mirrors digest tags).
    pub digest_tags: bool,
    /// Read and decide; delete nothing.
    pub dry_run: bool,
    /// Concurrent HEADs.
    pub jobs: usize,
}

/// One planned tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The tag (layout: the ref name).
    pub tag: String,
    /// Delete only while the tag names this digest (`None`: whatever it names now).
    pub expected: Option<Digest>,
}

/// An artifact deleted (or, dry run, to be deleted) with its subject.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactGone {
    /// `digest-tag`, `referrer` or `referrers-index`.
    pub kind: String,
    /// Its tag, when it has one.
    pub tag: Option<String>,
    /// Its digest.
    pub digest: Digest,
    /// The subject it was attached to.
    pub subject: Digest,
}

/// What happened to one planned tag.
#[derive(Debug)]
pub enum Decision {
    /// Deleted (dry run: would be). `tag_only`: the digest stays because a kept tag needs it.
    Deleted {
        /// What the tag named.
        digest: Digest,
        /// Only the tag went.
        tag_only: bool,
        /// Artifacts that went with it (empty for a tag-only delete).
        artifacts: Vec<ArtifactGone>,
    },
    /// The tag was not there.
    Absent,
    /// The tag names another digest than planned: left alone.
    Changed {
        /// What it names now.
        now: Digest,
    },
    /// Not deleted, by design: why.
    Kept {
        /// What the tag names.
        digest: Digest,
        /// Why it stays.
        reason: String,
    },
    /// A delete failed (the tag and what it names stay or are partly gone; see the error).
    Failed {
        /// What the tag named, if known.
        digest: Option<Digest>,
        /// The failure, naming the request; the tags of one digest share it.
        error: Arc<Error>,
    },
}

/// One planned tag and what happened to it.
#[derive(Debug)]
pub struct PruneOutcome {
    /// The plan entry.
    pub planned: Planned,
    /// What happened.
    pub decision: Decision,
}

/// The `(prefix, tag)` of a ref: a layout's `REGISTRY/REPO:TAG` ref name splits at the last
/// `:` not followed by a `/`; a plain tag has no prefix.
pub fn split_ref(name: &str) -> (&str, &str) {
    match name.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, t),
        _ => ("", name),
    }
}
