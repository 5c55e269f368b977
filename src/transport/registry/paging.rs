//! Listings that the registry pages with `Link: <…>; rel="next"`: tags and referrers, each
//! bounded by a [`Pager`] (pages seen, page count, entries, bytes).

use std::collections::HashSet;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};

use super::errors::{read_limited, registry_error, Limited};
use super::{headers, RegistryRepo};
use crate::error::{redact_url, Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, MAX_MANIFEST_BYTES};
use crate::model::media;
use crate::transport::{ReferrerList, Storage};

impl RegistryRepo {
    /// GET a small JSON document (tags/list, referrers) with retries: `Ok(None)` on 404,
    /// otherwise the body and the response headers.
    async fn get_json(&self, url: &str, accept: &str) -> Result<Option<(HeaderMap, Bytes)>> {
        let mut h = HeaderMap::new();
        h.insert(
            ACCEPT,
            HeaderValue::from_str(accept).map_err(|e| Error::Internal(e.to_string()))?,
        );
        self.client
            .opts
            .retry
            .run("GET", || async {
                let resp = self
                    .client
                    .send(Method::GET, url, &self.scope(), h.clone(), None, true)
                    .await?;
                if resp.status() == StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !resp.status().is_success() {
                    return Err(registry_error(&Method::GET, url, resp).await.into());
                }
                let headers = resp.headers().clone();
                let body =
                    read_limited(resp, MAX_MANIFEST_BYTES)
                        .await
                        .map_err(|m| Error::Network {
                            method: "GET".into(),
                            url: redact_url(url),
                            transient: matches!(m, Limited::Failed(_)),
                            message: m.to_string(),
                            https_to_http: false,
                        })?;
                Ok(Some((headers, body)))
            })
            .await
    }

    /// The `rel="next"` target of a `Link` header, resolved against the registry.
    fn next_link(&self, headers: &HeaderMap) -> Option<String> {
        let values = headers.get_all("link");
        let target = headers::next_link(values.iter().filter_map(|v| v.to_str().ok()))?;
        headers::resolve(&self.client.base(), target)
    }

    /// [`Storage::list_tags`]: every page of `tags/list`, within the [`Pager`] caps.
    pub(super) async fn all_tags(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let url = self.url(&format!("tags/list?n={}", self.tags_page));
        let mut pager = Pager::new("tags/list", url, MAX_TAGS);
        let mut tags = vec![];
        loop {
            let url = pager.url.clone();
            let Some((headers, body)) = self.get_json(&url, "application/json").await? else {
                // An unknown repository has no tags.
                return Ok(tags);
            };
            let page: Page = serde_json::from_slice(&body).map_err(|e| {
                Error::Internal(format!(
                    "GET {} answered a tag list that is not JSON: {e}",
                    redact_url(&url)
                ))
            })?;
            let page = page.tags.unwrap_or_default();
            pager.took(page.len(), body.len())?;
            tags.extend(page);
            if !pager.follow(self.next_link(&headers))? {
                return Ok(tags);
            }
        }
    }

    /// [`Storage::referrers`]: every page of the referrers API, within the [`Pager`] caps;
    /// `None` when it answers 404.
    pub(super) async fn all_referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<ReferrerList>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            manifests: Vec<Descriptor>,
        }
        let mut url = self.url(&format!("referrers/{subject}"));
        if let Some(t) = artifact_type {
            let mut u = reqwest::Url::parse(&url)
                .map_err(|e| Error::Internal(format!("referrers URL: {e}")))?;
            u.query_pairs_mut().append_pair("artifactType", t);
            url = u.to_string();
        }
        let mut pager = Pager::new("referrers", url, MAX_REFERRERS);
        let mut out = ReferrerList::default();
        loop {
            let url = pager.url.clone();
            let Some((headers, body)) = self.get_json(&url, media::OCI_INDEX).await? else {
                if pager.pages == 0 {
                    return Ok(None);
                }
                return Err(Error::Missing {
                    what: format!("referrers page {}", redact_url(&url)),
                    place: self.describe(),
                    sparse: false,
                });
            };
            let p: Page = serde_json::from_slice(&body).map_err(|e| Error::Manifest {
                what: format!("referrers of {subject} from {}", self.describe()),
                source: crate::model::manifest::ManifestError::Invalid(e.to_string()),
            })?;
            pager.took(p.manifests.len(), body.len())?;
            out.descriptors.extend(p.manifests);
            out.filtered |= headers
                .get("oci-filters-applied")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            if !pager.follow(self.next_link(&headers))? {
                return Ok(Some(out));
            }
        }
    }
}

/// The most pages one listing may have (docs/reliability.md).
pub const MAX_PAGES: usize = 10_000;
/// The most tags one `tags/list` listing may hold, over all its pages.
pub const MAX_TAGS: usize = 1_000_000;
/// The most referrers one subject may have, over all pages.
pub const MAX_REFERRERS: usize = 100_000;
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
