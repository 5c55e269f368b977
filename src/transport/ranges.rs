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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use tokio::sync::{mpsc, Notify, Semaphore};

use crate::error::{Error, Result};
use crate::transport::rate::RateLimit;
use crate::transport::resume::{self, Body};
use crate::transport::retry::RetryPolicy;
use crate::transport::BlobBody;

/// Blobs of this size or more are fetched as ranges (`--range-streams` above 1).
pub const DEFAULT_THRESHOLD: u64 = 32 * 1024 * 1024;
/// `--range-streams`' default: connections for ranged downloads, for the whole run
/// (docs/performance.md §WAN says how it was chosen).
pub const DEFAULT_STREAMS: usize = 8;
/// The reorder window for the whole run (downloads into a registry upload).
pub const DEFAULT_WINDOW: u64 = 32 * 1024 * 1024;
/// A range that delivers no byte for this long is restarted on a new connection.
pub const DEFAULT_STALL: Duration = Duration::from_secs(30);
/// Bytes per write into a positional file and per read back.
const FILE_IO: usize = 128 * 1024;
/// The largest piece a worker keeps of what the network delivered (an exact-size copy, so the
/// HTTP stack's read buffer is free again at once; see `engine/chunks.rs`).
const PIECE: usize = 64 * 1024;

/// Opens byte ranges of one blob.
pub trait RangeSource: Send + Sync + 'static {
    /// `GET` bytes `first..=last`: a body of exactly those bytes, or an error (a source that
    /// answers anything but the matching `206` is an error here).
    fn open(&self, first: u64, last: u64) -> BoxFuture<'static, Result<Body>>;
    /// The blob and where it comes from, for messages.
    fn describe(&self) -> String;
    /// Whether the source has stopped answering ranges since the probe (the reason): a blob
    /// that failed because of it is worth fetching again as one stream.
    fn refused(&self) -> Option<String> {
        None
    }
}

/// A large blob opened for reading: as ranges, or as one stream and why.
pub enum Fetched {
    /// The source answered the probe: ranges.
    Ranged(RangedBlob),
    /// One stream; the reason ranges are not used.
    Single(BlobBody, String),
}

/// Asks a ranged blob's source, after the fact, whether it stopped answering ranges.
#[derive(Clone)]
pub struct RefusalWatch(Arc<dyn RangeSource>);

impl RefusalWatch {
    /// The reason, when the source refuses ranges now.
    pub fn refused(&self) -> Option<String> {
        self.0.refused()
    }
}

/// A file that chunks are written into at their offsets and read back from.
pub trait PositionalFile: Send + Sync + 'static {
    /// Write `buf` at `offset`; gives the buffer back for reuse.
    fn write_at(&self, offset: u64, buf: Vec<u8>) -> BoxFuture<'static, std::io::Result<Vec<u8>>>;
    /// Read `len` bytes at `offset` into `buf` (cleared first); gives it back filled.
    fn read_at(
        &self,
        offset: u64,
        len: usize,
        buf: Vec<u8>,
    ) -> BoxFuture<'static, std::io::Result<Vec<u8>>>;
}

/// The run-wide budget of ranged downloads: connections and the reorder window.
#[derive(Debug)]
pub struct RangeBudget {
    streams: usize,
    chunk: u64,
    window: u64,
    threshold: u64,
    stall: Duration,
    connections: Arc<Semaphore>,
    window_bytes: Arc<Semaphore>,
}

impl RangeBudget {
    /// `streams` connections (at least 2) and a reorder window of `window` bytes for the run;
    /// blobs of `threshold` bytes or more are ranged. The chunk is the window's share per
    /// stream, between 1 and 16 MiB.
    pub fn new(streams: usize, window: u64, threshold: u64) -> Self {
        let streams = streams.max(2);
        let chunk = (window / streams as u64).clamp(1 << 20, 16 << 20);
        let window = window.max(chunk);
        RangeBudget {
            streams,
            chunk,
            window,
            threshold,
            stall: DEFAULT_STALL,
            connections: Arc::new(Semaphore::new(streams)),
            window_bytes: Arc::new(Semaphore::new(window as usize)),
        }
    }

