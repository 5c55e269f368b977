//! Sharding: split the expanded (image, tag) work items across N machines.
//!
//! An item belongs to shard `fnv1a64(key) % N`, where the key is `SOURCE:TAG` (or
//! `SOURCE@DIGEST` for digest pins) with `SOURCE` the normalised repository name
//! (`docker.io/library/nginx`) or `oci:DIR`. FNV-1a is fixed by its definition, unlike Rust's
//! randomly seeded `HashMap` hasher, so every machine computes the same partition from the same
//! configuration: N runs with shards 0..N together cover every item exactly once.

use std::fmt;
use std::str::FromStr;

/// One shard out of `count` (0-based `index`, as Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This machine's shard, `0..count`.
    pub index: u64,
    /// How many shards there are.
    pub count: u64,
}

impl Shard {
    /// The shard that holds everything.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Build and check `index < count`, `count ≥ 1`.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range for {count} shard(s): indexes are 0..{}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard owns the item with `key`.
    pub fn owns(&self, key: &str) -> bool {
        fnv1a64(key.as_bytes()) % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = String;
    /// `I/N`, e.g. `0/4`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard {s:?}: write INDEX/COUNT, e.g. 0/4"))?;
        let num = |v: &str, what: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("--shard {s:?}: {what} {v:?} is not a number"))
        };
        Shard::new(num(i, "index")?, num(n, "count")?).map_err(|e| format!("--shard {s:?}: {e}"))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_range() {
        assert_eq!(
            "2/5".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 5 }
        );
        assert!("5/5".parse::<Shard>().unwrap_err().contains("out of range"));
        assert!("1/0".parse::<Shard>().is_err());
        assert!("x/2".parse::<Shard>().is_err());
        assert!("3".parse::<Shard>().is_err());
    }

    #[test]
    fn fnv_is_the_published_function() {
        // Test vectors from the FNV reference (draft-eastlake-fnv).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn partitions_cover_every_key_once() {
        let keys: Vec<String> = (0..500)
            .map(|i| format!("docker.io/library/x{i}:1.{i}"))
            .collect();
        for n in 1..=7 {
            let mut owners = vec![0; keys.len()];
            for i in 0..n {
                let s = Shard::new(i, n).unwrap();
                for (k, key) in keys.iter().enumerate() {
                    if s.owns(key) {
                        owners[k] += 1;
                    }
                }
            }
            assert!(owners.iter().all(|&c| c == 1), "n={n}");
        }
    }
}
