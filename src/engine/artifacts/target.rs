//! The target half of artifacts: blobs, manifests in order, and the referrers fallback
//! index merge (see the parent module).

use std::collections::HashSet;
use std::sync::Arc;

use crate::engine::copy::blobs::{copy_blobs, Probe};
use crate::engine::copy::types::{descriptor_of, BlobStats, CopyOptions};
use crate::engine::progress::{Event, Reporter};
use crate::engine::referrers::{
    all_listed, fallback_tag, index_entries, merge_fallback, referrer_entry, Artifact,
    ArtifactPlan, ArtifactReport, ArtifactStatus, FallbackUpdate, Merge,
};
use crate::engine::signature::sign::covers;
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::{Pushed, Storage};

/// An error that means the object is not there: a registry's 404 (`is_missing`) or a layout
/// without it.
pub(crate) fn missing(e: &Error) -> bool {
    e.is_missing() || matches!(e.root(), Error::Layout { .. })
}

/// How often a fallback index update is redone after a concurrent writer replaced it.
const FALLBACK_ATTEMPTS: usize = 5;

/// What [`copy()`] did.
#[derive(Debug, Clone, Default)]
pub struct ArtifactOutcome {
    /// One line per artifact, in push order.
    pub reports: Vec<ArtifactReport>,
    /// Fallback indexes written on the target.
    pub fallback_updates: Vec<FallbackUpdate>,
    /// Blob counts for the artifacts' blobs.
    pub blobs: BlobStats,
    /// Manifests written (artifacts, their children, fallback indexes).
    pub manifests_pushed: u64,
}

