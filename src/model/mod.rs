//! The data the engine reasons about, with no I/O: references, platforms, digests, manifests and
//! media types. Everything above (`engine`, `transport`, `auth`, `app`) builds on these types;
//! nothing here imports from those layers.

pub mod delta;
pub mod digest;
pub mod far_tags;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod prune;
pub mod reference;
pub mod time;
