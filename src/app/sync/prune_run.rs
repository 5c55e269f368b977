//! `mirror sync --prune` after the items: per entry, the target's tags, the plan
//! (`app/sync/prune.rs`), the source's word on tags it no longer lists, the run-wide cap, then
//! the deletes (`engine/prune.rs`) or, with `--bundle`, the plan recorded for the far side. Every
//! decision becomes an item report (`pruned`, `would-prune`, `prune-refused`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use crate::app::sync::config::{Config, LayoutRefName};
use crate::app::sync::expand::source_name;
use crate::app::sync::item::RunCtx;
use crate::app::sync::output::error_text;
use crate::app::sync::prune::{plan_entry, settle, Guard, SourceAnswer};
use crate::app::sync::report::{Action, ItemReport, NotOwned, PruneInfo};
use crate::engine::prune::prune;
use crate::engine::prune::types::{split_ref, Decision, Planned, PruneJob};
use crate::error::hints::HintStyle;
use crate::error::{Error, Result};
use crate::model::delta::repository_key;
use crate::model::digest::Digest;
use crate::model::prune::{PlannedDeletion, Reason};
use crate::model::reference::ImageRef;
use crate::transport::endpoint::Endpoint;
use crate::transport::layout::prune::GcReport;
use crate::transport::layout::Layout;
use crate::transport::storage::Storage;

/// What the run learnt about one entry before pruning.
#[derive(Debug, Clone, Default)]
pub(crate) struct EntryFacts {
    /// The source's tags as listed in this run (empty when the rules list nothing); `None`
    /// when the listing failed.
    pub(crate) listed: Option<Vec<String>>,
    /// The tags the entry selected (not ref names).
    pub(crate) selected: Vec<String>,
    /// Items of the entry that failed in this run (this shard: all of them).
    pub(crate) failed: usize,
}

/// `--prune`, `--prune-max`, `--gc-min-age`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PruneArgs {
    /// `--prune`: prune every entry that does not say `prune: false`.
    pub(crate) all: bool,
    /// `--prune-max`: more deletions than this in one run deletes nothing (0: plan only).
    pub(crate) max: usize,
    /// Orphaned layout blobs younger than this are kept by the collection.
    pub(crate) gc_min_age: Duration,
}

/// What the prune did.
#[derive(Debug, Default)]
pub(crate) struct PruneResult {
    pub(crate) items: Vec<ItemReport>,
    pub(crate) not_owned: Vec<NotOwned>,
    pub(crate) gc: Vec<GcReport>,
}

/// Whether entry `i` prunes.
pub(crate) fn enabled(cfg: &Config, i: usize, args: &PruneArgs) -> bool {
    cfg.settings(i).prune.unwrap_or(args.all)
}

/// One entry's namespace on its target: the repository (or layout) and, for a layout with
/// `layout-ref-name: full`, the `REGISTRY/REPO` prefix of its ref names.
fn scope(ctx: &RunCtx, cfg: &Config, i: usize) -> (String, String) {
    let img = &cfg.images[i];
    if let Some((_, fars)) = &ctx.bundle {
        return (repository_key(&fars[i]), String::new());
    }
    let prefix = match (&img.target.reference, cfg.settings(i).layout_ref_name) {
        (ImageRef::Layout(_), LayoutRefName::Full) => source_name(&img.source.reference),
        _ => String::new(),
    };
    (source_name(&img.target.reference), prefix)
}

fn ref_name(prefix: &str, tag: &str) -> String {
    match prefix {
        "" => tag.to_string(),
        p => format!("{p}:{tag}"),
    }
}

/// A planned deletion of one entry.
struct Candidate {
    tag: String,
    why: Reason,
    /// Bundle mode: what the far side is believed to hold.
    far_digest: Option<Digest>,
}

