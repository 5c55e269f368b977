//! What the workers of one ranged blob and its reader share: the chunk plan, the failure slot,
//! the window accounting, and how one chunk is opened (resumed, restarted when stalled) and read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, Notify};

use crate::error::{Error, Result};
use crate::transport::ranges::budget::{Guard, RangeBudget, RangeSource, PIECE};
use crate::transport::rate::RateLimit;
use crate::transport::resume::{self, Body};
use crate::transport::retry::RetryPolicy;

/// Worker tasks, aborted when the body is dropped (a failed or interrupted copy).
pub(super) struct Workers(pub(super) Vec<tokio::task::JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

pub(super) struct Shared {
    pub(super) source: Arc<dyn RangeSource>,
    pub(super) size: u64,
    pub(super) chunk: u64,
    pub(super) chunks: u64,
    pub(super) budget: Arc<RangeBudget>,
    pub(super) retry: RetryPolicy,
    pub(super) limit: Option<Arc<RateLimit>>,
    /// The next chunk to hand to a worker.
    pub(super) next: AtomicU64,
    /// The probe's body: chunk 0.
    pub(super) first: Mutex<Option<Body>>,
    /// The first error that survived resuming; taken by the reader.
    pub(super) failure: Mutex<Option<Error>>,
    pub(super) failed: AtomicBool,
    /// A chunk was registered, a write completed, or a worker failed.
    pub(super) wake: Notify,
    /// Ordered: the receivers of chunks being fetched, by index, until the reader takes them.
    pub(super) ready: Mutex<HashMap<u64, mpsc::UnboundedReceiver<Bytes>>>,
    /// Ordered: window bytes reserved by this blob and not yet given back.
    pub(super) held: AtomicU64,
    /// Positional: bytes written (and completed) per chunk, from the chunk's start.
    pub(super) written: Vec<AtomicU64>,
    /// Kept alive until the download ends (`RangedBlob::holding`).
    _guard: Option<Guard>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Whatever this blob still holds of the window (a failed or interrupted copy) goes back.
        let held = *self.held.get_mut();
        if held > 0 {
            self.budget.window_bytes.add_permits(held as usize);
        }
    }
}

impl Shared {
    pub(super) fn new(
        source: Arc<dyn RangeSource>,
        size: u64,
        first: Body,
        budget: Arc<RangeBudget>,
        (retry, limit): (RetryPolicy, Option<Arc<RateLimit>>),
        positional: bool,
    ) -> Self {
        let chunk = budget.chunk;
        let chunks = size.div_ceil(chunk).max(1);
        Shared {
            source,
            size,
            chunk,
            chunks,
            budget,
            retry,
            limit,
            next: AtomicU64::new(0),
            first: Mutex::new(Some(first)),
            failure: Mutex::new(None),
            failed: AtomicBool::new(false),
            wake: Notify::new(),
            ready: Mutex::new(HashMap::new()),
            held: AtomicU64::new(0),
            written: if positional {
                (0..chunks).map(|_| AtomicU64::new(0)).collect()
            } else {
                Vec::new()
            },
            _guard: None,
        }
    }

    pub(super) fn holding(mut self, guard: Option<Guard>) -> Self {
        self._guard = guard;
        self
    }

    pub(super) fn range(&self, idx: u64) -> (u64, u64) {
        let first = idx * self.chunk;
        (first, (first + self.chunk).min(self.size) - 1)
    }

    pub(super) fn len(&self, idx: u64) -> u64 {
        let (first, last) = self.range(idx);
        last - first + 1
    }

    pub(super) fn fail(&self, e: Error) {
        let mut slot = self.failure.lock().expect("not poisoned");
        if !self.failed.swap(true, Ordering::SeqCst) {
            *slot = Some(e);
        }
        drop(slot);
        self.wake.notify_waiters();
    }

    pub(super) fn take_failure(&self) -> Option<Error> {
        if !self.failed.load(Ordering::SeqCst) {
            return None;
        }
        Some(
            self.failure
                .lock()
                .expect("not poisoned")
                .take()
                .unwrap_or_else(|| Error::Internal("a range failed".into())),
        )
    }

    /// Give `n` bytes of the window back.
    pub(super) fn release(&self, n: u64) {
        self.held.fetch_sub(n, Ordering::SeqCst);
        self.budget.window_bytes.add_permits(n as usize);
    }

    /// The body of chunk `idx`: resumed from its own offset when it breaks off, restarted when
    /// it stalls.
    async fn open(&self, idx: u64) -> Result<Body> {
        let (first, last) = self.range(idx);
        let what = format!("{} (bytes {first}-{last})", self.source.describe());
        let stall = self.budget.stall;
        let probe = if idx == 0 {
            self.first.lock().expect("not poisoned").take()
        } else {
            None
        };
        let body = match probe {
            Some(b) => b,
            None => {
                self.retry
                    .run("GET blob range", || self.source.open(first, last))
                    .await?
            }
        };
        let (source, w) = (self.source.clone(), what.clone());
        let reopen: resume::Reopen = Arc::new(move |offset| {
            let opening = source.open(first + offset, last);
            let w = w.clone();
            Box::pin(async move { Ok((offset, resume::stalling(opening.await?, stall, w))) })
        });
        let body = resume::stalling(body, stall, what.clone());
        Ok(resume::resuming(
            body,
            last - first + 1,
            self.retry,
            what,
            reopen,
        ))
    }

    /// Read chunk `idx` and hand each piece to `sink`, charging the rate limit.
    pub(super) async fn fetch<F, Fut>(&self, idx: u64, mut sink: F) -> Result<()>
    where
        F: FnMut(Bytes) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let want = self.len(idx);
        let mut body = self.open(idx).await?;
        let mut got = 0u64;
        while let Some(item) = body.next().await {
            let data = item?;
            got += data.len() as u64;
            if got > want {
                // The source (or a proxy) broke the 206's promise: a network fault, retried
                // with the blob copy; a bug in mirror it is not.
                let (first, last) = self.range(idx);
                return Err(Error::Network {
                    method: "GET".into(),
                    url: self.source.describe(),
                    message: format!(
                        "the 206 for bytes {first}-{last} sent more than {want} bytes; if this repeats, a proxy is rewriting ranged responses: try --range-streams 1"
                    ),
                    transient: true,
                    https_to_http: false,
                });
            }
            if let Some(limit) = &self.limit {
                limit.take(data.len()).await;
            }
            for start in (0..data.len()).step_by(PIECE) {
                let end = (start + PIECE).min(data.len());
                sink(Bytes::copy_from_slice(&data[start..end])).await?;
            }
        }
        Ok(())
    }
}

/// Marks the blob failed when a worker ends without finishing (a panic).
pub(super) struct Exit<'a>(pub(super) &'a Shared, pub(super) bool);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fail(Error::Internal(
                "a range worker stopped unexpectedly".into(),
            ));
        }
    }
}
