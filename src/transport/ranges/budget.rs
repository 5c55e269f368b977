//! The run-wide budget of ranged downloads (connections, the reorder window, the chunk size)
//! and the two traits a ranged download talks to: its source and, for positional writes, a file.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use crate::error::Result;
use crate::transport::resume::Body;

/// Blobs of this size or more are fetched as ranges (`--range-streams` above 1).
pub const DEFAULT_THRESHOLD: u64 = 32 * 1024 * 1024;
/// `--range-streams`' default: connections for ranged downloads, for the whole run
/// (docs/performance.md §WAN says how it was chosen).
pub const DEFAULT_STREAMS: usize = 8;
/// The reorder window for the whole run (downloads into a registry upload).
pub const DEFAULT_WINDOW: u64 = 28 * 1024 * 1024;
/// A range that delivers no byte for this long is restarted on a new connection.
pub const DEFAULT_STALL: Duration = Duration::from_secs(30);
/// A source whose probe is answered faster than this is near: one stream fills the path (one
/// TCP stream moves about its window, ~3 MiB, per round trip: 150 MB/s at 20 ms), and ranges
/// would only cost CPU (docs/performance.md §WAN).
pub const DEFAULT_MIN_RTT: Duration = Duration::from_millis(20);
/// Bytes per write into a positional file and per read back.
pub(super) const FILE_IO: usize = 128 * 1024;
/// The largest piece a worker keeps of what the network delivered (an exact-size copy, so the
/// HTTP stack's read buffer is free again at once; see `engine/chunks.rs`).
pub(super) const PIECE: usize = 64 * 1024;

/// Something kept alive as long as a ranged download runs (a batch run's transfer permits).
pub type Guard = Box<dyn std::any::Any + Send + Sync>;

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
    pub(super) streams: usize,
    pub(super) chunk: u64,
    pub(super) window: u64,
    pub(super) threshold: u64,
    pub(super) stall: Duration,
    pub(super) min_rtt: Duration,
    pub(super) connections: Arc<Semaphore>,
    pub(super) window_bytes: Arc<Semaphore>,
}

impl RangeBudget {
    /// `streams` connections (at least 2) and a reorder window of `window` bytes for the run;
    /// blobs of `threshold` bytes or more are ranged. A chunk is a half of the window's share
    /// per stream, between 1 and 16 MiB, so each stream has room for the chunk it fetches and
    /// the next one while the reader catches up (docs/performance.md §WAN).
    pub fn new(streams: usize, window: u64, threshold: u64) -> Self {
        let streams = streams.max(2);
        let chunk = (window / (2 * streams as u64)).clamp(1 << 20, 16 << 20);
        let window = window.max(2 * chunk);
        RangeBudget {
            streams,
            chunk,
            window,
            threshold,
            stall: DEFAULT_STALL,
            min_rtt: DEFAULT_MIN_RTT,
            connections: Arc::new(Semaphore::new(streams)),
            window_bytes: Arc::new(Semaphore::new(window as usize)),
        }
    }

    /// Another chunk size (benchmarks), 64 KiB to 64 MiB, and a window of at least one chunk.
    pub fn with_chunk(mut self, chunk: u64) -> Self {
        self.chunk = chunk.clamp(64 << 10, 64 << 20);
        if self.window < self.chunk {
            self.window = self.chunk;
            self.window_bytes = Arc::new(Semaphore::new(self.window as usize));
        }
        self
    }

    /// A shorter stall limit (tests).
    pub fn with_stall(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self
    }

    /// Sources that answer the probe faster than `min_rtt` get one stream (tests, benchmarks).
    pub fn with_min_rtt(mut self, min_rtt: Duration) -> Self {
        self.min_rtt = min_rtt;
        self
    }

    /// See [`DEFAULT_MIN_RTT`].
    pub fn min_rtt(&self) -> Duration {
        self.min_rtt
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
