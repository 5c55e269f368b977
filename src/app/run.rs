//! The only wiring: settings → endpoints → resolve → plan → copy → report.
//!
//! What is printed, and where, is decided here and in `sync/`; the writing itself goes through
//! the [`Printer`](crate::app::printer::Printer). The engine modules never print.

use std::sync::Arc;

use crate::app::cli::{Cli, Command, CopyArgs, InspectArgs, OutputFormat};
use crate::app::printer::{CliReporter, Printer};
use crate::app::settings::{CopySettings, EndpointSettings, InspectSettings};
use crate::engine::copy::{self, CopyOptions};
use crate::engine::progress::{Event, Reporter};
use crate::engine::report::Report;
use crate::engine::resolve;
use crate::error::{Error, Result};
use crate::exit;
use crate::interrupt::CancelToken;
use crate::model::reference::ImageRef;
use crate::transport::layout::Layout;
use crate::transport::registry::{RegistryClient, RegistryRepo};
use crate::transport::{Endpoint, Storage};

/// Run the parsed command line; returns the exit code on success paths. `cancel` is the
/// token `main.rs` cancels on SIGINT/SIGTERM.
pub async fn run(cli: &Cli, printer: Printer, cancel: &CancelToken) -> Result<u8> {
    let (name, r) = match &cli.command {
        Command::Copy(args) => ("copy", copy_command(args, printer, cancel).await),
        Command::Inspect(args) => ("inspect", inspect_command(args, printer, cancel).await),
        Command::Man { dir } => (
            "man",
            write_man_pages(dir)
                .map(|()| exit::OK)
                .map_err(|e| Error::Io {
                    what: format!("writing man pages to {}", dir.display()),
                    source: e,
                }),
        ),
        Command::Sync(args) => (
            "sync",
            crate::app::sync::sync_command(args, printer, cancel).await,
        ),
        Command::Verify(args) => (
            "verify",
            crate::app::sync::verify_command(args, printer, cancel).await,
        ),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = vec![];
            clap_complete::generate(*shell, &mut cmd, "mirror", &mut buf);
            printer.out_bytes(&buf);
            ("completions", Ok(exit::OK))
        }
    };
    r.map_err(|e| match e {
        Error::Usage {
            message,
            hint: None,
        } => Error::usage_hint(message, format!("see `mirror {name} --help`")),
        e => e,
    })
}

/// Open a storage for one side.
pub async fn open_endpoint(
    s: &EndpointSettings,
    push: bool,
    lock_timeout: std::time::Duration,
) -> Result<Endpoint> {
    match &s.reference {
        ImageRef::Registry(r) => {
            let client = Arc::new(RegistryClient::new(
                r.api_host(),
                s.auth.clone(),
                s.client.clone(),
            )?);
            let repo = RegistryRepo::new(client, &r.repository, push);
            repo.ping().await.map_err(|e| {
                e.context(format!(
                    "connecting to {} for {}",
                    r.registry,
                    if push { "push" } else { "pull" }
                ))
            })?;
            Ok(Endpoint::Registry(repo))
        }
        ImageRef::Layout(l) => Ok(Endpoint::Layout(
            match (l.archive, push) {
                (false, true) => Layout::create(&l.path)?,
                (false, false) => Layout::open(&l.path)?,
                (true, true) => Layout::create_archive(&l.path)?,
                (true, false) => Layout::open_archive(&l.path)?,
            }
            .with_lock_timeout(lock_timeout),
        )),
    }
}

