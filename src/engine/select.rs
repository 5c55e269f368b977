//! Selection rules: which index entries travel, and why.
//!
//! Pure. A [`Selector`] combines the platform filter with the always-copy rules: BuildKit
//! attestation manifests follow the platform they describe, and entries without a platform are
//! copied unless `--platformless skip`. Every outcome is a [`Decision`] that carries its reason,
//! so the plan, the dry run and the JSON report can say why each entry was copied or skipped.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::engine::rules::Rules;
use crate::model::digest::Digest;
use crate::model::platform::PlatformFilter;

/// What to do with index entries that have no platform (and are not attestations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlatformlessPolicy {
    /// Copy them (default).
    Copy,
    /// Leave them out.
    Skip,
}

/// The complete selection configuration.
#[derive(Debug)]
pub struct Selector {
    /// Platform include/exclude patterns.
    pub platforms: PlatformFilter,
    /// Copy BuildKit attestation manifests of selected platforms.
    pub attestations: bool,
    /// Entries without a platform.
    pub platformless: PlatformlessPolicy,
    /// `--always-copy` / `--never-copy` rules (never wins).
    pub rules: Rules,
    /// Copy foreign / non-distributable layers from their URLs (`--include-foreign-layers`).
    pub include_foreign: bool,
}

impl Selector {
    /// Copy everything.
    pub fn all() -> Self {
        Selector {
            platforms: PlatformFilter::parse::<&str>(&[]).expect("empty filter parses"),
            attestations: true,
            platformless: PlatformlessPolicy::Copy,
            rules: Rules::default(),
            include_foreign: false,
        }
    }
}

/// Why an entry is copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// No platform filter was given.
    AllPlatforms,
    /// The platform matched this pattern.
    PlatformMatch {
        /// The pattern text.
        pattern: String,
    },
    /// A BuildKit attestation of a selected child.
    AttestationOf {
        /// The child it describes.
        subject: Digest,
    },
    /// No platform, copied by `--platformless copy`.
    Platformless,
    /// A nested index with selected entries inside.
    NestedIndex,
    /// The source is a single image manifest.
    SingleManifest,
    /// Forced in by an `--always-copy` rule (or inside a nested index one forced in).
    AlwaysCopy {
        /// The rule, e.g. `--always-copy artifact-type=application/spdx+json`.
        rule: String,
    },
}

/// Why an entry is skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SkipReason {
    /// The platform matched no include pattern, or matched an exclude.
    PlatformNotSelected,
    /// An attestation of a child that was not selected.
    AttestationOfUnselected {
        /// The child it describes.
        subject: Digest,
    },
    /// `--no-attestations`.
    AttestationsDisabled,
    /// No platform, and `--platformless skip`.
    Platformless,
    /// A nested index in which nothing was selected.
    NestedIndexEmpty,
    /// The source does not hold this child (a sparse layout or index).
    NotInSource,
    /// Excluded by a `--never-copy` rule.
    NeverCopy {
        /// The rule, e.g. `--never-copy annotation:org.example/internal=true`.
        rule: String,
        /// An `--always-copy` rule that also matched and lost.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overrides: Option<String>,
    },
}

/// The outcome for one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", content = "reason", rename_all = "kebab-case")]
pub enum Decision {
    /// Copied.
    Copy(Reason),
    /// Not copied.
    Skip(SkipReason),
}

impl Decision {
    /// Whether the entry is copied.
    pub fn is_copy(&self) -> bool {
        matches!(self, Decision::Copy(_))
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Copy(Reason::AllPlatforms) => f.write_str("all platforms selected"),
            Decision::Copy(Reason::PlatformMatch { pattern }) => {
                write!(f, "matches --platform {pattern}")
            }
            Decision::Copy(Reason::AttestationOf { subject }) => {
                write!(f, "attestation of selected {}", subject.short())
            }
            Decision::Copy(Reason::Platformless) => f.write_str("no platform; --platformless copy"),
            Decision::Copy(Reason::NestedIndex) => {
                f.write_str("nested index with selected entries")
            }
            Decision::Copy(Reason::SingleManifest) => f.write_str("single-manifest image"),
            Decision::Copy(Reason::AlwaysCopy { rule }) => f.write_str(rule),
            Decision::Skip(SkipReason::NeverCopy { rule, overrides }) => match overrides {
                Some(o) => write!(f, "{rule} (wins over {o})"),
                None => f.write_str(rule),
            },
            Decision::Skip(SkipReason::PlatformNotSelected) => f.write_str("platform not selected"),
            Decision::Skip(SkipReason::AttestationOfUnselected { subject }) => {
                write!(f, "attestation of unselected {}", subject.short())
            }
            Decision::Skip(SkipReason::AttestationsDisabled) => f.write_str("--no-attestations"),
            Decision::Skip(SkipReason::Platformless) => {
                f.write_str("no platform; --platformless skip")
            }
            Decision::Skip(SkipReason::NestedIndexEmpty) => {
                f.write_str("nested index with nothing selected")
            }
            Decision::Skip(SkipReason::NotInSource) => {
                f.write_str("not present in the source (sparse)")
            }
        }
    }
}
