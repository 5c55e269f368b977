//! Storage adapters for batch runs.
//!
//! - [`Gated`] wraps an [`Endpoint`] for one image of a batch: every blob transfer holds a permit
//!   of one run-wide semaphore (the global `--jobs` cap, taken when the source stream opens and
//!   released when it is dropped), and a [`BlobLedger`] remembers which target repository got
//!   which blob, so a later image on the same registry mounts it instead of uploading it again.
//! - [`ManifestCache`] (the engine's, `engine/image/reader.rs`): the local store of root and
//!   index manifests that lets an unchanged tag be checked with HEAD requests only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;

use crate::engine::copy::fetch::Transfer;
use crate::engine::copy::order::{Slot, Slots};
use crate::error::Result;
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::endpoint::Endpoint;
use crate::transport::layout::Layout;
use crate::transport::ranges::budget::RangeBudget;
use crate::transport::ranges::{RangedBlob, Verify};
use crate::transport::registry::{RegistryClient, RegistryRepo};
use crate::transport::storage::{BlobBody, Fetched, Pushed, Storage};

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
    /// In-flight blob transfers across all images, a third of them for large blobs
    /// (`copy::large_jobs` of `jobs`), largest waiting blob first (`engine/copy/order.rs`).
    pub slots: Arc<Slots>,
    /// Blobs seen on target registries.
    pub ledger: Arc<BlobLedger>,
    /// `--range-streams` and `--limit-rate` / `limit-rate`: one budget for the run.
    pub transfer: Transfer,
}

impl Shared {
    /// `jobs` concurrent blob transfers for the whole run, moving as `transfer` says.
    pub fn new(jobs: usize, transfer: Transfer) -> Shared {
        Shared {
            slots: Slots::new(jobs.max(1), crate::engine::copy::large_jobs(jobs)),
            ledger: Arc::default(),
            transfer,
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

    /// How the run's blobs move (ranges, rate cap).
    pub fn transfer(&self) -> Transfer {
        self.shared.transfer.clone()
    }

    /// The wrapped endpoint.
    pub fn inner(&self) -> &Endpoint {
        &self.inner
    }

    /// The registry client, for registry endpoints.
    pub fn client(&self) -> Option<&RegistryClient> {
        self.id.as_ref().map(|i| i.client.as_ref())
    }

    /// The run-wide slot for one transfer of `d`, largest waiting blob first.
    async fn permits(&self, d: &Descriptor) -> Result<Slot> {
        let large = d.size >= crate::engine::copy::LARGE_BLOB;
        self.shared.slots.acquire(d.size, large).await
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
        let permit = self.permits(d).await?;
        let body = self.inner.fetch_blob(d).await?;
        Ok(holding(body, permit))
    }
    async fn fetch_blob_ranged(
        &self,
        d: &Descriptor,
        budget: &Arc<RangeBudget>,
    ) -> Result<Fetched> {
        let permit = self.permits(d).await?;
        Ok(match self.inner.fetch_blob_ranged(d, budget).await? {
            Fetched::Ranged(blob) => Fetched::Ranged(blob.holding(Box::new(permit))),
            Fetched::Single(body, why) => Fetched::Single(holding(body, permit), why),
        })
    }
    async fn push_blob_ranged(
        &self,
        d: &Descriptor,
        blob: RangedBlob,
        verify: Verify,
    ) -> Result<()> {
        self.inner.push_blob_ranged(d, blob, verify).await?;
        self.note(&d.digest);
        Ok(())
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

/// `body`, holding `permit` as long as the stream lives: one transfer from open to drop.
fn holding(body: BlobBody, permit: Slot) -> BlobBody {
    let stream = body
        .stream
        .map(move |chunk| {
            let _held = &permit;
            chunk
        })
        .boxed();
    BlobBody {
        size: body.size,
        stream,
    }
}

pub use crate::engine::image::reader::ManifestCache;
