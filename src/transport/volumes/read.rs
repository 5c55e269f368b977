//! Reading a bundle's volumes back: [`check`] (presence and size of all, then each SHA-256),
//! [`check_present`], and [`unpack`] (the volumes as one hashed stream into a tar unpack). See
//! the parent module for the rules.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::delta::Volume;
use crate::model::digest::{Digest, Hasher};
use crate::transport::archive::{io_err, unpack_tar, HashingReader};

/// Buffer size for reading and writing volumes: memory stays bounded whatever their sizes.
pub(super) const BUF: usize = 1 << 20;

const RECOPY: &str =
    "re-copy it from the near side, then run `mirror bundle check` on this directory again";

/// A bad volume: the error names the bundle directory and says what to do.
fn bad_volumes(dir: &Path, problems: Vec<String>) -> Error {
    let many = problems.len() > 1;
    Error::Layout {
        path: dir.display().to_string(),
        reason: format!(
            "{}; {}",
            problems.join("; "),
            if many {
                RECOPY.replace("re-copy it", "re-copy those volumes")
            } else {
                RECOPY.replace("re-copy it", "re-copy that volume")
            }
        ),
    }
}

/// The path of a volume, refusing a name that is not a plain file name (bundle.json comes from
/// elsewhere: a name must not reach outside the bundle directory).
fn volume_path(dir: &Path, v: &Volume) -> Result<PathBuf> {
    let plain = !v.name.is_empty()
        && v.name != "."
        && v.name != ".."
        && !v.name.contains(['/', '\\', '\0']);
    if !plain {
        return Err(Error::Layout {
            path: dir.display().to_string(),
            reason: format!(
                "bundle.json lists a volume named {:?}, which is not a plain file name in the bundle directory",
                v.name
            ),
        });
    }
    Ok(dir.join(&v.name))
}

/// Check every volume in `dir`: present, the listed size, the listed SHA-256. Presence and size
/// of all volumes are checked before any is hashed. Reads each volume once, 1 MiB at a time.
pub fn check(dir: &Path, volumes: &[Volume]) -> Result<()> {
    let paths = check_present(dir, volumes)?;
    let mut problems = vec![];
    for ((which, path), v) in paths.iter().zip(volumes) {
        let f = File::open(path).map_err(io_err(format!("opening {which}")))?;
        let mut reader = HashingReader {
            inner: io::BufReader::with_capacity(BUF, f),
            hasher: Hasher::new(v.sha256.algorithm()),
        };
        io::copy(&mut reader, &mut io::sink()).map_err(io_err(format!("reading {which}")))?;
        let actual = reader.hasher.finish();
        if actual != v.sha256 {
            problems.push(format!(
                "{which} is damaged: it hashes to {actual}, bundle.json says {}",
                v.sha256
            ));
        }
    }
    if !problems.is_empty() {
        return Err(bad_volumes(dir, problems));
    }
    Ok(())
}

/// The cheap half of [`check`]: every volume present, a regular file of the listed size,
/// without reading any (a missing or truncated volume is named at once). [`unpack`] hashes each
/// volume as it reads it, so an apply reads the volumes once. Returns each volume's label and
/// path.
pub fn check_present(dir: &Path, volumes: &[Volume]) -> Result<Vec<(String, PathBuf)>> {
    let total = volumes.len();
    let mut problems = vec![];
    let mut paths = vec![];
    for (i, v) in volumes.iter().enumerate() {
        let path = volume_path(dir, v)?;
        let which = format!(
            "volume {} ({} of {total}, {})",
            v.name,
            i + 1,
            path.display()
        );
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                problems.push(format!("{which} is missing"))
            }
            Err(e) => return Err(io_err(format!("reading {which}"))(e)),
            Ok(m) if !m.is_file() => problems.push(format!("{which} is not a regular file")),
            Ok(m) if m.len() != v.size => problems.push(format!(
                "{which} is {} bytes, bundle.json says {} ({})",
                m.len(),
                v.size,
                if m.len() < v.size {
                    "truncated: an incomplete copy?"
                } else {
                    "too long"
                }
            )),
            Ok(_) => {}
        }
        paths.push((which, path));
    }
    if !problems.is_empty() {
        return Err(bad_volumes(dir, problems));
    }
    Ok(paths)
}

