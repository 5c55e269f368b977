//! Storage adapters for batch runs.
//!
//! - [`Gated`] wraps an [`Endpoint`] for one image of a batch: every blob transfer holds a permit
//!   of one run-wide semaphore (the global `--jobs` cap, taken when the source stream opens and
//!   released when it is dropped), and a [`BlobLedger`] remembers which target repository got
//!   which blob, so a later image on the same registry mounts it instead of uploading it again.
//! - [`Tiered`] is the source as the planner sees it during a sync: manifests known to be on the
//!   target (byte-identical, because addressed by digest) or in the local cache are read there,
//!   so only what is really new is pulled from the source (a GET counts against Docker Hub).
//! - [`ManifestCache`]: a content-addressed local store of root and index manifests (an OCI layout), which
//!   lets an unchanged tag be checked with HEAD requests only. Entries are verified on read, so a
//!   stale or damaged cache cannot change a result; deleting it costs one GET per tag on the target.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::layout::Layout;
use crate::transport::registry::{RegistryClient, RegistryRepo};
use crate::transport::{BlobBody, Endpoint, Pushed, Storage};

/// Which repository of a registry host holds a blob (first one seen in this run).
#[derive(Default)]
pub struct BlobLedger {
    seen: Mutex<HashMap<(String, Digest), String>>,
}

impl BlobLedger {
    fn note(&self, host: &str, d: &Digest, repo: &str) {
        self.seen
            .lock()
            .expect("not poisoned")
            .entry((host.to_string(), d.clone()))
            .or_insert_with(|| repo.to_string());
    }
    fn find(&self, host: &str, d: &Digest) -> Option<String> {
        self.seen
            .lock()
            .expect("not poisoned")
            .get(&(host.to_string(), d.clone()))
            .cloned()
    }
}

/// Run-wide limits and memory shared by every [`Gated`] endpoint.
#[derive(Clone)]
pub struct Shared {
    /// In-flight blob transfers across all images.
    pub permits: Arc<Semaphore>,
    /// In-flight transfers of large blobs across all images (`copy::large_jobs` of `jobs`).
    pub large: Arc<Semaphore>,
    /// Blobs seen on target registries.
    pub ledger: Arc<BlobLedger>,
}

impl Shared {
    /// `jobs` concurrent blob transfers for the whole run.
    pub fn new(jobs: usize) -> Shared {
        Shared {
            permits: Arc::new(Semaphore::new(jobs.max(1))),
            large: Arc::new(Semaphore::new(crate::engine::copy::large_jobs(jobs))),
            ledger: Arc::default(),
        }
    }
}

/// A registry repository's identity, for mounts from the ledger.
struct RepoId {
    client: Arc<RegistryClient>,
    repo: String,
}

/// An endpoint taking part in a batch run (see the module docs).
pub struct Gated {
    inner: Endpoint,
    shared: Shared,
    id: Option<RepoId>,
}

impl Gated {
    /// A registry repository sharing `client` with the rest of the run.
    pub fn registry(client: Arc<RegistryClient>, repo: &str, push: bool, shared: Shared) -> Gated {
        Gated {
            inner: Endpoint::Registry(RegistryRepo::new(client.clone(), repo, push)),
            shared,
            id: Some(RepoId {
                client,
                repo: repo.to_string(),
            }),
        }
    }

    /// Use `n` tags per `tags/list` page (registries only).
    pub fn with_tags_page_size(mut self, n: usize) -> Gated {
        if let Endpoint::Registry(r) = self.inner {
            self.inner = Endpoint::Registry(r.with_tags_page_size(n));
        }
        self
    }

    /// An OCI layout.
    pub fn layout(layout: Layout, shared: Shared) -> Gated {
        Gated {
            inner: Endpoint::Layout(layout),
            shared,
            id: None,
        }
    }

    /// The wrapped endpoint.
    pub fn inner(&self) -> &Endpoint {
        &self.inner
    }

    /// The registry client, for registry endpoints.
    pub fn client(&self) -> Option<&RegistryClient> {
        self.id.as_ref().map(|i| i.client.as_ref())
    }

    fn note(&self, d: &Digest) {
        if let Some(id) = &self.id {
            self.shared.ledger.note(id.client.host(), d, &id.repo);
        }
    }
}

