//! `oci-archive:FILE[:TAG]`: an OCI image layout carried as one tar file across an air gap.
//!
//! Reading unpacks the tar as a stream into a private temp directory (never into memory) and
//! then treats it as a layout; a `FILE.sha256` sidecar, when present, is verified over the
//! exact bytes read. Writing builds the layout in a temp directory (unpacking an existing
//! archive first, so tags accumulate) and, in `finish`, streams it into `FILE.tmp…`, fsyncs,
//! renames over `FILE` and writes the sidecar the same way. `tar` rejects `..` entries on unpack.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::digest::{Algorithm, Hasher};

fn io_err(what: String) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io { what, source }
}

struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The sidecar path: `FILE.sha256`.
pub fn sidecar(file: &Path) -> std::path::PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".sha256");
    s.into()
}

/// Unpack `file` into `dir`. When a `FILE.sha256` sidecar exists, the whole file is checked
/// against it first, so damage is reported as a checksum mismatch, not as a garbled tar.
pub fn unpack(file: &Path, dir: &Path) -> Result<()> {
    let side = sidecar(file);
    if let Ok(text) = std::fs::read_to_string(&side) {
        let want = text.split_whitespace().next().unwrap_or("").to_string();
        let f = File::open(file).map_err(io_err(format!("opening archive {}", file.display())))?;
        let mut reader = HashingReader {
            inner: io::BufReader::with_capacity(1 << 20, f),
            hasher: Hasher::new(Algorithm::Sha256),
        };
        io::copy(&mut reader, &mut io::sink())
            .map_err(io_err(format!("reading archive {}", file.display())))?;
        let actual = reader.hasher.finish();
        if want != actual.hex() {
            return Err(Error::Layout {
                path: file.display().to_string(),
                reason: format!("checksum mismatch: {} says {want}, the file hashes to {}; the archive was damaged in transit", side.display(), actual.hex()),
            });
        }
    }
    let f = File::open(file).map_err(io_err(format!("opening archive {}", file.display())))?;
    let mut archive = tar::Archive::new(io::BufReader::with_capacity(1 << 20, f));
    archive.set_preserve_permissions(false);
    archive.set_overwrite(true);
    archive.unpack(dir).map_err(|e| Error::Layout {
        path: file.display().to_string(),
        reason: format!("not a readable tar archive: {e}"),
    })
}

/// Pack the layout in `dir` into `file` atomically and write the sidecar.
pub fn pack(dir: &Path, file: &Path) -> Result<()> {
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-archive-")
        .tempfile_in(parent)
        .map_err(io_err(format!(
            "creating a temp file in {}",
            parent.display()
        )))?;
    let mut writer = HashingWriter {
        inner: io::BufWriter::with_capacity(1 << 20, tmp),
        hasher: Hasher::new(Algorithm::Sha256),
    };
    {
        let mut b = tar::Builder::new(&mut writer);
        b.mode(tar::HeaderMode::Deterministic);
        b.follow_symlinks(false);
        for name in ["oci-layout", "index.json"] {
            b.append_path_with_name(dir.join(name), name)
                .map_err(io_err(format!("archiving {name}")))?;
        }
        b.append_dir_all("blobs", dir.join("blobs"))
            .map_err(io_err("archiving blobs".into()))?;
        b.finish()
            .map_err(io_err(format!("writing {}", file.display())))?;
    }
    let digest = writer.hasher.finish();
    let tmp = writer.inner.into_inner().map_err(|e| Error::Io {
        what: format!("writing {}", file.display()),
        source: e.into_error(),
    })?;
    tmp.as_file()
        .sync_all()
        .map_err(io_err(format!("syncing {}", file.display())))?;
    tmp.persist(file).map_err(|e| Error::Io {
        what: format!("renaming into {}", file.display()),
        source: e.error,
    })?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut side = tempfile::Builder::new()
        .prefix(".tmp-sidecar-")
        .tempfile_in(parent)
        .map_err(io_err(format!(
            "creating a temp file in {}",
            parent.display()
        )))?;
    writeln!(side, "{}  {name}", digest.hex()).map_err(io_err("writing the sidecar".into()))?;
    side.persist(sidecar(file)).map_err(|e| Error::Io {
        what: "renaming the sidecar".into(),
        source: e.error,
    })?;
    Ok(())
}
