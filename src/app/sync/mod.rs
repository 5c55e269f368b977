//! `mirror sync` and `mirror verify`: declarative batch mirroring (the CLI side).
//!
//! ```text
//! mirror.yaml ─config.rs─▶ Config (validated; errors name file:line and key; nothing runs)
//!   expand: list tags where rules need it (tags.rs) → WorkItems → duplicate check → shard.rs
//!   run: --parallel items, each refresh.rs (HEAD/HEAD → skip | repair | copy), store.rs gates
//!        blob transfers run-wide and remembers blobs for mounts
//!   report.rs: a JSON line per item + summary, or per-item lines + a table; exit 0 / 6 / 7
//! ```
//!
//! Like `run.rs`, this module decides what is printed; `refresh.rs` and `store.rs` only emit
//! events and return results.

pub mod config;
pub mod refresh;
pub mod report;
pub mod shard;
pub mod store;
pub mod tags;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::app::cli::{Cli, OutputFormat, SyncArgs, VerifyArgs};
use crate::app::run::{Printer, RunError};
use crate::app::settings::UsageError;
use crate::engine::artifacts::ArtifactOptions;
use crate::engine::progress::{Event, Reporter};
use crate::engine::select::Selector;
use crate::error::{Error, Result};
use crate::exit;
use crate::model::platform::PlatformFilter;
use crate::model::reference::{ImageRef, RegistryRef};
use crate::transport::layout::Layout;
use crate::transport::registry::{ClientOptions, RegistryClient};
use crate::transport::retry::RetryPolicy;
use crate::transport::Storage;

use self::config::{Config, ImageSettings, RegistryConfig};
use self::refresh::{ItemEnv, WorkItem};
use self::report::{Action, ItemReport, Line, Summary};
use self::shard::Shard;
use self::store::{Gated, ManifestCache, Shared};

/// Opens endpoints for a run: one HTTP client per registry host (connection pool and token
/// cache shared by every image), layouts created once.
struct Endpoints {
    registries: BTreeMap<String, RegistryConfig>,
    authfile: Option<PathBuf>,
    timeout: Duration,
    retry: RetryPolicy,
    shared: Shared,
    clients: Mutex<HashMap<String, HostClient>>,
    layouts: Mutex<HashSet<PathBuf>>,
}

/// One registry host's client and the outcome of its first `GET /v2/`, made once per run: it
/// settles HTTPS versus plain HTTP for loopback hosts and authenticates up front.
type HostClient = (
    Arc<RegistryClient>,
    Arc<tokio::sync::OnceCell<std::result::Result<(), Arc<Error>>>>,
);

/// A fresh error equal to `e` for the errors a ping can give (network, registry, auth), so a
/// host's failure can be reported by every item that needs it without pinging again.
fn replay(e: &Error, host: &str) -> Error {
    let root = match e.root() {
        Error::Registry(r) => Error::Registry(r.clone()),
        Error::Network {
            method,
            url,
            message,
            transient,
            https_to_http,
        } => Error::Network {
            method: method.clone(),
            url: url.clone(),
            message: message.clone(),
            transient: *transient,
            https_to_http: *https_to_http,
        },
        Error::Auth {
            registry,
            reason,
            credential_source,
            status,
        } => Error::Auth {
            registry: registry.clone(),
            reason: reason.clone(),
            credential_source: credential_source.clone(),
            status: *status,
        },
        other => Error::Internal(other.to_string()),
    };
    root.context(format!(
        "connecting to {host} (first tried earlier in this run)"
    ))
}

