//! The planner: a pure function from fetched manifests and a [`Selector`] to a [`Plan`].
//!
//! No I/O happens here. [`plan`] walks the root index (recursively through nested indexes),
//! decides every entry with a reason, and either returns the complete plan or the list of
//! manifests it still needs to see ([`Outcome::Need`]); `resolve.rs` fetches those and calls it
//! again. The plan lists the child manifests to push in dependency order (children before the
//! index that lists them), the deduplicated blobs, and whether the result is sparse.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

use crate::engine::rules::Verdict;
use crate::engine::select::{Decision, PlatformlessPolicy, Reason, Selector, SkipReason};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, ManifestView, RawManifest};
use crate::model::media::{self, Kind, DOCKER_ATTESTATION};
use crate::model::platform::Platform;

/// How deep nested indexes may go before the input is treated as hostile.
pub const MAX_DEPTH: usize = 8;

/// One index entry and what happens to it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The index that lists it.
    pub parent: Digest,
    /// Nesting depth (1 = listed by the root).
    pub depth: usize,
    /// The descriptor as listed.
    pub descriptor: Descriptor,
    /// Copy or skip, with the reason.
    pub decision: Decision,
    /// Manifest plus config and layer bytes, when the manifest was fetched.
    pub total_size: Option<u64>,
}

impl Entry {
    /// `os/arch[/variant]` text, `unknown/unknown`, or `-`.
    pub fn platform_text(&self) -> String {
        self.descriptor
            .platform
            .as_ref()
            .map_or_else(|| "-".to_string(), |p| p.to_string())
    }
}

/// Everything the copy needs to know.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The root manifest (index, list or single image), pushed last.
    pub root: RawManifest,
    /// Every entry considered, in document order (depth-first).
    pub entries: Vec<Entry>,
    /// Child manifests to push, children before parents; the root is not included.
    pub manifests: Vec<RawManifest>,
    /// Blobs each manifest (root included) needs, by manifest digest.
    pub manifest_blobs: BTreeMap<Digest, Vec<Digest>>,
    /// Deduplicated blobs to copy, in first-seen order.
    pub blobs: Vec<Descriptor>,
    /// Foreign / non-distributable layers that are not copied.
    pub foreign: Vec<Descriptor>,
    /// Foreign layers that are copied (`--include-foreign-layers`); they are also in `blobs`.
    pub foreign_included: Vec<Descriptor>,
    /// True when some entry is skipped: the target will hold a sparse index.
    pub sparse: bool,
    /// Literal `--platform` patterns that matched nothing.
    pub unmatched: Vec<String>,
    /// Platforms the source lists (runnable entries only).
    pub available: Vec<String>,
    /// Selected image manifests whose bytes were not read: only a [`plan_shallow`] leaves
    /// any (their blobs are unknown, so such a plan only decides the selection). Empty in a plan
    /// from [`plan`].
    pub unread: Vec<Descriptor>,
}

impl Plan {
    /// Total bytes of the blobs to copy.
    pub fn blob_bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.size).sum()
    }
    /// Digests of the entries that are skipped.
    pub fn skipped(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.decision.is_copy())
    }
}

/// Either a plan, or the manifests still to be fetched.
#[derive(Debug)]
pub enum Outcome {
    /// Done.
    Complete(Box<Plan>),
    /// Fetch these (by digest, with the descriptor's media type) and call [`plan`] again.
    Need(Vec<Descriptor>),
}

/// Inputs that are not manifests.
pub struct Inputs<'a> {
    /// Manifests fetched so far, by digest.
    pub fetched: &'a HashMap<Digest, RawManifest>,
    /// Children the source does not have (a sparse layout).
    pub absent: &'a HashSet<Digest>,
    /// The platform of a single-manifest root, read from its config.
    pub root_platform: Option<&'a Platform>,
    /// The source reference, for messages.
    pub source_ref: &'a str,
}

