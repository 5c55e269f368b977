//! The printer: the only place that writes to stdout and stderr (besides `main.rs` before the
//! runtime starts).
//!
//! stdout carries results (`TARGET@DIGEST`, reports, JSON); stderr everything else (warnings,
//! progress, summaries, errors). Every stderr write locks stdout first, so a line on one never
//! lands in the middle of a line on the other when both go to the same terminal or file. A
//! closed stdout pipe (`mirror … | head`) is not an error. [`CliReporter`] turns engine events
//! into a progress bar (terminal only), warnings and log lines.

use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::app::flags::{ColorChoice, GlobalArgs, OutputFormat};
use crate::engine::progress::{BlobOutcome, Event, Reporter};

/// What the run decided about output, once, from the flags and the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Draw progress bars.
    pub progress: bool,
    /// Print only errors on stderr: no warnings, no summaries.
    pub quiet: bool,
    /// `-v` or more: also show plans on stderr.
    pub verbose: bool,
    /// Use colour on stderr.
    pub color: bool,
    /// `--output`.
    pub output: OutputFormat,
}

impl Printer {
    /// Decide from the global flags and whether stderr is a terminal.
    pub fn new(g: &GlobalArgs) -> Self {
        let tty = std::io::stderr().is_terminal();
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none(),
        };
        Printer {
            progress: tty
                && !g.no_progress
                && g.verbose == 0
                && g.quiet == 0
                && g.output == OutputFormat::Human
                && std::env::var_os("MIRROR_TEST").is_none(),
            quiet: g.quiet > 0,
            verbose: g.verbose > 0,
            color,
            output: g.output,
        }
    }

    /// A printer that draws nothing but warnings and errors (for library callers and tests).
    pub fn plain(output: OutputFormat) -> Self {
        Printer {
            progress: false,
            quiet: false,
            verbose: false,
            color: false,
            output,
        }
    }

    /// `--output json`.
    pub fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }

    /// Write raw text to stdout.
    pub fn out(&self, text: &str) {
        self.out_bytes(text.as_bytes());
    }

    /// Write raw bytes to stdout and flush.
    pub fn out_bytes(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(bytes).and_then(|_| out.flush()) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                let _ = writeln!(std::io::stderr().lock(), "error: writing to stdout: {e}");
            }
        }
    }

    /// One line on stdout.
    pub fn out_line(&self, line: &str) {
        self.out(&format!("{line}\n"));
    }

    /// A value as pretty JSON (one document) on stdout.
    pub fn out_json<T: serde::Serialize>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => self.out_line(&s),
            Err(e) => self.error_text(&format!("cannot encode the report as JSON: {e}"), &[]),
        }
    }

    /// A value as one JSON line on stdout (JSON Lines, for `mirror sync`).
    pub fn out_json_line<T: serde::Serialize>(&self, value: &T) {
        match serde_json::to_string(value) {
            Ok(s) => self.out_line(&s),
            Err(e) => self.error_text(&format!("cannot encode the report as JSON: {e}"), &[]),
        }
    }

    /// `mirror inventory`'s table on stdout: one line per repository (tags, manifests, blobs,
    /// and the bytes of both), then the sparse-index verdict per registry.
    pub fn inventory(&self, inv: &crate::model::delta::Inventory) {
        use crate::engine::report::human_bytes;
        let width = inv
            .repositories
            .iter()
            .map(|r| r.name.len())
            .chain([10])
            .max()
            .unwrap_or(10);
        let mut s = format!(
            "{:<width$}  {:>5}  {:>9}  {:>6}  {:>10}\n",
            "REPOSITORY", "TAGS", "MANIFESTS", "BLOBS", "BYTES"
        );
        for r in &inv.repositories {
            let bytes: u64 = r.manifests.iter().chain(&r.blobs).map(|o| o.size).sum();
            s.push_str(&format!(
                "{:<width$}  {:>5}  {:>9}  {:>6}  {:>10}\n",
                r.name,
                r.tags.len(),
                r.manifests.len(),
                r.blobs.len(),
                human_bytes(bytes)
            ));
        }
        for f in &inv.registries {
            let verdict = match f.sparse_index {
                crate::model::delta::SparseIndex::Accepted => "accepted",
                crate::model::delta::SparseIndex::Rejected => "rejected",
                crate::model::delta::SparseIndex::Unknown => {
                    "unknown (not probed, or the probe settled nothing)"
                }
            };
            s.push_str(&format!(
                "registry {}: sparse indexes {verdict}\n",
                f.registry
            ));
        }
        self.out(&s);
    }

    /// Text on stderr, always (even with `--quiet`): for what the user asked to see there.
    fn err(&self, text: &str) {
        // stdout first, then stderr: the same order everywhere, so no deadlock, and no
        // interleaving with a result line being written.
        let _out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    /// Text on stderr unless `--quiet` (summaries, per-item status lines). Adds no newline.
    pub fn info(&self, text: &str) {
        if !self.quiet {
            self.err(text);
        }
    }

    /// One line on stderr unless `--quiet`.
    pub fn info_line(&self, line: &str) {
        self.info(&format!("{line}\n"));
    }

    /// `warning: …` on stderr unless `--quiet`.
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            let (y, r) = self.paint("\x1b[33m");
            self.err(&format!("{y}warning{r}: {msg}\n"));
        }
    }

    /// An error with its causes and hints on stderr (always).
    pub fn error(&self, e: &crate::error::Error) {
        self.error_with(e, &e.hints());
    }

    /// Any error with its causes and the given hints on stderr (always).
    pub fn error_with(&self, e: &dyn std::error::Error, hints: &[String]) {
        let mut text = e.to_string();
        let mut src = e.source();
        while let Some(s) = src {
            text.push_str(&format!("\n  caused by: {s}"));
            src = s.source();
        }
        self.error_text(&text, hints);
    }

    /// `error: TEXT` and `hint: …` lines on stderr (always).
    pub fn error_text(&self, text: &str, hints: &[String]) {
        let (red, reset) = self.paint("\x1b[31m");
        let (yellow, _) = self.paint("\x1b[33m");
        let mut s = format!("{red}error{reset}: {text}\n");
        for h in hints {
            s.push_str(&format!("{yellow}hint{reset}: {h}\n"));
        }
        self.err(&s);
    }

    fn paint(&self, code: &'static str) -> (&'static str, &'static str) {
        if self.color {
            (code, "\x1b[0m")
        } else {
            ("", "")
        }
    }
}

