//! Moving one blob's bytes: one stream, or parallel ranges for a large blob (`--range-streams`),
//! verified exactly once on the way, with `--limit-rate` charged once per byte.
//!
//! A blob of at least the range threshold from a registry is opened with
//! [`Storage::fetch_blob_ranged`]; when the registry answers the probe, the target stores it
//! with [`Storage::push_blob_ranged`] (in order through the reorder window into an upload, or
//! written at offsets into a layout's temp file). Either way the engine's [`VerifyingStream`]
//! sees every byte once, in order, and the blob is committed only after size and digest match.
//! What happened is recorded per large blob ([`LargeBlob`]) for the copy JSON and sync reports.

use std::sync::Arc;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::engine::chunks::Pieces;
use crate::engine::progress::{Event, Reporter};
use crate::error::{Error, Result};
use crate::model::digest::{Digest, VerifyingStream};
use crate::model::manifest::Descriptor;
use crate::transport::ranges::budget::{RangeBudget, DEFAULT_THRESHOLD};
use crate::transport::rate::{limited, RateLimit};
use crate::transport::resume::Body;
use crate::transport::storage::{BlobBody, Fetched, OneStream, Storage};

/// Bytes of a blob between two progress events.
pub const PROGRESS_STEP: u64 = 256 * 1024;

/// How the blobs of a copy move (from the run's settings).
#[derive(Debug, Clone, Default)]
pub struct Transfer {
    /// Ranged downloads of large blobs (`--range-streams` above 1), shared by the run.
    pub ranges: Option<Arc<RangeBudget>>,
    /// `--limit-rate`, shared by the run.
    pub limit: Option<Arc<RateLimit>>,
}

impl Transfer {
    /// Blobs of this size or more are large: ranged when they can be, and reported.
    pub fn threshold(&self) -> u64 {
        self.ranges
            .as_ref()
            .map_or(DEFAULT_THRESHOLD, |r| r.threshold())
    }
}

/// How a large blob was fetched (the copy JSON's and sync item reports' `blobs.large`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LargeBlob {
    /// The blob.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// `ranges` or `single`.
    pub fetched: FetchedAs,
    /// Ranges: how many connections it could use (the run's `--range-streams`, at most one
    /// per range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<usize>,
    /// Single: why not ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<SingleReason>,
    /// Single: the reason in words (e.g. what the registry answered to the probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How a blob's bytes came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchedAs {
    /// Parallel byte ranges.
    Ranges,
    /// One stream.
    Single,
}

/// Why a large blob came as one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SingleReason {
    /// `--range-streams 1`.
    Disabled,
    /// The source is an OCI layout (a local file).
    Layout,
    /// A foreign layer, fetched from its URL.
    Foreign,
    /// The source registry did not answer the `Range` probe with the matching `206`, or
    /// stopped answering ranges (`detail` says what it answered).
    Refused,
    /// The source registry answered the probe within `--range-min-rtt` (20 ms): one stream
    /// fills a path that short, ranges would only cost CPU.
    Near,
}

impl LargeBlob {
    fn single(d: &Descriptor, reason: SingleReason, detail: impl Into<String>) -> Self {
        LargeBlob {
            digest: d.digest.clone(),
            size: d.size,
            fetched: FetchedAs::Single,
            streams: None,
            reason: Some(reason),
            detail: Some(detail.into()),
        }
    }
}

/// One attempt at moving `d` from `src` to `dst`; the large-blob record when `d` is large.
pub(crate) async fn transfer<E: Storage>(
    src: &Arc<E>,
    dst: &Arc<E>,
    d: &Descriptor,
    how: &Transfer,
    reporter: &Arc<dyn Reporter>,
) -> Result<Option<LargeBlob>> {
    let large = d.size >= how.threshold();
    if d.is_foreign() {
        let (body, location) = crate::engine::foreign::fetch(src.as_ref(), d).await?;
        single(dst, d, body, &location, how, reporter).await?;
        let note = "a foreign layer comes from its URL";
        return Ok(large.then(|| LargeBlob::single(d, SingleReason::Foreign, note)));
    }
    let location = src.blob_location(&d.digest);
    let budget = match (&how.ranges, large) {
        (Some(b), true) => b,
        (None, true) => {
            single(dst, d, src.fetch_blob(d).await?, &location, how, reporter).await?;
            let note = "--range-streams is 1";
            return Ok(Some(LargeBlob::single(d, SingleReason::Disabled, note)));
        }
        _ => {
            single(dst, d, src.fetch_blob(d).await?, &location, how, reporter).await?;
            return Ok(None);
        }
    };
    match src.fetch_blob_ranged(d, budget).await? {
        Fetched::Single(body, why) => {
            single(dst, d, body, &location, how, reporter).await?;
            let (reason, detail) = match why {
                OneStream::Layout => (SingleReason::Layout, "the source is an OCI layout".into()),
                OneStream::Refused(detail) => (SingleReason::Refused, detail),
                OneStream::Near(detail) => (SingleReason::Near, detail),
            };
            Ok(Some(LargeBlob::single(d, reason, detail)))
        }
        Fetched::Ranged(blob) => {
            let (watch, streams) = (blob.watch(), blob.streams());
            let blob = blob.with_limit(how.limit.clone());
            let verify = Verifier::new(d, &location, reporter);
            let failed = verify.failed.clone();
            let wrap: crate::transport::ranges::Verify = Box::new(move |b| verify.wrap(b));
            let pushed = dst.push_blob_ranged(d, blob, wrap).await;
            let source_error = failed.take();
            match (pushed, source_error) {
                (Ok(()), _) => Ok(Some(LargeBlob {
                    digest: d.digest.clone(),
                    size: d.size,
                    fetched: FetchedAs::Ranges,
                    streams: Some(streams),
                    reason: None,
                    detail: None,
                })),
                // The registry stopped answering ranges part-way: once more, as one stream.
                (Err(e), _)
                    if watch.refused().is_some() && !matches!(e.root(), Error::Interrupted) =>
                {
                    let why = watch.refused().unwrap_or_default();
                    tracing::debug!(blob = %d.digest, error = %e, "ranges refused part-way; fetching the blob as one stream");
                    single(dst, d, src.fetch_blob(d).await?, &location, how, reporter).await?;
                    Ok(Some(LargeBlob::single(d, SingleReason::Refused, why)))
                }
                (Err(_), Some(source_error)) => Err(source_error),
                (Err(e), None) => Err(e),
            }
        }
    }
}

