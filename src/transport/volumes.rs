//! A bundle's layout as tar volumes: `BASE.001`, `BASE.002`, … each at most `--max-volume-size`
//! bytes, each with its own size and SHA-256 in `bundle.json` ([`Volume`]).
//!
//! - [`pack`] streams one deterministic tar of the layout (`oci-layout`, `index.json`, then
//!   `blobs/` sorted; mtime 0, uid/gid 0, mode 0644 for files and 0755 for directories) and cuts
//!   it into volumes anywhere (inside a tar header or a file: the volumes concatenated are the
//!   tar). Each volume is written to a temp file in the output directory, hashed while written,
//!   fsynced and renamed; the directory is fsynced at the end. On failure or interrupt the
//!   volumes already renamed by this call are removed again.
//! - [`check`] looks at every volume before anything is read for unpacking: first presence and
//!   size of all of them (cheap: a missing or truncated volume is named without hashing
//!   gigabytes), then the SHA-256 of each. Every bad volume of the failing phase is named with
//!   its path, expected and actual size or digest, and what to do.
//! - [`unpack`] reads the volumes in order as one stream (hashing each again while reading, so a
//!   volume changed after [`check`] is named too) and unpacks the tar with the rules of
//!   [`archive`](super::archive): regular files and directories only, no `..` or absolute
//!   paths. A volume whose digest fails while unpacking has already been partly unpacked, so
//!   the destination must be a scratch directory that the caller discards on error.
//!
//! [`pack`] is here; [`check`], [`check_present`] and [`unpack`] are in `volumes/read.rs`.
//!
//! All three do blocking file I/O: an async caller runs them in `tokio::task::spawn_blocking`.
//! Memory stays bounded (1 MiB buffers), whatever the blob and volume sizes.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::interrupt::CancelToken;
use crate::model::delta::Volume;
use crate::model::digest::{Algorithm, Hasher};
use crate::transport::archive::io_err;

mod read;
use read::BUF;
pub use read::{check, check_present, unpack};

/// The smallest volume size [`parse_size`] accepts.
pub const MIN_VOLUME_SIZE: u64 = 4 * 1024;

/// Parse a volume size: `4G`, `700M`, `64K`, `1T`, `1.5G`, `1073741824`, also `KiB`/`MiB`/…
/// and lower case. Units are binary (1K = 1024); `GB`-style suffixes are refused as ambiguous.
/// At least [`MIN_VOLUME_SIZE`].
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let not_a_number = || {
        format!(
            "size {text:?} is not a number with an optional unit, e.g. 4G, 700M, 1.5G or 1073741824"
        )
    };
    if number.is_empty() {
        return Err(not_a_number());
    }
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        "kb" | "mb" | "gb" | "tb" => {
            let letter = unit[..1].to_ascii_uppercase();
            let power = " KMGT".find(&letter).unwrap_or(0);
            return Err(format!(
                "size {text:?}: {unit:?} is ambiguous (decimal or binary?); write {number}{letter} or {number}{letter}iB for binary units (1{letter} = 1024^{power} bytes), or the exact number of bytes"
            ));
        }
        _ => {
            return Err(format!(
                "size {text:?}: unknown unit {unit:?}; use K, M, G or T (binary: 1K = 1024 bytes), e.g. 4G, 700M, 1.5G, or a number of bytes"
            ))
        }
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') || fraction.len() > 18 {
        return Err(not_a_number());
    }
    let unit_bytes: u128 = 1 << shift;
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole
            .parse::<u128>()
            .map_err(|_| format!("size {text:?} is too large"))?
    };
    let mut bytes = whole_value.checked_mul(unit_bytes);
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().unwrap_or(0);
        let scale = 10u128.pow(fraction.len() as u32);
        let part = digits * unit_bytes;
        if !part.is_multiple_of(scale) {
            return Err(format!(
                "size {text:?} is not a whole number of bytes; give fewer decimals or a byte count"
            ));
        }
        bytes = bytes.and_then(|b| b.checked_add(part / scale));
    }
    let bytes = bytes
        .and_then(|b| u64::try_from(b).ok())
        .ok_or_else(|| format!("size {text:?} is too large"))?;
    if bytes < MIN_VOLUME_SIZE {
        return Err(format!(
            "size {text:?} is {bytes} bytes; a volume is at least 4K ({MIN_VOLUME_SIZE} bytes)"
        ));
    }
    Ok(bytes)
}

/// The file name of volume `n` (from 1): `BASE.001`.
pub fn volume_name(base: &str, n: usize) -> String {
    format!("{base}.{n:03}")
}

