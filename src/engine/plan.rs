//! The planner: a pure function from fetched manifests and a [`Selector`] to a [`Plan`].
//!
//! No I/O happens here. [`plan`] walks the root index (recursively through nested indexes),
//! decides every entry with a reason, and either returns the complete plan or the list of
//! manifests it still needs to see ([`Outcome::Need`]); `resolve.rs` fetches those and calls it
//! again. The plan lists the child manifests to push in dependency order (children before the
//! index that lists them), the deduplicated blobs, and whether the result is sparse.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

use crate::engine::referrers::DOCKER_ATTESTATION;
use crate::engine::rules::Verdict;
use crate::engine::select::{Decision, PlatformlessPolicy, Reason, Selector, SkipReason};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, ManifestView, RawManifest};
use crate::model::media::{self, Kind};
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
mod tests {
    //! The planner against JSON fixtures in `tests/fixtures/manifests/`: each file holds the root
    //! index text and the exact text of every child manifest, keyed by digest.
    use super::*;
    use crate::model::platform::PlatformFilter;

    struct Fixture {
        root: RawManifest,
        children: HashMap<Digest, RawManifest>,
    }

    fn load(text: &str) -> Fixture {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let raw = |s: &str| {
            let b = Bytes::from(s.to_string());
            let d = Digest::sha256_of(&b);
            RawManifest::from_bytes(b, d, None).unwrap()
        };
        let root = raw(v["root"].as_str().unwrap());
        let children = v["children"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, t)| (k.parse().unwrap(), raw(t.as_str().unwrap())))
            .collect();
        Fixture { root, children }
    }

    fn sel(patterns: &[&str]) -> Selector {
        Selector {
            platforms: PlatformFilter::parse(patterns).unwrap(),
            ..Selector::all()
        }
    }

    fn run(f: &Fixture, s: &Selector) -> Result<Plan> {
        let absent = HashSet::new();
        let inputs = Inputs {
            fetched: &f.children,
            absent: &absent,
            root_platform: None,
            source_ref: "src",
        };
        match plan(&f.root, s, &inputs)? {
            Outcome::Complete(p) => Ok(*p),
            Outcome::Need(n) => panic!("fixture lacks {n:?}"),
        }
    }

    fn decision_of<'a>(p: &'a Plan, platform: &str) -> &'a Decision {
        &p.entries
            .iter()
            .find(|e| e.platform_text() == platform)
            .unwrap_or_else(|| panic!("{platform}"))
            .decision
    }

    const OCI: &str = include_str!("../../tests/fixtures/manifests/oci-index-attestations.json");
    const DOCKER: &str = include_str!("../../tests/fixtures/manifests/docker-list.json");
    const NESTED: &str = include_str!("../../tests/fixtures/manifests/nested-index.json");

    #[test]
    fn attestations_follow_their_platform() {
        let f = load(OCI);
        let p = run(&f, &sel(&["linux/arm64"])).unwrap();
        assert!(p.sparse);
        assert!(
            matches!(decision_of(&p, "linux/arm64/v8"), Decision::Copy(Reason::PlatformMatch { pattern }) if pattern == "linux/arm64")
        );
        assert_eq!(
            decision_of(&p, "linux/amd64"),
            &Decision::Skip(SkipReason::PlatformNotSelected)
        );
        let atts: Vec<&Entry> = p
            .entries
            .iter()
            .filter(|e| e.descriptor.attestation_subject().is_some())
            .collect();
        assert_eq!(atts.len(), 3);
        let arm = p
            .entries
            .iter()
            .find(|e| e.platform_text() == "linux/arm64/v8")
            .unwrap()
            .descriptor
            .digest
            .clone();
        for a in atts {
            let subject = a.descriptor.attestation_subject().unwrap();
            if subject == arm {
                assert_eq!(
                    a.decision,
                    Decision::Copy(Reason::AttestationOf { subject })
                );
            } else {
                assert_eq!(
                    a.decision,
                    Decision::Skip(SkipReason::AttestationOfUnselected { subject })
                );
            }
        }
        // The platformless SBOM artifact is copied by default.
        let artifact = p
            .entries
            .iter()
            .find(|e| e.descriptor.artifact_type.is_some())
            .unwrap();
        assert_eq!(artifact.decision, Decision::Copy(Reason::Platformless));
        // arm64 + its attestation + artifact; blobs deduplicated (the shared layer once).
        assert_eq!(p.manifests.len(), 3);
        let shared = Digest::sha256_of(b"shared");
        assert_eq!(p.blobs.iter().filter(|b| b.digest == shared).count(), 1);
        // Document order is kept.
        let order: Vec<String> = p
            .entries
            .iter()
            .map(|e| e.descriptor.digest.to_string())
            .collect();
        let ManifestView::Index { manifests, .. } = f.root.view().unwrap() else {
            panic!()
        };
        assert_eq!(
            order,
            manifests
                .iter()
                .map(|d| d.digest.to_string())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn policies_for_attestations_and_platformless_entries() {
        let f = load(OCI);
        let s = Selector {
            attestations: false,
            platformless: PlatformlessPolicy::Skip,
            ..sel(&["linux/amd64"])
        };
        let p = run(&f, &s).unwrap();
        assert!(p
            .entries
            .iter()
            .filter(|e| e.descriptor.attestation_subject().is_some())
            .all(|e| e.decision == Decision::Skip(SkipReason::AttestationsDisabled)));
        let artifact = p
            .entries
            .iter()
            .find(|e| e.descriptor.artifact_type.is_some())
            .unwrap();
        assert_eq!(artifact.decision, Decision::Skip(SkipReason::Platformless));
        assert_eq!(p.manifests.len(), 1);
        // No filter: everything, not sparse.
        let all = run(&f, &Selector::all()).unwrap();
        assert!(!all.sparse);
        assert!(all
            .entries
            .iter()
            .all(|e| e.decision == Decision::Copy(Reason::AllPlatforms)));
    }

    #[test]
    fn nothing_selected_lists_platforms() {
        let f = load(OCI);
        let e = run(&f, &sel(&["linux/riscv64"])).unwrap_err();
        let Error::NothingSelected { available, .. } = e else {
            panic!("{e}")
        };
        assert_eq!(
            available,
            vec!["linux/amd64", "linux/arm64/v8", "linux/s390x"]
        );
        // A literal pattern that matches nothing next to one that does is reported as unmatched.
        let p = run(&f, &sel(&["linux/amd64", "linux/riscv64", "linux/mips*"])).unwrap();
        assert_eq!(p.unmatched, vec!["linux/riscv64"]);
    }

    #[test]
    fn docker_list_behaves_like_an_oci_index() {
        let f = load(DOCKER);
        let p = run(&f, &sel(&["linux/arm"])).unwrap();
        assert_eq!(p.root.media_type, media::DOCKER_LIST);
        assert_eq!(p.manifests.len(), 1);
        assert_eq!(p.manifests[0].media_type, media::DOCKER_MANIFEST);
        assert!(decision_of(&p, "linux/arm/v7").is_copy());
        assert!(p
            .blobs
            .iter()
            .all(|b| b.media_type.starts_with("application/vnd.docker.")));
    }

    #[test]
    fn nested_index_is_walked_and_pushed_after_its_children() {
        let f = load(NESTED);
        // First call: the planner asks for the inner index.
        let absent = HashSet::new();
        let empty = HashMap::new();
        let inputs = Inputs {
            fetched: &empty,
            absent: &absent,
            root_platform: None,
            source_ref: "src",
        };
        let Outcome::Need(need) = plan(&f.root, &sel(&["linux/amd64"]), &inputs).unwrap() else {
            panic!()
        };
        assert_eq!(
            need.len(),
            1,
            "only the inner index: the s390x child is not selected, so not fetched"
        );
        assert_eq!(media::kind(&need[0].media_type), Kind::Index);
        let p = run(&f, &sel(&["linux/amd64"])).unwrap();
        let inner_pos = p
            .manifests
            .iter()
            .position(|m| m.is_index())
            .expect("inner index pushed");
        let amd_pos = p.manifests.iter().position(|m| !m.is_index()).unwrap();
        assert!(
            amd_pos < inner_pos,
            "children before the index that lists them"
        );
        let inner = p
            .entries
            .iter()
            .find(|e| media::kind(&e.descriptor.media_type) == Kind::Index)
            .unwrap();
        assert_eq!(inner.decision, Decision::Copy(Reason::NestedIndex));
        assert!(p.sparse);
        // Selecting only s390x leaves the inner index out entirely.
        let p = run(&f, &sel(&["linux/s390x"])).unwrap();
        assert!(p.manifests.iter().all(|m| !m.is_index()));
        let inner = p
            .entries
            .iter()
            .find(|e| media::kind(&e.descriptor.media_type) == Kind::Index)
            .unwrap();
        assert_eq!(inner.decision, Decision::Skip(SkipReason::NestedIndexEmpty));
    }

    #[test]
    fn absent_children_are_skipped_as_not_in_source() {
        let f = load(OCI);
        let s390 = f.root.view().map(|v| match v {
            ManifestView::Index { manifests, .. } => manifests[2].digest.clone(),
            _ => unreachable!(),
        });
        let absent: HashSet<Digest> = [s390.unwrap()].into();
        let inputs = Inputs {
            fetched: &f.children,
            absent: &absent,
            root_platform: None,
            source_ref: "src",
        };
        let Outcome::Complete(p) = plan(&f.root, &Selector::all(), &inputs).unwrap() else {
            panic!()
        };
        assert!(p.sparse);
        assert_eq!(p.skipped().count(), 1);
        assert_eq!(
            p.skipped().next().unwrap().decision,
            Decision::Skip(SkipReason::NotInSource)
        );
    }

    #[test]
    fn filtered_index_lists_only_copied_entries() {
        let f = load(NESTED);
        let p = run(&f, &sel(&["linux/amd64"])).unwrap();
        let (root, nested) = filtered_indexes(&p).unwrap();
        assert_ne!(root.digest, f.root.digest);
        assert_eq!(nested.len(), 1);
        let ManifestView::Index { manifests, .. } = root.view().unwrap() else {
            panic!()
        };
        assert_eq!(manifests.len(), 1, "only the (rewritten) inner index");
        assert_eq!(manifests[0].digest, nested[0].digest);
        assert_eq!(manifests[0].size, nested[0].bytes.len() as u64);
        let ManifestView::Index {
            manifests: inner, ..
        } = nested[0].view().unwrap()
        else {
            panic!()
        };
        assert_eq!(inner.len(), 1);
        assert_eq!(inner[0].platform.as_ref().unwrap().architecture, "amd64");
        // Deterministic: the same plan gives the same bytes (reruns recognise it).
        assert_eq!(filtered_indexes(&p).unwrap().0.digest, root.digest);
    }

    #[test]
    fn deep_nesting_is_refused() {
        // An index chain deeper than MAX_DEPTH: each level lists the next.
        let leaf = Bytes::from_static(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#);
        let mut fetched = HashMap::new();
        let mut cur = RawManifest {
            digest: Digest::sha256_of(&leaf),
            bytes: leaf,
            media_type: media::OCI_INDEX.into(),
        };
        for _ in 0..MAX_DEPTH + 1 {
            let text = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{}","size":{}}}]}}"#,
                cur.digest,
                cur.bytes.len()
            );
            fetched.insert(cur.digest.clone(), cur.clone());
            let b = Bytes::from(text);
            cur = RawManifest {
                digest: Digest::sha256_of(&b),
                bytes: b,
                media_type: media::OCI_INDEX.into(),
            };
        }
        let absent = HashSet::new();
        let inputs = Inputs {
            fetched: &fetched,
            absent: &absent,
            root_platform: None,
            source_ref: "src",
        };
        let e = plan(&cur, &Selector::all(), &inputs).unwrap_err();
        assert!(
            e.to_string().contains("index") && format!("{e:?}").contains("nested deeper"),
            "{e:?}"
        );
    }
}

#[cfg(test)]
mod cycle_tests {
    use super::*;
    use crate::model::manifest::ManifestError;

    // An index cannot list itself for real (its digest covers the list): only a source that
    // serves bytes under a digest they do not have could present one, and verification refuses
    // that first. The planner still refuses cycles and runaway nesting on its own.

    fn index(entries: &[&Digest], digest: Option<Digest>) -> RawManifest {
        let list: Vec<String> = entries
            .iter()
            .map(|d| {
                format!(
                    r#"{{"mediaType":"{}","digest":"{d}","size":1}}"#,
                    media::OCI_INDEX
                )
            })
            .collect();
        let text = format!(
            r#"{{"mediaType":"{}","manifests":[{}]}}"#,
            media::OCI_INDEX,
            list.join(",")
        );
        let bytes = Bytes::from(text);
        RawManifest {
            digest: digest.unwrap_or_else(|| Digest::sha256_of(&bytes)),
            bytes,
            media_type: media::OCI_INDEX.into(),
        }
    }

    fn fake_digest(n: usize) -> Digest {
        format!("sha256:{n:064x}").parse().unwrap()
    }

    fn refusal(root: &RawManifest, fetched: &HashMap<Digest, RawManifest>) -> String {
        let absent = HashSet::new();
        let inputs = Inputs {
            fetched,
            absent: &absent,
            root_platform: None,
            source_ref: "src",
        };
        match plan(root, &Selector::all(), &inputs) {
            Err(Error::Manifest {
                what,
                source: ManifestError::Invalid(why),
            }) => format!("{what}: {why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_index_cycle_is_refused() {
        let nested = fake_digest(1);
        let root = index(&[&nested], None);
        // Through a nested index that lists itself.
        let looped = index(&[&nested], Some(nested.clone()));
        let fetched = HashMap::from([(nested.clone(), looped)]);
        let why = refusal(&root, &fetched);
        assert!(why.contains("contains itself"), "{why}");
        assert!(why.contains(nested.as_str()), "{why}");
        // Through a nested index that lists the root.
        let back = index(&[&root.digest], Some(nested.clone()));
        let fetched = HashMap::from([(nested.clone(), back)]);
        let why = refusal(&root, &fetched);
        assert!(why.contains("contains itself"), "{why}");
    }

    #[test]
    fn runaway_nesting_is_refused() {
        let chain: Vec<Digest> = (1..=MAX_DEPTH + 2).map(fake_digest).collect();
        let mut fetched = HashMap::new();
        for w in chain.windows(2) {
            fetched.insert(w[0].clone(), index(&[&w[1]], Some(w[0].clone())));
        }
        let root = index(&[&chain[0]], None);
        let why = refusal(&root, &fetched);
        assert!(
            why.contains(&format!("deeper than {MAX_DEPTH} levels")),
            "{why}"
        );
    }
}
