//! Writes the site signature onto the target (`--sign-key`): for each subject, first looks for a
//! valid site signature already there (checked with the site's public key, so a rerun writes
//! nothing), then builds ([`sign`](super::sign)) and pushes what is missing: blobs, then the
//! `.sig` manifest under its tag (appended, read back on registries), and the bundle referrer
//! (with the `sha256-<hex>` fallback tag where the target has no referrers API).

use std::sync::Arc;

use bytes::Bytes;

use super::discover::{self, Content, Via};
use super::format::Format;
use super::private_key::SigningKey;
use super::sign::{self, Artifact, SignFormat, Subject};
use super::{bundle, cosign};
use crate::engine::progress::{Event, Reporter};
use crate::engine::referrers::{fallback_tag, referrer_entry};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::RawManifest;
use crate::transport::storage::{BlobBody, Pushed, Storage};

/// `--sign-key`: what the gateway signs with, and how.
#[derive(Debug, Clone)]
pub struct SiteSigning {
    /// The site's private key.
    pub key: Arc<SigningKey>,
    /// Also each copied child image manifest (`--sign-children`).
    pub children: bool,
    /// Which signature objects (`--sign-format`).
    pub format: SignFormat,
    /// When this run started (`YYYY-MM-DDTHH:MM:SSZ`): a bundle referrer's `created`.
    pub created: String,
}

/// How often the `.sig` tag is appended to again after another writer replaced it.
const TAG_ATTEMPTS: usize = 5;

/// What happened to one site signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignStatus {
    /// Written by this run.
    Signed,
    /// A valid signature by the site key was already there: not signed again.
    Existing,
    /// Dry run: would be signed.
    Planned,
}

/// One site signature (the reports' `signed` entries).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    /// The signed manifest (what the tag resolves to, or a child).
    pub subject: Digest,
    /// `cosign-simple-signing` (the `.sig` tag) or `sigstore-bundle-dsse` (the referrer).
    pub format: Format,
    /// `sha256:` of the site key's SubjectPublicKeyInfo DER.
    pub key_fingerprint: String,
    /// `signed`, `existing` or `planned`.
    pub status: SignStatus,
    /// The signature manifest's digest (absent when planned).
    pub signature_digest: Option<Digest>,
    /// The `.sig` tag, or the referrers fallback tag the bundle is listed under.
    pub tag: Option<String>,
}

/// The site signatures already on the target for `subject`, one per format, that verify with
/// the site key: the `.sig` tag's simple signing, and a bundle referrer.
async fn existing<S: Storage>(
    dst: &S,
    subject: &Digest,
    key: &SigningKey,
) -> Result<(Option<discover::Found>, Option<discover::Found>)> {
    let keys = std::slice::from_ref(key.public());
    let (mut tag, mut referrer) = (None, None);
    for f in discover::discover(dst, subject).await? {
        match (&f.via, &f.content) {
            (
                Via::DigestTag(_),
                Ok(Content::Simple {
                    payload, signature, ..
                }),
            ) if tag.is_none() && cosign::check(payload, signature, subject, keys).is_ok() => {
                tag = Some(f);
            }
            (Via::Referrer | Via::FallbackTag(_), Ok(Content::Bundle(b)))
                if referrer.is_none()
                    && matches!(
                        bundle::check(b, subject, None, keys),
                        Ok((bundle::Content::Dsse, _))
                    ) =>
            {
                referrer = Some(f);
            }
            _ => {}
        }
    }
    Ok((tag, referrer))
}

async fn push_blobs<S: Storage>(dst: &S, a: &Artifact) -> Result<()> {
    for b in &a.blobs {
        if dst.has_blob(&b.descriptor).await? {
            continue;
        }
        let bytes: Bytes = b.bytes.clone();
        let body = BlobBody {
            size: bytes.len() as u64,
            stream: Box::pin(futures_util::stream::once(async move { Ok(bytes) })),
        };
        dst.push_blob(&b.descriptor, body).await?;
    }
    Ok(())
}

/// The `.sig` manifest currently under `tag`, if any.
async fn current_sig<S: Storage>(dst: &S, tag: &str) -> Result<Option<RawManifest>> {
    match dst.resolve(tag).await? {
        Some(d) => dst.fetch_manifest(d.as_str(), None).await.map(Some),
        None => Ok(None),
    }
}

