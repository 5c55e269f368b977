//! `mirror sync` and `mirror verify`: declarative batch mirroring (the machinery; the commands
//! are `app/commands/sync.rs` and `app/commands/verify.rs`).
//!
//! ```text
//! mirror.yaml ─config/─▶ Config (compiled; errors name file:line and key; nothing runs)
//!   expand.rs: list tags where rules need it (tags.rs) → WorkItems → duplicate check → shard.rs
//!   run: --parallel items, each item.rs → refresh.rs → engine::image::mirror_image (target
//!        state → skip | repair | copy), store.rs gates blob transfers run-wide and remembers
//!        blobs for mounts; endpoints.rs opens one client per registry host
//!   report.rs: a JSON line per item + summary, or per-item lines + a table; exit 0 / 6 / 7
//! ```
//!
//! `refresh.rs` and `store.rs` only emit events and return results; what is printed is decided
//! by the commands and `output.rs`. This file only declares the modules.

pub mod config;
pub mod discover;
pub mod endpoints;
pub mod expand;
pub mod item;
pub mod output;
pub mod prune;
pub mod prune_run;
pub mod refresh;
pub mod report;
pub mod shard;
pub mod store;
pub mod tags;