/// Copy what [`discover`](super::discover) found. `replaced_root`: the original root digest when
/// `--on-reject filter` pushed a different index (its referrers and tags are left out).
pub async fn copy<E: Storage>(
    src: &Arc<E>,
    dst: &Arc<E>,
    ap: &ArtifactPlan,
    replaced_root: Option<&Digest>,
    opts: &CopyOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<ArtifactOutcome> {
    let mut out = ArtifactOutcome::default();
    let mut dropped: HashSet<Digest> = replaced_root.into_iter().cloned().collect();
    let mut live: Vec<&Artifact> = vec![];
    for a in &ap.artifacts {
        if dropped.contains(&a.subject) {
            dropped.insert(a.manifest.digest.clone());
            out.reports
                .push(ArtifactReport::new(a, ArtifactStatus::SubjectReplaced));
        } else {
            live.push(a);
        }
    }
    if let Some(r) = replaced_root {
        if live.len() < ap.artifacts.len() {
            reporter.event(Event::Warning(format!(
                "{} referrer(s)/digest tag(s) of {} were not copied: --on-reject filter pushed a different index",
                ap.artifacts.len() - live.len(),
                r.short()
            )));
        }
    }
    if live.is_empty() {
        return Ok(out);
    }
    let mut seen = HashSet::new();
    let blobs: Vec<Descriptor> = live
        .iter()
        .flat_map(|a| a.blobs.iter())
        .filter(|b| seen.insert(b.digest.clone()))
        .cloned()
        .collect();
    // The image's tag invariant does not cover artifacts (they follow their subjects).
    let mut confirmed = crate::engine::invariant::Confirmed::default();
    copy_blobs(
        src,
        dst,
        (&blobs, Probe::Head),
        opts,
        reporter,
        &mut out.blobs,
        &mut confirmed,
    )
    .await?;
    reporter.event(Event::Stage("referrers"));
    // subject → (entries, all PUTs answered OCI-Subject, some PUT lacked it)
    let mut by_subject: Vec<(Digest, Vec<serde_json::Value>, bool, bool)> = vec![];
    for a in live {
        for c in &a.children {
            if !dst.has_manifest(&descriptor_of(c)).await? {
                push(dst, c, None, reporter).await.map_err(|e| {
                    e.context(format!(
                        "pushing {} (part of artifact {})",
                        c.digest, a.manifest.digest
                    ))
                })?;
                out.manifests_pushed += 1;
            }
        }
        let m = &a.manifest;
        let status = match &a.tag {
            Some(t) => match dst.resolve(t).await? {
                Some(d) if d == m.digest => ArtifactStatus::Existing,
                Some(d) if appended(dst.as_ref(), &d, m).await? => ArtifactStatus::Existing,
                current => {
                    if let Some(old) = current {
                        reporter.event(Event::Warning(format!(
                            "digest tag {t} on {} named {}; now {} as on the source",
                            dst.describe(),
                            old.short(),
                            m.digest.short()
                        )));
                    }
                    push(dst, m, Some(t), reporter)
                        .await
                        .map_err(|e| e.context(format!("pushing digest tag {t} ({})", m.digest)))?;
                    out.manifests_pushed += 1;
                    ArtifactStatus::Pushed
                }
            },
            None => {
                let (indexed, lacked, status) = if dst.has_manifest(&descriptor_of(m)).await? {
                    (false, false, ArtifactStatus::Existing)
                } else {
                    let p = push(dst, m, None, reporter).await.map_err(|e| {
                        e.context(format!("pushing referrer {} of {}", m.digest, a.subject))
                    })?;
                    out.manifests_pushed += 1;
                    let indexed = p == Pushed::SubjectIndexed(a.subject.clone());
                    (indexed, !indexed, ArtifactStatus::Pushed)
                };
                let entry = referrer_entry(m);
                match by_subject.iter_mut().find(|(s, ..)| *s == a.subject) {
                    Some(g) => {
                        g.1.push(entry);
                        g.2 &= indexed;
                        g.3 |= lacked;
                    }
                    None => by_subject.push((a.subject.clone(), vec![entry], indexed, lacked)),
                }
                status
            }
        };
        out.reports.push(ArtifactReport::new(a, status));
    }
    for (subject, ours, all_indexed, lacked) in by_subject {
        if all_indexed {
            continue;
        }
        if let Some(u) = maintain_fallback(dst, &subject, &ours, lacked, reporter).await? {
            out.manifests_pushed += 1;
            out.fallback_updates.push(u);
        }
    }
    Ok(out)
}

/// Whether the target's digest tag names `at`, the source's manifest `m` with signatures
/// appended (the gateway's site signature on a `.sig` tag, docs/signatures.md): kept as it is,
/// not replaced by the source's and so stripped of what was added.
pub(crate) async fn appended<E: Storage>(dst: &E, at: &Digest, m: &RawManifest) -> Result<bool> {
    match dst.fetch_manifest(at.as_str(), None).await {
        Ok(t) => Ok(covers(&t, m)),
        Err(e) if missing(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn push<E: Storage>(
    dst: &Arc<E>,
    m: &RawManifest,
    tag: Option<&str>,
    reporter: &Arc<dyn Reporter>,
) -> Result<Pushed> {
    let p = dst.push_manifest(m, tag).await?;
    reporter.event(Event::ManifestPushed {
        digest: m.digest.clone(),
        tag: tag.map(str::to_string),
    });
    Ok(p)
}

/// The target's fallback index for `subject`, or `None`.
async fn read_fallback<E: Storage>(dst: &Arc<E>, tag: &str) -> Result<Option<RawManifest>> {
    if dst.resolve(tag).await?.is_none() {
        return Ok(None);
    }
    match dst.fetch_manifest(tag, None).await {
        Ok(m) => Ok(Some(m)),
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Make the target's `sha256-<hex>` index list `ours`, keeping every other entry. Returns the
/// update, or `None` when nothing had to be written.
pub(crate) async fn maintain_fallback<E: Storage>(
    dst: &Arc<E>,
    subject: &Digest,
    ours: &[serde_json::Value],
    put_lacked_subject: bool,
    reporter: &Arc<dyn Reporter>,
) -> Result<Option<FallbackUpdate>> {
    let tag = fallback_tag(subject);
    let ctx = |e: Error| {
        e.context(format!(
            "updating the referrers tag {tag} of {subject} on {}",
            dst.describe()
        ))
    };
    for attempt in 0..FALLBACK_ATTEMPTS {
        let current = read_fallback(dst, &tag).await.map_err(ctx)?;
        let kept = match &current {
            Some(m) => index_entries(m).map_err(ctx)?.len(),
            None => 0,
        };
        let (index, added) = match merge_fallback(current.as_ref(), ours).map_err(ctx)? {
            Merge::Unchanged => return Ok(None),
            Merge::Updated { index, added } => (index, added),
        };
        if attempt == 0 && !put_lacked_subject {
            // Nothing was pushed without an `OCI-Subject` answer (everything was already
            // there): a registry with the referrers API may list them already.
            if let Some(list) = dst.referrers(subject, None).await.map_err(ctx)? {
                if all_listed(&list.descriptors, ours) {
                    return Ok(None);
                }
            }
        }
        push(dst, &index, Some(&tag), reporter).await.map_err(ctx)?;
        let update = FallbackUpdate {
            subject: subject.clone(),
            tag: tag.clone(),
            digest: index.digest.clone(),
            added,
            kept,
        };
        if !dst.is_registry() {
            // A layout commits index.json in `finish`, under its lock.
            return Ok(Some(update));
        }
        // Registries have no conditional PUT: read back, and merge again if another writer
        // replaced the index in between without our entries.
        let after = read_fallback(dst, &tag).await.map_err(ctx)?;
        let listed = match &after {
            Some(m) => index_entries(m).map_err(ctx)?,
            None => vec![],
        };
        if all_listed(&listed, ours) {
            return Ok(Some(update));
        }
        reporter.event(Event::Info(format!(
            "{tag} on {} changed while it was being updated; merging again (attempt {})",
            dst.describe(),
            attempt + 2
        )));
    }
    Err(ctx(Error::Internal(format!(
        "the index kept changing under concurrent updates ({FALLBACK_ATTEMPTS} attempts)"
    ))))
}