    /// A shorter stall limit (tests).
    pub fn with_stall(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self
    }

    /// Connections for ranges, for the run.
    pub fn streams(&self) -> usize {
        self.streams
    }

    /// Bytes per range request.
    pub fn chunk(&self) -> u64 {
        self.chunk
    }

    /// The reorder window in bytes.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Blobs of this size or more are ranged.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// The first range of a blob of `size` bytes: what the probe asks for.
    pub fn first_range(&self, size: u64) -> (u64, u64) {
        (0, self.chunk.min(size).max(1) - 1)
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
        }
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
            .streams
            .min(self.size.div_ceil(self.budget.chunk) as usize)
    }

    fn start(self, positional: bool) -> Arc<Shared> {
        let chunks = self.size.div_ceil(self.budget.chunk).max(1);
        Arc::new(Shared {
            source: self.source,
            size: self.size,
            chunk: self.budget.chunk,
            chunks,
            budget: self.budget,
            retry: self.retry,
            limit: self.limit,
            next: AtomicU64::new(0),
            first: Mutex::new(Some(self.first)),
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
        })
    }

    /// The blob in order, through the run's reorder window (for an upload).
    pub fn ordered(self) -> BlobBody {
        let (size, n) = (self.size, self.streams());
        let sh = self.start(false);
        let workers = Workers(
            (0..n)
                .map(|_| tokio::spawn(ordered_worker(sh.clone())))
                .collect(),
        );
        let reader = Ordered {
            sh,
            head: 0,
            rx: None,
            got: 0,
            done: false,
            _workers: workers,
        };
        let stream = stream::unfold(reader, |mut r| async move {
            let item = r.next().await?;
            Some((item, r))
        })
        .boxed();
        BlobBody { size, stream }
    }

    /// Each chunk written at its offset into `file`; the body reads the file back in order as
    /// the written prefix grows (for the digest check). The file holds the whole blob once the
    /// body has ended without an error.
    pub fn positional(self, file: Arc<dyn PositionalFile>) -> BlobBody {
        let (size, n) = (self.size, self.streams());
        let sh = self.start(true);
        let workers = Workers(
            (0..n)
                .map(|_| tokio::spawn(positional_worker(sh.clone(), file.clone())))
                .collect(),
        );
        let reader = Readback {
            sh,
            file,
            read: 0,
            prefix_chunk: 0,
            buf: Vec::new(),
            done: false,
            _workers: workers,
        };
        let stream = stream::unfold(reader, |mut r| async move {
            let item = r.next().await?;
            Some((item, r))
        })
        .boxed();
        BlobBody { size, stream }
    }
}

/// Worker tasks, aborted when the body is dropped (a failed or interrupted copy).
struct Workers(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

struct Shared {
    source: Arc<dyn RangeSource>,
    size: u64,
    chunk: u64,
    chunks: u64,
    budget: Arc<RangeBudget>,
    retry: RetryPolicy,
    limit: Option<Arc<RateLimit>>,
    /// The next chunk to hand to a worker.
    next: AtomicU64,
    /// The probe's body: chunk 0.
    first: Mutex<Option<Body>>,
    /// The first error that survived resuming; taken by the reader.
    failure: Mutex<Option<Error>>,
    failed: AtomicBool,
    /// A chunk was registered, a write completed, or a worker failed.
    wake: Notify,
    /// Ordered: the receivers of chunks being fetched, by index, until the reader takes them.
    ready: Mutex<HashMap<u64, mpsc::UnboundedReceiver<Bytes>>>,
    /// Ordered: window bytes reserved by this blob and not yet given back.
    held: AtomicU64,
    /// Positional: bytes written (and completed) per chunk, from the chunk's start.
    written: Vec<AtomicU64>,
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
    fn range(&self, idx: u64) -> (u64, u64) {
        let first = idx * self.chunk;
        (first, (first + self.chunk).min(self.size) - 1)
    }

    fn len(&self, idx: u64) -> u64 {
        let (first, last) = self.range(idx);
        last - first + 1
    }

    fn fail(&self, e: Error) {
        let mut slot = self.failure.lock().expect("not poisoned");
        if !self.failed.swap(true, Ordering::SeqCst) {
            *slot = Some(e);
        }
        drop(slot);
        self.wake.notify_waiters();
    }

    fn take_failure(&self) -> Option<Error> {
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
    fn release(&self, n: u64) {
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
    async fn fetch<F, Fut>(&self, idx: u64, mut sink: F) -> Result<()>
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
                return Err(Error::Internal(format!(
                    "{}: the range {}-{} delivered more than {want} bytes",
                    self.source.describe(),
                    self.range(idx).0,
                    self.range(idx).1
                )));
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
struct Exit<'a>(&'a Shared, bool);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fail(Error::Internal(
                "a range worker stopped unexpectedly".into(),
            ));
        }
    }
}

