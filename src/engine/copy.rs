//! Copy: execute a [`Plan`] against a target, in the only safe order.
//!
//! 1. No-op check: if the target tag already names the source index, HEAD the planned child
//!    manifests; copy only what is missing and never re-PUT the index.
//! 2. Preflight (sparse plan, registry target): PUT the unmodified index by digest, untagged.
//!    A rejection that names unselected children means "this registry refuses sparse indexes":
//!    `--on-reject` is applied before a single blob moves.
//! 3. Blobs, deduplicated, concurrently (`--jobs`): HEAD, else mount (same registry), else
//!    stream with digest verification. A failed blob copy restarts from a fresh source stream.
//! 4. Child manifests by digest, leaves first, then nested indexes.
//! 5. The root bytes by tag (or by digest), last. Then `finish` (layout `index.json`).
//!
//! A tag is only ever written in step 5, after everything it references is on the target.

pub(crate) mod blobs;
pub mod fetch;
pub mod order;
pub(crate) mod reject;
pub mod types;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;

use crate::engine::invariant::Confirmed;
use crate::engine::plan::{self, Plan};
use crate::engine::preflight;
use crate::engine::progress::{Event, Reporter};
use crate::error::Result;
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::Storage;

use blobs::copy_blobs;
pub use blobs::{large_jobs, Probe, LARGE_BLOB};
use reject::{apply_reject, known_rejection, rejection, rejection_digests, switch_to_filtered};
use types::descriptor_of;
pub use types::{BlobStats, CopyOptions, CopyOutcome, Delta, OnReject, Preflight, RejectAction};

/// The outcome of a copy that has not done anything yet.
fn fresh(plan: Plan) -> CopyOutcome {
    CopyOutcome {
        pushed_digest: plan.root.digest.clone(),
        plan,
        up_to_date: false,
        repaired: vec![],
        preflight: Preflight::NotNeeded,
        reject_action: RejectAction::None,
        blobs: BlobStats::default(),
        manifests_pushed: 0,
        manifests_existing: 0,
        seconds: 0.0,
        confirmed: Confirmed::default(),
    }
}

