//! Deleting the tags a prune plan names from one target repository or layout, with the
//! artifacts mirrored for them, and nothing another kept tag still needs.
//!
//! For each planned tag (`sync --prune`, `bundle apply --prune`):
//! 1. Every ref of the target is read with its digest (registry: `tags/list`, then a HEAD per
//!    tag; layout: `index.json`). A planned tag that is gone is `Absent`; one that names another
//!    digest than the plan expected (a bundle's plan, made on the near side) is `Changed` and
//!    left alone.
//! 2. What must stay: the digests of every other tag (artifact tags aside) and the manifests
//!    reachable from them (an index's children).
//! 3. A planned digest that must stay gets a **tag-only** delete (`DELETE …/manifests/<tag>`,
//!    OCI 1.1's optional tag deletion; a layout drops the ref). A registry that cannot do that
//!    (distribution 2.8: 400) keeps the tag, and the outcome says why (`Kept`).
//! 4. Otherwise the artifacts go first, then the manifest by digest, then any tag still naming
//!    it (go-containerregistry keeps tags when a digest is deleted): the subjects are the digest
//!    and its children that nothing kept reaches; their artifacts are the cosign-style
//!    `sha256-<hex>.<suffix>` tags (with `digest_tags`) and the referrers (with `referrers`:
//!    the referrers API, or the `sha256-<hex>` fallback index, which goes too), referrers of
//!    referrers included. Artifacts first and the tag last: an interrupted prune leaves the tag,
//!    so the next run finds it again and finishes.
//!
//! A layout only ever loses refs (one `index.json` write for the whole plan); its blobs go by
//! `Layout::gc`. Registries keep unreferenced blobs until their own garbage collection.

mod target;
pub mod types;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use crate::engine::prune::target::{Ref, Target};
use crate::engine::prune::types::{
    split_ref, ArtifactGone, Decision, Planned, PruneJob, PruneOutcome,
};
use crate::engine::referrers::{
    digest_tag_suffix, fallback_tag, index_entries, MAX_REFERRER_DEPTH,
};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::ManifestView;
use crate::model::media::{self, Kind};
use crate::model::prune::is_artifact_tag;
use crate::transport::endpoint::Endpoint;

/// Run `job` against `dst` (see the module docs).
pub async fn prune(dst: &Endpoint, job: &PruneJob) -> Result<Vec<PruneOutcome>> {
    match dst {
        Endpoint::Registry(r) => run(r, job).await,
        Endpoint::Layout(l) => run(l, job).await,
    }
}

/// One digest to delete and the planned tags naming it.
struct Group {
    digest: Digest,
    media_type: String,
    tags: Vec<Planned>,
}

async fn run<T: Target>(t: &T, job: &PruneJob) -> Result<Vec<PruneOutcome>> {
    let refs = t.refs(job.jobs).await?;
    let by_name: BTreeMap<&str, &Ref> = refs.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut out = vec![];
    let mut groups: BTreeMap<Digest, Group> = BTreeMap::new();
    for p in &job.planned {
        let Some(r) = by_name.get(p.tag.as_str()) else {
            out.push(PruneOutcome {
                planned: p.clone(),
                decision: Decision::Absent,
            });
            continue;
        };
        if p.expected.as_ref().is_some_and(|e| *e != r.digest) {
            out.push(PruneOutcome {
                planned: p.clone(),
                decision: Decision::Changed {
                    now: r.digest.clone(),
                },
            });
            continue;
        }
        groups
            .entry(r.digest.clone())
            .or_insert_with(|| Group {
                digest: r.digest.clone(),
                media_type: r.media_type.clone(),
                tags: vec![],
            })
            .tags
            .push(p.clone());
    }
    if groups.is_empty() {
        return Ok(out);
    }
    let doomed: HashSet<&str> = groups
        .values()
        .flat_map(|g| g.tags.iter().map(|p| p.tag.as_str()))
        .collect();
    // What stays: every other non-artifact ref and what it reaches.
    let kept_roots: Vec<&Ref> = refs
        .iter()
        .filter(|r| !doomed.contains(r.name.as_str()) && !is_artifact_tag(split_ref(&r.name).1))
        .collect();
    let kept = closure(t, &kept_roots).await?;
    for g in groups.into_values() {
        let decisions = group(t, job, &refs, &kept_roots, &kept, &g).await;
        for (p, decision) in g.tags.into_iter().zip(decisions) {
            out.push(PruneOutcome {
                planned: p,
                decision,
            });
        }
    }
    // In the plan's order.
    out.sort_by_key(|o| job.planned.iter().position(|p| p.tag == o.planned.tag));
    Ok(out)
}

