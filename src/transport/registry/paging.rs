//! Listings that the registry pages with `Link: <…>; rel="next"`: tags and referrers.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};

use super::errors::{read_limited, registry_error};
use super::RegistryRepo;
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
                            message: m.to_string(),
                            transient: true,
                            https_to_http: false,
                        })?;
                Ok(Some((headers, body)))
            })
            .await
    }

    /// The `rel="next"` target of a `Link` header, resolved against the registry.
    fn next_link(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|l| {
                let (target, params) = l.trim().split_once(';')?;
                let next = params
                    .split(';')
                    .any(|p| p.trim().trim_start_matches("rel=").trim_matches('"') == "next");
                let t = target.trim().strip_prefix('<')?.strip_suffix('>')?;
                next.then(|| self.resolve_location(t))
            })
    }

    /// [`Storage::list_tags`]: every page of `tags/list`.
    pub(super) async fn all_tags(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut url = self.url(&format!("tags/list?n={}", self.tags_page));
        let mut tags = vec![];
        for _page in 0..100_000 {
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
            tags.extend(page.tags.unwrap_or_default());
            match self.next_link(&headers) {
                Some(next) if next != url => url = next,
                _ => return Ok(tags),
            }
        }
        Err(Error::Internal(format!(
            "{}: tags/list pagination did not end",
            self.describe()
        )))
    }

    /// [`Storage::referrers`]: every page of the referrers API; `None` when it answers 404.
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
        let mut out = ReferrerList::default();
        for page in 0..10_000 {
            let Some((headers, body)) = self.get_json(&url, media::OCI_INDEX).await? else {
                if page == 0 {
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
            out.descriptors.extend(p.manifests);
            out.filtered |= headers
                .get("oci-filters-applied")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            match self.next_link(&headers) {
                Some(next) if next != url => url = next,
                _ => return Ok(Some(out)),
            }
        }
        Err(Error::Internal(format!(
            "{}: referrers pagination did not end",
            self.describe()
        )))
    }
}
