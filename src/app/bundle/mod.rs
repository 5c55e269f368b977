//! Air-gap delta bundles (docs/air-gap.md).
//!
//! - near side: `copy`/`sync` with `--bundle DIR` write into `DIR/layout` through the one use
//!   case, leaving out the blobs an inventory or the ledger says the far side holds
//!   (`near.rs`), then seal it (`seal.rs`: `bundle.json`, volumes, ledger; `finish.rs` seals and
//!   prints the `summary.rs` line);
//! - far side: `mirror bundle check|apply DIR` (`apply.rs`, and `prune_apply.rs` for
//!   `--prune`; the commands are in `app/commands/bundle.rs`).
//!
//! This file only declares the modules: each file imports what it needs from the file that
//! defines it.

pub mod apply;
pub mod finish;
pub mod near;
pub mod prune_apply;
pub mod seal;
pub mod stamp;
pub mod summary;