/// Whether a manifest of this media type may be an index: an index type, or no type at all (a
/// registry that sends no `Content-Type`); the manifest itself then tells.
fn may_be_index(media_type: &str) -> bool {
    media_type.is_empty() || media::kind(media_type) == Kind::Index
}

/// Every digest reachable from `roots` (index children, recursively, where present).
async fn closure<T: Target>(t: &T, roots: &[&Ref]) -> Result<BTreeSet<Digest>> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<(Digest, String)> = roots
        .iter()
        .map(|r| (r.digest.clone(), r.media_type.clone()))
        .collect();
    while let Some((d, mt)) = stack.pop() {
        if !seen.insert(d.clone()) || !may_be_index(&mt) {
            continue;
        }
        if let Some(m) = t.manifest(&d, &mt).await? {
            // A kept index that does not parse protects children nobody can name: nothing is
            // pruned rather than guessing.
            match m.view() {
                Ok(ManifestView::Index { manifests, .. }) => {
                    stack.extend(manifests.into_iter().map(|c| (c.digest, c.media_type)))
                }
                Ok(_) => {}
                Err(source) => {
                    return Err(Error::Manifest {
                        what: format!(
                        "kept manifest {d} in {} (what it needs is unknown, so nothing is pruned)",
                        t.describe()
                    ),
                        source,
                    })
                }
            }
        }
    }
    Ok(seen)
}

/// Delete one digest group; one decision per planned tag, in order.
async fn group<T: Target>(
    t: &T,
    job: &PruneJob,
    refs: &[Ref],
    kept_roots: &[&Ref],
    kept: &BTreeSet<Digest>,
    g: &Group,
) -> Vec<Decision> {
    let n = g.tags.len();
    let same = |make: &dyn Fn() -> Decision| (0..n).map(|_| make()).collect::<Vec<_>>();
    if kept.contains(&g.digest) {
        let by: Vec<&str> = kept_roots
            .iter()
            .filter(|r| r.digest == g.digest)
            .map(|r| r.name.as_str())
            .collect();
        let why = match by.is_empty() {
            true => "a kept tag's index lists it".to_string(),
            false => format!("kept tag(s) {} name it too", by.join(", ")),
        };
        let mut out = vec![];
        for p in &g.tags {
            out.push(if job.dry_run {
                Decision::Deleted {
                    digest: g.digest.clone(),
                    tag_only: true,
                    artifacts: vec![],
                }
            } else {
                t.delete_tag_alone(&p.tag, &g.digest, &why).await
            });
        }
        return out;
    }
    let artifacts = match artifacts_of(t, job, refs, kept, g).await {
        Ok(a) => a,
        Err(e) => {
            let e = e.context(format!(
                "finding the artifacts of {} in {} before deleting it",
                g.digest,
                t.describe()
            ));
            return failed(n, &g.digest, e);
        }
    };
    if job.dry_run {
        return same(&|| Decision::Deleted {
            digest: g.digest.clone(),
            tag_only: false,
            artifacts: artifacts.clone(),
        });
    }
    let names: Vec<String> = g.tags.iter().map(|p| p.tag.clone()).collect();
    match t.delete(&g.digest, &names, &artifacts).await {
        Ok(()) => same(&|| Decision::Deleted {
            digest: g.digest.clone(),
            tag_only: false,
            artifacts: artifacts.clone(),
        }),
        Err(e) => failed(n, &g.digest, e),
    }
}

