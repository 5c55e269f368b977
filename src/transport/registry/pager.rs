//! The bounds of one paged listing (tags, referrers, `_catalog`): pages, entries, bytes, and
//! `Link` loops (docs/reliability.md).

use std::collections::HashSet;

use crate::error::{redact_url, Error, Result};

/// The most pages one listing may have (docs/reliability.md).
pub const MAX_PAGES: usize = 10_000;
/// The most body bytes one listing may take, over all its pages (each page is also at most
/// `MAX_MANIFEST_BYTES`, 4 MiB).
pub const MAX_LISTING_BYTES: usize = 64 << 20;

/// Bounds one paged listing: it remembers every page URL it read and refuses to read one
/// again (a `Link` loop, A → B → A), and caps the pages, the entries and the bytes. A page
/// whose `Link` names itself ends the listing, as it did before (some registries repeat the
/// last page's own URL); every other stop is an error naming the URL and the limit.
pub(super) struct Pager {
    what: &'static str,
    pub(super) url: String,
    seen: HashSet<String>,
    pub(super) pages: usize,
    entries: usize,
    bytes: usize,
    max_entries: usize,
}

impl Pager {
    pub(super) fn new(what: &'static str, first: String, max_entries: usize) -> Self {
        Pager {
            what,
            seen: HashSet::from([first.clone()]),
            url: first,
            pages: 0,
            entries: 0,
            bytes: 0,
            max_entries,
        }
    }

    fn limit(&self, message: String) -> Error {
        Error::Network {
            method: "GET".into(),
            url: redact_url(&self.url),
            message,
            transient: false,
            https_to_http: false,
        }
    }

    /// Count a page of `n` entries and `bytes` body bytes.
    pub(super) fn took(&mut self, n: usize, bytes: usize) -> Result<()> {
        self.pages += 1;
        self.entries = self.entries.saturating_add(n);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.entries > self.max_entries {
            return Err(self.limit(format!(
                "the {} listing passed {} entries after {} page(s); refusing to read more \
                 (the limit is {}, docs/reliability.md)",
                self.what, self.max_entries, self.pages, self.max_entries
            )));
        }
        if self.bytes > MAX_LISTING_BYTES {
            return Err(self.limit(format!(
                "the {} listing passed {} MiB after {} page(s); refusing to read more \
                 (the limit is {} MiB, docs/reliability.md)",
                self.what,
                MAX_LISTING_BYTES >> 20,
                self.pages,
                MAX_LISTING_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// Move to the `next` page: `Ok(false)` at the end of the listing.
    pub(super) fn follow(&mut self, next: Option<String>) -> Result<bool> {
        let Some(next) = next else {
            return Ok(false);
        };
        if next == self.url {
            tracing::debug!(url = %redact_url(&next), "a listing page links to itself: the end");
            return Ok(false);
        }
        if !self.seen.insert(next.clone()) {
            return Err(self.limit(format!(
                "the {} listing loops: page {} links back to {}, a page already read; \
                 stopped after {} page(s)",
                self.what,
                self.pages,
                redact_url(&next),
                self.pages
            )));
        }
        if self.pages >= MAX_PAGES {
            return Err(self.limit(format!(
                "the {} listing did not end after {} pages (the limit is {MAX_PAGES}, \
                 docs/reliability.md)",
                self.what, self.pages
            )));
        }
        self.url = next;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::registry::paging::{MAX_REFERRERS, MAX_TAGS};

    fn u(p: &str) -> String {
        format!("http://127.0.0.1:5000/v2/a/tags/list?{p}")
    }

    /// Issue 14: A → B → A looped forever (and grew past 17 GB for referrers).
    #[test]
    fn a_link_loop_is_an_error_naming_the_url() {
        let mut p = Pager::new("tags/list", u("n=1"), MAX_TAGS);
        p.took(1, 10).unwrap();
        assert!(p.follow(Some(u("last=b"))).unwrap());
        p.took(1, 10).unwrap();
        let e = p.follow(Some(u("n=1"))).unwrap_err();
        assert!(!e.is_transient(), "not retried: {e}");
        let e = e.to_string();
        assert!(e.contains("loops"), "{e}");
        assert!(
            e.contains("GET http://127.0.0.1:5000/v2/a/tags/list?last=b"),
            "{e}"
        );
    }

    #[test]
    fn a_page_linking_to_itself_ends_the_listing() {
        let mut p = Pager::new("tags/list", u("n=1"), MAX_TAGS);
        p.took(1, 10).unwrap();
        assert!(!p.follow(Some(u("n=1"))).unwrap());
        assert!(!p.follow(None).unwrap());
    }

    #[test]
    fn pages_entries_and_bytes_are_capped() {
        let mut p = Pager::new("referrers", u("0"), MAX_REFERRERS);
        for i in 1..=MAX_PAGES {
            p.took(0, 2).unwrap();
            let r = p.follow(Some(u(&i.to_string())));
            if i < MAX_PAGES {
                assert!(r.unwrap());
            } else {
                let e = r.unwrap_err().to_string();
                assert!(e.contains("did not end after 10000 pages"), "{e}");
            }
        }
        let mut p = Pager::new("referrers", u("0"), MAX_REFERRERS);
        p.took(MAX_REFERRERS, 1).unwrap();
        let e = p.took(1, 1).unwrap_err().to_string();
        assert!(e.contains("passed 100000 entries"), "{e}");
        let mut p = Pager::new("tags/list", u("0"), MAX_TAGS);
        p.took(1, MAX_LISTING_BYTES).unwrap();
        let e = p.took(1, 1).unwrap_err().to_string();
        assert!(e.contains("passed 64 MiB"), "{e}");
        assert!(p.took(usize::MAX, usize::MAX).is_err(), "saturates");
    }
}