impl Endpoints {
    async fn client(&self, r: &RegistryRef) -> Result<Arc<RegistryClient>> {
        let (client, ready) = {
            let mut clients = self.clients.lock().expect("not poisoned");
            match clients.get(&r.registry) {
                Some(c) => c.clone(),
                None => {
                    let rc = self
                        .registries
                        .get(&r.registry)
                        .cloned()
                        .unwrap_or_default();
                    let creds = rc.credentials.as_ref().map(|c| c.0.clone());
                    let flags = crate::auth::credentials::CredentialFlags {
                        side: "src",
                        creds: creds.as_deref(),
                        password_stdin: false,
                        registry_token: None,
                        authfile: self.authfile.as_deref(),
                    };
                    let auth = crate::auth::credentials::resolve(
                        &r.registry,
                        &r.repository,
                        &flags,
                        &mut || {
                            Err(UsageError(
                                "mirror sync reads no password from stdin".into(),
                            ))
                        },
                    )
                    .map_err(|e| {
                        Error::Internal(format!("credentials for {}: {}", r.registry, e.0))
                    })?;
                    let tls = crate::auth::tls::for_registry(None, &r.registry).map_err(|e| {
                        Error::Internal(format!("TLS files for {}: {e}", r.registry))
                    })?;
                    let opts = ClientOptions {
                        plain_http: rc.plain_http,
                        http_fallback: !rc.plain_http && r.is_loopback(),
                        insecure_tls: !rc.tls_verify.unwrap_or(true),
                        timeout: self.timeout,
                        retry: self.retry,
                        tls,
                        ..ClientOptions::default()
                    };
                    let c: HostClient = (
                        Arc::new(RegistryClient::new(r.api_host(), auth, opts)?),
                        Arc::default(),
                    );
                    clients.insert(r.registry.clone(), c.clone());
                    c
                }
            }
        };
        let first = ready
            .get_or_init(|| async {
                client
                    .ping(&r.repository, false)
                    .await
                    .map_err(|e| Arc::new(e.context(format!("connecting to {}", r.registry))))
            })
            .await;
        match first {
            Ok(()) => Ok(client),
            Err(e) => Err(replay(e, &r.registry)),
        }
    }

    async fn source(&self, r: &ImageRef) -> Result<Gated> {
        match r {
            ImageRef::Registry(rr) => {
                let g = Gated::registry(
                    self.client(rr).await?,
                    &rr.repository,
                    false,
                    self.shared.clone(),
                );
                // For tests and tuning: the `tags/list` page size (`n=`).
                Ok(
                    match std::env::var("MIRROR_TAG_PAGE_SIZE")
                        .ok()
                        .and_then(|v| v.parse().ok())
                    {
                        Some(n) => g.with_tags_page_size(n),
                        None => g,
                    },
                )
            }
            ImageRef::Layout(l) => Ok(Gated::layout(Layout::open(&l.path)?, self.shared.clone())),
        }
    }

    /// `None`: a dry run whose layout target does not exist yet. Dry runs and verification
    /// ask for pull access only, so read-only credentials suffice.
    async fn target(&self, r: &ImageRef, dry_run: bool) -> Result<Option<Gated>> {
        match r {
            ImageRef::Registry(rr) => Ok(Some(Gated::registry(
                self.client(rr).await?,
                &rr.repository,
                !dry_run,
                self.shared.clone(),
            ))),
            ImageRef::Layout(l) if dry_run => match l.path.join("oci-layout").exists() {
                true => Ok(Some(Gated::layout(
                    Layout::open(&l.path)?,
                    self.shared.clone(),
                ))),
                false => Ok(None),
            },
            ImageRef::Layout(l) => {
                // Create each layout once, before any image writes to it, so two images cannot
                // race on a fresh index.json.
                let mut ready = self.layouts.lock().expect("not poisoned");
                if ready.insert(l.path.clone()) {
                    Layout::create(&l.path)?;
                }
                drop(ready);
                Ok(Some(Gated::layout(
                    Layout::create(&l.path)?,
                    self.shared.clone(),
                )))
            }
        }
    }
}

/// Collects one item's warnings and forwards them to stderr.
struct ItemReporter {
    label: String,
    quiet: bool,
    warnings: Mutex<Vec<String>>,
}

impl Reporter for ItemReporter {
    fn event(&self, e: Event) {
        match e {
            Event::Warning(w) => {
                if !self.quiet {
                    eprintln!("warning: {}: {w}", self.label);
                }
                self.warnings.lock().expect("not poisoned").push(w);
            }
            Event::Info(i) => tracing::info!(item = %self.label, "{i}"),
            Event::Stage(s) => tracing::debug!(item = %self.label, stage = s, "stage"),
            Event::ManifestPushed { digest, tag } => {
                tracing::debug!(item = %self.label, %digest, tag = tag.as_deref().unwrap_or(""), "manifest pushed")
            }
            Event::BlobDone {
                digest, outcome, ..
            } => tracing::debug!(item = %self.label, %digest, ?outcome, "blob done"),
            _ => {}
        }
    }
}