struct Walk<'a> {
    sel: &'a Selector,
    inp: &'a Inputs<'a>,
    entries: Vec<Entry>,
    manifests: Vec<RawManifest>,
    pushed: HashSet<Digest>,
    manifest_blobs: BTreeMap<Digest, Vec<Digest>>,
    blobs: Vec<Descriptor>,
    blob_seen: HashSet<Digest>,
    foreign: Vec<Descriptor>,
    foreign_included: Vec<Descriptor>,
    need: Vec<Descriptor>,
    platforms_seen: Vec<Platform>,
    matched_platform: bool,
    /// Set while walking inside a nested index that an `--always-copy` rule forced in.
    forced: Option<String>,
    /// Do not ask for selected image manifests (see [`plan_shallow`]).
    shallow: bool,
    unread: Vec<Descriptor>,
}

/// Plan the copy. Errors: nothing selected, invalid or cyclic manifests.
pub fn plan(root: &RawManifest, sel: &Selector, inp: &Inputs<'_>) -> Result<Outcome> {
    plan_with(root, sel, inp, false)
}

/// The selection only: like [`plan`], but selected image manifests are not asked for; they are
/// listed in [`Plan::unread`] instead of [`Plan::manifests`], and their blobs are unknown. Nested
/// indexes are still needed (they decide what is inside them), and so are platformless entries
/// that may be referrer-style attestations (their subject is in the manifest). Every entry gets
/// the same decision as in the full plan, so [`filtered_indexes`] gives the same bytes from
/// either. The target-state read (`engine/image/state.rs`) uses it to check a target with one
/// HEAD per selected child instead of a GET.
pub fn plan_shallow(root: &RawManifest, sel: &Selector, inp: &Inputs<'_>) -> Result<Outcome> {
    plan_with(root, sel, inp, true)
}

fn plan_with(
    root: &RawManifest,
    sel: &Selector,
    inp: &Inputs<'_>,
    shallow: bool,
) -> Result<Outcome> {
    let mut w = Walk {
        sel,
        inp,
        entries: vec![],
        manifests: vec![],
        pushed: HashSet::new(),
        manifest_blobs: BTreeMap::new(),
        blobs: vec![],
        blob_seen: HashSet::new(),
        foreign: vec![],
        foreign_included: vec![],
        need: vec![],
        platforms_seen: vec![],
        matched_platform: false,
        forced: None,
        shallow,
        unread: vec![],
    };
    let view = root.view().map_err(|source| Error::Manifest {
        what: format!("root manifest of {}", inp.source_ref),
        source,
    })?;
    match view {
        ManifestView::Image { .. } => {
            if !sel.platforms.is_all() {
                let p = inp.root_platform.cloned().unwrap_or_default();
                if sel.platforms.select(&p).is_none() {
                    return Err(Error::NothingSelected {
                        source_ref: inp.source_ref.into(),
                        available: vec![p.to_string()],
                    });
                }
                w.platforms_seen.push(p);
            }
            w.add_blobs(root)?;
        }
        ManifestView::Index { manifests, .. } => {
            let mut path = vec![root.digest.clone()];
            w.walk_index(&root.digest, &manifests, 1, &mut path)?;
        }
    }
    if !w.need.is_empty() {
        let mut seen = HashSet::new();
        w.need.retain(|d| seen.insert(d.digest.clone()));
        return Ok(Outcome::Need(w.need));
    }
    let available: Vec<String> = w.platforms_seen.iter().map(|p| p.to_string()).collect();
    if !sel.platforms.is_all() && root.is_index() && !w.matched_platform {
        return Err(Error::NothingSelected {
            source_ref: inp.source_ref.into(),
            available,
        });
    }
    let unmatched = sel
        .platforms
        .unmatched_literals(&w.platforms_seen)
        .into_iter()
        .map(|p| p.as_str().to_string())
        .collect();
    let sparse = w.entries.iter().any(|e| !e.decision.is_copy());
    Ok(Outcome::Complete(Box::new(Plan {
        root: root.clone(),
        entries: w.entries,
        manifests: w.manifests,
        manifest_blobs: w.manifest_blobs,
        blobs: w.blobs,
        foreign: w.foreign,
        foreign_included: w.foreign_included,
        sparse,
        unmatched,
        available,
        unread: w.unread,
    })))
}

