//! `--limit-rate`: one token bucket for every blob byte a run moves.
//!
//! A [`RateLimit`] is made once per run (the app layer parses the flag, or `limit-rate` in the
//! sync file) and shared by every transfer: single-stream downloads, each range of a ranged
//! download, and uploads from an OCI layout. Each blob byte is charged once, where it enters the
//! copy: a registry source charges it as it is read from the network, a layout source as it is
//! pushed. A registry → registry copy therefore moves every byte down and up at the capped rate
//! (each direction of the WAN link stays under it), and a sync run with many images in flight
//! shares the one budget. Manifests and requests without bodies are not charged (a few KiB per
//! image).
//!
//! The bucket is a virtual clock (GCRA): every charge of `n` bytes moves the clock on by
//! `n / rate` seconds, and a caller waits until the clock is no more than [`BURST`] ahead of
//! now. So the average over any interval longer than the burst is at most the rate, waiting
//! callers are served in the order they charged, and a transfer that pauses (a slow target)
//! cannot save up more than the burst for later.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::error::Result;

/// How far the clock may run ahead of now without waiting: at 20 MB/s, 2 MB.
pub const BURST: Duration = Duration::from_millis(100);

/// A shared byte-rate cap (see the module docs).
#[derive(Debug)]
pub struct RateLimit {
    bytes_per_second: u64,
    /// The virtual clock: when everything charged so far may have passed.
    clock: Mutex<Option<Instant>>,
}

impl RateLimit {
    /// A cap of `bytes_per_second` (at least 1).
    pub fn new(bytes_per_second: u64) -> Self {
        RateLimit {
            bytes_per_second: bytes_per_second.max(1),
            clock: Mutex::new(None),
        }
    }

    /// The cap.
    pub fn bytes_per_second(&self) -> u64 {
        self.bytes_per_second
    }

    /// Charge `n` bytes; returns when they may pass.
    pub async fn take(&self, n: usize) {
        let wait_until = {
            let mut clock = self.clock.lock().expect("not poisoned");
            let now = Instant::now();
            // An idle bucket starts from now: a pause is not saved up beyond the burst.
            let start = clock.map_or(now, |c| c.max(now));
            let cost = Duration::from_secs_f64(n as f64 / self.bytes_per_second as f64);
            let next = start + cost;
            *clock = Some(next);
            next.checked_sub(BURST).filter(|t| *t > now)
        };
        if let Some(t) = wait_until {
            tokio::time::sleep_until(t).await;
        }
    }
}

/// Parse a rate: a number of bytes per second with an optional SI (`k`, `M`, `G`: 1000ⁿ) or
/// binary (`Ki`, `Mi`, `Gi`: 1024ⁿ) suffix, and an optional `B` and `/s` after it: `20M`,
/// `20MB/s`, `512Ki`, `1.5G`, `800000`. At least 1 KB/s (1000 bytes per second).
pub fn parse_rate(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let factor: f64 = match unit {
        "" => 1.0,
        "k" | "K" => 1e3,
        "m" | "M" => 1e6,
        "g" | "G" => 1e9,
        "Ki" | "ki" => 1024.0,
        "Mi" | "mi" => 1024.0 * 1024.0,
        "Gi" | "gi" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (use k, M, G, Ki, Mi or Gi)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a rate (examples: 20M, 512Ki, 1.5G)"))?;
    let bytes = n * factor;
    if !bytes.is_finite() || bytes < 1000.0 {
        return Err(format!(
            "{s:?}: the rate must be at least 1k (1000 bytes per second)"
        ));
    }
    if bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("{s:?}: too large"));
    }
    Ok(bytes as u64)
}

/// `stream`, with every chunk charged to `limit` before it is passed on.
pub fn limited(
    stream: BoxStream<'static, Result<Bytes>>,
    limit: std::sync::Arc<RateLimit>,
) -> BoxStream<'static, Result<Bytes>> {
    stream
        .then(move |item| {
            let limit = limit.clone();
            async move {
                if let Ok(b) = &item {
                    limit.take(b.len()).await;
                }
                item
            }
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_si_and_binary_units() {
        assert_eq!(parse_rate("20M"), Ok(20_000_000));
        assert_eq!(parse_rate("20MB/s"), Ok(20_000_000));
        assert_eq!(parse_rate("20Mi"), Ok(20 * 1024 * 1024));
        assert_eq!(parse_rate("512k"), Ok(512_000));
        assert_eq!(parse_rate("1.5G"), Ok(1_500_000_000));
        assert_eq!(parse_rate("800000"), Ok(800_000));
        for bad in ["", "M", "20X", "-5M", "0", "999", "1e400", "20 M"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    /// 30 charges of 100 kB at 10 MB/s need at least 0.3 s less the burst: the average never
    /// exceeds the cap. (Only the lower bound is asserted: a loaded machine may be slower.)
    #[tokio::test]
    async fn the_average_holds_the_cap() {
        let limit = RateLimit::new(10_000_000);
        let start = Instant::now();
        for _ in 0..30 {
            limit.take(100_000).await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(300) - BURST, "{took:?}");
    }

    /// An idle pause is not saved up: after 300 ms of nothing, 2 MB at 10 MB/s still take at
    /// least 0.2 s less the burst.
    #[tokio::test]
    async fn a_pause_does_not_buy_a_burst() {
        let limit = RateLimit::new(10_000_000);
        limit.take(100_000).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start = Instant::now();
        for _ in 0..20 {
            limit.take(100_000).await;
        }
        assert!(start.elapsed() >= Duration::from_millis(200) - BURST);
    }
}
