//! `oci-archive:FILE[:TAG]`: an OCI image layout carried as one tar file across an air gap.
//!
//! Reading unpacks the tar as a stream into a private temp directory (never into memory) and
//! then treats it as a layout; a `FILE.sha256` sidecar, when present, is verified over the
//! exact bytes read. Writing builds the layout in a temp directory (unpacking an existing
//! archive first, so tags accumulate) and, in `finish`, streams it into `FILE.tmp…`, fsyncs,
//! renames over `FILE` and writes the sidecar the same way.
//!
//! Unpacking accepts regular files and directories only: a symlink, hard link, device node or
//! FIFO entry, and any absolute or `..` path, is refused with an error naming the entry, before
//! anything of it is created.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::digest::{Algorithm, Hasher};

pub(crate) fn io_err(what: String) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io { what, source }
}

pub(crate) struct HashingReader<R> {
    pub(crate) inner: R,
    pub(crate) hasher: Hasher,
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
    unpack_tar(
        io::BufReader::with_capacity(1 << 20, f),
        &file.display().to_string(),
        dir,
    )
}

/// Unpack the tar stream `reader` into `dir` with the rules above (regular files and
/// directories only, paths inside `dir`); `source` names the archive in errors.
/// Also used by the bundle's volumes (`volumes.rs`), which chain several files into one tar.
pub(crate) fn unpack_tar<R: Read>(reader: R, source: &str, dir: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    archive.set_overwrite(true);
    let unreadable = |e: io::Error| Error::Layout {
        path: source.to_string(),
        reason: format!("not a readable tar archive: {e}"),
    };
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let kind = entry.header().entry_type();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let refuse = |reason: String| Error::Layout {
            path: source.to_string(),
            reason,
        };
        if kind.is_pax_global_extensions() {
            continue; // archive-wide metadata (e.g. from `git archive`), nothing to unpack
        }
        if !(kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse() || kind.is_dir()) {
            return Err(refuse(format!(
                "entry {name:?} is {}; an OCI archive holds only regular files and directories",
                kind_name(kind)
            )));
        }
        if let Some(why) = unsafe_path(&name) {
            return Err(refuse(format!(
                "entry {name:?} {why}; an OCI archive holds only paths inside the layout"
            )));
        }
        let unpacked = entry.unpack_in(dir).map_err(|e| {
            refuse(format!(
                "unpacking entry {name:?} into {}: {e}",
                dir.display()
            ))
        })?;
        if !unpacked {
            // `tar` skipped it as outside `dir`; unsafe_path should have caught it first.
            return Err(refuse(format!("entry {name:?} points outside the layout")));
        }
    }
    Ok(())
}

/// Names a tar entry type for messages.
fn kind_name(kind: tar::EntryType) -> String {
    use tar::EntryType as T;
    match kind {
        T::Symlink => "a symbolic link".into(),
        T::Link => "a hard link".into(),
        T::Char => "a character device".into(),
        T::Block => "a block device".into(),
        T::Fifo => "a FIFO (named pipe)".into(),
        T::GNULongLink => "a GNU long link name".into(),
        T::XHeader => "a stray PAX header".into(),
        other => format!("an entry of tar type {:?}", other.as_byte() as char),
    }
}

/// Why an entry path would land outside the unpack directory: absolute, or with `..`.
fn unsafe_path(name: &str) -> Option<&'static str> {
    use std::path::Component;
    let path = Path::new(name);
    if name.starts_with('/') || path.has_root() {
        return Some("has an absolute path");
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Some("has a `..` path component");
    }
    if path.components().any(|c| matches!(c, Component::Prefix(_))) {
        return Some("has a drive prefix");
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar with the layout's two files first, then one `kind` entry named `name` (raw header
    /// bytes, so `..` and absolute names are written as given).
    fn tar_with(kind: tar::EntryType, name: &str, link: Option<&str>, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (n, body) in [
            ("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
            ("index.json", br#"{"schemaVersion":2,"manifests":[]}"#),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_path(n).unwrap();
            h.set_cksum();
            b.append(&h, body).unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            h.set_device_major(8).unwrap();
            h.set_device_minor(0).unwrap();
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
        b.into_inner().unwrap()
    }

    /// Unpacks `tar` into a fresh dir: the error text (or "ok") and the paths created.
    fn unpack_bytes(tar: &[u8]) -> (String, Vec<String>) {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a.tar");
        std::fs::write(&file, tar).unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        let result = match unpack(&file, &dir) {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        let mut created: Vec<String> = walk(&dir)
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        created.sort();
        (result, created)
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = vec![];
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            // symlink_metadata: never follow what an entry may have created.
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
        out
    }

    const BLOB: &str =
        "blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn regular_files_and_directories_unpack() {
        let tar = tar_with(tar::EntryType::Directory, "blobs/", None, b"");
        let (result, created) = unpack_bytes(&tar);
        assert_eq!(result, "ok");
        assert_eq!(created, ["blobs", "index.json", "oci-layout"]);
        let tar = tar_with(tar::EntryType::Regular, BLOB, None, b"data");
        assert_eq!(unpack_bytes(&tar).0, "ok");
    }

    #[test]
    fn every_other_entry_type_is_refused_by_name_and_type() {
        use tar::EntryType as T;
        let cases = [
            (T::Symlink, Some("/etc/hostname"), "a symbolic link"),
            (T::Link, Some("index.json"), "a hard link"),
            (T::Char, None, "a character device"),
            (T::Block, None, "a block device"),
            (T::Fifo, None, "a FIFO (named pipe)"),
            (T::new(b'X'), None, "an entry of tar type 'X'"),
        ];
        for (kind, link, what) in cases {
            let (result, created) = unpack_bytes(&tar_with(kind, BLOB, link, b""));
            assert!(
                result.contains(&format!("entry \"{BLOB}\" is {what}"))
                    && result.contains("only regular files and directories")
                    && result.contains("a.tar"),
                "{kind:?}: {result}"
            );
            assert!(
                !created.iter().any(|p| p.starts_with("blobs")),
                "{kind:?} created {created:?}"
            );
        }
    }

    #[test]
    fn parent_and_absolute_paths_are_refused_with_a_message() {
        for (name, why) in [
            ("../escape", "has a `..` path component"),
            ("blobs/../../escape", "has a `..` path component"),
            ("/tmp/escape", "has an absolute path"),
        ] {
            let (result, created) =
                unpack_bytes(&tar_with(tar::EntryType::Regular, name, None, b"x"));
            assert!(
                result.contains(&format!("entry \"{name}\" {why}")),
                "{name}: {result}"
            );
            assert_eq!(created, ["index.json", "oci-layout"], "{name}");
        }
    }
}
