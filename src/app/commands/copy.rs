//! `mirror copy`: one image through the use case, then its hooks, then the report.
//!
//! The hooks run before the report is printed, so the JSON report names what they did
//! (`hooks`, as sync's item reports do).

use std::sync::Arc;

use serde::Serialize;

use crate::app::bundle::finish::finish_bundle;
use crate::app::bundle::near::{layout_ref, Near};
use crate::app::cli::{CopyArgs, OutputFormat};
use crate::app::endpoint::{interruptible, open_endpoint, with_grace};
use crate::app::hooks::{run_hook, HookInput, Hooks};
use crate::app::metrics;
use crate::app::printer::{CliReporter, Printer};
use crate::app::settings::CopySettings;
use crate::app::sync::report::HookReport;
use crate::engine::image::{mirror_image, ImageJob, Mode, TargetSlot};
use crate::engine::progress::{Event, Reporter};
use crate::engine::report::Report;
use crate::error::{Error, ErrorKind, Result};
use crate::exit;
use crate::interrupt::CancelToken;
use crate::model::reference::ImageRef;

/// The copy's JSON report: the engine's report and the hooks that ran after it.
#[derive(Debug, Serialize)]
pub struct CopyReport {
    /// The copy.
    #[serde(flatten)]
    pub report: Report,
    /// `--on-change` / `--on-failure` runs; absent when none ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookReport>,
}

/// What [`copy_image`] did.
struct Copied {
    report: Report,
    near: Option<Arc<Near>>,
    dry_run: bool,
}

/// `mirror copy`: the copy, its `--on-change` hook (or `--on-failure` after an error), the
/// report, then the bundle's seal. A failed hook changes the exit code only with
/// `--hook-failure-exit` (0 becomes 1).
pub async fn copy_command(args: &CopyArgs, printer: Printer, cancel: &CancelToken) -> Result<u8> {
    let hooks = Hooks::from_copy_args(&args.hooks).map_err(Error::usage)?;
    let copied = copy_image(args, printer, cancel).await;
    let (event, argv) = match &copied {
        Ok(c) if c.changed() => ("on-change", hooks.on_change.as_ref()),
        Ok(_) => ("on-change", None),
        Err(e) if e.kind() == ErrorKind::Interrupted => ("on-failure", None),
        Err(_) => ("on-failure", hooks.on_failure.as_ref()),
    };
    let hook = match argv {
        None => None,
        Some(argv) => {
            let (outcome, stdin, digest) = match &copied {
                Ok(c) => (
                    "copied",
                    serde_json::to_vec(&c.report).unwrap_or_default(),
                    Some(c.report.source_digest.to_string()),
                ),
                Err(e) => (
                    "failed",
                    serde_json::json!({
                        "source": args.source,
                        "target": args.target,
                        "error": e.to_string(),
                        "exit_code": e.exit_code(),
                    })
                    .to_string()
                    .into_bytes(),
                    None,
                ),
            };
            let input = HookInput {
                event,
                outcome,
                source: &args.source,
                target: &args.target,
                digest,
                stdin,
            };
            let h = run_hook(argv, &hooks, input).await;
            if let Some(e) = &h.error {
                printer.warn(&format!("{event} hook: {e}"));
                metrics::note_hook_failure(copied.is_err());
            }
            Some(h)
        }
    };
    let hook_failed = hook.as_ref().is_some_and(|h| !h.ok);
    let c = copied?;
    let report = CopyReport {
        report: c.report,
        hooks: hook.into_iter().collect(),
    };
    emit(&report, printer, c.dry_run);
    if let Some(near) = &c.near {
        finish_bundle(near, c.dry_run, printer, cancel).await?;
    }
    Ok(match hook_failed && args.hooks.policy.hook_failure_exit {
        true => exit::FAILURE,
        false => exit::OK,
    })
}

impl Copied {
    /// The copy wrote something (not an up-to-date target, not a dry run).
    fn changed(&self) -> bool {
        let r = &self.report;
        !(r.dry_run || (r.up_to_date && r.repaired.is_empty()))
    }
}

/// One image through the use case (`engine::image::mirror_image`): the report, and the bundle
/// it went into (`--bundle`).
async fn copy_image(args: &CopyArgs, printer: Printer, cancel: &CancelToken) -> Result<Copied> {
    let mut s = CopySettings::from_args(args, cancel)?;
    let reporter = Arc::new(CliReporter::new(printer));
    for w in std::mem::take(&mut s.warnings) {
        reporter.event(Event::Warning(w));
    }
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
        transfer: s.wan.clone(),
        site_signing: s.signing.clone(),
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
    let near = bundled.map(|(near, far, lref)| {
        let delta = job.delta.clone().unwrap_or_else(|| near.delta(&far));
        near.record((&source_text, &far, &target_text), &lref, &outcome, delta);
        near
    });
    Ok(Copied {
        report,
        near,
        dry_run: s.dry_run,
    })
}

fn emit(report: &CopyReport, printer: Printer, dry_run: bool) {
    metrics::record([metrics::ItemResult::from_copy(&report.report)]);
    let report_json = report;
    let report = &report.report;
    match printer.output {
        OutputFormat::Json => printer.out_json(report_json),
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
