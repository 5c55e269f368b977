//! Batch reports: one JSON line per work item, then a summary line (`--output json`), or human
//! per-item lines and a final table. The schema is documented in docs/sync.md and decoded by the
//! integration tests with `deny_unknown_fields`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::engine::copy::BlobStats;
use crate::engine::image::TargetState;
use crate::engine::prune::types::ArtifactGone;
use crate::engine::report::human_bytes;
use crate::model::digest::Digest;
use crate::model::prune::Reason;
use crate::transport::layout::prune::GcReport;

/// What happened to one (image, tag) item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The target tag already names the source digest and every selected child is present:
    /// checked with HEAD requests only; nothing was read or written.
    SkippedUnchanged,
    /// The image was copied (new tag, or the source digest changed).
    Copied,
    /// The tag already named the source digest; missing selected children were copied. The
    /// index was not pushed again.
    PartialRepair,
    /// The item failed; see `error`.
    Failed,
    /// Dry run: would be copied.
    WouldCopy,
    /// Dry run: the tag is current but children are missing; they would be copied.
    WouldRepair,
    /// Verify: the target holds everything the configuration selects.
    Complete,
    /// Verify: something is missing; see `missing`.
    Incomplete,
    /// `--prune`: the tag (and what only it needed) was deleted; see `prune`.
    Pruned,
    /// `--prune` in a dry run (or with `--prune-max 0`, or planned for the far side of a
    /// bundle): the tag would be deleted.
    WouldPrune,
    /// `--prune`: the tag was planned for deletion and stays; `error` or `warnings` say why.
    PruneRefused,
}

impl Action {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SkippedUnchanged => "skipped-unchanged",
            Action::Copied => "copied",
            Action::PartialRepair => "partial-repair",
            Action::Failed => "failed",
            Action::WouldCopy => "would-copy",
            Action::WouldRepair => "would-repair",
            Action::Complete => "complete",
            Action::Incomplete => "incomplete",
            Action::Pruned => "pruned",
            Action::WouldPrune => "would-prune",
            Action::PruneRefused => "prune-refused",
        }
    }
}

/// Something a verify (or a dry run) found missing on the target.
pub use crate::engine::image::Missing;

/// One JSON line per work item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemReport {
    /// Index of the `images:` entry (0-based).
    pub image: usize,
    /// `REGISTRY/REPO:TAG`, `REGISTRY/REPO@DIGEST` or `oci:DIR:TAG`.
    pub source: String,
    /// Where it goes, same forms.
    pub target: String,
    /// What happened.
    pub action: Action,
    /// The digest the source tag names (null when the source could not be read).
    pub source_digest: Option<Digest>,
    /// The digest the target tag named before this run (verify: now).
    pub target_digest: Option<Digest>,
    /// What the target holds after the run (dry run, verify: now), the same type `mirror copy`
    /// reports; null when the item failed before it was read.
    pub target_state: Option<TargetState>,
    /// Selected child manifests checked on the target with HEAD.
    pub children_checked: usize,
    /// Child manifests restored by a partial repair.
    pub repaired: Vec<Digest>,
    /// Manifests written (0 for skipped and repaired-only-children items: the index is never
    /// re-pushed when it is already there).
    pub manifests_pushed: u64,
    /// Blob counts and bytes.
    pub blobs: BlobStats,
    /// Dry run: bytes of the blobs the copy would need at most.
    pub planned_bytes: Option<u64>,
    /// Missing objects (verify, dry-run repair).
    pub missing: Vec<Missing>,
    /// Warnings (unmatched platforms, rate-limit pauses, …).
    pub warnings: Vec<String>,
    /// The failure, with its causes, for `failed`.
    pub error: Option<String>,
    /// The exit code `mirror copy` would have used for this failure (4 = sparse rejected, …).
    pub exit_code: Option<u8>,
    /// Wall time of this item.
    pub duration_seconds: f64,
    /// `require-signature`: the signature that verified for the index, then each child (as in
    /// the `mirror copy` report); absent without the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<crate::engine::signature::Verified>,
    /// `sign-key`: the site signatures written, found already there, or planned (as in the
    /// `mirror copy` report); absent without the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<crate::engine::signature::publish::Signed>,
    /// Pauses for a low pull budget (`--min-rate-remaining`); absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rate_limit_pauses: u64,
    /// Hooks run after this item (`hooks:` in the file, `--on-change`); absent when none ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookReport>,
    /// `--prune` items: why, and what went with the tag; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneInfo>,
}

