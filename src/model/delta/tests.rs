//! The delta files' checksums, lookups and timestamps.

use super::*;

fn d(n: u8) -> Digest {
    Digest::sha256_of(&[n])
}

fn inv(format: &str, repos: &[(&str, &[u8])]) -> Inventory {
    let mut i = Inventory::new(format, "2026-12-05T00:00:00Z".into(), "mirror test".into());
    for (name, blobs) in repos {
        i.repositories.push(Repository {
            name: name.to_string(),
            tags: vec![],
            manifests: vec![],
            blobs: blobs
                .iter()
                .map(|n| Object {
                    digest: d(*n),
                    size: *n as u64,
                    bundle: format.eq(LEDGER_FORMAT).then(|| "b1".to_string()),
                })
                .collect(),
        });
    }
    i.normalise();
    i
}

#[test]
fn sealed_files_open_and_edited_ones_are_refused() {
    let mut i = inv(INVENTORY_FORMAT, &[("r.example/a", &[1, 2])]);
    let bytes = i.seal();
    let back = Inventory::open(&bytes, Path::new("inv.json"), &[INVENTORY_FORMAT]).unwrap();
    assert_eq!(back, i);
    let edited = String::from_utf8(bytes.clone())
        .unwrap()
        .replace("\"size\": 1", "\"size\": 7");
    let e = Inventory::open(
        edited.as_bytes(),
        Path::new("inv.json"),
        &[INVENTORY_FORMAT],
    )
    .unwrap_err();
    assert!(matches!(e, DeltaFileError::Checksum { .. }), "{e}");
    assert!(e.to_string().contains("inv.json"), "{e}");
    let e = Inventory::open(&bytes, Path::new("l.json"), &[LEDGER_FORMAT]).unwrap_err();
    assert!(matches!(e, DeltaFileError::Format { .. }), "{e}");
}

#[test]
fn lookup_prefers_the_repository_then_mounts_within_the_registry() {
    let mut far = FarSide::default();
    far.add(
        &inv(
            INVENTORY_FORMAT,
            &[
                ("r.example/a", &[1]),
                ("r.example/b", &[2]),
                ("q.example/c", &[3]),
            ],
        ),
        "inv.json",
    );
    let k = far.lookup("r.example/a", &d(1)).unwrap();
    assert_eq!(k.mount_from, None);
    assert_eq!(k.claim.repository, "r.example/a");
    let k = far.lookup("r.example/a", &d(2)).unwrap();
    assert_eq!(k.mount_from.as_deref(), Some("r.example/b"));
    assert!(far.lookup("r.example/a", &d(3)).is_none(), "other registry");
    assert_eq!(far.digests_for("r.example/new").len(), 2);
    assert!(k.claim.to_string().contains("inv.json"));
}

#[test]
fn ledger_claims_name_the_bundle() {
    let mut far = FarSide::default();
    far.add(&inv(LEDGER_FORMAT, &[("r.example/a", &[1])]), "ledger.json");
    let k = far.lookup("r.example/a", &d(1)).unwrap();
    assert_eq!(k.claim.bundle.as_deref(), Some("b1"));
    assert!(k.claim.to_string().contains("bundle b1"), "{}", k.claim);
}

#[test]
fn timestamps_are_utc_rfc3339() {
    assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
    assert_eq!(utc_timestamp(784_111_777), "1994-11-06T08:49:37Z");
    assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(utc_timestamp(1_796_428_799), "2026-12-04T23:59:59Z");
    assert_eq!(utc_timestamp(1_796_480_000), "2026-12-05T14:13:20Z");
}

#[test]
fn layouts_have_no_registry() {
    assert_eq!(registry_of("oci:/x/y"), None);
    assert_eq!(registry_of("127.0.0.1:5000/a/b"), Some("127.0.0.1:5000"));
}

#[test]
fn merging_keeps_the_oldest_claim_the_newest_tag_and_the_first_known_sparse_verdict() {
    let mut l = inv(LEDGER_FORMAT, &[("r.example/a", &[1])]);
    l.repositories[0].tags.push(TagEntry {
        tag: "v1".into(),
        digest: d(10),
    });
    let mut later = inv(LEDGER_FORMAT, &[("r.example/a", &[1, 2])]);
    for b in &mut later.repositories[0].blobs {
        b.bundle = Some("b2".into());
    }
    later.repositories[0].tags.push(TagEntry {
        tag: "v1".into(),
        digest: d(11),
    });
    l.repositories.extend(later.repositories);
    l.normalise();
    let repo = &l.repositories[0];
    assert_eq!(repo.tags.len(), 1);
    assert_eq!(
        repo.tags[0].digest,
        d(11),
        "the tag moved: the newest entry wins"
    );
    assert_eq!(repo.blobs.len(), 2);
    assert_eq!(
        repo.blobs[0].bundle.as_deref(),
        Some("b1"),
        "the oldest shipment"
    );

    let verdict = |v| {
        let mut i = inv(INVENTORY_FORMAT, &[]);
        i.registries.push(RegistryFacts {
            registry: "r.example".into(),
            sparse_index: v,
        });
        i
    };
    let mut far = FarSide::default();
    far.add(&verdict(SparseIndex::Unknown), "old.json");
    far.add(&verdict(SparseIndex::Rejected), "new.json");
    far.add(&verdict(SparseIndex::Accepted), "newer.json");
    assert_eq!(far.sparse_index("r.example"), SparseIndex::Rejected);
    assert_eq!(far.basis.len(), 3);
}
