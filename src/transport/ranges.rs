//! Parallel ranged downloads of one large blob (`--range-streams`, docs/performance.md §WAN).
//!
//! Over a long path one TCP stream moves about its window per round trip (about 25 MB/s at
//! 100 ms on stock Linux) however fat the link is. A [`RangedBlob`] fetches a blob as chunks of
//! [`RangeBudget::chunk`] bytes, each a `Range` GET on its own HTTP/1.1 connection, at most
//! [`RangeBudget::streams`] at once for the whole run, and hands the bytes on in one of two ways:
//!
//! - [`RangedBlob::ordered`]: in order, as one body, for an upload (uploads cannot be parallel
//!   within a blob). Chunks ahead of the one being consumed wait in a **reorder window** shared
//!   by the run ([`RangeBudget::window`] bytes): a worker reserves a whole chunk of it before it
//!   asks for the chunk, and the consumer gives it back as it passes bytes on. When the window
//!   is full the fastest range waits (its socket fills and TCP stops the sender); nothing is
//!   buffered without limit.
//! - [`RangedBlob::positional`]: each chunk written at its offset into a file (an OCI layout's
//!   temp file, `layout/files.rs`); the body returned reads the file back in order as the
//!   written prefix grows. No reorder window is needed.
//!
//! Either way the consumer sees the blob's bytes in order, exactly once, so the engine's
//! `VerifyingStream` checks size and digest over the whole blob as for a single stream: a range
//! can never smuggle wrong bytes in. Each chunk is resumed from its own offset when it breaks off
//! and restarted on a new connection when it stalls (`resume.rs`), within the retry budget; the
//! first failure that survives that ends the whole body with that error.
//!
//! The source decides whether ranges work at all (the probe, in `registry/ranges.rs`); a
//! `RangedBlob` exists only after the first chunk was answered with the matching `206`.

pub mod budget;
mod ordered;
mod positional;
mod shared;

use std::sync::Arc;

use crate::transport::ranges::budget::{Guard, PositionalFile, RangeBudget, RangeSource};
use crate::transport::ranges::shared::Shared;
use crate::transport::rate::RateLimit;
use crate::transport::resume::Body;
use crate::transport::retry::RetryPolicy;

/// What a ranged download's consumer wraps around the bytes in order: the engine's digest
/// check (`Storage::push_blob_ranged`).
pub type Verify = Box<dyn FnOnce(Body) -> Body + Send>;

/// Asks a ranged blob's source, after the fact, whether it stopped answering ranges.
#[derive(Clone)]
pub struct RefusalWatch(Arc<dyn RangeSource>);

impl RefusalWatch {
    /// The reason, when the source refuses ranges now.
    pub fn refused(&self) -> Option<String> {
        self.0.refused()
    }
}

/// One blob, to be fetched as ranges (see the module docs). Nothing moves until
/// [`ordered`](Self::ordered) or [`positional`](Self::positional) is called.
pub struct RangedBlob {
    source: Arc<dyn RangeSource>,
    size: u64,
    first: Body,
    budget: Arc<RangeBudget>,
    retry: RetryPolicy,
    limit: Option<Arc<RateLimit>>,
    guard: Option<Guard>,
}

impl RangedBlob {
    /// `first` is the body of [`RangeBudget::first_range`], already checked by the source.
    pub fn new(
        source: Arc<dyn RangeSource>,
        size: u64,
        first: Body,
        budget: Arc<RangeBudget>,
        retry: RetryPolicy,
    ) -> Self {
        RangedBlob {
            source,
            size,
            first,
            budget,
            retry,
            limit: None,
            guard: None,
        }
    }

    /// Keep `guard` until the download has ended or is dropped.
    pub fn holding(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Charge every byte to `limit` as it arrives (`--limit-rate`).
    pub fn with_limit(mut self, limit: Option<Arc<RateLimit>>) -> Self {
        self.limit = limit;
        self
    }

    /// See [`RefusalWatch`].
    pub fn watch(&self) -> RefusalWatch {
        RefusalWatch(self.source.clone())
    }

    /// The blob's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How many connections this blob may use.
    pub fn streams(&self) -> usize {
        self.budget
            .streams()
            .min(self.size.div_ceil(self.budget.chunk()) as usize)
    }

    fn start(self, positional: bool) -> Arc<Shared> {
        Arc::new(
            Shared::new(
                self.source,
                self.size,
                self.first,
                self.budget,
                (self.retry, self.limit),
                positional,
            )
            .holding(self.guard),
        )
    }

    /// The blob in order, through the run's reorder window (for an upload).
    pub fn ordered(self) -> Body {
        let n = self.streams();
        ordered::body(self.start(false), n)
    }

    /// Each chunk written at its offset into `file`; the body reads the file back in order as
    /// the written prefix grows (for the digest check). The file holds the whole blob once the
    /// body has ended without an error.
    pub fn positional(self, file: Arc<dyn PositionalFile>) -> Body {
        let n = self.streams();
        positional::body(self.start(true), file, n)
    }
}

#[cfg(test)]
#[path = "ranges/tests.rs"]
mod tests;
