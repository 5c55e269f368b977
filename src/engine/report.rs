//! The run report: a stable, serde-typed schema, and its human rendering.
//!
//! `--output json` prints [`Report`] as one JSON document; `docs/json-output.md` documents the
//! schema and a test decodes real output with `deny_unknown_fields`. The human rendering goes to
//! stderr (the summary) while stdout carries only `TARGET@DIGEST`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::engine::artifacts::target::ArtifactOutcome;
use crate::engine::copy::types::{BlobStats, CopyOutcome, OnReject, Preflight, RejectAction};
use crate::engine::image::job::ImageOutcome;
use crate::engine::image::state::TargetState;
use crate::engine::plan::Plan;
use crate::engine::referrers::{
    ArtifactPlan, ArtifactReport, ArtifactStatus, FallbackUpdate, Skipped,
};
use crate::engine::select::Decision;
use crate::engine::signature::publish::SignStatus;
use crate::model::digest::Digest;

/// Report schema version.
pub const SCHEMA: u32 = 1;

/// One index entry and its fate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EntryReport {
    /// Child digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// `os/arch[/variant][:os.version]`, or null.
    pub platform: Option<String>,
    /// The index that lists it.
    pub parent: Digest,
    /// Copy or skip, with the reason.
    #[serde(flatten)]
    pub decision: Decision,
    /// Human form of the reason.
    pub reason_text: String,
    /// Manifest + config + layers, when known.
    pub total_size: Option<u64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Schema version ([`SCHEMA`]).
    pub schema: u32,
    /// Source reference.
    pub source: String,
    /// Target reference.
    pub target: String,
    /// Digest of the source root manifest.
    pub source_digest: Digest,
    /// Media type of the source root.
    pub media_type: String,
    /// Digest the target tag resolves to after the run: the source digest, or the filtered
    /// index's under `--on-reject filter` (null for a dry run).
    pub pushed_digest: Option<Digest>,
    /// Whether some entries were left out.
    pub sparse: bool,
    /// Only planned, nothing written.
    pub dry_run: bool,
    /// Nothing needed writing.
    pub up_to_date: bool,
    /// What the target holds: after the run, or now for a dry run (`engine/image/state.rs`).
    pub target_state: TargetState,
    /// Child manifests restored on an up-to-date target.
    pub repaired: Vec<Digest>,
    /// The `--on-reject` policy.
    pub on_reject: OnReject,
    /// How the sparse question was settled.
    pub preflight: Preflight,
    /// What the policy did.
    pub reject_action: RejectAction,
    /// Every entry of every index, in document order.
    pub entries: Vec<EntryReport>,
    /// Blob counts and bytes.
    pub blobs: BlobStats,
    /// Blobs the plan needs, and their bytes.
    pub planned_blobs: u64,
    /// Bytes of the planned blobs.
    pub planned_bytes: u64,
    /// Dry run only: bytes of the planned blobs already on the target (by HEAD); null otherwise
    /// or when the target could not be checked.
    pub present_bytes: Option<u64>,
    /// Foreign layers not copied.
    pub foreign_layers: Vec<Digest>,
    /// Manifests written.
    pub manifests_pushed: u64,
    /// Manifests already present.
    pub manifests_existing: u64,
    /// Warnings issued during the run.
    pub warnings: Vec<String>,
    /// Wall time in seconds.
    pub duration_seconds: f64,
    /// Foreign layers copied from their URLs (`--include-foreign-layers`).
    pub foreign_layers_copied: Vec<Digest>,
    /// Referrers and digest tags (`--referrers`, `--digest-tags`), each with its subject, in
    /// push order.
    pub artifacts: Vec<ArtifactReport>,
    /// Referrers found on the source but not copied, with the reason.
    pub artifacts_skipped: Vec<Skipped>,
    /// Referrers fallback indexes (`sha256-<hex>` tags) written on the target.
    pub fallback_tags: Vec<FallbackUpdate>,
    /// `--require-signature`: the signature that verified for the index (first) and, with
    /// `--require-signature-children`, for each selected child.
    /// Absent from the JSON without the flag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<crate::engine::signature::Verified>,
    /// `--sign-key`: the site signatures written (`signed`), found already there (`existing`)
    /// or, in a dry run, `planned`: one per signed digest and format. Absent without the flag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<crate::engine::signature::publish::Signed>,
}

impl Report {
    /// Build from the use case's outcome (a dry run has no copy and no pushed digest).
    pub fn from_outcome(
        source: &str,
        target: &str,
        o: &ImageOutcome,
        on_reject: OnReject,
        warnings: Vec<String>,
    ) -> Report {
        let mut r = Report::new(
            source,
            target,
            &o.plan,
            on_reject,
            o.copy.as_ref(),
            warnings,
        );
        match &o.copy {
            Some(_) => {
                r.target_state = o.after.clone();
                r.pushed_digest = o.resolves_to().cloned();
            }
            None => r.target_state = o.before.clone(),
        }
        let sizes: std::collections::HashMap<&Digest, u64> =
            o.skipped_sizes.iter().map(|(d, n)| (d, *n)).collect();
        for e in r.entries.iter_mut().filter(|e| e.total_size.is_none()) {
            e.total_size = sizes.get(&e.digest).copied();
        }
        r.present_bytes = o.present_bytes;
        r.add_artifacts(&o.artifact_plan, o.artifacts.as_ref());
        r.signatures = o.signatures.clone();
        r.signed = o.signed.clone();
        r
    }

