//! The mirroring engine: one use case per image (target state, plan, preflight, copy, artifacts).
//!
//! The engine never prints and never reads globals: it takes settings, storages and a
//! [`progress::Reporter`], and returns typed outcomes. Printing is the `app` layer's job.

pub mod artifacts;
pub mod chunks;
pub mod copy;
pub mod foreign;
pub mod image;
pub mod inspect;
pub mod invariant;
pub mod inventory;
pub mod plan;
mod preflight;
pub mod progress;
pub mod prune;
pub mod referrers;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod select;
pub mod signature;
