//! `--metrics-file PATH` (copy, sync, verify): the run's results in Prometheus text exposition
//! format, for node_exporter's textfile collector. The file is replaced atomically (a temporary
//! file in the same directory, fsync, rename), so the collector never reads half a file.
//!
//! Labels are bounded: `command`, `outcome`, `state`, and per item `image` (the source with its
//! tag) and `target`: as many series as the configuration has items, never a digest. The last
//! success of an item survives a failed run: the previous file's
//! `mirror_image_last_success_timestamp_seconds` values are read back for the items this run
//! attempted. Items this run did not attempt are not carried over (an image removed from the
//! configuration disappears).
//!
//! The commands hand their results over with [`record`] before they return; [`finish`], called
//! by `run.rs` once the command is done, adds the exit code and writes the file (also after a
//! failure that ended the command before any item ran).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::app::sync::report::{Action, ItemReport};
use crate::engine::report::Report;
use crate::engine::signature::format::Format;
use crate::engine::signature::publish::{SignStatus, Signed};

/// One item's result, as metrics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemResult {
    /// The source with its tag (or digest).
    pub image: String,
    /// The target.
    pub target: String,
    /// `copied`, `skipped-unchanged`, `failed`, … (the sync report's actions).
    pub outcome: &'static str,
    /// Blobs copied / existing / mounted, and their bytes.
    pub blobs: crate::engine::copy::BlobStats,
    /// Manifests written.
    pub manifests_pushed: u64,
    /// Rate-limit pauses (`--min-rate-remaining`).
    pub rate_limit_pauses: u64,
    /// Hooks that failed (or timed out).
    pub hook_failures: u64,
    /// Site signatures (`--sign-key`): `(status, format)` of each, e.g. `("signed", "tag")`.
    pub signed: Vec<(&'static str, &'static str)>,
}

/// The metric labels of one site signature.
fn signed_labels(s: &Signed) -> (&'static str, &'static str) {
    let status = match s.status {
        SignStatus::Signed => "signed",
        SignStatus::Existing => "existing",
        SignStatus::Planned => "planned",
    };
    let format = match s.format {
        Format::CosignSimpleSigning => "tag",
        _ => "bundle",
    };
    (status, format)
}

/// Whether an outcome counts as a success for `last_success`.
pub fn is_success(outcome: &str) -> bool {
    matches!(
        outcome,
        "copied" | "skipped-unchanged" | "partial-repair" | "complete"
    )
}

impl ItemResult {
    /// From a sync or verify item report.
    pub fn from_item(r: &ItemReport) -> ItemResult {
        ItemResult {
            image: r.source.clone(),
            target: r.target.clone(),
            outcome: r.action.as_str(),
            blobs: r.blobs.clone(),
            manifests_pushed: r.manifests_pushed,
            rate_limit_pauses: r.rate_limit_pauses,
            hook_failures: r.hooks.iter().filter(|h| !h.ok).count() as u64,
            signed: r.signed.iter().map(signed_labels).collect(),
        }
    }

    /// From a `mirror copy` report.
    pub fn from_copy(r: &Report) -> ItemResult {
        let outcome = if r.dry_run {
            Action::WouldCopy
        } else if r.up_to_date && r.repaired.is_empty() {
            Action::SkippedUnchanged
        } else if r.up_to_date {
            Action::PartialRepair
        } else {
            Action::Copied
        };
        ItemResult {
            image: r.source.clone(),
            target: r.target.clone(),
            outcome: outcome.as_str(),
            blobs: r.blobs.clone(),
            manifests_pushed: r.manifests_pushed,
            rate_limit_pauses: 0,
            hook_failures: 0,
            signed: r.signed.iter().map(signed_labels).collect(),
        }
    }
}

/// What the command recorded (one process runs one command).
static RECORDED: Mutex<Vec<ItemResult>> = Mutex::new(Vec::new());

/// Hand the command's item results over (called before the command returns).
pub fn record(items: impl IntoIterator<Item = ItemResult>) {
    RECORDED.lock().expect("not poisoned").extend(items);
}

/// Count a failed hook of `mirror copy` (`failed_item`: the copy itself failed, so nothing was
/// recorded yet).
pub fn note_hook_failure(failed_item: bool) {
    let mut r = RECORDED.lock().expect("not poisoned");
    match r.last_mut() {
        Some(last) if !failed_item => last.hook_failures += 1,
        _ => r.push(ItemResult {
            image: String::new(),
            target: String::new(),
            outcome: Action::Failed.as_str(),
            blobs: Default::default(),
            manifests_pushed: 0,
            rate_limit_pauses: 0,
            hook_failures: 1,
            signed: vec![],
        }),
    }
}

