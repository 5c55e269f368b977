//! What the target holds for one image, decided in one place.
//!
//! [`read`] asks the target what its reference resolves to (one HEAD), reads the source's index
//! (from the manifest cache, else from the target when the tag names it, else from the source),
//! works out the selection with the shallow planner ([`plan::plan_shallow`]: nested indexes are
//! read, image manifests are not), and HEADs each selected child on the target. That is at most
//! one index GET (plus one per nested index) and one HEAD per selected child.
//!
//! The states ([`TargetState`]):
//! - `Absent`: the reference resolves to nothing;
//! - `Current`: it names the source index and every selected child is present;
//! - `Filtered`: it names the index `--on-reject filter` makes from this source and this
//!   selection, and every selected child is present;
//! - `MissingChildren`: it names one of those two, but selected children are missing;
//! - `Other`: it names another digest.
//!
//! A filtered index is recognised by its digest: [`plan::filtered_indexes`] is deterministic, so
//! the index the target holds must be exactly what `--on-reject filter` would push now. An
//! index listing some other subset of the source's children (an older selection, say, before a
//! platform was added) is `Other`: its children are fine, but the index does not list what the
//! selection asks for, so it has to be pushed again. Recognising it costs no extra request (the
//! source index is read anyway when the target names another digest).
//!
//! Whether a state is acceptable depends on `--on-reject`: `Filtered` is complete only when the
//! user asked for filtering ([`TargetState::is_complete`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::engine::copy::types::{descriptor_of, OnReject};
use crate::engine::image::reader::{ManifestCache, OnTarget, PullGate, Tiered};
use crate::engine::plan::{self, Inputs, Outcome, Plan};
use crate::engine::resolve;
use crate::engine::select::Selector;
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::model::platform::Platform;
use crate::transport::Storage;

/// What the target reference holds, compared with what the job wants there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TargetState {
    /// The reference resolves to nothing.
    Absent,
    /// The source index, with every selected child present.
    Current {
        /// The source index digest (what the reference resolves to).
        digest: Digest,
    },
    /// The `--on-reject filter` index of this source and selection, every child present.
    Filtered {
        /// The source index digest.
        source_digest: Digest,
        /// The filtered index the reference resolves to.
        filtered_digest: Digest,
    },
    /// The source index or its filtered index, with selected children missing.
    MissingChildren {
        /// The source index digest.
        source_digest: Digest,
        /// What the reference resolves to: the source digest, or the filtered index's.
        holds: Digest,
        /// The selected children the target lacks (and the source has).
        missing: Vec<MissingChild>,
    },
    /// Another digest.
    Other {
        /// What the reference resolves to.
        digest: Digest,
    },
}

/// A selected child manifest the target lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingChild {
    /// Its digest.
    pub digest: Digest,
    /// `linux/amd64`, `attestation of <short digest>`, or null.
    pub platform: Option<String>,
}

impl TargetState {
    /// What the target reference resolves to.
    pub fn resolves_to(&self) -> Option<&Digest> {
        match self {
            TargetState::Absent => None,
            TargetState::Current { digest } | TargetState::Other { digest } => Some(digest),
            TargetState::Filtered {
                filtered_digest, ..
            } => Some(filtered_digest),
            TargetState::MissingChildren { holds, .. } => Some(holds),
        }
    }

    /// The target already holds what was asked for: the source index, or its filtered index
    /// when `--on-reject filter` is the policy.
    pub fn is_complete(&self, on_reject: OnReject) -> bool {
        match self {
            TargetState::Current { .. } => true,
            TargetState::Filtered { .. } => on_reject == OnReject::Filter,
            _ => false,
        }
    }

