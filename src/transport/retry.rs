//! One retry policy for idempotent steps: HEAD, GET, manifest PUT, and a whole blob copy restarted
//! from a fresh source stream.
//!
//! Exponential backoff with full jitter, honouring `Retry-After` up to 30 s
//! (docs/registries.md §Rate limits). A registry that asks for more (a day, a date years
//! ahead) is not retried at all: the step ends at once with what it asked for and when to try
//! again ([`Error::RetryAfterTooLong`]), instead of retrying at the cap and failing minutes
//! later anyway. Only errors that [`Error::is_transient`] marks are retried; everything else
//! fails fast with the registry's code. With `MIRROR_TEST` set, delays shrink to milliseconds
//! so fault-injection tests stay fast (the 30 s limit on `Retry-After` does not shrink: what is
//! honoured stays the same).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result, RetryAfter};

/// The longest `Retry-After` a retry waits for.
pub const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How many times and how long to wait.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff step.
    pub base: Duration,
    /// Largest backoff step, and largest wait for an honoured `Retry-After`.
    pub cap: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the step at once.
    pub longest_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let fast = std::env::var_os("MIRROR_TEST").is_some();
        RetryPolicy {
            retries: 5,
            base: if fast {
                Duration::from_millis(1)
            } else {
                Duration::from_millis(200)
            },
            cap: if fast {
                Duration::from_millis(20)
            } else {
                Duration::from_secs(30)
            },
            longest_retry_after: LONGEST_RETRY_AFTER,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            retries: 0,
            ..Self::default()
        }
    }

    /// The delay before retry number `attempt` (1-based): the `Retry-After` the registry sent
    /// (at most the cap), or the backoff.
    pub fn delay(&self, attempt: u32, err: &Error) -> Duration {
        if let Some(after) = err.retry_after() {
            return after.wait().min(self.cap);
        }
        let exp = self.base.saturating_mul(1u32 << attempt.min(16));
        let ceiling = exp.min(self.cap);
        // Full jitter: uniform in [0, ceiling].
        ceiling.mul_f64(jitter())
    }

    /// Run `op` until it succeeds, fails permanently, or the retries are spent.
    pub async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run_when(what, Error::is_transient, op).await
    }

    /// Like [`run`](Self::run), retrying the errors `retryable` accepts. Used where bytes came
    /// over the network, so a digest or size mismatch may be damage in transit
    /// ([`Error::is_transient_or_damaged`]).
    pub async fn run_when<T, F, Fut>(
        &self,
        what: &str,
        retryable: fn(&Error) -> bool,
        mut op: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            let e = match op().await {
                Ok(v) => return Ok(v),
                Err(e) if retryable(&e) => e,
                Err(e) => return Err(e),
            };
            if let Some(asked) = self.too_long(&e) {
                tracing::debug!(what, %asked, "not retried: Retry-After beyond the limit");
                return Err(Error::RetryAfterTooLong {
                    what: what.to_string(),
                    asked,
                    limit: self.longest_retry_after,
                    source: Box::new(e),
                });
            }
            if attempt == self.retries {
                return Err(if attempt == 0 {
                    e
                } else {
                    Error::RetriesExhausted {
                        what: what.to_string(),
                        attempts: attempt + 1,
                        source: Box::new(e),
                    }
                });
            }
            attempt += 1;
            let d = self.delay(attempt, &e);
            tracing::debug!(what, attempt, delay_ms = d.as_millis() as u64, error = %e, "retrying");
            tokio::time::sleep(d).await;
        }
    }

    /// The `Retry-After` of `e` when it asks for more than this policy waits.
    fn too_long(&self, e: &Error) -> Option<RetryAfter> {
        e.retry_after()
            .filter(|a| a.wait() > self.longest_retry_after)
    }
}

fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Parse `Retry-After`: delay-seconds or an HTTP date. Any value parses without overflow: a
/// number too large for `u64` is `u64::MAX` seconds (beyond the limit, so not retried); a date
/// in the past is a wait of zero; a date whose seconds overflow, and anything else, is `None`.
pub fn parse_retry_after(v: &str) -> Option<RetryAfter> {
    retry_after_at(v, SystemTime::now())
}

