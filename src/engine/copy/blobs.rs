//! Blob transfer: deduplicated, concurrent (`--jobs`, a third of the permits for large blobs),
//! each blob probed on the target, else mounted, else streamed with digest verification, and a
//! failed transfer restarted from a fresh source stream. The order around it (preflight, child
//! manifests, index, tag) is `copy.rs`'s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::engine::chunks::Pieces;
use crate::engine::copy::types::{BlobStats, CopyOptions};
use crate::engine::invariant::Confirmed;
use crate::engine::progress::{BlobOutcome, Event, Reporter};
use crate::error::{Error, Result};
use crate::model::digest::VerifyingStream;
use crate::model::manifest::Descriptor;
use crate::transport::retry::RetryPolicy;
use crate::transport::{BlobBody, Storage};

/// How a blob copy asks the target whether the blob is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `HEAD` ([`Storage::has_blob`]): read-only. For targets that probably hold most of the
    /// blobs already: repairs, updates of an existing tag, artifacts on reruns.
    Head,
    /// The request that opens the upload ([`Storage::has_blob_before_push`]): one request less
    /// per blob copied, but a blob already there gets its link rewritten. For cold copies (the
    /// target tag does not exist yet). A registry gets it only once it has shown that it
    /// answers it correctly; until then it is asked with HEAD (`transport/registry.rs`).
    Upload,
}

/// Bytes of a blob between two progress events.
const PROGRESS_STEP: u64 = 256 * 1024;

/// Blobs of this size or more count as large for [`large_jobs`].
pub const LARGE_BLOB: u64 = 1024 * 1024;

/// How many of `jobs` concurrent blob transfers may move large blobs: a third, rounded up
/// (3 of the default 8).
///
/// A transfer of a large blob holds up to about 0.8 MiB of HTTP read buffers (two of hyper's
/// ~400 KiB buffers per connection; `chunks.rs` keeps it from pinning more), and a few streams
/// already saturate what the registries take: the 500 MiB bench fixture copies in the same
/// wall time with 3 or 4 large transfers at once, 4 % slower with 2, and peak RSS is 14.0–14.6,
/// 14.4–15.5 and 12.4–13.5 MiB (docs/performance.md). Small blobs cost little memory and are
/// latency-bound, so they may use every permit (8 at once copy 300 blobs of 64 KiB 8 % faster
/// than 4).
pub fn large_jobs(jobs: usize) -> usize {
    jobs.max(1).div_ceil(3)
}

