//! `mirror inventory`: what one repository holds, read with HEAD and manifest GET requests
//! (docs/air-gap.md, docs/json-output.md#inventory-and-ledger).
//!
//! ```text
//! roots   registry: every tag (tags/list; 404 = no repository yet = no tags) or the tags and
//!         digests asked for, each resolved with a HEAD; layout: every index.json entry
//! walk    GET each root, then every child of an index (recursively, each digest once); a child
//!         that is absent (a sparse index) is simply not listed
//! blobs   config + layers of every image manifest found, HEADed once each (layout: the file
//!         exists with the descriptor's size); foreign layers (URLs, non-distributable types)
//!         are not looked for
//! ```
//!
//! At most `jobs` requests run at once in each phase. The result is a
//! [`model::delta::Repository`](crate::model::delta::Repository); the command seals it into the
//! inventory file. [`probe_sparse`] asks a registry whether it accepts sparse indexes at all,
//! with the same reading of a refusal as the copy preflight (`preflight::read`).
//!
//! Like the rest of the engine, this never prints: warnings go to the [`Reporter`].

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use futures_util::{stream, StreamExt};

use crate::engine::preflight::{self, Reading};
use crate::engine::progress::{Event, Reporter};
use crate::error::{Error, ErrorKind, Result};
use crate::model::delta::{Object, Repository, SparseIndex, TagEntry};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, ManifestView, RawManifest};
use crate::model::media;
use crate::transport::{Endpoint, Storage};

/// Which roots of a repository to walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every tag (registry: `tags/list`; layout: every `index.json` entry).
    All,
    /// Only these tags (layout: ref names, full or by their tag part) and digests.
    Only {
        /// Tags.
        tags: Vec<String>,
        /// Digests (walked, listed under no tag).
        digests: Vec<Digest>,
    },
}

impl Scope {
    /// Both scopes together (`All` wins).
    pub fn merge(self, other: Scope) -> Scope {
        match (self, other) {
            (
                Scope::Only {
                    mut tags,
                    mut digests,
                },
                Scope::Only {
                    tags: t,
                    digests: d,
                },
            ) => {
                tags.extend(t);
                digests.extend(d);
                tags.sort();
                tags.dedup();
                digests.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                digests.dedup();
                Scope::Only { tags, digests }
            }
            _ => Scope::All,
        }
    }
}

/// A root to walk: the tag that named it (none for a digest) and the media type when known.
struct Root {
    tag: Option<String>,
    digest: Digest,
    media_type: Option<String>,
}

/// What the walk of one repository found, with what it did not count.
#[derive(Debug, Clone)]
pub struct Walked {
    /// The repository's entry for the inventory.
    pub repository: Repository,
    /// Child manifests an index lists that the repository does not hold (a sparse index).
    pub absent_children: usize,
    /// Blobs referenced by a manifest found but not present.
    pub absent_blobs: usize,
    /// Foreign layers not looked for.
    pub foreign_layers: usize,
}

