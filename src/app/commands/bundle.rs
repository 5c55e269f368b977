//! `mirror bundle check DIR` and `mirror bundle apply DIR` (the far side of docs/air-gap.md).

use std::path::Path;

use crate::app::bundle::apply::{apply, check, ApplyReport};
use crate::app::cli::BundleApplyArgs;
use crate::app::printer::Printer;
use crate::error::Result;
use crate::exit;
use crate::interrupt::CancelToken;

/// `mirror bundle check DIR`.
pub async fn check_command(dir: &Path, printer: Printer) -> Result<u8> {
    let m = check(dir, true).await?;
    printer.info_line(&format!(
        "bundle {} ({}): bundle.json and {} verified; {} image(s), {} blob(s) carried ({} bytes), {} left out",
        m.id,
        dir.display(),
        match m.volumes.len() {
            0 => "the layout directory".to_string(),
            n => format!("{n} volume(s)"),
        },
        m.images.len(),
        m.totals.blobs,
        m.totals.blob_bytes,
        m.totals.left_out
    ));
    if printer.json() {
        printer.out_json(&m);
    }
    Ok(exit::OK)
}

/// `mirror bundle apply DIR`: a line per image, then the report.
pub async fn apply_command(
    args: &BundleApplyArgs,
    printer: Printer,
    cancel: &CancelToken,
) -> Result<u8> {
    let report = apply(args, printer, cancel).await?;
    print_apply_report(printer, &report);
    Ok(report.exit_code)
}

/// The apply's summary (a JSON document in `--output json`).
fn print_apply_report(printer: Printer, r: &ApplyReport) {
    if printer.json() {
        printer.out_json(r);
        return;
    }
    printer.info_line(&format!(
        "bundle {}: {} image(s) {}, {} failed in {:.1}s; the bundle carries {} of the {} bytes a full one would",
        r.bundle,
        r.applied,
        if r.dry_run { "would apply" } else { "applied" },
        r.failed,
        r.duration_seconds,
        r.carried_bytes,
        r.full_bytes
    ));
}
