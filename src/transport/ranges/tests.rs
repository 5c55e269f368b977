use super::*;
use crate::error::{Error, Result};
use crate::transport::ranges::budget::PIECE;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// An in-memory source with faults: every `break_every`-th open breaks off half-way, every
/// `stall_every`-th open goes quiet after a few bytes. Records the ranges asked for.
struct Source {
    data: Arc<Vec<u8>>,
    opens: AtomicUsize,
    break_every: usize,
    stall_every: usize,
    asked: Mutex<Vec<(u64, u64)>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

impl Source {
    fn new(size: usize) -> Self {
        Source {
            data: Arc::new((0..size).map(|i| (i * 7 % 251) as u8).collect()),
            opens: AtomicUsize::new(0),
            break_every: 0,
            stall_every: 0,
            asked: Mutex::new(vec![]),
            in_flight: Arc::default(),
            most_in_flight: Arc::default(),
        }
    }
}

/// Counts a body as in flight until it is dropped.
struct Flight(Arc<AtomicUsize>);
impl Drop for Flight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn reset() -> Error {
    Error::Network {
        method: "GET".into(),
        url: "u".into(),
        message: "connection reset".into(),
        transient: true,
        https_to_http: false,
    }
}

impl RangeSource for Source {
    fn open(&self, first: u64, last: u64) -> BoxFuture<'static, Result<Body>> {
        self.asked.lock().unwrap().push((first, last));
        let n = self.opens.fetch_add(1, Ordering::SeqCst) + 1;
        let part = self.data[first as usize..=last as usize].to_vec();
        let broken = self.break_every > 0 && n.is_multiple_of(self.break_every);
        let stalled = self.stall_every > 0 && n.is_multiple_of(self.stall_every);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let flight = Flight(self.in_flight.clone());
        Box::pin(async move {
            let pieces: Vec<Result<Bytes>> = part
                .chunks(10_000)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let half = pieces.len().div_ceil(2);
            let body: Body = if broken {
                stream::iter(pieces.into_iter().take(half))
                    .chain(stream::once(async { Err(reset()) }))
                    .boxed()
            } else if stalled {
                stream::iter(pieces.into_iter().take(1))
                    .chain(stream::pending())
                    .boxed()
            } else {
                stream::iter(pieces).boxed()
            };
            // The flight guard lives as long as the body.
            Ok(body
                .map(move |i| {
                    let _f = &flight;
                    i
                })
                .boxed())
        })
    }
    fn describe(&self) -> String {
        "blob sha256:test from memory".into()
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        retries: 3,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(2),
        longest_retry_after: Duration::from_secs(30),
    }
}

fn budget(streams: usize, window: u64) -> Arc<RangeBudget> {
    Arc::new(RangeBudget::new(streams, window, 0).with_stall(Duration::from_millis(100)))
}

async fn ranged(src: Arc<Source>, b: &Arc<RangeBudget>) -> RangedBlob {
    let size = src.data.len() as u64;
    let (first, last) = b.first_range(size);
    let body = src.open(first, last).await.unwrap();
    RangedBlob::new(src, size, body, b.clone(), policy())
}

async fn collect(body: Body) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut s = body;
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(out)
}

const MIB: usize = 1 << 20;

#[tokio::test]
async fn ordered_delivers_every_byte_in_order_and_gives_the_window_back() {
    let src = Arc::new(Source::new(9 * MIB + 123));
    let b = budget(4, 4 * MIB as u64);
    assert_eq!(b.chunk(), MIB as u64);
    let body = ranged(src.clone(), &b).await.ordered();
    let got = collect(body).await.unwrap();
    assert!(got == *src.data, "the bytes differ");
    // 10 chunks, each asked once; at most 4 connections at a time.
    let mut asked = src.asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(asked.len(), 10, "{asked:?}");
    assert_eq!(asked[9], (9 * MIB as u64, 9 * MIB as u64 + 122));
    assert!(src.most_in_flight.load(Ordering::SeqCst) <= 4);
    assert_eq!(b.window_bytes.available_permits(), 4 * MIB);
}

