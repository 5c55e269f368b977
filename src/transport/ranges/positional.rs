//! [`RangedBlob::positional`](crate::transport::ranges::RangedBlob::positional): workers that
//! write each chunk at its offset, and the reader that reads the written prefix back in order.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use crate::error::{Error, Result};
use crate::transport::ranges::budget::{PositionalFile, FILE_IO};
use crate::transport::ranges::shared::{Exit, Shared, Workers};
use crate::transport::resume::Body;

/// Start `n` workers writing into `file`; the body reads it back in order.
pub(super) fn body(sh: Arc<Shared>, file: Arc<dyn PositionalFile>, n: usize) -> Body {
    let workers = Workers(
        (0..n)
            .map(|_| tokio::spawn(worker(sh.clone(), file.clone())))
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
    stream::unfold(reader, |mut r| async move {
        let item = r.next().await?;
        Some((item, r))
    })
    .boxed()
}

async fn worker(sh: Arc<Shared>, file: Arc<dyn PositionalFile>) {
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