/// Run the prune (see the module docs).
pub(crate) async fn run(
    ctx: &RunCtx,
    cfg: &Config,
    facts: &[EntryFacts],
    args: &PruneArgs,
) -> PruneResult {
    let mut result = PruneResult::default();
    let scopes: Vec<(String, String)> = (0..cfg.images.len()).map(|i| scope(ctx, cfg, i)).collect();
    let mut selected: HashMap<&(String, String), HashSet<String>> = HashMap::new();
    let mut unlisted: HashMap<&(String, String), usize> = HashMap::new();
    for (i, f) in facts.iter().enumerate() {
        selected
            .entry(&scopes[i])
            .or_default()
            .extend(f.selected.iter().cloned());
        if f.listed.is_none() {
            unlisted.insert(&scopes[i], i);
        }
    }
    let mut planned: Vec<(usize, Vec<Candidate>)> = vec![];
    for i in (0..cfg.images.len()).filter(|i| enabled(cfg, *i, args)) {
        let guard = match (&facts[i].listed, facts[i].failed, unlisted.get(&scopes[i])) {
            (None, _, _) => Some(Guard::ListingFailed),
            (_, n, _) if n > 0 => Some(Guard::ItemsFailed(n)),
            (_, _, Some(other)) => Some(Guard::OtherListingFailed(*other)),
            _ => None,
        };
        let sel = selected.get(&scopes[i]).cloned().unwrap_or_default();
        let outcome = match guard {
            Some(g) => Err(g),
            None => plan(ctx, cfg, i, &facts[i], &sel, &scopes[i], &mut result).await,
        };
        match outcome {
            Ok(c) if c.is_empty() => {}
            Ok(c) => planned.push((i, c)),
            Err(g) => result.items.push(guarded(cfg, i, &g)),
        }
    }
    let total: usize = planned.iter().map(|(_, c)| c.len()).sum();
    let over = total > args.max && args.max > 0;
    for (i, cands) in planned {
        let img = &cfg.images[i];
        let (src, (tgt, prefix)) = (source_name(&img.source.reference), &scopes[i]);
        let item = |c: &Candidate| {
            let mut r = ItemReport::new(
                i,
                &format!("{src}:{}", c.tag),
                &format!("{tgt}:{}", ref_name(prefix, &c.tag)),
            );
            r.target_digest = c.far_digest.clone();
            r.prune = Some(PruneInfo {
                why: c.why.clone(),
                tag_only: false,
                artifacts: vec![],
            });
            r
        };
        if over {
            for c in &cands {
                let mut r = item(c);
                r.action = Action::PruneRefused;
                let e = Error::usage_hint(
                    format!("{total} tag deletion(s) planned in this run, more than --prune-max {}: nothing was deleted", args.max),
                    "check the plan (`mirror sync --dry-run --prune`), then raise --prune-max for one run if it is right",
                );
                r.error = Some(error_text(&e, HintStyle::SyncFile));
                r.exit_code = Some(crate::exit::PARTIAL_FAILURE);
                result.items.push(r);
            }
            continue;
        }
        if let Some((near, fars)) = &ctx.bundle {
            let mut plan = vec![];
            for c in &cands {
                let (Some(d), mut r) = (c.far_digest.clone(), item(c)) else {
                    continue;
                };
                plan.push(PlannedDeletion {
                    target: format!("{}:{}", source_name(&fars[i]), c.tag),
                    repository: repository_key(&fars[i]),
                    tag: c.tag.clone(),
                    digest: d,
                    why: c.why.clone(),
                    source: format!("{src}:{}", c.tag),
                });
                r.action = Action::WouldPrune;
                r.warnings.push(format!(
                    "planned for the far side{}: `mirror bundle apply --prune` deletes it there if it still names this digest",
                    if ctx.dry_run || args.max == 0 { " (not recorded: dry run or --prune-max 0)" } else { " in bundle.json" }
                ));
                result.items.push(r);
            }
            // A dry run and `--prune-max 0` record nothing.
            if !ctx.dry_run && args.max > 0 {
                near.plan_prune(plan);
            }
            continue;
        }
        let dry = ctx.dry_run || args.max == 0;
        let s = cfg.settings(i);
        let job = PruneJob {
            planned: cands
                .iter()
                .map(|c| Planned {
                    tag: ref_name(prefix, &c.tag),
                    expected: None,
                })
                .collect(),
            referrers: s.referrers,
            digest_tags: s.digest_tags,
            dry_run: dry,
            jobs: s.jobs,
        };
        let outcomes = match ctx.eps.target(&img.target.reference, dry).await {
            Ok(Some(dst)) => prune(dst.inner(), &job).await,
            Ok(None) => Ok(vec![]),
            Err(e) => Err(e),
        };
        let outcomes = match outcomes {
            Ok(o) => o,
            Err(e) => {
                result
                    .items
                    .push(guarded(cfg, i, &Guard::TargetListingFailed(e.to_string())));
                continue;
            }
        };
        for (c, o) in cands.iter().zip(outcomes) {
            debug_assert_eq!(o.planned.tag, ref_name(prefix, &c.tag));
            let mut r = item(c);
            let info = r.prune.as_mut().expect("set above");
            match o.decision {
                Decision::Deleted {
                    digest,
                    tag_only,
                    artifacts,
                } => {
                    r.action = if dry {
                        Action::WouldPrune
                    } else {
                        Action::Pruned
                    };
                    r.target_digest = Some(digest);
                    info.tag_only = tag_only;
                    info.artifacts = artifacts;
                    if args.max == 0 && !ctx.dry_run {
                        r.warnings
                            .push("--prune-max 0: planned only, nothing deleted".into());
                    }
                }
                Decision::Absent => continue,
                Decision::Changed { now } => {
                    r.action = Action::PruneRefused;
                    r.target_digest = Some(now.clone());
                    r.warnings.push(format!(
                        "{} was changed to {now} while it was being pruned: left alone",
                        c.tag
                    ));
                }
                Decision::Kept { digest, reason } => {
                    r.action = Action::PruneRefused;
                    r.target_digest = Some(digest);
                    r.warnings.push(reason);
                }
                Decision::Failed { digest, error } => {
                    r.action = Action::PruneRefused;
                    r.target_digest = digest;
                    r.error = Some(error_text(&error, HintStyle::SyncFile));
                    r.exit_code = Some(error.exit_code());
                }
            }
            result.items.push(r);
        }
    }
    if !ctx.dry_run && args.max > 0 && ctx.bundle.is_none() {
        result.gc = collect(ctx, cfg, &result.items, args.gc_min_age).await;
    }
    result
}

