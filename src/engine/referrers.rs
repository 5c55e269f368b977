//! Supply-chain artifacts that travel with a selection: the pure half.
//!
//! Referrers (`--referrers`) are manifests whose `subject` names the index or a selected child;
//! digest tags (`--digest-tags`) are cosign's `sha256-<hex>.sig` / `.att` / `.sbom` (any
//! suffix) tags. This module decides *which* subjects count, names the tags, filters by
//! artifact type, builds the descriptors the referrers fallback index lists, and merges that
//! index without dropping foreign entries. All I/O lives in `artifacts.rs`.
//!
//! Which subjects: the root digest and every index entry the plan copies (platform children,
//! their BuildKit attestations, platformless artifacts, nested indexes). An unselected child's
//! referrers and tags never travel. After `--on-reject filter` the root digest changed, so
//! referrers and tags of the original root are left out (their subject is not on the target).

use std::collections::BTreeMap;

use bytes::Bytes;
use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::engine::plan::Plan;
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, ManifestView, RawManifest};
use crate::model::media;

/// How deep referrers of referrers are followed (a signature on an SBOM on an image is depth 2).
pub const MAX_REFERRER_DEPTH: usize = 8;

/// The referrers fallback tag of a digest (distribution-spec "Referrers Tag Schema"):
/// `<alg>-<hex>`, the algorithm cut to 32 characters and the hex to 64 (so a sha512 subject
/// gets `sha512-<first 64 hex>`).
pub fn fallback_tag(d: &Digest) -> String {
    let alg: String = d.algorithm().as_str().chars().take(32).collect();
    let hex = d.hex();
    format!("{alg}-{}", &hex[..hex.len().min(64)])
}

/// The suffix of a cosign-style digest tag of `d` (`sha256-<hex>.sig` → `sig`), or `None`.
/// The bare fallback tag (no suffix) is not a digest tag: it belongs to `--referrers`.
pub fn digest_tag_suffix<'a>(tag: &'a str, d: &Digest) -> Option<&'a str> {
    let rest = tag.strip_prefix(&fallback_tag(d))?.strip_prefix('.')?;
    (!rest.is_empty()).then_some(rest)
}

/// The digests whose referrers and digest tags travel: the root, then every copied entry.
pub fn subjects(plan: &Plan) -> Vec<Digest> {
    let mut out = vec![plan.root.digest.clone()];
    for e in plan.entries.iter().filter(|e| e.decision.is_copy()) {
        if !out.contains(&e.descriptor.digest) {
            out.push(e.descriptor.digest.clone());
        }
    }
    out
}

/// `--referrers-artifact-type` globs; empty = every type.
#[derive(Debug, Clone, Default)]
pub struct ArtifactTypeFilter {
    globs: Vec<(String, GlobMatcher)>,
}

/// A glob that does not parse.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid --referrers-artifact-type {text:?}: {reason}")]
pub struct FilterError {
    /// The rejected text.
    pub text: String,
    /// Why.
    pub reason: String,
}

impl ArtifactTypeFilter {
    /// Parse the flag values (each may be a comma-separated list).
    pub fn parse<S: AsRef<str>>(values: &[S]) -> std::result::Result<Self, FilterError> {
        let mut globs = vec![];
        for v in values
            .iter()
            .flat_map(|v| v.as_ref().split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            let g = GlobBuilder::new(v)
                .literal_separator(false)
                .build()
                .map_err(|e| FilterError {
                    text: v.to_string(),
                    reason: e.to_string(),
                })?;
            globs.push((v.to_string(), g.compile_matcher()));
        }
        Ok(ArtifactTypeFilter { globs })
    }

    /// Whether a referrer of this artifact type is copied. A referrer without an artifact
    /// type only passes an empty filter.
    pub fn matches(&self, artifact_type: Option<&str>) -> bool {
        self.globs.is_empty()
            || artifact_type.is_some_and(|t| self.globs.iter().any(|(_, g)| g.is_match(t)))
    }

    /// A single literal type can be sent to the registry as `?artifactType=`; the answer is
    /// filtered here again in any case (filtering is a SHOULD and `OCI-Filters-Applied` may
    /// be absent).
    pub fn server_filter(&self) -> Option<&str> {
        match self.globs.as_slice() {
            [(t, _)] if !t.contains(['*', '?', '[', '{']) => Some(t),
            _ => None,
        }
    }

