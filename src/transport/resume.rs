//! Resuming blob downloads with `Range`.
//!
//! [`resuming`] wraps the body of a blob GET. When the body fails mid-way with a transient error
//! (a reset connection, a read timeout) or ends before the descriptor's size (a truncated body),
//! it asks `reopen` for the rest, starting at the number of bytes already delivered. A source that
//! honours `Range` answers from that offset; one that answers from byte 0 instead has the bytes
//! already delivered skipped. Either way the consumer sees one continuous byte sequence, and the
//! digest is still verified over the whole blob by the consumer (`copy.rs` wraps every blob in a
//! `VerifyingStream`), so a resume can never smuggle wrong bytes in. Attempts are bounded by the
//! retry policy, with its backoff between them. When they are spent on bodies that broke off
//! (rather than on a re-open that failed), the error says so ([`Error::BodyCutShort`]): the
//! registry answers but ends its bodies early, which no retry of an outer loop mends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;

use crate::error::{Error, Result};
use crate::transport::retry::RetryPolicy;

/// A body stream.
pub type Body = BoxStream<'static, Result<Bytes>>;

/// Re-open a download at `offset`: returns the offset the new body really starts at (0 when
/// the source ignored `Range`) and the body.
pub type Reopen =
    Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<(u64, Body)>> + Send>> + Send + Sync>;

struct State {
    body: Body,
    size: u64,
    delivered: u64,
    /// Bytes to drop from the front of `body` (the source restarted before `delivered`).
    skip: u64,
    resumes: u32,
    /// Whether `body` is the failure of a re-open rather than a body that was being read.
    reopen_failed: bool,
    policy: RetryPolicy,
    reopen: Reopen,
    what: String,
    done: bool,
}

/// Wrap `first`, a body of `size` bytes, so it resumes after failures (see the module docs).
pub fn resuming(first: Body, size: u64, policy: RetryPolicy, what: String, reopen: Reopen) -> Body {
    let st = State {
        body: first,
        size,
        delivered: 0,
        skip: 0,
        resumes: 0,
        reopen_failed: false,
        policy,
        reopen,
        what,
        done: false,
    };
    stream::unfold(st, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            let problem = match st.body.next().await {
                Some(Ok(mut chunk)) => {
                    if st.skip > 0 {
                        let n = st.skip.min(chunk.len() as u64);
                        st.skip -= n;
                        chunk = chunk.slice(n as usize..);
                        if chunk.is_empty() {
                            continue;
                        }
                    }
                    st.delivered = st.delivered.saturating_add(chunk.len() as u64);
                    return Some((Ok(chunk), st));
                }
                // Complete, or longer than expected: the verifier decides.
                None if st.delivered >= st.size => return None,
                None => Error::Network {
                    method: "GET".into(),
                    url: st.what.clone(),
                    message: format!("the body ended after {} of {} bytes", st.delivered, st.size),
                    transient: true,
                    https_to_http: false,
                },
                Some(Err(e)) => e,
            };
            if !problem.is_transient() {
                st.done = true;
                return Some((Err(problem), st));
            }
            if st.resumes >= st.policy.retries {
                st.done = true;
                if st.reopen_failed {
                    return Some((Err(problem), st));
                }
                let e = Error::BodyCutShort {
                    method: "GET".into(),
                    what: st.what.clone(),
                    reads: st.resumes + 1,
                    received: st.delivered,
                    expected: st.size,
                    source: Box::new(problem),
                };
                return Some((Err(e), st));
            }
            st.resumes += 1;
            let delay = st.policy.delay(st.resumes, &problem);
            tracing::debug!(
                what = %st.what,
                offset = st.delivered,
                attempt = st.resumes,
                error = %problem,
                "resuming blob download"
            );
            tokio::time::sleep(delay).await;
            match (st.reopen)(st.delivered).await {
                Ok((start, body)) if start <= st.delivered => {
                    st.skip = st.delivered - start;
                    st.body = body;
                    st.reopen_failed = false;
                }
                Ok((start, _)) => {
                    st.done = true;
                    let e = Error::Internal(format!(
                        "{}: asked to resume at byte {}, the source answered from byte {start}",
                        st.what, st.delivered
                    ));
                    return Some((Err(e), st));
                }
                // Counted as an attempt; the next round tries again or gives up.
                Err(e) => {
                    st.body = stream::once(async move { Err(e) }).boxed();
                    st.reopen_failed = true;
                }
            }
        }
    })
    .boxed()
}

