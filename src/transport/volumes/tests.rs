use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::Digest as _;

use super::*;
use crate::error::ErrorKind;
use crate::model::digest::Digest;
use crate::transport::archive::HashingReader;

/// Deterministic pseudo-random bytes (so a blob does not compress to nothing or repeat blocks).
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}

/// A layout with a 10 KiB blob, a 3-byte blob and a 600-byte blob, stored under their digests.
fn layout(root: &Path) {
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("index.json"),
        br#"{"schemaVersion":2,"manifests":[]}"#,
    )
    .unwrap();
    for body in [noise(10 * 1024, 1), b"abc".to_vec(), noise(600, 2)] {
        let d = Digest::sha256_of(&body);
        std::fs::write(root.join("blobs/sha256").join(d.hex()), body).unwrap();
    }
    // A 141-byte path: written with a GNU long-name entry, read back transparently.
    let body = noise(700, 3);
    let d = Digest::of(crate::model::digest::Algorithm::Sha512, &body);
    std::fs::create_dir_all(root.join("blobs/sha512")).unwrap();
    std::fs::write(root.join("blobs/sha512").join(d.hex()), body).unwrap();
}

/// Every file (with its bytes) and directory (empty marker) under `root`, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
                out.insert(rel, None);
            } else {
                assert!(meta.is_file(), "{rel} is neither file nor directory");
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn pack_into(layout_dir: &Path, out: &Path, max: Option<u64>) -> Vec<Volume> {
    pack(layout_dir, out, "layout.tar", max, &CancelToken::new()).unwrap()
}

fn concat(dir: &Path, volumes: &[Volume]) -> Vec<u8> {
    volumes
        .iter()
        .flat_map(|v| std::fs::read(dir.join(&v.name)).unwrap())
        .collect()
}

fn sha2_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Byte ranges `[start, end)`.
type Ranges = Vec<(u64, u64)>;

/// Byte ranges of the tar headers and of the file data in one tar, from the tar reader.
fn tar_regions(tar: &[u8]) -> (Ranges, Ranges) {
    let mut headers = vec![];
    let mut data = vec![];
    let mut a = tar::Archive::new(tar);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        headers.push((e.raw_header_position(), e.raw_header_position() + 512));
        if e.size() > 0 {
            data.push((e.raw_file_position(), e.raw_file_position() + e.size()));
        }
    }
    (headers, data)
}

#[test]
fn round_trip_splits_inside_headers_and_inside_files() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("layout");
    layout(&src);
    let whole_dir = tmp.path().join("whole");
    let whole_volumes = pack_into(&src, &whole_dir, None);
    let whole = concat(&whole_dir, &whole_volumes);
    let (headers, data) = tar_regions(&whole);
    let (mut cut_in_header, mut cut_in_data) = (false, false);
    for max in [4096u64, 4097, 4196, 5000, 7777] {
        let out = tmp.path().join(format!("out-{max}"));
        let volumes = pack_into(&src, &out, Some(max));
        assert!(volumes.len() >= 2, "{max}: {volumes:?}");
        for (i, v) in volumes.iter().enumerate() {
            assert_eq!(v.name, format!("layout.tar.{:03}", i + 1));
            let bytes = std::fs::read(out.join(&v.name)).unwrap();
            assert_eq!(bytes.len() as u64, v.size, "{max}: {}", v.name);
            assert_eq!(v.sha256.as_str(), sha2_of(&bytes), "{max}: {}", v.name);
            if i + 1 < volumes.len() {
                assert_eq!(v.size, max, "{max}: only the last volume may be short");
            } else {
                assert!(v.size <= max && v.size > 0, "{max}: last {}", v.size);
            }
        }
        // Cutting changes nothing but where the files end.
        assert_eq!(concat(&out, &volumes), whole, "{max}");
        let cuts: Vec<u64> = (1..volumes.len() as u64).map(|k| k * max).collect();
        cut_in_header |= cuts
            .iter()
            .any(|c| headers.iter().any(|(s, e)| s < c && c < e));
        cut_in_data |= cuts
            .iter()
            .any(|c| data.iter().any(|(s, e)| s < c && c < e));

        check(&out, &volumes).unwrap();
        let dest = tmp.path().join(format!("dest-{max}"));
        std::fs::create_dir(&dest).unwrap();
        unpack(&out, &volumes, &dest).unwrap();
        assert_eq!(tree(&dest), tree(&src), "{max}");
    }
    assert!(cut_in_header, "no volume boundary fell inside a tar header");
    assert!(cut_in_data, "no volume boundary fell inside a file");
}

