//! The only wiring: settings → endpoints → resolve → plan → copy → report.
//!
//! Also the CLI side of output: the [`CliReporter`] that turns engine events into progress bars
//! (terminal only) or log lines, and the rendering of results and errors. The engine modules
//! never print; this module decides what goes to stdout (results) and stderr (everything else).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

use crate::app::cli::{Cli, ColorChoice, Command, CopyArgs, InspectArgs, OutputFormat};
use crate::app::settings::{CopySettings, EndpointSettings, UsageError};
use crate::engine::image::{mirror_image, ImageJob, Mode, TargetSlot};
use crate::engine::progress::{Event, Reporter};
use crate::engine::report::Report;
use crate::engine::resolve;
use crate::error::{Error, Result};
use crate::exit;
use crate::model::reference::ImageRef;
use crate::transport::layout::Layout;
use crate::transport::registry::{RegistryClient, RegistryRepo};
use crate::transport::Endpoint;

/// What the run decided about stderr.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Draw progress bars.
    pub progress: bool,
    /// Print warnings and summaries.
    pub quiet: bool,
    /// Use colour.
    pub color: bool,
}

impl Printer {
    /// Decide once, from the flags and the terminal.
    pub fn new(cli: &Cli) -> Self {
        let tty = std::io::stderr().is_terminal();
        let g = &cli.global;
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none(),
        };
        Printer {
            progress: tty
                && !g.no_progress
                && g.verbose == 0
                && g.quiet == 0
                && g.output == OutputFormat::Human
                && std::env::var_os("MIRROR_TEST").is_none(),
            quiet: g.quiet > 0,
            color,
        }
    }

    /// Print an error with its causes and hints to stderr.
    pub fn error(&self, e: &dyn std::error::Error, hints: &[String]) {
        let (red, yellow, reset) = if self.color {
            ("\x1b[31m", "\x1b[33m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{red}error{reset}: {e}");
        let mut src = e.source();
        while let Some(s) = src {
            let _ = writeln!(err, "  caused by: {s}");
            src = s.source();
        }
        for h in hints {
            let _ = writeln!(err, "{yellow}hint{reset}: {h}");
        }
    }

    fn warn(&self, msg: &str) {
        if !self.quiet {
            let (y, r) = if self.color {
                ("\x1b[33m", "\x1b[0m")
            } else {
                ("", "")
            };
            eprintln!("{y}warning{r}: {msg}");
        }
    }
}

/// Engine events → progress bar / logs; warnings are also collected for the report.
pub struct CliReporter {
    printer: Printer,
    bar: Option<ProgressBar>,
    warnings: Mutex<Vec<String>>,
}

impl CliReporter {
    fn new(printer: Printer) -> Self {
        let bar = printer.progress.then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b
        });
        CliReporter {
            printer,
            bar,
            warnings: Mutex::new(vec![]),
        }
    }
    fn warnings(&self) -> Vec<String> {
        self.warnings.lock().expect("not poisoned").clone()
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Reporter for CliReporter {
    fn event(&self, e: Event) {
        match e {
            Event::Stage(s) => {
                tracing::debug!(stage = s, "stage");
                if let Some(b) = &self.bar {
                    b.set_message(s);
                }
            }
            Event::BlobsPlanned { count, bytes } => {
                tracing::debug!(count, bytes, "blobs planned");
                if let Some(b) = &self.bar {
                    b.set_length(bytes);
                    b.set_position(0);
                }
            }
            Event::BlobStarted { digest, size } => {
                tracing::debug!(%digest, size, "blob copy started")
            }
            Event::BlobBytes { n, .. } => {
                if let Some(b) = &self.bar {
                    b.inc(n);
                }
            }
            Event::BlobDone {
                digest,
                size,
                outcome,
            } => {
                tracing::debug!(%digest, size, ?outcome, "blob done");
                if let Some(b) = &self.bar {
                    if outcome != crate::engine::progress::BlobOutcome::Copied {
                        b.inc(size);
                    }
                }
            }
            Event::ManifestPushed { digest, tag } => {
                tracing::debug!(%digest, tag = tag.as_deref().unwrap_or(""), "manifest pushed")
            }
            Event::Warning(w) => {
                match &self.bar {
                    Some(b) => b.suspend(|| self.printer.warn(&w)),
                    None => self.printer.warn(&w),
                }
                self.warnings.lock().expect("not poisoned").push(w);
            }
            Event::Info(i) => tracing::info!("{i}"),
        }
    }
}

/// A failure of the whole command: a usage error or an engine error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad arguments (exit 2).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] Error),
}