async fn copy_command(args: &CopyArgs, printer: Printer, cancel: &CancelToken) -> Result<u8> {
    let s = CopySettings::from_args(args, cancel)?;
    let reporter = Arc::new(CliReporter::new(printer));
    let source_text = s.source.reference.to_string();
    let target_text = s.target.reference.to_string();
    let src =
        Arc::new(interruptible(cancel, open_endpoint(&s.source, false, s.lock_timeout)).await?);
    reporter.event(Event::Stage("resolving"));
    let src_reference = source_reference(&s.source.reference);
    // For a real copy, open the target first and compare digests with two HEADs: when the target
    // tag already names the source digest, the manifests are read from the target (same bytes,
    // verified), so an up-to-date rerun costs the source one HEAD and no GET.
    let mut early_dst = None;
    let mut target_current = None;
    let mut root = None;
    // Only a target that can already hold the image is opened early: a layout that does not
    // exist yet must not be created before the source has been read successfully.
    let target_exists = match &s.target.reference {
        ImageRef::Registry(_) => true,
        ImageRef::Layout(l) => !l.archive && l.path.join("oci-layout").is_file(),
    };
    if !s.dry_run && target_exists {
        let dst =
            Arc::new(interruptible(cancel, open_endpoint(&s.target, true, s.lock_timeout)).await?);
        let src_digest = interruptible(cancel, src.resolve(&src_reference)).await?;
        if let Some(d) = &src_digest {
            let target_reference = s.target_tag.clone().unwrap_or_else(|| d.to_string());
            let current = interruptible(cancel, dst.resolve(&target_reference))
                .await
                .map_err(|e| {
                    e.context(format!("checking {target_reference} on {}", dst.describe()))
                })?;
            if current.as_ref() == Some(d) {
                root = dst.fetch_manifest(d.as_str(), None).await.ok();
            }
            target_current = Some(current);
        }
        early_dst = Some(dst);
    }
    let from_target = root.is_some();
    let root = match root {
        Some(r) => r,
        None => interruptible(cancel, resolve::root(src.as_ref(), &src_reference)).await?,
    };
    if s.target_tag.is_none() && !from_target {
        // Pushing by digest: the target was asked about the HEAD's digest, which may differ
        // from the root just fetched if the source tag moved in between. Ask again later.
        target_current = None;
    }
    let (plan, known_present) = interruptible(
        cancel,
        resolve::resolve_preferring(
            src.as_ref(),
            if from_target {
                early_dst.as_deref()
            } else {
                None
            },
            &root,
            &s.selector,
            &source_text,
            s.jobs,
        ),
    )
    .await?;
    if !plan.unmatched.is_empty() {
        let sparse_source = plan.entries.iter().any(|e| {
            e.decision
                == crate::engine::select::Decision::Skip(
                    crate::engine::select::SkipReason::NotInSource,
                )
        });
        if s.require_platforms {
            return Err(Error::PlatformMissing {
                source_ref: source_text,
                missing: plan.unmatched.clone(),
                available: plan.available.clone(),
                sparse_layout: sparse_source,
            });
        }
        reporter.event(Event::Warning(format!(
            "--platform {} matched nothing in {source_text}{} (it has: {})",
            plan.unmatched.join(", "),
            if sparse_source {
                "; the source is sparse and lacks some children"
            } else {
                ""
            },
            plan.available.join(", ")
        )));
    }
    // The signature gate: before anything is written (exit 8 on refusal).
    let signed_children = crate::engine::signature::subjects(&plan);
    let verdict = interruptible(
        cancel,
        crate::engine::signature::gate(
            src.as_ref(),
            &source_text,
            &root,
            &signed_children,
            &s.signatures,
        ),
    )
    .await?;
    let artifact_plan = if s.artifacts.enabled() {
        let r: Arc<dyn Reporter> = reporter.clone();
        crate::engine::artifacts::discover(src.as_ref(), &plan, &s.artifacts, &r).await?
    } else {
        Default::default()
    };
    for f in &plan.foreign {
        reporter.event(Event::Warning(format!(
            "foreign layer {} is not copied (it is fetched from its URLs at pull time)",
            f.digest
        )));
    }
    if s.dry_run {
        let mut report = Report::new(
            &source_text,
            &target_text,
            &plan,
            s.on_reject,
            None,
            reporter.warnings(),
        );
        dry_run_details(src.as_ref(), &root, &s, &plan, &mut report).await;
        report.signatures = verdict.verified.clone();
        report.add_artifacts(&artifact_plan, None);
        emit(&report, printer, true);
        return Ok(exit::OK);
    }
    let _writing = cancel.writing();
    let dst = match early_dst {
        Some(d) => d,
        None => {
            Arc::new(interruptible(cancel, open_endpoint(&s.target, true, s.lock_timeout)).await?)
        }
    };
    let opts = CopyOptions {
        known_present,
        target_current,
        tag: s.target_tag.clone(),
        jobs: s.jobs,
        on_reject: s.on_reject,
        retry: s.target.client.retry,
        source_ref: source_text.clone(),
        target_ref: target_text.clone(),
        include_foreign: s.selector.include_foreign,
        defer_finish: s.artifacts.enabled(),
        cancel: cancel.clone(),
    };
    let outcome = with_grace(
        cancel,
        copy::execute(
            src.clone(),
            dst.clone(),
            plan.clone(),
            &opts,
            reporter.clone(),
        ),
    )
    .await;
    let outcome = match outcome {
        Ok(o) if s.artifacts.enabled() => {
            // Referrers and digest tags go after their subjects, then the layout commits.
            let replaced = matches!(o.reject_action, copy::RejectAction::Filtered { .. })
                .then_some(&plan.root.digest);
            let r: Arc<dyn Reporter> = reporter.clone();
            let copied =
                crate::engine::artifacts::copy(&src, &dst, &artifact_plan, replaced, &opts, &r)
                    .await;
            // The image itself is complete either way: commit it (a layout writes index.json
            // here) even when an artifact failed, then report that failure.
            let finished = dst.finish().await;
            match (copied, finished) {
                (Ok(a), Ok(())) => Ok((o, Some(a))),
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            }
        }
        Ok(o) => Ok((o, None)),
        Err(e) => Err(e),
    };
    reporter.finish();
    if outcome.is_err() {
        // Failed or interrupted: in-flight transfers are dropped by now; cancel the upload
        // sessions they left open.
        dst.abort().await;
    }
    let (outcome, artifacts) = outcome?;
    let mut report = Report::new(
        &source_text,
        &target_text,
        &plan,
        s.on_reject,
        Some(&outcome),
        reporter.warnings(),
    );
    if let Some(a) = &artifacts {
        report.add_artifacts(&artifact_plan, Some(a));
    }
    report.signatures = verdict.verified;
    emit(&report, printer, false);
    Ok(exit::OK)
}