async fn ordered_worker(sh: Arc<Shared>) {
    let mut exit = Exit(&sh, false);
    let chunk = sh.chunk;
    loop {
        if sh.failed.load(Ordering::SeqCst) {
            break;
        }
        // Reserve a whole chunk of the window before asking for it.
        let Ok(reserved) = sh
            .budget
            .window_bytes
            .clone()
            .acquire_many_owned(chunk as u32)
            .await
        else {
            break;
        };
        let idx = sh.next.fetch_add(1, Ordering::SeqCst);
        if idx >= sh.chunks {
            break;
        }
        reserved.forget();
        sh.held.fetch_add(chunk, Ordering::SeqCst);
        let len = sh.len(idx);
        if len < chunk {
            sh.release(chunk - len);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        sh.ready.lock().expect("not poisoned").insert(idx, rx);
        sh.wake.notify_waiters();
        let Ok(_connection) = sh.budget.connections.clone().acquire_owned().await else {
            break;
        };
        let sent = sh
            .fetch(idx, |piece| {
                // A reader that is gone stops the worker at its next piece.
                let r = tx
                    .send(piece)
                    .map_err(|_| Error::Internal("the reader is gone".into()));
                async move { r }
            })
            .await;
        if let Err(e) = sent {
            sh.fail(e);
            break;
        }
    }
    exit.1 = true;
}

struct Ordered {
    sh: Arc<Shared>,
    head: u64,
    rx: Option<mpsc::UnboundedReceiver<Bytes>>,
    got: u64,
    done: bool,
    _workers: Workers,
}

impl Ordered {
    async fn next(&mut self) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        let r = self.step().await;
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }

    async fn step(&mut self) -> Option<Result<Bytes>> {
        loop {
            if self.head >= self.sh.chunks {
                return None;
            }
            let woken = self.sh.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(e) = self.sh.take_failure() {
                return Some(Err(e));
            }
            let Some(rx) = self.rx.as_mut() else {
                let taken = self
                    .sh
                    .ready
                    .lock()
                    .expect("not poisoned")
                    .remove(&self.head);
                match taken {
                    Some(rx) => {
                        self.rx = Some(rx);
                        self.got = 0;
                    }
                    None => woken.await,
                }
                continue;
            };
            tokio::select! {
                piece = rx.recv() => match piece {
                    Some(p) => {
                        self.sh.release(p.len() as u64);
                        self.got += p.len() as u64;
                        return Some(Ok(p));
                    }
                    None => {
                        if let Some(e) = self.sh.take_failure() {
                            return Some(Err(e));
                        }
                        if self.got != self.sh.len(self.head) {
                            return Some(Err(Error::Internal(format!(
                                "{}: range {} ended after {} of {} bytes",
                                self.sh.source.describe(),
                                self.head,
                                self.got,
                                self.sh.len(self.head)
                            ))));
                        }
                        self.head += 1;
                        self.rx = None;
                    }
                },
                _ = woken => {}
            }
        }
    }
}

