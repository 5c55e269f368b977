//! `mirror verify SRC DST`: one item of a sync, read-only, from command-line settings.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::app::cli::VerifyArgs;
use crate::app::printer::Printer;
use crate::app::settings::{AccessSettings, VerifySettings};
use crate::error::Result;
use crate::exit;
use crate::interrupt::CancelToken;
use crate::model::reference::ImageRef;

use super::config::{self, Config};
use super::endpoints::Endpoints;
use super::output::Output;
use super::refresh::WorkItem;
use super::report::{Action, Summary};
use super::store::Shared;
use super::{run_item, tags, Mode, RunCtx};

/// `mirror verify SRC DST`.
pub async fn verify_command(
    args: &VerifyArgs,
    printer: Printer,
    cancel: &CancelToken,
) -> Result<u8> {
    let started = Instant::now();
    let s = VerifySettings::from_args(args, cancel)?;
    let (source, target) = (s.source.reference.clone(), s.target.reference.clone());
    let reference_of = |r: &ImageRef| match r {
        ImageRef::Registry(r) => r.reference(),
        ImageRef::Layout(l) => l
            .digest
            .as_ref()
            .map(|d| d.to_string())
            .or(l.tag.clone())
            .unwrap_or_else(|| "latest".into()),
    };
    let source_reference = reference_of(&source);
    let target_reference = match &s.target_tag {
        Some(t) => t.clone(),
        None => target
            .digest()
            .map_or(source_reference.clone(), |d| d.to_string()),
    };
    // Access was resolved from the flags; the per-host client cache takes it as is (the target's
    // wins when both sides are on one host and the target has credentials of its own).
    let mut preset: HashMap<String, AccessSettings> = HashMap::new();
    let dest_named = args.dest.creds.is_some() || args.dest.registry_token.is_some();
    for (side, named) in [(&s.source, true), (&s.target, dest_named)] {
        if let ImageRef::Registry(r) = &side.reference {
            let access = AccessSettings {
                client: side.client.clone(),
                auth: side.auth.clone(),
            };
            if named || !preset.contains_key(&r.registry) {
                preset.insert(r.registry.clone(), access);
            }
        }
    }
    let sel = &s.selection;
    let cfg = Config {
        registries: BTreeMap::new(),
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
            settings: config::ImageSettings {
                platforms: config::Platforms {
                    patterns: args.selection.platforms.clone(),
                    filter: sel.selector.platforms.clone(),
                },
                attestations: sel.selector.attestations,
                platformless: sel.selector.platformless,
                on_reject: sel.on_reject,
                jobs: s.transfer.jobs,
                rules: sel.selector.rules.clone(),
                referrers: sel.artifacts.referrers,
                artifact_types: config::TypeList {
                    globs: args.selection.referrers_artifact_types.clone(),
                    filter: sel.artifacts.types.clone(),
                },
                digest_tags: sel.artifacts.digest_tags,
                include_foreign: sel.selector.include_foreign,
                layout_ref_name: config::LayoutRefName::Tag,
                // Checked on the target after the item (signatures_on_target).
                signatures: Default::default(),
            },
            line: None,
        }],
    };
    let ctx = RunCtx {
        eps: Endpoints {
            registries: BTreeMap::new(),
            preset,
            access: args.access.clone(),
            transfer: s.transfer,
            cancel: cancel.clone(),
            shared: Shared::new(s.transfer.jobs),
            clients: Mutex::default(),
            layouts: Mutex::default(),
        },
        cache: None,
        min_rate_remaining: 0,
        rate_gate: Arc::default(),
        write_locks: Mutex::default(),
        retry: s.transfer.retry,
        dry_run: true,
        printer,
        cancel: cancel.clone(),
    };
    let item = WorkItem {
        image: 0,
        source_reference,
        target_reference,
        target_tag: s.target_tag.clone(),
        source_text: source.to_string(),
        target_text: target.to_string(),
        key: String::new(),
    };
    let r = run_item(&ctx, &cfg, &item, Mode::Verify).await;
    if s.signatures.enabled() && r.action == Action::Complete {
        // The same policy as `copy --require-signature`, on the target (exit 8).
        signatures_on_target(&s, &item.target_reference).await?;
    }
    let out = Output {
        printer,
        status: false,
        total: 1,
        done: AtomicUsize::new(0),
    };
    out.item(&r);
    if !printer.json() {
        if let Some(e) = &r.error {
            printer.info_line(&format!("error: {e}"));
        }
        for m in &r.missing {
            printer.info_line(&format!(
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
            ));
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

/// `verify --require-signature`: a signature over the target's index digest (and, with
/// `--require-signature-children`, over each child manifest the target holds) must verify.
async fn signatures_on_target(s: &VerifySettings, reference: &str) -> Result<()> {
    use crate::model::manifest::ManifestView;
    use crate::transport::Storage;
    let dst = crate::app::run::open_endpoint(&s.target, false, s.transfer.lock_timeout).await?;
    let root = crate::engine::resolve::root(&dst, reference).await?;
    let mut children = Vec::new();
    if s.signatures.children {
        if let Ok(ManifestView::Index { manifests, .. }) = root.view() {
            for d in manifests {
                let runnable = d.attestation_subject().is_none()
                    && d.platform
                        .as_ref()
                        .is_some_and(|p| p.to_string() != "unknown/unknown");
                if runnable && dst.has_manifest(&d).await? {
                    children.push(d.digest.clone());
                }
            }
        }
    }
    let image = s.target.reference.to_string();
    crate::engine::signature::gate(&dst, &image, &root, &children, &s.signatures).await?;
    Ok(())
}