impl RunError {
    /// The exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Usage(_) => exit::USAGE,
            RunError::Engine(e) => e.exit_code(),
        }
    }
    /// Hints for the user.
    pub fn hints(&self) -> Vec<String> {
        match self {
            RunError::Usage(_) => vec!["see `mirror copy --help`".into()],
            RunError::Engine(e) => e.hints(),
        }
    }
}

/// Run the parsed command line; returns the exit code on success paths.
pub async fn run(cli: &Cli, printer: Printer) -> std::result::Result<u8, RunError> {
    match &cli.command {
        Command::Copy(args) => copy_command(cli, args, printer).await,
        Command::Inspect(args) => inspect_command(cli, args).await,
        Command::Man { dir } => {
            write_man_pages(dir).map_err(|e| {
                RunError::Engine(Error::Io {
                    what: format!("writing man pages to {}", dir.display()),
                    source: e,
                })
            })?;
            Ok(exit::OK)
        }
        Command::Sync(args) => crate::app::sync::sync_command(cli, args, printer).await,
        Command::Verify(args) => crate::app::sync::verify_command(cli, args, printer).await,
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = vec![];
            clap_complete::generate(*shell, &mut cmd, "mirror", &mut buf);
            write_stdout(&buf);
            Ok(exit::OK)
        }
    }
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
async fn copy_command(
    cli: &Cli,
    args: &CopyArgs,
    printer: Printer,
) -> std::result::Result<u8, RunError> {
    let s = CopySettings::from_args(args)?;
    let reporter = Arc::new(CliReporter::new(printer));
    let (source_text, target_text) = (
        s.source.reference.to_string(),
        s.target.reference.to_string(),
    );
    let src = Arc::new(interruptible(open_endpoint(&s.source, false, s.lock_timeout)).await?);
    // A target that cannot hold the image yet (a layout that does not exist) is created only
    // when something is written, after the source was read successfully.
    let exists = match &s.target.reference {
        ImageRef::Registry(_) => true,
        ImageRef::Layout(l) => !l.archive && l.path.join("oci-layout").is_file(),
    };
    let target = if exists {
        let opened = interruptible(open_endpoint(&s.target, !s.dry_run, s.lock_timeout)).await;
        match opened {
            Ok(d) => TargetSlot::Open(Arc::new(d)),
            // A dry run goes on without the target (its state reads as absent).
            Err(e) if s.dry_run && !matches!(e, Error::Interrupted) => {
                reporter.event(Event::Warning(format!("cannot read {target_text}: {e}")));
                TargetSlot::Later(Box::new(|| Box::pin(async { Err(Error::Interrupted) })))
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        let (side, lock) = (s.target.clone(), s.lock_timeout);
        TargetSlot::Later(Box::new(move || {
            Box::pin(async move { Ok(Arc::new(open_endpoint(&side, true, lock).await?)) })
        }))
    };
    let job = ImageJob {
        source_reference: source_reference(&s.source.reference),
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
        selector: s.selector,
    };
    let _writing = (!s.dry_run).then(crate::interrupt::writing);
    let r: Arc<dyn Reporter> = reporter.clone();
    let outcome = with_grace(mirror_image(&job, &src, target, &r)).await;
    reporter.finish();
    let outcome = outcome?;
    let report = Report::from_outcome(
        &source_text,
        &target_text,
        &outcome,
        job.on_reject,
        reporter.warnings(),
    );
    emit(cli, &report, printer, s.dry_run);
    Ok(exit::OK)
}

/// Run `f` unless an interrupt arrives first (nothing is open on the target yet).
async fn interruptible<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = crate::interrupt::wait() => Err(Error::Interrupted),
    }
}

