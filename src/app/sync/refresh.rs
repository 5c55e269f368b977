//! The incremental refresh of one (image, tag) work item, and its verification.
//!
//! Refresh, per item:
//! 1. HEAD the source tag (a HEAD is not a pull on Docker Hub) and HEAD the target tag.
//! 2. Equal digests: read the index bytes from the local cache or, failing that, from the TARGET
//!    (byte-identical, since the digest is the same), work out the selected children with the
//!    pure planner, and HEAD each on the target. All present: `skipped-unchanged`, with no GET on
//!    the source, no blob request and no PUT. Newly added platforms show up here as missing.
//! 3. Some missing: pull only those from the source and copy them (`copy::execute` sees the tag
//!    already naming the index and never re-PUTs it): `partial-repair`.
//! 4. Different digest or no tag: a normal copy; manifests the target already holds are read
//!    from the target, not the source.
//!
//! Before any source GET, the Docker Hub pull budget (`ratelimit-remaining`, read from the
//! source HEAD) is compared with `--min-rate-remaining`; below it the item pauses, says so, and
//! re-reads the budget with HEAD requests until the window allows.
//!
//! Verify, per item: the target tag names the source digest; every selected child manifest and
//! each of its blobs is present (HEAD). Missing objects are listed.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::app::sync::report::{Action, ItemReport, Missing};
use crate::app::sync::store::{Gated, ManifestCache, Tiered};
use crate::engine::artifacts::{self, ArtifactOptions};
use crate::engine::copy::{self, CopyOptions, RejectAction};
use crate::engine::plan::{self, Inputs, Outcome};
use crate::engine::progress::{Event, Reporter};
use crate::engine::resolve;
use crate::engine::select::Selector;
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, ManifestView, RawManifest};
use crate::model::media::{self, Kind};
use crate::transport::Storage;

/// One (image, tag) or (image, digest) unit of work.
#[derive(Debug, Clone)]
pub struct WorkItem {
    /// Index of the `images:` entry.
    pub image: usize,
    /// The tag or digest to HEAD/GET on the source.
    pub source_reference: String,
    /// The tag (or, for untagged pins, the digest) on the target.
    pub target_reference: String,
    /// The tag to write, `None` for digest pins.
    pub target_tag: Option<String>,
    /// `REGISTRY/REPO:TAG` (or `@DIGEST`, `oci:DIR:TAG`) for messages and reports.
    pub source_text: String,
    /// The same for the target.
    pub target_text: String,
    /// Shard key: `SOURCE:TAG` or `SOURCE@DIGEST`.
    pub key: String,
}

/// Everything one item needs.
pub struct ItemEnv {
    /// Source endpoint.
    pub src: Arc<Gated>,
    /// Target endpoint; `None` only in a dry run whose OCI-layout target does not exist yet.
    pub dst: Option<Arc<Gated>>,
    /// Platform selection.
    pub selector: Selector,
    /// Copy options (tag, jobs, on-reject, retries, names).
    pub copy: CopyOptions,
    /// Referrers and digest tags to copy or check (`copy.defer_finish` is set when enabled).
    pub artifacts: ArtifactOptions,
    /// The local manifest cache.
    pub cache: Option<Arc<ManifestCache>>,
    /// `--min-rate-remaining` (0: never pause).
    pub min_rate_remaining: u64,
    /// Serialises rate-limit pauses across the run.
    pub rate_gate: Arc<tokio::sync::Mutex<()>>,
    /// Held while writing: items of one target repository write one at a time (checks still
    /// run in parallel), so tags of one image never push the same blobs concurrently; registries
    /// such as distribution 2.8 answer such races with spurious `DIGEST_INVALID` errors.
    pub write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Plan and check only.
    pub dry_run: bool,
    /// Engine events of this item.
    pub reporter: Arc<dyn Reporter>,
    /// The signature gate (`require-signature`), checked before anything is written.
    pub signatures: crate::engine::signature::Policy,
}