    /// The patterns, for messages.
    pub fn describe(&self) -> String {
        self.globs
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Top {
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// A referrer's artifact type as the referrers API reports it: `artifactType`, else the
/// config media type (distribution-spec "Listing Referrers").
pub fn artifact_type_of(m: &RawManifest) -> Option<String> {
    let top: Top = serde_json::from_slice(&m.bytes).ok()?;
    top.artifact_type.or(top.config.map(|c| c.media_type))
}

/// The `subject` digest of a manifest, if it has one.
pub fn subject_of(m: &RawManifest) -> Option<Digest> {
    match m.view().ok()? {
        ManifestView::Image { subject, .. } | ManifestView::Index { subject, .. } => {
            subject.map(|s| s.digest)
        }
    }
}

/// The descriptor a referrers index lists for `m`: media type, digest, size, artifact type and
/// all of the manifest's annotations (distribution-spec "Pushing Manifests with Subject").
pub fn referrer_entry(m: &RawManifest) -> serde_json::Value {
    let top: Option<Top> = serde_json::from_slice(&m.bytes).ok();
    let mut e = serde_json::json!({
        "mediaType": m.media_type,
        "digest": m.digest.to_string(),
        "size": m.bytes.len(),
    });
    if let Some(t) = artifact_type_of(m) {
        e["artifactType"] = serde_json::json!(t);
    }
    if let Some(a) = top.and_then(|t| t.annotations).filter(|a| !a.is_empty()) {
        e["annotations"] = serde_json::json!(a);
    }
    e
}

/// The entries of a referrers (fallback) index. Entries that do not parse are ignored.
pub fn index_entries(m: &RawManifest) -> Result<Vec<Descriptor>> {
    match m.view() {
        Ok(ManifestView::Index { manifests, .. }) => Ok(manifests),
        Ok(ManifestView::Image { .. }) => Err(Error::Manifest {
            what: format!("referrers tag content {}", m.digest),
            source: crate::model::manifest::ManifestError::Invalid(
                "a referrers fallback tag must hold an image index".into(),
            ),
        }),
        Err(source) => Err(Error::Manifest {
            what: format!("referrers tag content {}", m.digest),
            source,
        }),
    }
}

/// The result of merging our referrers into a fallback index.
#[derive(Debug, Clone)]
pub enum Merge {
    /// Every entry is already listed: nothing to write.
    Unchanged,
    /// The index to push (existing entries kept, ours appended), and how many were added.
    Updated {
        /// The new fallback index.
        index: RawManifest,
        /// Entries appended.
        added: usize,
    },
}

/// Merge `ours` (descriptors from [`referrer_entry`]) into the existing fallback index, or
/// start a new one. Existing entries are kept as they are (foreign ones included) and come
/// first; an entry whose digest is already listed is not added again. The existing index must
/// be an OCI index: anything else is an error, not something to overwrite.
pub fn merge_fallback(existing: Option<&RawManifest>, ours: &[serde_json::Value]) -> Result<Merge> {
    let mut doc: serde_json::Map<String, serde_json::Value> = match existing {
        Some(m) => {
            index_entries(m)?;
            if media::essence(&m.media_type) != media::OCI_INDEX {
                return Err(Error::Manifest {
                    what: format!("referrers tag content {}", m.digest),
                    source: crate::model::manifest::ManifestError::Invalid(format!(
                        "a referrers fallback tag must hold an OCI index, not {}",
                        m.media_type
                    )),
                });
            }
            serde_json::from_slice(&m.bytes)
                .map_err(|e| Error::Internal(format!("re-reading {}: {e}", m.digest)))?
        }
        None => {
            let mut d = serde_json::Map::new();
            d.insert("schemaVersion".into(), serde_json::json!(2));
            d.insert("mediaType".into(), serde_json::json!(media::OCI_INDEX));
            d.insert("manifests".into(), serde_json::json!([]));
            d
        }
    };
    let list = match doc.get_mut("manifests") {
        Some(serde_json::Value::Array(a)) => a,
        _ => return Err(Error::Internal("fallback index without manifests".into())),
    };
    let listed = |list: &Vec<serde_json::Value>, d: &serde_json::Value| {
        list.iter().any(|e| e.get("digest") == d.get("digest"))
    };
    let mut added = 0;
    for e in ours {
        if !listed(list, e) {
            list.push(e.clone());
            added += 1;
        }
    }
    if added == 0 && existing.is_some() {
        return Ok(Merge::Unchanged);
    }
    let bytes =
        Bytes::from(serde_json::to_vec_pretty(&doc).map_err(|e| Error::Internal(e.to_string()))?);
    let digest = Digest::sha256_of(&bytes);
    Ok(Merge::Updated {
        index: RawManifest {
            bytes,
            media_type: media::OCI_INDEX.to_string(),
            digest,
        },
        added,
    })
}

/// Whether every one of `ours` is among `listed` (by digest).
pub fn all_listed(listed: &[Descriptor], ours: &[serde_json::Value]) -> bool {
    ours.iter().all(|e| {
        let d = e.get("digest").and_then(|d| d.as_str());
        listed.iter().any(|l| Some(l.digest.as_str()) == d)
    })
}

/// How a referrer was found on the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// `GET /v2/<name>/referrers/<digest>`.
    ReferrersApi,
    /// The `sha256-<hex>` fallback tag (registry without the API, or an OCI layout).
    FallbackTag,
    /// A cosign-style `sha256-<hex>.<suffix>` tag.
    DigestTag,
}

/// One referrer or digest-tagged manifest to copy, with everything it needs.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The digest it is attached to.
    pub subject: Digest,
    /// How it was found.
    pub via: Via,
    /// The digest tag (`--digest-tags` only).
    pub tag: Option<String>,
    /// Its artifact type (`artifactType`, else config media type).
    pub artifact_type: Option<String>,
    /// The manifest, exactly as fetched.
    pub manifest: RawManifest,
    /// For an index artifact: its child manifests, leaves first.
    pub children: Vec<RawManifest>,
    /// Blobs of the manifest and its children.
    pub blobs: Vec<Descriptor>,
    /// Foreign layers left out (not `--include-foreign-layers`).
    pub foreign: Vec<Descriptor>,
}

/// A referrer that was found but not copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skipped {
    /// Its digest.
    pub digest: Digest,
    /// Its subject.
    pub subject: Digest,
    /// Its artifact type, when known.
    pub artifact_type: Option<String>,
    /// Why.
    pub reason: String,
}

