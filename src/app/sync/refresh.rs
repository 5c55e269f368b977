//! Sync's per-item step: one (image, tag) work item through the use case
//! ([`mirror_image`]), reported as an [`ItemReport`].
//!
//! Everything about the image itself (the target's state, the plan, the copy, repairs, the
//! read-only checks of `verify` and `--dry-run`) is the engine's (`engine/image/`). What stays
//! here is the batch side:
//! - the work item (tag expansion made it, `tags.rs`), and the item's report;
//! - the Docker Hub pull budget: before any source GET, `ratelimit-remaining` (read from the
//!   source HEAD) is compared with `--min-rate-remaining`; below it the item pauses, says so,
//!   and re-reads the budget with HEAD requests until the window allows ([`BudgetGate`]);
//! - one writer per target repository (`ItemEnv::write_lock`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use crate::app::sync::report::{Action, ItemReport};
use crate::app::sync::store::{Gated, ManifestCache};
use crate::engine::artifacts::ArtifactOptions;
use crate::engine::copy::OnReject;
use crate::engine::image::{
    mirror_image, ImageAction, ImageJob, ImageOutcome, Mode, PullGate, TargetSlot, TargetState,
};
use crate::engine::progress::{Event, Reporter};
use crate::engine::select::Selector;
use crate::error::{Error, Result};
use crate::interrupt::CancelToken;
use crate::transport::retry::RetryPolicy;
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
    /// Sparse rejection policy.
    pub on_reject: OnReject,
    /// Concurrent transfers and checks of this item.
    pub jobs: usize,
    /// Retry policy for whole blob copies.
    pub retry: RetryPolicy,
    /// Referrers and digest tags to copy or check.
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
    /// Write, dry run or verify.
    pub mode: Mode,
    /// Engine events of this item.
    pub reporter: Arc<dyn Reporter>,
    /// Cancellation.
    pub cancel: CancelToken,
    /// `require-signature`, checked by the use case before anything is written.
    pub signatures: crate::engine::signature::Policy,
    /// `--bundle`: the item is written into the bundle for its far-side target.
    pub bundle: Option<BundleSlot>,
    /// `sign-key`: the gateway's site signing of this item.
    pub site_signing: Option<Arc<crate::engine::signature::publish::SiteSigning>>,
}

/// A `--bundle` item: the bundle, and the far-side target its image is for.
pub struct BundleSlot {
    /// The bundle being written.
    pub near: Arc<crate::app::bundle::near::Near>,
    /// The image's far-side target (without tag).
    pub far: crate::model::reference::ImageRef,
}

/// Run one item through the use case, filling `out`.
pub async fn run(env: ItemEnv, item: &WorkItem, out: &mut ItemReport) -> Result<()> {
    let pauses = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let gate: Option<Arc<dyn PullGate>> = (env.min_rate_remaining > 0).then(|| {
        Arc::new(BudgetGate {
            pauses: pauses.clone(),
            src: env.src.clone(),
            min: env.min_rate_remaining,
            rate_gate: env.rate_gate.clone(),
            reporter: env.reporter.clone(),
            source_reference: item.source_reference.clone(),
            source_text: item.source_text.clone(),
        }) as Arc<dyn PullGate>
    });
    let mode = env.mode;
    let job = ImageJob {
        source_reference: item.source_reference.clone(),
        target_tag: item.target_tag.clone(),
        source_text: item.source_text.clone(),
        target_text: item.target_text.clone(),
        selector: env.selector,
        on_reject: env.on_reject,
        jobs: env.jobs,
        retry: env.retry,
        artifacts: env.artifacts,
        mode,
        require_platforms: false,
        dry_run_details: false,
        cache: env.cache,
        gate,
        write_lock: Some(env.write_lock),
        cancel: env.cancel,
        signatures: env.signatures,
        delta: env.bundle.as_ref().map(|b| b.near.delta(&b.far)),
        known_blobs: Default::default(),
        transfer: env.src.transfer(),
        site_signing: env.site_signing,
    };
    let target = match env.dst {
        Some(d) => TargetSlot::Open(d),
        None => TargetSlot::Later(Box::new(|| {
            Box::pin(async {
                Err(Error::Internal(
                    "no target endpoint outside a dry run".into(),
                ))
            })
        })),
    };
    let o = mirror_image(&job, &env.src, target, &env.reporter).await;
    if let (Some(b), Some(delta), Ok(o)) = (&env.bundle, &job.delta, &o) {
        b.near.record(
            (&item.source_text, &b.far, &item.target_text),
            &item.target_reference,
            o,
            delta.clone(),
        );
    }
    out.rate_limit_pauses = pauses.load(std::sync::atomic::Ordering::Relaxed);
    let o = o?;
    fill(&o, mode, out);
    Ok(())
}