/// How long to wait between budget checks while paused.
fn budget_poll() -> Duration {
    if std::env::var_os("MIRROR_TEST").is_some() {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(60)
    }
}

/// The selected children of `root` (image manifests, attestations and nested indexes), reading
/// only index manifests through `fetch`; image manifests are never fetched.
pub async fn selected_children<F, Fut>(
    root: &RawManifest,
    sel: &Selector,
    source_ref: &str,
    mut fetch: F,
) -> Result<Vec<Descriptor>>
where
    F: FnMut(Descriptor) -> Fut,
    Fut: Future<Output = Result<RawManifest>>,
{
    if !root.is_index() {
        return Ok(vec![]);
    }
    let mut fetched: HashMap<Digest, RawManifest> = HashMap::new();
    let absent = HashSet::new();
    for _round in 0..=plan::MAX_DEPTH + 1 {
        let inputs = Inputs {
            fetched: &fetched,
            absent: &absent,
            root_platform: None,
            source_ref,
        };
        let need = match plan::plan(root, sel, &inputs)? {
            Outcome::Complete(p) => {
                return Ok(p.manifests.iter().map(descriptor_of).collect());
            }
            Outcome::Need(list) => list,
        };
        // Indexes (and entries of unknown type) must be read to decide what is inside them.
        let (to_read, images): (Vec<Descriptor>, Vec<Descriptor>) = need
            .into_iter()
            .partition(|d| media::kind(&d.media_type) != Kind::Image);
        let to_read: Vec<Descriptor> = to_read
            .into_iter()
            .filter(|d| !fetched.contains_key(&d.digest))
            .collect();
        if to_read.is_empty() {
            let wanted: HashSet<Digest> = images.iter().map(|d| d.digest.clone()).collect();
            let mut out = images;
            for m in fetched.values() {
                let keep =
                    !m.is_index() || descendants(m, &fetched).iter().any(|d| wanted.contains(d));
                if keep {
                    out.push(descriptor_of(m));
                }
            }
            return Ok(out);
        }
        for d in to_read {
            let m = fetch(d.clone()).await?;
            fetched.insert(d.digest.clone(), m);
        }
    }
    Err(Error::Internal(
        "working out the selected children did not converge".into(),
    ))
}

fn descendants(m: &RawManifest, fetched: &HashMap<Digest, RawManifest>) -> Vec<Digest> {
    let mut out = vec![];
    let mut stack = vec![m.clone()];
    let mut guard = 0;
    while let Some(x) = stack.pop() {
        guard += 1;
        if guard > 10_000 {
            break;
        }
        if let Ok(ManifestView::Index { manifests, .. }) = x.view() {
            for d in manifests {
                if let Some(inner) = fetched.get(&d.digest) {
                    stack.push(inner.clone());
                }
                out.push(d.digest);
            }
        }
    }
    out
}