    fn new(
        source: &str,
        target: &str,
        plan: &Plan,
        on_reject: OnReject,
        outcome: Option<&CopyOutcome>,
        warnings: Vec<String>,
    ) -> Report {
        let source_plan = plan;
        let entries = source_plan
            .entries
            .iter()
            .map(|e| EntryReport {
                digest: e.descriptor.digest.clone(),
                media_type: e.descriptor.media_type.clone(),
                platform: e.descriptor.platform.as_ref().map(|p| p.to_string()),
                parent: e.parent.clone(),
                decision: e.decision.clone(),
                reason_text: e.decision.to_string(),
                total_size: e.total_size,
            })
            .collect();
        let executed = outcome.map_or(plan, |o| &o.plan);
        Report {
            schema: SCHEMA,
            source: source.into(),
            target: target.into(),
            source_digest: plan.root.digest.clone(),
            media_type: plan.root.media_type.clone(),
            pushed_digest: outcome.map(|o| o.pushed_digest.clone()),
            sparse: executed.sparse,
            dry_run: outcome.is_none(),
            up_to_date: outcome.is_some_and(|o| o.up_to_date),
            target_state: TargetState::Absent,
            repaired: outcome.map(|o| o.repaired.clone()).unwrap_or_default(),
            on_reject,
            preflight: outcome.map_or(Preflight::NotNeeded, |o| o.preflight.clone()),
            reject_action: outcome.map_or(RejectAction::None, |o| o.reject_action.clone()),
            entries,
            blobs: outcome.map(|o| o.blobs.clone()).unwrap_or_default(),
            planned_blobs: executed.blobs.len() as u64,
            planned_bytes: executed.blob_bytes(),
            present_bytes: None,
            foreign_layers: executed.foreign.iter().map(|f| f.digest.clone()).collect(),
            manifests_pushed: outcome.map_or(0, |o| o.manifests_pushed),
            manifests_existing: outcome.map_or(0, |o| o.manifests_existing),
            warnings,
            duration_seconds: outcome.map_or(0.0, |o| (o.seconds * 1000.0).round() / 1000.0),
            foreign_layers_copied: executed
                .foreign_included
                .iter()
                .map(|f| f.digest.clone())
                .collect(),
            artifacts: vec![],
            artifacts_skipped: vec![],
            fallback_tags: vec![],
            signatures: vec![],
            signed: vec![],
        }
    }