fn source_name(r: &ImageRef) -> String {
    match r {
        ImageRef::Registry(rr) => rr.name(),
        ImageRef::Layout(l) => format!("oci:{}", l.path.display()),
    }
}

fn with_tag(r: &ImageRef, tag: &str) -> ImageRef {
    let mut r = r.clone();
    match &mut r {
        ImageRef::Registry(rr) => {
            rr.tag = Some(tag.to_string());
            rr.digest = None;
        }
        ImageRef::Layout(l) => {
            l.tag = Some(tag.to_string());
            l.digest = None;
        }
    }
    r
}

fn selector(s: &ImageSettings) -> Selector {
    Selector {
        platforms: PlatformFilter::parse(&s.platforms).expect("validated when the file was read"),
        attestations: s.attestations,
        platformless: s.platformless,
        rules: crate::engine::rules::Rules::parse(&s.always_copy, &s.never_copy)
            .expect("validated when the file was read"),
        include_foreign: s.include_foreign,
    }
}

fn artifact_options(s: &ImageSettings) -> ArtifactOptions {
    ArtifactOptions {
        referrers: s.referrers || !s.artifact_types.is_empty(),
        types: crate::engine::referrers::ArtifactTypeFilter::parse(&s.artifact_types)
            .expect("validated when the file was read"),
        digest_tags: s.digest_tags,
        attestations: s.attestations,
        include_foreign: s.include_foreign,
        jobs: s.jobs,
    }
}

/// The ref name an OCI-layout target gets for `tag` (`full`: `REGISTRY/REPO:TAG`).
fn target_ref_name(cfg: &Config, i: usize, tag: &str) -> String {
    let img = &cfg.images[i];
    match (&img.target.reference, cfg.settings(i).layout_ref_name) {
        (ImageRef::Layout(_), config::LayoutRefName::Full) => {
            format!("{}:{tag}", source_name(&img.source.reference))
        }
        _ => tag.to_string(),
    }
}

/// Expand image `i` into work items (listing the source's tags when its rules need them).
async fn expand(cfg: &Config, i: usize, eps: &Endpoints) -> Result<Vec<WorkItem>> {
    let img = &cfg.images[i];
    let name = source_name(&img.source.reference);
    let target = source_name(&img.target.reference);
    let available = if img.tags.needs_listing() {
        let src = eps.source(&img.source.reference).await?;
        let tags = src
            .list_tags()
            .await
            .map_err(|e| e.context(format!("listing the tags of {name}")))?;
        if tags.is_empty() {
            return Err(Error::Missing {
                what: format!("repository {name}"),
                place: "its registry (tags/list answered 404 or listed no tag)".into(),
                sparse: false,
            });
        }
        tags
    } else {
        vec![]
    };
    let mut items = vec![];
    for t in img.tags.select(&available) {
        let (source_reference, source_text) = match &t.pin {
            Some(d) => (d.to_string(), format!("{name}:{}@{d}", t.tag)),
            None => (t.tag.clone(), format!("{name}:{}", t.tag)),
        };
        let ref_name = target_ref_name(cfg, i, &t.tag);
        items.push(WorkItem {
            image: i,
            source_reference,
            target_reference: ref_name.clone(),
            target_tag: Some(ref_name.clone()),
            source_text,
            target_text: format!("{target}:{ref_name}"),
            key: format!("{name}:{}", t.tag),
        });
    }
    for d in &img.tags.digests {
        items.push(WorkItem {
            image: i,
            source_reference: d.to_string(),
            target_reference: d.to_string(),
            target_tag: None,
            source_text: format!("{name}@{d}"),
            target_text: format!("{target}@{d}"),
            key: format!("{name}@{d}"),
        });
    }
    Ok(items)
}

/// Everything an item run needs besides the item.
struct RunCtx {
    eps: Endpoints,
    cache: Option<Arc<ManifestCache>>,
    min_rate_remaining: u64,
    rate_gate: Arc<tokio::sync::Mutex<()>>,
    write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    retry: RetryPolicy,
    dry_run: bool,
    quiet: bool,
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sync,
    Verify,
}

