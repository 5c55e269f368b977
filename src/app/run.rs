//! The wiring of `copy` and `inspect`: settings → endpoints → the use case → report.
//!
//! What is printed, and where, is decided here and in `sync/`; the writing itself goes through
//! the [`Printer`](crate::app::printer::Printer). The engine modules never print.

use std::sync::Arc;

use crate::app::bundle::{layout_ref, BundleSummary, Near};
use crate::app::cli::{BundleCommand, Cli, Command, CopyArgs, InspectArgs, OutputFormat};
use crate::app::printer::{CliReporter, Printer};
use crate::app::settings::{CopySettings, EndpointSettings, InspectSettings};
use crate::engine::image::{mirror_image, ImageJob, Mode, TargetSlot};
use crate::engine::progress::{Event, Reporter};
use crate::engine::report::Report;
use crate::engine::resolve;
use crate::error::{Error, ErrorKind, Result};
use crate::exit;
use crate::interrupt::CancelToken;
use crate::model::reference::ImageRef;
use crate::transport::layout::Layout;
use crate::transport::registry::{RegistryClient, RegistryRepo};
use crate::transport::Endpoint;

/// Run the parsed command line; returns the exit code on success paths. `cancel` is the
/// token `main.rs` cancels on SIGINT/SIGTERM.
pub async fn run(cli: &Cli, printer: Printer, cancel: &CancelToken) -> Result<u8> {
    let started = std::time::Instant::now();
    let (name, r) = match &cli.command {
        Command::Copy(args) => (
            "copy",
            match crate::app::hooks::Hooks::from_copy_args(&args.hooks) {
                Err(e) => Err(Error::usage(e)),
                Ok(hooks) => {
                    let r = copy_command(args, printer, cancel).await;
                    crate::app::hooks::after_copy(args, &hooks, r, printer).await
                }
            },
        ),
        Command::Inspect(args) => ("inspect", inspect_command(args, printer, cancel).await),
        Command::Inventory(args) => (
            "inventory",
            crate::app::inventory::inventory_command(args, printer, cancel).await,
        ),
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
        Command::Bundle(BundleCommand::Apply(args)) => (
            "bundle apply",
            crate::app::bundle::apply::apply_command(args, printer, cancel).await,
        ),
        Command::Bundle(BundleCommand::Check { dir }) => (
            "bundle check",
            crate::app::bundle::apply::check_command(dir, printer).await,
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
    crate::app::metrics::after_command(&cli.command, started, &r, printer);
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

/// `mirror copy`: one image through the use case (`engine::image::mirror_image`), reported.
async fn copy_command(args: &CopyArgs, printer: Printer, cancel: &CancelToken) -> Result<u8> {
    let mut s = CopySettings::from_args(args, cancel)?;
    let reporter = Arc::new(CliReporter::new(printer));
    let (source_text, target_text) = (
        s.source.reference.to_string(),
        s.target.reference.to_string(),
    );
    // `--bundle DIR`: the target is the far side's; the image goes into the bundle's layout.
    let near = Near::open(&args.bundle)?;
    let bundled = near.as_ref().map(|n| {
        let far = s.target.reference.clone();
        let digest = far.digest().or(s.source.reference.digest()).cloned();
        let lref = layout_ref(&far, s.target_tag.as_deref(), digest.as_ref());
        s.target.reference = n.layout_target(Some(lref.clone()));
        s.target_tag = Some(lref.clone());
        (n.clone(), far, lref)
    });
    let open = |side, push| interruptible(cancel, open_endpoint(side, push, s.lock_timeout));
    let src = Arc::new(open(&s.source, false).await?);
    // A target that cannot hold the image yet (a layout that does not exist) is created only
    // when something is written, after the source was read successfully.
    let target = match &s.target.reference {
        ImageRef::Layout(l) if l.archive || !l.path.join("oci-layout").is_file() => {
            let (side, lock) = (s.target.clone(), s.lock_timeout);
            TargetSlot::Later(Box::new(move || {
                Box::pin(async move { Ok(Arc::new(open_endpoint(&side, true, lock).await?)) })
            }))
        }
        _ => match open(&s.target, !s.dry_run).await {
            Ok(d) => TargetSlot::Open(Arc::new(d)),
            // A dry run needs nothing from the target: without it, its state reads as absent.
            Err(e) if s.dry_run && e.kind() != ErrorKind::Interrupted => {
                reporter.event(Event::Warning(format!(
                    "cannot read the target {target_text} ({e}); planning as if it were empty"
                )));
                TargetSlot::Later(Box::new(|| {
                    Box::pin(async { Err(Error::Internal("a dry run opened its target".into())) })
                }))
            }
            Err(e) => return Err(e),
        },
    };
    let job = ImageJob {
        source_reference: s.source.reference.reference(),
        target_tag: s.target_tag.clone(),
        source_text: source_text.clone(),
        target_text: target_text.clone(),
        on_reject: s.on_reject,
        jobs: s.jobs,
        retry: s.target.client.retry,
        artifacts: s.artifacts.clone(),
        mode: if s.dry_run { Mode::DryRun } else { Mode::Write },
        require_platforms: s.require_platforms,
        dry_run_details: true,
        cache: None,
        gate: None,
        write_lock: None,
        cancel: cancel.clone(),
        selector: s.selector,
        signatures: s.signatures.clone(),
        delta: bundled.as_ref().map(|(n, far, _)| n.delta(far)),
        known_blobs: Default::default(),
    };
    let _writing = (!s.dry_run).then(|| cancel.writing());
    let r: Arc<dyn Reporter> = reporter.clone();
    let outcome = with_grace(cancel, mirror_image(&job, &src, target, &r)).await;
    reporter.finish();
    let outcome = outcome?;
    let report = Report::from_outcome(
        &source_text,
        &target_text,
        &outcome,
        job.on_reject,
        reporter.warnings(),
    );
    emit(&report, printer, s.dry_run);
    if let Some((near, far, lref)) = &bundled {
        let delta = job.delta.clone().unwrap_or_else(|| near.delta(far));
        near.record((&source_text, far, &target_text), lref, &outcome, delta);
        finish_bundle(near, s.dry_run, printer, cancel).await?;
    }
    Ok(exit::OK)
}

/// Seal a `--bundle` (or, dry run, estimate it) and print its summary.
pub async fn finish_bundle(
    near: &Near,
    dry_run: bool,
    printer: Printer,
    cancel: &CancelToken,
) -> Result<()> {
    let summary = if dry_run {
        BundleSummary::estimated(near)
    } else {
        let created = crate::app::bundle::now_utc();
        match crate::app::bundle::seal::seal(near, created, cancel).await? {
            Some(m) => BundleSummary::sealed(&near.dir, &m),
            None => {
                printer.warn(&format!(
                    "bundle {}: no image was written, nothing sealed",
                    near.dir.display()
                ));
                return Ok(());
            }
        }
    };
    summary.print(printer);
    Ok(())
}

/// Run `f` unless an interrupt arrives first (for steps that leave nothing open to clean up).
pub(crate) async fn interruptible<T>(
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
    crate::app::metrics::record([crate::app::metrics::ItemResult::from_copy(report)]);
    crate::app::hooks::note_copy_report(report);
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
    let src_reference = reference.reference();
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