/// What a prune item deleted (or would), and why (docs/sync.md, "Pruning").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneInfo {
    /// `not-selected: latest 5` or `gone-at-source`.
    pub why: Reason,
    /// Only the tag went: a kept tag needs its digest.
    pub tag_only: bool,
    /// The artifacts deleted with it (cosign digest tags, referrers, fallback indexes).
    pub artifacts: Vec<ArtifactGone>,
}

/// One hook run (see docs/sync.md, "Hooks").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookReport {
    /// `on-change` or `on-failure`.
    pub on: String,
    /// The program run (argv\[0\]).
    pub program: String,
    /// It exited 0 within its timeout.
    pub ok: bool,
    /// Its exit code (null when it was killed or could not start).
    pub exit_code: Option<i32>,
    /// Killed after the timeout.
    pub timed_out: bool,
    /// Why it failed, for failures.
    pub error: Option<String>,
    /// Wall time.
    pub duration_seconds: f64,
}

impl ItemReport {
    /// An empty report for an item.
    pub fn new(image: usize, source: &str, target: &str) -> ItemReport {
        ItemReport {
            image,
            source: source.into(),
            target: target.into(),
            action: Action::Failed,
            source_digest: None,
            target_digest: None,
            target_state: None,
            children_checked: 0,
            repaired: vec![],
            manifests_pushed: 0,
            blobs: BlobStats::default(),
            planned_bytes: None,
            missing: vec![],
            warnings: vec![],
            error: None,
            exit_code: None,
            duration_seconds: 0.0,
            signatures: vec![],
            signed: vec![],
            rate_limit_pauses: 0,
            hooks: vec![],
            prune: None,
        }
    }