/// Run `f` unless an interrupt arrives first (nothing is open on the target yet).
async fn interruptible<T>(
    cancel: &CancelToken,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = cancel.cancelled() => Err(Error::Interrupted),
    }
}

/// Run the copy; after an interrupt it stops by itself at its next step (and returns
/// `Interrupted`), and this drops it if a step hangs longer than 3 s.
async fn with_grace<T>(
    cancel: &CancelToken,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = async {
            cancel.cancelled().await;
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        } => Err(Error::Interrupted),
    }
}

fn emit(report: &Report, printer: Printer, dry_run: bool) {
    match printer.output {
        OutputFormat::Json => printer.out_json(report),
        OutputFormat::Human if dry_run => printer.out(&report.render_plan()),
        OutputFormat::Human => {
            if printer.verbose {
                printer.info(&report.render_plan());
            }
            printer.info(&report.render_summary());
            if let Some(d) = &report.pushed_digest {
                let name = match report.target.split_once('@') {
                    Some((n, _)) => n.to_string(),
                    None => strip_tag(&report.target),
                };
                printer.out_line(&format!("{name}@{d}"));
            }
        }
    }
}

/// `reg/repo:tag` → `reg/repo` (a `:` after the last `/` only).
fn strip_tag(r: &str) -> String {
    let slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[slash..].rfind(':') {
        Some(i) => r[..slash + i].to_string(),
        None => r.to_string(),
    }
}

