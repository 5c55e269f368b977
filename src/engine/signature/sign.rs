//! Signing one digest with the site key (`--sign-key`) and building the objects that carry the
//! signature, in the two formats cosign reads (docs/signatures.md §The gateway):
//!
//! - **tag**: cosign's `sha256-<hex>.sig` image manifest, one simple-signing layer per
//!   signature with the base64 signature as the layer annotation, and an image config whose
//!   `rootfs.diff_ids` list the layers (as cosign writes it). Appending keeps every layer of
//!   the existing manifest as it was, annotations included.
//! - **bundle**: a Sigstore bundle v0.3 (DSSE envelope over an in-toto statement, the key named
//!   by its hint) in an OCI artifact manifest whose `subject` is the signed manifest: a referrer,
//!   shaped as cosign 3 pushes it.
//!
//! Pure: the caller reads the existing `.sig` manifest and pushes what is built here.

use base64::Engine as _;
use bytes::Bytes;

use super::bundle::{pae, BUNDLE_PREFIX, COSIGN_SIGN_PREDICATE};
use super::cosign::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING};
use super::format::Format;
use super::payload::{self, Provenance};
use super::private_key::SigningKey;
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::model::media;

/// The Sigstore bundle media type written (the version cosign 3 writes and reads).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The OCI empty descriptor's media type, and its content.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The two bytes of the empty config.
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// The config media type of a `.sig` manifest.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// DSSE payload type of an in-toto statement.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

/// Which signature objects `--sign-format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignFormat {
    /// The `sha256-<hex>.sig` tag: read by cosign 2 and 3, Kyverno, policy-controller and
    /// Connaisseur, and writable on every registry.
    #[default]
    Tag,
    /// A Sigstore bundle referrer (cosign 3's own format).
    Bundle,
    /// Both.
    Both,
}

impl SignFormat {
    /// Writes the `.sig` tag.
    pub fn tag(self) -> bool {
        matches!(self, SignFormat::Tag | SignFormat::Both)
    }

    /// Writes the bundle referrer.
    pub fn bundle(self) -> bool {
        matches!(self, SignFormat::Bundle | SignFormat::Both)
    }
}

/// A blob to push before the manifest that lists it.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Its descriptor.
    pub descriptor: Descriptor,
    /// Its bytes.
    pub bytes: Bytes,
}

impl Blob {
    fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        let bytes = Bytes::from(bytes);
        Blob {
            descriptor: descriptor(media_type, Digest::sha256_of(&bytes), bytes.len() as u64),
            bytes,
        }
    }
}

fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest,
        size,
        platform: None,
        artifact_type: None,
        annotations: Default::default(),
        urls: Default::default(),
    }
}

/// One signature object, ready to push: blobs first, then the manifest (under `tag`, or by
/// digest as a referrer of `subject`).
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The format of the signature it carries.
    pub format: Format,
    /// The signed manifest.
    pub subject: Digest,
    /// Payload, config, bundle: what the manifest lists.
    pub blobs: Vec<Blob>,
    /// The signature manifest.
    pub manifest: RawManifest,
    /// The `.sig` tag (tag format); `None` for a referrer.
    pub tag: Option<String>,
}

/// What is signed: the manifest and where it lives on the target.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The signed manifest's descriptor (media type, digest, size).
    pub descriptor: &'a Descriptor,
    /// The target repository without tag or digest (`registry.airgap/org/app`): the payload's
    /// `docker-reference`.
    pub repository: &'a str,
    /// The claims.
    pub provenance: &'a Provenance,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn manifest(v: &serde_json::Value) -> RawManifest {
    let bytes = Bytes::from(serde_json::to_vec(v).expect("a JSON value serialises"));
    RawManifest {
        digest: Digest::sha256_of(&bytes),
        bytes,
        media_type: media::OCI_MANIFEST.to_string(),
    }
}

/// cosign's digest tag of `subject`: `sha256-<hex>.sig` (the same tag the copy of digest tags
/// and the rerun check look for).
pub fn sig_tag(subject: &Digest) -> String {
    format!("{}.sig", crate::engine::referrers::fallback_tag(subject))
}