    /// A short human description of the result.
    pub fn detail(&self) -> String {
        match self.action {
            Action::SkippedUnchanged => format!("{} children present", self.children_checked),
            Action::Copied => format!(
                "{} blob(s) copied ({}), {} present, {} mounted; {} manifest(s) pushed",
                self.blobs.copied,
                human_bytes(self.blobs.copied_bytes),
                self.blobs.existing,
                self.blobs.mounted,
                self.manifests_pushed
            ),
            Action::PartialRepair => format!(
                "{} missing child(ren) restored, {} blob(s) copied ({}); index not re-pushed",
                self.repaired.len(),
                self.blobs.copied,
                human_bytes(self.blobs.copied_bytes)
            ),
            Action::WouldCopy => format!(
                "would copy up to {}",
                human_bytes(self.planned_bytes.unwrap_or(0))
            ),
            Action::WouldRepair => format!(
                "{} child(ren) missing, up to {} to copy",
                self.missing.len(),
                human_bytes(self.planned_bytes.unwrap_or(0))
            ),
            Action::Complete => match &self.target_state {
                Some(TargetState::Filtered {
                    source_digest,
                    filtered_digest,
                }) => format!(
                    "{} children and their blobs present; the tag holds the filtered index {filtered_digest} of {source_digest} (--on-reject filter)",
                    self.children_checked
                ),
                _ => format!("{} children and their blobs present", self.children_checked),
            },
            Action::Incomplete => {
                let list: Vec<String> = self
                    .missing
                    .iter()
                    .take(4)
                    .map(|m| {
                        let what = m.digest.as_ref().map_or("", |d| d.short());
                        match (&m.platform, &m.of) {
                            (Some(p), _) => format!("{} {what} ({p})", m.kind),
                            (None, Some(of)) => format!("{} {what} of {}", m.kind, of.short()),
                            _ => format!("{} {what}", m.kind).trim_end().to_string(),
                        }
                    })
                    .collect();
                let more = self.missing.len().saturating_sub(4);
                format!(
                    "missing: {}{}",
                    list.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            }
            Action::Pruned | Action::WouldPrune => {
                let p = self.prune.as_ref();
                let why = p.map_or(String::new(), |p| p.why.to_string());
                let what = match (self.action, p.is_some_and(|p| p.tag_only)) {
                    (Action::Pruned, true) => "tag deleted alone (a kept tag needs its digest)",
                    (Action::Pruned, false) => "deleted",
                    (_, true) => "would delete the tag alone (a kept tag needs its digest)",
                    (_, false) => "would delete",
                };
                let arts = p.map_or(0, |p| p.artifacts.len());
                let arts = match arts {
                    0 => String::new(),
                    n => format!(", with {n} artifact(s)"),
                };
                format!("{what} ({why}){arts}")
            }
            Action::PruneRefused => match &self.error {
                // The request and the registry's answer are the last cause.
                Some(e) => {
                    let first = e.lines().next().unwrap_or("");
                    match e.lines().filter_map(|l| l.trim().strip_prefix("caused by: ")).next_back() {
                        Some(cause) => format!("{first}: {cause}"),
                        None => first.to_string(),
                    }
                }
                None => self
                    .warnings
                    .first()
                    .map_or("not deleted", String::as_str)
                    .to_string(),
            },
            Action::Failed => self
                .error
                .as_deref()
                .unwrap_or("failed")
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        }
    }
}

/// The last JSON line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Items this run handled (after sharding).
    pub items: usize,
    /// Items in the whole configuration (before sharding).
    pub items_total: usize,
    /// `I/N` when sharded.
    pub shard: Option<String>,
    /// Counts per action.
    pub skipped_unchanged: usize,
    /// Copied.
    pub copied: usize,
    /// Partially repaired.
    pub partial_repair: usize,
    /// Failed.
    pub failed: usize,
    /// Dry run: would copy.
    pub would_copy: usize,
    /// Dry run: would repair.
    pub would_repair: usize,
    /// Verify: complete.
    pub complete: usize,
    /// Verify: incomplete.
    pub incomplete: usize,
    /// Blobs streamed from sources.
    pub blobs_copied: u64,
    /// Their bytes.
    pub bytes_copied: u64,
    /// Blobs mounted.
    pub blobs_mounted: u64,
    /// Manifests written.
    pub manifests_pushed: u64,
    /// Wall time.
    pub duration_seconds: f64,
    /// The process exit code (0, 6 or 7; see docs/exit-codes.md).
    pub exit_code: u8,
    /// Hooks that failed or timed out.
    #[serde(default)]
    pub hook_failures: usize,
    /// What `source-registry:` entries found in their registries' catalogs (absent when the
    /// file has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovered: Vec<DiscoveryReport>,
    /// `--prune`: tags deleted.
    #[serde(default)]
    pub pruned: usize,
    /// `--prune`: tags that would be deleted (dry run, `--prune-max 0`, a bundle's plan).
    #[serde(default)]
    pub would_prune: usize,
    /// `--prune`: planned deletions that did not happen (guards, the cap, refusals).
    #[serde(default)]
    pub prune_refused: usize,
    /// `--prune`: the refusals that are failures (they make the exit code 6).
    #[serde(default)]
    pub prune_failures: usize,
    /// `--prune`: target tags the rules do not own, kept (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_owned: Vec<NotOwned>,
    /// `--prune` on OCI layout targets: the garbage collection after the refs went.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gc: Vec<GcReport>,
}

/// Target tags an entry's rules do not own, kept and named (docs/sync.md, "Pruning").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotOwned {
    /// Index of the `images:` entry.
    pub image: usize,
    /// The target repository (or layout).
    pub target: String,
    /// The tags.
    pub tags: Vec<String>,
}

/// The repositories one `source-registry:` entry found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryReport {
    /// Index of the `images:` entry in the file (0-based).
    pub image: usize,
    /// `REGISTRY[/ORG]` as configured.
    pub source: String,
    /// Where the repositories go (`PREFIX/<repository path>`).
    pub target_prefix: String,
    /// Catalog pages read.
    pub catalog_pages: usize,
    /// Repositories the catalog listed (the whole registry).
    pub catalog_repositories: usize,
    /// Those taken (in the organisation, passing `regex` and `exclude`), in catalog order.
    pub repositories: Vec<String>,
}