/// Pack the OCI layout in `layout_dir` into volumes `BASE.001`, … in `out_dir`, each at most
/// `max_volume` bytes (one volume without a maximum). Returns them in order. `cancel` is checked
/// on every write: an interrupt returns [`Error::Interrupted`] and leaves no volume behind.
pub fn pack(
    layout_dir: &Path,
    out_dir: &Path,
    base: &str,
    max_volume: Option<u64>,
    cancel: &CancelToken,
) -> Result<Vec<Volume>> {
    if let Some(max) = max_volume.filter(|m| *m < MIN_VOLUME_SIZE) {
        return Err(Error::Internal(format!(
            "volume size {max} is below the minimum {MIN_VOLUME_SIZE} (parse_size enforces it)"
        )));
    }
    let entries = walk_layout(layout_dir)?;
    std::fs::create_dir_all(out_dir).map_err(io_err(format!("creating {}", out_dir.display())))?;
    let mut writer = VolumeWriter {
        out_dir,
        base,
        max: max_volume.unwrap_or(u64::MAX),
        cancel,
        current: None,
        done: vec![],
        failure: None,
        stopped: false,
    };
    let result = write_tar(layout_dir, &entries, &mut writer).and_then(|()| writer.close());
    let result = result.and_then(|()| {
        File::open(out_dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(format!("syncing directory {}", out_dir.display())))
    });
    match result {
        Ok(()) => Ok(writer.done),
        Err(e) => {
            let e = writer.failure.take().unwrap_or(e);
            writer.current = None; // the temp file is deleted on drop
            for v in &writer.done {
                let _ = std::fs::remove_file(out_dir.join(&v.name));
            }
            Err(e)
        }
    }
}

/// One entry of the layout tar, relative to the layout root.
enum Entry {
    Dir(String),
    File(String, u64),
}

/// `oci-layout`, `index.json`, then `blobs/` depth-first with names sorted. Leftover temp files
/// of an interrupted layout write (`.tmp-*`) are skipped; anything but regular files and
/// directories is refused by path.
fn walk_layout(root: &Path) -> Result<Vec<Entry>> {
    let bad = |reason: String| Error::Layout {
        path: root.display().to_string(),
        reason,
    };
    let mut out = vec![];
    for name in ["oci-layout", "index.json"] {
        let meta = std::fs::symlink_metadata(root.join(name))
            .map_err(io_err(format!("reading {}", root.join(name).display())))?;
        if !meta.is_file() {
            return Err(bad(format!("{name} is not a regular file")));
        }
        out.push(Entry::File(name.into(), meta.len()));
    }
    let mut stack = vec!["blobs".to_string()];
    while let Some(dir) = stack.pop() {
        out.push(Entry::Dir(dir.clone()));
        let path = root.join(&dir);
        let mut children = vec![];
        for e in std::fs::read_dir(&path).map_err(io_err(format!("listing {}", path.display())))? {
            let e = e.map_err(io_err(format!("listing {}", path.display())))?;
            let name = e.file_name().into_string().map_err(|n| {
                bad(format!(
                    "{dir}/{} has a name that is not UTF-8",
                    n.to_string_lossy()
                ))
            })?;
            if name.starts_with(".tmp-") {
                continue;
            }
            children.push(name);
        }
        children.sort();
        let mut subdirs = vec![];
        for name in children {
            let rel = format!("{dir}/{name}");
            let meta = std::fs::symlink_metadata(root.join(&rel))
                .map_err(io_err(format!("reading {}", root.join(&rel).display())))?;
            if meta.is_dir() {
                subdirs.push(rel);
            } else if meta.is_file() {
                out.push(Entry::File(rel, meta.len()));
            } else {
                return Err(bad(format!(
                    "{rel} is not a regular file or directory (a symbolic link?); a bundle holds only regular files"
                )));
            }
        }
        // Files of a directory first, then its subdirectories in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn write_tar(root: &Path, entries: &[Entry], writer: &mut VolumeWriter<'_>) -> Result<()> {
    let mut b = tar::Builder::new(writer);
    if let Err(e) = append_all(&mut b, root, entries) {
        // The builder writes the end-of-archive blocks when dropped: not after a failure.
        b.get_mut().stopped = true;
        return Err(e);
    }
    b.into_inner()
        .map_err(io_err(format!("packing {}", root.display())))?;
    Ok(())
}

fn append_all(
    b: &mut tar::Builder<&mut VolumeWriter<'_>>,
    root: &Path,
    entries: &[Entry],
) -> Result<()> {
    for entry in entries {
        match entry {
            Entry::Dir(rel) => {
                let mut h = header(tar::EntryType::Directory, 0, 0o755);
                b.append_data(&mut h, format!("{rel}/"), io::empty())
                    .map_err(io_err(format!("packing {rel}")))?;
            }
            Entry::File(rel, size) => {
                let path = root.join(rel);
                let f = File::open(&path).map_err(io_err(format!("opening {}", path.display())))?;
                let mut h = header(tar::EntryType::Regular, *size, 0o644);
                let data = ExactReader {
                    inner: io::BufReader::with_capacity(BUF, f).take(*size),
                    left: *size,
                };
                b.append_data(&mut h, rel, data)
                    .map_err(io_err(format!("packing {}", path.display())))?;
            }
        }
    }
    Ok(())
}

/// Delivers exactly the size the header announced: a file that shrank while packed is an
/// error, not a corrupt tar (`take` already stops one that grew).
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the file shrank while being packed ({} bytes short); is something writing to the layout?", self.left),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

struct OpenVolume {
    file: BufWriter<tempfile::NamedTempFile>,
    hasher: Hasher,
    size: u64,
}

/// A `Write` that cuts the stream into volumes of `max` bytes, opening each lazily (so there is
/// never an empty last volume) and finishing it (fsync, rename) as soon as it is full.
struct VolumeWriter<'a> {
    out_dir: &'a Path,
    base: &'a str,
    max: u64,
    cancel: &'a CancelToken,
    current: Option<OpenVolume>,
    done: Vec<Volume>,
    /// The first error, with its context; once set, every write fails (the tar builder writes
    /// its end marker on drop).
    failure: Option<Error>,
    /// Set when packing failed outside the writer: every write fails.
    stopped: bool,
}