#[test]
fn one_volume_without_a_maximum_with_deterministic_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("layout");
    layout(&src);
    let out = tmp.path().join("out");
    let volumes = pack_into(&src, &out, None);
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0].name, "layout.tar.001");
    let bytes = std::fs::read(out.join("layout.tar.001")).unwrap();
    assert_eq!(volumes[0].size, bytes.len() as u64);
    // Nothing else left in the output directory (no temp files).
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["layout.tar.001"]);

    let mut blobs: Vec<String> = tree(&src.join("blobs/sha256")).into_keys().collect();
    blobs.sort();
    let mut expected = vec![
        "oci-layout".to_string(),
        "index.json".into(),
        "blobs/".into(),
        "blobs/sha256/".into(),
    ];
    expected.extend(blobs.iter().map(|b| format!("blobs/sha256/{b}")));
    expected.push("blobs/sha512/".into());
    let long: Vec<String> = tree(&src.join("blobs/sha512")).into_keys().collect();
    expected.push(format!("blobs/sha512/{}", long[0]));
    let mut seen = vec![];
    let mut a = tar::Archive::new(&bytes[..]);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        seen.push(String::from_utf8(e.path_bytes().into_owned()).unwrap());
        assert_eq!(h.mtime().unwrap(), 0);
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        let mode = if h.entry_type().is_dir() {
            0o755
        } else {
            0o644
        };
        assert_eq!(h.mode().unwrap(), mode, "{:?}", seen.last());
    }
    assert_eq!(seen, expected);
}

#[test]
fn packing_twice_gives_the_same_volumes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("layout");
    layout(&src);
    let first = pack_into(&src, &tmp.path().join("a"), Some(5000));
    // Another mtime and a leftover temp file of an interrupted layout write change nothing.
    let index = File::options()
        .write(true)
        .open(src.join("index.json"))
        .unwrap();
    index
        .set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(12345))
        .unwrap();
    std::fs::write(src.join("blobs/sha256/.tmp-0123456789ab-x"), b"partial").unwrap();
    let second = pack_into(&src, &tmp.path().join("b"), Some(5000));
    assert_eq!(first, second);
}

/// A layout packed into 4097-byte volumes (at least three), and the volumes.
fn packed(tmp: &Path) -> (PathBuf, Vec<Volume>) {
    let src = tmp.join("layout");
    layout(&src);
    let out = tmp.join("bundle");
    let volumes = pack_into(&src, &out, Some(4097));
    assert!(volumes.len() >= 3, "{volumes:?}");
    (out, volumes)
}

#[test]
fn check_names_a_missing_volume() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, volumes) = packed(tmp.path());
    std::fs::remove_file(out.join("layout.tar.002")).unwrap();
    let e = check(&out, &volumes).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Failure);
    assert!(
        text.contains(&format!(
            "volume layout.tar.002 (2 of {}, {}) is missing",
            volumes.len(),
            out.join("layout.tar.002").display()
        )) && text.contains("re-copy that volume from the near side"),
        "{text}"
    );
    assert!(!text.contains("layout.tar.001"), "{text}");
}

#[test]
fn check_names_a_truncated_volume_before_hashing_any() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, volumes) = packed(tmp.path());
    // Damage the first volume too: the truncated one is named from its size alone.
    let first = out.join("layout.tar.001");
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&first, bytes).unwrap();
    let f = File::options()
        .write(true)
        .open(out.join("layout.tar.002"))
        .unwrap();
    f.set_len(4000).unwrap();
    let text = check(&out, &volumes).unwrap_err().to_string();
    assert!(
        text.contains("volume layout.tar.002 (2 of")
            && text.contains("is 4000 bytes, bundle.json says 4097 (truncated")
            && text.contains("re-copy that volume"),
        "{text}"
    );
    assert!(!text.contains("layout.tar.001"), "{text}");
}

#[test]
fn check_names_a_flipped_byte_with_both_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, volumes) = packed(tmp.path());
    let path = out.join("layout.tar.003");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[7] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let e = check(&out, &volumes).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Failure);
    assert!(
        text.contains("volume layout.tar.003 (3 of")
            && text.contains(&format!(
                "is damaged: it hashes to {}, bundle.json says {}",
                sha2_of(&bytes),
                volumes[2].sha256
            ))
            && text.contains("re-copy that volume"),
        "{text}"
    );
    check(&out, &volumes[..2]).unwrap();
}

#[test]
fn check_names_every_missing_volume_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, volumes) = packed(tmp.path());
    for v in &volumes[1..] {
        std::fs::remove_file(out.join(&v.name)).unwrap();
    }
    let text = check(&out, &volumes).unwrap_err().to_string();
    for v in &volumes[1..] {
        assert!(text.contains(&format!("volume {} (", v.name)), "{text}");
    }
    assert!(text.contains("re-copy those volumes"), "{text}");
}