/// Appends the site signature to the `.sig` tag of `s`: read, append, push; on a registry,
/// read back and append again if another writer replaced the tag in between.
async fn write_tag<S: Storage>(
    dst: &S,
    key: &SigningKey,
    s: &Subject<'_>,
    reporter: &Arc<dyn Reporter>,
) -> Result<Artifact> {
    let tag = sign::sig_tag(&s.descriptor.digest);
    for _ in 0..TAG_ATTEMPTS {
        let current = current_sig(dst, &tag).await?;
        let a = sign::tag_artifact(key, s, current.as_ref())?;
        push_blobs(dst, &a).await?;
        dst.push_manifest(&a.manifest, Some(&tag)).await?;
        reporter.event(Event::ManifestPushed {
            digest: a.manifest.digest.clone(),
            tag: Some(tag.clone()),
        });
        // Done when the tag holds every layer just pushed: ours alone, or with what another
        // writer appended after us (appending again would sign twice).
        if !dst.is_registry()
            || current_sig(dst, &tag)
                .await?
                .is_some_and(|now| sign::covers(&now, &a.manifest))
        {
            return Ok(a);
        }
        reporter.event(Event::Info(format!(
            "{tag} on {} changed while the site signature was appended; appending again",
            dst.describe()
        )));
    }
    Err(Error::Internal(format!(
        "{tag} on {} kept changing while the site signature was appended ({TAG_ATTEMPTS} attempts): another writer is updating it; run again when it is done",
        dst.describe()
    )))
}

/// Pushes the bundle referrer of `s`, and lists it in the fallback tag where the target did
/// not index it by its subject. Returns the artifact and the fallback tag, if used.
async fn write_bundle<S: Storage>(
    dst: &Arc<S>,
    key: &SigningKey,
    s: &Subject<'_>,
    created: &str,
    reporter: &Arc<dyn Reporter>,
) -> Result<(Artifact, Option<String>)> {
    let a = sign::bundle_artifact(key, s, created)?;
    push_blobs(dst.as_ref(), &a).await?;
    let pushed = dst.push_manifest(&a.manifest, None).await?;
    reporter.event(Event::ManifestPushed {
        digest: a.manifest.digest.clone(),
        tag: None,
    });
    let subject = &s.descriptor.digest;
    if pushed == Pushed::SubjectIndexed(subject.clone()) {
        return Ok((a, None));
    }
    let entry = referrer_entry(&a.manifest);
    crate::engine::artifacts::target::maintain_fallback(dst, subject, &[entry], true, reporter)
        .await?;
    Ok((a, Some(fallback_tag(subject))))
}

/// Signs `s` on `dst` in `format` unless a valid site signature is already there;
/// `dry_run`: looks only. `created` stamps a bundle referrer.
pub async fn sign_subject<S: Storage>(
    dst: &Arc<S>,
    key: &SigningKey,
    format: SignFormat,
    s: &Subject<'_>,
    created: &str,
    dry_run: bool,
    reporter: &Arc<dyn Reporter>,
) -> Result<Vec<Signed>> {
    let subject = &s.descriptor.digest;
    let ctx = |what: &str| {
        format!(
            "signing {subject} with the site key {} ({what}) on {}",
            key.public().source,
            dst.describe()
        )
    };
    let (have_tag, have_bundle) = existing(dst.as_ref(), subject, key)
        .await
        .map_err(|e| e.context(ctx("looking for an earlier site signature")))?;
    let entry = |format, status, digest: Option<Digest>, tag: Option<String>| Signed {
        subject: subject.clone(),
        format,
        key_fingerprint: key.public().fingerprint(),
        status,
        signature_digest: digest,
        tag,
    };
    let mut out = vec![];
    let found = |f: &discover::Found, format| {
        entry(
            format,
            SignStatus::Existing,
            Some(f.manifest.clone()),
            f.via.tag().map(str::to_string),
        )
    };
    if format.tag() {
        out.push(match (&have_tag, dry_run) {
            (Some(f), _) => found(f, Format::CosignSimpleSigning),
            (None, true) => entry(
                Format::CosignSimpleSigning,
                SignStatus::Planned,
                None,
                Some(sign::sig_tag(subject)),
            ),
            (None, false) => {
                let a = write_tag(dst.as_ref(), key, s, reporter)
                    .await
                    .map_err(|e| e.context(ctx("the .sig tag")))?;
                entry(a.format, SignStatus::Signed, Some(a.manifest.digest), a.tag)
            }
        });
    }
    if format.bundle() {
        out.push(match (&have_bundle, dry_run) {
            (Some(f), _) => found(f, Format::SigstoreBundleDsse),
            (None, true) => entry(Format::SigstoreBundleDsse, SignStatus::Planned, None, None),
            (None, false) => {
                let (a, tag) = write_bundle(dst, key, s, created, reporter)
                    .await
                    .map_err(|e| e.context(ctx("the bundle referrer")))?;
                entry(a.format, SignStatus::Signed, Some(a.manifest.digest), tag)
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
