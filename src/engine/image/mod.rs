//! One image, one truth: the use case every command runs for one image.
//!
//! [`mirror_image`] owns, in this order:
//!
//! | stage                  | file                                   |
//! |------------------------|----------------------------------------|
//! | source digest (HEAD)   | here                                   |
//! | target state           | `image/state.rs` ([`state::read`])     |
//! | plan                   | `resolve.rs` + `plan.rs` via `image/reader.rs` ([`reader::Tiered`]) |
//! | preflight, execution   | `copy.rs` ([`copy::execute`]), `copy/blobs.rs` |
//! | artifacts              | `artifacts.rs`, `artifacts/target.rs`  |
//! | finish or abort        | here                                   |
//! | read-only checks       | `image/verify.rs` (verify, dry run)    |
//!
//! It returns an [`ImageOutcome`] whose [`TargetState`] and [`ImageOutcome::resolves_to`] every
//! command reports the same way: `copy`, `sync` (per item), `verify` and `--dry-run`.
//! [`Mode::Verify`] and [`Mode::DryRun`] never write.

pub mod job;
pub mod reader;
mod sign;
pub mod state;
mod verify;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use crate::engine::artifacts;
use crate::engine::copy;
use crate::engine::copy::reject::switch_to_filtered;
use crate::engine::copy::types::{CopyOptions, CopyOutcome, Preflight, RejectAction};
use crate::engine::invariant::Confirmed;
use crate::engine::plan::Plan;
use crate::engine::progress::{Event, Reporter};
use crate::engine::referrers::ArtifactPlan;
use crate::engine::resolve;
use crate::engine::select::{Decision, SkipReason};
use crate::engine::signature;
use crate::engine::signature::publish::SignStatus;
use crate::error::{Error, Result};
use crate::transport::Storage;

pub use self::job::{ImageAction, ImageJob, ImageOutcome, Missing, Mode, OpenTarget, TargetSlot};
pub use self::reader::{ManifestCache, PullGate};
pub use self::state::{MissingChild, TargetState};

