//! sparse-mirror: copy container images between OCI registries and image layouts, keeping only
//! the platforms a site needs, byte-for-byte, with the original index digest.
//!
//! Data flow (one module per stage; see docs/architecture.md):
//!
//! ```text
//! argv ─app::cli─▶ args ─app::settings─▶ settings ─app (copy | sync item | verify)─▶ ImageJob
//! engine::image::mirror_image, one use case per image, for every command:
//! ① state    what the target holds: engine::image::state (one TargetState for every command)
//! ② plan     resolve.rs + PURE plan.rs (select.rs, rules.rs), reading cache → target → source
//! ③ copy     preflight (sparse?) → blobs ∥ → child manifests → index → tag (copy.rs)
//! ④ extras   referrers and digest tags (artifacts.rs); finish or abort
//!            events ─▶ progress::Reporter; Mode::Verify and Mode::DryRun never write
//! ⑤ report   engine::report / app::sync::report, printed by app::printer; exit code from the error kind
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
