//! The OCI image-layout backend (`oci:DIR[:TAG|@DIGEST]`), as source and as target.
//!
//! Layout rules (image-spec v1.1 `image-layout.md`): `oci-layout` holds the version, `index.json`
//! lists the tagged roots (tag in `org.opencontainers.image.ref.name`), and every blob and
//! manifest lives at `blobs/<alg>/<hex>`. Missing blobs are legal, so a sparse index is stored
//! exactly like a registry would hold it.
//!
//! Safety: digests are validated before they become paths (no `..`, no unknown algorithm); every
//! read is digest-checked; writes go to a temp file in the layout, are verified, fsynced and
//! renamed; `index.json` is rewritten through temp + rename while holding an advisory lock on
//! `index.json.lock`, re-reading it under the lock so concurrent writers of other tags are kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use crate::error::{Error, Result};
use crate::model::digest::{Digest, VerifyError};
use crate::model::manifest::Descriptor;
use crate::model::media;
use crate::transport::storage::Storage;

mod files;
pub mod prune;
mod storage;
pub use files::write_atomic;
use files::{io_err, BatchWriter, SHARED_MODE};

/// The annotation holding a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const LAYOUT_FILE: &str = "oci-layout";
const INDEX_FILE: &str = "index.json";

/// An OCI layout directory.
pub struct Layout {
    root: PathBuf,
    /// Tag updates to apply to `index.json` in `finish`: (ref name or None, descriptor json).
    pending: Mutex<Vec<(Option<String>, serde_json::Value)>>,
    /// How long to wait for another writer's lock on `index.json`.
    lock_timeout: std::time::Duration,
    /// For `oci-archive:`: the unpacked layout's directory (kept alive) and, when writing, the tar file.
    archive: Option<(tempfile::TempDir, Option<PathBuf>)>,
    /// What the user named (the archive file, or the directory).
    shown: PathBuf,
}

/// Bytes read per chunk from a blob file.
const READ_CHUNK: usize = 128 * 1024;

impl Layout {
    fn new(root: &Path) -> Self {
        Layout {
            root: root.to_path_buf(),
            pending: Mutex::new(vec![]),
            lock_timeout: std::time::Duration::from_secs(60),
            archive: None,
            shown: root.to_path_buf(),
        }
    }

    /// Open an existing layout for reading. A missing or garbled `oci-layout` is an error.
    pub fn open(root: &Path) -> Result<Self> {
        let l = Self::new(root);
        l.check_layout_file()?;
        Ok(l)
    }

    /// Open a layout for writing, creating it if missing.
    pub fn create(root: &Path) -> Result<Self> {
        let l = Self::new(root);
        l.init()?;
        Ok(l)
    }

    /// Set how long `finish` waits for another writer's lock on `index.json`.
    pub fn with_lock_timeout(mut self, t: std::time::Duration) -> Self {
        self.lock_timeout = t;
        self
    }

