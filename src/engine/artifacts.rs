//! Supply-chain artifacts: the I/O half. [`discover`] reads the source (the resolve step for
//! artifacts), [`copy()`] writes the target after the image itself (the copy step).
//!
//! Discovery, for the subjects `referrers::subjects` names (the root and every copied entry):
//! - `--referrers`: `GET /v2/<name>/referrers/<digest>` (all `Link` pages); on 404, or for an
//!   OCI layout, the `sha256-<hex>` fallback tag. Breadth-first, so referrers of referrers
//!   (a signature on an SBOM) are found too, up to [`MAX_REFERRER_DEPTH`] levels. Each referrer
//!   is fetched by digest, checked against its listed size and its `subject`, filtered by
//!   `--referrers-artifact-type` (and `--no-attestations` for buildx attestations).
//! - `--digest-tags`: one `tags/list` walk (paginated), keeping `sha256-<hex>.<suffix>` tags
//!   of the subjects.
//!
//! Copy, after the subjects are on the target: blobs (deduplicated, concurrent, verified),
//! then manifests in discovery order (an index artifact's children first), referrers by
//! digest and digest tags by tag. Then, per subject, unless every referrer PUT was answered
//! with `OCI-Subject`, the target's fallback index is merged (never dropping other entries),
//! pushed by tag and read back; if a concurrent writer replaced it, the merge is redone.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{stream, StreamExt};

use crate::engine::plan::Plan;
use crate::engine::progress::{Event, Reporter};
use crate::engine::referrers::{
    self, artifact_type_of, fallback_tag, index_entries, subject_of, Artifact, ArtifactPlan,
    ArtifactTypeFilter, Skipped, Via, MAX_REFERRER_DEPTH,
};
use crate::error::{Error, Result};
use crate::model::digest::{Digest, VerifyError};
use crate::model::manifest::{Descriptor, ManifestView, RawManifest};
use crate::model::media::DOCKER_ATTESTATION;

use crate::transport::Storage;

pub(crate) mod target;
use target::missing;
pub use target::{copy, ArtifactOutcome};

/// What to discover and copy.
#[derive(Debug, Clone, Default)]
pub struct ArtifactOptions {
    /// `--referrers`.
    pub referrers: bool,
    /// `--referrers-artifact-type`.
    pub types: ArtifactTypeFilter,
    /// `--digest-tags`.
    pub digest_tags: bool,
    /// Copy buildx attestation referrers (not `--no-attestations`).
    pub attestations: bool,
    /// `--include-foreign-layers`.
    pub include_foreign: bool,
    /// Concurrency for discovery requests.
    pub jobs: usize,
}

impl ArtifactOptions {
    /// Whether anything is asked for.
    pub fn enabled(&self) -> bool {
        self.referrers || self.digest_tags
    }
}

/// Fetch a manifest by digest and check it against its descriptor's size.
async fn fetch_exact<S: Storage>(src: &S, d: &Descriptor) -> Result<RawManifest> {
    let hint = Some(d.media_type.as_str()).filter(|m| !m.is_empty());
    let m = src.fetch_manifest(d.digest.as_str(), hint).await?;
    if m.bytes.len() as u64 != d.size {
        return Err(Error::Verify {
            what: format!("manifest {} from {}", d.digest, src.describe()),
            source: VerifyError::Size {
                expected: d.size,
                actual: m.bytes.len() as u64,
            },
        });
    }
    Ok(m)
}

type Graph = (Vec<RawManifest>, Vec<Descriptor>, Vec<Descriptor>);
type Listed = (Via, Vec<Descriptor>);

