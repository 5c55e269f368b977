//! A small OCI distribution client on `reqwest`, and the registry [`Storage`] backend.
//!
//! Why not `oci-client` (0.18)? It was evaluated as the intended base and blocks correctness in
//! exactly the places this tool depends on: its `RegistryError` carries no HTTP status or
//! `Retry-After` (needed to classify a sparse-index rejection, to pick exit code 5 for 401/403,
//! and to retry 429/5xx); `mount_blob` turns the spec's 202 "not mounted" into an error and leaks
//! the opened upload; `pull_manifest_raw` drops `Content-Type`; its token handling is private, so
//! requests we must build ourselves (preflight PUT, referrers, mounts with two scopes) could not
//! share its tokens; its implicit auth path swallows the token server's reason; it has no client
//! certificates (mTLS, `--*-cert-dir`) and no identity-token (OAuth2 refresh token) exchange.
//! (Like it, this client keeps credentials with the registry's own origin: `headers.rs`.)
//! Wrapping it would have meant re-implementing every call anyway, so this module implements the
//! dozen requests `mirror` makes, following distribution-spec v1.1 and docs/registries.md.
//!
//! Files: `client.rs` (connections, ping, auth handshake), `errors.rs`, `upload.rs` (POST/PUT,
//! mounts, the upload probe, cancel), `paging.rs` and `catalog.rs` (listings, each bounded by
//! `pager.rs`), `headers.rs` (Link, Location, Content-Range, same-origin check), `auth_flow.rs` (tokens).
//!
//! Everything here is per registry host: one connection pool, one token cache keyed by scope.

use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::{Method, StatusCode};

use crate::error::{redact_url, Error, Result};
use crate::model::digest::{Algorithm, Digest, VerifyError};
use crate::model::manifest::{Descriptor, ManifestError, RawManifest, MAX_MANIFEST_BYTES};
use crate::model::media;
use crate::transport::ranges::budget::RangeBudget;
use crate::transport::resume;
use crate::transport::storage::{BlobBody, Fetched, OneStream, Pushed, ReferrerList, Storage};

mod auth_flow;
mod catalog;
mod client;
pub mod delete;
mod errors;
pub mod headers;
mod pager;
mod paging;
mod ranges;
mod upload;

pub use catalog::{Catalog, MAX_CATALOG_ENTRIES};
use client::{scope, SendBody};
pub use client::{ClientOptions, RangeSupport, RateLimit, RegistryClient};
use errors::{network_error, read_limited, registry_error, Limited};

/// A repository in a registry: the registry [`Storage`] backend.
pub struct RegistryRepo {
    client: Arc<RegistryClient>,
    repo: String,
    push: bool,
    tags_page: usize,
    /// Upload sessions opened and not yet finished or cancelled (their `Location`s), so an
    /// interrupted copy can cancel them ([`Storage::abort`]).
    open_uploads: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Upload sessions opened by [`Storage::has_blob_before_push`], by digest, for the
    /// `push_blob` that follows.
    reserved: std::sync::Mutex<std::collections::HashMap<Digest, String>>,
    /// Whether this registry answers a `POST ?mount=&from=<this repository>` for a blob that is
    /// here with 201 (`PROBE_*`): learnt once, with a blob known to be here.
    probe: std::sync::atomic::AtomicU8,
}

/// Not yet known whether the registry supports the blob probe (see `has_blob_before_push`).
const PROBE_UNKNOWN: u8 = 0;
/// Being found out.
const PROBE_CHECKING: u8 = 1;
/// A mount from the repository itself answered 201 for a blob that is here.
const PROBE_WORKS: u8 = 2;
/// It did not (202, an error): `HEAD` for the rest of the run.
const PROBE_UNSUPPORTED: u8 = 3;

/// What a manifest HEAD found.
struct Head {
    digest: Option<Digest>,
}

