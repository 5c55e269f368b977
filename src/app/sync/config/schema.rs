//! The shape of `mirror.yaml` as written (unknown keys are errors), and the merge of
//! `defaults:` with each image's overrides into the compiled [`ImageSettings`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::discovery::{RepoFilter, SourceRegistry};
use super::image::ImageSettings;
use super::keyless::{IdentityList, Issuer, Keys, Regexp, RegexpList, RootFile};
use super::prefix::TargetPrefix;
use super::values::{
    Credentials, Jobs, KeyList, LayoutRefName, Platforms, Rate, RuleList, Source, Target, TypeList,
};
use crate::app::sync::tags::TagRules;
use crate::engine::copy::OnReject;
use crate::engine::rules::Rules;
use crate::engine::select::PlatformlessPolicy;
use crate::engine::signature::sign::SignFormat;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct FileConfig {
    /// Settings every image inherits.
    #[serde(default)]
    pub defaults: Overrides,
    /// Connection settings per registry host (as written in references, e.g. `docker.io`).
    #[serde(default)]
    pub registries: BTreeMap<String, RegistryConfig>,
    /// What to mirror; the span locates each entry for errors found after reading it.
    pub images: Vec<serde_saphyr::Spanned<FileImage>>,
    /// Commands run after an item changed or failed (`app/hooks.rs`).
    #[serde(default)]
    pub hooks: crate::app::hooks::HooksConfig,
    /// The run's cap on blob traffic, as `--limit-rate` (which wins over it).
    #[serde(default)]
    pub limit_rate: Option<Rate>,
}

/// Settings that `defaults:` gives and each image may override.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Overrides {
    /// Platform patterns, as for `mirror copy --platform` (a list, or one comma-separated string).
    pub platforms: Option<Platforms>,
    /// Copy BuildKit attestation manifests of selected platforms (default true).
    pub attestations: Option<bool>,
    /// Index entries without a platform: `copy` (default) or `skip`.
    pub platformless: Option<PlatformlessPolicy>,
    /// When the target refuses a sparse index: `fail` (default), `filter` or `full`.
    pub on_reject: Option<OnReject>,
    /// Concurrent blob transfers for one image (default 8; the run-wide cap is `--jobs`).
    pub jobs: Option<Jobs>,
    /// Entries copied whatever the platform filter says (as `--always-copy`).
    pub always_copy: Option<RuleList>,
    /// Entries never copied (as `--never-copy`; wins over `always-copy`).
    pub never_copy: Option<RuleList>,
    /// Copy OCI referrers (signatures, SBOMs) of the copied manifests (as `--referrers`).
    pub referrers: Option<bool>,
    /// Only referrers of these artifact types (globs; implies `referrers`).
    pub referrers_artifact_types: Option<TypeList>,
    /// Copy cosign-style `sha256-<hex>.sig/.att/.sbom` tags (as `--digest-tags`).
    pub digest_tags: Option<bool>,
    /// Copy foreign / non-distributable layers from their URLs (as `--include-foreign-layers`).
    pub include_foreign_layers: Option<bool>,
    /// Ref names written into an OCI layout target: `tag` (default) or `full`
    /// (`REGISTRY/REPO:TAG`, so many repositories can share one layout).
    pub layout_ref_name: Option<LayoutRefName>,
    /// PEM public key file(s): refuse images without a valid signature over the index (as
    /// `--require-signature`).
    pub require_signature: Option<KeyList>,
    /// Also every selected child (as `--require-signature-children`).
    pub require_signature_children: Option<bool>,
    /// The site's private key: sign what was verified and copied (as `--sign-key`; needs
    /// `require-signature`). Read when the run starts.
    pub sign_key: Option<std::path::PathBuf>,
    /// Also sign each copied child (as `--sign-children`).
    pub sign_children: Option<bool>,
    /// `tag` (default), `bundle` or `both` (as `--sign-format`).
    pub sign_format: Option<SignFormat>,
    /// Delete target tags the entry's rules own and no longer select (as `mirror sync --prune`;
    /// `false` keeps an entry out of `--prune`).
    pub prune: Option<bool>,
    /// Keyless signatures whose certificate names one of these identities (as
    /// `--require-signature-identity`); located, for the checks made after merging.
    pub require_signature_identity: Option<Spanned<IdentityList>>,
    /// As `--require-signature-identity-regexp`.
    pub require_signature_identity_regexp: Option<Spanned<RegexpList>>,
    /// As `--require-signature-issuer`.
    pub require_signature_issuer: Option<Spanned<Issuer>>,
    /// As `--require-signature-issuer-regexp`.
    pub require_signature_issuer_regexp: Option<Spanned<Regexp>>,
    /// As `--trusted-root`: a `trusted_root.json`, read once per run (`keyless.rs`).
    pub trusted_root: Option<Spanned<RootFile>>,
    /// Images without `target:` go to `PREFIX/<source repository path>` (see `prefix.rs`).
    pub target_prefix: Option<TargetPrefix>,
}