/// Push one stream, verified and rate-limited.
async fn single<E: Storage>(
    dst: &Arc<E>,
    d: &Descriptor,
    body: BlobBody,
    location: &str,
    how: &Transfer,
    reporter: &Arc<dyn Reporter>,
) -> Result<()> {
    let stream = match &how.limit {
        Some(l) => limited(body.stream, l.clone()),
        None => body.stream,
    };
    let verify = Verifier::new(d, location, reporter);
    let failed = verify.failed.clone();
    let stream = verify.wrap(stream);
    let pushed = dst
        .push_blob(
            d,
            BlobBody {
                size: d.size,
                stream,
            },
        )
        .await;
    let source_error = failed.take();
    match (pushed, source_error) {
        (Err(_), Some(source_error)) => Err(source_error),
        (r, _) => r,
    }
}

/// The digest check and progress around a blob's bytes in order. Verifies exactly once. The
/// first stream error (a digest or size mismatch, or a read failure at the source) is kept in
/// `failed`, so it is reported as itself rather than as the upload failure it causes.
struct Verifier {
    d: Descriptor,
    what: String,
    reporter: Arc<dyn Reporter>,
    failed: Failed,
}

/// The first read failure and the first verification failure of one blob's bytes.
#[derive(Clone, Default)]
struct Failed {
    read: Arc<std::sync::Mutex<Option<Error>>>,
    verify: Arc<std::sync::Mutex<Option<Error>>>,
}

impl Failed {
    /// A read failure wins over the mismatch it causes: after the source's own resumes it may
    /// be final (`Error::BodyCutShort`), and is not to be retried as a damaged body.
    fn take(&self) -> Option<Error> {
        let read = self.read.lock().expect("not poisoned").take();
        read.or_else(|| self.verify.lock().expect("not poisoned").take())
    }
}

impl Verifier {
    fn new(d: &Descriptor, location: &str, reporter: &Arc<dyn Reporter>) -> Self {
        Verifier {
            d: d.clone(),
            what: format!("content of {location} is wrong"),
            reporter: reporter.clone(),
            failed: Failed::default(),
        }
    }

    fn wrap(self, body: Body) -> Body {
        let Verifier {
            d,
            what,
            reporter,
            failed,
        } = self;
        // Progress in steps of PROGRESS_STEP bytes (and the rest with the last piece), not
        // one event per 16 KiB piece.
        let (size, mut passed, mut unreported) = (d.size, 0u64, 0u64);
        let digest = d.digest.clone();
        let keep_read = failed.read.clone();
        let body = body.map(move |item| {
            item.map_err(|e| {
                let text = e.to_string();
                keep_read.lock().expect("not poisoned").get_or_insert(e);
                text
            })
        });
        VerifyingStream::new(Pieces::new(body), d.digest, d.size)
            .map(move |item| match item {
                Ok(c) => {
                    passed += c.len() as u64;
                    unreported += c.len() as u64;
                    if unreported >= PROGRESS_STEP || passed == size {
                        reporter.event(Event::BlobBytes {
                            digest: digest.clone(),
                            n: unreported,
                        });
                        unreported = 0;
                    }
                    Ok(c)
                }
                Err(source) => {
                    let e = Error::Verify {
                        what: what.clone(),
                        source,
                    };
                    let text = e.to_string();
                    failed.verify.lock().expect("not poisoned").get_or_insert(e);
                    Err(Error::Internal(text))
                }
            })
            .boxed()
    }
}
