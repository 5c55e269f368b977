//! The two kinds of prune target: a registry repository (HEADs and DELETEs,
//! docs/registries.md §Deletes) and an OCI layout (refs in `index.json`).

use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;

use crate::engine::prune::types::{ArtifactGone, Decision};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::layout::prune::RefRemoval;
use crate::transport::layout::Layout;
use crate::transport::registry::delete::{deletes_disabled, refused_error, DeleteAnswer};
use crate::transport::registry::RegistryRepo;
use crate::transport::storage::Storage;

/// A tag (layout: a ref name; an untagged layout entry: `@<digest>`) and what it names.
#[derive(Debug, Clone)]
pub(crate) struct Ref {
    pub(crate) name: String,
    pub(crate) digest: Digest,
    pub(crate) media_type: String,
}

/// What the prune needs of a target.
pub(crate) trait Target: Sync {
    /// For messages.
    fn describe(&self) -> String;
    /// Every ref with what it names.
    fn refs(&self, jobs: usize) -> impl Future<Output = Result<Vec<Ref>>> + Send;
    /// A manifest by digest; `None` when it is not there.
    fn manifest(
        &self,
        d: &Digest,
        media_type: &str,
    ) -> impl Future<Output = Result<Option<RawManifest>>> + Send;
    /// The referrers API's list for `d`; `None` without the API.
    fn referrers_api(
        &self,
        d: &Digest,
    ) -> impl Future<Output = Result<Option<Vec<Descriptor>>>> + Send;
    /// Delete `tag` but not `digest`, which kept tags need (`why`).
    fn delete_tag_alone(
        &self,
        tag: &str,
        digest: &Digest,
        why: &str,
    ) -> impl Future<Output = Decision> + Send;
    /// Delete `artifacts` in order, then `digest` and its planned `tags`.
    fn delete(
        &self,
        digest: &Digest,
        tags: &[String],
        artifacts: &[ArtifactGone],
    ) -> impl Future<Output = Result<()>> + Send;
}

fn missing_is_none<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(e),
    }
}

impl RegistryRepo {
    /// Delete `reference` (a digest or a tag) for `what`; a 404 is fine (already gone).
    async fn delete_or_fail(&self, reference: &str, what: &str) -> Result<()> {
        match self.delete_manifest(reference).await {
            Ok(DeleteAnswer::Deleted | DeleteAnswer::NotFound) => Ok(()),
            Ok(DeleteAnswer::Refused(r)) => Err(refused_error(*r, what)),
            Err(e) => Err(e.context(format!("deleting {what}"))),
        }
    }

    /// Delete `tag` if it still names `digest` after that digest was deleted
    /// (go-containerregistry keeps tags; distribution drops them with the digest). A tag pushed
    /// to another digest meanwhile is someone else's now and stays.
    async fn delete_leftover_tag(&self, tag: &str, digest: &Digest, what: &str) -> Result<()> {
        if self.head(tag).await?.is_some_and(|h| h.digest == *digest) {
            self.delete_or_fail(tag, &format!("tag {tag} ({what})"))
                .await?;
        }
        Ok(())
    }
}

impl Target for RegistryRepo {
    fn describe(&self) -> String {
        Storage::describe(self)
    }

    async fn refs(&self, jobs: usize) -> Result<Vec<Ref>> {
        let tags = self.list_tags().await?;
        let heads: Vec<Result<Option<Ref>>> = futures_util::stream::iter(tags)
            .map(|t| async move {
                Ok(self.head(&t).await?.map(|h| Ref {
                    name: t,
                    digest: h.digest,
                    media_type: h.media_type,
                }))
            })
            .buffered(jobs.max(1))
            .collect()
            .await;
        // A tag deleted between the listing and its HEAD is simply not there.
        heads.into_iter().filter_map(Result::transpose).collect()
    }

    async fn manifest(&self, d: &Digest, media_type: &str) -> Result<Option<RawManifest>> {
        let hint = Some(media_type).filter(|m| !m.is_empty());
        missing_is_none(self.fetch_manifest(d.as_str(), hint).await)
    }

    async fn referrers_api(&self, d: &Digest) -> Result<Option<Vec<Descriptor>>> {
        Ok(self.referrers(d, None).await?.map(|l| l.descriptors))
    }

