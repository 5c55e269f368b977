//! `mirror sync`: every entry of a YAML file, incremental, parallel, shardable.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::app::bundle::finish::finish_bundle;
use crate::app::bundle::near::Near;
use crate::app::bundle::stamp::now_utc;
use crate::app::cli::SyncArgs;
use crate::app::client_config::model::Format;
use crate::app::client_config::output as client_config;
use crate::app::hooks;
use crate::app::metrics;
use crate::app::printer::Printer;
use crate::app::settings::{wan_settings, TransferSettings};
use crate::app::signing::{KeyLoader, SyncSigning};
use crate::app::sync::config;
use crate::app::sync::discover;
use crate::app::sync::endpoints::Endpoints;
use crate::app::sync::expand::{bundle_item, expand, source_name, Expanded};
use crate::app::sync::item::{run_item, Mode, RunCtx};
use crate::app::sync::output::{error_text, Output};
use crate::app::sync::prune_run::{self, EntryFacts, PruneArgs};
use crate::app::sync::refresh::WorkItem;
use crate::app::sync::report::{Action, ItemReport, Summary};
use crate::app::sync::shard::Shard;
use crate::app::sync::store::{ManifestCache, Shared};
use crate::error::{Error, Result};
use crate::exit;
use crate::interrupt::CancelToken;
use crate::model::reference::ImageRef;

fn usage(msg: String, hint: &str) -> Result<u8> {
    Err(Error::usage_hint(msg, hint))
}

