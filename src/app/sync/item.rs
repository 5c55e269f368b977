//! The item runner: one work item of a sync (or of `sync --verify`) from its configuration
//! entry, with the run's shared endpoints, cache, pull budget and write locks, through
//! [`refresh::run`](super::refresh::run), into an [`ItemReport`]. A failure becomes a `failed`
//! (or, verifying, `incomplete`) item rather than the run's error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::app::printer::{CliReporter, Printer};
use crate::engine::artifacts::ArtifactOptions;
use crate::engine::select::Selector;
use crate::error::Result;
use crate::interrupt::CancelToken;
use crate::transport::retry::RetryPolicy;

use crate::app::sync::config::{Config, ImageSettings};
use crate::app::sync::endpoints::Endpoints;
use crate::app::sync::expand::source_name;
use crate::app::sync::output::error_text;
use crate::app::sync::refresh::{self, ItemEnv, WorkItem};
use crate::app::sync::report::{Action, ItemReport};
use crate::app::sync::store::ManifestCache;
use crate::error::hints::HintStyle;

fn selector(s: &ImageSettings) -> Selector {
    Selector {
        platforms: s.platform_filter().clone(),
        attestations: s.attestations,
        platformless: s.platformless,
        rules: s.rules.clone(),
        include_foreign: s.include_foreign,
    }
}

fn artifact_options(s: &ImageSettings) -> ArtifactOptions {
    ArtifactOptions {
        referrers: s.referrers,
        types: s.artifact_filter().clone(),
        digest_tags: s.digest_tags,
        attestations: s.attestations,
        include_foreign: s.include_foreign,
        jobs: s.jobs,
    }
}

/// Everything an item run needs besides the item.
pub(crate) struct RunCtx {
    pub(crate) eps: Endpoints,
    pub(crate) cache: Option<Arc<ManifestCache>>,
    pub(crate) min_rate_remaining: u64,
    pub(crate) rate_gate: Arc<tokio::sync::Mutex<()>>,
    pub(crate) write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) retry: RetryPolicy,
    pub(crate) dry_run: bool,
    pub(crate) printer: Printer,
    pub(crate) cancel: CancelToken,
    /// `--bundle`: the bundle and each image's far-side target.
    pub(crate) bundle: Option<(
        Arc<crate::app::bundle::near::Near>,
        Vec<crate::model::reference::ImageRef>,
    )>,
    /// `sign-key` / `--sign-key`: the site keys, read before any item runs.
    pub(crate) signing: crate::app::signing::SyncSigning,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Sync,
    Verify,
}

pub(crate) async fn run_item(
    ctx: &RunCtx,
    cfg: &Config,
    item: &WorkItem,
    mode: Mode,
) -> ItemReport {
    let started = Instant::now();
    let mut out = ItemReport::new(item.image, &item.source_text, &item.target_text);
    let settings = cfg.settings(item.image);
    let reporter = Arc::new(CliReporter::for_item(ctx.printer, &item.source_text));
    let img = &cfg.images[item.image];
    let artifacts = artifact_options(settings);
    let result: Result<()> = async {
        let src = Arc::new(ctx.eps.source(&img.source.reference).await?);
        let dry = ctx.dry_run || mode == Mode::Verify;
        let dst = ctx
            .eps
            .target(&img.target.reference, dry)
            .await?
            .map(Arc::new);
        let env = ItemEnv {
            src,
            dst,
            selector: selector(settings),
            on_reject: settings.on_reject,
            jobs: settings.jobs,
            retry: ctx.retry,
            artifacts,
            cache: ctx.cache.clone(),
            min_rate_remaining: ctx.min_rate_remaining,
            rate_gate: ctx.rate_gate.clone(),
            write_lock: ctx
                .write_locks
                .lock()
                .expect("not poisoned")
                // A bundle holds every image in one layout: one writer per far repository
                // (the layout takes concurrent writers; index.json is updated under its lock).
                .entry(match &ctx.bundle {
                    Some((_, fars)) => source_name(&fars[item.image]),
                    None => source_name(&img.target.reference),
                })
                .or_default()
                .clone(),
            mode: match mode {
                Mode::Verify => crate::engine::image::Mode::Verify,
                Mode::Sync if ctx.dry_run => crate::engine::image::Mode::DryRun,
                Mode::Sync => crate::engine::image::Mode::Write,
            },
            reporter: reporter.clone(),
            cancel: ctx.cancel.clone(),
            signatures: settings.signatures.clone(),
            site_signing: match mode {
                Mode::Sync => ctx.signing.for_image(settings),
                Mode::Verify => None,
            },
            bundle: ctx.bundle.as_ref().map(|(near, fars)| refresh::BundleSlot {
                near: near.clone(),
                far: fars[item.image].clone(),
            }),
        };
        // The use case cancels the upload sessions a failed or interrupted copy left open.
        let r = refresh::run(env, item, &mut out).await;
        r
    }
    .await;
    if let Err(e) = result {
        out.action = match mode {
            Mode::Sync => Action::Failed,
            Mode::Verify => Action::Incomplete,
        };
        out.error = Some(error_text(&e, HintStyle::SyncFile));
        out.exit_code = Some(e.exit_code());
    }
    let mut warnings = reporter.warnings();
    warnings.append(&mut out.warnings);
    out.warnings = warnings;
    out.duration_seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    out
}