impl RegistryRepo {
    /// A repository handle. `push` selects the token scope (`pull` or `pull,push`).
    pub fn new(client: Arc<RegistryClient>, repo: &str, push: bool) -> Self {
        RegistryRepo {
            client,
            repo: repo.to_string(),
            push,
            tags_page: 1000,
            open_uploads: Default::default(),
            reserved: Default::default(),
            probe: std::sync::atomic::AtomicU8::new(PROBE_UNKNOWN),
        }
    }

    /// The `n` asked for per `tags/list` page (default 1000; registries may clamp it).
    pub fn with_tags_page_size(mut self, n: usize) -> Self {
        self.tags_page = n.max(1);
        self
    }

    /// The shared client.
    pub fn client(&self) -> &RegistryClient {
        &self.client
    }

    /// Authenticate up front (see [`RegistryClient::ping`]).
    pub async fn ping(&self) -> Result<()> {
        self.client.ping(&self.repo, self.push).await
    }

    fn scope(&self) -> String {
        scope(&self.repo, self.push)
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.client.base(), self.repo)
    }

    /// A server-given URL (`Location`, `Link`) resolved against the registry; `None` when it
    /// is not a URL.
    fn resolve_location(&self, loc: &str) -> Option<String> {
        headers::resolve(&self.client.base(), loc)
    }

    async fn head_manifest(&self, reference: &str) -> Result<Option<Head>> {
        let url = self.url(&format!("manifests/{reference}"));
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(media::MANIFEST_ACCEPT));
        self.client
            .opts
            .retry
            .run("HEAD manifest", || async {
                let resp = self
                    .client
                    .send(Method::HEAD, &url, &self.scope(), h.clone(), None, true)
                    .await?;
                self.client.note_rate_limit(resp.headers());
                match resp.status() {
                    s if s.is_success() => Ok(Some(Head {
                        digest: resp
                            .headers()
                            .get("docker-content-digest")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok()),
                    })),
                    StatusCode::NOT_FOUND => Ok(None),
                    _ => Err(registry_error(&Method::HEAD, &url, resp).await.into()),
                }
            })
            .await
    }

    async fn get_manifest_once(
        &self,
        url: &str,
        reference: &str,
        hint: Option<&str>,
    ) -> Result<RawManifest> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(media::MANIFEST_ACCEPT));
        let resp = self
            .client
            .send(Method::GET, url, &self.scope(), h, None, true)
            .await?;
        self.client.note_rate_limit(resp.headers());
        if !resp.status().is_success() {
            return Err(registry_error(&Method::GET, url, resp).await.into());
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let header_digest: Option<Digest> = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let what = || format!("manifest {reference} from {}", self.describe());
        // Refuse an oversized manifest without reading it, and without retrying: it is not a
        // network problem.
        let too_large = |n: u64| Error::Manifest {
            what: what(),
            source: ManifestError::TooLarge(n as usize),
        };
        if let Some(n) = resp
            .content_length()
            .filter(|n| *n > MAX_MANIFEST_BYTES as u64)
        {
            return Err(too_large(n));
        }
        let bytes = match read_limited(resp, MAX_MANIFEST_BYTES).await {
            Ok(b) => b,
            Err(Limited::TooLarge(n)) => return Err(too_large(n)),
            Err(Limited::Failed(m)) => {
                return Err(Error::Network {
                    method: "GET".into(),
                    url: redact_url(url),
                    message: m,
                    transient: true,
                    https_to_http: false,
                })
            }
        };
        let digest = match reference.parse::<Digest>() {
            Ok(want) => {
                let got = Digest::of(want.algorithm(), &bytes);
                if got != want {
                    return Err(Error::Verify {
                        what: what(),
                        source: VerifyError::Digest {
                            expected: want,
                            actual: got,
                        },
                    });
                }
                got
            }
            Err(_) => {
                let alg = header_digest
                    .as_ref()
                    .map_or(Algorithm::Sha256, Digest::algorithm);
                let got = Digest::of(alg, &bytes);
                if let Some(hd) = header_digest {
                    if hd != got {
                        // Either the body was damaged in transit or the header lies: retry.
                        return Err(Error::Verify {
                            what: what(),
                            source: VerifyError::Source(format!(
                                "Docker-Content-Digest {hd} does not match the body ({got})"
                            )),
                        });
                    }
                }
                got
            }
        };
        let hint = hint.or(content_type.as_deref());
        RawManifest::from_bytes(bytes, digest, hint).map_err(|source| Error::Manifest {
            what: what(),
            source,
        })
    }
}