/// Everything a manifest needs on the target: child manifests (leaves first) for an index,
/// and blobs. Foreign layers are left out unless `include_foreign`.
fn graph<'a, S: Storage>(
    src: &'a S,
    m: &'a RawManifest,
    include_foreign: bool,
    depth: usize,
    out: &'a mut Graph,
) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
    Box::pin(async move {
        let view = m.view().map_err(|source| Error::Manifest {
            what: format!("manifest {} from {}", m.digest, src.describe()),
            source,
        })?;
        match view {
            ManifestView::Image { config, layers, .. } => {
                for b in std::iter::once(config).chain(layers) {
                    let list = if b.is_foreign() && !include_foreign {
                        &mut out.2
                    } else {
                        &mut out.1
                    };
                    if !list.iter().any(|x| x.digest == b.digest) {
                        list.push(b);
                    }
                }
            }
            ManifestView::Index { manifests, .. } => {
                if depth > crate::engine::plan::MAX_DEPTH {
                    return Err(Error::Manifest {
                        what: format!("artifact index {}", m.digest),
                        source: crate::model::manifest::ManifestError::Invalid(
                            "indexes nested too deep".into(),
                        ),
                    });
                }
                for d in manifests {
                    if out.0.iter().any(|c| c.digest == d.digest) {
                        continue;
                    }
                    let child = fetch_exact(src, &d).await.map_err(|e| {
                        e.context(format!(
                            "fetching {} listed by artifact {}",
                            d.digest, m.digest
                        ))
                    })?;
                    graph(src, &child, include_foreign, depth + 1, out).await?;
                    out.0.push(child);
                }
            }
        }
        Ok(())
    })
}

async fn build<S: Storage>(
    src: &S,
    m: RawManifest,
    subject: Digest,
    via: Via,
    tag: Option<String>,
    include_foreign: bool,
) -> Result<Artifact> {
    let mut g: Graph = (vec![], vec![], vec![]);
    graph(src, &m, include_foreign, 0, &mut g).await?;
    Ok(Artifact {
        subject,
        via,
        tag,
        artifact_type: artifact_type_of(&m),
        manifest: m,
        children: g.0,
        blobs: g.1,
        foreign: g.2,
    })
}

/// The referrers the source lists for `subject`: its API, else its fallback tag.
async fn list_source<S: Storage>(
    src: &S,
    subject: &Digest,
    types: &ArtifactTypeFilter,
    reporter: &Arc<dyn Reporter>,
) -> Result<Listed> {
    let ctx = |e: Error| {
        e.context(format!(
            "listing referrers of {subject} on {}",
            src.describe()
        ))
    };
    if let Some(list) = src
        .referrers(subject, types.server_filter())
        .await
        .map_err(ctx)?
    {
        return Ok((Via::ReferrersApi, list.descriptors));
    }
    let tag = fallback_tag(subject);
    if src.resolve(&tag).await.map_err(ctx)?.is_none() {
        return Ok((Via::FallbackTag, vec![]));
    }
    let fetched = src.fetch_manifest(&tag, None).await;
    match fetched.and_then(|m| index_entries(&m)) {
        Ok(entries) => Ok((Via::FallbackTag, entries)),
        Err(e) if missing(&e) => Ok((Via::FallbackTag, vec![])),
        Err(e @ Error::Manifest { .. }) => {
            reporter.event(Event::Warning(format!(
                "tag {tag} on {} is not a referrers index, so {subject} has no referrers there: {e}",
                src.describe()
            )));
            Ok((Via::FallbackTag, vec![]))
        }
        Err(e) => Err(ctx(e)),
    }
}

