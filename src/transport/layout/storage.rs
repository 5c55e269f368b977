//! [`Layout`] as a [`Storage`]: the calls the engine makes on a source or a target, on top of
//! the layout's own reads and writes in `layout.rs`.

use bytes::Bytes;
use futures_util::StreamExt;

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest, MAX_MANIFEST_BYTES};
use crate::transport::layout::files::{self, io_err};
use crate::transport::layout::{Layout, INDEX_FILE, READ_CHUNK, REF_NAME};
use crate::transport::ranges::{RangedBlob, Verify};
use crate::transport::storage::{BlobBody, Pushed, Storage};

impl Storage for Layout {
    fn describe(&self) -> String {
        match &self.archive {
            Some(_) => format!("oci-archive:{}", self.shown.display()),
            None => format!("oci:{}", self.root.display()),
        }
    }

    async fn fetch_manifest(&self, reference: &str, hint: Option<&str>) -> Result<RawManifest> {
        let (digest, hint) = match reference.parse::<Digest>() {
            Ok(d) => {
                let from_index = self.find(reference).ok().flatten().map(|e| e.media_type);
                (d, hint.map(str::to_string).or(from_index))
            }
            Err(_) => {
                let e = self.find(reference)?.ok_or_else(|| {
                    let names: Vec<String> = self
                        .entries()
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(n, _)| n)
                        .collect();
                    self.err(format!(
                        "no image tagged {reference:?} in index.json (it has: {})",
                        if names.is_empty() {
                            "no tags".into()
                        } else {
                            names.join(", ")
                        }
                    ))
                })?;
                (
                    e.digest,
                    Some(e.media_type)
                        .filter(|m| !m.is_empty())
                        .or(hint.map(str::to_string)),
                )
            }
        };
        let bytes = self.read_verified(&digest, MAX_MANIFEST_BYTES).await?;
        RawManifest::from_bytes(bytes, digest.clone(), hint.as_deref()).map_err(|source| {
            Error::Manifest {
                what: format!("manifest {digest} in {}", self.describe()),
                source,
            }
        })
    }

    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        if !self.root.join(INDEX_FILE).exists() {
            return Ok(None);
        }
        Ok(self.find(reference)?.map(|e| e.digest))
    }

    async fn has_manifest(&self, d: &Descriptor) -> Result<bool> {
        self.has_blob(d).await
    }

    async fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        Ok(tokio::fs::metadata(self.blob_path(&d.digest))
            .await
            .map(|m| m.len() == d.size)
            .unwrap_or(false))
    }

    async fn fetch_blob(&self, d: &Descriptor) -> Result<BlobBody> {
        let p = self.blob_path(&d.digest);
        let file = match std::fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Missing {
                    what: format!("blob {} ({})", d.digest, p.display()),
                    place: self.describe(),
                    sparse: true,
                })
            }
            Err(e) => return Err(io_err(format!("opening {}", p.display()))(e)),
        };
        // Read from the blocking pool straight into the buffer that becomes the chunk
        // (`tokio::fs::File` would read into its own buffer and copy).
        let what = p.display().to_string();
        let raw = futures_util::stream::unfold(Some((file, what)), |state| async move {
            let (mut f, what) = state?;
            let read = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; READ_CHUNK];
                let r = std::io::Read::read(&mut f, &mut buf);
                (f, buf, r)
            })
            .await;
            match read {
                Ok((_, _, Ok(0))) => None,
                Ok((f, mut buf, Ok(n))) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some((f, what))))
                }
                Ok((_, _, Err(e))) => Some((
                    Err(std::io::Error::new(
                        e.kind(),
                        format!("reading {what}: {e}"),
                    )),
                    None,
                )),
                Err(e) => Some((Err(std::io::Error::other(e)), None)),
            }
        });
        // Verified by the consumer (copy.rs wraps every blob stream in a VerifyingStream).
        let stream = raw
            .map(|r| {
                r.map_err(|source| Error::Io {
                    what: "reading a layout blob".into(),
                    source,
                })
            })
            .boxed();
        Ok(BlobBody {
            size: d.size,
            stream,
        })
    }

    async fn push_blob(&self, d: &Descriptor, body: BlobBody) -> Result<()> {
        self.write_blob(&d.digest, d.size, body.stream).await
    }

    /// Each range written at its offset into the temp file, the file read back through
    /// `verify` (the digest check) before it is renamed into place.
    async fn push_blob_ranged(
        &self,
        d: &Descriptor,
        blob: RangedBlob,
        verify: Verify,
    ) -> Result<()> {
        let path = self.blob_path(&d.digest);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.len() == d.size => Ok(()),
            _ => files::write_ranged(&path, blob, verify).await,
        }
    }

    async fn push_manifest(&self, m: &RawManifest, tag: Option<&str>) -> Result<Pushed> {
        let bytes = m.bytes.clone();
        let stream = futures_util::stream::once(async move { Ok(bytes) }).boxed();
        self.write_blob(&m.digest, m.bytes.len() as u64, stream)
            .await?;
        if tag.is_some() || m.is_index() {
            let mut desc = serde_json::json!({
                "mediaType": m.media_type,
                "digest": m.digest.to_string(),
                "size": m.bytes.len(),
            });
            if let Some(t) = tag {
                desc["annotations"] = serde_json::json!({ REF_NAME: t });
            }
            // Only roots are recorded: a tagged push, or (without a tag) the caller's root.
            if tag.is_some() {
                self.pending
                    .lock()
                    .expect("not poisoned")
                    .push((tag.map(str::to_string), desc));
            }
        }
        Ok(Pushed::Written)
    }

    fn blob_location(&self, d: &Digest) -> String {
        format!("{} ({d})", self.blob_path(d).display())
    }

    fn is_registry(&self) -> bool {
        false
    }

    async fn list_tags(&self) -> Result<Vec<String>> {
        // `REPO:TAG` ref names are listed by their tag part, as `find` accepts them.
        let mut tags: Vec<String> = self
            .entries()?
            .into_iter()
            .filter_map(|(n, _)| n)
            .map(|n| match n.rsplit_once(':') {
                Some((_, t)) if !t.contains('/') => t.to_string(),
                _ => n,
            })
            .collect();
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    async fn finish(&self) -> Result<()> {
        self.commit_index()?;
        if let Some((_, Some(file))) = &self.archive {
            crate::transport::archive::pack(&self.root, file)?;
        }
        Ok(())
    }
}