/// `GET` a blob from byte `offset` on (`Range`, when `offset` > 0). Returns where the body
/// really starts: `offset` for a 206, 0 for a 200 from a source that ignores `Range`.
async fn open_blob(
    client: Arc<RegistryClient>,
    url: String,
    scope: String,
    size: u64,
    offset: u64,
) -> Result<(u64, resume::Body)> {
    let mut h = HeaderMap::new();
    if offset > 0 {
        let v = HeaderValue::from_str(&format!("bytes={offset}-")).expect("ASCII header value");
        h.insert(RANGE, v);
    }
    let resp = client
        .send(Method::GET, &url, &scope, h, None, false)
        .await?;
    let start = match resp.status() {
        StatusCode::PARTIAL_CONTENT => {
            let range = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            // The range must start where we asked and fit the descriptor's size.
            let fits = headers::content_range(range).is_some_and(|r| {
                r.first == offset && r.last < size && r.total.is_none_or(|t| t == size)
            });
            if !fits {
                return Err(Error::Internal(format!(
                    "GET {} with Range from byte {offset} of {size} answered Content-Range {}",
                    redact_url(&url),
                    headers::quote(range)
                )));
            }
            offset
        }
        s if s.is_success() => 0,
        _ => return Err(registry_error(&Method::GET, &url, resp).await.into()),
    };
    let m = Method::GET;
    let stream = resp
        .bytes_stream()
        .map_err(move |e| network_error(&m, &url, e))
        .boxed();
    Ok((start, stream))
}

impl Storage for RegistryRepo {
    fn describe(&self) -> String {
        format!("{}/{}", self.client.host, self.repo)
    }

