//! How `mirror sync` and `mirror verify` show items: JSON lines on stdout, or status lines on
//! stderr and a table on stdout, all through the [`Printer`].

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::app::printer::Printer;
use crate::error::hints::HintStyle;
use crate::error::Error;

use crate::app::sync::report::{self, Action, ItemReport, Line, Summary};

/// The error with its causes and hints (in the words of `style`'s reader), one per line.
pub(crate) fn error_text(e: &Error, style: HintStyle) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(&format!("\n  caused by: {c}"));
        src = c.source();
    }
    for h in e.hints_for(style) {
        s.push_str(&format!("\n  hint: {h}"));
    }
    s
}

/// Prints items as they finish, in the chosen format.
pub(crate) struct Output {
    pub(crate) printer: Printer,
    /// Per-item status lines on stderr (human output).
    pub(crate) status: bool,
    pub(crate) total: usize,
    pub(crate) done: AtomicUsize,
}

impl Output {
    pub(crate) fn item(&self, r: &ItemReport) {
        if self.printer.json() {
            self.printer.out_json_line(&Line::Item(r.clone()));
        } else if self.status {
            let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
            let w = self.total.to_string().len();
            let mut text = format!(
                "[{n:>w$}/{}] {:<17} {} → {}  {}\n",
                self.total,
                r.action.as_str(),
                r.source,
                r.target,
                r.detail()
            );
            if matches!(r.action, Action::Failed | Action::PruneRefused) {
                if let Some(e) = &r.error {
                    // A refused prune's detail names the cause already: its hints remain.
                    let refused = r.action == Action::PruneRefused;
                    for l in e.lines().skip(1) {
                        if !refused || l.trim_start().starts_with("hint:") {
                            text.push_str(&format!("      {l}\n"));
                        }
                    }
                }
            }
            self.printer.info(&text);
        }
    }

    pub(crate) fn finish(&self, items: &[ItemReport], summary: &Summary) {
        if self.printer.json() {
            self.printer.out_json_line(&Line::Summary(summary.clone()));
        } else {
            let mut text = String::new();
            if !items.is_empty() {
                text.push_str(&report::table(items));
            }
            text.push_str(&format!("{}\n", summary.line()));
            self.printer.out(&text);
        }
    }
}
