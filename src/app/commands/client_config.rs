//! `mirror client-config -f FILE`: read what every registry target of the sync file holds (the
//! items of `mirror sync --verify`, in the read-only [`Mode::Verify`]), then write the client
//! configuration (`app/client_config/`). Nothing is written to any registry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;

use crate::app::cli::{ClientConfigArgs, ClientFormatArg};
use crate::app::client_config::model::Format;
use crate::app::client_config::output;
use crate::app::printer::Printer;
use crate::app::settings::TransferSettings;
use crate::app::signing::SyncSigning;
use crate::app::sync::config;
use crate::app::sync::discover;
use crate::app::sync::endpoints::Endpoints;
use crate::app::sync::expand::{expand, source_name};
use crate::app::sync::item::{run_item, Mode, RunCtx};
use crate::app::sync::output::error_text;
use crate::app::sync::refresh::WorkItem;
use crate::app::sync::report::ItemReport;
use crate::app::sync::store::Shared;
use crate::error::hints::HintStyle;
use crate::error::{Error, Result};
use crate::exit;
use crate::interrupt::CancelToken;
use crate::model::reference::ImageRef;

/// The formats asked for (none: all), in [`Format::ALL`] order.
pub fn formats(args: &[ClientFormatArg]) -> Vec<Format> {
    Format::ALL
        .into_iter()
        .filter(|f| {
            args.is_empty()
                || args.iter().any(|a| {
                    *f == match a {
                        ClientFormatArg::Containerd => Format::Containerd,
                        ClientFormatArg::RegistriesConf => Format::RegistriesConf,
                        ClientFormatArg::Idms => Format::Idms,
                        ClientFormatArg::Itms => Format::Itms,
                    }
                })
        })
        .collect()
}

/// `mirror client-config`.
pub async fn client_config_command(
    args: &ClientConfigArgs,
    printer: Printer,
    cancel: &CancelToken,
) -> Result<u8> {
    let mut cfg = config::load(&args.file).map_err(Error::config)?;
    let transfer = TransferSettings::from_args(&args.transfer);
    let ctx = RunCtx {
        eps: Endpoints {
            registries: cfg.registries.clone(),
            preset: HashMap::new(),
            access: args.access.clone(),
            transfer,
            cancel: cancel.clone(),
            shared: Shared::new(transfer.jobs, Default::default()),
            clients: Mutex::default(),
            layouts: Mutex::default(),
        },
        cache: None,
        min_rate_remaining: 0,
        rate_gate: Arc::default(),
        write_locks: Mutex::default(),
        retry: transfer.retry,
        dry_run: false,
        printer,
        cancel: cancel.clone(),
        bundle: None,
        signing: SyncSigning::none(),
    };
    let discoveries = cfg.discoveries.clone();
    let found = discover::resolve(&mut cfg, &ctx.eps, &args.file).await?;
    discover::show(printer, &found);

    // Only registry → registry entries are read: no client pulls from an OCI layout.
    let wanted: Vec<usize> = (0..cfg.images.len())
        .filter(|&i| {
            let img = &cfg.images[i];
            matches!(
                (&img.source.reference, &img.target.reference),
                (ImageRef::Registry(_), ImageRef::Registry(_))
            )
        })
        .collect();
    let expanded: Vec<(usize, Result<Vec<WorkItem>>)> = futures_util::stream::iter(wanted)
        .map(|i| {
            let (cfg, ctx) = (&cfg, &ctx);
            async move { (i, expand(cfg, i, &ctx.eps).await.map(|(items, _)| items)) }
        })
        .buffered(args.parallel as usize)
        .collect()
        .await;
    let mut items: Vec<WorkItem> = vec![];
    let mut reports: Vec<ItemReport> = vec![];
    for (i, r) in expanded {
        match r {
            Ok(list) => items.extend(list),
            Err(e) => {
                let img = &cfg.images[i];
                let name = source_name(&img.source.reference);
                let mut rep = ItemReport::new(i, &format!("{name}:*"), &img.target.text);
                rep.error = Some(error_text(&e, HintStyle::SyncFile));
                reports.push(rep);
            }
        }
    }
    let checked: Vec<(usize, ItemReport)> = futures_util::stream::iter(items.iter().enumerate())
        .map(|(k, item)| {
            let (ctx, cfg) = (&ctx, &cfg);
            async move { (k, run_item(ctx, cfg, item, Mode::Verify).await) }
        })
        .buffer_unordered(args.parallel as usize)
        .collect()
        .await;
    if cancel.is_cancelled() {
        return Ok(exit::INTERRUPTED);
    }
    let mut checked = checked;
    checked.sort_by_key(|(k, _)| *k);
    reports.extend(checked.into_iter().map(|(_, r)| r));
    let model = output::model(
        &args.file,
        &cfg,
        &discoveries,
        &found,
        &reports,
        &ctx.eps.plain_http_hosts(),
    )?;
    output::emit(
        &model,
        &formats(&args.format),
        args.output_dir.as_deref(),
        args.dry_run,
        printer,
    )?;
    Ok(exit::OK)
}