/// Everything discovery found.
#[derive(Debug, Clone, Default)]
pub struct ArtifactPlan {
    /// In push order: every artifact comes after its subject (breadth-first).
    pub artifacts: Vec<Artifact>,
    /// Found but left out.
    pub skipped: Vec<Skipped>,
}

/// What happened to one artifact on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactStatus {
    /// Dry run: it would be copied.
    Planned,
    /// Written to the target.
    Pushed,
    /// Already on the target (and, for a digest tag, already tagged).
    Existing,
    /// Not copied: its subject (the original index) is not on the target after
    /// `--on-reject filter`.
    SubjectReplaced,
}

/// One referrer or digest tag in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactReport {
    /// `referrer` or `digest-tag`.
    pub kind: String,
    /// The manifest digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its artifact type, when known.
    pub artifact_type: Option<String>,
    /// What it is attached to.
    pub subject: Digest,
    /// The digest tag, for `digest-tag`.
    pub tag: Option<String>,
    /// How it was found on the source.
    pub found_via: Via,
    /// What happened on the target.
    pub status: ArtifactStatus,
}

/// A fallback index the run wrote on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackUpdate {
    /// The subject.
    pub subject: Digest,
    /// The tag, `sha256-<hex>`.
    pub tag: String,
    /// The new index digest.
    pub digest: Digest,
    /// Entries added by this run.
    pub added: usize,
    /// Entries kept from before (other tools' referrers included).
    pub kept: usize,
}

