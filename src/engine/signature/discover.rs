//! Finding the signature objects of one digest through [`Storage`]: referrers (the API, or the
//! `sha256-<hex>` fallback tag index) and cosign's `sha256-<hex>.sig` digest tag. Every object
//! read is bounded in size and count; what cannot be read becomes a [`Problem`] of that one
//! signature, never a panic.

use futures_util::StreamExt;

use crate::engine::referrers::{fallback_tag, index_entries};
use crate::engine::signature::bundle::BUNDLE_PREFIX;
use crate::engine::signature::cosign::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING};
use crate::engine::signature::problem::Problem;
use crate::error::{Error, ErrorKind, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::Storage;

/// A signature manifest larger than this is not read.
pub const MAX_MANIFEST: u64 = 256 * 1024;
/// A payload or bundle blob larger than this is not read.
pub const MAX_BLOB: u64 = 256 * 1024;
/// At most this many signature objects are examined per digest.
pub const MAX_SIGNATURES: usize = 32;
/// At most this many listed manifests (referrers and the `.sig` tag) are fetched per digest.
pub const MAX_EXAMINED: usize = 64;
/// Notation's signature artifact type (found and named, not verified in-process).
pub const NOTATION: &str = "application/vnd.cncf.notary.signature";

/// How a signature object was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Listed by the registry's referrers API.
    Referrer,
    /// Listed in the `sha256-<hex>` referrers fallback tag index.
    FallbackTag(String),
    /// cosign's `sha256-<hex>.sig` digest tag.
    DigestTag(String),
}

impl Via {
    /// `referrer`, `fallback-tag` or `digest-tag` (the JSON report's `via`).
    pub fn kind(&self) -> &'static str {
        match self {
            Via::Referrer => "referrer",
            Via::FallbackTag(_) => "fallback-tag",
            Via::DigestTag(_) => "digest-tag",
        }
    }

    /// The tag, if found through one.
    pub fn tag(&self) -> Option<&str> {
        match self {
            Via::Referrer => None,
            Via::FallbackTag(t) | Via::DigestTag(t) => Some(t),
        }
    }
}

/// What one signature object holds.
#[derive(Debug, Clone)]
pub enum Content {
    /// A cosign simple-signing payload and its base64 signature.
    Simple {
        /// The payload bytes (digest-verified).
        payload: Vec<u8>,
        /// The base64 signature annotation.
        signature: String,
        /// cosign 2's keyless evidence (certificate, chain, Rekor bundle annotations), if any.
        keyless: Option<crate::engine::signature::keyless::cosign2::Material>,
    },
    /// A Sigstore bundle's bytes (digest-verified).
    Bundle(Vec<u8>),
}

/// One signature object found for a digest.
#[derive(Debug, Clone)]
pub struct Found {
    /// How it was found.
    pub via: Via,
    /// The signature manifest's digest.
    pub manifest: Digest,
    /// Its content, or why it cannot be used.
    pub content: std::result::Result<Content, Problem>,
}

fn not_found(e: &Error) -> bool {
    e.kind() == ErrorKind::NotFound
}

/// Reads a blob of at most [`MAX_BLOB`] bytes and checks its digest.
async fn read_blob<S: Storage>(
    storage: &S,
    d: &Descriptor,
) -> std::result::Result<Vec<u8>, Problem> {
    if d.size > MAX_BLOB {
        return Err(Problem::TooLarge(format!(
            "blob {} is {} bytes (at most {MAX_BLOB})",
            d.digest, d.size
        )));
    }
    let body = storage
        .fetch_blob(d)
        .await
        .map_err(|e| Problem::Unreadable(format!("blob {}: {e}", d.digest)))?;
    let mut out = Vec::with_capacity(d.size as usize);
    let mut stream = body.stream;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Problem::Unreadable(format!("blob {}: {e}", d.digest)))?;
        out.extend_from_slice(&chunk);
        if out.len() as u64 > d.size {
            return Err(Problem::TooLarge(format!(
                "blob {} is longer than its descriptor says",
                d.digest
            )));
        }
    }
    if !d.digest.verifies(&out) {
        return Err(Problem::Unreadable(format!(
            "blob {} does not match its digest",
            d.digest
        )));
    }
    Ok(out)
}

/// What one signature manifest holds: each simple-signing layer with its annotation (cosign
/// appends one layer per signature to a `.sig` manifest), and each bundle layer. Empty: not a
/// signature (an SBOM, an attestation, …). A layer that cannot be read is its own problem.
async fn content<S: Storage>(
    storage: &S,
    m: &RawManifest,
) -> std::result::Result<Vec<std::result::Result<Content, Problem>>, Problem> {
    let json: serde_json::Value = serde_json::from_slice(&m.bytes)
        .map_err(|e| Problem::BadEncoding(format!("manifest is not JSON: {e}")))?;
    let artifact = json
        .get("artifactType")
        .or_else(|| json.pointer("/config/mediaType"))
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if artifact == NOTATION {
        return Err(Problem::NotASignature(
            "a notation signature (not verified in-process; use `notation verify`)".into(),
        ));
    }
    let layers = json
        .get("layers")
        .and_then(|l| l.as_array())
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for layer in layers.iter().take(MAX_SIGNATURES) {
        let media = layer
            .get("mediaType")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        if media != SIMPLE_SIGNING && !media.starts_with(BUNDLE_PREFIX) {
            continue;
        }
        out.push(layer_content(storage, layer, media == SIMPLE_SIGNING).await);
    }
    let signature_like =
        artifact.starts_with(BUNDLE_PREFIX) || artifact.contains("cosign.artifact.sig");
    if out.is_empty() && signature_like {
        return Err(Problem::BadEncoding(
            "a signature manifest without a signature layer".into(),
        ));
    }
    Ok(out)
}