pub(crate) async fn copy_blobs<E: Storage>(
    src: &Arc<E>,
    dst: &Arc<E>,
    (blobs, probe): (&[Descriptor], Probe),
    opts: &CopyOptions,
    reporter: &Arc<dyn Reporter>,
    stats: &mut BlobStats,
    confirmed: &mut Confirmed,
) -> Result<()> {
    reporter.event(Event::Stage("blobs"));
    // A delta bundle leaves out what the far side holds (confirmed on that claim).
    let kept: Vec<Descriptor>;
    let blobs = match &opts.delta {
        Some(delta) => {
            kept = blobs
                .iter()
                .filter(|b| {
                    let out = delta.left_out.contains(&b.digest);
                    if out {
                        stats.left_out += 1;
                        stats.left_out_bytes += b.size;
                        confirmed.blob(&b.digest);
                    }
                    !out
                })
                .cloned()
                .collect();
            &kept[..]
        }
        None => blobs,
    };
    reporter.event(Event::BlobsPlanned {
        count: blobs.len(),
        bytes: blobs.iter().map(|b| b.size).sum(),
    });
    let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let large = Arc::new(Semaphore::new(large_jobs(opts.jobs)));
    let failed = Arc::new(AtomicBool::new(false));
    let mut set = JoinSet::new();
    for d in blobs.iter().cloned() {
        let known = opts.known_blobs.contains(&d.digest);
        let (src, dst, sem, large, failed, reporter, retry) = (
            src.clone(),
            dst.clone(),
            sem.clone(),
            large.clone(),
            failed.clone(),
            reporter.clone(),
            opts.retry,
        );
        set.spawn(async move {
            // A large blob waits for its own permit first, so it holds no general permit that a
            // small blob could use meanwhile.
            let _large = if d.size >= LARGE_BLOB {
                Some(
                    large
                        .acquire_owned()
                        .await
                        .map_err(|_| Error::Interrupted)?,
                )
            } else {
                None
            };
            let _permit = sem.acquire_owned().await.map_err(|_| Error::Interrupted)?;
            // After a failure no new transfer starts (the failed task sets this before its
            // permit is released, so the next one in line sees it).
            if failed.load(Ordering::SeqCst) {
                return Ok(None);
            }
            let r = copy_blob(&src, &dst, &d, (probe, known), &reporter, retry).await;
            if r.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            let what = format!(
                "copying blob {} ({} bytes) to {}",
                d.digest,
                d.size,
                dst.describe()
            );
            r.map(|o| Some((d, o))).map_err(|e| e.context(what))
        });
    }
    let mut first_err: Option<Error> = None;
    loop {
        let joined = tokio::select! {
            biased;
            // Interrupted: abort every transfer and wait until all are dropped (uploads
            // aborted, temp files removed) before the caller cancels open upload sessions.
            _ = opts.cancel.cancelled() => {
                set.abort_all();
                while set.join_next().await.is_some() {}
                return Err(Error::Interrupted);
            }
            j = set.join_next() => j,
        };
        let Some(joined) = joined else { break };
        match joined {
            Ok(Ok(None)) => {}
            Ok(Ok(Some((d, outcome)))) => {
                let (n, b) = match outcome {
                    BlobOutcome::Existing => (&mut stats.existing, &mut stats.existing_bytes),
                    BlobOutcome::Mounted => (&mut stats.mounted, &mut stats.mounted_bytes),
                    BlobOutcome::Copied => (&mut stats.copied, &mut stats.copied_bytes),
                };
                *n += 1;
                *b += d.size;
                confirmed.blob(&d.digest);
                reporter.event(Event::BlobDone {
                    digest: d.digest,
                    size: d.size,
                    outcome,
                });
            }
            Ok(Err(e)) => {
                if first_err.is_none() {
                    first_err = Some(e);
                    set.abort_all();
                }
            }
            Err(j) if j.is_cancelled() => {}
            Err(j) => {
                first_err.get_or_insert(Error::Internal(format!("a blob task panicked: {j}")));
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn copy_blob<E: Storage>(
    src: &Arc<E>,
    dst: &Arc<E>,
    d: &Descriptor,
    (probe, known): (Probe, bool),
    reporter: &Arc<dyn Reporter>,
    retry: RetryPolicy,
) -> Result<BlobOutcome> {
    let present = known
        || match probe {
            Probe::Head => dst.has_blob(d).await?,
            Probe::Upload => dst.has_blob_before_push(d).await?,
        };
    if present {
        return Ok(BlobOutcome::Existing);
    }
    if dst.try_mount(d, src).await? {
        return Ok(BlobOutcome::Mounted);
    }
    reporter.event(Event::BlobStarted {
        digest: d.digest.clone(),
        size: d.size,
    });
    // Bytes from a registry (or a foreign layer's URL) crossed a network: a digest or size
    // mismatch may be damage in transit, so it is retried too (from a fresh stream). A layout's
    // bytes are what they are.
    let retryable: fn(&Error) -> bool = if src.is_registry() || d.is_foreign() {
        Error::is_transient_or_damaged
    } else {
        Error::is_transient
    };
    retry
        .run_when("copy blob", retryable, || async {
            let (body, location) = if d.is_foreign() {
                crate::engine::foreign::fetch(src.as_ref(), d).await?
            } else {
                (src.fetch_blob(d).await?, src.blob_location(&d.digest))
            };
            // Verify exactly once, here. The first stream error (a digest or size mismatch, or
            // a read failure at the source) is kept so it is reported as itself rather than as
            // the upload failure it causes.
            let slot: Arc<std::sync::Mutex<Option<Error>>> = Arc::default();
            // A read failure is kept as itself, not as the mismatch it causes: after the
            // source's own resumes it may be final (Error::BodyCutShort).
            let read_failed: Arc<std::sync::Mutex<Option<Error>>> = Arc::default();
            let keep_read = read_failed.clone();
            let body_stream = body.stream.map(move |item| {
                item.map_err(|e| {
                    let text = e.to_string();
                    keep_read.lock().expect("not poisoned").get_or_insert(e);
                    text
                })
            });
            let (r, digest, keep) = (reporter.clone(), d.digest.clone(), slot.clone());
            let what = format!("content of {location} is wrong");
            // Progress in steps of PROGRESS_STEP bytes (and the rest with the last piece), not
            // one event per 16 KiB piece.
            let (size, mut passed, mut unreported) = (d.size, 0u64, 0u64);
            let verified = VerifyingStream::new(Pieces::new(body_stream), d.digest.clone(), d.size)
                .map(move |item| match item {
                    Ok(c) => {
                        passed += c.len() as u64;
                        unreported += c.len() as u64;
                        if unreported >= PROGRESS_STEP || passed == size {
                            r.event(Event::BlobBytes {
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
                        keep.lock().expect("not poisoned").get_or_insert(e);
                        Err(Error::Internal(text))
                    }
                });
            let pushed = dst
                .push_blob(
                    d,
                    BlobBody {
                        size: d.size,
                        stream: verified.boxed(),
                    },
                )
                .await;
            let read_error = read_failed.lock().expect("not poisoned").take();
            let source_error = read_error.or_else(|| slot.lock().expect("not poisoned").take());
            match (pushed, source_error) {
                (Err(_), Some(source_error)) => Err(source_error),
                (r, _) => r,
            }
        })
        .await?;
    Ok(BlobOutcome::Copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::digest::Digest;
    use crate::transport::layout::Layout;
    use bytes::Bytes;

    struct Recorder(std::sync::Mutex<Vec<u64>>);
    impl Reporter for Recorder {
        fn event(&self, e: Event) {
            if let Event::BlobBytes { n, .. } = e {
                self.0.lock().unwrap().push(n);
            }
        }
    }

    /// A blob of 2.5 progress steps: three BlobBytes events (two full steps and the rest with
    /// the last piece) that add up to its size, and the copy is byte-identical.
    #[tokio::test]
    async fn progress_comes_in_steps_that_add_up_to_the_blob() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..(5 * PROGRESS_STEP / 2))
            .map(|i| (i % 253) as u8)
            .collect();
        let d = Descriptor {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            digest: Digest::sha256_of(&bytes),
            size: bytes.len() as u64,
            platform: None,
            artifact_type: None,
            annotations: Default::default(),
            urls: vec![],
        };
        let src = Arc::new(Layout::create(&dir.path().join("src")).unwrap());
        let body = futures_util::stream::iter(vec![Ok(Bytes::from(bytes.clone()))]).boxed();
        src.push_blob(
            &d,
            BlobBody {
                size: d.size,
                stream: body,
            },
        )
        .await
        .unwrap();
        let dst = Arc::new(Layout::create(&dir.path().join("dst")).unwrap());
        let rec = Arc::new(Recorder(Default::default()));
        let reporter: Arc<dyn Reporter> = rec.clone();
        let outcome = copy_blob(
            &src,
            &dst,
            &d,
            (Probe::Head, false),
            &reporter,
            RetryPolicy::default(),
        )
        .await
        .unwrap();
        assert_eq!(outcome, BlobOutcome::Copied);
        let steps = rec.0.lock().unwrap().clone();
        assert_eq!(steps, vec![PROGRESS_STEP, PROGRESS_STEP, PROGRESS_STEP / 2]);
        let copied = std::fs::read(
            dir.path()
                .join("dst/blobs/sha256")
                .join(d.digest.as_str().trim_start_matches("sha256:")),
        )
        .unwrap();
        assert!(copied == bytes, "the copied blob differs");
    }

    #[test]
    fn a_third_of_the_jobs_move_large_blobs_and_never_none() {
        let got: Vec<usize> = [0, 1, 2, 3, 4, 6, 8, 9, 16, 64]
            .into_iter()
            .map(large_jobs)
            .collect();
        assert_eq!(got, vec![1, 1, 1, 1, 2, 2, 3, 3, 6, 22]);
    }
}