    /// The kebab-case name (`absent`, `current`, `filtered`, `missing-children`, `other`).
    pub fn name(&self) -> &'static str {
        match self {
            TargetState::Absent => "absent",
            TargetState::Current { .. } => "current",
            TargetState::Filtered { .. } => "filtered",
            TargetState::MissingChildren { .. } => "missing-children",
            TargetState::Other { .. } => "other",
        }
    }

    /// One line for people, naming every digest involved.
    pub fn describe(&self) -> String {
        match self {
            TargetState::Absent => "absent (the reference resolves to nothing)".into(),
            TargetState::Current { digest } => format!("current: holds the source index {digest}"),
            TargetState::Filtered {
                source_digest,
                filtered_digest,
            } => format!(
                "filtered: holds the filtered index {filtered_digest} of the source index {source_digest} (--on-reject filter)"
            ),
            TargetState::MissingChildren {
                source_digest,
                holds,
                missing,
            } => {
                let what = if holds == source_digest {
                    format!("the source index {holds}")
                } else {
                    format!("the filtered index {holds} of the source index {source_digest}")
                };
                format!(
                    "missing children: holds {what}, but {} selected child manifest(s) are missing",
                    missing.len()
                )
            }
            TargetState::Other { digest } => format!("holds another digest, {digest}"),
        }
    }
}

/// Everything the state read learnt, for the stages after it.
pub struct Reading {
    /// The decision.
    pub state: TargetState,
    /// The source root digest.
    pub source_digest: Digest,
    /// The source root manifest.
    pub root: RawManifest,
    /// The selection (a shallow plan); `None` when the target holds nothing, or for a
    /// single-image root.
    pub selection: Option<Plan>,
    /// The filtered root when the target holds it.
    pub filtered_root: Option<RawManifest>,
    /// Manifests known to be on the target (read there, or HEADed present).
    pub present: HashSet<Digest>,
    /// Selected children HEADed on the target.
    pub children_checked: usize,
    /// Selected children that neither the target nor the source holds (HEADed on both): a
    /// plan need not GET them to learn that ([`Tiered::knowing_absent`]).
    pub not_in_source: HashSet<Digest>,
}

/// The parameters of a read.
pub struct ReadArgs<'a> {
    /// The tag or digest on the source.
    pub source_reference: &'a str,
    /// The tag on the target; `None`: the source digest.
    pub target_tag: Option<&'a str>,
    /// The selection.
    pub selector: &'a Selector,
    /// The source, for messages.
    pub source_text: &'a str,
    /// Concurrent HEADs.
    pub jobs: usize,
    /// The local manifest cache.
    pub cache: Option<Arc<ManifestCache>>,
    /// Awaited before each source GET.
    pub gate: Option<Arc<dyn PullGate>>,
}

