//! One compiled `images:` entry and its effective settings (defaults merged with overrides).

use crate::app::sync::config::values::{LayoutRefName, Platforms, Source, Target, TypeList};
use crate::app::sync::tags::TagRules;
use crate::engine::copy::OnReject;
use crate::engine::referrers::ArtifactTypeFilter;
use crate::engine::rules::Rules;
use crate::engine::select::PlatformlessPolicy;
use crate::model::platform::PlatformFilter;

/// One `images:` entry with `defaults:` merged in.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// `REGISTRY/REPO` or `oci:DIR`, without a tag: tags go under `tags:`.
    pub source: Source,
    /// `REGISTRY/REPO` or `oci:DIR`, without a tag: the source tags are kept.
    pub target: Target,
    /// Which tags (and digests) to mirror.
    pub tags: TagRules,
    /// The effective settings.
    pub settings: ImageSettings,
    /// The 1-based line where the entry starts, for errors found later (`None` when the entry
    /// does not come from a file).
    pub line: Option<usize>,
}

/// The effective settings of one image (defaults merged with its overrides), compiled.
#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// Platform patterns (none: all).
    pub platforms: Platforms,
    /// Copy attestations of selected platforms.
    pub attestations: bool,
    /// Entries without a platform.
    pub platformless: PlatformlessPolicy,
    /// Sparse rejection policy.
    pub on_reject: OnReject,
    /// Per-image blob concurrency.
    pub jobs: usize,
    /// `always-copy` / `never-copy` rules.
    pub rules: Rules,
    /// Copy referrers (given, or implied by `referrers-artifact-types`).
    pub referrers: bool,
    /// Referrer artifact-type globs.
    pub artifact_types: TypeList,
    /// Copy digest tags.
    pub digest_tags: bool,
    /// Copy foreign layers.
    pub include_foreign: bool,
    /// Layout ref-name form.
    pub layout_ref_name: LayoutRefName,
    /// `require-signature`, `require-signature-children` and the keyless keys
    /// (`require-signature-identity[-regexp]`, `-issuer[-regexp]`, `trusted-root`; no keys and
    /// no identity: no gate).
    pub signatures: crate::engine::signature::Policy,
    /// `sign-key` (the site key's file; `--sign-key` when absent).
    pub sign_key: Option<std::path::PathBuf>,
    /// `sign-children` (`--sign-children` when absent).
    pub sign_children: Option<bool>,
    /// `sign-format` (`--sign-format` when absent).
    pub sign_format: Option<crate::engine::signature::sign::SignFormat>,
    /// `prune:` as written (under `defaults:` or the entry); `None` follows `--prune`.
    pub prune: Option<bool>,
}

impl ImageSettings {
    /// The compiled platform filter.
    pub fn platform_filter(&self) -> &PlatformFilter {
        &self.platforms.filter
    }

    /// The compiled artifact-type filter.
    pub fn artifact_filter(&self) -> &ArtifactTypeFilter {
        &self.artifact_types.filter
    }
}