    /// Create what is missing. `index.json` is written before `oci-layout`, and an existing
    /// `oci-layout` without `index.json` (a writer killed between the two) is completed, so an
    /// interrupted first write never leaves a layout that cannot be reopened.
    fn init(&self) -> Result<()> {
        std::fs::create_dir_all(self.root.join("blobs"))
            .map_err(io_err(format!("creating {}", self.root.display())))?;
        if !self.root.join(INDEX_FILE).exists() {
            write_atomic(
                &self.root.join(INDEX_FILE),
                br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
            )?;
        }
        if self.root.join(LAYOUT_FILE).exists() {
            return self.check_layout_file();
        }
        write_atomic(
            &self.root.join(LAYOUT_FILE),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
    }

    fn temp_dir(near: &Path) -> Result<tempfile::TempDir> {
        let parent = near
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = if parent.is_dir() {
            parent.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        tempfile::Builder::new()
            .prefix(".mirror-archive-")
            .tempdir_in(&base)
            .map_err(io_err(format!(
                "creating a temp directory in {}",
                base.display()
            )))
    }

    /// Open an `oci-archive:` tar for reading: unpacked (streamed) into a temp directory.
    pub fn open_archive(file: &Path) -> Result<Self> {
        let tmp = Self::temp_dir(file)?;
        crate::transport::archive::unpack(file, tmp.path())?;
        let mut l = Self::new(tmp.path());
        l.shown = file.to_path_buf();
        l.check_layout_file()?;
        l.archive = Some((tmp, None));
        Ok(l)
    }

    /// Open an `oci-archive:` tar for writing; an existing archive is unpacked first so its
    /// other tags are kept. The tar is (re)written in `finish`.
    pub fn create_archive(file: &Path) -> Result<Self> {
        let tmp = Self::temp_dir(file)?;
        if file.exists() {
            crate::transport::archive::unpack(file, tmp.path())?;
        }
        let mut l = Self::new(tmp.path());
        l.shown = file.to_path_buf();
        l.init()?;
        l.archive = Some((tmp, Some(file.to_path_buf())));
        Ok(l)
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Layout {
            path: self.shown.display().to_string(),
            reason: reason.into(),
        }
    }

    fn check_layout_file(&self) -> Result<()> {
        let p = self.root.join(LAYOUT_FILE);
        let text = std::fs::read(&p).map_err(|e| {
            self.err(format!(
                "cannot read {LAYOUT_FILE} ({e}): is this an OCI image layout?"
            ))
        })?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct V {
            image_layout_version: String,
        }
        match serde_json::from_slice::<V>(&text) {
            Ok(v) if v.image_layout_version.starts_with("1.") => Ok(()),
            Ok(v) => Err(self.err(format!(
                "unsupported imageLayoutVersion {:?}",
                v.image_layout_version
            ))),
            Err(e) => Err(self.err(format!("{LAYOUT_FILE} is not valid: {e}"))),
        }
    }

    /// `blobs/<alg>/<hex>`: safe because [`Digest`] only holds validated algorithm and hex.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    fn read_index(&self) -> Result<Vec<serde_json::Value>> {
        let p = self.root.join(INDEX_FILE);
        let text = match std::fs::read(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.err("index.json is missing"))
            }
            Err(e) => return Err(io_err(format!("reading {}", p.display()))(e)),
        };
        let v: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| self.err(format!("index.json is not valid JSON: {e}")))?;
        match v.get("manifests") {
            Some(serde_json::Value::Array(a)) => Ok(a.clone()),
            _ => Err(self.err("index.json has no `manifests` array")),
        }
    }

    /// Entries of `index.json` as descriptors, each with its ref name.
    pub fn entries(&self) -> Result<Vec<(Option<String>, Descriptor)>> {
        self.read_index()?
            .into_iter()
            .map(|v| {
                let d: Descriptor = serde_json::from_value(v)
                    .map_err(|e| self.err(format!("index.json has an invalid descriptor: {e}")))?;
                Ok((d.annotations.get(REF_NAME).cloned(), d))
            })
            .collect()
    }

    /// Find the root descriptor for a tag (accepting `REPO:TAG` ref names too) or digest. Tags
    /// pushed in this run and not yet committed by `finish` come first, the latest of them
    /// winning as it will in `index.json`: a writer reads its own writes (the gateway appends
    /// its signature to the `.sig` tag a referrers copy just pushed, docs/signatures.md).
    fn find(&self, reference: &str) -> Result<Option<Descriptor>> {
        let pending: Vec<(Option<String>, Descriptor)> = self
            .pending
            .lock()
            .expect("not poisoned")
            .iter()
            .rev()
            .filter_map(|(n, v)| Some((n.clone(), serde_json::from_value(v.clone()).ok()?)))
            .collect();
        let entries: Vec<_> = pending.into_iter().chain(self.entries()?).collect();
        if let Ok(d) = reference.parse::<Digest>() {
            return Ok(entries.into_iter().map(|(_, e)| e).find(|e| e.digest == d));
        }
        Ok(entries.into_iter().find_map(|(name, e)| {
            let n = name?;
            let tag_part = n
                .rsplit_once(':')
                .filter(|(_, t)| !t.contains('/'))
                .map(|(_, t)| t);
            (n == reference || tag_part == Some(reference)).then_some(e)
        }))
    }

    async fn read_verified(&self, d: &Digest, limit: usize) -> Result<Bytes> {
        let p = self.blob_path(d);
        let mut f = match tokio::fs::File::open(&p).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Missing {
                    what: format!("{d} ({})", p.display()),
                    place: self.describe(),
                    sparse: true,
                })
            }
            Err(e) => return Err(io_err(format!("opening {}", p.display()))(e)),
        };
        let mut buf = Vec::new();
        (&mut f)
            .take(limit as u64 + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(io_err(format!("reading {}", p.display())))?;
        if buf.len() > limit {
            return Err(self.err(format!("{} is larger than {limit} bytes", p.display())));
        }
        if !d.verifies(&buf) {
            return Err(Error::Verify {
                what: format!("{} in {}", p.display(), self.describe()),
                source: VerifyError::Digest {
                    expected: d.clone(),
                    actual: Digest::of(d.algorithm(), &buf),
                },
            });
        }
        Ok(Bytes::from(buf))
    }

    async fn write_blob(
        &self,
        d: &Digest,
        size: u64,
        mut stream: futures_util::stream::BoxStream<'static, Result<Bytes>>,
    ) -> Result<()> {
        let final_path = self.blob_path(d);
        if let Ok(meta) = tokio::fs::metadata(&final_path).await {
            if meta.len() == size {
                return Ok(());
            }
        }
        let dir = final_path.parent().expect("blob path has a parent");
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(io_err(format!("creating {}", dir.display())))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".tmp-{}-", &d.hex()[..12]))
            .tempfile_in(dir)
            .map_err(io_err(format!("creating a temp file in {}", dir.display())))?;
        let (std_file, tmp_path) = tmp.into_parts();
        std_file
            .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(SHARED_MODE))
            .map_err(io_err(format!(
                "setting the mode of {}",
                tmp_path.display()
            )))?;
        // `stream` is a VerifyingStream (copy.rs) or bytes hashed just now (manifests): it ends
        // cleanly only when size and digest are right, so the rename below commits only
        // verified content. The size is re-checked here as a cheap second guard.
        let writing = || io_err(format!("writing {}", tmp_path.display()));
        let mut writer = BatchWriter::new(std_file);
        let mut seen = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            seen += chunk.len() as u64;
            writer.write(&chunk).await.map_err(writing())?;
        }
        if seen != size {
            return Err(Error::Verify {
                what: format!("blob {d} for {}", self.describe()),
                source: VerifyError::Size {
                    expected: size,
                    actual: seen,
                },
            });
        }
        writer.finish().await.map_err(io_err(format!(
            "writing and syncing {}",
            tmp_path.display()
        )))?;
        tmp_path.persist(&final_path).map_err(|e| Error::Io {
            what: format!("renaming into {}", final_path.display()),
            source: e.error,
        })?;
        Ok(())
    }

    /// Take the advisory lock on `index.json.lock`, waiting up to the lock timeout. `index.json`
    /// changes only while it is held (released when the file is dropped).
    fn lock_index(&self) -> Result<std::fs::File> {
        let lock_path = self.root.join("index.json.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(format!("opening {}", lock_path.display())))?;
        let deadline = std::time::Instant::now() + self.lock_timeout;
        loop {
            match lock.try_lock() {
                Ok(()) => return Ok(lock),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(self.err(format!(
                    "another writer holds {} (waited {} s; raise --lock-timeout to wait longer)",
                    lock_path.display(),
                    self.lock_timeout.as_secs()
                )))
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io_err(format!("locking {}", lock_path.display()))(e))
                }
            }
        }
    }

    /// Replace `index.json` (temp file + rename); the caller holds [`Layout::lock_index`].
    fn write_index(&self, entries: Vec<serde_json::Value>) -> Result<()> {
        let mut doc = BTreeMap::new();
        doc.insert("schemaVersion", serde_json::json!(2));
        doc.insert("mediaType", serde_json::json!(media::OCI_INDEX));
        doc.insert("manifests", serde_json::Value::Array(entries));
        let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::Internal(e.to_string()))?;
        write_atomic(&self.root.join(INDEX_FILE), &bytes)
    }

    /// Apply pending tag updates to `index.json` under the lock.
    fn commit_index(&self) -> Result<()> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("not poisoned"));
        if pending.is_empty() {
            return Ok(());
        }
        let lock = self.lock_index()?;
        let mut entries = self.read_index()?;
        for (name, desc) in pending {
            entries.retain(|e| {
                let e_name = e
                    .get("annotations")
                    .and_then(|a| a.get(REF_NAME))
                    .and_then(|v| v.as_str());
                match &name {
                    Some(n) => e_name != Some(n.as_str()),
                    // An untagged root replaces only an identical untagged entry.
                    None => !(e_name.is_none() && e.get("digest") == desc.get("digest")),
                }
            });
            entries.push(desc);
        }
        self.write_index(entries)?;
        drop(lock);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
