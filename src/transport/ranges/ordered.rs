//! [`RangedBlob::ordered`](crate::transport::ranges::RangedBlob::ordered): workers that reserve
//! the reorder window chunk by chunk, and the reader that passes the chunks on in order.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::transport::ranges::shared::{Exit, Shared, Workers};
use crate::transport::resume::Body;

/// Start `n` workers on `sh`; the body passes the blob on in order.
pub(super) fn body(sh: Arc<Shared>, n: usize) -> Body {
    let workers = Workers((0..n).map(|_| tokio::spawn(worker(sh.clone()))).collect());
    let reader = Ordered {
        sh,
        head: 0,
        rx: None,
        got: 0,
        done: false,
        _workers: workers,
    };
    stream::unfold(reader, |mut r| async move {
        let item = r.next().await?;
        Some((item, r))
    })
    .boxed()
}

async fn worker(sh: Arc<Shared>) {
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
