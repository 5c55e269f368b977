//! Where images live: registries (`registry/`) and OCI layouts (`layout.rs`, `archive.rs`,
//! `volumes.rs`) behind one small contract, the [`Storage`] trait (`storage.rs`), and the
//! [`Endpoint`] enum the CLI opens from an [`ImageRef`](crate::model::reference::ImageRef)
//! (`endpoint.rs`).

pub mod archive;
pub mod endpoint;
pub mod layout;
pub mod ranges;
pub mod rate;
pub mod registry;
pub mod resume;
pub mod retry;
pub mod storage;
pub mod volumes;

pub use endpoint::Endpoint;
pub use storage::{BlobBody, Pushed, ReferrerList, Storage};
