//! Where the use case reads manifests from: the local cache, the target, or the source.
//!
//! - [`ManifestCache`]: a content-addressed local store of root and index manifests (an OCI
//!   layout), which lets an unchanged tag be checked with HEAD requests only. Entries are
//!   verified on read, so a stale or damaged cache cannot change a result; deleting it costs one
//!   GET per tag on the target.
//! - [`Tiered`] is the source as the planner sees it: manifests known to be on the target
//!   (byte-identical, because addressed by digest) or in the cache are read there, so only what
//!   is really new is pulled from the source (a GET counts against Docker Hub's pull limit).
//! - [`PullGate`]: a hook awaited before each GET on the source (sync's pull-budget pause).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::layout::Layout;
use crate::transport::{BlobBody, Pushed, Storage};

/// Awaited before each GET on the source (manifest or blob); may pause, e.g. while a registry's
/// pull budget is low. HEAD requests are never gated.
pub trait PullGate: Send + Sync {
    /// Wait until a pull may go ahead.
    fn before_pull(&self) -> BoxFuture<'_, Result<()>>;
}

/// Content-addressed local store of root and index manifests (see the module docs).
pub struct ManifestCache {
    layout: Layout,
}

impl ManifestCache {
    /// Open or create the cache directory.
    pub fn open(dir: &Path) -> Result<ManifestCache> {
        Ok(ManifestCache {
            layout: Layout::create(dir)?,
        })
    }

    /// The manifest with this digest, if cached and intact.
    pub async fn get(&self, d: &Digest, hint: Option<&str>) -> Option<RawManifest> {
        match self.layout.fetch_manifest(d.as_str(), hint).await {
            Ok(m) => Some(m),
            Err(e) if e.is_missing() => None,
            Err(e) => {
                tracing::debug!(digest = %d, error = %e, "ignoring a bad cache entry");
                None
            }
        }
    }

    /// Remember a manifest (callers store roots and indexes, not every child). Failures are
    /// ignored: the cache is an optimisation.
    pub async fn put(&self, m: &RawManifest) {
        if let Err(e) = self.layout.push_manifest(m, None).await {
            tracing::debug!(digest = %m.digest, error = %e, "cannot write the manifest cache");
        }
    }
}

/// Which manifests may be read from the target (by digest).
#[derive(Debug, Clone)]
pub enum OnTarget {
    /// None: the target is not asked.
    Nothing,
    /// These, known to be present.
    Only(HashSet<Digest>),
    /// Any: the target is asked first and the source only when it answers 404 (used when the
    /// target tag names the source digest, so the target should hold the whole selection).
    Anything,
}

/// The source as the planner sees it (see the module docs). Read-only.
pub struct Tiered<S, T> {
    /// The real source.
    pub source: Arc<S>,
    /// The target, when it exists.
    pub target: Option<Arc<T>>,
    /// What may be read from the target.
    pub on_target: OnTarget,
    /// The local cache.
    pub cache: Option<Arc<ManifestCache>>,
    /// Awaited before each GET on the source.
    pub gate: Option<Arc<dyn PullGate>>,
    /// Digests that were read from the target (so they are present there).
    pub from_target: Mutex<HashSet<Digest>>,
    /// Digests known to be absent from the source (HEADed just before): answered as missing
    /// without a request.
    pub absent: HashSet<Digest>,
}

impl<S: Storage, T: Storage> Tiered<S, T> {
    /// A view of `source` that reads from `target` what `on_target` allows.
    pub fn new(
        source: Arc<S>,
        target: Option<Arc<T>>,
        on_target: OnTarget,
        cache: Option<Arc<ManifestCache>>,
        gate: Option<Arc<dyn PullGate>>,
    ) -> Self {
        Tiered {
            source,
            target,
            on_target,
            cache,
            gate,
            from_target: Mutex::default(),
            absent: HashSet::new(),
        }
    }

    /// This view, answering the manifests in `absent` as missing without asking anyone: the
    /// state read HEADed them on the source a moment ago (an index of thousands of children
    /// the source lacks is not read twice).
    pub fn knowing_absent(mut self, absent: HashSet<Digest>) -> Self {
        self.absent = absent;
        self
    }

    /// The digests read from the target so far.
    pub fn read_from_target(&self) -> HashSet<Digest> {
        self.from_target.lock().expect("not poisoned").clone()
    }

    async fn gate(&self) -> Result<()> {
        match &self.gate {
            Some(g) => g.before_pull().await,
            None => Ok(()),
        }
    }
}

impl<S: Storage, T: Storage> Storage for Tiered<S, T> {
    fn describe(&self) -> String {
        self.source.describe()
    }
    async fn fetch_manifest(&self, reference: &str, hint: Option<&str>) -> Result<RawManifest> {
        if let Ok(d) = reference.parse::<Digest>() {
            if self.absent.contains(&d) {
                return Err(Error::Missing {
                    what: format!("manifest {d}"),
                    place: self.source.describe(),
                    sparse: false,
                });
            }
            if let Some(c) = &self.cache {
                if let Some(m) = c.get(&d, hint).await {
                    return Ok(m);
                }
            }
            let ask_target = match &self.on_target {
                OnTarget::Nothing => false,
                OnTarget::Only(set) => set.contains(&d),
                OnTarget::Anything => true,
            };
            if let (Some(t), true) = (&self.target, ask_target) {
                if let Ok(m) = t.fetch_manifest(reference, hint).await {
                    self.from_target
                        .lock()
                        .expect("not poisoned")
                        .insert(d.clone());
                    if let (Some(c), true) = (&self.cache, m.is_index()) {
                        c.put(&m).await;
                    }
                    return Ok(m);
                }
            }
        }
        self.gate().await?;
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
        self.gate().await?;
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