impl VolumeWriter<'_> {
    fn fail(&mut self, e: Error) -> io::Error {
        let text = e.to_string();
        self.failure.get_or_insert(e);
        io::Error::other(text)
    }

    fn open(&mut self) -> Result<OpenVolume> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".tmp-{}-", self.base))
            .tempfile_in(self.out_dir)
            .map_err(io_err(format!(
                "creating a temp file in {}",
                self.out_dir.display()
            )))?;
        Ok(OpenVolume {
            file: BufWriter::with_capacity(BUF, tmp),
            hasher: Hasher::new(Algorithm::Sha256),
            size: 0,
        })
    }

    /// Finish the open volume, if any: flush, fsync, rename to `BASE.NNN`.
    fn close(&mut self) -> Result<()> {
        let Some(v) = self.current.take() else {
            return Ok(());
        };
        let name = volume_name(self.base, self.done.len() + 1);
        let path = self.out_dir.join(&name);
        let tmp = v.file.into_inner().map_err(|e| Error::Io {
            what: format!("writing volume {}", path.display()),
            source: e.into_error(),
        })?;
        // Readable by whoever carries and applies the bundle (the temp file is 0600).
        tmp.as_file()
            .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .map_err(io_err(format!(
                "setting the mode of volume {}",
                path.display()
            )))?;
        tmp.as_file()
            .sync_all()
            .map_err(io_err(format!("syncing volume {}", path.display())))?;
        tmp.persist(&path).map_err(|e| Error::Io {
            what: format!("renaming into volume {}", path.display()),
            source: e.error,
        })?;
        self.done.push(Volume {
            name,
            size: v.size,
            sha256: v.hasher.finish(),
        });
        Ok(())
    }
}

impl Write for VolumeWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(e) = &self.failure {
            return Err(io::Error::other(e.to_string()));
        }
        if self.stopped {
            return Err(io::Error::other("packing stopped after an error"));
        }
        if self.cancel.is_cancelled() {
            return Err(self.fail(Error::Interrupted));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.is_none() {
            match self.open() {
                Ok(v) => self.current = Some(v),
                Err(e) => return Err(self.fail(e)),
            }
        }
        let v = self.current.as_mut().expect("opened above");
        let n = buf
            .len()
            .min((self.max - v.size).min(usize::MAX as u64) as usize);
        if let Err(e) = v.file.write_all(&buf[..n]) {
            let what = format!(
                "writing volume {} in {}",
                volume_name(self.base, self.done.len() + 1),
                self.out_dir.display()
            );
            return Err(self.fail(Error::Io { what, source: e }));
        }
        v.hasher.update(&buf[..n]);
        v.size += n as u64;
        if v.size == self.max {
            if let Err(e) = self.close() {
                return Err(self.fail(e));
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.current {
            Some(v) => v.file.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