async fn run_item(ctx: &RunCtx, cfg: &Config, item: &WorkItem, mode: Mode) -> ItemReport {
    let started = Instant::now();
    let mut out = ItemReport::new(item.image, &item.source_text, &item.target_text);
    let settings = cfg.settings(item.image);
    let reporter = Arc::new(ItemReporter {
        label: item.source_text.clone(),
        quiet: ctx.quiet,
        warnings: Mutex::new(vec![]),
    });
    let img = &cfg.images[item.image];
    let artifacts = artifact_options(&settings);
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
            selector: selector(&settings),
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
                .entry(source_name(&img.target.reference))
                .or_default()
                .clone(),
            mode: match mode {
                Mode::Verify => crate::engine::image::Mode::Verify,
                Mode::Sync if ctx.dry_run => crate::engine::image::Mode::DryRun,
                Mode::Sync => crate::engine::image::Mode::Write,
            },
            reporter: reporter.clone(),
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
        out.error = Some(error_text(&e));
        out.exit_code = Some(e.exit_code());
    }
    let mut warnings = reporter.warnings.lock().expect("not poisoned").clone();
    warnings.append(&mut out.warnings);
    out.warnings = warnings;
    out.duration_seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    out
}

/// The error with its causes and hints, one per line.
fn error_text(e: &Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(&format!("\n  caused by: {c}"));
        src = c.source();
    }
    for h in e.hints() {
        s.push_str(&format!("\n  hint: {h}"));
    }
    s
}

/// Prints items as they finish, in the chosen format.
struct Output {
    json: bool,
    quiet: bool,
    total: usize,
    done: AtomicUsize,
}

impl Output {
    fn item(&self, r: &ItemReport) {
        if self.json {
            let mut out = std::io::stdout().lock();
            let _ = serde_json::to_writer(&mut out, &Line::Item(r.clone()));
            let _ = writeln!(out);
            let _ = out.flush();
        } else if !self.quiet {
            let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
            let w = self.total.to_string().len();
            eprintln!(
                "[{n:>w$}/{}] {:<17} {} → {}  {}",
                self.total,
                r.action.as_str(),
                r.source,
                r.target,
                r.detail()
            );
            if r.action == Action::Failed {
                if let Some(e) = &r.error {
                    for l in e.lines().skip(1) {
                        eprintln!("      {l}");
                    }
                }
            }
        }
    }

    fn finish(&self, items: &[ItemReport], summary: &Summary) {
        let mut out = std::io::stdout().lock();
        if self.json {
            let _ = serde_json::to_writer(&mut out, &Line::Summary(summary.clone()));
            let _ = writeln!(out);
        } else {
            if !items.is_empty() {
                let _ = write!(out, "{}", report::table(items));
            }
            let _ = writeln!(out, "{}", summary.line());
        }
        let _ = out.flush();
    }
}

fn usage(printer: Printer, msg: String, hint: &str) -> std::result::Result<u8, RunError> {
    printer.error(&UsageError(msg), &[hint.to_string()]);
    Ok(exit::USAGE)
}

