//! Listings that the registry pages with `Link: <…>; rel="next"`: tags and referrers, each
//! bounded by a [`Pager`] (pages seen, page count, entries, bytes).

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};

use super::errors::{read_limited, registry_error, Limited};
use super::pager::Pager;
use super::{headers, RegistryRepo};
use crate::error::{redact_url, Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, MAX_MANIFEST_BYTES};
use crate::model::media;
use crate::transport::storage::{ReferrerList, Storage};

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

/// The most tags one `tags/list` listing may hold, over all its pages.
pub const MAX_TAGS: usize = 1_000_000;
/// The most referrers one subject may have, over all pages.
pub const MAX_REFERRERS: usize = 100_000;
