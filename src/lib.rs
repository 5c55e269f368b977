//! sparse-mirror: copy container images between OCI registries and image layouts, keeping only
//! the platforms a site needs, byte-for-byte, with the original index digest.
//!
//! Data flow (one module per stage; see docs/architecture.md):
//!
//! ```text
//! argv ─cli─▶ CopyArgs ─settings─▶ CopySettings{source, target, selector, on_reject, jobs}
//! run:     open endpoints (transport::registry | transport::layout), auth preflight
//! ① resolve  root manifest bytes; child manifests the planner asks for (resolve.rs)
//! ② plan     PURE: select each entry with a reason, dedupe blobs, order manifests (plan.rs, select.rs, platform.rs)
//! ③ copy     no-op check → preflight (sparse?) → blobs ∥ → child manifests → index → tag (copy.rs)
//!            events ─▶ progress::Reporter
//! ④ report   report.rs: JSON or human; exit code from exit.rs
//! ```
#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod engine;
pub mod error;
pub mod exit;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod interrupt;
pub mod model;
pub mod transport;