/// The `n` tags of one digest group all failed with `e` (one error, its kind and hint kept).
fn failed(n: usize, digest: &Digest, e: Error) -> Vec<Decision> {
    let error = Arc::new(e);
    (0..n)
        .map(|_| Decision::Failed {
            digest: Some(digest.clone()),
            error: error.clone(),
        })
        .collect()
}

/// The artifacts of `g`'s subjects that nothing kept needs, deepest first.
async fn artifacts_of<T: Target>(
    t: &T,
    job: &PruneJob,
    refs: &[Ref],
    kept: &BTreeSet<Digest>,
    g: &Group,
) -> Result<Vec<ArtifactGone>> {
    if !job.referrers && !job.digest_tags {
        return Ok(vec![]);
    }
    let prefix = split_ref(&g.tags[0].tag).0;
    let mut subjects = vec![g.digest.clone()];
    if may_be_index(&g.media_type) {
        if let Some(m) = t.manifest(&g.digest, &g.media_type).await? {
            if let Ok(ManifestView::Index { manifests, .. }) = m.view() {
                subjects.extend(
                    manifests
                        .into_iter()
                        .map(|c| c.digest)
                        .filter(|d| !kept.contains(d)),
                );
            }
        }
    }
    let mut found: Vec<ArtifactGone> = vec![];
    let mut seen: HashSet<Digest> = subjects.iter().cloned().collect();
    let mut level = subjects;
    for depth in 0..=MAX_REFERRER_DEPTH {
        let mut next = vec![];
        for s in &level {
            let ft = fallback_tag(s);
            // Refs of this repository (a shared layout holds other repositories' refs too).
            let mine = refs.iter().filter(|r| split_ref(&r.name).0 == prefix);
            if job.digest_tags {
                for r in mine.clone() {
                    if digest_tag_suffix(split_ref(&r.name).1, s).is_some() {
                        found.push(gone("digest-tag", Some(&r.name), &r.digest, s));
                    }
                }
            }
            if !job.referrers || depth == MAX_REFERRER_DEPTH {
                continue;
            }
            let fallback = mine.clone().find(|r| split_ref(&r.name).1 == ft);
            let listed = match t.referrers_api(s).await? {
                Some(list) => list,
                None => match fallback {
                    Some(f) => match t.manifest(&f.digest, &f.media_type).await? {
                        Some(m) => index_entries(&m)?,
                        None => vec![],
                    },
                    None => vec![],
                },
            };
            if let Some(f) = fallback {
                found.push(gone("referrers-index", Some(&f.name), &f.digest, s));
            }
            for d in listed {
                if seen.insert(d.digest.clone()) {
                    found.push(gone("referrer", None, &d.digest, s));
                    next.push(d.digest);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    // Nothing a kept tag reaches or another remaining tag names, and each digest once; deepest
    // (found last) first.
    let going: HashSet<&str> = g
        .tags
        .iter()
        .map(|p| p.tag.as_str())
        .chain(found.iter().filter_map(|a| a.tag.as_deref()))
        .collect();
    let named: HashSet<&Digest> = refs
        .iter()
        .filter(|r| !going.contains(r.name.as_str()))
        .map(|r| &r.digest)
        .collect();
    let mut once = HashSet::new();
    found.retain(|a| {
        !kept.contains(&a.digest)
            && !named.contains(&a.digest)
            && once.insert((a.digest.clone(), a.tag.clone()))
    });
    found.reverse();
    Ok(found)
}

fn gone(kind: &str, tag: Option<&str>, digest: &Digest, subject: &Digest) -> ArtifactGone {
    ArtifactGone {
        kind: kind.into(),
        tag: tag.map(str::to_string),
        digest: digest.clone(),
        subject: subject.clone(),
    }
}

#[cfg(test)]
mod tests;
