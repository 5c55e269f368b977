//! `mirror client-config` and `mirror sync --client-config DIR`: the configuration that points
//! container clients at the mirror, generated from the mapping the sync file makes and from
//! what each target holds (docs/sync.md, "Pointing clients at the mirror").
//!
//! ```text
//! Config (+ discovered repositories) ─mapping.rs─▶ [Mapping] ─┐
//! item reports (TargetState per tag, as `mirror verify` reads it) ┴─ build ─▶ Model
//! Model ─containerd.rs──────▶ certs.d/<registry>/hosts.toml
//!       ─registries_conf.rs─▶ registries.conf.d/50-sparse-mirror.conf
//!       ─openshift.rs───────▶ imagedigestmirrorset.yaml, imagetagmirrorset.yaml
//! ```
//!
//! Everything here is pure: the renderers take the [`Model`](model::Model) and return file contents and
//! warnings; the command reads the targets and writes the files.
//!
//! The truth about digests: a client redirects a pull by digest to a mirror only under the
//! same digest. A sparse or full mirror keeps the source index digest (`TargetState::Current`),
//! so digest pulls are served; a filtered index (`on-reject: filter`) has a digest of its own,
//! so a pull by the source digest is not found on the mirror and goes to the upstream. Each
//! mirror entry carries what its tags hold ([`Holdings`](model::Holdings)); the renderers turn filtered tags
//! into comments and [`Model::warnings`](model::Model::warnings) into warnings with the fix.

pub mod containerd;
pub mod mapping;
pub mod model;
pub mod openshift;
pub mod output;
pub mod registries_conf;
pub mod render;
pub mod text;

#[cfg(test)]
mod tests;
