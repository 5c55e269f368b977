//! Manifests as bytes, plus lenient read-only views.
//!
//! A [`RawManifest`] is the exact byte sequence fetched from a source together with its digest and
//! media type. It is what gets pushed; nothing in `mirror` ever serialises a manifest it did not
//! build itself (only the `--on-reject filter` index is new). The views ([`ManifestView`],
//! [`Descriptor`]) parse just the fields `mirror` reads and ignore everything else.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Deserialize;

use crate::model::digest::Digest;
use crate::model::media::{self, Kind};
use crate::model::platform::Platform;

/// The largest manifest `mirror` accepts, as distribution does (docs/registries.md §Push validation).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// A manifest exactly as fetched: never re-serialised.
#[derive(Debug, Clone)]
pub struct RawManifest {
    /// The exact bytes.
    pub bytes: Bytes,
    /// The media type (from the parent descriptor, the `mediaType` field, or `Content-Type`).
    pub media_type: String,
    /// The digest of `bytes`.
    pub digest: Digest,
}

/// Why manifest bytes cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// Not JSON, or not an object with the expected fields.
    #[error("not a valid manifest: {0}")]
    Invalid(String),
    /// Larger than [`MAX_MANIFEST_BYTES`].
    #[error(
        "manifest is {0} bytes or more, over the 4 MiB (4194304 bytes) limit registries enforce"
    )]
    TooLarge(usize),
    /// A schema1 manifest.
    #[error("Docker schema1 manifests are not supported")]
    Schema1,
    /// The `mediaType` field disagrees with the descriptor that pointed at it.
    #[error("mediaType {found:?} in the manifest does not match {expected:?} in its descriptor")]
    MediaTypeMismatch {
        /// From the descriptor.
        expected: String,
        /// From the body.
        found: String,
    },
    /// Neither the descriptor, the body nor the structure tells the type.
    #[error("cannot tell the media type of this manifest")]
    UnknownType,
}

/// An index entry, config or layer descriptor. Unknown fields are ignored.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced object.
    #[serde(default)]
    pub media_type: String,
    /// Digest of the referenced object.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Platform, on index entries.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// Artifact type, on index entries of artifacts.
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// External URLs (foreign layers).
    #[serde(default)]
    pub urls: Vec<String>,
}

/// BuildKit annotation naming the manifest an attestation describes.
pub const ATTESTATION_REF_DIGEST: &str = "vnd.docker.reference.digest";
/// BuildKit annotation marking an attestation manifest.
pub const ATTESTATION_REF_TYPE: &str = "vnd.docker.reference.type";

impl Descriptor {
    /// A BuildKit attestation manifest entry (docs/registries.md §Attestations): returns the digest it describes.
    pub fn attestation_subject(&self) -> Option<Digest> {
        if self
            .annotations
            .get(ATTESTATION_REF_TYPE)
            .map(String::as_str)
            != Some("attestation-manifest")
        {
            return None;
        }
        self.annotations.get(ATTESTATION_REF_DIGEST)?.parse().ok()
    }
    /// Whether this descriptor has external URLs or a non-distributable type.
    pub fn is_foreign(&self) -> bool {
        !self.urls.is_empty() || media::is_foreign_layer(&self.media_type)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: Option<serde_json::Value>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    fs_layers: Option<serde_json::Value>,
}

/// The parsed, read-only view of a manifest.
// Views are short-lived and never stored in bulk, so variant size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ManifestView {
    /// An OCI index or Docker list.
    Index {
        /// Entries in document order.
        manifests: Vec<Descriptor>,
        /// `subject`, if any.
        subject: Option<Descriptor>,
    },
    /// An OCI or Docker image manifest (or an artifact manifest with `config` + `layers`).
    Image {
        /// The config descriptor.
        config: Descriptor,
        /// Layers in order.
        layers: Vec<Descriptor>,
        /// `subject`, if any.
        subject: Option<Descriptor>,
        /// `artifactType`, if any.
        artifact_type: Option<String>,
    },
}

