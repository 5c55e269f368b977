//! `Retry-After` as a registry sent it: how long it asked the client to wait, and until when.

use std::fmt;
use std::time::Duration;

use crate::model::time::civil;

/// A `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3;
/// docs/registries.md §Rate limits). Parsed by `transport::retry::parse_retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 120`; a number past `u64` is `u64::MAX`.
    Seconds(u64),
    /// `Retry-After: Fri, 31 Dec 9999 23:59:59 GMT`.
    Date {
        /// The date, in seconds since the Unix epoch.
        at: u64,
        /// The wait it meant when the answer arrived (zero for a date in the past).
        wait: Duration,
    },
}

impl RetryAfter {
    /// How long the registry asked to wait.
    pub fn wait(&self) -> Duration {
        match self {
            RetryAfter::Seconds(s) => Duration::from_secs(*s),
            RetryAfter::Date { wait, .. } => *wait,
        }
    }

    /// When to try again, for a person: `in 86400 s (about 1 day)` for seconds, `after
    /// 2031-01-01 00:00:00 UTC` for a date.
    pub fn when(&self) -> String {
        match self {
            RetryAfter::Seconds(s) => format!("in {s} s{}", about(*s)),
            RetryAfter::Date { at, .. } => format!("after {}", utc(*at)),
        }
    }
}

/// What the registry asked for: `86400 s (Retry-After: 86400)`, or `until 2031-01-01 00:00:00
/// UTC (Retry-After: Wed, 01 Jan 2031 00:00:00 GMT)`. The date is shown as parsed, never as the
/// header's raw bytes.
impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryAfter::Seconds(s) => write!(f, "{s} s (Retry-After: {s})"),
            RetryAfter::Date { at, .. } => {
                write!(f, "until {} (Retry-After: {})", utc(*at), http_date(*at))
            }
        }
    }
}

/// ` (about 24 h)`, or nothing for a wait under two minutes.
fn about(s: u64) -> String {
    const DAY: u64 = 86_400;
    match s {
        s if s >= 100 * 365 * DAY => " (more than a century)".into(),
        s if s >= 2 * DAY => format!(" (about {} days)", (s + DAY / 2) / DAY),
        s if s >= 7_200 => format!(" (about {} h)", (s + 1_800) / 3_600),
        s if s >= 120 => format!(" (about {} min)", (s + 30) / 60),
        _ => String::new(),
    }
}

/// `2031-01-01 00:00:00 UTC`.
fn utc(secs: u64) -> String {
    let c = civil(secs);
    let (y, m, d, t) = (c.year, c.month, c.day, c.seconds);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// The IMF-fixdate form: `Wed, 01 Jan 2031 00:00:00 GMT`.
fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(secs);
    let (y, m, d, wd, t) = (c.year, c.month, c.day, c.weekday, c.seconds);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[wd],
        MONTHS[m as usize - 1],
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_as_sent() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(utc(784_111_777), "1994-11-06 08:49:37 UTC");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(253_402_300_799), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        // Never a panic, even at the far end.
        let _ = (http_date(u64::MAX), utc(u64::MAX));
    }

    #[test]
    fn what_was_asked_and_when_to_try_again() {
        let s = RetryAfter::Seconds(86_400);
        assert_eq!(s.to_string(), "86400 s (Retry-After: 86400)");
        assert_eq!(s.when(), "in 86400 s (about 24 h)");
        assert_eq!(s.wait(), Duration::from_secs(86_400));
        assert_eq!(RetryAfter::Seconds(45).when(), "in 45 s");
        assert_eq!(
            RetryAfter::Seconds(u64::MAX).when(),
            "in 18446744073709551615 s (more than a century)"
        );
        let d = RetryAfter::Date {
            at: 253_402_300_799,
            wait: Duration::from_secs(9),
        };
        assert_eq!(
            d.to_string(),
            "until 9999-12-31 23:59:59 UTC (Retry-After: Fri, 31 Dec 9999 23:59:59 GMT)"
        );
        assert_eq!(d.when(), "after 9999-12-31 23:59:59 UTC");
        assert_eq!(d.wait(), Duration::from_secs(9));
    }
}