#[test]
fn volume_names_outside_the_bundle_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, mut volumes) = packed(tmp.path());
    for name in ["../layout.tar.001", "/etc/passwd", "..", ""] {
        volumes[0].name = name.into();
        let text = check(&out, &volumes).unwrap_err().to_string();
        assert!(text.contains("not a plain file name"), "{name}: {text}");
        let dest = tempfile::tempdir().unwrap();
        let text = unpack(&out, &volumes, dest.path()).unwrap_err().to_string();
        assert!(text.contains("not a plain file name"), "{name}: {text}");
    }
}

#[test]
fn unpack_names_a_volume_changed_after_check() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, volumes) = packed(tmp.path());
    check(&out, &volumes).unwrap();
    // Same size, one byte inside the 10 KiB blob's data: the tar still parses.
    let path = out.join("layout.tar.002");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[2000] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let e = unpack(&out, &volumes, &dest).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Failure);
    assert!(
        text.contains("volume layout.tar.002 (2 of")
            && text.contains("is damaged (or changed while being unpacked)")
            && text.contains(&sha2_of(&bytes)),
        "{text}"
    );
}

#[test]
fn unpack_names_a_volume_removed_after_check() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, volumes) = packed(tmp.path());
    std::fs::remove_file(out.join(&volumes.last().unwrap().name)).unwrap();
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let text = unpack(&out, &volumes, &dest).unwrap_err().to_string();
    assert!(
        text.contains(&format!("volume {} (", volumes.last().unwrap().name))
            && text.contains("cannot be opened"),
        "{text}"
    );
}

/// A tar: the layout's two files, then one entry of `kind` named `name` (raw header bytes, so
/// `..` is written as given), cut into 1000-byte volumes in `dir`.
fn bad_tar_volumes(
    dir: &Path,
    kind: tar::EntryType,
    name: &str,
    link: Option<&str>,
) -> Vec<Volume> {
    let mut b = tar::Builder::new(Vec::new());
    for (n, body) in [
        ("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        ("index.json", br#"{"schemaVersion":2,"manifests":[]}"#),
    ] {
        let mut h = header(tar::EntryType::Regular, body.len() as u64, 0o644);
        h.set_path(n).unwrap();
        h.set_cksum();
        b.append(&h, body).unwrap();
    }
    let mut h = header(kind, 1, 0o644);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(l) = link {
        h.set_size(0);
        h.set_link_name(l).unwrap();
    }
    h.set_cksum();
    let data: &[u8] = if link.is_some() { b"" } else { b"x" };
    b.append(&h, data).unwrap();
    let tar = b.into_inner().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    tar.chunks(1000)
        .enumerate()
        .map(|(i, chunk)| {
            let name = volume_name("layout.tar", i + 1);
            std::fs::write(dir.join(&name), chunk).unwrap();
            Volume {
                name,
                size: chunk.len() as u64,
                sha256: Digest::sha256_of(chunk),
            }
        })
        .collect()
}

#[test]
fn unpack_refuses_a_symlink_and_parent_paths() {
    let cases = [
        (
            tar::EntryType::Symlink,
            "blobs/sha256/aaaa",
            Some("/etc/passwd"),
            "is a symbolic link",
        ),
        (
            tar::EntryType::Regular,
            "../escape",
            None,
            "has a `..` path component",
        ),
        (
            tar::EntryType::Regular,
            "blobs/../../escape",
            None,
            "has a `..` path component",
        ),
        (
            tar::EntryType::Regular,
            "/tmp/escape",
            None,
            "has an absolute path",
        ),
    ];
    for (kind, name, link, why) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let volumes = bad_tar_volumes(&tmp.path().join("bundle"), kind, name, link);
        assert!(volumes.len() >= 2, "{volumes:?}");
        check(&tmp.path().join("bundle"), &volumes).unwrap();
        let dest = tmp.path().join("deep/dest");
        std::fs::create_dir_all(&dest).unwrap();
        let e = unpack(&tmp.path().join("bundle"), &volumes, &dest).unwrap_err();
        let text = e.to_string();
        assert_eq!(e.kind(), ErrorKind::Failure);
        assert!(
            text.contains(&format!("entry \"{name}\" {why}")) && text.contains("layout.tar.001"),
            "{name}: {text}"
        );
        assert_eq!(
            tree(&dest).into_keys().collect::<Vec<_>>(),
            ["index.json", "oci-layout"],
            "{name}"
        );
        assert!(!tmp.path().join("deep/escape").exists());
        assert!(!tmp.path().join("escape").exists());
    }
}