impl Walk<'_> {
    /// A shallow plan does not read a selected image manifest it has not been given.
    fn skip_read(&self, d: &Descriptor) -> bool {
        self.shallow
            && media::kind(&d.media_type) == Kind::Image
            && !self.inp.fetched.contains_key(&d.digest)
    }

    fn fetched(&mut self, d: &Descriptor) -> Option<RawManifest> {
        match self.inp.fetched.get(&d.digest) {
            Some(m) => Some(m.clone()),
            None => {
                self.need.push(d.clone());
                None
            }
        }
    }

    fn add_blobs(&mut self, m: &RawManifest) -> Result<u64> {
        let ManifestView::Image { config, layers, .. } =
            m.view().map_err(|source| Error::Manifest {
                what: format!("manifest {}", m.digest),
                source,
            })?
        else {
            return Ok(0);
        };
        let mut total = m.bytes.len() as u64;
        let mut own = vec![];
        for b in std::iter::once(config).chain(layers) {
            total += b.size;
            if b.is_foreign() {
                let list = if self.sel.include_foreign {
                    &mut self.foreign_included
                } else {
                    &mut self.foreign
                };
                if !list.iter().any(|f| f.digest == b.digest) {
                    list.push(b.clone());
                }
                if !self.sel.include_foreign {
                    continue;
                }
            }
            own.push(b.digest.clone());
            if self.blob_seen.insert(b.digest.clone()) {
                self.blobs.push(b);
            }
        }
        self.manifest_blobs.insert(m.digest.clone(), own);
        Ok(total)
    }

    fn push_manifest(&mut self, m: RawManifest) {
        if self.pushed.insert(m.digest.clone()) {
            self.manifests.push(m);
        }
    }

    /// What the `--always-copy` / `--never-copy` rules (and a forced nested index) say.
    fn rule_decision(&self, d: &Descriptor) -> Option<Decision> {
        match self.sel.rules.verdict(d) {
            Verdict::Never { rule, overrides } => {
                Some(Decision::Skip(SkipReason::NeverCopy { rule, overrides }))
            }
            Verdict::Always(rule) => Some(Decision::Copy(Reason::AlwaysCopy { rule })),
            Verdict::None => self
                .forced
                .clone()
                .map(|rule| Decision::Copy(Reason::AlwaysCopy { rule })),
        }
    }

    /// Decide an entry that is not an attestation.
    fn decide(&mut self, d: &Descriptor) -> Decision {
        if self.inp.absent.contains(&d.digest) {
            return Decision::Skip(SkipReason::NotInSource);
        }
        let runnable = d.platform.as_ref().filter(|p| !p.is_unknown());
        let pick = match runnable {
            Some(p) => {
                self.platforms_seen.push(p.clone());
                let pick = (!self.sel.platforms.is_all())
                    .then(|| self.sel.platforms.select(p))
                    .flatten();
                // The filter matched even if a rule overrides it: "selected nothing" would lie.
                self.matched_platform |= pick.is_some();
                pick
            }
            None => None,
        };
        if let Some(by_rule) = self.rule_decision(d) {
            return by_rule;
        }
        if runnable.is_some() {
            if self.sel.platforms.is_all() {
                return Decision::Copy(Reason::AllPlatforms);
            }
            return match pick {
                Some(pattern) => Decision::Copy(Reason::PlatformMatch { pattern }),
                None => Decision::Skip(SkipReason::PlatformNotSelected),
            };
        }
        if self.sel.platforms.is_all() {
            Decision::Copy(Reason::AllPlatforms)
        } else if self.sel.platformless == PlatformlessPolicy::Copy {
            Decision::Copy(Reason::Platformless)
        } else {
            Decision::Skip(SkipReason::Platformless)
        }
    }

    /// The manifest an attestation entry describes, or `None` for other entries. Entries
    /// without a runnable platform are fetched (when a platform filter is active) to find
    /// buildx referrer-style attestations, whose index descriptor may carry no annotations.
    fn attestation_of(&mut self, d: &Descriptor) -> Option<Digest> {
        if let Some(s) = d.attestation_subject() {
            return Some(s);
        }
        let declared = d.artifact_type.as_deref() == Some(DOCKER_ATTESTATION);
        let platformless = d.platform.as_ref().is_none_or(|p| p.is_unknown());
        let candidate = declared
            || (platformless
                && !self.sel.platforms.is_all()
                && media::kind(&d.media_type) != Kind::Index);
        if !candidate || self.inp.absent.contains(&d.digest) {
            return None;
        }
        match self.fetched(d)?.view() {
            Ok(ManifestView::Image {
                artifact_type: Some(t),
                subject: Some(s),
                ..
            }) if t == DOCKER_ATTESTATION => Some(s.digest),
            _ => None,
        }
    }

    fn walk_index(
        &mut self,
        parent: &Digest,
        manifests: &[Descriptor],
        depth: usize,
        path: &mut Vec<Digest>,
    ) -> Result<bool> {
        if depth > MAX_DEPTH {
            return Err(Error::Manifest {
                what: format!("index {parent} in {}", self.inp.source_ref),
                source: crate::model::manifest::ManifestError::Invalid(format!(
                    "indexes nested deeper than {MAX_DEPTH} levels"
                )),
            });
        }
        let first = self.entries.len();
        let mut selected: HashSet<Digest> = HashSet::new();
        // Entries a `--never-copy` rule excluded: their attestations follow them out even
        // when every platform is selected.
        let mut ruled_out: HashSet<Digest> = HashSet::new();
        // Which entries are attestations, and of what: BuildKit's annotations, or a buildx
        // referrer-style attestation (artifactType + `subject`, read from the manifest).
        let attestation_of: Vec<Option<Digest>> =
            manifests.iter().map(|d| self.attestation_of(d)).collect();
        // Pass 1: everything but attestations.
        for d in manifests
            .iter()
            .zip(&attestation_of)
            .filter(|(_, a)| a.is_none())
            .map(|(d, _)| d)
        {
            if path.contains(&d.digest) {
                return Err(Error::Manifest {
                    what: format!("index {parent} in {}", self.inp.source_ref),
                    source: crate::model::manifest::ManifestError::Invalid(format!(
                        "it contains itself through {}",
                        d.digest
                    )),
                });
            }
            let mut decision = self.decide(d);
            let mut total = None;
            if decision.is_copy() && self.skip_read(d) {
                self.unread.push(d.clone());
            } else if decision.is_copy() {
                if let Some(m) = self.fetched(d) {
                    match media::kind(&m.media_type) {
                        Kind::Index => {
                            let ManifestView::Index {
                                manifests: inner, ..
                            } = m.view().map_err(|source| Error::Manifest {
                                what: format!("nested index {}", m.digest),
                                source,
                            })?
                            else {
                                unreachable!("kind is index")
                            };
                            path.push(m.digest.clone());
                            let forced = match &decision {
                                Decision::Copy(Reason::AlwaysCopy { rule }) => Some(rule.clone()),
                                _ => None,
                            };
                            let inner_forced = forced.or_else(|| self.forced.clone());
                            let outer = std::mem::replace(&mut self.forced, inner_forced);
                            let any = self.walk_index(&m.digest, &inner, depth + 1, path);
                            self.forced = outer;
                            let any = any?;
                            path.pop();
                            if any {
                                if !matches!(decision, Decision::Copy(Reason::AlwaysCopy { .. })) {
                                    decision = Decision::Copy(Reason::NestedIndex);
                                }
                                self.push_manifest(m);
                            } else {
                                decision = Decision::Skip(SkipReason::NestedIndexEmpty);
                            }
                        }
                        _ => {
                            total = Some(self.add_blobs(&m)?);
                            self.push_manifest(m);
                        }
                    }
                }
            }
            if decision.is_copy() {
                selected.insert(d.digest.clone());
            } else if matches!(decision, Decision::Skip(SkipReason::NeverCopy { .. })) {
                ruled_out.insert(d.digest.clone());
            }
            self.entries.push(Entry {
                parent: parent.clone(),
                depth,
                descriptor: d.clone(),
                decision,
                total_size: total,
            });
        }
        // Pass 2: attestations follow the entry they describe (rules still come first).
        for (d, subject) in manifests.iter().zip(attestation_of) {
            let Some(subject) = subject else {
                continue;
            };
            let decision = if self.inp.absent.contains(&d.digest) {
                Decision::Skip(SkipReason::NotInSource)
            } else if let Some(by_rule) = self.rule_decision(d) {
                by_rule
            } else if !self.sel.attestations {
                Decision::Skip(SkipReason::AttestationsDisabled)
            } else if self.sel.platforms.is_all() && !ruled_out.contains(&subject) {
                Decision::Copy(Reason::AllPlatforms)
            } else if selected.contains(&subject) {
                Decision::Copy(Reason::AttestationOf { subject })
            } else {
                Decision::Skip(SkipReason::AttestationOfUnselected { subject })
            };
            let mut total = None;
            if decision.is_copy() && self.skip_read(d) {
                self.unread.push(d.clone());
            } else if decision.is_copy() {
                if let Some(m) = self.fetched(d) {
                    total = Some(self.add_blobs(&m)?);
                    self.push_manifest(m);
                }
                selected.insert(d.digest.clone());
            }
            self.entries.push(Entry {
                parent: parent.clone(),
                depth,
                descriptor: d.clone(),
                decision,
                total_size: total,
            });
        }
        // Keep document order in the report.
        let order: HashMap<&Digest, usize> = manifests
            .iter()
            .enumerate()
            .map(|(i, d)| (&d.digest, i))
            .collect();
        let tail = &mut self.entries[first..];
        let mut mine: Vec<Entry> = tail
            .iter()
            .filter(|e| &e.parent == parent && e.depth == depth)
            .cloned()
            .collect();
        if mine.len() == tail.len() {
            mine.sort_by_key(|e| {
                order
                    .get(&e.descriptor.digest)
                    .copied()
                    .unwrap_or(usize::MAX)
            });
            tail.clone_from_slice(&mine);
        }
        Ok(!selected.is_empty())
    }
}