/// Write the metrics file of a finished command: `failed_item` stands for a command that
/// failed before recording anything (`image`, `target` as given on the command line; `None`
/// for sync).
pub fn finish(
    path: &Path,
    command: &str,
    started: Instant,
    exit_code: u8,
    failed_item: Option<(&str, &str)>,
) -> std::io::Result<()> {
    let mut items = std::mem::take(&mut *RECORDED.lock().expect("not poisoned"));
    // One-item commands label the item as the command line names it, whether it failed early
    // or not, so its last success is found again.
    if let Some((image, target)) = failed_item {
        for i in &mut items {
            i.image = image.into();
            i.target = target.into();
        }
    }
    if items.is_empty() {
        if let Some((image, target)) = failed_item {
            items.push(ItemResult {
                image: image.into(),
                target: target.into(),
                outcome: Action::Failed.as_str(),
                blobs: Default::default(),
                manifests_pushed: 0,
                rate_limit_pauses: 0,
                hook_failures: 0,
                signed: vec![],
            });
        }
    }
    let previous = std::fs::read_to_string(path)
        .map(|t| last_successes(&t))
        .unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let text = render(
        command,
        &items,
        &previous,
        now,
        started.elapsed().as_secs_f64(),
        exit_code,
    );
    write_atomically(path, text.as_bytes())
}

/// The previous file's last-success timestamps, by (image, target).
pub fn last_successes(text: &str) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("mirror_image_last_success_timestamp_seconds{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let labels = parse_labels(labels);
        if let (Some(i), Some(t), Ok(v)) = (
            labels.get("image"),
            labels.get("target"),
            value.trim().parse::<f64>(),
        ) {
            out.insert((i.clone(), t.clone()), v);
        }
    }
    out
}