/// Find the referrers and digest tags of the plan's subjects on the source.
pub async fn discover<S: Storage>(
    src: &S,
    plan: &Plan,
    opts: &ArtifactOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<ArtifactPlan> {
    let subjects = referrers::subjects(plan);
    let mut out = ArtifactPlan::default();
    let jobs = opts.jobs.max(1);
    if opts.referrers {
        reporter.event(Event::Stage("referrers"));
        let mut taken: HashSet<Digest> = HashSet::new();
        let mut level = subjects.clone();
        let mut queried: HashSet<Digest> = HashSet::new();
        for depth in 0..=MAX_REFERRER_DEPTH {
            level.retain(|d| queried.insert(d.clone()));
            if level.is_empty() {
                break;
            }
            if depth == MAX_REFERRER_DEPTH {
                reporter.event(Event::Warning(format!(
                    "referrers nested deeper than {MAX_REFERRER_DEPTH} levels were not followed (below {})",
                    level.iter().map(Digest::short).collect::<Vec<_>>().join(", ")
                )));
                break;
            }
            let lists: Vec<(Digest, Result<Listed>)> = stream::iter(level)
                .map(|s| async move {
                    let r = list_source(src, &s, &opts.types, reporter).await;
                    (s, r)
                })
                .buffered(jobs)
                .collect()
                .await;
            let mut candidates = vec![];
            for (subject, r) in lists {
                let (via, descs) = r?;
                for d in descs {
                    if !taken.insert(d.digest.clone()) {
                        continue;
                    }
                    if d.artifact_type.is_some() && !opts.types.matches(d.artifact_type.as_deref())
                    {
                        out.skipped.push(Skipped {
                            digest: d.digest.clone(),
                            subject: subject.clone(),
                            artifact_type: d.artifact_type.clone(),
                            reason: format!(
                                "artifact type not in --referrers-artifact-type {}",
                                opts.types.describe()
                            ),
                        });
                        continue;
                    }
                    candidates.push((subject.clone(), via, d));
                }
            }
            let fetched: Vec<_> = stream::iter(candidates)
                .map(|(subject, via, d)| async move {
                    let r = fetch_exact(src, &d).await;
                    (subject, via, d, r)
                })
                .buffered(jobs)
                .collect()
                .await;
            let mut next = vec![];
            for (subject, via, d, r) in fetched {
                let skip = |reason: String, at: Option<String>| Skipped {
                    digest: d.digest.clone(),
                    subject: subject.clone(),
                    artifact_type: at,
                    reason,
                };
                let m = match r {
                    Ok(m) => m,
                    Err(e) if missing(&e) => {
                        reporter.event(Event::Warning(format!(
                            "referrer {} of {} is listed on {} but cannot be fetched: {e}",
                            d.digest,
                            subject.short(),
                            src.describe()
                        )));
                        out.skipped.push(skip(
                            "listed by the source but not present".into(),
                            d.artifact_type.clone(),
                        ));
                        continue;
                    }
                    Err(e) => {
                        return Err(e.context(format!(
                            "fetching referrer {} of {} from {}",
                            d.digest,
                            subject,
                            src.describe()
                        )))
                    }
                };
                let at = artifact_type_of(&m);
                if subject_of(&m).as_ref() != Some(&subject) {
                    out.skipped.push(skip(
                        format!(
                            "its subject is {}, not {} (a stale fallback index?)",
                            subject_of(&m).map_or("none".into(), |s| s.to_string()),
                            subject
                        ),
                        at,
                    ));
                    continue;
                }
                if !opts.types.matches(at.as_deref()) {
                    out.skipped.push(skip(
                        format!(
                            "artifact type not in --referrers-artifact-type {}",
                            opts.types.describe()
                        ),
                        at,
                    ));
                    continue;
                }
                if at.as_deref() == Some(DOCKER_ATTESTATION) && !opts.attestations {
                    out.skipped.push(skip("--no-attestations".into(), at));
                    continue;
                }
                let digest = m.digest.clone();
                let a = build(src, m, subject.clone(), via, None, opts.include_foreign)
                    .await
                    .map_err(|e| e.context(format!("collecting referrer {digest}")))?;
                out.artifacts.push(a);
                next.push(digest);
            }
            level = next;
        }
    }
    if opts.digest_tags {
        reporter.event(Event::Stage("digest tags"));
        let by_prefix: HashMap<String, &Digest> =
            subjects.iter().map(|s| (fallback_tag(s), s)).collect();
        let tags = src
            .list_tags()
            .await
            .map_err(|e| e.context(format!("listing tags of {}", src.describe())))?;
        let wanted: Vec<(String, Digest)> = tags
            .into_iter()
            .filter_map(|t| {
                let (prefix, suffix) = t.split_once('.')?;
                let s = by_prefix.get(prefix)?;
                (!suffix.is_empty()).then(|| (t.clone(), (*s).clone()))
            })
            .collect();
        let fetched: Vec<_> = stream::iter(wanted)
            .map(|(t, s)| async move {
                let r = src.fetch_manifest(&t, None).await;
                (t, s, r)
            })
            .buffered(jobs)
            .collect()
            .await;
        for (t, s, r) in fetched {
            let m = r.map_err(|e| {
                e.context(format!("fetching digest tag {t} from {}", src.describe()))
            })?;
            let a = build(
                src,
                m,
                s,
                Via::DigestTag,
                Some(t.clone()),
                opts.include_foreign,
            )
            .await
            .map_err(|e| e.context(format!("collecting digest tag {t}")))?;
            out.artifacts.push(a);
        }
    }
    Ok(out)
}