    /// The human plan table (dry run and `-v` copies).
    pub fn render_plan(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} {} ({})",
            self.source,
            self.source_digest,
            short_type(&self.media_type)
        );
        let width = self
            .entries
            .iter()
            .map(|e| e.platform.as_deref().unwrap_or("-").len())
            .max()
            .unwrap_or(1)
            .max(8);
        for e in &self.entries {
            let mark = if e.decision.is_copy() { "copy" } else { "skip" };
            let size = e.total_size.map_or_else(|| "-".to_string(), human_bytes);
            let _ = writeln!(
                s,
                "  {mark}  {:<width$}  {}  {:>10}  {}",
                e.platform.as_deref().unwrap_or("-"),
                e.digest.short(),
                size,
                e.reason_text
            );
        }
        self.render_artifacts(&mut s);
        let copied = self.entries.iter().filter(|e| e.decision.is_copy()).count();
        let skipped_bytes: u64 = self
            .entries
            .iter()
            .filter(|e| !e.decision.is_copy())
            .filter_map(|e| e.total_size)
            .sum();
        if skipped_bytes > 0 {
            let _ = writeln!(
                s,
                "the filter leaves out {} (counting blobs shared with selected platforms)",
                human_bytes(skipped_bytes)
            );
        }
        let to_move = match self.present_bytes {
            Some(p) => format!(
                "{} to transfer ({} already on the target)",
                human_bytes(self.planned_bytes.saturating_sub(p)),
                human_bytes(p)
            ),
            None => format!("{} to transfer at most", human_bytes(self.planned_bytes)),
        };
        let _ = writeln!(
            s,
            "{copied} of {} entries selected; {} blob(s), {to_move}; result is {}",
            self.entries.len(),
            self.planned_blobs,
            if self.sparse {
                "a SPARSE index (the original bytes, with some children absent)"
            } else {
                "complete"
            }
        );
        s
    }

    /// The one-paragraph human summary after a copy.
    pub fn render_summary(&self) -> String {
        let mut s = String::new();
        if self.up_to_date {
            let state = match &self.target_state {
                TargetState::Filtered {
                    source_digest,
                    filtered_digest,
                } => format!(
                    "the filtered index {filtered_digest} of {source_digest} (--on-reject filter)"
                ),
                _ => self.source_digest.to_string(),
            };
            let _ = writeln!(s, "{} is up to date: it holds {state}", self.target);
            self.render_signed(&mut s);
            return s;
        }
        let b = &self.blobs;
        let _ = write!(
            s,
            "copied {} → {}: {} blob(s) copied ({}), {} already present, {} mounted; {} manifest(s) pushed in {:.1}s",
            self.source,
            self.target,
            b.copied,
            human_bytes(b.copied_bytes),
            b.existing,
            b.mounted,
            self.manifests_pushed,
            self.duration_seconds
        );
        if !self.repaired.is_empty() {
            let _ = write!(
                s,
                "; repaired {} missing child manifest(s)",
                self.repaired.len()
            );
        }
        if !self.artifacts.is_empty() {
            let n = |kind: &str| self.artifacts.iter().filter(|a| a.kind == kind).count();
            let _ = write!(
                s,
                "; {} referrer(s) and {} digest tag(s) travelled",
                n("referrer"),
                n("digest-tag")
            );
        }
        if self.sparse {
            let skipped = self
                .entries
                .iter()
                .filter(|e| !e.decision.is_copy())
                .count();
            let _ = write!(s, "; sparse index ({skipped} entries left out)");
        }
        s.push('\n');
        self.render_signed(&mut s);
        s
    }

    /// One line per site signature (`--sign-key`).
    fn render_signed(&self, s: &mut String) {
        for g in &self.signed {
            let what = match g.status {
                SignStatus::Signed => "signed",
                SignStatus::Existing => "already signed",
                SignStatus::Planned => "would sign",
            };
            let _ = write!(
                s,
                "{what} {} with the site key {} ({}",
                g.subject, g.key_fingerprint, g.format
            );
            if let Some(t) = &g.tag {
                let _ = write!(s, ", tag {t}");
            }
            let _ = writeln!(s, ")");
        }
    }
}

impl Report {
    /// Add what [`discover`](crate::engine::artifacts::discover) found and, after a copy, what
    /// [`copy()`](crate::engine::artifacts::copy) did.
    pub fn add_artifacts(&mut self, ap: &ArtifactPlan, outcome: Option<&ArtifactOutcome>) {
        match outcome {
            Some(o) => {
                self.artifacts = o.reports.clone();
                self.fallback_tags = o.fallback_updates.clone();
                let b = &mut self.blobs;
                b.copied += o.blobs.copied;
                b.copied_bytes += o.blobs.copied_bytes;
                b.existing += o.blobs.existing;
                b.existing_bytes += o.blobs.existing_bytes;
                b.mounted += o.blobs.mounted;
                b.mounted_bytes += o.blobs.mounted_bytes;
                self.manifests_pushed += o.manifests_pushed;
                if o.manifests_pushed > 0 {
                    self.up_to_date = false;
                }
            }
            None => {
                self.artifacts = ap
                    .artifacts
                    .iter()
                    .map(|a| ArtifactReport::new(a, ArtifactStatus::Planned))
                    .collect()
            }
        }
        self.artifacts_skipped = ap.skipped.clone();
        for f in ap.artifacts.iter().flat_map(|a| &a.foreign) {
            if !self.foreign_layers.contains(&f.digest) {
                self.foreign_layers.push(f.digest.clone());
            }
        }
    }
}

impl Report {
    /// Referrer and digest-tag lines for the plan table.
    fn render_artifacts(&self, s: &mut String) {
        for a in &self.artifacts {
            let what = match &a.tag {
                Some(t) => format!("tag {t}"),
                None => a
                    .artifact_type
                    .clone()
                    .unwrap_or_else(|| a.media_type.clone()),
            };
            let _ = writeln!(
                s,
                "  {:<4}  {:<10}  {}  {}  of {}",
                match a.status {
                    ArtifactStatus::SubjectReplaced => "skip",
                    _ => "copy",
                },
                a.kind,
                a.digest.short(),
                what,
                a.subject.short()
            );
        }
        for k in &self.artifacts_skipped {
            let _ = writeln!(
                s,
                "  skip  referrer    {}  {}  of {}: {}",
                k.digest.short(),
                k.artifact_type.as_deref().unwrap_or("-"),
                k.subject.short(),
                k.reason
            );
        }
    }
}

fn short_type(m: &str) -> &str {
    match m {
        crate::model::media::OCI_INDEX => "OCI index",
        crate::model::media::DOCKER_LIST => "Docker manifest list",
        crate::model::media::OCI_MANIFEST => "OCI image manifest",
        crate::model::media::DOCKER_MANIFEST => "Docker image manifest",
        other => other,
    }
}

/// `1.5 MiB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