/// `a="x",b="y\"z"` → {a: x, b: y"z}.
fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if name.is_empty() || chars.next() != Some('"') {
            return out;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(o) => value.push(o),
                    None => return out,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(name.trim_start_matches(',').trim().to_string(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
}

/// A label value escaped for the text format.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The file's text.
pub fn render(
    command: &str,
    items: &[ItemResult],
    previous: &BTreeMap<(String, String), f64>,
    now: f64,
    duration: f64,
    exit_code: u8,
) -> String {
    let c = esc(command);
    let mut s = String::new();
    let family = |s: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(s, "# HELP {name} {help}");
        let _ = writeln!(s, "# TYPE {name} {kind}");
    };
    family(
        &mut s,
        "mirror_run_timestamp_seconds",
        "gauge",
        "When the last run of the command ended (Unix time).",
    );
    let _ = writeln!(
        s,
        "mirror_run_timestamp_seconds{{command=\"{c}\"}} {}",
        num(now)
    );
    family(
        &mut s,
        "mirror_run_duration_seconds",
        "gauge",
        "Wall time of the last run.",
    );
    let _ = writeln!(
        s,
        "mirror_run_duration_seconds{{command=\"{c}\"}} {}",
        num((duration * 1000.0).round() / 1000.0)
    );
    family(
        &mut s,
        "mirror_run_exit_code",
        "gauge",
        "Exit code of the last run (0 ok; see docs/exit-codes.md).",
    );
    let _ = writeln!(s, "mirror_run_exit_code{{command=\"{c}\"}} {exit_code}");

    family(
        &mut s,
        "mirror_items_total",
        "counter",
        "Items of the last run by outcome.",
    );
    let mut by_outcome: BTreeMap<&str, u64> = BTreeMap::new();
    for o in [
        "copied",
        "skipped-unchanged",
        "partial-repair",
        "failed",
        "would-copy",
        "would-repair",
        "complete",
        "incomplete",
        "pruned",
        "would-prune",
        "prune-refused",
    ] {
        by_outcome.insert(o, 0);
    }
    for i in items {
        *by_outcome.entry(i.outcome).or_default() += 1;
    }
    for (o, n) in &by_outcome {
        let _ = writeln!(
            s,
            "mirror_items_total{{command=\"{c}\",outcome=\"{o}\"}} {n}"
        );
    }
    let sum = |f: fn(&ItemResult) -> u64| items.iter().map(f).sum::<u64>();
    family(
        &mut s,
        "mirror_blobs_total",
        "counter",
        "Blobs of the last run: copied (streamed), existing (already there), mounted.",
    );
    for (state, n) in [
        ("copied", sum(|i| i.blobs.copied)),
        ("existing", sum(|i| i.blobs.existing)),
        ("mounted", sum(|i| i.blobs.mounted)),
    ] {
        let _ = writeln!(
            s,
            "mirror_blobs_total{{command=\"{c}\",state=\"{state}\"}} {n}"
        );
    }
    family(
        &mut s,
        "mirror_blob_bytes_total",
        "counter",
        "Bytes of those blobs.",
    );
    for (state, n) in [
        ("copied", sum(|i| i.blobs.copied_bytes)),
        ("existing", sum(|i| i.blobs.existing_bytes)),
        ("mounted", sum(|i| i.blobs.mounted_bytes)),
    ] {
        let _ = writeln!(
            s,
            "mirror_blob_bytes_total{{command=\"{c}\",state=\"{state}\"}} {n}"
        );
    }
    family(
        &mut s,
        "mirror_manifests_pushed_total",
        "counter",
        "Manifests written in the last run.",
    );
    let _ = writeln!(
        s,
        "mirror_manifests_pushed_total{{command=\"{c}\"}} {}",
        sum(|i| i.manifests_pushed)
    );
    family(
        &mut s,
        "mirror_rate_limit_pauses_total",
        "counter",
        "Pauses for a low Docker Hub pull budget (--min-rate-remaining) in the last run.",
    );
    let _ = writeln!(
        s,
        "mirror_rate_limit_pauses_total{{command=\"{c}\"}} {}",
        sum(|i| i.rate_limit_pauses)
    );
    family(
        &mut s,
        "mirror_pruned_total",
        "counter",
        "Tags deleted by --prune in the last run (their artifacts not counted).",
    );
    let _ = writeln!(
        s,
        "mirror_pruned_total{{command=\"{c}\"}} {}",
        items.iter().filter(|i| i.outcome == "pruned").count()
    );
    family(
        &mut s,
        "mirror_hook_failures_total",
        "counter",
        "Hooks that failed or timed out in the last run.",
    );
    let _ = writeln!(
        s,
        "mirror_hook_failures_total{{command=\"{c}\"}} {}",
        sum(|i| i.hook_failures)
    );

    family(
        &mut s,
        "mirror_signatures_total",
        "counter",
        "Site signatures (--sign-key) of the last run: signed (written), existing (a valid one was already there), planned (dry run); by format (tag: the .sig tag, bundle: the Sigstore bundle referrer).",
    );
    let mut by_sig: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for status in ["signed", "existing", "planned"] {
        for format in ["tag", "bundle"] {
            by_sig.insert((status, format), 0);
        }
    }
    for l in items.iter().flat_map(|i| &i.signed) {
        *by_sig.entry(*l).or_default() += 1;
    }
    for ((status, format), n) in &by_sig {
        let _ = writeln!(
            s,
            "mirror_signatures_total{{command=\"{c}\",status=\"{status}\",format=\"{format}\"}} {n}"
        );
    }

    // Per item. Duplicates (sync --verify checks items again) keep the last result.
    let mut per: BTreeMap<(String, String), &ItemResult> = BTreeMap::new();
    for i in items {
        per.insert((i.image.clone(), i.target.clone()), i);
    }
    if per.is_empty() {
        return s;
    }
    family(
        &mut s,
        "mirror_image_last_attempt_timestamp_seconds",
        "gauge",
        "When the item was last tried (Unix time).",
    );
    for (image, target) in per.keys() {
        let _ = writeln!(
            s,
            "mirror_image_last_attempt_timestamp_seconds{{image=\"{}\",target=\"{}\"}} {}",
            esc(image),
            esc(target),
            num(now)
        );
    }
    family(
        &mut s,
        "mirror_image_last_success_timestamp_seconds",
        "gauge",
        "When the item last succeeded (Unix time; kept from the previous file after a failure).",
    );
    for ((image, target), i) in &per {
        let last = if is_success(i.outcome) {
            Some(now)
        } else {
            previous.get(&(image.clone(), target.clone())).copied()
        };
        if let Some(t) = last {
            let _ = writeln!(
                s,
                "mirror_image_last_success_timestamp_seconds{{image=\"{}\",target=\"{}\"}} {}",
                esc(image),
                esc(target),
                num(t)
            );
        }
    }
    family(
        &mut s,
        "mirror_image_outcome",
        "gauge",
        "1 for the item's outcome in the last run.",
    );
    for ((image, target), i) in &per {
        let _ = writeln!(
            s,
            "mirror_image_outcome{{image=\"{}\",target=\"{}\",outcome=\"{}\"}} 1",
            esc(image),
            esc(target),
            i.outcome
        );
    }
    s
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "metrics".into());
    // Not `*.prom`: the textfile collector ignores it while it is written.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(image: &str, outcome: &'static str) -> ItemResult {
        ItemResult {
            image: image.into(),
            target: format!("t/{image}"),
            outcome,
            blobs: Default::default(),
            manifests_pushed: 1,
            rate_limit_pauses: 0,
            hook_failures: 0,
            signed: vec![],
        }
    }

    #[test]
    fn last_success_survives_a_failure_and_labels_round_trip() {
        let odd = "r/a:\"q\"\\x";
        let first = render(
            "sync",
            &[item(odd, "copied"), item("r/b:v1", "copied")],
            &BTreeMap::new(),
            100.0,
            1.0,
            0,
        );
        let prev = last_successes(&first);
        assert_eq!(prev.len(), 2, "{first}");
        assert_eq!(prev[&(odd.to_string(), format!("t/{odd}"))], 100.0);
        let second = render(
            "sync",
            &[item(odd, "failed"), item("r/b:v1", "skipped-unchanged")],
            &prev,
            200.0,
            1.0,
            6,
        );
        let now = last_successes(&second);
        assert_eq!(now[&(odd.to_string(), format!("t/{odd}"))], 100.0);
        assert_eq!(now[&("r/b:v1".to_string(), "t/r/b:v1".to_string())], 200.0);
        assert!(second.contains("mirror_run_exit_code{command=\"sync\"} 6"));
        assert!(second.contains("mirror_items_total{command=\"sync\",outcome=\"failed\"} 1"));
        assert!(!second.contains("sha256:"));
    }

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.prom");
        write_atomically(&p, b"a 1\n").unwrap();
        write_atomically(&p, b"a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a 2\n");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
