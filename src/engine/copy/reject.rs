//! `--on-reject`: reading a registry's refusal of a sparse index, and what each policy does
//! with it (fail, a filtered index, or every child). A refusal can also be known before the
//! copy: a delta bundle's far registry that an inventory found refusing sparse indexes
//! ([`known_rejection`], docs/air-gap.md).

use std::collections::HashSet;
use std::sync::Arc;

use crate::engine::copy::types::{CopyOptions, CopyOutcome, OnReject, RejectAction};
use crate::engine::plan::{self, Plan};
use crate::engine::progress::{Event, Reporter};
use crate::engine::resolve;
use crate::engine::select::Selector;
use crate::error::{Error, Result, SparseRejection};
use crate::model::digest::Digest;
use crate::transport::Storage;

/// Is this error the registry refusing an index because children are missing? Returns the
/// digests it named.
pub(crate) fn rejection_digests(e: &Error) -> Option<Vec<Digest>> {
    let Error::Registry(r) = e.root() else {
        return None;
    };
    let codes = [
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "BLOB_UNKNOWN",
        "MANIFEST_UNKNOWN",
    ];
    if !(400..500).contains(&r.status) || !r.errors.iter().any(|o| codes.contains(&o.code.as_str()))
    {
        return None;
    }
    let mut named: Vec<Digest> = r.errors.iter().flat_map(|o| o.detail_digests()).collect();
    named.dedup();
    Some(named)
}

pub(crate) fn rejection(
    plan: &Plan,
    e: &Error,
    target: &str,
    before_any_copy: bool,
) -> SparseRejection {
    let Error::Registry(r) = e.root() else {
        unreachable!("checked by rejection_digests")
    };
    let named = rejection_digests(e).unwrap_or_default();
    let skipped: Vec<&plan::Entry> = plan.skipped().collect();
    // Registries name every child they do not have yet, selected ones included: report the ones
    // the sparse copy leaves out (all skipped children when the registry named none of them).
    let all_skipped: Vec<Digest> = skipped
        .iter()
        .map(|e| e.descriptor.digest.clone())
        .collect();
    let named_skipped: Vec<Digest> = all_skipped
        .iter()
        .filter(|d| named.contains(d))
        .cloned()
        .collect();
    let missing = if named_skipped.is_empty() {
        all_skipped
    } else {
        named_skipped
    };
    let mut missing_platforms: Vec<String> = skipped
        .iter()
        .filter(|e| missing.contains(&e.descriptor.digest))
        .map(|e| match e.descriptor.attestation_subject() {
            Some(_) => "attestation".to_string(),
            None => e.platform_text(),
        })
        .collect();
    missing_platforms.dedup();
    SparseRejection {
        target: target.to_string(),
        index: plan.root.digest.clone(),
        response: Some((**r).clone()),
        recorded_by: None,
        missing,
        missing_platforms,
        before_any_copy,
        probe: None,
    }
}

/// A refusal known before the copy: `recorded_by` says who found that the eventual target
/// refuses sparse indexes (a delta bundle, whose far registry an inventory probed).
pub(crate) fn known_rejection(plan: &Plan, target: &str, recorded_by: &str) -> SparseRejection {
    let skipped: Vec<&plan::Entry> = plan.skipped().collect();
    let mut missing_platforms: Vec<String> = skipped
        .iter()
        .map(|e| match e.descriptor.attestation_subject() {
            Some(_) => "attestation".to_string(),
            None => e.platform_text(),
        })
        .collect();
    missing_platforms.dedup();
    SparseRejection {
        target: target.to_string(),
        index: plan.root.digest.clone(),
        response: None,
        recorded_by: Some(recorded_by.to_string()),
        missing: skipped
            .iter()
            .map(|e| e.descriptor.digest.clone())
            .collect(),
        missing_platforms,
        before_any_copy: true,
        probe: None,
    }
}

/// Apply `--on-reject` to a rejection: fail, swap in a filtered plan, or re-plan everything.
pub(crate) async fn apply_reject<E: Storage>(
    src: &Arc<E>,
    out: &mut CopyOutcome,
    opts: &CopyOptions,
    reporter: &Arc<dyn Reporter>,
    rej: SparseRejection,
) -> Result<()> {
    match opts.on_reject {
        OnReject::Fail => Err(Error::SparseRejected(Box::new(rej))),
        OnReject::Filter => {
            let old = switch_to_filtered(out)?;
            reporter.event(Event::Warning(format!(
                "{} rejects sparse indexes; pushing a filtered index {} instead of {old} (--on-reject filter): signatures over the original index will not verify",
                rej.target, out.plan.root.digest
            )));
            Ok(())
        }
        OnReject::Full => {
            reporter.event(Event::Warning(format!(
                "{} rejects sparse indexes; copying every child (--on-reject full)",
                rej.target
            )));
            let mut everything = Selector::all();
            everything.include_foreign = opts.include_foreign;
            let full = resolve::resolve(
                src.as_ref(),
                &out.plan.root,
                &everything,
                &opts.source_ref,
                opts.jobs,
            )
            .await?;
            if full.sparse {
                return Err(Error::SparseRejected(Box::new(SparseRejection {
                    missing_platforms: full.skipped().map(|e| e.platform_text()).collect(),
                    missing: full
                        .skipped()
                        .map(|e| e.descriptor.digest.clone())
                        .collect(),
                    ..rej
                }))
                .context(format!(
                    "--on-reject full: the source {} does not hold every child itself",
                    opts.source_ref
                )));
            }
            out.plan = full;
            out.reject_action = RejectAction::Full;
            Ok(())
        }
    }
}

/// Swap the plan's indexes for their filtered versions; returns the original root digest.
pub(crate) fn switch_to_filtered(out: &mut CopyOutcome) -> Result<Digest> {
    let (root, nested) = plan::filtered_indexes(&out.plan)?;
    let old = out.plan.root.digest.clone();
    let nested_old: HashSet<Digest> = out
        .plan
        .manifests
        .iter()
        .filter(|m| m.is_index())
        .map(|m| m.digest.clone())
        .collect();
    out.plan
        .manifests
        .retain(|m| !nested_old.contains(&m.digest));
    out.plan.manifests.extend(nested);
    out.plan.root = root;
    out.plan.sparse = false;
    out.reject_action = RejectAction::Filtered {
        digest: out.plan.root.digest.clone(),
    };
    Ok(old)
}
