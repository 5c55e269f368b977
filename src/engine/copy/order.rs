//! Largest first: transfer slots handed out by blob size, not by arrival.
//!
//! A copy of many blobs finishes when its largest blob does; started last, the long pole makes
//! the whole copy wait for it alone at the end (containers/image#1738). [`Slots`] holds the
//! `--jobs` transfer slots and the third of them that large blobs may use (`copy::large_jobs`),
//! and serves waiters largest first: whenever a slot frees up, the largest waiting blob that
//! may run gets it (a large blob also needs a large-blob slot; while none is free, smaller blobs
//! go ahead, as before). Ties go in the order they asked.
//!
//! `copy/blobs.rs` asks for every blob of a copy at once, in size order, before any transfer
//! starts, so the first slots go to the largest blobs; `mirror sync` shares one [`Slots`] across
//! the images of the run (`app/sync/store.rs`), so the largest blob waiting in any image goes
//! next.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Transfer slots served largest first (see the module docs).
#[derive(Debug)]
pub struct Slots {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    free: usize,
    free_large: usize,
    seq: u64,
    /// Waiters by (larger first, earlier first).
    waiting: BTreeMap<(std::cmp::Reverse<u64>, u64), Waiter>,
}

#[derive(Debug)]
struct Waiter {
    large: bool,
    grant: oneshot::Sender<Slot>,
}

/// One transfer slot (and a large-blob slot for a large blob); given back when dropped.
#[derive(Debug)]
pub struct Slot {
    pool: Option<Arc<Slots>>,
    large: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let mut s = pool.state.lock().expect("not poisoned");
            s.free += 1;
            s.free_large += usize::from(self.large);
            pool.dispatch(&mut s);
        }
    }
}

/// A place in the queue: resolves to a slot.
pub struct Ticket(oneshot::Receiver<Slot>);

impl Ticket {
    /// Wait for the slot.
    pub async fn wait(self) -> Result<Slot> {
        self.0.await.map_err(|_| Error::Interrupted)
    }
}

impl Slots {
    /// `jobs` slots (at least 1), of which `large` (at least 1) may move large blobs.
    pub fn new(jobs: usize, large: usize) -> Arc<Self> {
        Arc::new(Slots {
            state: Mutex::new(State {
                free: jobs.max(1),
                free_large: large.max(1),
                seq: 0,
                waiting: BTreeMap::new(),
            }),
        })
    }

    /// Take a place in the queue for a blob of `size` bytes, now (`large`: it needs a
    /// large-blob slot too). Served at once when it is the largest waiter that may run.
    pub fn enqueue(self: &Arc<Self>, size: u64, large: bool) -> Ticket {
        let (tx, rx) = oneshot::channel();
        let mut s = self.state.lock().expect("not poisoned");
        s.seq += 1;
        let key = (std::cmp::Reverse(size), s.seq);
        s.waiting.insert(key, Waiter { large, grant: tx });
        self.dispatch(&mut s);
        Ticket(rx)
    }

    /// [`enqueue`](Self::enqueue) and wait.
    pub async fn acquire(self: &Arc<Self>, size: u64, large: bool) -> Result<Slot> {
        self.enqueue(size, large).wait().await
    }

    /// Grant free slots to the largest waiters that may run.
    fn dispatch(self: &Arc<Self>, s: &mut State) {
        let mut gone = vec![];
        let mut granted = vec![];
        for (key, w) in &s.waiting {
            if s.free - granted.len() == 0 {
                break;
            }
            let large_used = granted.iter().filter(|(_, l)| *l).count();
            if w.large && s.free_large - large_used == 0 {
                continue;
            }
            if w.grant.is_closed() {
                gone.push(*key);
                continue;
            }
            granted.push((*key, w.large));
        }
        for key in gone {
            s.waiting.remove(&key);
        }
        for (key, large) in granted {
            let w = s.waiting.remove(&key).expect("listed above");
            let slot = Slot {
                pool: Some(self.clone()),
                large,
            };
            match w.grant.send(slot) {
                Ok(()) => {
                    s.free -= 1;
                    s.free_large -= usize::from(large);
                }
                // Gone since (its copy was cancelled): the slot was never taken.
                Err(mut slot) => slot.pool = None,
            }
        }
    }

    /// Slots free right now (all, large).
    pub fn available(&self) -> (usize, usize) {
        let s = self.state.lock().expect("not poisoned");
        (s.free, s.free_large)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn order_of(pool: &Arc<Slots>, blobs: &[(u64, bool)]) -> Vec<u64> {
        let order = Arc::new(Mutex::new(vec![]));
        let mut tasks = vec![];
        for &(size, large) in blobs {
            let ticket = pool.enqueue(size, large);
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let _slot = ticket.wait().await.unwrap();
                order.lock().unwrap().push(size);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let got = order.lock().unwrap().clone();
        got
    }

    #[tokio::test]
    async fn one_slot_serves_largest_first_whatever_the_order_asked() {
        let pool = Slots::new(1, 1);
        let first = pool.acquire(5, false).await.unwrap();
        let blobs = [
            (10, false),
            (3000, true),
            (20, false),
            (3000, true),
            (7, false),
        ];
        let handle = tokio::spawn({
            let pool = pool.clone();
            async move { order_of(&pool, &blobs).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(first);
        assert_eq!(handle.await.unwrap(), vec![3000, 3000, 20, 10, 7]);
        assert_eq!(pool.available(), (1, 1));
    }

    /// While the large-blob slots are taken, smaller blobs use the free slots.
    #[tokio::test]
    async fn small_blobs_go_ahead_while_large_ones_wait_for_their_slot() {
        let pool = Slots::new(3, 1);
        let l1 = pool.enqueue(900, true);
        let l2 = pool.enqueue(800, true);
        let s1 = pool.enqueue(10, false);
        let held = l1.wait().await.unwrap();
        let _s = s1.wait().await.unwrap();
        assert_eq!(pool.available(), (1, 0));
        drop(held);
        let _l = l2.wait().await.unwrap();
        assert_eq!(pool.available(), (1, 0));
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_lose_the_slot() {
        let pool = Slots::new(1, 1);
        let held = pool.acquire(1, false).await.unwrap();
        let gone = pool.enqueue(100, false);
        let stays = pool.enqueue(2, false);
        drop(gone);
        drop(held);
        let p = stays.wait().await.unwrap();
        assert_eq!(pool.available(), (0, 1));
        drop(p);
        assert_eq!(pool.available(), (1, 1));
    }
}