/// A log writer for `tracing` that, like the printer, locks stdout before stderr, so a log
/// line never splits a result line. `main.rs` installs it.
pub struct LogWriter(
    #[allow(dead_code)] std::io::StdoutLock<'static>,
    std::io::StderrLock<'static>,
);

impl LogWriter {
    /// Take both locks (stdout first).
    pub fn new() -> Self {
        let out = std::io::stdout().lock();
        LogWriter(out, std::io::stderr().lock())
    }
}

impl Default for LogWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.1.flush()
    }
}

/// Engine events → progress bar / logs; warnings are also collected for the report.
pub struct CliReporter {
    printer: Printer,
    /// Prefix for warnings (`mirror sync` names the item), empty for one image.
    label: String,
    bar: Option<ProgressBar>,
    warnings: Mutex<Vec<String>>,
}

impl CliReporter {
    /// A reporter for one image; draws a bar when the printer says so.
    pub fn new(printer: Printer) -> Self {
        let bar = printer.progress.then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b
        });
        CliReporter {
            printer,
            label: String::new(),
            bar,
            warnings: Mutex::new(vec![]),
        }
    }

    /// A reporter for one of many items: no bar, warnings prefixed with `label: `.
    pub fn for_item(printer: Printer, label: &str) -> Self {
        CliReporter {
            printer,
            label: label.to_string(),
            bar: None,
            warnings: Mutex::new(vec![]),
        }
    }

    /// The warnings seen so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().expect("not poisoned").clone()
    }

    /// Remove the progress bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn warn(&self, w: &str) {
        let msg = if self.label.is_empty() {
            w.to_string()
        } else {
            format!("{}: {w}", self.label)
        };
        match &self.bar {
            Some(b) => b.suspend(|| self.printer.warn(&msg)),
            None => self.printer.warn(&msg),
        }
    }
}

impl Reporter for CliReporter {
    fn event(&self, e: Event) {
        let item = self.label.as_str();
        match e {
            Event::Stage(s) => {
                tracing::debug!(item, stage = s, "stage");
                if let Some(b) = &self.bar {
                    b.set_message(s);
                }
            }
            Event::BlobsPlanned { count, bytes } => {
                tracing::debug!(item, count, bytes, "blobs planned");
                if let Some(b) = &self.bar {
                    b.set_length(bytes);
                    b.set_position(0);
                }
            }
            Event::BlobStarted { digest, size } => {
                tracing::debug!(item, %digest, size, "blob copy started")
            }
            Event::BlobBytes { n, .. } => {
                if let Some(b) = &self.bar {
                    b.inc(n);
                }
            }
            Event::BlobDone {
                digest,
                size,
                outcome,
            } => {
                tracing::debug!(item, %digest, size, ?outcome, "blob done");
                if let Some(b) = &self.bar {
                    if outcome != BlobOutcome::Copied {
                        b.inc(size);
                    }
                }
            }
            Event::ManifestPushed { digest, tag } => {
                tracing::debug!(item, %digest, tag = tag.as_deref().unwrap_or(""), "manifest pushed")
            }
            Event::Warning(w) => {
                self.warn(&w);
                self.warnings.lock().expect("not poisoned").push(w);
            }
            Event::Info(i) => tracing::info!(item, "{i}"),
        }
    }
}

/// Ask for a password on the terminal (stdin), without echo when `stty` is available.
pub fn prompt_password(prompt: &str) -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err("stdin is not a terminal to ask for it".into());
    }
    let stty = |arg: &str| {
        Command::new("stty")
            .arg(arg)
            .stdin(Stdio::inherit())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    {
        let _out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{prompt}");
        let _ = err.flush();
    }
    let hidden = stty("-echo");
    let mut line = String::new();
    let r = std::io::stdin().read_line(&mut line);
    if hidden {
        stty("echo");
    }
    let _ = writeln!(std::io::stderr().lock());
    r.map_err(|e| format!("reading the terminal failed: {e}"))?;
    let p = line.trim_end_matches(['\n', '\r']);
    if p.is_empty() {
        return Err("an empty password was typed".into());
    }
    Ok(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporter_collects_warnings_even_when_quiet() {
        let mut p = Printer::plain(OutputFormat::Human);
        p.quiet = true;
        let r = CliReporter::for_item(p, "a:v1");
        r.event(Event::Warning("one".into()));
        r.event(Event::Info("not a warning".into()));
        assert_eq!(r.warnings(), vec!["one".to_string()]);
    }
}