/// Run the copy; after an interrupt it stops by itself at its next step (and returns
/// `Interrupted`), and this drops it if a step hangs longer than 3 s.
async fn with_grace<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = async {
            crate::interrupt::wait().await;
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        } => Err(Error::Interrupted),
    }
}

fn emit(cli: &Cli, report: &Report, printer: Printer, dry_run: bool) {
    let mut out = std::io::stdout().lock();
    match cli.global.output {
        OutputFormat::Json => {
            let _ = serde_json::to_writer_pretty(&mut out, report);
            let _ = writeln!(out);
        }
        OutputFormat::Human if dry_run => {
            let _ = write!(out, "{}", report.render_plan());
        }
        OutputFormat::Human => {
            if !printer.quiet {
                if cli.global.verbose > 0 {
                    eprint!("{}", report.render_plan());
                }
                eprint!("{}", report.render_summary());
            }
            if let Some(d) = &report.pushed_digest {
                let name = match report.target.split_once('@') {
                    Some((n, _)) => n.to_string(),
                    None => strip_tag(&report.target),
                };
                let _ = writeln!(out, "{name}@{d}");
            }
        }
    }
    let _ = out.flush();
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

async fn inspect_command(cli: &Cli, a: &InspectArgs) -> std::result::Result<u8, RunError> {
    let reference: ImageRef = a.source.parse().map_err(|e| UsageError(format!("{e}")))?;
    let mut client = crate::transport::registry::ClientOptions {
        insecure_tls: !a.src_tls_verify,
        ..Default::default()
    };
    let auth = match &reference {
        ImageRef::Registry(r) => {
            client.plain_http = a.src_plain_http;
            client.http_fallback = !a.src_plain_http && r.is_loopback();
            client.tls = crate::auth::tls::for_registry(None, &r.registry).map_err(UsageError)?;
            let flags = crate::auth::credentials::CredentialFlags {
                side: "src",
                creds: a.src_creds.as_deref(),
                password_stdin: false,
                registry_token: None,
                authfile: a.src_authfile.as_deref(),
            };
            crate::auth::credentials::resolve(&r.registry, &r.repository, &flags, &mut || {
                Err(UsageError("mirror inspect does not read stdin".into()))
            })?
        }
        ImageRef::Layout(_) => crate::auth::Auth::anonymous(),
    };
    let side = EndpointSettings {
        reference: reference.clone(),
        client,
        auth,
    };
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
    if a.referrers {
        let opts = crate::engine::artifacts::ArtifactOptions {
            referrers: true,
            digest_tags: true,
            attestations: true,
            jobs: 8,
            ..Default::default()
        };
        let reporter: Arc<dyn Reporter> = Arc::new(CliReporter::new(Printer {
            progress: false,
            quiet: cli.global.quiet > 0,
            color: false,
        }));
        let found = crate::engine::artifacts::discover(&src, &plan, &opts, &reporter).await?;
        inspection.artifacts = found
            .artifacts
            .iter()
            .map(crate::engine::inspect::InspectArtifact::from)
            .collect();
    }
    let mut out = std::io::stdout().lock();
    match cli.global.output {
        OutputFormat::Json => {
            let _ = serde_json::to_writer_pretty(&mut out, &inspection);
            let _ = writeln!(out);
        }
        OutputFormat::Human => {
            let _ = write!(out, "{}", inspection.render());
        }
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

/// Write to stdout; a closed pipe (`mirror … | head`) is not an error.
fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing to stdout: {e}");
        }
    }
}