/// One `images:` entry: where from, where to, which tags, and overrides of `defaults:` (the
/// same keys).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct FileImage {
    /// `REGISTRY/REPO` or `oci:DIR`, without a tag: tags go under `tags:`.
    pub source: Option<Source>,
    /// `REGISTRY[/ORG]`: repositories found through the catalog (excludes `source`).
    pub source_registry: Option<SourceRegistry>,
    /// With `source-registry`: which repositories to take.
    pub repositories: Option<RepoFilter>,
    /// `REGISTRY/REPO` or `oci:DIR`, without a tag: the source tags are kept.
    pub target: Option<Target>,
    /// `REGISTRY[/PATH]`: the target is `PREFIX/<source repository path>` (excludes `target`).
    pub target_prefix: Option<TargetPrefix>,
    /// Which tags (and digests) to mirror.
    pub tags: TagRules,
    // The overrides of `defaults:`, written out: `#[serde(flatten)]` would buffer the values
    // and lose their locations, and it does not work with `deny_unknown_fields`.
    platforms: Option<Platforms>,
    attestations: Option<bool>,
    platformless: Option<PlatformlessPolicy>,
    on_reject: Option<OnReject>,
    jobs: Option<Jobs>,
    always_copy: Option<RuleList>,
    never_copy: Option<RuleList>,
    referrers: Option<bool>,
    referrers_artifact_types: Option<TypeList>,
    digest_tags: Option<bool>,
    include_foreign_layers: Option<bool>,
    layout_ref_name: Option<LayoutRefName>,
    require_signature: Option<KeyList>,
    require_signature_children: Option<bool>,
    sign_key: Option<std::path::PathBuf>,
    sign_children: Option<bool>,
    sign_format: Option<SignFormat>,
    prune: Option<bool>,
    require_signature_identity: Option<Spanned<IdentityList>>,
    require_signature_identity_regexp: Option<Spanned<RegexpList>>,
    require_signature_issuer: Option<Spanned<Issuer>>,
    require_signature_issuer_regexp: Option<Spanned<Regexp>>,
    trusted_root: Option<Spanned<RootFile>>,
}

impl FileImage {
    /// The entry's own values, and its overrides of `defaults:`.
    pub(super) fn split(self) -> (Split, TagRules, Overrides) {
        let overrides = Overrides {
            platforms: self.platforms,
            attestations: self.attestations,
            platformless: self.platformless,
            on_reject: self.on_reject,
            jobs: self.jobs,
            always_copy: self.always_copy,
            never_copy: self.never_copy,
            referrers: self.referrers,
            referrers_artifact_types: self.referrers_artifact_types,
            digest_tags: self.digest_tags,
            include_foreign_layers: self.include_foreign_layers,
            layout_ref_name: self.layout_ref_name,
            require_signature: self.require_signature,
            require_signature_children: self.require_signature_children,
            sign_key: self.sign_key,
            sign_children: self.sign_children,
            sign_format: self.sign_format,
            prune: self.prune,
            require_signature_identity: self.require_signature_identity,
            require_signature_identity_regexp: self.require_signature_identity_regexp,
            require_signature_issuer: self.require_signature_issuer,
            require_signature_issuer_regexp: self.require_signature_issuer_regexp,
            trusted_root: self.trusted_root,
            target_prefix: None,
        };
        let split = Split {
            source: self.source,
            source_registry: self.source_registry,
            repositories: self.repositories,
            target: self.target,
            target_prefix: self.target_prefix,
        };
        (split, self.tags, overrides)
    }
}

