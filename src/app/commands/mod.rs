//! One file per command: each turns its arguments into settings, runs the machinery (the
//! engine's use case, `sync/`, `bundle/`), and prints through the [`Printer`]. The commands use
//! the shared modules (`endpoint.rs`, `hooks.rs`, `metrics.rs`, `bundle/`, `sync/`); nothing
//! but `run.rs` uses a command. This file only declares them.
//!
//! [`Printer`]: crate::app::printer::Printer

pub mod bundle;
pub mod client_config;
pub mod copy;
pub mod gc;
pub mod inspect;
pub mod inventory;
pub mod man;
pub mod sync;
pub mod verify;