/// A dry run into a delta bundle whose far registry is known to refuse sparse indexes: the
/// plan the write would carry out (every child under `full`, the filtered index under
/// `filter`), or the refusal itself under `fail`. Any other plan is returned as it is.
pub(crate) async fn plan_as_written<E: Storage>(
    src: &Arc<E>,
    plan: Plan,
    opts: &CopyOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Plan> {
    let known = opts
        .delta
        .as_ref()
        .and_then(|d| d.refuses_sparse.as_deref());
    let (Some(by), true) = (known, plan.sparse) else {
        return Ok(plan);
    };
    let mut out = fresh(plan);
    let rej = known_rejection(&out.plan, &opts.target_ref, by);
    apply_reject(src, &mut out, opts, reporter, rej).await?;
    Ok(out.plan)
}

/// Execute `plan` from `src` to `dst`.
pub async fn execute<E: Storage>(
    src: Arc<E>,
    dst: Arc<E>,
    plan: Plan,
    opts: &CopyOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<CopyOutcome> {
    let started = Instant::now();
    let mut out = fresh(plan);
    let target_reference = opts
        .tag
        .clone()
        .unwrap_or_else(|| out.plan.root.digest.to_string());

    // 1. No-op check.
    reporter.event(Event::Stage("checking target"));
    let current = opts.target_current.clone();
    // A target that already holds this plan's `--on-reject filter` index is up to date too.
    if current.is_some()
        && current.as_ref() != Some(&out.plan.root.digest)
        && out.plan.sparse
        && opts.on_reject == OnReject::Filter
        && current.as_ref() == Some(&plan::filtered_indexes(&out.plan)?.0.digest)
    {
        switch_to_filtered(&mut out)?;
        // The tag names the filtered index, not the source's: report what it resolves to.
        out.pushed_digest = out.plan.root.digest.clone();
    }
    if current.as_ref() == Some(&out.plan.root.digest) {
        let unknown: Vec<RawManifest> = out
            .plan
            .manifests
            .iter()
            .filter(|m| !opts.known_present.contains(&m.digest))
            .cloned()
            .collect();
        let missing = missing_manifests(&dst, &unknown, opts.jobs).await?;
        out.manifests_existing = (out.plan.manifests.len() - missing.len()) as u64 + 1;
        if missing.is_empty() {
            out.up_to_date = true;
        } else {
            reporter.event(Event::Info(format!(
                "{} already names {}; {} selected child manifest(s) missing, copying only those",
                target_reference,
                out.plan.root.digest.short(),
                missing.len()
            )));
            let blobs = blobs_of(&out.plan, &missing);
            copy_blobs(
                &src,
                &dst,
                (&blobs, Probe::Head),
                opts,
                &reporter,
                &mut out.blobs,
                &mut out.confirmed,
            )
            .await?;
            out.manifests_pushed +=
                push_children(&dst, &missing, &reporter, &mut out.confirmed).await?;
            out.repaired = missing.iter().map(|m| m.digest.clone()).collect();
        }
        opts.cancel.check()?;
        if !opts.defer_finish {
            dst.finish().await?;
        }
        out.seconds = started.elapsed().as_secs_f64();
        return Ok(out);
    }

    // 2. Preflight (engine/preflight.rs).
    let known = opts
        .delta
        .as_ref()
        .and_then(|d| d.refuses_sparse.as_deref());
    if let (true, Some(by)) = (out.plan.sparse, known) {
        out.preflight = Preflight::Rejected;
        let rej = known_rejection(&out.plan, &opts.target_ref, by);
        apply_reject(&src, &mut out, opts, &reporter, rej).await?;
    } else if out.plan.sparse && dst.is_registry() {
        reporter.event(Event::Stage("preflight"));
        match preflight::run(dst.as_ref(), &out.plan, reporter.as_ref()).await? {
            preflight::Verdict::Accepted => out.preflight = Preflight::Accepted,
            preflight::Verdict::Inconclusive => out.preflight = Preflight::Inconclusive,
            preflight::Verdict::Rejected { error, probe } => {
                out.preflight = Preflight::Rejected;
                let mut rej = rejection(&out.plan, &error, &opts.target_ref, true);
                rej.probe = probe;
                apply_reject(&src, &mut out, opts, &reporter, rej).await?;
            }
        }
    }

    // 3–5. A target without the tag is probably missing most blobs (see Probe).
    let probe = if current.is_none() {
        Probe::Upload
    } else {
        Probe::Head
    };
    push_all(&src, &dst, &mut out, probe, opts, &reporter).await?;
    let root = out.plan.root.clone();
    opts.cancel.check()?;
    out.confirmed.check_before_tag(&out.plan)?;
    reporter.event(Event::Stage("index"));
    match dst.push_manifest(&root, opts.tag.as_deref()).await {
        Ok(_) => {
            out.manifests_pushed += 1;
            reporter.event(Event::ManifestPushed {
                digest: root.digest.clone(),
                tag: opts.tag.clone(),
            });
        }
        Err(e)
            if rejection_digests(&e).is_some()
                && out.plan.sparse
                && out.reject_action == RejectAction::None =>
        {
            let rej = rejection(&out.plan, &e, &opts.target_ref, false);
            apply_reject(&src, &mut out, opts, &reporter, rej).await?;
            push_all(&src, &dst, &mut out, Probe::Head, opts, &reporter).await?;
            let root = out.plan.root.clone();
            out.confirmed.check_before_tag(&out.plan)?;
            dst.push_manifest(&root, opts.tag.as_deref())
                .await
                .map_err(|e| {
                    e.context(format!(
                        "pushing index {} to {}",
                        root.digest, opts.target_ref
                    ))
                })?;
            out.manifests_pushed += 1;
            reporter.event(Event::ManifestPushed {
                digest: root.digest.clone(),
                tag: opts.tag.clone(),
            });
        }
        Err(e) => {
            return Err(
                crate::engine::foreign::explain_rejection(&root, e, &opts.target_ref).context(
                    format!("pushing index {} to {}", root.digest, opts.target_ref),
                ),
            )
        }
    }
    out.pushed_digest = out.plan.root.digest.clone();
    opts.cancel.check()?;
    if !opts.defer_finish {
        dst.finish().await?;
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Blobs, then child manifests (leaves first, then nested indexes).
async fn push_all<E: Storage>(
    src: &Arc<E>,
    dst: &Arc<E>,
    out: &mut CopyOutcome,
    probe: Probe,
    opts: &CopyOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<()> {
    let blobs = out.plan.blobs.clone();
    copy_blobs(
        src,
        dst,
        (&blobs, probe),
        opts,
        reporter,
        &mut out.blobs,
        &mut out.confirmed,
    )
    .await?;
    reporter.event(Event::Stage("manifests"));
    let missing = missing_manifests(dst, &out.plan.manifests, opts.jobs).await?;
    out.manifests_existing += (out.plan.manifests.len() - missing.len()) as u64;
    let absent: HashSet<&Digest> = missing.iter().map(|m| &m.digest).collect();
    for m in out
        .plan
        .manifests
        .iter()
        .filter(|m| !absent.contains(&m.digest))
    {
        out.confirmed.manifest(&m.digest);
    }
    opts.cancel.check()?;
    out.manifests_pushed += push_children(dst, &missing, reporter, &mut out.confirmed).await?;
    Ok(())
}

fn blobs_of(plan: &Plan, manifests: &[RawManifest]) -> Vec<Descriptor> {
    let wanted: HashSet<&Digest> = manifests
        .iter()
        .filter_map(|m| plan.manifest_blobs.get(&m.digest))
        .flatten()
        .collect();
    plan.blobs
        .iter()
        .filter(|b| wanted.contains(&b.digest))
        .cloned()
        .collect()
}

async fn missing_manifests<E: Storage>(
    dst: &Arc<E>,
    manifests: &[RawManifest],
    jobs: usize,
) -> Result<Vec<RawManifest>> {
    let checks: Vec<(RawManifest, Result<bool>)> =
        futures_util::stream::iter(manifests.iter().cloned())
            .map(|m| {
                let dst = dst.clone();
                async move {
                    let has = dst.has_manifest(&descriptor_of(&m)).await;
                    (m, has)
                }
            })
            .buffered(jobs.max(1))
            .collect()
            .await;
    let mut missing = vec![];
    for (m, has) in checks {
        if !has.map_err(|e| {
            e.context(format!(
                "checking manifest {} on {}",
                m.digest,
                dst.describe()
            ))
        })? {
            missing.push(m);
        }
    }
    Ok(missing)
}

/// Push manifests in the given (dependency) order: image manifests concurrently, then indexes.
async fn push_children<E: Storage>(
    dst: &Arc<E>,
    manifests: &[RawManifest],
    reporter: &Arc<dyn Reporter>,
    confirmed: &mut Confirmed,
) -> Result<u64> {
    let (indexes, images): (Vec<&RawManifest>, Vec<&RawManifest>) =
        manifests.iter().partition(|m| m.is_index());
    let results: Vec<Result<Digest>> = futures_util::stream::iter(images)
        .map(|m| {
            let dst = dst.clone();
            async move {
                dst.push_manifest(m, None).await.map_err(|e| {
                    crate::engine::foreign::explain_rejection(m, e, &dst.describe()).context(
                        format!("pushing manifest {} to {}", m.digest, dst.describe()),
                    )
                })?;
                Ok(m.digest.clone())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut n = 0;
    for r in results {
        let digest = r?;
        confirmed.manifest(&digest);
        reporter.event(Event::ManifestPushed { digest, tag: None });
        n += 1;
    }
    for m in indexes {
        dst.push_manifest(m, None).await.map_err(|e| {
            e.context(format!(
                "pushing nested index {} to {}",
                m.digest,
                dst.describe()
            ))
        })?;
        confirmed.manifest(&m.digest);
        reporter.event(Event::ManifestPushed {
            digest: m.digest.clone(),
            tag: None,
        });
        n += 1;
    }
    Ok(n)
}