/// Unpack the volumes in `dir`, in order, as one tar into `dest` (regular files and directories
/// only, paths inside `dest`). Each volume's size and SHA-256 are verified again while reading;
/// on error `dest` may hold part of the layout and is to be discarded.
pub fn unpack(dir: &Path, volumes: &[Volume], dest: &Path) -> Result<()> {
    for v in volumes {
        volume_path(dir, v)?;
    }
    let label = match volumes {
        [] => {
            return Err(Error::Layout {
                path: dir.display().to_string(),
                reason: "bundle.json lists no volumes to unpack".into(),
            })
        }
        [one] => dir.join(&one.name).display().to_string(),
        [first, .., last] => format!(
            "{} … {} ({} volumes)",
            dir.join(&first.name).display(),
            last.name,
            volumes.len()
        ),
    };
    let mut chain = VolumeChain {
        dir,
        volumes,
        next: 0,
        current: None,
        failure: None,
    };
    let result = unpack_tar(&mut chain, &label, dest).and_then(|()| {
        // The tar ends before the last volume does (end-of-archive blocks): read the rest so
        // every volume is verified whole.
        io::copy(&mut chain, &mut io::sink())
            .map(|_| ())
            .map_err(io_err(format!("reading {label}")))
    });
    match (result, chain.failure.take()) {
        (_, Some(volume_error)) => Err(volume_error),
        (r, None) => r,
    }
}

/// The volumes as one `Read`, each hashed as it is read and checked at its end.
struct VolumeChain<'a> {
    dir: &'a Path,
    volumes: &'a [Volume],
    next: usize,
    current: Option<(io::BufReader<File>, Hasher, u64)>,
    /// The first volume problem; the tar reader only sees an `io::Error` carrying its text.
    failure: Option<Error>,
}

impl VolumeChain<'_> {
    fn fail(&mut self, problem: String) -> io::Error {
        let e = bad_volumes(self.dir, vec![problem]);
        let text = e.to_string();
        self.failure.get_or_insert(e);
        io::Error::other(text)
    }

    fn which(&self, i: usize) -> String {
        let v = &self.volumes[i];
        format!(
            "volume {} ({} of {}, {})",
            v.name,
            i + 1,
            self.volumes.len(),
            self.dir.join(&v.name).display()
        )
    }
}

impl Read for VolumeChain<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("a volume failed its check"));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.current.is_none() {
                let Some(v) = self.volumes.get(self.next) else {
                    return Ok(0);
                };
                let path = self.dir.join(&v.name);
                match File::open(&path) {
                    Ok(f) => {
                        let hasher = Hasher::new(v.sha256.algorithm());
                        self.current = Some((io::BufReader::with_capacity(BUF, f), hasher, 0));
                    }
                    Err(e) => {
                        let problem = format!("{} cannot be opened: {e}", self.which(self.next));
                        return Err(self.fail(problem));
                    }
                }
            }
            let (file, hasher, size) = self.current.as_mut().expect("opened above");
            let n = match file.read(buf) {
                Ok(n) => n,
                Err(e) => {
                    let problem = format!("{} cannot be read: {e}", self.which(self.next));
                    return Err(self.fail(problem));
                }
            };
            if n > 0 {
                hasher.update(&buf[..n]);
                *size += n as u64;
                return Ok(n);
            }
            let (_, hasher, size) = self.current.take().expect("present");
            let v = &self.volumes[self.next];
            let actual: Digest = hasher.finish();
            if size != v.size || actual != v.sha256 {
                let problem = format!(
                    "{} is damaged (or changed while being unpacked): it is {size} bytes hashing to {actual}, bundle.json says {} bytes, {}",
                    self.which(self.next),
                    v.size,
                    v.sha256
                );
                return Err(self.fail(problem));
            }
            self.next += 1;
        }
    }
}