/// The item report of an outcome: the same state and digests `mirror copy` reports.
pub(crate) fn fill(o: &ImageOutcome, mode: Mode, out: &mut ItemReport) {
    out.source_digest = Some(o.source_digest.clone());
    out.target_digest = o.before.resolves_to().cloned();
    let state = if mode == Mode::Write {
        &o.after
    } else {
        &o.before
    };
    out.target_state = Some(state.clone());
    out.children_checked = if o.children_checked > 0 || o.action != ImageAction::Copied {
        o.children_checked
    } else {
        o.plan.manifests.len()
    };
    if let Some(c) = &o.copy {
        out.repaired = c.repaired.clone();
        out.manifests_pushed = c.manifests_pushed;
        out.blobs = c.blobs.clone();
    }
    if let Some(a) = &o.artifacts {
        let b = &a.blobs;
        out.manifests_pushed += a.manifests_pushed;
        out.blobs.copied += b.copied;
        out.blobs.copied_bytes += b.copied_bytes;
        out.blobs.existing += b.existing;
        out.blobs.existing_bytes += b.existing_bytes;
        out.blobs.mounted += b.mounted;
        out.blobs.mounted_bytes += b.mounted_bytes;
    }
    out.planned_bytes = o.planned_bytes;
    out.missing = o.missing.clone();
    out.signatures = o.signatures.clone();
    out.signed = o.signed.clone();
    out.action = match o.action {
        ImageAction::UpToDate => Action::SkippedUnchanged,
        ImageAction::Copied => Action::Copied,
        ImageAction::Repaired => Action::PartialRepair,
        ImageAction::WouldCopy => Action::WouldCopy,
        ImageAction::WouldRepair => Action::WouldRepair,
        ImageAction::Complete => Action::Complete,
        ImageAction::Incomplete => Action::Incomplete,
    };
    if let (
        TargetState::Filtered {
            source_digest,
            filtered_digest,
        },
        false,
    ) = (state, mode == Mode::Verify)
    {
        out.warnings.push(format!(
            "the target holds the filtered index {filtered_digest} (--on-reject filter) instead of the source index {source_digest}"
        ));
    }
}

/// How long to wait between budget checks while paused.
fn budget_poll() -> Duration {
    if std::env::var_os("MIRROR_TEST").is_some() {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(60)
    }
}

/// Pauses source GETs while the source's pull budget is below the minimum (see the module docs).
struct BudgetGate {
    /// Pauses made (one per low-budget wait), for the item report and the metrics.
    pauses: Arc<std::sync::atomic::AtomicU64>,
    src: Arc<Gated>,
    min: u64,
    rate_gate: Arc<tokio::sync::Mutex<()>>,
    reporter: Arc<dyn Reporter>,
    source_reference: String,
    source_text: String,
}

impl PullGate for BudgetGate {
    fn before_pull(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.wait())
    }
}

impl BudgetGate {
    async fn wait(&self) -> Result<()> {
        let min = self.min;
        let Some(client) = self.src.client() else {
            return Ok(());
        };
        let low = |c: &crate::transport::registry::RegistryClient| {
            c.rate_limit().filter(|r| r.remaining < min)
        };
        if min == 0 || low(client).is_none() {
            return Ok(());
        }
        let _gate = self.rate_gate.lock().await;
        let started = Instant::now();
        let mut said = false;
        while let Some(r) = low(client) {
            if !said {
                let limit = r.limit.map(|l| format!(" of {l}")).unwrap_or_default();
                let window = r
                    .window
                    .map(|w| format!(" per {w}s window"))
                    .unwrap_or_default();
                self.reporter.event(Event::Warning(format!(
                    "{}: ratelimit-remaining is {}{limit}{window}, below --min-rate-remaining {min}: pausing before pulling {}, re-checking every {}s with HEAD requests (they do not count)",
                    client.host(),
                    r.remaining,
                    self.source_text,
                    budget_poll().as_secs_f64()
                )));
                said = true;
                self.pauses
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            tokio::time::sleep(budget_poll()).await;
            self.src
                .resolve(&self.source_reference)
                .await
                .map_err(|e| {
                    e.context(format!(
                        "re-checking the pull budget with {}",
                        self.source_text
                    ))
                })?;
        }
        if said {
            self.reporter.event(Event::Warning(format!(
                "{}: pull budget available again after {:.1}s; resuming",
                client.host(),
                started.elapsed().as_secs_f64()
            )));
        }
        Ok(())
    }
}
