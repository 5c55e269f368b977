//! One retry policy for idempotent steps: HEAD, GET, manifest PUT, and a whole blob copy restarted
//! from a fresh source stream.
//!
//! Exponential backoff with full jitter, honouring `Retry-After` (capped). Only errors that
//! [`Error::is_transient`] marks are retried; everything else fails fast with the registry's code.
//! With `MIRROR_TEST` set, delays shrink to milliseconds so fault-injection tests stay fast.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// How many times and how long to wait.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff step.
    pub base: Duration,
    /// Largest backoff step and largest honoured `Retry-After`.
    pub cap: Duration,
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

    /// The delay before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32, err: &Error) -> Duration {
        if let Some(after) = err.retry_after() {
            return after.min(self.cap);
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
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if retryable(&e) && attempt < self.retries => {
                    attempt += 1;
                    let d = self.delay(attempt, &e);
                    tracing::debug!(what, attempt, delay_ms = d.as_millis() as u64, error = %e, "retrying");
                    tokio::time::sleep(d).await;
                }
                Err(e) if attempt > 0 && retryable(&e) => {
                    return Err(Error::RetriesExhausted {
                        what: what.to_string(),
                        attempts: attempt + 1,
                        source: Box::new(e),
                    })
                }
                Err(e) => return Err(e),
            }
        }
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

/// Parse `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate_parse(v)?;
    let now = std::time::SystemTime::now();
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate only (`Sun, 06 Nov 1994 08:49:37 GMT`), which is what servers send.
fn httpdate_parse(v: &str) -> Option<std::time::SystemTime> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
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
    let hms: Vec<u64> = parts[4].split(':').filter_map(|x| x.parse().ok()).collect();
    if hms.len() != 3 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let t = httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            784111777
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn retries_only_transient() {
        let p = RetryPolicy {
            retries: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
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