/// Read the target's state (see the module docs). `dst` is `None` for a target that does not
/// exist yet.
///
/// The source is asked with HEAD first; its root is read from the cache, or from the target
/// when the tag names it there, and only otherwise from the source (by the source reference, as
/// given: a tag that moved since the HEAD is taken as it is now).
pub async fn read<E: Storage>(
    src: &Arc<E>,
    dst: Option<&Arc<E>>,
    a: &ReadArgs<'_>,
) -> Result<Reading> {
    let pull = |a: &ReadArgs<'_>| {
        let gate = a.gate.clone();
        let (reference, src) = (a.source_reference.to_string(), src.clone());
        async move {
            if let Some(g) = gate {
                g.before_pull().await?;
            }
            resolve::root(src.as_ref(), &reference).await
        }
    };
    let head = src
        .resolve(a.source_reference)
        .await
        .map_err(|e| e.context(format!("checking {} (HEAD)", a.source_text)))?;
    // HEAD 404: the GET names the missing object with the registry's own answer.
    let mut root = match head {
        Some(_) => None,
        None => Some(pull(a).await?),
    };
    let mut sd = match (&head, &root) {
        (Some(d), _) => d.clone(),
        (None, Some(r)) => r.digest.clone(),
        (None, None) => unreachable!("read above"),
    };
    let target_reference = a.target_tag.map_or_else(|| sd.to_string(), str::to_string);
    let td = match dst {
        Some(d) => d.resolve(&target_reference).await.map_err(|e| {
            e.context(format!(
                "checking {target_reference} on {} (HEAD)",
                d.describe()
            ))
        })?,
        None => None,
    };
    let mut current = td.as_ref() == Some(&sd);
    let tiered = Tiered::new(
        src.clone(),
        dst.cloned(),
        if current {
            OnTarget::Anything
        } else {
            OnTarget::Nothing
        },
        a.cache.clone(),
        a.gate.clone(),
    );
    let cached = match (&root, &a.cache) {
        (None, Some(c)) => c.get(&sd, None).await,
        _ => None,
    };
    let root = match (root.take(), cached) {
        (Some(r), _) | (None, Some(r)) => r,
        (None, None) if current => tiered
            .fetch_manifest(sd.as_str(), None)
            .await
            .map_err(|e| e.context(format!("fetching {} ({sd})", a.source_text)))?,
        (None, None) => {
            let r = pull(a).await?;
            if r.digest != sd {
                // The source tag moved since the HEAD: this is the image now.
                sd = r.digest.clone();
                current = td.as_ref() == Some(&sd);
            }
            if let (Some(c), true) = (&a.cache, r.is_index()) {
                c.put(&r).await;
            }
            r
        }
    };
    let sd = &sd;
    let mut reading = Reading {
        state: TargetState::Absent,
        source_digest: sd.clone(),
        root,
        selection: None,
        filtered_root: None,
        present: HashSet::new(),
        children_checked: 0,
        not_in_source: HashSet::new(),
    };
    let (Some(td), Some(dst)) = (td, dst) else {
        return Ok(reading);
    };
    if !reading.root.is_index() {
        // A single image has no children: the tag names it or not (its platform was checked
        // when it was copied; reading its config again would be a source GET).
        reading.state = match current {
            true => TargetState::Current { digest: td.clone() },
            false => TargetState::Other { digest: td.clone() },
        };
        if current {
            reading.present.insert(td);
        }
        return Ok(reading);
    }
    let selection = selection(&tiered, &reading.root, a.selector, None, a.source_text).await?;
    reading.present = tiered.read_from_target();
    let children: Vec<Descriptor> = if current {
        selected_children(&selection, None)
    } else if selection.sparse {
        let (froot, nested) = plan::filtered_indexes(&selection)?;
        if froot.digest != td {
            reading.selection = Some(selection);
            reading.state = TargetState::Other { digest: td };
            return Ok(reading);
        }
        reading.filtered_root = Some(froot);
        selected_children(&selection, Some(&nested))
    } else {
        reading.selection = Some(selection);
        reading.state = TargetState::Other { digest: td };
        return Ok(reading);
    };
    let unknown: Vec<Descriptor> = children
        .iter()
        .filter(|d| !reading.present.contains(&d.digest))
        .cloned()
        .collect();
    reading.children_checked = children.len();
    let Lacking {
        missing,
        not_in_source,
    } = missing_on(src, dst, &unknown, a.jobs).await?;
    reading.not_in_source = not_in_source;
    let missing_set: HashSet<&Digest> = missing.iter().map(|d| &d.digest).collect();
    reading.present.extend(
        children
            .iter()
            .filter(|d| !missing_set.contains(&d.digest))
            .map(|d| d.digest.clone()),
    );
    reading.present.insert(td.clone());
    reading.state = if !missing.is_empty() {
        TargetState::MissingChildren {
            source_digest: sd.clone(),
            holds: td,
            missing: missing
                .iter()
                .map(|d| MissingChild {
                    digest: d.digest.clone(),
                    platform: child_platform(&selection, &d.digest),
                })
                .collect(),
        }
    } else if current {
        TargetState::Current { digest: td }
    } else {
        TargetState::Filtered {
            source_digest: sd.clone(),
            filtered_digest: td,
        }
    };
    reading.selection = Some(selection);
    Ok(reading)
}

