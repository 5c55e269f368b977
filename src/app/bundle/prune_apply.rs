//! `mirror bundle apply --prune`: the near side's deletion plan (`bundle.json` `prune`), applied
//! on the far side after the images with the same guards as `sync --prune`: nothing in a
//! repository where an image of this apply failed, nothing at all over `--prune-max`, and a far
//! tag that no longer names the planned digest is left alone (someone changed it there).

use std::collections::{BTreeMap, HashSet};

use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::app::printer::Printer;
use crate::app::sync::output::error_text;
use crate::engine::prune::prune;
use crate::engine::prune::types::{Decision, Planned, PruneJob};
use crate::error::hints::HintStyle;
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::prune::{PlannedDeletion, Reason};
use crate::model::reference::ImageRef;
use crate::transport::endpoint::Endpoint;

/// One planned deletion as the apply left it.
#[derive(Debug, Clone, Serialize)]
pub struct PruneApplied {
    /// The far target, `host/repo:tag`.
    pub target: String,
    /// The digest the plan names.
    pub digest: Digest,
    /// Why the near side planned it.
    pub why: Reason,
    /// `pruned`, `would-prune`, `prune-refused` or `absent` (already gone).
    pub action: String,
    /// Only the tag went (a kept tag needs the digest).
    pub tag_only: bool,
    /// Artifacts deleted with it.
    pub artifacts: usize,
    /// Why it stays, for `prune-refused` without an error (a changed tag, a shared digest).
    pub detail: Option<String>,
    /// The failure, for a refusal that is one.
    pub error: Option<String>,
}

/// Opens a far target for writing (the apply's one client per registry host).
pub type Open<'a> = &'a (dyn Fn(ImageRef) -> BoxFuture<'a, Result<Endpoint>> + Sync);

/// Apply `plan`; `failed` are the repositories ([`repository_key`]s) where an image failed.
///
/// [`repository_key`]: crate::model::delta::repository_key
pub async fn apply_prune(
    plan: &[PlannedDeletion],
    failed: &HashSet<String>,
    open: Open<'_>,
    (dry_run, max, jobs): (bool, usize, usize),
) -> Vec<PruneApplied> {
    let entry = |p: &PlannedDeletion, action: &str| PruneApplied {
        target: p.target.clone(),
        digest: p.digest.clone(),
        why: p.why.clone(),
        action: action.into(),
        tag_only: false,
        artifacts: 0,
        detail: None,
        error: None,
    };
    let mut out = vec![];
    if max > 0 && plan.len() > max {
        let e = Error::usage_hint(
            format!(
                "the bundle plans {} tag deletion(s), more than --prune-max {max}: nothing was deleted",
                plan.len()
            ),
            "check the plan (`mirror bundle apply --prune --dry-run`), then raise --prune-max if it is right",
        );
        for p in plan {
            let mut a = entry(p, "prune-refused");
            a.error = Some(error_text(&e, HintStyle::Flags));
            out.push(a);
        }
        return out;
    }
    let mut by_repo: BTreeMap<&str, Vec<&PlannedDeletion>> = BTreeMap::new();
    for p in plan {
        by_repo.entry(&p.repository).or_default().push(p);
    }
    for (repo, ps) in by_repo {
        if failed.contains(repo) {
            for p in ps {
                let mut a = entry(p, "prune-refused");
                a.detail = Some(format!(
                    "nothing pruned in {repo}: an image of it failed in this apply"
                ));
                out.push(a);
            }
            continue;
        }
        let dst = match ps[0].target.parse::<ImageRef>() {
            Ok(r) => open(r).await,
            Err(e) => Err(Error::usage(format!(
                "bundle.json names an invalid prune target {}: {e}",
                ps[0].target
            ))),
        };
        let job = PruneJob {
            planned: ps
                .iter()
                .map(|p| Planned {
                    tag: p.tag.clone(),
                    expected: Some(p.digest.clone()),
                })
                .collect(),
            // Whatever artifacts the near side mirrored for them.
            referrers: true,
            digest_tags: true,
            dry_run: dry_run || max == 0,
            jobs,
        };
        let outcomes = match dst {
            Ok(d) => prune(&d, &job).await,
            Err(e) => Err(e),
        };
        let outcomes = match outcomes {
            Ok(o) => o,
            Err(e) => {
                for p in ps {
                    let mut a = entry(p, "prune-refused");
                    a.error = Some(error_text(&e, HintStyle::Flags));
                    out.push(a);
                }
                continue;
            }
        };
        for (p, o) in ps.into_iter().zip(outcomes) {
            let mut a = entry(p, "prune-refused");
            match o.decision {
                Decision::Deleted {
                    tag_only,
                    artifacts,
                    ..
                } => {
                    a.action = if job.dry_run { "would-prune" } else { "pruned" }.into();
                    a.tag_only = tag_only;
                    a.artifacts = artifacts.len();
                }
                Decision::Absent => a.action = "absent".into(),
                Decision::Changed { now } => {
                    a.detail = Some(format!(
                    "the far tag names {now}, not the planned {}: changed on this side, left alone",
                    p.digest
                ))
                }
                Decision::Kept { reason, .. } => a.detail = Some(reason),
                Decision::Failed { error, .. } => {
                    a.error = Some(error_text(&error, HintStyle::Flags))
                }
            }
            out.push(a);
        }
    }
    out
}

/// One line per planned deletion (human output).
pub fn print(printer: Printer, done: &[PruneApplied]) {
    if printer.json() {
        return;
    }
    for a in done {
        let why = match (&a.error, &a.detail) {
            (Some(e), _) => e.lines().next().unwrap_or("").to_string(),
            (None, Some(d)) => d.clone(),
            (None, None) => match a.artifacts {
                0 => a.why.to_string(),
                n => format!("{}, with {n} artifact(s)", a.why),
            },
        };
        printer.out_line(&format!(
            "{:<13} {}@{}  {why}",
            a.action, a.target, a.digest
        ));
    }
}
