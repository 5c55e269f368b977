//! `mirror inspect`: what a reference resolves to, without copying anything.
//!
//! Resolves the root and every child manifest (a sparse source shows its absent children) and
//! reports each entry with its platform, sizes, attestation link and annotations.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::engine::plan::Plan;
use crate::engine::report::human_bytes;
use crate::engine::select::{Decision, SkipReason};
use crate::error::Result;
use crate::model::digest::Digest;
use crate::model::manifest::{ManifestView, RawManifest};

/// One entry of the inspected index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InspectEntry {
    /// Child digest.
    pub digest: Digest,
    /// Child media type.
    pub media_type: String,
    /// `os/arch[/variant][:os.version]`, or null.
    pub platform: Option<String>,
    /// The index listing it.
    pub parent: Digest,
    /// Size of the child manifest itself.
    pub size: u64,
    /// Manifest + config + layers, when present in the source.
    pub total_size: Option<u64>,
    /// The child an attestation describes.
    pub attestation_of: Option<Digest>,
    /// `artifactType` of the entry.
    pub artifact_type: Option<String>,
    /// Whether the source holds this child (false in a sparse layout or registry).
    pub present: bool,
    /// The entry's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The result of `mirror inspect`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inspection {
    /// The reference as given (normalised).
    pub reference: String,
    /// Root digest.
    pub digest: Digest,
    /// Root media type.
    pub media_type: String,
    /// Root size in bytes.
    pub size: u64,
    /// Root annotations (indexes and manifests may carry them).
    pub annotations: BTreeMap<String, String>,
    /// Entries of the index and nested indexes; empty for a single manifest.
    pub entries: Vec<InspectEntry>,
    /// Config + layers bytes of a single-manifest root.
    pub total_size: Option<u64>,
    /// Referrers and digest-tagged manifests (`--referrers` only).
    pub artifacts: Vec<InspectArtifact>,
}

/// A referrer or digest-tagged manifest attached to the index or a child.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InspectArtifact {
    /// Its digest.
    pub digest: Digest,
    /// What it is attached to.
    pub subject: Digest,
    /// How it was found.
    pub via: crate::engine::referrers::Via,
    /// The digest tag, for cosign-style tags.
    pub tag: Option<String>,
    /// `artifactType`, else the config media type.
    pub artifact_type: Option<String>,
}

impl From<&crate::engine::referrers::Artifact> for InspectArtifact {
    fn from(a: &crate::engine::referrers::Artifact) -> Self {
        InspectArtifact {
            digest: a.manifest.digest.clone(),
            subject: a.subject.clone(),
            via: a.via,
            tag: a.tag.clone(),
            artifact_type: a.artifact_type.clone(),
        }
    }
}

#[derive(Deserialize, Default)]
struct Annotated {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Build the inspection from a plan made with `Selector::all()`.
pub fn from_plan(reference: &str, root: &RawManifest, plan: &Plan) -> Result<Inspection> {
    let annotations = serde_json::from_slice::<Annotated>(&root.bytes)
        .unwrap_or_default()
        .annotations;
    let total_size = match root.view() {
        Ok(ManifestView::Image { config, layers, .. }) => {
            Some(config.size + layers.iter().map(|l| l.size).sum::<u64>())
        }
        _ => None,
    };
    let entries = plan
        .entries
        .iter()
        .map(|e| InspectEntry {
            digest: e.descriptor.digest.clone(),
            media_type: e.descriptor.media_type.clone(),
            platform: e.descriptor.platform.as_ref().map(|p| p.to_string()),
            parent: e.parent.clone(),
            size: e.descriptor.size,
            total_size: e.total_size,
            attestation_of: e.descriptor.attestation_subject(),
            artifact_type: e.descriptor.artifact_type.clone(),
            present: e.decision != Decision::Skip(SkipReason::NotInSource),
            annotations: e.descriptor.annotations.clone(),
        })
        .collect();
    Ok(Inspection {
        reference: reference.to_string(),
        digest: root.digest.clone(),
        media_type: root.media_type.clone(),
        size: root.bytes.len() as u64,
        annotations,
        entries,
        total_size,
        artifacts: vec![],
    })
}

impl Inspection {
    /// A human table.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.reference);
        let _ = writeln!(s, "  digest      {}", self.digest);
        let _ = writeln!(s, "  media type  {}", self.media_type);
        let _ = writeln!(s, "  size        {} B", self.size);
        if let Some(t) = self.total_size {
            let _ = writeln!(s, "  content     {}", human_bytes(t));
        }
        for (k, v) in &self.annotations {
            let _ = writeln!(s, "  annotation  {k}={v}");
        }
        if self.entries.is_empty() {
            return s;
        }
        let w = self
            .entries
            .iter()
            .map(|e| e.platform.as_deref().unwrap_or("-").len())
            .max()
            .unwrap_or(1)
            .max(8);
        let _ = writeln!(
            s,
            "\n  {:<w$}  {:<19}  {:>10}  notes",
            "PLATFORM", "DIGEST", "SIZE"
        );
        for e in &self.entries {
            let size = e.total_size.map_or_else(|| "-".into(), human_bytes);
            let mut notes = vec![];
            if let Some(a) = &e.attestation_of {
                notes.push(format!("attestation of {}", a.short()));
            }
            if !e.present {
                notes.push("ABSENT (sparse source)".into());
            }
            if let Some(t) = &e.artifact_type {
                notes.push(format!("artifactType {t}"));
            }
            if crate::model::media::kind(&e.media_type) == crate::model::media::Kind::Index {
                notes.push("nested index".into());
            }
            let _ = writeln!(
                s,
                "  {:<w$}  {:<19}  {:>10}  {}",
                e.platform.as_deref().unwrap_or("-"),
                e.digest.short(),
                size,
                notes.join("; ")
            );
        }
        for a in &self.artifacts {
            let how = match (&a.tag, a.via) {
                (Some(t), _) => format!("tag {t}"),
                (None, v) => format!("{v:?}").to_lowercase(),
            };
            let _ = writeln!(
                s,
                "  artifact {} on {}  {}  ({how})",
                a.digest.short(),
                a.subject.short(),
                a.artifact_type.as_deref().unwrap_or("-")
            );
        }
        let present = self.entries.iter().filter(|e| e.present).count();
        let _ = writeln!(
            s,
            "\n  {} entries, {} present{}",
            self.entries.len(),
            present,
            if present < self.entries.len() {
                " (sparse)"
            } else {
                ""
            }
        );
        s
    }
}
