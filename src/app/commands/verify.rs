//! `mirror verify SRC DST`: the use case in its read-only [`Mode::Verify`], reported like one
//! item of a sync (the same `ItemReport`, line and table).

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Instant;

use crate::app::cli::VerifyArgs;
use crate::app::endpoint::open_endpoint;
use crate::app::printer::{CliReporter, Printer};
use crate::app::settings::VerifySettings;
use crate::engine::image::{mirror_image, ImageJob, Mode, TargetSlot};
use crate::engine::progress::Reporter;
use crate::error::{Error, Result};
use crate::exit;
use crate::interrupt::CancelToken;
use crate::model::reference::ImageRef;

use crate::app::sync::output::{error_text, Output};
use crate::app::sync::refresh;
use crate::app::sync::report::{Action, ItemReport, Summary};

/// `mirror verify SRC DST`.
pub async fn verify_command(
    args: &VerifyArgs,
    printer: Printer,
    cancel: &CancelToken,
) -> Result<u8> {
    let started = Instant::now();
    let s = VerifySettings::from_args(args, cancel)?;
    let (source_text, target_text) = (
        s.source.reference.to_string(),
        s.target.reference.to_string(),
    );
    let mut r = ItemReport::new(0, &source_text, &target_text);
    let reporter = Arc::new(CliReporter::for_item(printer, &source_text));
    let checked: Result<()> = async {
        let lock = s.transfer.lock_timeout;
        let src = Arc::new(open_endpoint(&s.source, false, lock).await?);
        let target = match &s.target.reference {
            // A layout that does not exist holds nothing (and is not created).
            ImageRef::Layout(l) if !l.archive && !l.path.join("oci-layout").is_file() => {
                TargetSlot::Later(Box::new(|| {
                    Box::pin(async {
                        Err(Error::Internal("verify opened its target to write".into()))
                    })
                }))
            }
            _ => TargetSlot::Open(Arc::new(open_endpoint(&s.target, false, lock).await?)),
        };
        let job = ImageJob {
            source_reference: s.source.reference.reference(),
            target_tag: s.target_tag.clone(),
            source_text: source_text.clone(),
            target_text: target_text.clone(),
            selector: s.selection.selector,
            on_reject: s.selection.on_reject,
            jobs: s.transfer.jobs,
            retry: s.transfer.retry,
            artifacts: s.selection.artifacts,
            mode: Mode::Verify,
            require_platforms: false,
            dry_run_details: false,
            cache: None,
            gate: None,
            write_lock: None,
            cancel: cancel.clone(),
            signatures: s.signatures.clone(),
            delta: None,
            known_blobs: Default::default(),
            transfer: Default::default(),
            site_signing: None,
        };
        let events: Arc<dyn Reporter> = reporter.clone();
        let o = mirror_image(&job, &src, target, &events).await?;
        refresh::fill(&o, Mode::Verify, &mut r);
        Ok(())
    }
    .await;
    if let Err(e) = checked {
        r.action = Action::Incomplete;
        r.error = Some(error_text(&e, crate::error::hints::HintStyle::Flags));
        r.exit_code = Some(e.exit_code());
    }
    r.warnings = reporter.warnings();
    r.duration_seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
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
        items: 1,
        ..Summary::default()
    };
    summary.add(&r);
    summary.items = 1;
    summary.duration_seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    summary.exit_code = match r.action {
        Action::Complete => exit::OK,
        // --require-signature: complete, but no valid signature on the target.
        _ if r.exit_code == Some(exit::SIGNATURE_REQUIRED) => exit::SIGNATURE_REQUIRED,
        _ => exit::INCOMPLETE,
    };
    out.finish(std::slice::from_ref(&r), &summary);
    crate::app::metrics::record([crate::app::metrics::ItemResult::from_item(&r)]);
    Ok(summary.exit_code)
}