/// Build the `--on-reject filter` replacement: every index in the plan rewritten to list only
/// the entries that were copied (nested indexes first, their new digests substituted upward).
/// Returns the new root and the rewritten nested indexes. This is the one place `mirror`
/// serialises a manifest, and the result has a new digest by design.
pub fn filtered_indexes(plan: &Plan) -> Result<(RawManifest, Vec<RawManifest>)> {
    let keep: HashSet<&Digest> = plan
        .entries
        .iter()
        .filter(|e| e.decision.is_copy())
        .map(|e| &e.descriptor.digest)
        .collect();
    let mut renamed: HashMap<Digest, (Digest, u64)> = HashMap::new();
    let mut nested_out = vec![];
    let rewrite = |m: &RawManifest,
                   renamed: &mut HashMap<Digest, (Digest, u64)>|
     -> Result<RawManifest> {
        let mut v: serde_json::Value = serde_json::from_slice(&m.bytes)
            .map_err(|e| Error::Internal(format!("re-reading {}: {e}", m.digest)))?;
        if let Some(serde_json::Value::Array(list)) = v.get_mut("manifests") {
            list.retain(|e| {
                e.get("digest")
                    .and_then(|d| d.as_str())
                    .and_then(|d| d.parse::<Digest>().ok())
                    .is_some_and(|d| keep.contains(&d))
            });
            for e in list.iter_mut() {
                let old: Option<Digest> = e
                    .get("digest")
                    .and_then(|d| d.as_str())
                    .and_then(|d| d.parse().ok());
                if let Some((nd, ns)) = old.and_then(|o| renamed.get(&o)) {
                    e["digest"] = serde_json::json!(nd.to_string());
                    e["size"] = serde_json::json!(ns);
                }
            }
        }
        let bytes =
            Bytes::from(serde_json::to_vec_pretty(&v).map_err(|e| Error::Internal(e.to_string()))?);
        let digest = Digest::sha256_of(&bytes);
        renamed.insert(m.digest.clone(), (digest.clone(), bytes.len() as u64));
        Ok(RawManifest {
            bytes,
            media_type: m.media_type.clone(),
            digest,
        })
    };
    for m in plan.manifests.iter().filter(|m| m.is_index()) {
        nested_out.push(rewrite(m, &mut renamed)?);
    }
    let root = rewrite(&plan.root, &mut renamed)?;
    Ok((root, nested_out))
}

#[cfg(test)]
mod tests;