/// [`parse_retry_after`] as seen at `now`.
fn retry_after_at(v: &str, now: SystemTime) -> Option<RetryAfter> {
    let v = v.trim();
    if !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_digit()) {
        // delay-seconds: all digits; more than u64 holds is as good as forever.
        return Some(RetryAfter::Seconds(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = httpdate_secs(v)?;
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Some(RetryAfter::Date {
        at,
        wait: Duration::from_secs(at.saturating_sub(now)),
    })
}

/// IMF-fixdate only (`Sun, 06 Nov 1994 08:49:37 GMT`), which is what servers send, as seconds
/// since the Unix epoch; `None` when malformed or before 1970. Fields are range-checked and the
/// arithmetic is checked, so a year like 400000000000 cannot overflow.
fn httpdate_secs(v: &str) -> Option<u64> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" || parts[1].len() > 2 || parts[3].len() > 12 {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: u64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|x| (x.len() <= 2).then(|| x.parse().ok()).flatten())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    if hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), checked: the year is unbounded.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era
        .checked_mul(146097)?
        .checked_add(doe)?
        .checked_sub(719468)?;
    days.checked_mul(86400)?
        .checked_add(hms[0] * 3600 + hms[1] * 60 + hms[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(RetryAfter::Seconds(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(RetryAfter::Date {
                at: 784111777,
                wait: Duration::ZERO
            })
        );
        assert_eq!(
            httpdate_secs("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        let now = UNIX_EPOCH + Duration::from_secs(784111777 - 90);
        assert_eq!(
            retry_after_at("Sun, 06 Nov 1994 08:49:37 GMT", now).map(|a| a.wait()),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    /// Issue 14: these panicked (overflow in the date arithmetic) or waited the cap silently.
    #[test]
    fn hostile_retry_after_values_never_overflow() {
        let forever = Some(RetryAfter::Seconds(u64::MAX));
        assert_eq!(parse_retry_after("18446744073709551615"), forever);
        assert_eq!(parse_retry_after("99999999999999999999999999"), forever);
        // Far-future dates are long waits (not retried by the policy), never a panic.
        let century = Duration::from_secs(100 * 365 * 86400);
        for v in [
            "Sun, 06 Nov 400000000000 08:49:37 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let d = parse_retry_after(v).unwrap().wait();
            assert!(d > century, "{v}: {d:?}");
        }
        // A year whose seconds do not fit in u64 is not a date.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 999999999999 08:49:37 GMT"),
            None
        );
        for v in [
            "Sun, 06 Nov 99999999999 08:49:37 GMT",
            "Sun, 99 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 99:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:999999999999999999999 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "-1",
            "1.5",
            "",
        ] {
            let _ = parse_retry_after(v);
        }
        let p = RetryPolicy {
            retries: 1,
            base: Duration::from_millis(1),
            cap: Duration::from_secs(30),
            longest_retry_after: LONGEST_RETRY_AFTER,
        };
        assert_eq!(p.delay(1, &unavailable(forever)), Duration::from_secs(30));
    }

    fn unavailable(retry_after: Option<RetryAfter>) -> Error {
        Error::from(crate::error::RegistryError {
            method: "GET".into(),
            url: "http://registry.test/v2/a/manifests/v1".into(),
            status: 503,
            errors: vec![],
            body: None,
            retry_after,
        })
    }

    /// Issue 21: a `Retry-After` beyond the limit ends the step at the first answer, saying
    /// what the registry asked for and when to try again; one within it is waited for (at
    /// most the cap, which test mode shrinks) and retried.
    #[tokio::test]
    async fn a_retry_after_beyond_the_limit_is_not_retried() {
        let p = RetryPolicy {
            retries: 5,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            longest_retry_after: Duration::from_secs(30),
        };
        for asked in [
            RetryAfter::Seconds(31),
            RetryAfter::Seconds(u64::MAX),
            RetryAfter::Date {
                at: 253_402_300_799,
                wait: Duration::from_secs(3600),
            },
        ] {
            let mut n = 0;
            let e = p
                .run("GET manifest", || {
                    n += 1;
                    async move { Err::<(), _>(unavailable(Some(asked))) }
                })
                .await
                .unwrap_err();
            assert_eq!(n, 1, "{asked:?} was retried");
            assert!(matches!(e, Error::RetryAfterTooLong { .. }), "{e:?}");
            assert!(!e.is_transient(), "an outer loop must not retry it");
            assert_eq!(e.retry_after(), Some(asked));
            assert!(
                e.to_string().starts_with(&format!(
                    "GET manifest: the registry asked to wait {asked}, longer than the 30 s"
                )),
                "{e}"
            );
            assert_eq!(
                e.hints()[0],
                format!("try again {}, as the registry asked", asked.when())
            );
        }
        for asked in [RetryAfter::Seconds(30), RetryAfter::Seconds(0)] {
            let mut n = 0;
            let e = p
                .run("GET manifest", || {
                    n += 1;
                    async move { Err::<(), _>(unavailable(Some(asked))) }
                })
                .await
                .unwrap_err();
            assert_eq!(n, 6, "{asked:?}");
            assert!(e.to_string().contains("gave up after 6 attempts"), "{e}");
        }
    }

    #[tokio::test]
    async fn retries_only_transient() {
        let p = RetryPolicy {
            retries: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            longest_retry_after: LONGEST_RETRY_AFTER,
        };
        let mut n = 0;
        let r: Result<()> = p
            .run("x", || {
                n += 1;
                async {
                    Err(Error::Network {
                        method: "GET".into(),
                        url: "u".into(),
                        message: "reset".into(),
                        transient: true,
                        https_to_http: false,
                    })
                }
            })
            .await;
        let e = r.unwrap_err();
        assert_eq!(n, 4);
        assert!(e.to_string().contains("gave up after 4 attempts"), "{e}");
        assert!(!e.is_transient(), "an outer loop must not retry it again");
        assert!(matches!(e.root(), Error::Network { .. }));
        let mut n = 0;
        let _ = p
            .run("x", || {
                n += 1;
                async { Err::<(), _>(Error::Internal("no".into())) }
            })
            .await;
        assert_eq!(n, 1);
    }
}
