//! [`Endpoint`]: the storage the CLI opens from an
//! [`ImageRef`](crate::model::reference::ImageRef), a registry repository or an OCI layout,
//! delegating every [`Storage`] call to the one it holds.

use std::sync::Arc;

use crate::error::Result;
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::layout::Layout;
use crate::transport::ranges::budget::RangeBudget;
use crate::transport::ranges::{RangedBlob, Verify};
use crate::transport::registry::RegistryRepo;
use crate::transport::storage::{BlobBody, Fetched, Pushed, ReferrerList, Storage};

/// A storage opened from a reference.
pub enum Endpoint {
    /// A registry repository.
    Registry(RegistryRepo),
    /// An OCI layout.
    Layout(Layout),
}

macro_rules! delegate {
    ($self:ident, $e:ident => $body:expr) => {
        match $self {
            Endpoint::Registry($e) => $body,
            Endpoint::Layout($e) => $body,
        }
    };
}

impl Storage for Endpoint {
    fn describe(&self) -> String {
        delegate!(self, e => e.describe())
    }
    async fn fetch_manifest(&self, reference: &str, hint: Option<&str>) -> Result<RawManifest> {
        delegate!(self, e => e.fetch_manifest(reference, hint).await)
    }
    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        delegate!(self, e => e.resolve(reference).await)
    }
    async fn has_manifest(&self, d: &Descriptor) -> Result<bool> {
        delegate!(self, e => e.has_manifest(d).await)
    }
    async fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        delegate!(self, e => e.has_blob(d).await)
    }
    async fn has_blob_before_push(&self, d: &Descriptor) -> Result<bool> {
        delegate!(self, e => e.has_blob_before_push(d).await)
    }
    async fn fetch_blob(&self, d: &Descriptor) -> Result<BlobBody> {
        delegate!(self, e => e.fetch_blob(d).await)
    }
    async fn push_blob(&self, d: &Descriptor, body: BlobBody) -> Result<()> {
        delegate!(self, e => e.push_blob(d, body).await)
    }
    async fn fetch_blob_ranged(
        &self,
        d: &Descriptor,
        budget: &Arc<RangeBudget>,
    ) -> Result<Fetched> {
        delegate!(self, e => e.fetch_blob_ranged(d, budget).await)
    }
    async fn push_blob_ranged(
        &self,
        d: &Descriptor,
        blob: RangedBlob,
        verify: Verify,
    ) -> Result<()> {
        delegate!(self, e => e.push_blob_ranged(d, blob, verify).await)
    }
    async fn push_manifest(&self, m: &RawManifest, tag: Option<&str>) -> Result<Pushed> {
        delegate!(self, e => e.push_manifest(m, tag).await)
    }
    async fn try_mount(&self, d: &Descriptor, from: &Self) -> Result<bool> {
        match (self, from) {
            (Endpoint::Registry(a), Endpoint::Registry(b)) => a.try_mount(d, b).await,
            _ => Ok(false),
        }
    }
    fn blob_location(&self, d: &Digest) -> String {
        delegate!(self, e => e.blob_location(d))
    }
    fn is_registry(&self) -> bool {
        matches!(self, Endpoint::Registry(_))
    }
    async fn list_tags(&self) -> Result<Vec<String>> {
        delegate!(self, e => e.list_tags().await)
    }
    async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<ReferrerList>> {
        delegate!(self, e => e.referrers(subject, artifact_type).await)
    }
    async fn finish(&self) -> Result<()> {
        delegate!(self, e => e.finish().await)
    }
    async fn abort(&self) {
        delegate!(self, e => e.abort().await)
    }
}