/// The shallow plan of `root`: nested indexes (and possible referrer-style attestations) are
/// read through `from`, image manifests are not.
pub async fn selection<S: Storage>(
    from: &S,
    root: &RawManifest,
    sel: &Selector,
    root_platform: Option<&Platform>,
    source_text: &str,
) -> Result<Plan> {
    let mut fetched: HashMap<Digest, RawManifest> = HashMap::new();
    let absent = HashSet::new();
    for _round in 0..=plan::MAX_DEPTH + 1 {
        let inputs = Inputs {
            fetched: &fetched,
            absent: &absent,
            root_platform,
            source_ref: source_text,
        };
        match plan::plan_shallow(root, sel, &inputs)? {
            Outcome::Complete(p) => return Ok(*p),
            Outcome::Need(list) => {
                for d in list {
                    let hint = Some(d.media_type.as_str()).filter(|m| !m.is_empty());
                    let m = from
                        .fetch_manifest(d.digest.as_str(), hint)
                        .await
                        .map_err(|e| {
                            e.context(format!(
                                "fetching child manifest {} of {source_text}",
                                d.digest
                            ))
                        })?;
                    fetched.insert(d.digest.clone(), m);
                }
            }
        }
    }
    Err(Error::Internal(
        "working out the selected children did not converge".into(),
    ))
}

/// The selected child manifests: every manifest the plan read or left unread, with nested
/// indexes replaced by their filtered versions when `filtered` is given.
fn selected_children(p: &Plan, filtered: Option<&[RawManifest]>) -> Vec<Descriptor> {
    let mut out: Vec<Descriptor> = p
        .manifests
        .iter()
        .filter(|m| filtered.is_none() || !m.is_index())
        .map(descriptor_of)
        .collect();
    out.extend(filtered.unwrap_or_default().iter().map(descriptor_of));
    out.extend(p.unread.iter().cloned());
    let mut seen = HashSet::new();
    out.retain(|d| seen.insert(d.digest.clone()));
    out
}

/// `linux/amd64`, `attestation of <short>`, or `None`, from the plan's entries.
pub fn child_platform(p: &Plan, d: &Digest) -> Option<String> {
    p.entries
        .iter()
        .find(|e| &e.descriptor.digest == d)
        .map(|e| match e.descriptor.attestation_subject() {
            Some(s) => format!("attestation of {}", s.short()),
            None => e.platform_text(),
        })
}

/// What [`missing_on`] learnt about the children the target lacks.
#[derive(Default)]
struct Lacking {
    /// Missing on the target, held by the source (in the list's order).
    missing: Vec<Descriptor>,
    /// Missing on the target and not in the source either.
    not_in_source: HashSet<Digest>,
}