/// `mirror sync`.
pub async fn sync_command(args: &SyncArgs, printer: Printer, cancel: &CancelToken) -> Result<u8> {
    let started = Instant::now();
    let mut cfg = config::load(&args.file).map_err(Error::config)?;
    // `--bundle DIR`: the file's targets are the far side's; every image goes into the bundle.
    let near = Near::open(&args.bundle)?;
    if near.is_some() && args.verify {
        return usage(
            "--verify checks the targets, which a --bundle run does not write".into(),
            "check the bundle with `mirror bundle check DIR`, and the far side after `mirror bundle apply` with `mirror verify`",
        );
    }
    if args.client_config.is_some()
        && (near.is_some() || args.shard.is_some() || args.shards.is_some())
    {
        return usage(
            "--client-config needs the whole run on the targets: it does not combine with --bundle, --shard or --shards".into(),
            "run `mirror client-config -f FILE --output-dir DIR` once the targets hold everything (after `mirror bundle apply`, or after every shard)",
        );
    }
    let fars: Vec<ImageRef> = cfg
        .images
        .iter()
        .map(|i| i.target.reference.clone())
        .collect();
    if let Some(n) = &near {
        for img in cfg.images.iter_mut() {
            img.target.reference = n.layout_target(None);
        }
    }
    let shard = match (&args.shard, args.shards) {
        (Some(s), _) => match s.parse::<Shard>() {
            Ok(s) => Some(s),
            Err(e) => return usage(e, "write --shard INDEX/COUNT, e.g. --shard 0/4"),
        },
        (None, Some(n)) => {
            let Some(i) = std::env::var("JOB_COMPLETION_INDEX").ok() else {
                return usage(
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
                        format!("JOB_COMPLETION_INDEX={i:?} with --shards {n}: {e}"),
                        "JOB_COMPLETION_INDEX must be 0..COUNT-1",
                    )
                }
            }
        }
        (None, None) => None,
    };
    if let Some(f) = &args.access.authfile {
        if !f.exists() {
            return usage(
                format!("auth file {} does not exist", f.display()),
                "see `mirror sync --help`",
            );
        }
    }
    // The site keys (`sign-key`, `--sign-key`): read now, so a bad key or password stops the
    // run (exit 2) before anything is copied.
    let mut keys = KeyLoader::new(args.signing.sign_key_password_stdin);
    let places: Vec<String> = cfg
        .images
        .iter()
        .enumerate()
        .map(|(i, img)| match img.line {
            Some(l) => format!("images[{i}] at {}:{l}", args.file.display()),
            None => format!("images[{i}]"),
        })
        .collect();
    let signing = SyncSigning::load(
        &args.signing,
        cfg.images.iter().map(|i| &i.settings).zip(places),
        &mut keys,
        &now_utc(),
    )?;
    for w in &keys.warnings {
        printer.warn(w);
    }
    // The password and the loaded key bytes are wiped now, not at the end of the run.
    drop(keys);
    let transfer = TransferSettings::from_args(&args.transfer);
    let retry = transfer.retry;
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
    let ctx = RunCtx {
        eps: Endpoints {
            registries: cfg.registries.clone(),
            preset: HashMap::new(),
            access: args.access.clone(),
            transfer,
            cancel: cancel.clone(),
            shared: Shared::new(
                transfer.jobs,
                wan_settings(&args.wan, cfg.limit_rate, &transfer),
            ),
            clients: Mutex::default(),
            layouts: Mutex::default(),
        },
        cache,
        min_rate_remaining: args.min_rate_remaining,
        rate_gate: Arc::default(),
        write_locks: Mutex::default(),
        retry,
        dry_run: args.dry_run,
        printer,
        cancel: cancel.clone(),
        bundle: near.clone().map(|n| (n, fars.clone())),
        signing,
    };
    let discoveries = cfg.discoveries.clone();
    let discovered = discover::resolve(&mut cfg, &ctx.eps, &args.file).await?;
    discover::show(printer, &discovered);
    let prune_args = PruneArgs {
        all: args.prune,
        max: args.prune_max,
        gc_min_age: Duration::from_secs(args.gc_min_age),
    };
    let pruning = (0..cfg.images.len()).any(|i| prune_run::enabled(&cfg, i, &prune_args));
    if pruning && shard.is_some() {
        return usage(
            "--prune (or `prune: true` in the file) does not combine with --shard/--shards: a shard does not know whether the items of other shards succeeded".into(),
            "run the shards without pruning, then one unsharded `mirror sync -f FILE --prune` (unchanged tags cost HEAD requests only)",
        );
    }

    // Expand every image (tag listings in parallel), keeping configuration order.
    let expanded: Vec<(usize, Result<Expanded>)> = futures_util::stream::iter(0..cfg.images.len())
        .map(|i| {
            let (cfg, ctx) = (&cfg, &ctx);
            async move { (i, expand(cfg, i, &ctx.eps).await) }
        })
        .buffered(args.parallel as usize)
        .collect()
        .await;
    let mut items: Vec<WorkItem> = vec![];
    let mut listing_failures: Vec<(String, ItemReport)> = vec![];
    let mut facts = vec![EntryFacts::default(); cfg.images.len()];
    for (i, r) in expanded {
        match r {
            Ok((list, listed)) => {
                facts[i].listed = Some(listed);
                facts[i].selected = list
                    .iter()
                    .filter(|it| it.target_tag.is_some())
                    .filter_map(|it| it.key.rsplit_once(':').map(|(_, t)| t.to_string()))
                    .collect();
                items.extend(list)
            }
            Err(e) => {
                let img = &cfg.images[i];
                let name = source_name(&img.source.reference);
                let mut rep = ItemReport::new(i, &format!("{name}:*"), &img.target.text);
                rep.error = Some(error_text(&e, crate::error::hints::HintStyle::SyncFile));
                rep.exit_code = Some(e.exit_code());
                listing_failures.push((format!("{name}:*"), rep));
            }
        }
    }
    if near.is_some() {
        for it in items.iter_mut() {
            bundle_item(it, &fars[it.image]);
        }
    }
    // Two items writing the same target tag is a configuration error.
    let mut writers: HashMap<&str, &WorkItem> = HashMap::new();
    for it in &items {
        if let Some(prev) = writers.insert(&it.target_text, it) {
            let line = cfg.images[it.image]
                .line
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            return usage(
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
        printer,
        status: true,
        total: items.len() + listing_failures.len(),
        done: AtomicUsize::new(0),
    };
    let mut reports: Vec<(usize, ItemReport)> = vec![];
    let hooks = hooks::Hooks::from_config(&cfg.hooks, &args.hooks);
    for (_, mut r) in listing_failures {
        hooks::after_item(&hooks, &mut r, printer).await;
        out.item(&r);
        reports.push((usize::MAX, r));
    }
    // After SIGINT/SIGTERM no new item starts; `main` waits for this guard (bounded) so the
    // running ones can cancel their uploads.
    let _writing = cancel.writing();
    let keep_going = !args.no_keep_going;
    let stop = AtomicBool::new(!keep_going && !reports.is_empty());
    let not_run = AtomicUsize::new(0);
    let done: Vec<(usize, ItemReport)> = futures_util::stream::iter(items.iter().enumerate())
        .map(|(k, item)| {
            let (ctx, cfg, out, stop, not_run, hooks) = (&ctx, &cfg, &out, &stop, &not_run, &hooks);
            async move {
                if stop.load(Ordering::SeqCst) || ctx.cancel.is_cancelled() {
                    not_run.fetch_add(1, Ordering::SeqCst);
                    return None;
                }
                let mut r = run_item(ctx, cfg, item, Mode::Sync).await;
                hooks::after_item(hooks, &mut r, ctx.printer).await;
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
    let (mut not_owned, mut gc) = (vec![], vec![]);
    let not_run = not_run.load(Ordering::SeqCst);
    if not_run > 0 {
        let why = if cancel.is_cancelled() {
            "the interrupt"
        } else {
            "--no-keep-going"
        };
        printer.warn(&format!("{not_run} item(s) not started because of {why}"));
    }

    if pruning && !cancel.is_cancelled() {
        for (_, r) in &reports {
            if r.action == Action::Failed && r.image < facts.len() {
                facts[r.image].failed += 1;
            }
        }
        let pruned = prune_run::run(&ctx, &cfg, &facts, &prune_args).await;
        let pout = Output {
            printer,
            status: true,
            total: pruned.items.len(),
            done: AtomicUsize::new(0),
        };
        let base = 2 * items.len() + 1;
        for (k, mut r) in pruned.items.into_iter().enumerate() {
            hooks::after_item(&hooks, &mut r, printer).await;
            pout.item(&r);
            reports.push((base + k, r));
        }
        if !printer.json() {
            for n in &pruned.not_owned {
                printer.info_line(&format!(
                    "prune: images[{}] → {}: kept {} tag(s) its rules do not own (delete them by hand if they are yours): {}",
                    n.image,
                    n.target,
                    n.tags.len(),
                    n.tags.join(", ")
                ));
            }
        }
        not_owned = pruned.not_owned;
        gc = pruned.gc;
    }

    if args.verify && !args.dry_run && !cancel.is_cancelled() {
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
            printer,
            status: true,
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
        discovered,
        not_owned,
        gc,
        ..Summary::default()
    };
    for r in &reports {
        summary.add(r);
    }
    summary.duration_seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    summary.exit_code = if cancel.is_cancelled() {
        exit::INTERRUPTED
    } else if summary.failed > 0 || not_run > 0 || summary.prune_failures > 0 {
        exit::PARTIAL_FAILURE
    } else if summary.incomplete > 0 {
        exit::INCOMPLETE
    } else {
        exit::OK
    };
    summary.exit_code =
        hooks::sync_exit_code(summary.exit_code, summary.hook_failures, &args.hooks);
    out.finish(&reports, &summary);
    if let (Some(n), false) = (&near, cancel.is_cancelled()) {
        finish_bundle(n, args.dry_run, printer, cancel).await?;
    }
    metrics::record(reports.iter().map(metrics::ItemResult::from_item));
    if let (Some(dir), false) = (&args.client_config, cancel.is_cancelled()) {
        // What the targets hold after the run (after --verify, as verified).
        let model = client_config::model(
            &args.file,
            &cfg,
            &discoveries,
            &summary.discovered,
            &reports,
            &ctx.eps.plain_http_hosts(),
        )?;
        client_config::emit(&model, &Format::ALL, Some(dir), args.dry_run, printer)?;
    }
    Ok(summary.exit_code)
}