impl RawManifest {
    /// Build from fetched bytes. `hint` is the media type known from the parent descriptor or the
    /// response `Content-Type`; the body's own `mediaType` and its structure are checked against it.
    /// The caller has already checked the digest of `bytes`.
    pub fn from_bytes(
        bytes: Bytes,
        digest: Digest,
        hint: Option<&str>,
    ) -> Result<Self, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge(bytes.len()));
        }
        let probe: Probe =
            serde_json::from_slice(&bytes).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        if probe.fs_layers.is_some()
            || matches!(&probe.schema_version, Some(v) if v.as_u64() == Some(1))
        {
            return Err(ManifestError::Schema1);
        }
        let hint = hint
            .map(media::essence)
            .filter(|h| !h.is_empty() && media::kind(h) != Kind::Other);
        let media_type = match (hint, probe.media_type.as_deref()) {
            (Some(h), Some(b)) if h != b => {
                return Err(ManifestError::MediaTypeMismatch {
                    expected: h.to_string(),
                    found: b.to_string(),
                })
            }
            (Some(h), _) => h.to_string(),
            (None, Some(b)) => b.to_string(),
            (None, None) if probe.manifests.is_some() => media::OCI_INDEX.to_string(),
            (None, None) if probe.config.is_some() => media::OCI_MANIFEST.to_string(),
            (None, None) => return Err(ManifestError::UnknownType),
        };
        let m = RawManifest {
            bytes,
            media_type,
            digest,
        };
        m.view()?;
        Ok(m)
    }

    /// Parse the view. Fails for schema1 and for bodies that do not fit their media type.
    pub fn view(&self) -> Result<ManifestView, ManifestError> {
        let probe: Probe = serde_json::from_slice(&self.bytes)
            .map_err(|e| ManifestError::Invalid(e.to_string()))?;
        match media::kind(&self.media_type) {
            Kind::Schema1 => Err(ManifestError::Schema1),
            Kind::Index => match (probe.manifests, probe.config) {
                (Some(manifests), None) => Ok(ManifestView::Index {
                    manifests,
                    subject: probe.subject,
                }),
                _ => Err(ManifestError::Invalid(
                    "an index must have `manifests` and no `config`".into(),
                )),
            },
            Kind::Image | Kind::Other => match (probe.config, probe.manifests) {
                (Some(config), None) => Ok(ManifestView::Image {
                    config,
                    layers: probe.layers.unwrap_or_default(),
                    subject: probe.subject,
                    artifact_type: probe.artifact_type,
                }),
                (None, Some(manifests)) if media::kind(&self.media_type) == Kind::Other => {
                    Ok(ManifestView::Index {
                        manifests,
                        subject: probe.subject,
                    })
                }
                _ => Err(ManifestError::Invalid(format!(
                    "a {} must have `config`",
                    self.media_type
                ))),
            },
        }
    }

    /// Whether this is an index or list.
    pub fn is_index(&self) -> bool {
        media::kind(&self.media_type) == Kind::Index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str, hint: Option<&str>) -> Result<RawManifest, ManifestError> {
        let b = Bytes::from(s.to_string());
        let d = Digest::sha256_of(&b);
        RawManifest::from_bytes(b, d, hint)
    }

    const INDEX: &str = r#"{"manifests":[{"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"os":"linux","architecture":"amd64"},"extra":{"x":1}}],"schemaVersion":2}"#;

    #[test]
    fn index_without_media_type_is_oci() {
        let m = raw(INDEX, None).unwrap();
        assert_eq!(m.media_type, media::OCI_INDEX);
        let ManifestView::Index { manifests, .. } = m.view().unwrap() else {
            panic!()
        };
        assert_eq!(
            manifests[0].platform.as_ref().unwrap().architecture,
            "amd64"
        );
    }

    #[test]
    fn rejects_bad_bodies() {
        assert!(matches!(raw("nope", None), Err(ManifestError::Invalid(_))));
        assert_eq!(
            raw(r#"{"schemaVersion":1,"fsLayers":[]}"#, None).unwrap_err(),
            ManifestError::Schema1
        );
        assert!(matches!(
            raw(
                r#"{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
                Some(media::DOCKER_LIST)
            ),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        assert!(matches!(
            raw(INDEX, Some(media::OCI_MANIFEST)),
            Err(ManifestError::Invalid(_))
        ));
        assert_eq!(raw("{}", None).unwrap_err(), ManifestError::UnknownType);
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_MANIFEST_BYTES));
        assert!(matches!(raw(&big, None), Err(ManifestError::TooLarge(_))));
    }

    #[test]
    fn attestation_subject() {
        let d: Descriptor = serde_json::from_str(r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":1,"annotations":{"vnd.docker.reference.digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","vnd.docker.reference.type":"attestation-manifest"},"platform":{"os":"unknown","architecture":"unknown"}}"#).unwrap();
        assert!(d.attestation_subject().is_some());
    }
}