/// Walk the repository `ep` (named `name`, its [`repository_key`](crate::model::delta::repository_key)).
pub async fn walk(
    ep: &Endpoint,
    name: &str,
    scope: &Scope,
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<Walked> {
    let jobs = jobs.max(1);
    let roots = match ep {
        Endpoint::Layout(l) => layout_roots(l.entries()?, scope, reporter, name),
        Endpoint::Registry(_) => registry_roots(ep, scope, jobs, reporter, name).await?,
    };
    let tags: Vec<TagEntry> = roots
        .iter()
        .filter_map(|r| {
            r.tag.as_ref().map(|t| TagEntry {
                tag: t.clone(),
                digest: r.digest.clone(),
            })
        })
        .collect();

    // Manifests, level by level: each level's GETs run `jobs` at a time.
    let mut seen: HashSet<Digest> = roots.iter().map(|r| r.digest.clone()).collect();
    let mut level: Vec<(Digest, Option<String>, bool)> = vec![];
    for r in roots {
        if !level.iter().any(|(d, _, _)| *d == r.digest) {
            level.push((r.digest, r.media_type, true));
        }
    }
    let mut manifests: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut blobs: BTreeMap<Digest, Descriptor> = BTreeMap::new();
    let (mut absent_children, mut foreign_layers) = (0, 0);
    while !level.is_empty() {
        let fetched: Vec<_> = stream::iter(std::mem::take(&mut level))
            .map(|(d, hint, root)| async move {
                let r = ep.fetch_manifest(d.as_str(), hint.as_deref()).await;
                (d, root, r)
            })
            .buffer_unordered(jobs)
            .collect()
            .await;
        for (d, root, r) in fetched {
            let m = match r {
                Ok(m) => m,
                Err(e) if e.is_missing() => {
                    if root {
                        reporter.event(Event::Warning(format!(
                            "{name}: manifest {d} was named but is gone (deleted while this ran?); not listed"
                        )));
                    } else {
                        absent_children += 1;
                    }
                    continue;
                }
                Err(e) if matches!(e.root(), Error::Manifest { .. }) => {
                    reporter.event(Event::Warning(format!(
                        "{name}: manifest {d} cannot be read ({e}); neither it nor what it references is listed"
                    )));
                    continue;
                }
                Err(e) => {
                    return Err(e.context(format!("inventory of {name}: fetching manifest {d}")))
                }
            };
            manifests.insert(d.clone(), m.bytes.len() as u64);
            match m.view() {
                Ok(ManifestView::Index {
                    manifests: kids, ..
                }) => {
                    for k in kids {
                        if seen.insert(k.digest.clone()) {
                            let hint = Some(k.media_type).filter(|t| !t.is_empty());
                            level.push((k.digest, hint, false));
                        }
                    }
                }
                Ok(ManifestView::Image { config, layers, .. }) => {
                    for b in std::iter::once(config).chain(layers) {
                        if b.is_foreign() {
                            foreign_layers += 1;
                        } else {
                            blobs.entry(b.digest.clone()).or_insert(b);
                        }
                    }
                }
                Err(e) => reporter.event(Event::Warning(format!(
                    "{name}: manifest {d} does not parse ({e}); what it references is not listed"
                ))),
            }
        }
    }

    // Blobs: one HEAD (or stat) each.
    let headed: Vec<_> = stream::iter(blobs.into_values())
        .map(|b| async move {
            let r = ep.has_blob(&b).await;
            (b, r)
        })
        .buffer_unordered(jobs)
        .collect()
        .await;
    let mut present = vec![];
    let mut absent_blobs = 0;
    for (b, r) in headed {
        match r {
            Ok(true) => present.push(Object {
                digest: b.digest,
                size: b.size,
                bundle: None,
            }),
            Ok(false) => absent_blobs += 1,
            Err(e) => {
                return Err(e.context(format!(
                    "inventory of {name}: HEAD blob {} (size {})",
                    b.digest, b.size
                )))
            }
        }
    }
    Ok(Walked {
        repository: Repository {
            name: name.to_string(),
            tags,
            manifests: manifests
                .into_iter()
                .map(|(digest, size)| Object {
                    digest,
                    size,
                    bundle: None,
                })
                .collect(),
            blobs: present,
        },
        absent_children,
        absent_blobs,
        foreign_layers,
    })
}

/// A layout's roots: its `index.json` entries (each tagged with its full ref name), or the ones
/// the scope names.
fn layout_roots(
    entries: Vec<(Option<String>, Descriptor)>,
    scope: &Scope,
    reporter: &dyn Reporter,
    name: &str,
) -> Vec<Root> {
    let root = |(n, d): (Option<String>, Descriptor)| Root {
        tag: n,
        digest: d.digest,
        media_type: Some(d.media_type).filter(|t| !t.is_empty()),
    };
    let (tags, digests) = match scope {
        Scope::All => return entries.into_iter().map(root).collect(),
        Scope::Only { tags, digests } => (tags, digests),
    };
    // A ref name matches a tag as `Layout::find` does: whole, or by the part after its last ':'.
    let names = |n: &str, t: &str| {
        n == t
            || n.rsplit_once(':')
                .is_some_and(|(_, p)| !p.contains('/') && p == t)
    };
    for t in tags {
        if !entries
            .iter()
            .any(|(n, _)| n.as_deref().is_some_and(|n| names(n, t)))
        {
            reporter.event(Event::Warning(format!(
                "{name}: no image tagged {t:?} in index.json; not listed"
            )));
        }
    }
    let mut out: Vec<Root> = vec![];
    for (n, d) in entries {
        let by_tag = n
            .as_deref()
            .is_some_and(|n| tags.iter().any(|t| names(n, t)));
        if by_tag {
            out.push(root((n, d)));
        } else if digests.contains(&d.digest) {
            out.push(root((None, d)));
        }
    }
    for d in digests {
        if !out.iter().any(|r| r.digest == *d) {
            // Not an index.json entry: walked if the blob is there (a child, say).
            out.push(Root {
                tag: None,
                digest: d.clone(),
                media_type: None,
            });
        }
    }
    out
}

/// A registry repository's roots: every tag `tags/list` names (none when the repository does
/// not exist: 404), or the tags and digests asked for, each resolved with a HEAD.
async fn registry_roots(
    ep: &Endpoint,
    scope: &Scope,
    jobs: usize,
    reporter: &dyn Reporter,
    name: &str,
) -> Result<Vec<Root>> {
    let (tags, digests, listed) = match scope {
        Scope::All => (
            ep.list_tags()
                .await
                .map_err(|e| e.context(format!("inventory of {name}: listing its tags")))?,
            vec![],
            true,
        ),
        Scope::Only { tags, digests } => (tags.clone(), digests.clone(), false),
    };
    let resolved: Vec<_> = stream::iter(tags)
        .map(|t| async move {
            let r = ep.resolve(&t).await;
            (t, r)
        })
        .buffered(jobs)
        .collect()
        .await;
    let mut roots = vec![];
    for (t, r) in resolved {
        match r {
            Ok(Some(d)) => roots.push(Root {
                tag: Some(t),
                digest: d,
                media_type: None,
            }),
            Ok(None) if listed => reporter.event(Event::Warning(format!(
                "{name}: tag {t} is listed by tags/list but resolves to nothing (deleted while this ran?); not listed"
            ))),
            Ok(None) => reporter.event(Event::Warning(format!(
                "{name}: tag {t} does not exist; not listed"
            ))),
            Err(e) => {
                return Err(e.context(format!("inventory of {name}: resolving tag {t} (HEAD)")))
            }
        }
    }
    roots.extend(digests.into_iter().map(|d| Root {
        tag: None,
        digest: d,
        media_type: None,
    }));
    Ok(roots)
}

/// What [`probe_sparse`] found.
#[derive(Debug, Clone)]
pub struct Probed {
    /// The verdict.
    pub sparse_index: SparseIndex,
    /// The probe index's digest (left untagged in the repository when accepted).
    pub index: Digest,
    /// The registry's answer, in words (the refusal, or why it settled nothing).
    pub answer: String,
}

/// The made-up child of the probe index for `registry` at `created`: the digest of
/// `sparse-mirror inventory probe <registry> <created>`, which no manifest has.
pub fn probe_child(registry: &str, created: &str) -> Digest {
    Digest::sha256_of(format!("sparse-mirror inventory probe {registry} {created}").as_bytes())
}

/// The probe: an OCI index listing one child manifest (linux/amd64) that does not exist.
pub fn probe_index(registry: &str, created: &str) -> RawManifest {
    let child = probe_child(registry, created);
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": [{
            "mediaType": media::OCI_MANIFEST,
            "digest": child.to_string(),
            "size": 2,
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    });
    let bytes = Bytes::from(serde_json::to_vec(&body).expect("serialisable"));
    RawManifest {
        digest: Digest::sha256_of(&bytes),
        bytes,
        media_type: media::OCI_INDEX.to_string(),
    }
}