    async fn fetch_manifest(&self, reference: &str, hint: Option<&str>) -> Result<RawManifest> {
        let url = self.url(&format!("manifests/{reference}"));
        self.client
            .opts
            .retry
            .run_when("GET manifest", Error::is_transient_or_damaged, || {
                self.get_manifest_once(&url, reference, hint)
            })
            .await
    }

    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        match self.head_manifest(reference).await? {
            None => Ok(None),
            Some(Head { digest: Some(d) }) => Ok(Some(d)),
            // No digest header: fall back to a GET.
            Some(Head { digest: None }) => {
                Ok(Some(self.fetch_manifest(reference, None).await?.digest))
            }
        }
    }

    async fn has_manifest(&self, d: &Descriptor) -> Result<bool> {
        Ok(self.head_manifest(d.digest.as_str()).await?.is_some())
    }

    async fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        let url = self.url(&format!("blobs/{}", d.digest));
        self.client
            .opts
            .retry
            .run("HEAD blob", || async {
                let resp = self
                    .client
                    .send(
                        Method::HEAD,
                        &url,
                        &self.scope(),
                        HeaderMap::new(),
                        None,
                        true,
                    )
                    .await?;
                match resp.status() {
                    s if s.is_success() => Ok(true),
                    StatusCode::NOT_FOUND => Ok(false),
                    _ => Err(registry_error(&Method::HEAD, &url, resp).await.into()),
                }
            })
            .await
    }

    async fn has_blob_before_push(&self, d: &Descriptor) -> Result<bool> {
        self.probe_or_reserve(d).await
    }

    async fn fetch_blob(&self, d: &Descriptor) -> Result<BlobBody> {
        let url = self.url(&format!("blobs/{}", d.digest));
        let (client, scope, size) = (self.client.clone(), self.scope(), d.size);
        let (_, first) = self
            .client
            .opts
            .retry
            .run("GET blob", || {
                open_blob(client.clone(), url.clone(), scope.clone(), size, 0)
            })
            .await?;
        // A body that breaks off is resumed with `Range` (verified as a whole by the caller).
        let reopen: resume::Reopen = Arc::new(move |offset| {
            Box::pin(open_blob(
                client.clone(),
                url.clone(),
                scope.clone(),
                size,
                offset,
            ))
        });
        let what = format!("blob {} from {}", d.digest, self.describe());
        let stream = resume::resuming(first, d.size, self.client.opts.retry, what, reopen);
        Ok(BlobBody {
            size: d.size,
            stream,
        })
    }

    async fn push_blob(&self, d: &Descriptor, body: BlobBody) -> Result<()> {
        self.upload_blob(d, body).await
    }

    async fn fetch_blob_ranged(
        &self,
        d: &Descriptor,
        budget: &Arc<RangeBudget>,
    ) -> Result<Fetched> {
        let url = self.url(&format!("blobs/{}", d.digest));
        let what = format!("blob {} from {}", d.digest, self.describe());
        let (scope, retry) = (self.scope(), self.client.opts.retry);
        match ranges::probe(&self.client, (url, scope, what), d.size, budget, retry).await? {
            ranges::Probed::Ranged(blob) => Ok(Fetched::Ranged(blob)),
            ranges::Probed::Refused(reason) => Ok(Fetched::Single(
                self.fetch_blob(d).await?,
                OneStream::Refused(reason),
            )),
            ranges::Probed::Near(reason) => Ok(Fetched::Single(
                self.fetch_blob(d).await?,
                OneStream::Near(reason),
            )),
        }
    }

    async fn push_manifest(&self, m: &RawManifest, tag: Option<&str>) -> Result<Pushed> {
        // Never start a manifest or tag PUT after an interrupt.
        self.client.opts.cancel.check()?;
        let reference = tag.map_or_else(|| m.digest.to_string(), str::to_string);
        let url = self.url(&format!("manifests/{reference}"));
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&m.media_type).map_err(|_| {
                Error::Internal(format!(
                    "media type {:?} is not a header value",
                    m.media_type
                ))
            })?,
        );
        self.client
            .opts
            .retry
            .run("PUT manifest", || async {
                let resp = self
                    .client
                    .send(
                        Method::PUT,
                        &url,
                        &self.scope(),
                        h.clone(),
                        Some(SendBody::Bytes(m.bytes.clone())),
                        true,
                    )
                    .await?;
                if !resp.status().is_success() {
                    return Err(registry_error(&Method::PUT, &url, resp).await.into());
                }
                let oci_subject: Option<Digest> = resp
                    .headers()
                    .get("oci-subject")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                if let Some(got) = resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                {
                    if got != m.digest.as_str() && got.starts_with(m.digest.algorithm().as_str()) {
                        return Err(Error::Verify {
                            what: format!("manifest {} pushed to {}", m.digest, self.describe()),
                            source: VerifyError::Source(format!(
                                "the registry stored it as {got}: the bytes changed in transit"
                            )),
                        });
                    }
                }
                Ok(oci_subject.map_or(Pushed::Written, Pushed::SubjectIndexed))
            })
            .await
    }

    async fn try_mount(&self, d: &Descriptor, from: &Self) -> Result<bool> {
        self.mount_from(d, from).await
    }

    fn is_registry(&self) -> bool {
        true
    }

    async fn list_tags(&self) -> Result<Vec<String>> {
        self.all_tags().await
    }

    async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<ReferrerList>> {
        self.all_referrers(subject, artifact_type).await
    }

    async fn finish(&self) -> Result<()> {
        Ok(())
    }

    async fn abort(&self) {
        self.cancel_open_uploads().await
    }
}