#[tokio::test]
async fn ranges_that_break_off_or_stall_are_resumed_from_their_own_offset() {
    let mut s = Source::new(6 * MIB);
    s.break_every = 3;
    s.stall_every = 5;
    let src = Arc::new(s);
    let b = budget(3, 3 * MIB as u64);
    let got = collect(ranged(src.clone(), &b).await.ordered())
        .await
        .unwrap();
    assert!(got == *src.data, "the bytes differ");
    let asked = src.asked.lock().unwrap().clone();
    // A resumed range starts inside its chunk and ends where the chunk ends.
    let resumed: Vec<_> = asked.iter().filter(|(f, _)| *f % MIB as u64 != 0).collect();
    assert!(!resumed.is_empty(), "{asked:?}");
    for (f, l) in resumed {
        assert_eq!(l + 1, (f / MIB as u64 + 1) * MIB as u64, "{asked:?}");
    }
}

#[tokio::test]
async fn a_range_that_keeps_failing_fails_the_body_and_frees_the_window() {
    let mut s = Source::new(5 * MIB);
    s.break_every = 1;
    let src = Arc::new(s);
    let b = budget(2, 2 * MIB as u64);
    let e = collect(ranged(src.clone(), &b).await.ordered())
        .await
        .unwrap_err();
    // After its resumes the range ends as Error::BodyCutShort, which the blob copy keeps.
    assert!(e.to_string().contains("broke off before its end"), "{e}");
    // The workers are aborted with the body; the window is whole again once they are gone.
    for _ in 0..100 {
        if b.window_bytes.available_permits() == 2 * MIB {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.window_bytes.available_permits(), 2 * MIB);
}

/// A slow reader: the workers may run ahead only as far as the window lets them.
#[tokio::test]
async fn the_window_bounds_what_waits_ahead_of_a_slow_reader() {
    let src = Arc::new(Source::new(12 * MIB));
    let b = budget(4, 4 * MIB as u64);
    let mut body = ranged(src.clone(), &b).await.ordered();
    let mut n = 0usize;
    while let Some(c) = body.next().await {
        n += c.unwrap().len();
        if n % (2 * MIB) < PIECE {
            tokio::time::sleep(Duration::from_millis(20)).await;
            // The fetch cannot be further ahead than the window plus the chunk being read.
            let fetched: u64 = src
                .asked
                .lock()
                .unwrap()
                .iter()
                .map(|(f, l)| l - f + 1)
                .sum();
            assert!(
                fetched as usize <= n + 5 * MIB,
                "{fetched} fetched, {n} read"
            );
        }
    }
    assert_eq!(n, 12 * MIB);
}

struct MemFile(Mutex<Vec<u8>>);

impl PositionalFile for MemFile {
    fn write_at(&self, offset: u64, buf: Vec<u8>) -> BoxFuture<'static, std::io::Result<Vec<u8>>> {
        let mut f = self.0.lock().unwrap();
        let end = offset as usize + buf.len();
        if f.len() < end {
            f.resize(end, 0);
        }
        f[offset as usize..end].copy_from_slice(&buf);
        Box::pin(async move { Ok(buf) })
    }
    fn read_at(
        &self,
        offset: u64,
        len: usize,
        mut buf: Vec<u8>,
    ) -> BoxFuture<'static, std::io::Result<Vec<u8>>> {
        let f = self.0.lock().unwrap();
        buf.clear();
        buf.extend_from_slice(&f[offset as usize..offset as usize + len]);
        Box::pin(async move { Ok(buf) })
    }
}

#[tokio::test]
async fn positional_writes_every_chunk_at_its_offset_and_reads_back_in_order() {
    let mut s = Source::new(7 * MIB + 5);
    s.break_every = 4;
    let src = Arc::new(s);
    let b = budget(3, 3 * MIB as u64);
    let file = Arc::new(MemFile(Mutex::new(vec![])));
    let body = ranged(src.clone(), &b).await.positional(file.clone());
    let got = collect(body).await.unwrap();
    assert!(got == *src.data, "the read-back bytes differ");
    assert!(*file.0.lock().unwrap() == *src.data, "the file differs");
    // No window is used for positional writes.
    assert_eq!(b.window_bytes.available_permits(), 3 * MIB);
}

#[tokio::test]
async fn a_blob_smaller_than_a_chunk_is_one_range() {
    let src = Arc::new(Source::new(1000));
    let b = budget(4, 8 * MIB as u64);
    assert_eq!(b.first_range(1000), (0, 999));
    let r = ranged(src.clone(), &b).await;
    assert_eq!(r.streams(), 1);
    assert!(collect(r.ordered()).await.unwrap() == *src.data);
    assert_eq!(src.asked.lock().unwrap().len(), 1);
}