    async fn delete_tag_alone(&self, tag: &str, digest: &Digest, why: &str) -> Decision {
        let what = format!("tag {tag} alone from {}", Storage::describe(self));
        match self.delete_manifest(tag).await {
            Ok(DeleteAnswer::Deleted) => Decision::Deleted {
                digest: digest.clone(),
                tag_only: true,
                artifacts: vec![],
            },
            Ok(DeleteAnswer::NotFound) => Decision::Absent,
            Ok(DeleteAnswer::Refused(r)) if deletes_disabled(&r) => Decision::Failed {
                digest: Some(digest.clone()),
                error: Arc::new(refused_error(*r, &what)),
            },
            Ok(DeleteAnswer::Refused(r)) => Decision::Kept {
                digest: digest.clone(),
                reason: format!(
                    "{why}, and {} cannot delete a tag alone ({r}); deleting {digest} would remove those tags too, so {tag} stays",
                    self.client().host()
                ),
            },
            Err(e) => Decision::Failed {
                digest: Some(digest.clone()),
                error: Arc::new(e.context(format!("deleting {what}"))),
            },
        }
    }

    async fn delete(
        &self,
        digest: &Digest,
        tags: &[String],
        artifacts: &[ArtifactGone],
    ) -> Result<()> {
        let place = Storage::describe(self);
        for a in artifacts {
            let what = match &a.tag {
                Some(t) => format!(
                    "{} {t} ({}) of {} from {place}",
                    a.kind, a.digest, a.subject
                ),
                None => format!("{} {} of {} from {place}", a.kind, a.digest, a.subject),
            };
            self.delete_or_fail(a.digest.as_str(), &what).await?;
            if let Some(t) = &a.tag {
                self.delete_leftover_tag(t, &a.digest, &what).await?;
            }
        }
        let what = format!("tag {} ({digest}) from {place}", tags.join(", "));
        self.delete_or_fail(digest.as_str(), &what).await?;
        for t in tags {
            self.delete_leftover_tag(t, digest, &what).await?;
        }
        Ok(())
    }
}

impl Target for Layout {
    fn describe(&self) -> String {
        Storage::describe(self)
    }

    async fn refs(&self, _jobs: usize) -> Result<Vec<Ref>> {
        Ok(Layout::refs(self)?
            .into_iter()
            .map(|(name, digest, media_type)| Ref {
                name: name.unwrap_or_else(|| format!("@{digest}")),
                digest,
                media_type,
            })
            .collect())
    }

    async fn manifest(&self, d: &Digest, media_type: &str) -> Result<Option<RawManifest>> {
        self.manifest_if_present(d, media_type).await
    }

    async fn referrers_api(&self, _d: &Digest) -> Result<Option<Vec<Descriptor>>> {
        Ok(None)
    }

    async fn delete_tag_alone(&self, tag: &str, digest: &Digest, _why: &str) -> Decision {
        match self.remove_refs(&[(tag.to_string(), digest.clone())]) {
            Ok(r) => match r.first() {
                Some(RefRemoval::Removed) => Decision::Deleted {
                    digest: digest.clone(),
                    tag_only: true,
                    artifacts: vec![],
                },
                Some(RefRemoval::Changed(now)) => Decision::Changed { now: now.clone() },
                _ => Decision::Absent,
            },
            Err(e) => Decision::Failed {
                digest: Some(digest.clone()),
                error: Arc::new(e),
            },
        }
    }

    async fn delete(
        &self,
        digest: &Digest,
        tags: &[String],
        artifacts: &[ArtifactGone],
    ) -> Result<()> {
        // Untagged artifacts (referrers listed by a fallback index) are blobs: `gc` takes them.
        let mut refs: Vec<(String, Digest)> = artifacts
            .iter()
            .filter_map(|a| a.tag.clone().map(|t| (t, a.digest.clone())))
            .collect();
        refs.extend(tags.iter().map(|t| (t.clone(), digest.clone())));
        let done = self.remove_refs(&refs)?;
        if let Some(((name, _), RefRemoval::Changed(now))) = refs
            .iter()
            .zip(&done)
            .find(|(_, r)| matches!(r, RefRemoval::Changed(_)))
        {
            return Err(Error::Layout {
                path: Storage::describe(self),
                reason: format!(
                    "{name} was changed to {now} by another writer while it was being pruned; it was left alone"
                ),
            });
        }
        Ok(())
    }
}
