//! The `{"bundle": …}` summary of a `--bundle` run: sealed, or estimated by a dry run.

use serde::Serialize;

use crate::app::bundle::near::Near;
use crate::app::bundle::seal;
use crate::app::printer::Printer;
use crate::model::delta::{BundleManifest, Totals, Volume};

/// What a `--bundle` run wrote (or, dry run, would write): the JSON line `{"bundle": …}`.
#[derive(Debug, Clone, Serialize)]
pub struct BundleSummary {
    /// The bundle directory.
    pub dir: String,
    /// The sealed bundle's id (`None` in a dry run or when nothing was written).
    pub id: Option<String>,
    /// Dry run: an estimate from the plans.
    pub dry_run: bool,
    /// Images in the bundle.
    pub images: usize,
    /// Sizes.
    pub totals: Totals,
    /// What a full bundle of the same images would carry.
    pub full_bytes: u64,
    /// What this one carries (manifests and blobs).
    pub delta_bytes: u64,
    /// The volumes written.
    pub volumes: Vec<Volume>,
    /// The files the delta was computed against.
    pub computed_against: Vec<String>,
}

impl BundleSummary {
    /// From a sealed bundle.
    pub fn sealed(dir: &std::path::Path, m: &BundleManifest) -> Self {
        BundleSummary {
            dir: dir.display().to_string(),
            id: Some(m.id.clone()),
            dry_run: false,
            images: m.images.len(),
            totals: m.totals.clone(),
            full_bytes: m.totals.full_bytes(),
            delta_bytes: m.totals.delta_bytes(),
            volumes: m.volumes.clone(),
            computed_against: m
                .computed_against
                .iter()
                .map(|b| format!("{} {}", b.kind, b.file))
                .collect(),
        }
    }

    /// A dry run's estimate.
    pub fn estimated(near: &Near) -> Self {
        let recorded = near.recorded();
        let totals = seal::estimate(&recorded);
        BundleSummary {
            dir: near.dir.display().to_string(),
            id: None,
            dry_run: true,
            images: recorded.len(),
            full_bytes: totals.full_bytes(),
            delta_bytes: totals.delta_bytes(),
            totals,
            volumes: vec![],
            computed_against: near
                .far
                .basis
                .iter()
                .map(|b| format!("{} {}", b.kind, b.file))
                .collect(),
        }
    }

    /// One human line.
    pub fn line(&self) -> String {
        let t = &self.totals;
        let pct = if self.full_bytes == 0 {
            100.0
        } else {
            self.delta_bytes as f64 * 100.0 / self.full_bytes as f64
        };
        format!(
            "bundle {}{}: {} image(s); carries {} manifest(s) and {} blob(s), {} bytes; leaves out {} blob(s), {} bytes, that the far side holds; delta {} of a full {} bytes ({pct:.1}%){}",
            self.dir,
            match (&self.id, self.dry_run) {
                (_, true) => " (dry run, nothing written)".to_string(),
                (Some(id), _) => format!(" sealed as {id}"),
                (None, _) => String::new(),
            },
            self.images,
            t.manifests,
            t.blobs,
            self.delta_bytes,
            t.left_out,
            t.left_out_bytes,
            self.delta_bytes,
            self.full_bytes,
            match self.volumes.len() {
                0 => String::new(),
                n => format!("; {n} volume(s)"),
            }
        )
    }

    /// Print: a line on stderr, and the JSON line in `--output json`.
    pub fn print(&self, printer: Printer) {
        printer.info_line(&self.line());
        if printer.json() {
            printer.out_json_line(&serde_json::json!({ "bundle": self }));
        }
    }
}
