//! Resolve: fetch the root manifest and every child manifest the planner asks for.
//!
//! This is the I/O half of planning. It calls the pure [`plan::plan`] in a loop, fetching what
//! it reports as needed (concurrently, digest- and size-verified) until the plan is complete.
//! Children the source does not have (404, or a sparse layout) are recorded as absent and the
//! planner treats them as unselected.

use std::collections::{HashMap, HashSet};

use futures_util::{stream, StreamExt};

use crate::engine::plan::{self, Inputs, Outcome, Plan};
use crate::engine::select::Selector;
use crate::error::{Error, Result};
use crate::model::digest::{Digest, VerifyError};
use crate::model::manifest::{ManifestView, RawManifest};
use crate::model::platform::Platform;
use crate::transport::Storage;

/// Fetch the root manifest by tag or digest.
pub async fn root<S: Storage>(src: &S, reference: &str) -> Result<RawManifest> {
    src.fetch_manifest(reference, None)
        .await
        .map_err(|e| e.context(format!("fetching {reference} from {}", src.describe())))
}

/// Build the plan for `root`, fetching child manifests as needed. Where they are read from is
/// the storage's business: the use case passes an `engine::image::reader::Tiered`, which reads
/// what the cache or the target already holds there and only the rest from the source.
pub async fn resolve<S: Storage>(
    src: &S,
    root: &RawManifest,
    sel: &Selector,
    source_ref: &str,
    jobs: usize,
) -> Result<Plan> {
    let root_platform = root_platform(src, root, sel).await?;
    let mut fetched: HashMap<Digest, RawManifest> = HashMap::new();
    let mut absent: HashSet<Digest> = HashSet::new();
    for _round in 0..=plan::MAX_DEPTH + 1 {
        let inputs = Inputs {
            fetched: &fetched,
            absent: &absent,
            root_platform: root_platform.as_ref(),
            source_ref,
        };
        match plan::plan(root, sel, &inputs)? {
            Outcome::Complete(p) => return Ok(*p),
            Outcome::Need(list) => {
                let results: Vec<_> = stream::iter(list)
                    .map(|d| async move {
                        let hint = Some(&d.media_type)
                            .filter(|m| !m.is_empty())
                            .map(String::as_str);
                        let r = src.fetch_manifest(d.digest.as_str(), hint).await;
                        (d, r)
                    })
                    .buffer_unordered(jobs.max(1))
                    .collect()
                    .await;
                for (d, r) in results {
                    match r {
                        Ok(m) if m.bytes.len() as u64 != d.size => {
                            return Err(Error::Verify {
                                what: format!("manifest {} from {}", d.digest, src.describe()),
                                source: VerifyError::Size {
                                    expected: d.size,
                                    actual: m.bytes.len() as u64,
                                },
                            })
                        }
                        Ok(m) => {
                            fetched.insert(d.digest.clone(), m);
                        }
                        Err(e) if e.is_missing() => {
                            absent.insert(d.digest.clone());
                        }
                        Err(e) => {
                            // An index cannot list itself (its digest covers the list), so a
                            // source can only fake a cycle by serving an ancestor's bytes under
                            // another digest: verification refuses it, and this names it.
                            let cycle = match e.root() {
                                Error::Verify {
                                    source: VerifyError::Digest { actual, .. },
                                    ..
                                } if *actual == root.digest
                                    || fetched.get(actual).is_some_and(RawManifest::is_index) =>
                                {
                                    Some(actual.clone())
                                }
                                _ => None,
                            };
                            let e = e.context(format!(
                                "fetching child manifest {} from {}",
                                d.digest,
                                src.describe()
                            ));
                            return Err(match cycle {
                                Some(a) => e.context(format!(
                                    "index cycle: {} in {} serves the bytes of index {a}, which lists it",
                                    d.digest,
                                    src.describe()
                                )),
                                None => e,
                            });
                        }
                    }
                }
            }
        }
    }
    Err(Error::Internal("planning did not converge".into()))
}

/// The platform of a single-image root, read from its config blob, when a platform filter needs
/// it; `None` for an index or when every platform is selected.
pub async fn root_platform<S: Storage>(
    src: &S,
    root: &RawManifest,
    sel: &Selector,
) -> Result<Option<Platform>> {
    Ok(match root.view() {
        Ok(ManifestView::Image { config, .. }) if !sel.platforms.is_all() => {
            Some(config_platform(src, &config).await?)
        }
        _ => None,
    })
}

async fn config_platform<S: Storage>(
    src: &S,
    config: &crate::model::manifest::Descriptor,
) -> Result<Platform> {
    if config.size > crate::model::manifest::MAX_MANIFEST_BYTES as u64 {
        return Ok(Platform::default());
    }
    let mut body = src.fetch_blob(config).await?;
    let mut buf = Vec::with_capacity(config.size as usize);
    while let Some(chunk) = body.stream.next().await {
        buf.extend_from_slice(&chunk?);
    }
    if !config.digest.verifies(&buf) {
        return Err(Error::Verify {
            what: format!("config blob {} from {}", config.digest, src.describe()),
            source: VerifyError::Digest {
                expected: config.digest.clone(),
                actual: Digest::of(config.digest.algorithm(), &buf),
            },
        });
    }
    Ok(serde_json::from_slice(&buf).unwrap_or_default())
}