impl Storage for Gated {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn fetch_manifest(&self, reference: &str, hint: Option<&str>) -> Result<RawManifest> {
        self.inner.fetch_manifest(reference, hint).await
    }
    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        self.inner.resolve(reference).await
    }
    async fn list_tags(&self) -> Result<Vec<String>> {
        self.inner.list_tags().await
    }
    async fn has_manifest(&self, d: &Descriptor) -> Result<bool> {
        self.inner.has_manifest(d).await
    }
    async fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        let has = self.inner.has_blob(d).await?;
        if has {
            self.note(&d.digest);
        }
        Ok(has)
    }
    async fn has_blob_before_push(&self, d: &Descriptor) -> Result<bool> {
        let has = self.inner.has_blob_before_push(d).await?;
        if has {
            self.note(&d.digest);
        }
        Ok(has)
    }
    async fn fetch_blob(&self, d: &Descriptor) -> Result<BlobBody> {
        // The permits live as long as the stream: one transfer from open to drop. A large blob
        // takes one of the run-wide large-blob permits first (copy::large_jobs says why).
        let large = if d.size >= crate::engine::copy::LARGE_BLOB {
            Some(
                self.shared
                    .large
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| Error::Interrupted)?,
            )
        } else {
            None
        };
        let permit = (
            large,
            self.shared
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Error::Interrupted)?,
        );
        let body = self.inner.fetch_blob(d).await?;
        let stream = body
            .stream
            .map(move |chunk| {
                let _held = &permit;
                chunk
            })
            .boxed();
        Ok(BlobBody {
            size: body.size,
            stream,
        })
    }
    async fn push_blob(&self, d: &Descriptor, body: BlobBody) -> Result<()> {
        self.inner.push_blob(d, body).await?;
        self.note(&d.digest);
        Ok(())
    }
    async fn push_manifest(&self, m: &RawManifest, tag: Option<&str>) -> Result<Pushed> {
        self.inner.push_manifest(m, tag).await
    }
    async fn try_mount(&self, d: &Descriptor, from: &Self) -> Result<bool> {
        if self.inner.try_mount(d, &from.inner).await? {
            self.note(&d.digest);
            return Ok(true);
        }
        // Pushed (or found) in another repository of this registry earlier in the run?
        let (Some(id), Endpoint::Registry(me)) = (&self.id, &self.inner) else {
            return Ok(false);
        };
        let Some(other) = self.shared.ledger.find(id.client.host(), &d.digest) else {
            return Ok(false);
        };
        if other == id.repo {
            return Ok(false);
        }
        let from_repo = RegistryRepo::new(id.client.clone(), &other, false);
        let mounted = me.try_mount(d, &from_repo).await?;
        if mounted {
            tracing::debug!(digest = %d.digest, from = %other, "mounted from a repository written earlier in this run");
            self.note(&d.digest);
        }
        Ok(mounted)
    }
    fn blob_location(&self, d: &Digest) -> String {
        self.inner.blob_location(d)
    }
    fn is_registry(&self) -> bool {
        self.inner.is_registry()
    }
    async fn finish(&self) -> Result<()> {
        self.inner.finish().await
    }
    async fn abort(&self) {
        self.inner.abort().await
    }
}

pub use crate::engine::image::reader::ManifestCache;

/// The source as the planner sees it during a sync (see the module docs).
pub struct Tiered {
    /// The real source.
    pub source: Arc<Gated>,
    /// The target.
    pub target: Arc<Gated>,
    /// Manifests present on the target, by digest.
    pub on_target: HashSet<Digest>,
    /// The local cache.
    pub cache: Option<Arc<ManifestCache>>,
}

impl Storage for Tiered {
    fn describe(&self) -> String {
        self.source.describe()
    }
    async fn fetch_manifest(&self, reference: &str, hint: Option<&str>) -> Result<RawManifest> {
        if let Ok(d) = reference.parse::<Digest>() {
            if let Some(c) = &self.cache {
                if let Some(m) = c.get(&d, hint).await {
                    return Ok(m);
                }
            }
            if self.on_target.contains(&d) {
                if let Ok(m) = self.target.fetch_manifest(reference, hint).await {
                    return Ok(m);
                }
            }
        }
        let m = self.source.fetch_manifest(reference, hint).await?;
        if let (Some(c), true) = (&self.cache, m.is_index()) {
            c.put(&m).await;
        }
        Ok(m)
    }
    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        self.source.resolve(reference).await
    }
    async fn list_tags(&self) -> Result<Vec<String>> {
        self.source.list_tags().await
    }
    async fn has_manifest(&self, d: &Descriptor) -> Result<bool> {
        self.source.has_manifest(d).await
    }
    async fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        self.source.has_blob(d).await
    }
    async fn fetch_blob(&self, d: &Descriptor) -> Result<BlobBody> {
        self.source.fetch_blob(d).await
    }
    async fn push_blob(&self, _d: &Descriptor, _body: BlobBody) -> Result<()> {
        Err(Error::Internal(
            "the planning view of a source is read-only".into(),
        ))
    }
    async fn push_manifest(&self, _m: &RawManifest, _tag: Option<&str>) -> Result<Pushed> {
        Err(Error::Internal(
            "the planning view of a source is read-only".into(),
        ))
    }
    fn is_registry(&self) -> bool {
        self.source.is_registry()
    }
    async fn finish(&self) -> Result<()> {
        Ok(())
    }
}
