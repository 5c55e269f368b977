//! The read-only modes: [`verify`] checks the target completely, [`dry_run`] says what a copy
//! would do. Neither writes.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::StreamExt;

use crate::engine::artifacts;
use crate::engine::artifacts::target::appended;
use crate::engine::copy::types::{descriptor_of, OnReject};
use crate::engine::image::job::{ImageAction, ImageJob, ImageOutcome, Missing};
use crate::engine::image::state::{Reading, TargetState};
use crate::engine::progress::{Event, Reporter};
use crate::engine::resolve;
use crate::engine::select::{Decision, Selector, SkipReason};
use crate::error::Result;
use crate::model::digest::Digest;
use crate::model::manifest::Descriptor;
use crate::transport::Storage;

fn missing(kind: &str, digest: Option<Digest>) -> Missing {
    Missing {
        kind: kind.into(),
        digest,
        platform: None,
        of: None,
    }
}

/// Verify: the target reference holds what the job asks for (the source index, or its filtered
/// index under `--on-reject filter`), every selected child manifest and each of its blobs is
/// present (HEAD), and so are the referrers and digest tags when asked for.
pub(super) async fn verify<E: Storage>(
    job: &ImageJob,
    src: &Arc<E>,
    dst: Option<&Arc<E>>,
    reading: &Reading,
    reporter: &Arc<dyn Reporter>,
    out: &mut ImageOutcome,
) -> Result<()> {
    out.action = ImageAction::Incomplete;
    let Some(dst) = dst else {
        out.missing.push(missing("tag", None));
        return Ok(());
    };
    match &reading.state {
        TargetState::Absent => {
            out.missing.push(missing("tag", None));
            return Ok(());
        }
        TargetState::Other { digest } => {
            out.missing
                .push(missing("wrong-digest", Some(digest.clone())));
            return Ok(());
        }
        TargetState::Filtered {
            source_digest,
            filtered_digest,
        } if job.on_reject != OnReject::Filter => {
            reporter.event(Event::Warning(format!(
                "{} holds the filtered index {filtered_digest} of the source index {source_digest}, as `--on-reject filter` makes it; pass --on-reject filter if it was made on purpose",
                job.target_text
            )));
            out.missing
                .push(missing("wrong-digest", Some(filtered_digest.clone())));
            return Ok(());
        }
        _ => {}
    }
    if let TargetState::MissingChildren { missing, .. } = &reading.state {
        out.missing.extend(missing.iter().map(|m| Missing {
            kind: "manifest".into(),
            digest: Some(m.digest.clone()),
            platform: m.platform.clone(),
            of: None,
        }));
    }
    // Plan what the target holds, reading every manifest from it: children it lacks are absent
    // (listed above), and the blobs of the others are checked.
    let root = reading.filtered_root.as_ref().unwrap_or(&reading.root);
    let all = Selector::all();
    let sel = if root.is_index() { &job.selector } else { &all };
    let plan = resolve::resolve(dst.as_ref(), root, sel, &job.source_text, job.jobs).await?;
    out.children_checked = plan.manifests.len() + out.missing.len();
    let checks: Vec<(Descriptor, Result<bool>)> = futures_util::stream::iter(plan.blobs.clone())
        .map(|b| async move {
            let has = dst.has_blob(&b).await;
            (b, has)
        })
        .buffered(job.jobs.max(1))
        .collect()
        .await;
    for (b, has) in checks {
        let has = has
            .map_err(|e| e.context(format!("checking blob {} on {}", b.digest, dst.describe())))?;
        if !has {
            let of = plan
                .manifest_blobs
                .iter()
                .find(|(_, list)| list.contains(&b.digest))
                .map(|(m, _)| m.clone());
            out.missing.push(Missing {
                kind: "blob".into(),
                digest: Some(b.digest.clone()),
                platform: None,
                of,
            });
        }
    }
    if job.artifacts.enabled() {
        let ap = artifacts::discover(src.as_ref(), &plan, &job.artifacts, reporter).await?;
        for a in &ap.artifacts {
            let present = match &a.tag {
                Some(t) => match dst.resolve(t).await? {
                    Some(d) if d == a.manifest.digest => true,
                    Some(d) => appended(dst.as_ref(), &d, &a.manifest).await?,
                    None => false,
                },
                None => dst.has_manifest(&descriptor_of(&a.manifest)).await?,
            };
            if !present {
                out.missing.push(Missing {
                    kind: if a.tag.is_some() {
                        "digest-tag"
                    } else {
                        "referrer"
                    }
                    .into(),
                    digest: Some(a.manifest.digest.clone()),
                    platform: a.tag.clone().or(a.artifact_type.clone()),
                    of: Some(a.subject.clone()),
                });
            }
        }
        out.artifact_plan = ap;
    }
    out.plan = plan;
    if out.missing.is_empty() {
        out.action = ImageAction::Complete;
    }
    Ok(())
}

/// Dry run: what a copy would do, from the state and the plan; with `dry_run_details`, also the
/// sizes of the skipped entries and the planned bytes already on the target (HEAD only).
pub(super) async fn dry_run<E: Storage>(
    job: &ImageJob,
    src: &Arc<E>,
    dst: Option<&Arc<E>>,
    reading: &Reading,
    out: &mut ImageOutcome,
) {
    let plan = &out.plan;
    if reading.state.is_complete(job.on_reject) {
        out.action = ImageAction::UpToDate;
    } else if let TargetState::MissingChildren { missing, .. } = &reading.state {
        out.action = ImageAction::WouldRepair;
        out.missing = missing
            .iter()
            .map(|m| Missing {
                kind: "manifest".into(),
                digest: Some(m.digest.clone()),
                platform: m.platform.clone(),
                of: None,
            })
            .collect();
        let wanted: HashSet<&Digest> = missing.iter().map(|m| &m.digest).collect();
        let blobs: HashSet<&Digest> = plan
            .manifest_blobs
            .iter()
            .filter(|(m, _)| wanted.contains(m))
            .flat_map(|(_, list)| list)
            .collect();
        out.planned_bytes = Some(
            plan.blobs
                .iter()
                .filter(|b| blobs.contains(&b.digest))
                .map(|b| b.size)
                .sum(),
        );
    } else {
        out.action = ImageAction::WouldCopy;
        out.planned_bytes = Some(plan.blob_bytes());
    }
    if !job.dry_run_details {
        return;
    }
    // The sizes of what the selection leaves out; children the source lacks have none, so a
    // plan whose only gaps are those is not read again (issue 21: 19 000 such children).
    if plan
        .skipped()
        .any(|e| e.decision != Decision::Skip(SkipReason::NotInSource))
    {
        if let Ok(all) = resolve::resolve(
            src.as_ref(),
            &plan.root,
            &Selector::all(),
            &job.source_text,
            job.jobs,
        )
        .await
        {
            out.skipped_sizes = all
                .entries
                .iter()
                .filter_map(|e| Some((e.descriptor.digest.clone(), e.total_size?)))
                .collect();
        }
    }
    let Some(dst) = dst else {
        out.present_bytes = Some(0);
        return;
    };
    let checks: Vec<Result<u64>> = futures_util::stream::iter(out.plan.blobs.iter().map(|b| {
        let dst = dst.clone();
        async move {
            dst.has_blob(b)
                .await
                .map(|has| if has { b.size } else { 0 })
        }
    }))
    .buffer_unordered(job.jobs.max(1))
    .collect()
    .await;
    if let Ok(sizes) = checks.into_iter().collect::<Result<Vec<u64>>>() {
        out.present_bytes = Some(sizes.iter().sum());
    }
}
