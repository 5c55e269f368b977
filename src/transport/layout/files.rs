//! File primitives of the layout backend: batched blob writes from the blocking pool and
//! atomic replacement of small files (temp file in the same directory, fsync, rename).

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;

use crate::error::{Error, Result};
use crate::model::digest::VerifyError;
use crate::transport::ranges::budget::PositionalFile;
use crate::transport::ranges::{RangedBlob, Verify};

pub(super) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Bytes gathered per write to a blob file.
pub(super) const WRITE_BATCH: usize = 128 * 1024;

/// Writes a blob file from the blocking pool in batches of [`WRITE_BATCH`] bytes, one batch
/// being written while the next one fills: two buffers per file, whatever the chunk sizes.
/// (`tokio::fs::File` copies every write into its own buffer of up to 2 MiB, which made a copy
/// into a layout need more memory per transfer than a copy between registries.)
pub(super) struct BatchWriter {
    file: Option<std::fs::File>,
    batch: Vec<u8>,
    spare: Vec<u8>,
    in_flight: Option<tokio::task::JoinHandle<WriteDone>>,
}

type WriteDone = (std::fs::File, Vec<u8>, std::io::Result<()>);

impl BatchWriter {
    pub(super) fn new(file: std::fs::File) -> Self {
        BatchWriter {
            file: Some(file),
            batch: Vec::new(),
            spare: Vec::new(),
            in_flight: None,
        }
    }

    pub(super) async fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if self.batch.capacity() == 0 {
                self.batch.reserve_exact(WRITE_BATCH);
            }
            let n = bytes.len().min(WRITE_BATCH - self.batch.len());
            self.batch.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.batch.len() == WRITE_BATCH {
                self.start_write().await?;
            }
        }
        Ok(())
    }

    /// Wait for the batch being written, then start writing the current one.
    async fn start_write(&mut self) -> std::io::Result<()> {
        self.wait().await?;
        let file = self.file.take().expect("no write in flight");
        let buf = std::mem::replace(&mut self.batch, std::mem::take(&mut self.spare));
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            let r = (&file).write_all(&buf);
            (file, buf, r)
        }));
        Ok(())
    }

    async fn wait(&mut self) -> std::io::Result<()> {
        if let Some(h) = self.in_flight.take() {
            let (file, mut buf, r) = h.await.map_err(std::io::Error::other)?;
            self.file = Some(file);
            buf.clear();
            self.spare = buf;
            r?;
        }
        Ok(())
    }

    /// Write what is left and fsync.
    pub(super) async fn finish(mut self) -> std::io::Result<()> {
        if !self.batch.is_empty() {
            self.start_write().await?;
        }
        self.wait().await?;
        let file = self.file.take().expect("no write in flight");
        tokio::task::spawn_blocking(move || file.sync_all())
            .await
            .map_err(std::io::Error::other)?
    }
}

/// A blob's temp file, written at offsets by a ranged download ([`RangedBlob::positional`]) and
/// read back for the digest check. Reads and writes run on the blocking pool.
pub(super) struct BlobFile(Arc<std::fs::File>);

impl PositionalFile for BlobFile {
    fn write_at(&self, offset: u64, buf: Vec<u8>) -> BoxFuture<'static, std::io::Result<Vec<u8>>> {
        let file = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || file.write_all_at(&buf, offset).map(|_| buf))
                .await
                .map_err(std::io::Error::other)?
        })
    }

    fn read_at(
        &self,
        offset: u64,
        len: usize,
        mut buf: Vec<u8>,
    ) -> BoxFuture<'static, std::io::Result<Vec<u8>>> {
        let file = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                buf.clear();
                buf.resize(len, 0);
                file.read_exact_at(&mut buf, offset).map(|_| buf)
            })
            .await
            .map_err(std::io::Error::other)?
        })
    }
}

/// Write a ranged download into a new temp file next to `final_path`, each range at its offset,
/// and rename it into place once `verify` (the engine's digest check, wrapped around the file
/// read back in order) has passed every byte. An error or a drop leaves no file behind.
pub(super) async fn write_ranged(
    final_path: &Path,
    blob: RangedBlob,
    verify: Verify,
) -> Result<()> {
    let size = blob.size();
    let dir = final_path.parent().expect("blob path has a parent");
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(io_err(format!("creating {}", dir.display())))?;
    let name = final_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{}-", &name[..name.len().min(12)]))
        .tempfile_in(dir)
        .map_err(io_err(format!("creating a temp file in {}", dir.display())))?;
    let (file, tmp_path) = tmp.into_parts();
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(SHARED_MODE))
        .map_err(io_err(format!(
            "setting the mode of {}",
            tmp_path.display()
        )))?;
    let file = Arc::new(file);
    let mut body = verify(blob.positional(Arc::new(BlobFile(file.clone()))));
    let mut seen = 0u64;
    while let Some(chunk) = body.next().await {
        seen += chunk?.len() as u64;
    }
    drop(body);
    if seen != size {
        return Err(Error::Verify {
            what: format!("blob {}", final_path.display()),
            source: VerifyError::Size {
                expected: size,
                actual: seen,
            },
        });
    }
    tokio::task::spawn_blocking(move || file.sync_all())
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r)
        .map_err(io_err(format!("syncing {}", tmp_path.display())))?;
    tmp_path.persist(final_path).map_err(|e| Error::Io {
        what: format!("renaming into {}", final_path.display()),
        source: e.error,
    })?;
    Ok(())
}

/// Readable by everyone, like a tar's entries: layouts and bundles are carried across and read
/// by other users (tempfile creates files 0600).
pub(crate) const SHARED_MODE: u32 = 0o644;

/// Write a small file atomically: temp file in the same directory, mode [`SHARED_MODE`], fsync,
/// rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io_err(format!("creating a temp file in {}", dir.display())))?;
    tmp.write_all(bytes)
        .map_err(io_err(format!("writing {}", path.display())))?;
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(SHARED_MODE))
        .map_err(io_err(format!("setting the mode of {}", path.display())))?;
    tmp.as_file()
        .sync_all()
        .map_err(io_err(format!("syncing {}", path.display())))?;
    tmp.persist(path).map_err(|e| Error::Io {
        what: format!("renaming into {}", path.display()),
        source: e.error,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes smaller than, equal to, across and much larger than a batch, and a last partial
    /// batch: the file holds exactly the bytes, in order.
    #[tokio::test]
    async fn batch_writer_keeps_every_byte_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut w = BatchWriter::new(std::fs::File::create(&path).unwrap());
        let mut want = Vec::new();
        for (i, n) in [
            1,
            WRITE_BATCH - 1,
            WRITE_BATCH,
            WRITE_BATCH + 1,
            3 * WRITE_BATCH + 7,
            5,
        ]
        .into_iter()
        .enumerate()
        {
            let chunk: Vec<u8> = (0..n).map(|j| ((i * 31 + j) % 251) as u8).collect();
            w.write(&chunk).await.unwrap();
            want.extend_from_slice(&chunk);
        }
        w.finish().await.unwrap();
        let got = std::fs::read(&path).unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the file differs from what was written");
    }
}
