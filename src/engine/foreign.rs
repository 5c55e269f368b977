//! Foreign (non-distributable) layers: layers a manifest lists with `urls`, or with a
//! `…foreign…` / `…nondistributable…` media type, as in Windows base images.
//!
//! By default they are not copied: the planner lists them (`Plan::foreign`) and the report
//! shows them; a runtime fetches them from their URLs at pull time. With
//! `--include-foreign-layers` the planner puts them among the blobs, and [`fetch`] downloads
//! each from the first of its URLs that answers 200 (plain GET, no credentials forwarded),
//! falling back to the source storage if it holds the blob. The copy engine verifies the bytes
//! against the descriptor's digest and size exactly like any other blob.
//!
//! A manifest that lists layer URLs is pushed unchanged (its digest must not change), so a
//! target registry that refuses those URLs refuses the manifest whether or not the layer data
//! was copied; [`explain_rejection`] turns that answer into an error with the fix.

use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};

use crate::error::{redact_url, Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::Descriptor;
use crate::model::manifest::{ManifestView, RawManifest};
use crate::transport::{BlobBody, Storage};

fn client() -> Result<&'static reqwest::Client> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::Client::builder()
        .user_agent(concat!("sparse-mirror/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| c))
}

/// Open a foreign layer: the first URL that answers 200, else the source storage. Returns the
/// body (unverified: the caller wraps it in a `VerifyingStream`) and where it came from.
pub async fn fetch<S: Storage>(src: &S, d: &Descriptor) -> Result<(BlobBody, String)> {
    let mut failures = vec![];
    for u in &d.urls {
        let shown = redact_url(u);
        let parsed = match reqwest::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") => p,
            _ => {
                failures.push(format!("{shown}: not an http(s) URL"));
                continue;
            }
        };
        match client()?.get(parsed).send().await {
            Ok(resp) if resp.status().is_success() => {
                let (m, url) = ("GET".to_string(), shown.clone());
                let stream = resp
                    .bytes_stream()
                    .map_err(move |e| Error::Network {
                        method: m.clone(),
                        url: url.clone(),
                        message: e.without_url().to_string(),
                        transient: true,
                        https_to_http: false,
                    })
                    .boxed();
                return Ok((
                    BlobBody {
                        size: d.size,
                        stream,
                    },
                    format!("foreign layer {} downloaded from {shown}", d.digest),
                ));
            }
            Ok(resp) => failures.push(format!("{shown}: HTTP {}", resp.status().as_u16())),
            Err(e) => failures.push(format!("{shown}: {}", e.without_url())),
        }
    }
    match src.fetch_blob(d).await {
        Ok(body) => Ok((body, src.blob_location(&d.digest))),
        Err(e) => {
            failures.push(format!("{}: {e}", src.describe()));
            Err(Error::Missing {
                what: format!(
                    "foreign layer {} ({})",
                    d.digest,
                    if d.urls.is_empty() {
                        "it lists no URLs".to_string()
                    } else {
                        failures.join("; ")
                    }
                ),
                place: "any of its URLs or the source".into(),
                sparse: false,
            })
        }
    }
}

/// Layers of `m` that carry URLs.
pub fn layers_with_urls(m: &RawManifest) -> Vec<Descriptor> {
    match m.view() {
        Ok(ManifestView::Image { layers, .. }) => {
            layers.into_iter().filter(|l| !l.urls.is_empty()).collect()
        }
        _ => vec![],
    }
}

/// If pushing `m` failed and `m` lists layer URLs, explain that the target may refuse them.
/// Authentication failures and rate limits pass through unchanged.
pub fn explain_rejection(m: &RawManifest, e: Error, target: &str) -> Error {
    let layers = layers_with_urls(m);
    if layers.is_empty() {
        return e;
    }
    // distribution answers 500 (UNKNOWN …, MANIFEST_BLOB_UNKNOWN <layer>) for a disallowed URL;
    // other registries name the layer or the URL. A refusal that names only ordinary blobs is
    // something else and passes through unchanged.
    let refused = match e.root() {
        Error::Registry(r) if matches!(r.status, 401 | 403 | 429) => false,
        Error::Registry(r) => {
            let text = r.to_string().to_ascii_lowercase();
            r.status >= 500
                || text.contains("url")
                || r.errors
                    .iter()
                    .flat_map(|o| o.detail_digests())
                    .any(|d| layers.iter().any(|l| l.digest == d))
        }
        _ => false,
    };
    if !refused {
        return e;
    }
    let mut urls: Vec<String> = layers
        .iter()
        .flat_map(|l| l.urls.iter().map(|u| redact_url(u)))
        .collect();
    urls.dedup();
    Error::ForeignUrlsRejected {
        target: target.to_string(),
        manifest: m.digest.clone(),
        layers: layers
            .into_iter()
            .map(|l| l.digest)
            .collect::<Vec<Digest>>(),
        urls,
        source: Box::new(e),
    }
}