/// Mirror (or check) one image; see the module docs.
pub async fn mirror_image<E: Storage>(
    job: &ImageJob,
    src: &Arc<E>,
    target: TargetSlot<E>,
    reporter: &Arc<dyn Reporter>,
) -> Result<ImageOutcome> {
    let started = Instant::now();
    let (dst, later) = match target {
        TargetSlot::Open(d) => (Some(d), None),
        TargetSlot::Later(open) => (None, Some(open)),
    };
    reporter.event(Event::Stage("checking target"));
    let mut reading = state::read(
        src,
        dst.as_ref(),
        &state::ReadArgs {
            source_reference: &job.source_reference,
            target_tag: job.target_tag.as_deref(),
            selector: &job.selector,
            source_text: &job.source_text,
            jobs: job.jobs,
            cache: job.cache.clone(),
            gate: job.gate.clone(),
        },
    )
    .await?;
    let sd = reading.source_digest.clone();
    let done = reading.state.is_complete(job.on_reject);
    let mut out = ImageOutcome {
        source_digest: sd.clone(),
        before: reading.state.clone(),
        after: reading.state.clone(),
        action: ImageAction::UpToDate,
        plan: reading
            .selection
            .clone()
            .unwrap_or_else(|| empty_plan(&reading)),
        copy: None,
        artifact_plan: ArtifactPlan::default(),
        artifacts: None,
        missing: vec![],
        children_checked: reading.children_checked,
        planned_bytes: None,
        present_bytes: None,
        skipped_sizes: vec![],
        seconds: 0.0,
        signatures: vec![],
        signed: vec![],
    };
    if job.mode == Mode::Verify {
        verify::verify(job, src, dst.as_ref(), &reading, reporter, &mut out).await?;
        if let (true, Some(d)) = (out.action == ImageAction::Complete, dst.as_ref()) {
            out.signatures = signatures_on_target(job, d, &out).await?;
        }
        out.seconds = started.elapsed().as_secs_f64();
        return Ok(out);
    }

    // Plan: the whole plan is needed unless the target is complete and nothing else is to do.
    let needs_plan = !done
        || job.artifacts.enabled()
        || (job.mode == Mode::DryRun && job.dry_run_details)
        || job.signatures.children;
    let tiered = reader::Tiered::new(
        src.clone(),
        dst.clone(),
        reader::OnTarget::Only(reading.present.clone()),
        job.cache.clone(),
        job.gate.clone(),
    )
    .knowing_absent(std::mem::take(&mut reading.not_in_source));
    if needs_plan {
        out.plan = resolve::resolve(
            &tiered,
            &reading.root,
            &job.selector,
            &job.source_text,
            job.jobs,
        )
        .await?;
    }
    check_platforms(job, &out.plan, reporter)?;
    // The signature gate: before anything is written (exit 8 on refusal).
    if job.signatures.enabled() {
        let children = signature::subjects(&out.plan);
        let verdict = signature::gate(
            src.as_ref(),
            &job.source_text,
            &reading.root,
            &children,
            &job.signatures,
        )
        .await?;
        out.signatures = verdict.verified;
    }
    if job.artifacts.enabled() {
        out.artifact_plan =
            artifacts::discover(src.as_ref(), &out.plan, &job.artifacts, reporter).await?;
    }

    let opts = CopyOptions {
        tag: job.target_tag.clone(),
        jobs: job.jobs,
        on_reject: job.on_reject,
        retry: job.retry,
        source_ref: job.source_text.clone(),
        target_ref: job.target_text.clone(),
        include_foreign: job.selector.include_foreign,
        defer_finish: true,
        known_present: reading.present.clone(),
        target_current: reading.state.resolves_to().cloned(),
        cancel: job.cancel.clone(),
        delta: job.delta.clone(),
        known_blobs: job.known_blobs.clone(),
        transfer: job.transfer.clone(),
    };
    if job.mode == Mode::DryRun {
        if !done {
            out.plan = copy::plan_as_written(src, out.plan, &opts, reporter).await?;
        }
        verify::dry_run(job, src, dst.as_ref(), &reading, &mut out).await;
        if let (Some(site), Some(d)) = (&job.site_signing, dst.as_ref()) {
            out.signed = sign::sign_image(job, site, d, &out, true, reporter).await?;
        }
        out.seconds = started.elapsed().as_secs_f64();
        return Ok(out);
    }

    // Write.
    let _writing = match &job.write_lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    let dst = match (dst, later) {
        (Some(d), _) => d,
        (None, Some(open)) => open().await?,
        (None, None) => return Err(Error::Internal("no target to write to".into())),
    };
    let written = write(job, src, &dst, &reading, done, &opts, reporter, &mut out).await;
    // The image is complete either way when only an artifact failed: commit it (a layout writes
    // index.json here), then report the failure.
    let finished = match &written {
        Err(e) if !matches!(e, Error::Interrupted) && out.copy.is_some() => dst.finish().await,
        Err(_) => Ok(()),
        Ok(()) => dst.finish().await,
    };
    let result = written.and(finished);
    if result.is_err() {
        // Failed or interrupted: in-flight transfers are dropped by now; cancel the upload
        // sessions they left open.
        dst.abort().await;
    }
    result?;
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Execute the plan (unless the target is complete), then the artifacts.
#[allow(clippy::too_many_arguments)]
async fn write<E: Storage>(
    job: &ImageJob,
    src: &Arc<E>,
    dst: &Arc<E>,
    reading: &state::Reading,
    done: bool,
    opts: &CopyOptions,
    reporter: &Arc<dyn Reporter>,
    out: &mut ImageOutcome,
) -> Result<()> {
    let copied = if done {
        unchanged(&reading.state, &out.plan)?
    } else {
        copy::execute(
            src.clone(),
            dst.clone(),
            out.plan.clone(),
            opts,
            reporter.clone(),
        )
        .await?
    };
    out.after = match &copied.reject_action {
        RejectAction::Filtered { digest } => TargetState::Filtered {
            source_digest: out.source_digest.clone(),
            filtered_digest: digest.clone(),
        },
        _ => TargetState::Current {
            digest: copied.pushed_digest.clone(),
        },
    };
    out.action = if !copied.repaired.is_empty() {
        ImageAction::Repaired
    } else if copied.up_to_date {
        ImageAction::UpToDate
    } else {
        ImageAction::Copied
    };
    if let Some(c) = &job.cache {
        c.put(&out.plan.root).await;
        for m in out.plan.manifests.iter().filter(|m| m.is_index()) {
            c.put(m).await;
        }
    }
    let replaced = matches!(copied.reject_action, RejectAction::Filtered { .. })
        .then(|| out.source_digest.clone());
    out.copy = Some(copied);
    if job.artifacts.enabled() {
        // A delta bundle carries referrers and digest tags whole: they are small, and the
        // apply finds them only by walking what the bundle holds.
        let whole = CopyOptions {
            delta: None,
            ..opts.clone()
        };
        let a = artifacts::copy(
            src,
            dst,
            &out.artifact_plan,
            replaced.as_ref(),
            &whole,
            reporter,
        )
        .await?;
        let wrote = a.manifests_pushed > 0 || a.blobs.copied > 0 || a.blobs.mounted > 0;
        if wrote && out.action == ImageAction::UpToDate {
            out.action = ImageAction::Repaired;
        }
        out.artifacts = Some(a);
    }
    if let Some(site) = &job.site_signing {
        // The image is complete (on a registry, tagged): sign what the tag resolves to.
        out.signed = sign::sign_image(job, site, dst, out, false, reporter).await?;
        let wrote = out.signed.iter().any(|s| s.status == SignStatus::Signed);
        if wrote && out.action == ImageAction::UpToDate {
            out.action = ImageAction::Repaired;
        }
    }
    Ok(())
}

/// Verify with `--require-signature`: the index the target reference names (the source's, or a
/// filtered one) and, with `children`, each selected child must carry a valid signature on the
/// target itself.
async fn signatures_on_target<E: Storage>(
    job: &ImageJob,
    dst: &Arc<E>,
    out: &ImageOutcome,
) -> Result<Vec<signature::Verified>> {
    if !job.signatures.enabled() {
        return Ok(vec![]);
    }
    let Some(at) = out.after.resolves_to() else {
        return Ok(vec![]);
    };
    let root = dst.fetch_manifest(at.as_str(), None).await?;
    let children = signature::subjects(&out.plan);
    let v = signature::gate(
        dst.as_ref(),
        &job.target_text,
        &root,
        &children,
        &job.signatures,
    )
    .await?;
    Ok(v.verified)
}

/// The copy outcome of a target that already holds what was asked for.
fn unchanged(state: &TargetState, plan: &Plan) -> Result<CopyOutcome> {
    let mut c = CopyOutcome {
        plan: plan.clone(),
        pushed_digest: plan.root.digest.clone(),
        up_to_date: true,
        repaired: vec![],
        preflight: Preflight::NotNeeded,
        reject_action: RejectAction::None,
        blobs: Default::default(),
        manifests_pushed: 0,
        manifests_existing: (plan.manifests.len() + plan.unread.len()) as u64 + 1,
        seconds: 0.0,
        confirmed: Confirmed::default(),
    };
    if let TargetState::Filtered { .. } = state {
        switch_to_filtered(&mut c)?;
        c.pushed_digest = c.plan.root.digest.clone();
    }
    Ok(c)
}

/// Warn about (or refuse) literal `--platform` patterns that matched nothing, and foreign layers.
fn check_platforms(job: &ImageJob, plan: &Plan, reporter: &Arc<dyn Reporter>) -> Result<()> {
    if !plan.unmatched.is_empty() {
        let sparse_source = plan
            .entries
            .iter()
            .any(|e| e.decision == Decision::Skip(SkipReason::NotInSource));
        if job.require_platforms {
            return Err(Error::PlatformMissing {
                source_ref: job.source_text.clone(),
                missing: plan.unmatched.clone(),
                available: plan.available.clone(),
                sparse_layout: sparse_source,
            });
        }
        reporter.event(Event::Warning(format!(
            "--platform {} matched nothing in {}{} (it has: {})",
            plan.unmatched.join(", "),
            job.source_text,
            if sparse_source {
                "; the source is sparse and lacks some children"
            } else {
                ""
            },
            plan.available.join(", ")
        )));
    }
    for f in &plan.foreign {
        reporter.event(Event::Warning(format!(
            "foreign layer {} is not copied (it is fetched from its URLs at pull time)",
            f.digest
        )));
    }
    Ok(())
}

/// A plan with the root only (the target holds nothing to compare with yet).
fn empty_plan(reading: &state::Reading) -> Plan {
    Plan {
        root: reading.root.clone(),
        entries: vec![],
        manifests: vec![],
        manifest_blobs: Default::default(),
        blobs: vec![],
        foreign: vec![],
        foreign_included: vec![],
        sparse: false,
        unmatched: vec![],
        available: vec![],
        unread: vec![],
    }
}