/// Where an entry reads from and writes to, as written (`parse` checks the combinations).
pub(super) struct Split {
    pub source: Option<Source>,
    pub source_registry: Option<SourceRegistry>,
    pub repositories: Option<RepoFilter>,
    pub target: Option<Target>,
    pub target_prefix: Option<TargetPrefix>,
}

/// Settings for one registry host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistryConfig {
    /// Talk plain HTTP (loopback hosts always do).
    #[serde(default)]
    pub plain_http: bool,
    /// Verify TLS certificates (default true).
    pub tls_verify: Option<bool>,
    /// `USER:PASSWORD`, usually from the environment: `"${REG_USER}:${REG_PASSWORD}"`.
    pub credentials: Option<Credentials>,
    /// A certs.d-style directory (`*.crt` CA files, `NAME.cert` + `NAME.key` for mutual TLS),
    /// as `--src-cert-dir`/`--dest-cert-dir`; `mirror client-config` references its files.
    pub cert_dir: Option<std::path::PathBuf>,
}

impl Overrides {
    /// The keyless keys written here; `level` names this level in messages.
    pub(super) fn keyless<'a>(&'a self, level: &'a str) -> Keys<'a> {
        Keys {
            level,
            identity: self.require_signature_identity.as_ref(),
            identity_regexp: self.require_signature_identity_regexp.as_ref(),
            issuer: self.require_signature_issuer.as_ref(),
            issuer_regexp: self.require_signature_issuer_regexp.as_ref(),
            trusted_root: self.trusted_root.as_ref(),
        }
    }

    /// These overrides over `d` (the defaults), with the built-in defaults for what neither
    /// gives. A list given here replaces the default's list. The keyless part of the signature
    /// policy is left out: `keyless::resolve` checks and builds it.
    pub(super) fn over(self, d: &Overrides) -> ImageSettings {
        let types = self
            .referrers_artifact_types
            .or_else(|| d.referrers_artifact_types.clone())
            .unwrap_or_default();
        let explicit_referrers = self.referrers.or(d.referrers).unwrap_or(false);
        ImageSettings {
            platforms: self
                .platforms
                .or_else(|| d.platforms.clone())
                .unwrap_or_default(),
            attestations: self.attestations.or(d.attestations).unwrap_or(true),
            platformless: self
                .platformless
                .or(d.platformless)
                .unwrap_or(PlatformlessPolicy::Copy),
            on_reject: self.on_reject.or(d.on_reject).unwrap_or(OnReject::Fail),
            jobs: self.jobs.or(d.jobs).map_or(8, |j| j.0),
            rules: Rules {
                always: self
                    .always_copy
                    .or_else(|| d.always_copy.clone())
                    .unwrap_or_default()
                    .0,
                never: self
                    .never_copy
                    .or_else(|| d.never_copy.clone())
                    .unwrap_or_default()
                    .0,
            },
            referrers: explicit_referrers || !types.globs.is_empty(),
            artifact_types: types,
            digest_tags: self.digest_tags.or(d.digest_tags).unwrap_or(false),
            include_foreign: self
                .include_foreign_layers
                .or(d.include_foreign_layers)
                .unwrap_or(false),
            layout_ref_name: self
                .layout_ref_name
                .or(d.layout_ref_name)
                .unwrap_or(LayoutRefName::Tag),
            prune: self.prune.or(d.prune),
            signatures: crate::engine::signature::Policy {
                keyless: None,
                keys: self
                    .require_signature
                    .or_else(|| d.require_signature.clone())
                    .unwrap_or_default()
                    .0,
                children: self
                    .require_signature_children
                    .or(d.require_signature_children)
                    .unwrap_or(false),
            },
            sign_key: self.sign_key.or_else(|| d.sign_key.clone()),
            sign_children: self.sign_children.or(d.sign_children),
            sign_format: self.sign_format.or(d.sign_format),
        }
    }
}