/// HEAD each descriptor on `dst`, and each one `dst` lacks on `src` (a child the source lacks
/// too is a sparse source, not a fault of the mirror). `jobs` descriptors are checked at a
/// time, the two HEADs of one after each other: an index with thousands of children the source
/// lacks (a hostile or half-deleted source) costs seconds, not one source round trip after
/// another (issue 21). `buffered` keeps the list's order (the first error in it wins) and holds
/// at most `jobs` answers ahead of the oldest.
async fn missing_on<E: Storage>(
    src: &Arc<E>,
    dst: &Arc<E>,
    list: &[Descriptor],
    jobs: usize,
) -> Result<Lacking> {
    let checks = futures_util::stream::iter(list.iter().cloned())
        .map(|d| async move {
            let on_target = dst.has_manifest(&d).await.map_err(|e| {
                e.context(format!(
                    "checking manifest {} on {}",
                    d.digest,
                    dst.describe()
                ))
            })?;
            if on_target {
                return Ok(None);
            }
            let in_source = src
                .has_manifest(&d)
                .await
                .map_err(|e| e.context(format!("checking {} on {}", d.digest, src.describe())))?;
            Ok::<_, Error>(Some((d, in_source)))
        })
        .buffered(jobs.max(1));
    let mut checks = std::pin::pin!(checks);
    let mut out = Lacking::default();
    while let Some(checked) = checks.try_next().await? {
        match checked {
            None => {}
            Some((d, true)) => out.missing.push(d),
            Some((d, false)) => {
                out.not_in_source.insert(d.digest);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::transport::{BlobBody, Pushed};

    /// Answers `has_manifest` from `holds` after a delay that shrinks along the list (so later
    /// checks finish first), counting the checks in flight across both sides.
    struct Slow {
        holds: HashSet<Digest>,
        in_flight: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
    }

    impl Storage for Slow {
        fn describe(&self) -> String {
            "slow".into()
        }
        async fn has_manifest(&self, d: &Descriptor) -> Result<bool> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(40 - d.size)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(self.holds.contains(&d.digest))
        }
        async fn fetch_manifest(&self, _: &str, _: Option<&str>) -> Result<RawManifest> {
            Err(Error::Internal("not asked".into()))
        }
        async fn resolve(&self, _: &str) -> Result<Option<Digest>> {
            Err(Error::Internal("not asked".into()))
        }
        async fn has_blob(&self, _: &Descriptor) -> Result<bool> {
            Err(Error::Internal("not asked".into()))
        }
        async fn fetch_blob(&self, _: &Descriptor) -> Result<BlobBody> {
            Err(Error::Internal("not asked".into()))
        }
        async fn push_blob(&self, _: &Descriptor, _: BlobBody) -> Result<()> {
            Err(Error::Internal("not asked".into()))
        }
        async fn push_manifest(&self, _: &RawManifest, _: Option<&str>) -> Result<Pushed> {
            Err(Error::Internal("not asked".into()))
        }
        fn is_registry(&self) -> bool {
            true
        }
        async fn list_tags(&self) -> Result<Vec<String>> {
            Err(Error::Internal("not asked".into()))
        }
        async fn finish(&self) -> Result<()> {
            Ok(())
        }
    }

    /// Issue 21: the children the target lacks are checked on the source `jobs` at a time, not
    /// one after another, and the answer keeps the list's order whatever order the checks end in.
    #[tokio::test]
    async fn children_are_checked_jobs_at_a_time_in_order() {
        let list: Vec<Descriptor> = (0..12u64)
            .map(|i| Descriptor {
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                digest: Digest::sha256_of(format!("child {i}").as_bytes()),
                size: i * 3,
                platform: None,
                artifact_type: None,
                annotations: Default::default(),
                urls: vec![],
            })
            .collect();
        let (in_flight, most) = (Arc::default(), Arc::default());
        let side = |pick: &dyn Fn(usize) -> bool| {
            Arc::new(Slow {
                holds: (0..list.len())
                    .filter(|&i| pick(i))
                    .map(|i| list[i].digest.clone())
                    .collect(),
                in_flight: Arc::clone(&in_flight),
                most: Arc::clone(&most),
            })
        };
        // The target holds every third child; the source every even one.
        let dst = side(&|i| i % 3 == 0);
        let src = side(&|i| i % 2 == 0);
        let lacking = missing_on(&src, &dst, &list, 3).await.unwrap();
        let index = |d: &Digest| list.iter().position(|x| &x.digest == d).unwrap();
        let missing: Vec<usize> = lacking.missing.iter().map(|d| index(&d.digest)).collect();
        assert_eq!(missing, [2, 4, 8, 10]);
        let mut absent: Vec<usize> = lacking.not_in_source.iter().map(index).collect();
        absent.sort();
        assert_eq!(absent, [1, 5, 7, 11]);
        let most = most.load(Ordering::SeqCst);
        assert!((2..=3).contains(&most), "{most} checks at once with 3 jobs");
    }
}
