//! `GET /v2/_catalog`: the repositories a registry serves, following `Link: rel="next"` pages
//! (distribution pages with `?n=N&last=NAME`). Bounded: a page URL seen before ends the walk
//! with an error, and so do more than [`MAX_CATALOG_PAGES`] pages or [`MAX_CATALOG_ENTRIES`]
//! names. Registries that do not serve the catalog (Docker Hub answers 401 to every token, many
//! others 404) give [`Catalog::Unavailable`] with the status, so the caller can say so.

use std::collections::HashSet;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};

use super::{read_limited, registry_error, RegistryClient};
use crate::error::{redact_url, Error, ErrorKind, Result};
use crate::model::manifest::MAX_MANIFEST_BYTES;

/// The most catalog pages followed.
pub const MAX_CATALOG_PAGES: usize = 10_000;
/// The most repository names accepted from one catalog.
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

/// The `rel="next"` target of `Link` headers, resolved against `base`.
fn next_link(base: &str, headers: &HeaderMap) -> Option<String> {
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
            next.then(|| {
                if t.starts_with("http://") || t.starts_with("https://") {
                    t.to_string()
                } else if t.starts_with('/') {
                    format!("{base}{t}")
                } else {
                    format!("{base}/{t}")
                }
            })
        })
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
        let mut url = format!("{}/v2/_catalog?n={}", self.base(), page_size.max(1));
        let mut seen = HashSet::new();
        let mut out = vec![];
        for page in 0..MAX_CATALOG_PAGES {
            if !seen.insert(url.clone()) {
                return Err(Error::Internal(format!(
                    "GET {}: the catalog's Link header points back to a page already read",
                    redact_url(&url)
                )));
            }
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
                            message: m.to_string(),
                            transient: true,
                            https_to_http: false,
                        }
                    })?;
                    Ok(Ok((headers, body)))
                })
                .await;
            let (headers, body) = match answer {
                Ok(Ok(v)) => v,
                Ok(Err(status)) if page == 0 => return Ok(Catalog::Unavailable { status }),
                Ok(Err(status)) => {
                    return Err(Error::Internal(format!(
                        "GET {} answered {status} in the middle of the catalog",
                        redact_url(&url)
                    )))
                }
                Err(e) if page == 0 && e.kind() == ErrorKind::Auth => {
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
            out.extend(p.repositories.unwrap_or_default());
            if out.len() > MAX_CATALOG_ENTRIES {
                return Err(Error::Internal(format!(
                    "GET {}: the catalog of {} lists more than {MAX_CATALOG_ENTRIES} repositories; narrow the source to an organisation",
                    redact_url(&url),
                    self.host()
                )));
            }
            match next_link(&self.base(), &headers) {
                Some(next) => url = next,
                None => {
                    return Ok(Catalog::Listed {
                        repositories: out,
                        pages: page + 1,
                    })
                }
            }
        }
        Err(Error::Internal(format!(
            "{}: the catalog has more than {MAX_CATALOG_PAGES} pages",
            self.host()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_resolved() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(r#"</v2/_catalog?last=b&n=2>; rel="next""#),
        );
        assert_eq!(
            next_link("http://r:5000", &h).as_deref(),
            Some("http://r:5000/v2/_catalog?last=b&n=2")
        );
        let mut h = HeaderMap::new();
        h.insert("link", HeaderValue::from_static(r#"<x>; rel="prev""#));
        assert_eq!(next_link("http://r", &h), None);
    }
}