/// Wrap `body` so that a wait of more than `limit` for its next chunk ends it with a transient
/// error: a stalled connection (the peer stopped sending without closing) becomes a failure
/// that [`resuming`] answers with a new request, on another connection (the stalled one is
/// dropped with the body, so it is not reused). Only the wait for the network counts: a
/// consumer that does not ask for more is not a stall.
pub fn stalling(body: Body, limit: Duration, what: String) -> Body {
    stream::unfold(Some(body), move |state| {
        let what = what.clone();
        async move {
            let mut body = state?;
            match tokio::time::timeout(limit, body.next()).await {
                Ok(Some(item)) => Some((item, Some(body))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(Error::Network {
                        method: "GET".into(),
                        url: what,
                        message: format!(
                            "no byte for {} s: the transfer stalled (restarted on a new connection)",
                            limit.as_secs_f64()
                        ),
                        transient: true,
                        https_to_http: false,
                    }),
                    None,
                )),
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn chunks(parts: Vec<Result<&'static [u8]>>) -> Body {
        stream::iter(parts.into_iter().map(|r| r.map(Bytes::from_static))).boxed()
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

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
            ..RetryPolicy::default()
        }
    }

    async fn collect(b: Body) -> Result<Vec<u8>> {
        let mut out = vec![];
        let mut b = b;
        while let Some(c) = b.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    const DATA: &[u8] = b"0123456789";

    /// A source that honours Range (`ranged`) or restarts from 0; records the offsets asked.
    fn source(ranged: bool, asked: Arc<Mutex<Vec<u64>>>) -> Reopen {
        Arc::new(move |offset| {
            asked.lock().unwrap().push(offset);
            let start = if ranged { offset } else { 0 };
            Box::pin(async move {
                let body: Body =
                    stream::iter(vec![Ok(Bytes::from_static(&DATA[start as usize..]))]).boxed();
                Ok((start, body))
            })
        })
    }

    #[tokio::test]
    async fn resumes_after_a_reset_with_range() {
        let asked = Arc::new(Mutex::new(vec![]));
        let first = chunks(vec![Ok(b"0123"), Err(reset())]);
        let b = resuming(
            first,
            10,
            policy(),
            "blob".into(),
            source(true, asked.clone()),
        );
        assert_eq!(collect(b).await.unwrap(), DATA);
        assert_eq!(*asked.lock().unwrap(), vec![4]);
    }

    #[tokio::test]
    async fn skips_what_was_delivered_when_the_source_ignores_range() {
        let asked = Arc::new(Mutex::new(vec![]));
        let first = chunks(vec![Ok(b"012"), Ok(b"34"), Err(reset())]);
        let b = resuming(
            first,
            10,
            policy(),
            "blob".into(),
            source(false, asked.clone()),
        );
        assert_eq!(collect(b).await.unwrap(), DATA);
    }

    #[tokio::test]
    async fn a_truncated_body_is_resumed() {
        let asked = Arc::new(Mutex::new(vec![]));
        let first = chunks(vec![Ok(b"01234")]);
        let b = resuming(
            first,
            10,
            policy(),
            "blob".into(),
            source(true, asked.clone()),
        );
        assert_eq!(collect(b).await.unwrap(), DATA);
        assert_eq!(*asked.lock().unwrap(), vec![5]);
    }

    #[tokio::test]
    async fn gives_up_after_the_retries_and_passes_permanent_errors_through() {
        // Every read breaks off after 3 bytes: a body cut short, not retried by an outer loop.
        let failing: Reopen =
            Arc::new(|_| Box::pin(async { Ok((0, chunks(vec![Ok(b"012"), Err(reset())]))) }));
        let b = resuming(
            chunks(vec![Ok(b"012"), Err(reset())]),
            10,
            policy(),
            "blob x from r/a".into(),
            failing,
        );
        let e = collect(b).await.unwrap_err();
        assert!(!e.is_transient(), "{e}");
        assert_eq!(
            e.to_string(),
            "GET blob x from r/a: the body broke off before its end on all 4 reads (the first \
             GET and 3 resumes with Range); 3 of 10 bytes arrived"
        );
        assert!(
            matches!(&e, Error::BodyCutShort { source, .. } if matches!(**source, Error::Network { .. }))
        );
        // A re-open that fails every time is that failure (transient: an outer loop may retry
        // the whole step), not a body cut short.
        let unreachable: Reopen = Arc::new(|_| Box::pin(async { Err(reset()) }));
        let b = resuming(
            chunks(vec![Err(reset())]),
            10,
            policy(),
            "blob".into(),
            unreachable,
        );
        assert!(collect(b).await.unwrap_err().is_transient());
        let never: Reopen = Arc::new(|_| panic!("must not reopen after a permanent error"));
        let b = resuming(
            chunks(vec![Err(Error::Internal("bad".into()))]),
            10,
            policy(),
            "blob".into(),
            never,
        );
        assert!(matches!(collect(b).await, Err(Error::Internal(_))));
    }

    /// A body that goes quiet ends with a transient error after the limit, and `resuming`
    /// answers it by asking for the rest.
    #[tokio::test]
    async fn a_stalled_body_is_restarted() {
        let asked = Arc::new(Mutex::new(vec![]));
        let quiet: Body = stream::iter(vec![Ok(Bytes::from_static(b"012"))])
            .chain(stream::pending())
            .boxed();
        let limit = Duration::from_millis(50);
        let stalled = stalling(quiet, limit, "blob".into());
        let b = resuming(
            stalled,
            10,
            policy(),
            "blob".into(),
            source(true, asked.clone()),
        );
        assert_eq!(collect(b).await.unwrap(), DATA);
        assert_eq!(*asked.lock().unwrap(), vec![3]);
        let e = collect(stalling(stream::pending().boxed(), limit, "blob".into()))
            .await
            .unwrap_err();
        assert!(e.is_transient() && e.to_string().contains("stalled"), "{e}");
    }
}