impl Summary {
    /// Count one item (verify results are counted apart: `items` counts sync items).
    pub fn add(&mut self, r: &ItemReport) {
        if !matches!(
            r.action,
            Action::Complete
                | Action::Incomplete
                | Action::Pruned
                | Action::WouldPrune
                | Action::PruneRefused
        ) {
            self.items += 1;
        }
        match r.action {
            Action::SkippedUnchanged => self.skipped_unchanged += 1,
            Action::Copied => self.copied += 1,
            Action::PartialRepair => self.partial_repair += 1,
            Action::Failed => self.failed += 1,
            Action::WouldCopy => self.would_copy += 1,
            Action::WouldRepair => self.would_repair += 1,
            Action::Complete => self.complete += 1,
            Action::Incomplete => self.incomplete += 1,
            Action::Pruned => self.pruned += 1,
            Action::WouldPrune => self.would_prune += 1,
            Action::PruneRefused => {
                self.prune_refused += 1;
                if r.exit_code.is_some() {
                    self.prune_failures += 1;
                }
            }
        }
        self.blobs_copied += r.blobs.copied;
        self.bytes_copied += r.blobs.copied_bytes;
        self.blobs_mounted += r.blobs.mounted;
        self.manifests_pushed += r.manifests_pushed;
        self.hook_failures += r.hooks.iter().filter(|h| !h.ok).count();
    }

    /// One human line.
    pub fn line(&self) -> String {
        let mut parts = vec![];
        for (n, what) in [
            (self.skipped_unchanged, "unchanged"),
            (self.copied, "copied"),
            (self.partial_repair, "repaired"),
            (self.would_copy, "would copy"),
            (self.would_repair, "would repair"),
            (self.complete, "complete"),
            (self.incomplete, "incomplete"),
            (self.failed, "failed"),
            (self.pruned, "pruned"),
            (self.would_prune, "would prune"),
            (self.prune_refused, "prune refused"),
        ] {
            if n > 0 || (what == "failed" && self.items > 0) {
                parts.push(format!("{n} {what}"));
            }
        }
        let shard = self
            .shard
            .as_ref()
            .map(|s| format!(" (shard {s} of {} item(s) in total)", self.items_total))
            .unwrap_or_default();
        let written = if self.blobs_copied + self.blobs_mounted + self.manifests_pushed == 0 {
            match self.pruned {
                0 => "; nothing written".to_string(),
                _ => String::new(),
            }
        } else {
            format!(
                "; {} blob(s) copied ({}), {} mounted, {} manifest(s) pushed",
                self.blobs_copied,
                human_bytes(self.bytes_copied),
                self.blobs_mounted,
                self.manifests_pushed
            )
        };
        let freed: u64 = self.gc.iter().map(|g| g.orphaned.len() as u64).sum();
        let gc = match freed {
            0 if self.gc.is_empty() => String::new(),
            n => format!(
                "; garbage collection freed {n} blob(s) ({})",
                human_bytes(self.gc.iter().map(|g| g.orphaned_bytes).sum())
            ),
        };
        format!(
            "{} item(s){shard}: {}{written}{gc} in {:.1}s",
            self.items,
            parts.join(", "),
            self.duration_seconds
        )
    }
}

/// One JSON line of `--output json`.
// A line is built, printed and dropped one at a time: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Line {
    /// A work item (sync or verify).
    Item(ItemReport),
    /// The run's summary (last line).
    Summary(Summary),
}

/// The final human table.
pub fn table(items: &[ItemReport]) -> String {
    let mut s = String::new();
    let w_action = items
        .iter()
        .map(|i| i.action.as_str().len())
        .max()
        .unwrap_or(6)
        .max(6);
    let w_src = items
        .iter()
        .map(|i| i.source.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let w_dst = items
        .iter()
        .map(|i| i.target.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        s,
        "{:<w_action$}  {:<w_src$}  {:<w_dst$}  {:<19}  DETAIL",
        "ACTION", "SOURCE", "TARGET", "DIGEST"
    );
    for i in items {
        // The digest the target tag resolves to (a filtered mirror: the filtered index), else
        // the source's when nothing is known of the target.
        let digest = i
            .target_state
            .as_ref()
            .and_then(|s| s.resolves_to())
            .or(i.source_digest.as_ref())
            // A prune item: the digest the tag named.
            .or(i.target_digest.as_ref())
            .map_or("-", |d| d.short());
        let _ = writeln!(
            s,
            "{:<w_action$}  {:<w_src$}  {:<w_dst$}  {:<19}  {}",
            i.action.as_str(),
            i.source,
            i.target,
            digest,
            i.detail()
        );
    }
    s
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