#[test]
fn pack_refuses_a_symlink_in_the_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("layout");
    layout(&src);
    std::os::unix::fs::symlink("/etc/passwd", src.join("blobs/sha256/link")).unwrap();
    let out = tmp.path().join("out");
    let e = pack(&src, &out, "layout.tar", None, &CancelToken::new()).unwrap_err();
    assert!(
        e.to_string()
            .contains("blobs/sha256/link is not a regular file or directory"),
        "{e}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
fn an_interrupted_pack_leaves_no_volume() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("layout");
    layout(&src);
    let out = tmp.path().join("out");
    let cancel = CancelToken::new();
    cancel.cancel();
    let e = pack(&src, &out, "layout.tar", Some(4096), &cancel).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn a_failed_pack_removes_the_volumes_it_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("layout");
    layout(&src);
    // A directory where the third volume goes: the first two are written, the rename fails.
    let out = tmp.path().join("out");
    std::fs::create_dir_all(out.join("layout.tar.003/x")).unwrap();
    let e = pack(&src, &out, "layout.tar", Some(4096), &CancelToken::new()).unwrap_err();
    assert!(e.to_string().contains("layout.tar.003"), "{e}");
    let mut left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["layout.tar.003"]);
}

#[test]
fn parse_size_accepts_binary_units_fractions_and_byte_counts() {
    let k = 1024u64;
    for (text, want) in [
        ("4G", 4 * k * k * k),
        ("700M", 700 * k * k),
        ("64K", 64 * k),
        ("1T", k * k * k * k),
        ("1073741824", 1 << 30),
        ("1.5G", 3 * (1 << 29)),
        ("0.5M", 512 * k),
        ("4k", 4 * k),
        ("4KiB", 4 * k),
        ("2mib", 2 * k * k),
        ("3 GiB", 3 * k * k * k),
        ("1TiB", k * k * k * k),
        (" 4096 ", 4096),
        ("8192B", 8192),
    ] {
        assert_eq!(parse_size(text), Ok(want), "{text}");
    }
}

#[test]
fn parse_size_refuses_with_a_reason() {
    for (text, why) in [
        ("", "not a number"),
        ("G", "not a number"),
        ("1.2.3G", "not a number"),
        ("-4G", "not a number"),
        ("4X", "unknown unit \"X\""),
        ("4 gigs", "unknown unit"),
        ("4GB", "ambiguous"),
        ("700mb", "ambiguous"),
        ("0", "at least 4K (4096 bytes)"),
        ("4095", "at least 4K"),
        ("3K", "at least 4K"),
        ("1.1", "whole number of bytes"),
        ("99999999999T", "too large"),
        ("999999999999999999999999999999999999999999", "too large"),
    ] {
        let e = parse_size(text).unwrap_err();
        assert!(
            e.contains(why) && e.contains(&format!("{text:?}")),
            "{text}: {e}"
        );
    }
}

/// Throughput and memory on a 256 MiB layout in 64 MiB volumes (run by hand, in release or
/// under `/usr/bin/time -v` for the peak RSS):
/// `cargo test --lib volumes::tests::measure -- --ignored --nocapture`.
#[test]
#[ignore = "writes 768 MiB to the temp dir; a measurement, run by hand"]
fn measure_pack_check_unpack_256_mib() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("layout");
    layout(&src);
    // Written and read back 1 MiB at a time, so the peak RSS is the code's, not the test's.
    let tmp_blob = src.join("blobs/sha256/big");
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut f = File::create(&tmp_blob).unwrap();
    for i in 0..256 {
        let chunk = noise(1 << 20, 100 + i);
        hasher.update(&chunk);
        f.write_all(&chunk).unwrap();
    }
    drop(f);
    let d = hasher.finish();
    std::fs::rename(&tmp_blob, src.join("blobs/sha256").join(d.hex())).unwrap();
    let out = tmp.path().join("bundle");
    let t = std::time::Instant::now();
    let volumes = pack_into(&src, &out, Some(64 << 20));
    let pack_time = t.elapsed();
    let t = std::time::Instant::now();
    check(&out, &volumes).unwrap();
    let check_time = t.elapsed();
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let t = std::time::Instant::now();
    unpack(&out, &volumes, &dest).unwrap();
    let unpack_time = t.elapsed();
    assert_eq!(volumes.len(), 5);
    let mut back = HashingReader {
        inner: File::open(dest.join("blobs/sha256").join(d.hex())).unwrap(),
        hasher: Hasher::new(Algorithm::Sha256),
    };
    io::copy(&mut back, &mut io::sink()).unwrap();
    assert_eq!(back.hasher.finish(), d);
    eprintln!(
        "256 MiB in {} volumes: pack {pack_time:?}, check {check_time:?}, unpack {unpack_time:?}",
        volumes.len()
    );
}
