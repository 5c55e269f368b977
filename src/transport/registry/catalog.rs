//! `GET /v2/_catalog`: the repositories a registry serves, following `Link: rel="next"` pages
//! (distribution pages with `?n=N&last=NAME`), bounded by the same [`Pager`] as tag and
//! referrer listings (a page seen twice, too many pages, entries or bytes end the walk with an
//! error). Registries that do not serve the catalog (Docker Hub answers 401 to every token,
//! others 404) give [`Catalog::Unavailable`] with the status, so the caller can say so.

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};

use super::client::RegistryClient;
use super::errors::{read_limited, registry_error, Limited};
use super::headers;
use super::pager::Pager;
use crate::error::{redact_url, Error, ErrorKind, Result};
use crate::model::manifest::MAX_MANIFEST_BYTES;

/// The most repository names accepted from one catalog, over all its pages.
pub const MAX_CATALOG_ENTRIES: usize = 200_000;

/// What `GET /v2/_catalog` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Catalog {
    /// The repository names, in the registry's order, and the number of pages read.
    Listed {
        /// Repository paths (`team/app`).
        repositories: Vec<String>,
        /// Pages fetched.
        pages: usize,
    },
    /// The registry does not serve its catalog to us: 401/403 (not allowed), 404 (not
    /// implemented) or 405.
    Unavailable {
        /// The HTTP status.
        status: u16,
    },
}

impl RegistryClient {
    /// List the registry's repositories (`GET /v2/_catalog?n=page_size`, then `Link` pages).
    pub async fn catalog(&self, page_size: usize) -> Result<Catalog> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        let scope = "registry:catalog:*";
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let first = format!("{}/v2/_catalog?n={}", self.base(), page_size.max(1));
        let mut pager = Pager::new("_catalog", first, MAX_CATALOG_ENTRIES);
        let mut out = vec![];
        loop {
            let url = pager.url.clone();
            let answer = self
                .opts
                .retry
                .run("GET", || async {
                    let resp = self
                        .send(Method::GET, &url, scope, h.clone(), None, true)
                        .await?;
                    let status = resp.status();
                    if matches!(
                        status,
                        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
                    ) {
                        return Ok(Err(status.as_u16()));
                    }
                    if !status.is_success() {
                        return Err(registry_error(&Method::GET, &url, resp).await.into());
                    }
                    let headers = resp.headers().clone();
                    let body = read_limited(resp, MAX_MANIFEST_BYTES).await.map_err(|m| {
                        Error::Network {
                            method: "GET".into(),
                            url: redact_url(&url),
                            transient: matches!(m, Limited::Failed(_)),
                            message: m.to_string(),
                            https_to_http: false,
                        }
                    })?;
                    Ok(Ok((headers, body)))
                })
                .await;
            let first_page = pager.pages == 0;
            let (headers, body) = match answer {
                Ok(Ok(v)) => v,
                Ok(Err(status)) if first_page => return Ok(Catalog::Unavailable { status }),
                Ok(Err(status)) => {
                    return Err(Error::Network {
                        method: "GET".into(),
                        url: redact_url(&url),
                        message: format!("answered {status} in the middle of the catalog"),
                        transient: false,
                        https_to_http: false,
                    })
                }
                Err(e) if first_page && e.kind() == ErrorKind::Auth => {
                    let status = match e.root() {
                        Error::Auth {
                            status: Some(s), ..
                        } => *s,
                        _ => 401,
                    };
                    return Ok(Catalog::Unavailable { status });
                }
                Err(e) => return Err(e),
            };
            let p: Page = serde_json::from_slice(&body).map_err(|e| {
                Error::Internal(format!(
                    "GET {} answered a catalog that is not JSON: {e}",
                    redact_url(&url)
                ))
            })?;
            let names = p.repositories.unwrap_or_default();
            pager.took(names.len(), body.len())?;
            out.extend(names);
            let values = headers.get_all("link");
            let next = headers::next_link(values.iter().filter_map(|v| v.to_str().ok()))
                .and_then(|t| headers::resolve(&self.base(), t));
            if !pager.follow(next)? {
                return Ok(Catalog::Listed {
                    repositories: out,
                    pages: pager.pages,
                });
            }
        }
    }
}