/// One signature layer: a simple-signing payload with its signature annotation, or a bundle.
async fn layer_content<S: Storage>(
    storage: &S,
    layer: &serde_json::Value,
    simple: bool,
) -> std::result::Result<Content, Problem> {
    let d: Descriptor = serde_json::from_value(layer.clone())
        .map_err(|e| Problem::BadEncoding(format!("layer descriptor: {e}")))?;
    if !simple {
        return Ok(Content::Bundle(read_blob(storage, &d).await?));
    }
    let signature = layer
        .pointer(&format!(
            "/annotations/{}",
            SIGNATURE_ANNOTATION.replace('/', "~1")
        ))
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            Problem::BadEncoding(format!(
                "layer {} has no {SIGNATURE_ANNOTATION} annotation",
                d.digest
            ))
        })?
        .to_string();
    let keyless = crate::engine::signature::keyless::cosign2::Material::from_annotations(|k| {
        layer
            .pointer(&format!("/annotations/{}", k.replace('/', "~1")))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    });
    let payload = read_blob(storage, &d).await?;
    Ok(Content::Simple {
        payload,
        signature,
        keyless,
    })
}

/// Fetches one signature manifest (bounded) and reads each of its signatures.
async fn examine<S: Storage>(storage: &S, via: Via, d: &Descriptor) -> Result<Vec<Found>> {
    let found = |content| Found {
        via: via.clone(),
        manifest: d.digest.clone(),
        content,
    };
    let too_large = |n: u64| {
        vec![found(Err(Problem::TooLarge(format!(
            "manifest is {n} bytes (at most {MAX_MANIFEST})"
        ))))]
    };
    if d.size > MAX_MANIFEST {
        return Ok(too_large(d.size));
    }
    let hint = (!d.media_type.is_empty()).then_some(d.media_type.as_str());
    let m = match storage.fetch_manifest(d.digest.as_str(), hint).await {
        Ok(m) => m,
        Err(e) if not_found(&e) => {
            let p = Problem::Unreadable("listed, but the manifest is missing".into());
            return Ok(vec![found(Err(p))]);
        }
        Err(e) if e.kind() == ErrorKind::Interrupted => return Err(e),
        Err(e) => return Ok(vec![found(Err(Problem::Unreadable(e.to_string())))]),
    };
    if m.bytes.len() as u64 > MAX_MANIFEST {
        return Ok(too_large(m.bytes.len() as u64));
    }
    Ok(match content(storage, &m).await {
        Ok(list) => list.into_iter().map(found).collect(),
        Err(p) => vec![found(Err(p))],
    })
}

/// Every signature object of `subject` in `storage`, in the order referrers (API or fallback
/// tag), then the `.sig` digest tag. Transport failures other than "not found" are errors.
pub async fn discover<S: Storage>(storage: &S, subject: &Digest) -> Result<Vec<Found>> {
    let mut listed: Vec<(Via, Descriptor)> = Vec::new();
    let ctx = |what: &str| {
        format!(
            "looking for signatures of {subject} ({what}) in {}",
            storage.describe()
        )
    };
    match storage
        .referrers(subject, None)
        .await
        .map_err(|e| e.context(ctx("referrers")))?
    {
        Some(list) => listed.extend(list.descriptors.into_iter().map(|d| (Via::Referrer, d))),
        None => {
            let tag = fallback_tag(subject);
            // Resolve first: an OCI layout answers a missing tag with an error, not "not found".
            let index = match storage.resolve(&tag).await {
                Ok(Some(d)) => storage.fetch_manifest(d.as_str(), None).await.map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            match index {
                Ok(None) => {}
                Ok(Some(index)) => {
                    let entries = index_entries(&index).map_err(|e| e.context(ctx(&tag)))?;
                    listed.extend(
                        entries
                            .into_iter()
                            .map(|d| (Via::FallbackTag(tag.clone()), d)),
                    );
                }
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e.context(ctx(&tag))),
            }
        }
    }
    let sig_tag = format!("{}.sig", fallback_tag(subject));
    match storage.resolve(&sig_tag).await {
        Ok(Some(d)) => listed.push((
            Via::DigestTag(sig_tag.clone()),
            Descriptor {
                media_type: String::new(),
                digest: d,
                size: 0,
                platform: None,
                artifact_type: None,
                annotations: Default::default(),
                urls: Default::default(),
            },
        )),
        Ok(None) => {}
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(e.context(ctx(&sig_tag))),
    }
    let mut out = Vec::new();
    // The artifact type a listing gives is not trusted to skip entries: cosign 3.1 lists its
    // bundle in the fallback index as `application/vnd.oci.empty.v1+json` (its config type).
    // Every listed manifest is examined, at most MAX_EXAMINED of them.
    for (via, d) in listed.into_iter().take(MAX_EXAMINED) {
        if out.len() >= MAX_SIGNATURES {
            break;
        }
        out.extend(examine(storage, via, &d).await?);
    }
    Ok(out)
}