/// `mirror sync`.
pub async fn sync_command(
    cli: &Cli,
    args: &SyncArgs,
    printer: Printer,
) -> std::result::Result<u8, RunError> {
    let started = Instant::now();
    let cfg = match config::load(&args.file) {
        Ok(c) => c,
        Err(e) => {
            printer.error(
                &e,
                &["nothing was run; the file format is in docs/sync.md".to_string()],
            );
            return Ok(exit::USAGE);
        }
    };
    let shard = match (&args.shard, args.shards) {
        (Some(s), _) => match s.parse::<Shard>() {
            Ok(s) => Some(s),
            Err(e) => return usage(printer, e, "write --shard INDEX/COUNT, e.g. --shard 0/4"),
        },
        (None, Some(n)) => {
            let Some(i) = std::env::var("JOB_COMPLETION_INDEX").ok() else {
                return usage(
                    printer,
                    "--shards needs $JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job)".into(),
                    "elsewhere, pass --shard INDEX/COUNT",
                );
            };
            match i
                .trim()
                .parse::<u64>()
                .map_err(|e| e.to_string())
                .and_then(|i| Shard::new(i, n))
            {
                Ok(s) => Some(s),
                Err(e) => {
                    return usage(
                        printer,
                        format!("JOB_COMPLETION_INDEX={i:?} with --shards {n}: {e}"),
                        "JOB_COMPLETION_INDEX must be 0..COUNT-1",
                    )
                }
            }
        }
        (None, None) => None,
    };
    if let Some(f) = &args.authfile {
        if !f.exists() {
            return usage(
                printer,
                format!("auth file {} does not exist", f.display()),
                "see `mirror sync --help`",
            );
        }
    }
    let retry = RetryPolicy {
        retries: args.retries,
        ..RetryPolicy::default()
    };
    let cache = if args.no_cache || args.dry_run {
        None
    } else {
        args.cache_dir
            .clone()
            .or_else(config::default_cache_dir)
            .and_then(|d| match ManifestCache::open(&d) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    tracing::warn!(
                        "manifest cache {} unusable, going on without: {e}",
                        d.display()
                    );
                    None
                }
            })
    };
    let json = cli.global.output == OutputFormat::Json;
    let ctx = RunCtx {
        eps: Endpoints {
            registries: cfg.registries.clone(),
            authfile: args.authfile.clone(),
            timeout: Duration::from_secs(args.timeout.max(1)),
            retry,
            shared: Shared::new(args.jobs as usize),
            clients: Mutex::default(),
            layouts: Mutex::default(),
        },
        cache,
        min_rate_remaining: args.min_rate_remaining,
        rate_gate: Arc::default(),
        write_locks: Mutex::default(),
        retry,
        dry_run: args.dry_run,
        quiet: printer.quiet,
        json,
    };

    // Expand every image (tag listings in parallel), keeping configuration order.
    let expanded: Vec<(usize, Result<Vec<WorkItem>>)> =
        futures_util::stream::iter(0..cfg.images.len())
            .map(|i| {
                let (cfg, ctx) = (&cfg, &ctx);
                async move { (i, expand(cfg, i, &ctx.eps).await) }
            })
            .buffered(args.parallel as usize)
            .collect()
            .await;
    let mut items: Vec<WorkItem> = vec![];
    let mut listing_failures: Vec<(String, ItemReport)> = vec![];
    for (i, r) in expanded {
        match r {
            Ok(list) => items.extend(list),
            Err(e) => {
                let img = &cfg.images[i];
                let name = source_name(&img.source.reference);
                let mut rep = ItemReport::new(i, &format!("{name}:*"), &img.target.text);
                rep.error = Some(error_text(&e));
                rep.exit_code = Some(e.exit_code());
                listing_failures.push((format!("{name}:*"), rep));
            }
        }
    }
    // Two items writing the same target tag is a configuration error.
    let mut writers: HashMap<&str, &WorkItem> = HashMap::new();
    for it in &items {
        if let Some(prev) = writers.insert(&it.target_text, it) {
            let text = std::fs::read_to_string(&args.file).unwrap_or_default();
            let line = config::entry_line(&text, it.image)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            return usage(
                printer,
                format!(
                    "{}{line}: images[{}] and images[{}] both write {} (from {} and {})",
                    args.file.display(),
                    prev.image,
                    it.image,
                    it.target_text,
                    prev.source_text,
                    it.source_text
                ),
                "give each image its own target repository or tag set; nothing was run",
            );
        }
    }
    let items_total = items.len() + listing_failures.len();
    let shard_all = shard.unwrap_or(Shard::ALL);
    items.retain(|it| shard_all.owns(&it.key));
    listing_failures.retain(|(k, _)| shard_all.owns(k));

    let out = Output {
        json,
        quiet: printer.quiet,
        total: items.len() + listing_failures.len(),
        done: AtomicUsize::new(0),
    };
    let mut reports: Vec<(usize, ItemReport)> = vec![];
    for (_, r) in listing_failures {
        out.item(&r);
        reports.push((usize::MAX, r));
    }
    // After SIGINT/SIGTERM no new item starts; `main` waits for this guard (bounded) so the
    // running ones can cancel their uploads.
    let _writing = crate::interrupt::writing();
    let keep_going = !args.no_keep_going;
    let stop = AtomicBool::new(!keep_going && !reports.is_empty());
    let not_run = AtomicUsize::new(0);
    let done: Vec<(usize, ItemReport)> = futures_util::stream::iter(items.iter().enumerate())
        .map(|(k, item)| {
            let (ctx, cfg, out, stop, not_run) = (&ctx, &cfg, &out, &stop, &not_run);
            async move {
                if stop.load(Ordering::SeqCst) || crate::interrupt::is_set() {
                    not_run.fetch_add(1, Ordering::SeqCst);
                    return None;
                }
                let r = run_item(ctx, cfg, item, Mode::Sync).await;
                if r.action == Action::Failed && !keep_going {
                    stop.store(true, Ordering::SeqCst);
                }
                out.item(&r);
                Some((k, r))
            }
        })
        .buffer_unordered(args.parallel as usize)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    reports.extend(done);
    let not_run = not_run.load(Ordering::SeqCst);
    if not_run > 0 && !printer.quiet {
        let why = if crate::interrupt::is_set() {
            "the interrupt"
        } else {
            "--no-keep-going"
        };
        eprintln!("warning: {not_run} item(s) not started because of {why}");
    }

    if args.verify && !args.dry_run && !crate::interrupt::is_set() {
        let failed: HashSet<usize> = reports
            .iter()
            .filter(|(_, r)| r.action == Action::Failed)
            .map(|(k, _)| *k)
            .collect();
        let to_check: Vec<(usize, &WorkItem)> = items
            .iter()
            .enumerate()
            .filter(|(k, _)| !failed.contains(k))
            .collect();
        let vout = Output {
            json,
            quiet: printer.quiet,
            total: to_check.len(),
            done: AtomicUsize::new(0),
        };
        let checks: Vec<(usize, ItemReport)> = futures_util::stream::iter(to_check)
            .map(|(k, item)| {
                let (ctx, cfg, out) = (&ctx, &cfg, &vout);
                async move {
                    let r = run_item(ctx, cfg, item, Mode::Verify).await;
                    out.item(&r);
                    (k, r)
                }
            })
            .buffer_unordered(args.parallel as usize)
            .collect()
            .await;
        reports.extend(checks.into_iter().map(|(k, r)| (k + items.len(), r)));
    }
    reports.sort_by_key(|(k, _)| *k);
    let reports: Vec<ItemReport> = reports.into_iter().map(|(_, r)| r).collect();
    let mut summary = Summary {
        items_total,
        shard: shard.map(|s| s.to_string()),
        ..Summary::default()
    };
    for r in &reports {
        summary.add(r);
    }
    summary.duration_seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    summary.exit_code = if crate::interrupt::is_set() {
        exit::INTERRUPTED
    } else if summary.failed > 0 || not_run > 0 {
        exit::PARTIAL_FAILURE
    } else if summary.incomplete > 0 {
        exit::INCOMPLETE
    } else {
        exit::OK
    };
    out.finish(&reports, &summary);
    Ok(summary.exit_code)
}