/// The layers of an existing `.sig` manifest, exactly as they are (annotations included).
fn existing_layers(existing: Option<&RawManifest>) -> Result<Vec<serde_json::Value>> {
    let Some(m) = existing else {
        return Ok(vec![]);
    };
    let bad = |why: String| {
        Error::Internal(format!(
            "the existing signature manifest {} cannot be appended to: {why}",
            m.digest
        ))
    };
    let v: serde_json::Value =
        serde_json::from_slice(&m.bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if v.get("manifests").is_some() {
        return Err(bad("it is an index, not an image manifest".into()));
    }
    match v.get("layers") {
        None | Some(serde_json::Value::Null) => Ok(vec![]),
        Some(serde_json::Value::Array(a)) => {
            for l in a {
                serde_json::from_value::<Descriptor>(l.clone())
                    .map_err(|e| bad(format!("a layer descriptor does not parse: {e}")))?;
            }
            Ok(a.clone())
        }
        Some(_) => Err(bad("`layers` is not a list".into())),
    }
}

/// The `.sig` image config: cosign's shape, one history entry and one diff ID per layer.
fn sig_config(layers: &[serde_json::Value]) -> Vec<u8> {
    let diff_ids: Vec<&serde_json::Value> = layers.iter().filter_map(|l| l.get("digest")).collect();
    let history: Vec<serde_json::Value> = layers
        .iter()
        .map(|_| serde_json::json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    let v = serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": history,
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    });
    serde_json::to_vec(&v).expect("a JSON value serialises")
}

fn sign_bytes(key: &SigningKey, message: &[u8]) -> Result<Vec<u8>> {
    key.sign(message).map_err(Error::Internal)
}

/// Signs `s` in the tag format: the simple-signing payload, appended as a new layer to the
/// existing `.sig` manifest (`existing`, read by the caller), or as its first layer.
pub fn tag_artifact(
    key: &SigningKey,
    s: &Subject<'_>,
    existing: Option<&RawManifest>,
) -> Result<Artifact> {
    let digest = &s.descriptor.digest;
    let payload = payload::simple_signing(s.repository, digest, s.provenance);
    let signature = sign_bytes(key, &payload)?;
    let payload = Blob::new(SIMPLE_SIGNING, payload);
    let mut layers = existing_layers(existing)?;
    let mut layer = serde_json::json!({
        "mediaType": SIMPLE_SIGNING,
        "size": payload.descriptor.size,
        "digest": payload.descriptor.digest.to_string(),
    });
    layer["annotations"] = serde_json::json!({ SIGNATURE_ANNOTATION: b64(&signature) });
    layers.push(layer);
    let config = Blob::new(OCI_CONFIG, sig_config(&layers));
    let m = manifest(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "size": config.descriptor.size,
            "digest": config.descriptor.digest.to_string(),
        },
        "layers": layers,
    }));
    Ok(Artifact {
        format: Format::CosignSimpleSigning,
        subject: digest.clone(),
        blobs: vec![payload, config],
        manifest: m,
        tag: Some(sig_tag(digest)),
    })
}

/// Signs `s` in the bundle format: a DSSE envelope over the in-toto statement, in a referrer
/// manifest created at `created` (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn bundle_artifact(key: &SigningKey, s: &Subject<'_>, created: &str) -> Result<Artifact> {
    let digest = &s.descriptor.digest;
    let statement = payload::statement(digest, s.provenance);
    let signature = sign_bytes(key, &pae(IN_TOTO, &statement))?;
    let bundle = serde_json::json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": b64(&key.public().spki_sha256_raw())}},
        "dsseEnvelope": {
            "payload": b64(&statement),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": b64(&signature)}],
        },
    });
    debug_assert!(BUNDLE_MEDIA_TYPE.starts_with(BUNDLE_PREFIX));
    let bundle = Blob::new(
        BUNDLE_MEDIA_TYPE,
        serde_json::to_vec(&bundle).expect("a JSON value serialises"),
    );
    let empty = Blob::new(OCI_EMPTY, EMPTY_CONFIG.to_vec());
    let m = manifest(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {
            "mediaType": OCI_EMPTY,
            "size": empty.descriptor.size,
            "digest": empty.descriptor.digest.to_string(),
        },
        "layers": [{
            "mediaType": BUNDLE_MEDIA_TYPE,
            "size": bundle.descriptor.size,
            "digest": bundle.descriptor.digest.to_string(),
        }],
        "subject": {
            "mediaType": s.descriptor.media_type,
            "size": s.descriptor.size,
            "digest": digest.to_string(),
        },
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": COSIGN_SIGN_PREDICATE,
            "org.opencontainers.image.created": created,
        },
    }));
    Ok(Artifact {
        format: Format::SigstoreBundleDsse,
        subject: digest.clone(),
        blobs: vec![empty, bundle],
        manifest: m,
        tag: None,
    })
}

/// Whether the `.sig` manifest `target` holds every signature layer of `source` unchanged (it
/// is the source's, with signatures appended: the site's). A copy of digest tags treats such a
/// target tag as present instead of replacing it with the source's and dropping what was added.
pub fn covers(target: &RawManifest, source: &RawManifest) -> bool {
    let layers = |m: &RawManifest| {
        serde_json::from_slice::<serde_json::Value>(&m.bytes)
            .ok()
            .filter(|v| v.get("manifests").is_none())
            .and_then(|v| v.get("layers").and_then(|l| l.as_array().cloned()))
    };
    match (layers(target), layers(source)) {
        (Some(t), Some(s)) => !s.is_empty() && s.iter().all(|l| t.contains(l)),
        _ => false,
    }
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
