//! Blob uploads to a registry repository: opening a session (`POST blobs/uploads/`, with or
//! without `?mount=`), the monolithic `PUT`, cross-repository mounts, the one-request blob probe
//! (a mount from the repository itself) and cancelling sessions (`DELETE`).

use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use super::client::{scope, SendBody};
use super::errors::registry_error;
use super::{RegistryRepo, PROBE_CHECKING, PROBE_UNKNOWN, PROBE_UNSUPPORTED, PROBE_WORKS};
use crate::error::{redact_url, Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::Descriptor;
use crate::transport::storage::{BlobBody, Storage};

impl RegistryRepo {
    async fn upload_session(
        &self,
        query: &str,
        scope: &str,
    ) -> Result<(StatusCode, Option<String>)> {
        let url = format!("{}{query}", self.url("blobs/uploads/"));
        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let resp = self
            .client
            .send(
                Method::POST,
                &url,
                scope,
                h,
                Some(SendBody::Bytes(Bytes::new())),
                true,
            )
            .await?;
        let status = resp.status();
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| self.resolve_location(l));
        if status == StatusCode::CREATED || status == StatusCode::ACCEPTED {
            return Ok((status, loc));
        }
        Err(registry_error(&Method::POST, &url, resp).await.into())
    }

    /// Record an upload session as open (or no longer open), for [`Storage::abort`].
    fn track_upload(&self, loc: &str, open: bool) {
        let mut set = self.open_uploads.lock().expect("not poisoned");
        if open {
            set.insert(loc.to_string());
        } else {
            set.remove(loc);
        }
    }

    /// Find out, once per run, whether the blob probe of `has_blob_before_push` works here:
    /// `d` is known to be in this repository (a HEAD found it, or it was just uploaded), so a
    /// registry that implements mounts answers the probe for it with 201. Anything else (202,
    /// an error) means HEAD for the rest of the run. Costs one request per run.
    async fn learn_probe(&self, d: &Descriptor) {
        use std::sync::atomic::Ordering;
        if !self.push
            || self
                .probe
                .compare_exchange(
                    PROBE_UNKNOWN,
                    PROBE_CHECKING,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_err()
        {
            return;
        }
        let learnt = match self.mount_from_itself(d).await {
            Ok((StatusCode::CREATED, _)) => PROBE_WORKS,
            Ok((status, loc)) => {
                if let Some(loc) = loc {
                    self.cancel_upload(&loc).await;
                }
                tracing::debug!(%status, "a mount of a blob from its own repository was not done; using HEAD");
                PROBE_UNSUPPORTED
            }
            Err(e) => {
                tracing::debug!(error = %e, "a mount of a blob from its own repository failed; using HEAD");
                PROBE_UNSUPPORTED
            }
        };
        self.probe.store(learnt, Ordering::SeqCst);
    }

    /// `POST blobs/uploads/?mount=<d>&from=<this repository>`: 201 when `d` is linked here and
    /// the registry implements mounts, otherwise 202 and an upload session (or an error).
    async fn mount_from_itself(&self, d: &Descriptor) -> Result<(StatusCode, Option<String>)> {
        let q = format!("?mount={}&from={}", d.digest, self.repo);
        self.upload_session(&q, &self.scope()).await
    }

    /// The upload session reserved for `d` by `has_blob_before_push`, if any.
    fn take_reserved(&self, d: &Digest) -> Option<String> {
        self.reserved.lock().expect("not poisoned").remove(d)
    }

    /// Cancel an upload session (best effort).
    async fn cancel_upload(&self, location: &str) {
        let _ = self
            .client
            .send(
                Method::DELETE,
                location,
                &self.scope(),
                HeaderMap::new(),
                None,
                true,
            )
            .await;
    }

    /// [`Storage::has_blob_before_push`]: HEAD, or once learnt, the one-request mount probe.
    pub(super) async fn probe_or_reserve(&self, d: &Descriptor) -> Result<bool> {
        use std::sync::atomic::Ordering;
        if !self.push || self.probe.load(Ordering::SeqCst) != PROBE_WORKS {
            let has = self.has_blob(d).await?;
            if has {
                self.learn_probe(d).await;
            }
            return Ok(has);
        }
        // One request instead of HEAD + POST: a mount from this very repository succeeds (201)
        // exactly when the blob is linked here already, and otherwise opens the upload (202),
        // as the distribution spec asks of a mount that cannot be done. Used only once this
        // registry answered 201 for a blob known to be here (`learn_probe`): one that ignores
        // mounts answers 202 to everything, and blobs already here would be uploaded again.
        match self.mount_from_itself(d).await {
            Ok((StatusCode::CREATED, _)) => return Ok(true),
            Ok((_, Some(loc))) => {
                self.track_upload(&loc, true);
                let earlier = self
                    .reserved
                    .lock()
                    .expect("not poisoned")
                    .insert(d.digest.clone(), loc);
                if let Some(earlier) = earlier {
                    self.cancel_upload(&earlier).await;
                    self.track_upload(&earlier, false);
                }
                return Ok(false);
            }
            Ok((status, None)) => {
                tracing::debug!(%status, "POST blobs/uploads/ answered without a Location; using HEAD");
                self.probe.store(PROBE_UNSUPPORTED, Ordering::SeqCst);
            }
            Err(e) => match e.root() {
                Error::Registry(r) if !r.is_transient() && !matches!(r.status, 401 | 403) => {
                    tracing::debug!(error = %e, "a mount from the same repository was refused; using HEAD");
                    self.probe.store(PROBE_UNSUPPORTED, Ordering::SeqCst);
                }
                // Auth and interruption: as they are. Transient trouble: the HEAD retries.
                Error::Registry(r) if !r.is_transient() => return Err(e),
                Error::Registry(_) | Error::Network { .. } => {}
                _ => return Err(e),
            },
        }
        self.has_blob(d).await
    }

    /// [`Storage::push_blob`]: a monolithic PUT into a reserved or new session.
    pub(super) async fn upload_blob(&self, d: &Descriptor, body: BlobBody) -> Result<()> {
        let reserved = self.take_reserved(&d.digest);
        let loc = match reserved {
            Some(loc) => loc,
            None => {
                let (status, loc) = self.upload_session("", &self.scope()).await?;
                let Some(loc) = loc else {
                    return Err(Error::Internal(format!(
                        "{} answered POST blobs/uploads/ for blob {} with {status} but no usable \
                         Location (missing, or not a URL)",
                        self.describe(),
                        d.digest
                    )));
                };
                self.track_upload(&loc, true);
                loc
            }
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let put_url = format!("{loc}{sep}digest={}", d.digest);
        // The caller verifies the stream (copy.rs); a stream error aborts the PUT before the last
        // byte, so the registry never commits the upload.
        let verified = body
            .stream
            .map_err(|e| std::io::Error::other(e.to_string()));
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from(d.size));
        let resp = self
            .client
            .send(
                Method::PUT,
                &put_url,
                &self.scope(),
                h,
                Some(SendBody::Stream(reqwest::Body::wrap_stream(verified))),
                false,
            )
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                self.cancel_upload(&loc).await;
                self.track_upload(&loc, false);
                return Err(e);
            }
        };
        if resp.status() == StatusCode::CREATED || resp.status().is_success() {
            self.track_upload(&loc, false);
            self.learn_probe(d).await;
            return Ok(());
        }
        let e = registry_error(&Method::PUT, &put_url, resp).await;
        self.cancel_upload(&loc).await;
        self.track_upload(&loc, false);
        Err(e.into())
    }

    /// [`Storage::try_mount`]: a cross-repository mount on the same registry.
    pub(super) async fn mount_from(&self, d: &Descriptor, from: &Self) -> Result<bool> {
        if from.client.host != self.client.host || from.repo == self.repo {
            return Ok(false);
        }
        let q = format!("?mount={}&from={}", d.digest, from.repo);
        // The registry checks push on this repository and pull on the source in one request
        // (distribution `app.authorized`): ask for one token carrying both scopes.
        let scopes = format!("{} {}", self.scope(), scope(&from.repo, false));
        match self.upload_session(&q, &scopes).await {
            Ok((StatusCode::CREATED, _)) => {
                // Mounted: the session has_blob_before_push opened is not needed.
                if let Some(loc) = self.take_reserved(&d.digest) {
                    self.cancel_upload(&loc).await;
                    self.track_upload(&loc, false);
                }
                Ok(true)
            }
            Ok((_, Some(loc))) => {
                // 202: not mounted, an upload was opened instead; we upload separately, so cancel it.
                self.cancel_upload(&loc).await;
                Ok(false)
            }
            Ok(_) => Ok(false),
            Err(e) if e.kind() == crate::error::ErrorKind::Auth => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// [`Storage::abort`]: cancel every upload session still open.
    pub(super) async fn cancel_open_uploads(&self) {
        self.reserved.lock().expect("not poisoned").clear();
        let open: Vec<String> = self
            .open_uploads
            .lock()
            .expect("not poisoned")
            .drain()
            .collect();
        let cancels = open.iter().map(|loc| async move {
            let done = tokio::time::timeout(Duration::from_secs(5), self.cancel_upload(loc)).await;
            tracing::debug!(location = %redact_url(loc), ok = done.is_ok(), "cancelled upload session");
        });
        futures_util::future::join_all(cancels).await;
    }
}
