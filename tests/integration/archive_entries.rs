//! `oci-archive:` tars hold regular files and directories only. A tar with any other entry type
//! (symlink, hard link, character or block device, FIFO) or with a `..` or absolute path is
//! refused by `mirror copy` with an error naming the entry and its type, and nothing is written
//! to the target. (Each type is also unit-tested in `src/transport/archive.rs`.)

use std::path::Path;

use crate::fixtures;
use crate::harness::mirror;

/// A valid layout of the fixture as a tar, then one raw `kind` entry named `name`.
fn hostile_archive(path: &Path, kind: tar::EntryType, name: &str, link: Option<&str>) {
    let img = fixtures::multi_arch_oci(1024);
    let layout = tempfile::tempdir().unwrap();
    fixtures::write_layout(layout.path(), "v1", &img);
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    b.append_dir_all(".", layout.path()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(0);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(l) = link {
        h.set_link_name(l).unwrap();
    }
    if kind == tar::EntryType::Block {
        h.set_device_major(7).unwrap(); // loop devices
        h.set_device_minor(0).unwrap();
    }
    h.set_cksum();
    b.append(&h, std::io::empty()).unwrap();
    b.finish().unwrap();
}

#[test]
fn archives_with_links_devices_fifos_or_escaping_paths_are_refused() {
    use tar::EntryType as T;
    let img = fixtures::multi_arch_oci(1024);
    let layer = img.child("linux/amd64").layers()[0].digest.clone();
    let blob = format!("blobs/sha256/{}", layer.trim_start_matches("sha256:"));
    let absolute = format!("/tmp/sparse-mirror-outside-{}", std::process::id());
    let cases: [(T, &str, Option<&str>, &str); 7] = [
        (
            T::Symlink,
            &blob,
            Some("/etc/hostname"),
            "is a symbolic link",
        ),
        (T::Link, &blob, Some("index.json"), "is a hard link"),
        (T::Block, "blobs/sda", None, "is a block device"),
        (T::Char, "blobs/null", None, "is a character device"),
        (T::Fifo, "blobs/pipe", None, "is a FIFO (named pipe)"),
        (T::Regular, "../outside", None, "has a `..` path component"),
        (T::Regular, &absolute, None, "has an absolute path"),
    ];
    for (kind, name, link, why) in cases {
        let work = tempfile::tempdir().unwrap();
        let tar = work.path().join("image.tar");
        hostile_archive(&tar, kind, name, link);
        let target = work.path().join("out");
        let out = mirror(&[
            "copy",
            &format!("oci-archive:{}:v1", tar.display()),
            &format!("oci:{}:v1", target.display()),
        ]);
        assert_ne!(out.code, 0, "{kind:?}: {out}");
        assert!(
            out.stderr.contains(&format!("entry \"{name}\" {why}")),
            "{kind:?}: {out}"
        );
        assert!(out.stderr.contains("image.tar"), "names the archive: {out}");
        assert!(!out.stderr.contains("panicked"), "{out}");
        assert!(!target.exists(), "{kind:?}: the target was written");
        assert!(!work.path().join("outside").exists());
    }
    assert!(!Path::new(&absolute).exists());
}
