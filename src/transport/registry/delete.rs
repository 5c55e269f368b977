//! Deleting from a registry repository (`mirror sync --prune`, `mirror bundle apply --prune`):
//! `DELETE /v2/<name>/manifests/<digest|tag>`, and a manifest `HEAD` that also returns the media
//! type (the prune checks whether a kept tag is an index whose children must stay).
//!
//! What registries do with these requests (docs/registries.md §Deletes):
//! - by digest: distribution removes the manifest **and every tag naming it**; go-containerregistry's
//!   registry removes the digest only (its tags still resolve);
//! - by tag: distribution 2.8 cannot (400 `DIGEST_INVALID`), v3 removes the tag alone, as do
//!   go-containerregistry and the distribution-spec's optional tag deletion;
//! - deletes disabled (distribution's default, `storage.delete.enabled: false`): 405
//!   `UNSUPPORTED`; a token without the `delete` action: 401/403 (an [`Error::Auth`]).
//!
//! DELETE is idempotent here: a retried request that finds nothing answers 404, which is
//! [`DeleteAnswer::NotFound`], not an error.

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use super::errors::registry_error;
use super::RegistryRepo;
use crate::error::{Error, RegistryError, Result};
use crate::model::digest::Digest;
use crate::model::media;
use crate::transport::storage::Storage;

/// What a `DELETE` answered.
#[derive(Debug, Clone)]
pub enum DeleteAnswer {
    /// 202 (or another 2xx): deleted.
    Deleted,
    /// 404: nothing there (already deleted, or never there).
    NotFound,
    /// 400 or 405: the registry will not do this kind of delete (deletes disabled, or tags
    /// cannot be deleted alone). The caller decides what that means; the answer is kept for
    /// the message.
    Refused(Box<RegistryError>),
}

/// A manifest as a `HEAD` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The digest (`Docker-Content-Digest`, or from a GET when the header is missing).
    pub digest: Digest,
    /// The `Content-Type` (may be empty when the registry sends none).
    pub media_type: String,
}

/// The token scope a delete needs: the `delete` action (distribution
/// `registry/handlers/app.go` asks for it on every `DELETE`).
fn delete_scope(repo: &str) -> String {
    format!("repository:{repo}:delete")
}

impl RegistryRepo {
    /// `DELETE /v2/<name>/manifests/<reference>` (a digest or a tag). Never after an interrupt.
    pub async fn delete_manifest(&self, reference: &str) -> Result<DeleteAnswer> {
        self.client.opts.cancel.check()?;
        let url = self.url(&format!("manifests/{reference}"));
        let scope = delete_scope(&self.repo);
        self.client
            .opts
            .retry
            .run("DELETE manifest", || async {
                let resp = self
                    .client
                    .send(Method::DELETE, &url, &scope, HeaderMap::new(), None, true)
                    .await?;
                match resp.status() {
                    s if s.is_success() => Ok(DeleteAnswer::Deleted),
                    StatusCode::NOT_FOUND => Ok(DeleteAnswer::NotFound),
                    StatusCode::BAD_REQUEST | StatusCode::METHOD_NOT_ALLOWED => {
                        Ok(DeleteAnswer::Refused(Box::new(
                            registry_error(&Method::DELETE, &url, resp).await,
                        )))
                    }
                    _ => Err(registry_error(&Method::DELETE, &url, resp).await.into()),
                }
            })
            .await
    }

    /// `HEAD /v2/<name>/manifests/<reference>` with digest and media type; `None` on 404.
    pub async fn head(&self, reference: &str) -> Result<Option<Head>> {
        let url = self.url(&format!("manifests/{reference}"));
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(media::MANIFEST_ACCEPT));
        let found = self
            .client
            .opts
            .retry
            .run("HEAD manifest", || async {
                let resp = self
                    .client
                    .send(Method::HEAD, &url, &self.scope(), h.clone(), None, true)
                    .await?;
                match resp.status() {
                    s if s.is_success() => {
                        let header = |n| {
                            resp.headers()
                                .get(n)
                                .and_then(|v: &HeaderValue| v.to_str().ok())
                                .map(str::to_string)
                        };
                        let digest = header("docker-content-digest").and_then(|v| v.parse().ok());
                        let media_type = header(CONTENT_TYPE.as_str()).unwrap_or_default();
                        Ok(Some((digest, media_type)))
                    }
                    StatusCode::NOT_FOUND => Ok(None),
                    _ => Err(registry_error(&Method::HEAD, &url, resp).await.into()),
                }
            })
            .await?;
        match found {
            None => Ok(None),
            Some((Some(digest), media_type)) => Ok(Some(Head { digest, media_type })),
            // No digest header: the bytes tell.
            Some((None, _)) => {
                let m = self.fetch_manifest(reference, None).await?;
                Ok(Some(Head {
                    digest: m.digest,
                    media_type: m.media_type,
                }))
            }
        }
    }
}

/// Whether a refusal means the registry allows no deletes at all (405 `UNSUPPORTED`, or any
/// 405), as opposed to refusing only this kind (distribution 2.8: 400 `DIGEST_INVALID` for a
/// tag).
pub fn deletes_disabled(r: &RegistryError) -> bool {
    r.status == 405 || r.has_code("UNSUPPORTED")
}

/// The error for a refused delete that should not have been refused (a digest delete, or any
/// delete on a registry with deletes disabled), naming what was being deleted.
pub fn refused_error(r: RegistryError, what: &str) -> Error {
    Error::from(r).context(format!("deleting {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: &str) -> RegistryError {
        RegistryError {
            method: "DELETE".into(),
            url: "http://r/v2/a/manifests/v1".into(),
            status,
            errors: vec![crate::error::OciError {
                code: code.into(),
                message: String::new(),
                detail: None,
            }],
            body: None,
            retry_after: None,
        }
    }

    #[test]
    fn disabled_deletes_are_told_from_tag_deletes_a_registry_cannot_do() {
        assert!(deletes_disabled(&answer(405, "UNSUPPORTED")));
        assert!(deletes_disabled(&answer(400, "UNSUPPORTED")));
        assert!(!deletes_disabled(&answer(400, "DIGEST_INVALID")));
        assert_eq!(delete_scope("team/app"), "repository:team/app:delete");
    }
}