/// `mirror verify SRC DST`.
pub async fn verify_command(
    cli: &Cli,
    args: &VerifyArgs,
    printer: Printer,
) -> std::result::Result<u8, RunError> {
    let started = Instant::now();
    let parse = |text: &str, what: &str| -> std::result::Result<ImageRef, UsageError> {
        text.parse().map_err(|e| UsageError(format!("{what}: {e}")))
    };
    let (source, mut target) = match (parse(&args.source, "source"), parse(&args.target, "target"))
    {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => return Err(e.into()),
    };
    if let Err(e) = PlatformFilter::parse(&args.platforms) {
        return Err(UsageError(e.to_string()).into());
    }
    if let Err(e) = crate::engine::rules::Rules::parse(&args.always_copy, &args.never_copy) {
        return Err(UsageError(e.to_string()).into());
    }
    if let Err(e) =
        crate::engine::referrers::ArtifactTypeFilter::parse(&args.referrers_artifact_types)
    {
        return Err(UsageError(e.to_string()).into());
    }
    // The target tag defaults to the source tag, as for `mirror copy`.
    let target_named = match &target {
        ImageRef::Registry(_) => {
            let t = args
                .target
                .strip_prefix("docker://")
                .unwrap_or(&args.target);
            t.contains('@') || t.rsplit('/').next().is_some_and(|l| l.contains(':'))
        }
        ImageRef::Layout(l) => l.tag.is_some() || l.digest.is_some(),
    };
    let source_reference = match &source {
        ImageRef::Registry(r) => r.reference(),
        ImageRef::Layout(l) => l
            .digest
            .as_ref()
            .map(|d| d.to_string())
            .or(l.tag.clone())
            .unwrap_or_else(|| "latest".into()),
    };
    if !target_named {
        target = match source.tag() {
            Some(t) => with_tag(&target, t),
            None => with_tag(&target, "latest"),
        };
    }
    let target_reference = match &target {
        ImageRef::Registry(r) => r.reference(),
        ImageRef::Layout(l) => l
            .digest
            .as_ref()
            .map(|d| d.to_string())
            .or(l.tag.clone())
            .unwrap_or_else(|| "latest".into()),
    };
    let retry = RetryPolicy {
        retries: args.retries,
        ..RetryPolicy::default()
    };
    let mut registries: BTreeMap<String, RegistryConfig> = BTreeMap::new();
    let mut side = |r: &ImageRef, creds: &Option<String>, plain: bool| {
        if let ImageRef::Registry(rr) = r {
            let e = registries.entry(rr.registry.clone()).or_default();
            e.plain_http |= plain;
            if let Some(c) = creds {
                e.credentials = Some(config::Credentials(c.clone()));
            }
        }
    };
    side(&source, &args.src_creds, args.src_plain_http);
    side(&target, &args.dest_creds, args.dest_plain_http);
    for c in [&args.src_creds, &args.dest_creds].into_iter().flatten() {
        if !c.contains(':') {
            return Err(UsageError("--src-creds/--dest-creds expect USER:PASSWORD".into()).into());
        }
    }
    let cfg = Config {
        defaults: config::Overrides::default(),
        registries: registries.clone(),
        images: vec![config::ImageConfig {
            source: config::Source {
                reference: source.clone(),
                text: args.source.clone(),
            },
            target: config::Target {
                reference: target.clone(),
                text: args.target.clone(),
            },
            tags: tags::TagRules::default(),
            platforms: Some(config::Platforms(args.platforms.clone())),
            attestations: Some(!args.no_attestations),
            platformless: Some(args.platformless),
            on_reject: None,
            jobs: Some(config::Jobs(args.jobs as usize)),
            always_copy: Some(config::RuleList(args.always_copy.clone())),
            never_copy: Some(config::RuleList(args.never_copy.clone())),
            referrers: Some(args.referrers),
            referrers_artifact_types: Some(config::TypeList(args.referrers_artifact_types.clone())),
            digest_tags: Some(args.digest_tags),
            include_foreign_layers: None,
            layout_ref_name: None,
        }],
    };
    let ctx = RunCtx {
        eps: Endpoints {
            registries,
            authfile: args.authfile.clone(),
            timeout: Duration::from_secs(args.timeout.max(1)),
            retry,
            shared: Shared::new(args.jobs as usize),
            clients: Mutex::default(),
            layouts: Mutex::default(),
        },
        cache: None,
        min_rate_remaining: 0,
        rate_gate: Arc::default(),
        write_locks: Mutex::default(),
        retry,
        dry_run: true,
        quiet: printer.quiet,
        json: cli.global.output == OutputFormat::Json,
    };
    let item = WorkItem {
        image: 0,
        source_reference,
        target_reference,
        target_tag: target.tag().map(str::to_string),
        source_text: source.to_string(),
        target_text: target.to_string(),
        key: String::new(),
    };
    let r = run_item(&ctx, &cfg, &item, Mode::Verify).await;
    let out = Output {
        json: ctx.json,
        quiet: true,
        total: 1,
        done: AtomicUsize::new(0),
    };
    out.item(&r);
    if !ctx.json {
        if let (Some(e), false) = (&r.error, printer.quiet) {
            eprintln!("error: {e}");
        }
        if !r.missing.is_empty() && !printer.quiet {
            for m in &r.missing {
                eprintln!(
                    "missing {}{}{}{}",
                    m.kind,
                    m.digest
                        .as_ref()
                        .map(|d| format!(" {d}"))
                        .unwrap_or_default(),
                    m.platform
                        .as_ref()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default(),
                    m.of.as_ref()
                        .map(|d| format!(" of {d}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    let mut summary = Summary {
        items_total: 1,
        ..Summary::default()
    };
    summary.add(&r);
    summary.items = 1;
    summary.duration_seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    summary.exit_code = if r.action == Action::Complete {
        exit::OK
    } else {
        exit::INCOMPLETE
    };
    out.finish(std::slice::from_ref(&r), &summary);
    Ok(summary.exit_code)
}
