//! Cancellation: a [`CancelToken`] created by `main.rs` and passed down, never a global.
//!
//! `main.rs` creates one token, installs the SIGINT/SIGTERM handler that calls
//! [`CancelToken::cancel`], and hands clones to the command (through its settings) and from
//! there to the engine ([`CopyOptions`](crate::engine::copy::CopyOptions)) and the transport
//! ([`ClientOptions`](crate::transport::registry::ClientOptions)). The engine checks
//! [`CancelToken::check`] at stage boundaries (never start a manifest or tag PUT after an
//! interrupt) and waits on [`CancelToken::cancelled`] where it holds in-flight work: `copy.rs`
//! aborts its blob tasks and joins them, so their uploads are dropped and their temp files
//! removed before the command asks the target to cancel the upload sessions still open
//! ([`Storage::abort`](crate::transport::Storage::abort)).
//!
//! Writers hold a [`WriteGuard`] from [`CancelToken::writing`]; after an interrupt `main.rs`
//! waits (bounded) in [`CancelToken::writers_done`] so they can clean up. A fresh token
//! ([`CancelToken::new`] or `Default`) is never cancelled unless someone calls `cancel` on it or
//! a clone: tests and library callers make their own.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    wake: Notify,
    writers: AtomicUsize,
    idle: Notify,
}

/// A cheap-to-clone cancellation handle; every clone sees the same state.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<Inner>);

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .field("writers", &self.0.writers.load(Ordering::SeqCst))
            .finish()
    }
}

/// Held while a command writes to a target: after an interrupt, `main.rs` waits (bounded) for
/// every guard to drop, so the writer can cancel what it left open. Commands that only read
/// hold none and exit at once.
#[must_use = "the guard protects the cleanup only while it is alive"]
pub struct WriteGuard(Arc<Inner>);

impl Drop for WriteGuard {
    fn drop(&mut self) {
        if self.0.writers.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancel: every clone sees it, and every [`cancelled`](Self::cancelled) waiter wakes.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.wake.notify_waiters();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Resolve once cancelled (at once if it already is).
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// `Err(Interrupted)` once cancelled: a check before starting a step.
    pub fn check(&self) -> crate::error::Result<()> {
        if self.is_cancelled() {
            Err(crate::error::Error::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Announce a writer (see [`WriteGuard`]).
    pub fn writing(&self) -> WriteGuard {
        self.0.writers.fetch_add(1, Ordering::SeqCst);
        WriteGuard(self.0.clone())
    }

    /// Resolve once no [`WriteGuard`] of this token is alive.
    pub async fn writers_done(&self) {
        loop {
            let idle = self.0.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.0.writers.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clones_share_cancellation_and_wake_waiters() {
        let t = CancelToken::new();
        let c = t.clone();
        assert!(!c.is_cancelled() && c.check().is_ok());
        let waiter = tokio::spawn(async move { c.cancelled().await });
        tokio::task::yield_now().await;
        t.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
        assert!(matches!(t.check(), Err(crate::error::Error::Interrupted)));
        // Another token is independent.
        assert!(!CancelToken::new().is_cancelled());
    }

    #[tokio::test]
    async fn writers_done_waits_for_guards() {
        let t = CancelToken::new();
        t.writers_done().await; // none: at once
        let g = t.writing();
        let t2 = t.clone();
        let done = tokio::spawn(async move { t2.writers_done().await });
        tokio::task::yield_now().await;
        assert!(!done.is_finished());
        drop(g);
        tokio::time::timeout(std::time::Duration::from_secs(5), done)
            .await
            .expect("released")
            .unwrap();
    }
}