fn descriptor_of(m: &RawManifest) -> Descriptor {
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

/// A manifest by digest from the cache, else from `from` (then cached).
async fn by_digest(
    d: &Digest,
    hint: Option<&str>,
    cache: Option<&ManifestCache>,
    from: &Gated,
) -> Result<RawManifest> {
    if let Some(c) = cache {
        if let Some(m) = c.get(d, hint).await {
            return Ok(m);
        }
    }
    let m = from
        .fetch_manifest(d.as_str(), hint)
        .await
        .map_err(|e| e.context(format!("reading {d} from {}", from.describe())))?;
    if let Some(c) = cache {
        c.put(&m).await;
    }
    Ok(m)
}

/// HEAD each descriptor on `dst`; returns the missing ones, in order.
async fn missing_on(dst: &Gated, list: &[Descriptor], jobs: usize) -> Result<Vec<Descriptor>> {
    let checks: Vec<(Descriptor, Result<bool>)> = futures_util::stream::iter(list.iter().cloned())
        .map(|d| async move {
            let has = dst.has_manifest(&d).await;
            (d, has)
        })
        .buffered(jobs.max(1))
        .collect()
        .await;
    let mut out = vec![];
    for (d, has) in checks {
        let has = has.map_err(|e| {
            e.context(format!(
                "checking manifest {} on {}",
                d.digest,
                dst.describe()
            ))
        })?;
        if !has {
            out.push(d);
        }
    }
    Ok(out)
}

/// Pause while the source's pull budget is below the minimum (see the module docs).
async fn wait_for_budget(env: &ItemEnv, item: &WorkItem) -> Result<()> {
    let min = env.min_rate_remaining;
    let Some(client) = env.src.client() else {
        return Ok(());
    };
    let low = |c: &crate::transport::registry::RegistryClient| {
        c.rate_limit().filter(|r| r.remaining < min)
    };
    if min == 0 || low(client).is_none() {
        return Ok(());
    }
    let _gate = env.rate_gate.lock().await;
    let started = Instant::now();
    let mut said = false;
    while let Some(r) = low(client) {
        if !said {
            let limit = r.limit.map(|l| format!(" of {l}")).unwrap_or_default();
            let window = r
                .window
                .map(|w| format!(" per {w}s window"))
                .unwrap_or_default();
            env.reporter.event(Event::Warning(format!(
                "{}: ratelimit-remaining is {}{limit}{window}, below --min-rate-remaining {min}: pausing before pulling {}, re-checking every {}s with HEAD requests (they do not count)",
                client.host(),
                r.remaining,
                item.source_text,
                budget_poll().as_secs_f64()
            )));
            said = true;
        }
        tokio::time::sleep(budget_poll()).await;
        env.src.resolve(&item.source_reference).await.map_err(|e| {
            e.context(format!(
                "re-checking the pull budget with {}",
                item.source_text
            ))
        })?;
    }
    if said {
        env.reporter.event(Event::Warning(format!(
            "{}: pull budget available again after {:.1}s; resuming",
            client.host(),
            started.elapsed().as_secs_f64()
        )));
    }
    Ok(())
}

fn source_missing(src: &Gated, item: &WorkItem) -> Error {
    let what = match item.source_reference.parse::<Digest>() {
        Ok(d) => format!("manifest {d}"),
        Err(_) => format!("tag {}", item.source_reference),
    };
    Error::Missing {
        what,
        place: format!(
            "{} (HEAD answered 404: the repository or the tag does not exist)",
            src.describe()
        ),
        sparse: false,
    }
}

/// Run one item (see the module docs), filling `out`.
pub async fn refresh(env: &ItemEnv, item: &WorkItem, out: &mut ItemReport) -> Result<()> {
    let src = &env.src;
    let jobs = env.copy.jobs;
    let sd = src
        .resolve(&item.source_reference)
        .await
        .map_err(|e| e.context(format!("checking {} (HEAD)", item.source_text)))?
        .ok_or_else(|| source_missing(src, item))?;
    out.source_digest = Some(sd.clone());
    let td = match &env.dst {
        Some(dst) => dst
            .resolve(&item.target_reference)
            .await
            .map_err(|e| e.context(format!("checking {} (HEAD)", item.target_text)))?,
        None => None,
    };
    out.target_digest = td.clone();
    let cache = env.cache.as_deref();

    if let (Some(dst), true) = (&env.dst, td.as_ref() == Some(&sd)) {
        let root = by_digest(&sd, None, cache, dst).await?;
        let children = selected_children(&root, &env.selector, &item.source_text, |d| {
            let hint = Some(d.media_type.clone()).filter(|m| !m.is_empty());
            async move { by_digest(&d.digest, hint.as_deref(), cache, dst).await }
        })
        .await?;
        out.children_checked = children.len();
        let missing = missing_on(dst, &children, jobs).await?;
        if missing.is_empty() {
            out.action = Action::SkippedUnchanged;
            if env.artifacts.enabled() && !env.dry_run {
                // Referrers and digest tags can appear at any time: discover them on the source
                // (the plan is read from the target) and copy what the target lacks.
                let tiered = Tiered {
                    source: src.clone(),
                    target: dst.clone(),
                    on_target: children.iter().map(|d| d.digest.clone()).collect(),
                    cache: env.cache.clone(),
                };
                let plan = resolve::resolve(&tiered, &root, &env.selector, &item.source_text, jobs)
                    .await?;
                let _writing = env.write_lock.lock().await;
                if with_artifacts(env, &plan, None, dst, out).await? {
                    out.action = Action::PartialRepair;
                }
            }
            return Ok(());
        }
        let missing_set: HashSet<&Digest> = missing.iter().map(|d| &d.digest).collect();
        let on_target: HashSet<Digest> = children
            .iter()
            .filter(|d| !missing_set.contains(&d.digest))
            .map(|d| d.digest.clone())
            .collect();
        wait_for_budget(env, item).await?;
        let tiered = Tiered {
            source: src.clone(),
            target: dst.clone(),
            on_target,
            cache: env.cache.clone(),
        };
        let plan = resolve::resolve(&tiered, &root, &env.selector, &item.source_text, jobs).await?;
        signature_gate(env, item, &plan).await?;
        if env.dry_run {
            out.action = Action::WouldRepair;
            out.missing = missing.iter().map(|d| missing_manifest(d, &plan)).collect();
            let wanted: Vec<RawManifest> = plan
                .manifests
                .iter()
                .filter(|m| missing_set.contains(&m.digest))
                .cloned()
                .collect();
            let blobs: HashSet<&Digest> = wanted
                .iter()
                .filter_map(|m| plan.manifest_blobs.get(&m.digest))
                .flatten()
                .collect();
            out.planned_bytes = Some(
                plan.blobs
                    .iter()
                    .filter(|b| blobs.contains(&b.digest))
                    .map(|b| b.size)
                    .sum(),
            );
            return Ok(());
        }
        let _writing = env.write_lock.lock().await;
        let outcome = copy::execute(
            src.clone(),
            dst.clone(),
            plan.clone(),
            &env.copy,
            env.reporter.clone(),
        )
        .await?;
        out.repaired = outcome.repaired.clone();
        out.manifests_pushed = outcome.manifests_pushed;
        out.blobs = outcome.blobs.clone();
        let artifacts_written =
            env.artifacts.enabled() && with_artifacts(env, &plan, None, dst, out).await?;
        out.action = if outcome.repaired.is_empty() && !artifacts_written {
            Action::SkippedUnchanged
        } else {
            Action::PartialRepair
        };
        return Ok(());
    }

    // The target does not name this digest: plan from the source (reading what the target or the
    // cache already holds from there), then copy.
    wait_for_budget(env, item).await?;
    let tiered = Tiered {
        source: src.clone(),
        target: env.dst.clone().unwrap_or_else(|| src.clone()),
        on_target: HashSet::new(),
        cache: env.cache.clone(),
    };
    let root = tiered
        .fetch_manifest(sd.as_str(), None)
        .await
        .map_err(|e| e.context(format!("fetching {}", item.source_text)))?;
    let plan = resolve::resolve(&tiered, &root, &env.selector, &item.source_text, jobs).await?;
    if !plan.unmatched.is_empty() {
        env.reporter.event(Event::Warning(format!(
            "platform(s) {} matched nothing in {} (it has: {})",
            plan.unmatched.join(", "),
            item.source_text,
            plan.available.join(", ")
        )));
    }
    for f in &plan.foreign {
        env.reporter.event(Event::Warning(format!(
            "foreign layer {} is not copied (it is fetched from its URLs at pull time)",
            f.digest
        )));
    }
    out.children_checked = plan.manifests.len();
    signature_gate(env, item, &plan).await?;
    if env.dry_run {
        out.action = Action::WouldCopy;
        out.planned_bytes = Some(plan.blob_bytes());
        return Ok(());
    }
    let dst = env
        .dst
        .as_ref()
        .ok_or_else(|| Error::Internal("no target endpoint outside a dry run".into()))?;
    let _writing = env.write_lock.lock().await;
    let outcome = copy::execute(
        src.clone(),
        dst.clone(),
        plan.clone(),
        &env.copy,
        env.reporter.clone(),
    )
    .await?;
    if let Some(c) = cache {
        c.put(&plan.root).await;
        for m in plan.manifests.iter().filter(|m| m.is_index()) {
            c.put(m).await;
        }
    }
    out.repaired = outcome.repaired.clone();
    out.manifests_pushed = outcome.manifests_pushed;
    out.blobs = outcome.blobs.clone();
    let replaced =
        matches!(outcome.reject_action, RejectAction::Filtered { .. }).then_some(&plan.root.digest);
    let artifacts_written =
        env.artifacts.enabled() && with_artifacts(env, &plan, replaced, dst, out).await?;
    out.action = if outcome.up_to_date && outcome.repaired.is_empty() && !artifacts_written {
        Action::SkippedUnchanged
    } else if outcome.up_to_date {
        Action::PartialRepair
    } else {
        Action::Copied
    };
    if matches!(outcome.reject_action, RejectAction::Filtered { .. }) {
        out.warnings.push(format!(
            "the target holds a filtered index {} (--on-reject filter) instead of {}",
            outcome.pushed_digest, sd
        ));
    }
    Ok(())
}

/// `require-signature`: a valid signature over the source index (and, with
/// `require-signature-children`, each selected child) before anything is written; the item
/// fails with exit-8's message otherwise.
async fn signature_gate(env: &ItemEnv, item: &WorkItem, plan: &plan::Plan) -> Result<()> {
    let children = crate::engine::signature::subjects(plan);
    crate::engine::signature::gate(
        env.src.as_ref(),
        &item.source_text,
        &plan.root,
        &children,
        &env.signatures,
    )
    .await
    .map(|_| ())
}

/// Discover the plan's referrers and digest tags on the source and copy what the target lacks,
/// then commit the target (the copy was told to defer `finish`). Returns whether anything was
/// written.
async fn with_artifacts(
    env: &ItemEnv,
    plan: &plan::Plan,
    replaced: Option<&Digest>,
    dst: &Arc<Gated>,
    out: &mut ItemReport,
) -> Result<bool> {
    let copied = async {
        let ap = artifacts::discover(env.src.as_ref(), plan, &env.artifacts, &env.reporter).await?;
        artifacts::copy(&env.src, dst, &ap, replaced, &env.copy, &env.reporter).await
    }
    .await;
    // The image itself is complete either way: commit it, then report an artifact failure.
    let finished = dst.finish().await;
    let a = copied?;
    finished?;
    let b = &a.blobs;
    out.manifests_pushed += a.manifests_pushed;
    out.blobs.copied += b.copied;
    out.blobs.copied_bytes += b.copied_bytes;
    out.blobs.existing += b.existing;
    out.blobs.existing_bytes += b.existing_bytes;
    out.blobs.mounted += b.mounted;
    out.blobs.mounted_bytes += b.mounted_bytes;
    Ok(a.manifests_pushed > 0 || b.copied > 0 || b.mounted > 0)
}

fn missing_manifest(d: &Descriptor, plan: &plan::Plan) -> Missing {
    let platform = plan
        .entries
        .iter()
        .find(|e| e.descriptor.digest == d.digest)
        .map(|e| match e.descriptor.attestation_subject() {
            Some(s) => format!("attestation of {}", s.short()),
            None => e.platform_text(),
        });
    Missing {
        kind: "manifest".into(),
        digest: Some(d.digest.clone()),
        platform,
        of: None,
    }
}

/// Verify one item (see the module docs), filling `out` with `complete` or `incomplete`.
pub async fn verify(env: &ItemEnv, item: &WorkItem, out: &mut ItemReport) -> Result<()> {
    let src = &env.src;
    let jobs = env.copy.jobs;
    let sd = src
        .resolve(&item.source_reference)
        .await
        .map_err(|e| e.context(format!("checking {} (HEAD)", item.source_text)))?
        .ok_or_else(|| source_missing(src, item))?;
    out.source_digest = Some(sd.clone());
    let Some(dst) = &env.dst else {
        out.action = Action::Incomplete;
        out.missing.push(Missing {
            kind: "tag".into(),
            digest: None,
            platform: None,
            of: None,
        });
        return Ok(());
    };
    let td = dst
        .resolve(&item.target_reference)
        .await
        .map_err(|e| e.context(format!("checking {} (HEAD)", item.target_text)))?;
    out.target_digest = td.clone();
    match &td {
        None => {
            out.action = Action::Incomplete;
            out.missing.push(Missing {
                kind: "tag".into(),
                digest: None,
                platform: None,
                of: None,
            });
            return Ok(());
        }
        Some(t) if *t != sd => {
            out.action = Action::Incomplete;
            out.missing.push(Missing {
                kind: "wrong-digest".into(),
                digest: Some(t.clone()),
                platform: None,
                of: None,
            });
            return Ok(());
        }
        Some(_) => {}
    }
    let cache = env.cache.as_deref();
    let root = by_digest(&sd, None, cache, dst).await?;
    // Plan against the target: children it lacks are marked absent (so planning goes on) and
    // reported unless the source lacks them too (a sparse source is not the mirror's fault).
    let mut fetched: HashMap<Digest, RawManifest> = HashMap::new();
    let mut absent: HashSet<Digest> = HashSet::new();
    let mut missing_children: Vec<Descriptor> = vec![];
    let root_is_index = root.is_index();
    let all = Selector::all();
    let sel = if root_is_index { &env.selector } else { &all };
    let plan = loop {
        let inputs = Inputs {
            fetched: &fetched,
            absent: &absent,
            root_platform: None,
            source_ref: &item.source_text,
        };
        match plan::plan(&root, sel, &inputs)? {
            Outcome::Complete(p) => break p,
            Outcome::Need(list) => {
                let results: Vec<(Descriptor, Result<RawManifest>)> =
                    futures_util::stream::iter(list)
                        .map(|d| async move {
                            let hint = Some(d.media_type.clone()).filter(|m| !m.is_empty());
                            let r = if media::kind(&d.media_type) == Kind::Index {
                                by_digest(&d.digest, hint.as_deref(), cache, dst).await
                            } else {
                                dst.fetch_manifest(d.digest.as_str(), hint.as_deref()).await
                            };
                            (d, r)
                        })
                        .buffered(jobs.max(1))
                        .collect()
                        .await;
                for (d, r) in results {
                    match r {
                        Ok(m) => {
                            fetched.insert(d.digest.clone(), m);
                        }
                        Err(e) if e.is_missing() => {
                            absent.insert(d.digest.clone());
                            let in_source = src.has_manifest(&d).await.map_err(|e| {
                                e.context(format!("checking {} on {}", d.digest, src.describe()))
                            })?;
                            if in_source {
                                missing_children.push(d);
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    };
    out.children_checked = plan.manifests.len() + missing_children.len();
    for d in &missing_children {
        out.missing.push(missing_manifest(d, &plan));
    }
    // Blobs of every manifest that is present (the root's too, for a single image).
    let blobs = plan.blobs.clone();
    let checks: Vec<(Descriptor, Result<bool>)> = futures_util::stream::iter(blobs)
        .map(|b| async move {
            let has = dst.has_blob(&b).await;
            (b, has)
        })
        .buffered(jobs.max(1))
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
    if env.artifacts.enabled() {
        let ap = artifacts::discover(src.as_ref(), &plan, &env.artifacts, &env.reporter).await?;
        for a in &ap.artifacts {
            let present = match &a.tag {
                Some(t) => dst.resolve(t).await? == Some(a.manifest.digest.clone()),
                None => dst.has_manifest(&copy::descriptor_of(&a.manifest)).await?,
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
    }
    out.action = if out.missing.is_empty() {
        Action::Complete
    } else {
        Action::Incomplete
    };
    Ok(())
}
