//! The storage contract shared by registries and OCI layouts.
//!
//! [`Storage`] is deliberately small: manifests by reference, blobs by descriptor, existence
//! checks, and a `finish` that commits (the layout writes `index.json` there). The copy engine is
//! generic over it, so a registry → layout copy and a layout → registry copy run the same code.

use std::future::Future;

use bytes::Bytes;
use futures_util::stream::BoxStream;

use crate::error::Result;
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::ranges::budget::RangeBudget;
use crate::transport::ranges::{RangedBlob, Verify};

/// A blob body: a stream of exactly `size` bytes (verification is the consumer's job).
pub struct BlobBody {
    /// Bytes the stream will deliver.
    pub size: u64,
    /// The bytes.
    pub stream: BoxStream<'static, Result<Bytes>>,
}

/// A large blob opened for reading ([`Storage::fetch_blob_ranged`]).
pub enum Fetched {
    /// As parallel ranges: the source answered the probe.
    Ranged(RangedBlob),
    /// As one stream, and why not as ranges.
    Single(BlobBody, OneStream),
}

/// Why a large blob is read as one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneStream {
    /// The source is an OCI layout.
    Layout,
    /// The registry did not answer the probe with the matching 206 (what it answered).
    Refused(String),
    /// The registry answered the probe so fast that one stream fills the path (how fast).
    Near(String),
}

/// What happened to a manifest push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// Written.
    Written,
    /// Written, and the registry answered `OCI-Subject: <digest>`: it indexes this referrer
    /// itself, so no fallback tag needs maintaining.
    SubjectIndexed(Digest),
}

/// What a registry's referrers API listed for one subject (all pages).
#[derive(Debug, Clone, Default)]
pub struct ReferrerList {
    /// The descriptors, as listed.
    pub descriptors: Vec<Descriptor>,
    /// The registry applied the `artifactType` filter (`OCI-Filters-Applied`).
    pub filtered: bool,
}

/// One place images live: a registry repository or an OCI layout.
pub trait Storage: Send + Sync + 'static {
    /// A human description, e.g. `127.0.0.1:5000/team/app` or `oci:/mnt/usb/layout`.
    fn describe(&self) -> String;

    /// Fetch a manifest by tag or digest; the bytes are digest-verified. `hint` is the media type
    /// from the parent descriptor.
    fn fetch_manifest(
        &self,
        reference: &str,
        hint: Option<&str>,
    ) -> impl Future<Output = Result<RawManifest>> + Send;

    /// What a tag or digest currently resolves to, without downloading it (HEAD).
    fn resolve(&self, reference: &str) -> impl Future<Output = Result<Option<Digest>>> + Send;

    /// Whether a manifest with this digest is present.
    fn has_manifest(&self, d: &Descriptor) -> impl Future<Output = Result<bool>> + Send;

    /// Whether a blob is present.
    fn has_blob(&self, d: &Descriptor) -> impl Future<Output = Result<bool>> + Send;

    /// Open a blob for reading.
    fn fetch_blob(&self, d: &Descriptor) -> impl Future<Output = Result<BlobBody>> + Send;

    /// Store a blob. Implementations verify size and digest before committing it.
    fn push_blob(&self, d: &Descriptor, body: BlobBody) -> impl Future<Output = Result<()>> + Send;

    /// Open a large blob as parallel byte ranges when this source can (a registry that answers
    /// the probe: `transport/ranges.rs`), else as one stream, with the reason. The default is
    /// one stream: an OCI layout is a local file.
    fn fetch_blob_ranged(
        &self,
        d: &Descriptor,
        _budget: &std::sync::Arc<RangeBudget>,
    ) -> impl Future<Output = Result<Fetched>> + Send {
        async move {
            let body = self.fetch_blob(d).await?;
            Ok(Fetched::Single(body, OneStream::Layout))
        }
    }

    /// Store a blob fetched as ranges. `verify` is the engine's digest check, wrapped around
    /// the bytes in order. The default (a registry) passes the ranges in order through the
    /// run's reorder window into [`Storage::push_blob`]; an OCI layout writes each range at its
    /// offset and reads the file back through `verify`.
    fn push_blob_ranged(
        &self,
        d: &Descriptor,
        blob: RangedBlob,
        verify: Verify,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            let size = blob.size();
            let stream = verify(blob.ordered());
            self.push_blob(d, BlobBody { size, stream }).await
        }
    }

    /// Store manifest bytes verbatim, by digest, and point `tag` at it if given.
    fn push_manifest(
        &self,
        m: &RawManifest,
        tag: Option<&str>,
    ) -> impl Future<Output = Result<Pushed>> + Send;

    /// Whether a blob is present, asked right before uploading it (`copy.rs`). The default is
    /// [`Storage::has_blob`]. A registry answers with the `POST` that opens the upload instead
    /// (`?mount=<digest>&from=<this repository>`: 201 = present, 202 = absent and a session is
    /// open), which saves one request per blob copied; the session is used by the next
    /// [`Storage::push_blob`] of that digest, or cancelled by [`Storage::abort`].
    fn has_blob_before_push(&self, d: &Descriptor) -> impl Future<Output = Result<bool>> + Send {
        self.has_blob(d)
    }

    /// Try a cross-repository mount from `from` (same registry only). `Ok(false)`: not mounted.
    fn try_mount(
        &self,
        _d: &Descriptor,
        _from: &Self,
    ) -> impl Future<Output = Result<bool>> + Send {
        async { Ok(false) }
    }

    /// Where a blob lives, for messages: a file path for layouts, the repository otherwise.
    fn blob_location(&self, d: &Digest) -> String {
        format!("{d} in {}", self.describe())
    }

    /// Whether the endpoint is a registry (preflight and sparse rejection apply).
    fn is_registry(&self) -> bool;

    /// Every tag (registry: `tags/list` with pagination; layout: ref names in `index.json`).
    fn list_tags(&self) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// The referrers API's answer for `subject`, all pages; `Ok(None)` when there is no such
    /// API (a 404, or an OCI layout), in which case the `sha256-<hex>` fallback tag applies.
    /// `artifact_type` is passed on as `?artifactType=`; callers filter again anyway.
    fn referrers(
        &self,
        _subject: &Digest,
        _artifact_type: Option<&str>,
    ) -> impl Future<Output = Result<Option<ReferrerList>>> + Send {
        async { Ok(None) }
    }

    /// Commit pending state (layout: `index.json`). Called once, last.
    fn finish(&self) -> impl Future<Output = Result<()>> + Send;

    /// Undo what an interrupted copy left open: a registry DELETEs its open upload sessions.
    /// Best effort, called after the in-flight work was dropped. (A layout has nothing to do:
    /// its temp files are removed when the writes that own them are dropped.)
    fn abort(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}