impl ArtifactReport {
    /// The report line for a planned or copied artifact.
    pub fn new(a: &Artifact, status: ArtifactStatus) -> Self {
        ArtifactReport {
            kind: if a.tag.is_some() {
                "digest-tag"
            } else {
                "referrer"
            }
            .into(),
            digest: a.manifest.digest.clone(),
            media_type: a.manifest.media_type.clone(),
            artifact_type: a.artifact_type.clone(),
            subject: a.subject.clone(),
            tag: a.tag.clone(),
            found_via: a.via,
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn raw(s: &str) -> RawManifest {
        let b = Bytes::from(s.to_string());
        let d = Digest::sha256_of(&b);
        RawManifest::from_bytes(b, d, None).unwrap()
    }

    #[test]
    fn tag_names() {
        let d: Digest = format!("sha256:{HEX}").parse().unwrap();
        assert_eq!(fallback_tag(&d), format!("sha256-{HEX}"));
        assert_eq!(
            digest_tag_suffix(&format!("sha256-{HEX}.sig"), &d),
            Some("sig")
        );
        assert_eq!(
            digest_tag_suffix(&format!("sha256-{HEX}.att.v2"), &d),
            Some("att.v2")
        );
        assert_eq!(digest_tag_suffix(&format!("sha256-{HEX}"), &d), None);
        assert_eq!(digest_tag_suffix(&format!("sha256-{HEX}."), &d), None);
        assert_eq!(digest_tag_suffix("v1", &d), None);
        let long: Digest = format!("sha512:{}", "a".repeat(128)).parse().unwrap();
        assert_eq!(fallback_tag(&long), format!("sha512-{}", "a".repeat(64)));
    }

    #[test]
    fn artifact_type_filter() {
        let f = ArtifactTypeFilter::parse(&["application/spdx+json"]).unwrap();
        assert!(f.matches(Some("application/spdx+json")));
        assert!(!f.matches(Some("application/vnd.dev.cosign.simplesigning.v1+json")));
        assert!(!f.matches(None));
        assert_eq!(f.server_filter(), Some("application/spdx+json"));
        let f =
            ArtifactTypeFilter::parse(&["application/vnd.dev.*,application/spdx+json"]).unwrap();
        assert!(f.matches(Some("application/vnd.dev.sigstore.bundle.v0.3+json")));
        assert_eq!(f.server_filter(), None);
        assert!(ArtifactTypeFilter::default().matches(None));
        assert!(ArtifactTypeFilter::parse(&["["]).is_err());
    }

    #[test]
    fn entry_uses_artifact_type_then_config_type_and_keeps_annotations() {
        let m = raw(&format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
              "config":{{"mediaType":"application/vnd.example.sbom.config","digest":"sha256:{HEX}","size":0}},
              "layers":[],"subject":{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:{HEX}","size":1}},
              "annotations":{{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}}}"#
        ));
        let e = referrer_entry(&m);
        assert_eq!(e["artifactType"], "application/vnd.example.sbom.config");
        assert_eq!(
            e["annotations"]["org.opencontainers.image.created"],
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(e["size"], m.bytes.len());
        assert_eq!(subject_of(&m).unwrap().hex(), HEX);
    }

    #[test]
    fn merge_keeps_foreign_entries_and_is_idempotent() {
        let foreign = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
                {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":9,
                  "artifactType":"application/vnd.cncf.notary.signature","x-unknown":{{"kept":true}}}}]}}"#,
            "1".repeat(64)
        );
        let existing = raw(&foreign);
        let ours = serde_json::json!({"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{HEX}"), "size": 3, "artifactType":"application/spdx+json"});
        let Merge::Updated { index, added } =
            merge_fallback(Some(&existing), std::slice::from_ref(&ours)).unwrap()
        else {
            panic!("expected an update")
        };
        assert_eq!(added, 1);
        let entries = index_entries(&index).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].digest.hex(),
            "1".repeat(64),
            "foreign entry first"
        );
        let v: serde_json::Value = serde_json::from_slice(&index.bytes).unwrap();
        assert_eq!(v["manifests"][0]["x-unknown"]["kept"], true);
        assert!(matches!(
            merge_fallback(Some(&index), std::slice::from_ref(&ours)).unwrap(),
            Merge::Unchanged
        ));
        assert!(all_listed(&entries, std::slice::from_ref(&ours)));
        // A fresh index.
        let Merge::Updated { index, added } = merge_fallback(None, &[ours]).unwrap() else {
            panic!()
        };
        assert_eq!((added, index.media_type.as_str()), (1, media::OCI_INDEX));
        // Not an index: refuse rather than overwrite.
        let image = raw(&format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"a","digest":"sha256:{HEX}","size":0}},"layers":[]}}"#
        ));
        assert!(merge_fallback(Some(&image), &[]).is_err());
    }
}
