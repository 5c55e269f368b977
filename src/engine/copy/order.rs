//! Largest first: transfer permits handed out by blob size, not by arrival.
//!
//! A copy of many blobs finishes when its largest blob does; started last, the long pole makes
//! the whole copy wait for it alone at the end (containers/image#1738). [`SizeOrdered`] is a
//! counting semaphore whose waiters are served largest first (ties in the order they asked).
//! `copy/blobs.rs` asks for every blob of a copy at once, in size order, before any transfer
//! starts, so the first permits go to the largest blobs; `mirror sync` shares one pool across
//! the images of the run (`app/sync/store.rs`), so whenever a permit frees up, the largest blob
//! waiting in any image gets it.

use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// A semaphore that serves the largest waiter first (see the module docs).
#[derive(Debug)]
pub struct SizeOrdered {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    free: usize,
    seq: u64,
    waiting: BinaryHeap<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    size: u64,
    seq: u64,
    grant: oneshot::Sender<SizePermit>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.size, self.seq) == (other.size, other.seq)
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    /// Larger first; of equal sizes, the earlier one.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.size
            .cmp(&other.size)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// One permit; given back (to the largest waiter) when dropped.
#[derive(Debug)]
pub struct SizePermit {
    pool: Option<Arc<SizeOrdered>>,
}

impl Drop for SizePermit {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.release();
        }
    }
}

/// A place in the queue: resolves to a permit.
pub struct Ticket(Result<SizePermit, oneshot::Receiver<SizePermit>>);

impl Ticket {
    /// Wait for the permit.
    pub async fn wait(self) -> Result<SizePermit> {
        match self.0 {
            Ok(p) => Ok(p),
            Err(rx) => rx.await.map_err(|_| Error::Interrupted),
        }
    }
}

impl SizeOrdered {
    /// A pool of `permits` (at least 1).
    pub fn new(permits: usize) -> Arc<Self> {
        Arc::new(SizeOrdered {
            state: Mutex::new(State {
                free: permits.max(1),
                seq: 0,
                waiting: BinaryHeap::new(),
            }),
        })
    }

    /// Take a place in the queue for a blob of `size` bytes, now: a free permit is granted at
    /// once, else the ticket waits its turn by size.
    pub fn enqueue(self: &Arc<Self>, size: u64) -> Ticket {
        let mut s = self.state.lock().expect("not poisoned");
        if s.free > 0 {
            s.free -= 1;
            return Ticket(Ok(SizePermit {
                pool: Some(self.clone()),
            }));
        }
        let (tx, rx) = oneshot::channel();
        s.seq += 1;
        let seq = s.seq;
        s.waiting.push(Waiter {
            size,
            seq,
            grant: tx,
        });
        Ticket(Err(rx))
    }

    /// [`enqueue`](Self::enqueue) and wait.
    pub async fn acquire(self: &Arc<Self>, size: u64) -> Result<SizePermit> {
        self.enqueue(size).wait().await
    }

    fn release(self: &Arc<Self>) {
        let mut s = self.state.lock().expect("not poisoned");
        while let Some(w) = s.waiting.pop() {
            let permit = SizePermit {
                pool: Some(self.clone()),
            };
            match w.grant.send(permit) {
                Ok(()) => return,
                // The waiter is gone (its copy was cancelled): the next one.
                Err(mut p) => p.pool = None,
            }
        }
        s.free += 1;
    }

    /// Permits free right now.
    pub fn available(&self) -> usize {
        self.state.lock().expect("not poisoned").free
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_are_served_largest_first() {
        let pool = SizeOrdered::new(1);
        let first = pool.acquire(5).await.unwrap();
        let order = Arc::new(Mutex::new(vec![]));
        let mut tasks = vec![];
        for size in [10u64, 300, 20, 300, 7] {
            let ticket = pool.enqueue(size);
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let _p = ticket.wait().await.unwrap();
                order.lock().unwrap().push(size);
                tokio::task::yield_now().await;
            }));
        }
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![300, 300, 20, 10, 7]);
        assert_eq!(pool.available(), 1);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_lose_the_permit() {
        let pool = SizeOrdered::new(1);
        let held = pool.acquire(1).await.unwrap();
        let gone = pool.enqueue(100);
        let stays = pool.enqueue(2);
        drop(gone);
        drop(held);
        let p = stays.wait().await.unwrap();
        assert_eq!(pool.available(), 0);
        drop(p);
        assert_eq!(pool.available(), 1);
    }
}