async fn positional_worker(sh: Arc<Shared>, file: Arc<dyn PositionalFile>) {
    let mut exit = Exit(&sh, false);
    let mut spare: Vec<u8> = Vec::new();
    loop {
        if sh.failed.load(Ordering::SeqCst) {
            break;
        }
        let idx = sh.next.fetch_add(1, Ordering::SeqCst);
        if idx >= sh.chunks {
            break;
        }
        let Ok(_connection) = sh.budget.connections.clone().acquire_owned().await else {
            break;
        };
        let start = sh.range(idx).0;
        let (file, sh2) = (file.clone(), sh.clone());
        let mut buf = std::mem::take(&mut spare);
        let mut at = start;
        // Batches of FILE_IO bytes, each written before the next piece is read.
        let written = async {
            sh.fetch(idx, |piece| {
                buf.extend_from_slice(&piece);
                let full = buf.len() >= FILE_IO;
                let batch = if full {
                    std::mem::take(&mut buf)
                } else {
                    Vec::new()
                };
                let (file, sh2) = (file.clone(), sh2.clone());
                let off = at;
                if full {
                    at += batch.len() as u64;
                }
                async move {
                    if full {
                        let n = batch.len() as u64;
                        let _ = file.write_at(off, batch).await.map_err(write_error(&sh2))?;
                        sh2.written[idx as usize].fetch_add(n, Ordering::SeqCst);
                        sh2.wake.notify_waiters();
                    }
                    Ok(())
                }
            })
            .await?;
            if !buf.is_empty() {
                let n = buf.len() as u64;
                let back = file
                    .write_at(at, std::mem::take(&mut buf))
                    .await
                    .map_err(write_error(&sh))?;
                sh.written[idx as usize].fetch_add(n, Ordering::SeqCst);
                sh.wake.notify_waiters();
                Ok::<_, Error>(back)
            } else {
                Ok(buf)
            }
        }
        .await;
        match written {
            Ok(mut b) => {
                b.clear();
                spare = b;
            }
            Err(e) => {
                sh.fail(e);
                break;
            }
        }
    }
    exit.1 = true;
}

fn write_error(sh: &Shared) -> impl FnOnce(std::io::Error) -> Error {
    let what = format!("writing {} into the layout", sh.source.describe());
    move |source| Error::Io { what, source }
}

struct Readback {
    sh: Arc<Shared>,
    file: Arc<dyn PositionalFile>,
    read: u64,
    prefix_chunk: u64,
    buf: Vec<u8>,
    done: bool,
    _workers: Workers,
}

impl Readback {
    async fn next(&mut self) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        let r = self.step().await;
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }

    /// Where the completely written prefix ends.
    fn prefix(&mut self) -> u64 {
        let sh = &self.sh;
        while self.prefix_chunk < sh.chunks
            && sh.written[self.prefix_chunk as usize].load(Ordering::SeqCst)
                >= sh.len(self.prefix_chunk)
        {
            self.prefix_chunk += 1;
        }
        if self.prefix_chunk >= sh.chunks {
            return sh.size;
        }
        sh.range(self.prefix_chunk).0
            + sh.written[self.prefix_chunk as usize].load(Ordering::SeqCst)
    }

    async fn step(&mut self) -> Option<Result<Bytes>> {
        loop {
            if self.read >= self.sh.size {
                return None;
            }
            let sh = self.sh.clone();
            let woken = sh.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(e) = sh.take_failure() {
                return Some(Err(e));
            }
            let prefix = self.prefix();
            if prefix <= self.read {
                woken.await;
                continue;
            }
            let n = (prefix - self.read).min(FILE_IO as u64) as usize;
            let buf = std::mem::take(&mut self.buf);
            match self.file.read_at(self.read, n, buf).await {
                Ok(b) if b.len() == n => {
                    let out = Bytes::copy_from_slice(&b);
                    self.buf = b;
                    self.read += n as u64;
                    return Some(Ok(out));
                }
                Ok(b) => {
                    return Some(Err(Error::Internal(format!(
                        "{}: read {} bytes back at {} instead of {n}",
                        self.sh.source.describe(),
                        b.len(),
                        self.read
                    ))))
                }
                Err(source) => {
                    return Some(Err(Error::Io {
                        what: format!("reading back {} from the layout", self.sh.source.describe()),
                        source,
                    }))
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "ranges_tests.rs"]
mod tests;