/// Ask `repo` (a registry repository opened for push) whether it accepts an index whose child
/// is missing: PUT [`probe_index`] by digest, untagged. 2xx: accepted (the tiny index stays,
/// untagged); a missing-child refusal naming the made-up child, or naming none: rejected;
/// anything else: unknown. Only an interrupt is an error.
pub async fn probe_sparse<S: Storage>(repo: &S, registry: &str, created: &str) -> Result<Probed> {
    let probe = probe_index(registry, created);
    let child = probe_child(registry, created);
    let index = probe.digest.clone();
    match repo.push_manifest(&probe, None).await {
        Ok(_) => Ok(Probed {
            sparse_index: SparseIndex::Accepted,
            index,
            answer: format!(
                "PUT of probe index {} to {} succeeded (it stays there, untagged)",
                probe.digest,
                repo.describe()
            ),
        }),
        Err(e) if e.kind() == ErrorKind::Interrupted => Err(e),
        Err(e) => {
            let made_up: HashSet<&Digest> = [&child].into_iter().collect();
            let sparse_index = match preflight::read(&e, &made_up) {
                Reading::Refuses => SparseIndex::Rejected,
                Reading::Other | Reading::NamesOnlySelected => SparseIndex::Unknown,
            };
            Ok(Probed {
                sparse_index,
                index,
                answer: format!(
                    "PUT of probe index {} to {}: {e}",
                    probe.digest,
                    repo.describe()
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{OciError, RegistryError};

    #[test]
    fn the_probe_lists_one_made_up_child_and_is_deterministic() {
        let a = probe_index("r.example:5000", "2026-12-05T00:00:00Z");
        let b = probe_index("r.example:5000", "2026-12-05T00:00:00Z");
        assert_eq!((&a.bytes, &a.digest), (&b.bytes, &b.digest));
        assert_ne!(
            a.digest,
            probe_index("q.example", "2026-12-05T00:00:00Z").digest
        );
        assert_eq!(a.digest, Digest::sha256_of(&a.bytes));
        let Ok(ManifestView::Index { manifests, subject }) = a.view() else {
            panic!("an index")
        };
        assert!(subject.is_none());
        assert_eq!(manifests.len(), 1);
        assert_eq!(
            manifests[0].digest,
            Digest::sha256_of(b"sparse-mirror inventory probe r.example:5000 2026-12-05T00:00:00Z")
        );
        assert!(a.bytes.len() < 300, "{}", a.bytes.len());
    }

    #[test]
    fn a_refusal_reads_as_the_preflight_reads_it() {
        let child = probe_child("r", "t");
        let refusal = |status: u16, code: &str, detail: Option<serde_json::Value>| {
            Error::Registry(Box::new(RegistryError {
                method: "PUT".into(),
                url: "http://127.0.0.1:1/v2/a/manifests/sha256:x".into(),
                status,
                errors: vec![OciError {
                    code: code.into(),
                    message: "m".into(),
                    detail,
                }],
                body: None,
                retry_after: None,
            }))
        };
        let set: HashSet<&Digest> = [&child].into_iter().collect();
        let named = refusal(
            400,
            "MANIFEST_BLOB_UNKNOWN",
            Some(serde_json::json!(child.to_string())),
        );
        assert_eq!(preflight::read(&named, &set), Reading::Refuses);
        let none = refusal(400, "MANIFEST_INVALID", None);
        assert_eq!(preflight::read(&none, &set), Reading::Refuses);
        let busy = refusal(503, "UNAVAILABLE", None);
        assert_eq!(preflight::read(&busy, &set), Reading::Other);
    }

    #[test]
    fn scopes_merge_and_all_wins() {
        let d = Digest::sha256_of(b"x");
        let a = Scope::Only {
            tags: vec!["b".into(), "a".into()],
            digests: vec![],
        };
        let b = Scope::Only {
            tags: vec!["a".into()],
            digests: vec![d.clone()],
        };
        assert_eq!(
            a.clone().merge(b),
            Scope::Only {
                tags: vec!["a".into(), "b".into()],
                digests: vec![d]
            }
        );
        assert_eq!(a.merge(Scope::All), Scope::All);
    }
}