/// Write `mirror.1` and `mirror-<sub>.1` for every visible subcommand.
pub fn write_man_pages(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = vec![];
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(dir.join("mirror.1"), &buf)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("mirror-{}", sub.get_name());
        let page = sub
            .clone()
            .display_name(name.clone())
            .bin_name(name.clone());
        let mut buf = vec![];
        clap_mangen::Man::new(page).render(&mut buf)?;
        std::fs::write(dir.join(format!("{name}.1")), &buf)?;
    }
    Ok(())
}

async fn inspect_command(a: &InspectArgs, printer: Printer, cancel: &CancelToken) -> Result<u8> {
    let s = InspectSettings::from_args(a, cancel)?;
    let reference = s.source.reference.clone();
    let side = s.source;
    let src = open_endpoint(&side, false, std::time::Duration::from_secs(60)).await?;
    let src_reference = source_reference(&reference);
    let root = resolve::root(&src, &src_reference).await?;
    let plan = resolve::resolve(
        &src,
        &root,
        &crate::engine::select::Selector::all(),
        &reference.to_string(),
        8,
    )
    .await?;
    let mut inspection = crate::engine::inspect::from_plan(&reference.to_string(), &root, &plan)?;
    if s.referrers {
        let opts = crate::engine::artifacts::ArtifactOptions {
            referrers: true,
            digest_tags: true,
            attestations: true,
            jobs: 8,
            ..Default::default()
        };
        let reporter: Arc<dyn Reporter> = Arc::new(CliReporter::new(Printer {
            progress: false,
            ..printer
        }));
        let found = crate::engine::artifacts::discover(&src, &plan, &opts, &reporter).await?;
        inspection.artifacts = found
            .artifacts
            .iter()
            .map(crate::engine::inspect::InspectArtifact::from)
            .collect();
    }
    match printer.output {
        OutputFormat::Json => printer.out_json(&inspection),
        OutputFormat::Human => printer.out(&inspection.render()),
    }
    Ok(exit::OK)
}

/// The tag or digest to fetch for a reference.
fn source_reference(r: &ImageRef) -> String {
    match r {
        ImageRef::Registry(r) => r.reference(),
        ImageRef::Layout(l) => l
            .digest
            .as_ref()
            .map(|d| d.to_string())
            .or(l.tag.clone())
            .unwrap_or_else(|| "latest".into()),
    }
}

/// Dry-run extras: sizes of the skipped entries (what the filter saves) and the bytes already on
/// the target (HEAD only; the target is opened read-only and nothing is written).
async fn dry_run_details(
    src: &Endpoint,
    root: &crate::model::manifest::RawManifest,
    s: &CopySettings,
    plan: &crate::engine::plan::Plan,
    report: &mut Report,
) {
    if plan.sparse {
        if let Ok(all) = resolve::resolve(
            src,
            root,
            &crate::engine::select::Selector::all(),
            &report.source,
            s.jobs,
        )
        .await
        {
            let sizes: std::collections::HashMap<_, _> = all
                .entries
                .iter()
                .filter_map(|e| Some((e.descriptor.digest.clone(), e.total_size?)))
                .collect();
            for e in report.entries.iter_mut().filter(|e| e.total_size.is_none()) {
                e.total_size = sizes.get(&e.digest).copied();
            }
        }
    }
    let exists = match &s.target.reference {
        ImageRef::Layout(l) => l.path.join("oci-layout").exists() && !l.archive,
        ImageRef::Registry(_) => true,
    };
    if !exists {
        report.present_bytes = Some(0);
        return;
    }
    let Ok(dst) = open_endpoint(&s.target, false, s.lock_timeout).await else {
        return;
    };
    let checks =
        futures_util::StreamExt::collect::<Vec<_>>(futures_util::StreamExt::buffer_unordered(
            futures_util::stream::iter(plan.blobs.iter().map(|b| {
                let dst = &dst;
                async move {
                    dst.has_blob(b)
                        .await
                        .map(|has| if has { b.size } else { 0 })
                }
            })),
            s.jobs,
        ))
        .await;
    if let Ok(sizes) = checks.into_iter().collect::<Result<Vec<u64>>>() {
        report.present_bytes = Some(sizes.iter().sum());
    }
}
