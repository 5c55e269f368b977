//! Interrupts: SIGINT and SIGTERM set one process-wide flag that the engine observes.
//!
//! `main.rs` installs the signal handler and calls [`trigger`]. The engine checks [`is_set`] at
//! stage boundaries (never start a manifest or tag PUT after an interrupt) and waits on [`wait`]
//! where it holds in-flight work: `copy.rs` aborts its blob tasks and joins them, so their
//! uploads are dropped and their temp files removed before `run.rs` asks the target to cancel
//! the upload sessions still open ([`Storage::abort`](crate::transport::Storage::abort)).
//! A flag rather than a token threaded through every call keeps the engine's signatures small;
//! there is one copy per process.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

static FLAG: AtomicBool = AtomicBool::new(false);
static NOTIFY: Notify = Notify::const_new();
static WRITERS: AtomicUsize = AtomicUsize::new(0);
static IDLE: Notify = Notify::const_new();

/// Held while a command writes to a target: after an interrupt, `main.rs` waits (bounded) for
/// every guard to drop, so the writer can cancel what it left open. Commands that only read
/// hold none and exit at once.
#[must_use = "the guard protects the cleanup only while it is alive"]
pub struct WriteGuard(());

/// Announce a writer (see [`WriteGuard`]).
pub fn writing() -> WriteGuard {
    WRITERS.fetch_add(1, Ordering::SeqCst);
    WriteGuard(())
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        if WRITERS.fetch_sub(1, Ordering::SeqCst) == 1 {
            IDLE.notify_waiters();
        }
    }
}

/// Resolve once no [`WriteGuard`] is alive.
pub async fn writers_done() {
    loop {
        let idle = IDLE.notified();
        tokio::pin!(idle);
        idle.as_mut().enable();
        if WRITERS.load(Ordering::SeqCst) == 0 {
            return;
        }
        idle.await;
    }
}

/// Mark the process as interrupted and wake every waiter.
pub fn trigger() {
    FLAG.store(true, Ordering::SeqCst);
    NOTIFY.notify_waiters();
}

/// Whether an interrupt arrived.
pub fn is_set() -> bool {
    FLAG.load(Ordering::SeqCst)
}

/// Resolve once an interrupt arrives (at once if one already did).
pub async fn wait() {
    loop {
        let notified = NOTIFY.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if is_set() {
            return;
        }
        notified.await;
    }
}

/// `Err(Interrupted)` once an interrupt arrived: a check before starting a step.
pub fn check() -> crate::error::Result<()> {
    if is_set() {
        Err(crate::error::Error::Interrupted)
    } else {
        Ok(())
    }
}
