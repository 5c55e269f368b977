//! `mirror gc oci:DIR`: delete the blobs of a layout that nothing reachable from its
//! `index.json` references (`transport/layout/prune.rs`), or list them (`--dry-run`).

use std::time::Duration;

use crate::app::cli::GcArgs;
use crate::app::printer::Printer;
use crate::engine::report::human_bytes;
use crate::error::{Error, Result};
use crate::exit;
use crate::model::reference::ImageRef;
use crate::transport::layout::prune::GcReport;
use crate::transport::layout::Layout;

/// `mirror gc`.
pub async fn gc_command(args: &GcArgs, printer: Printer) -> Result<u8> {
    let dir = match args.layout.parse::<ImageRef>() {
        Ok(ImageRef::Layout(l)) if !l.archive && l.tag.is_none() && l.digest.is_none() => l.path,
        _ => {
            return Err(Error::usage_hint(
                format!("{:?} is not an OCI layout directory", args.layout),
                "write oci:DIR (no tag: the whole layout is collected)",
            ))
        }
    };
    let layout = Layout::open(&dir)?.with_lock_timeout(Duration::from_secs(args.lock.lock_timeout));
    let report = layout
        .gc(args.dry_run, Duration::from_secs(args.min_age))
        .await?;
    print(printer, &report);
    Ok(exit::OK)
}

/// A line per unreferenced blob, then the totals (or the report as JSON).
pub fn print(printer: Printer, r: &GcReport) {
    if printer.json() {
        printer.out_json(r);
        return;
    }
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    let mut text = String::new();
    for b in &r.orphaned {
        text.push_str(&format!(
            "{verb:<12}  {}  {}\n",
            b.digest,
            human_bytes(b.size)
        ));
    }
    for b in &r.recent {
        text.push_str(&format!(
            "{:<12}  {}  {}\n",
            "kept (young)",
            b.digest,
            human_bytes(b.size)
        ));
    }
    printer.out(&text);
    let temp = match r.temp_files.len() {
        0 => String::new(),
        n => format!("; {n} leftover temp file(s), {}", human_bytes(r.temp_bytes)),
    };
    let young = match r.recent.len() {
        0 => String::new(),
        n => format!("; {n} younger than --min-age kept"),
    };
    printer.info_line(&format!(
        "{}: {} manifest(s) and {} blob(s) reachable from index.json; {verb} {} unreferenced blob(s), {}{temp}{young}",
        r.layout,
        r.reachable_manifests,
        r.reachable_blobs,
        r.orphaned.len(),
        human_bytes(r.orphaned_bytes)
    ));
}
