//! Media-type constants and classification.
//!
//! `mirror` never converts between formats: a Docker manifest list stays a Docker manifest list.
//! These helpers only answer "is this an index, an image manifest, or something else?".

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker schema2 manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema1 manifest (unsupported).
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker schema1 signed manifest (unsupported).
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The artifact type of buildx attestation manifests stored as referrers (`oci-artifact=true`).
pub const DOCKER_ATTESTATION: &str = "application/vnd.docker.attestation.manifest.v1+json";

/// The `Accept` header sent on every manifest GET and HEAD: without the list types, registries
/// answer with a single platform's manifest; without the schema2 type, distribution rewrites to
/// schema1 (docs/registries.md §Media types).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// What kind of object a media type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An OCI index or Docker list: has `manifests`.
    Index,
    /// An OCI or Docker image manifest: has `config` and `layers`.
    Image,
    /// Docker schema1: refused.
    Schema1,
    /// Anything else (a blob type, or an unknown manifest type).
    Other,
}

/// Classify a media type, ignoring parameters such as `; charset=utf-8`.
pub fn kind(media_type: &str) -> Kind {
    match essence(media_type) {
        OCI_INDEX | DOCKER_LIST => Kind::Index,
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::Image,
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => Kind::Schema1,
        _ => Kind::Other,
    }
}

/// The media type without parameters, trimmed.
pub fn essence(media_type: &str) -> &str {
    media_type.split(';').next().unwrap_or("").trim()
}

/// Whether a descriptor is a non-distributable ("foreign") layer type.
pub fn is_foreign_layer(media_type: &str) -> bool {
    let m = essence(media_type);
    m.contains(".foreign.") || m.contains("nondistributable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(kind(OCI_INDEX), Kind::Index);
        assert_eq!(
            kind("application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"),
            Kind::Index
        );
        assert_eq!(kind(DOCKER_MANIFEST), Kind::Image);
        assert_eq!(kind(DOCKER_SCHEMA1_SIGNED), Kind::Schema1);
        assert_eq!(
            kind("application/vnd.oci.image.layer.v1.tar+gzip"),
            Kind::Other
        );
        assert!(is_foreign_layer(
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
        ));
        assert!(is_foreign_layer(
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        ));
        assert!(!is_foreign_layer(
            "application/vnd.oci.image.layer.v1.tar+gzip"
        ));
    }
}
