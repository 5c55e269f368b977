//! The end of a `--bundle` run: seal the bundle (or, dry run, estimate it) and print its summary.

use crate::app::bundle::near::Near;
use crate::app::bundle::seal;
use crate::app::bundle::stamp::now_utc;
use crate::app::bundle::summary::BundleSummary;
use crate::app::printer::Printer;
use crate::error::Result;
use crate::interrupt::CancelToken;

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
        match seal::seal(near, now_utc(), cancel).await? {
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