/// A `prune-refused` item for a whole entry (`TARGET:*`).
fn guarded(cfg: &Config, i: usize, g: &Guard) -> ItemReport {
    let img = &cfg.images[i];
    let mut r = ItemReport::new(
        i,
        &format!("{}:*", source_name(&img.source.reference)),
        &format!("{}:*", img.target.text),
    );
    r.action = Action::PruneRefused;
    match g {
        // The failure that stopped it is reported (and counted) already, or there is none.
        Guard::ListingFailed
        | Guard::ItemsFailed(_)
        | Guard::OtherListingFailed(_)
        | Guard::FarUnknown(_) => r.warnings.push(g.to_string()),
        _ => {
            r.error = Some(g.to_string());
            r.exit_code = Some(crate::exit::PARTIAL_FAILURE);
        }
    }
    r
}

/// Plan entry `i`: the target's tags in its scope, the rules, the source's 404s.
async fn plan(
    ctx: &RunCtx,
    cfg: &Config,
    i: usize,
    facts: &EntryFacts,
    selected: &HashSet<String>,
    (target, prefix): &(String, String),
    result: &mut PruneResult,
) -> std::result::Result<Vec<Candidate>, Guard> {
    let img = &cfg.images[i];
    let listed = facts.listed.as_deref().unwrap_or_default();
    // What the target holds: tag → digest where known (bundle: the far side's, from the
    // inventories and the ledger).
    let held: BTreeMap<String, Option<Digest>> = match &ctx.bundle {
        Some((near, _)) if !near.far_tags.knows(target) => {
            return Err(Guard::FarUnknown(target.clone()))
        }
        Some((near, _)) => near
            .far_tags
            .tags(target)
            .into_iter()
            .map(|(t, d)| (t, Some(d)))
            .collect(),
        None => target_tags(ctx, &img.target.reference, prefix)
            .await
            .map_err(|e| Guard::TargetListingFailed(e.to_string()))?
            .into_iter()
            .map(|t| (t, None))
            .collect(),
    };
    let tags: Vec<String> = held.keys().cloned().collect();
    let p = plan_entry(&img.tags, listed, selected, &tags);
    if !p.not_owned.is_empty() {
        result.not_owned.push(NotOwned {
            image: i,
            target: img.target.text.clone(),
            tags: p.not_owned.clone(),
        });
    }
    let mut answers = vec![];
    if !p.check_source.is_empty() {
        let src = ctx
            .eps
            .source(&img.source.reference)
            .await
            .map_err(|e| Guard::SourceCheckFailed("the source".into(), e.to_string()))?;
        for t in &p.check_source {
            let a = match src.resolve(t).await {
                Ok(None) => SourceAnswer::Gone,
                Ok(Some(_)) => SourceAnswer::Present,
                Err(e) => SourceAnswer::Failed(e.to_string()),
            };
            answers.push((t.clone(), a));
        }
    }
    Ok(settle(&p, &answers)?
        .into_iter()
        .map(|(tag, why)| Candidate {
            far_digest: held.get(&tag).cloned().flatten(),
            tag,
            why,
        })
        .collect())
}

/// The tags of `target` in a scope: a registry's tag list; a layout's ref names under `prefix`
/// (their tag parts).
async fn target_tags(ctx: &RunCtx, target: &ImageRef, prefix: &str) -> Result<Vec<String>> {
    let Some(dst) = ctx.eps.target(target, true).await? else {
        return Ok(vec![]);
    };
    match dst.inner() {
        Endpoint::Registry(r) => r.list_tags().await,
        Endpoint::Layout(l) => Ok(l
            .refs()?
            .into_iter()
            .filter_map(|(n, _, _)| n)
            .filter(|n| split_ref(n).0 == prefix)
            .map(|n| split_ref(&n).1.to_string())
            .collect()),
    }
}

/// Collect the garbage of every layout a prune removed refs from.
async fn collect(
    ctx: &RunCtx,
    cfg: &Config,
    items: &[ItemReport],
    min_age: Duration,
) -> Vec<GcReport> {
    let mut dirs: Vec<std::path::PathBuf> = vec![];
    for r in items.iter().filter(|r| r.action == Action::Pruned) {
        if let ImageRef::Layout(l) = &cfg.images[r.image].target.reference {
            if !dirs.contains(&l.path) {
                dirs.push(l.path.clone());
            }
        }
    }
    let mut out = vec![];
    for d in dirs {
        let done = match Layout::open(&d) {
            Ok(l) => {
                l.with_lock_timeout(ctx.eps.transfer.lock_timeout)
                    .gc(false, min_age)
                    .await
            }
            Err(e) => Err(e),
        };
        match done {
            Ok(g) => out.push(g),
            Err(e) => ctx.printer.warn(&format!(
                "collecting the garbage of oci:{} after the prune: {e}",
                d.display()
            )),
        }
    }
    out
}
