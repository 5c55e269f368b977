//! The planner against JSON fixtures in `tests/fixtures/manifests/`: each file holds the root
//! index text and the exact text of every child manifest, keyed by digest.
use super::*;
use crate::model::platform::PlatformFilter;

struct Fixture {
    root: RawManifest,
    children: HashMap<Digest, RawManifest>,
}

fn load(text: &str) -> Fixture {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let raw = |s: &str| {
        let b = Bytes::from(s.to_string());
        let d = Digest::sha256_of(&b);
        RawManifest::from_bytes(b, d, None).unwrap()
    };
    let root = raw(v["root"].as_str().unwrap());
    let children = v["children"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, t)| (k.parse().unwrap(), raw(t.as_str().unwrap())))
        .collect();
    Fixture { root, children }
}

fn sel(patterns: &[&str]) -> Selector {
    Selector {
        platforms: PlatformFilter::parse(patterns).unwrap(),
        ..Selector::all()
    }
}

fn run(f: &Fixture, s: &Selector) -> Result<Plan> {
    let absent = HashSet::new();
    let inputs = Inputs {
        fetched: &f.children,
        absent: &absent,
        root_platform: None,
        source_ref: "src",
    };
    match plan(&f.root, s, &inputs)? {
        Outcome::Complete(p) => Ok(*p),
        Outcome::Need(n) => panic!("fixture lacks {n:?}"),
    }
}

fn decision_of<'a>(p: &'a Plan, platform: &str) -> &'a Decision {
    &p.entries
        .iter()
        .find(|e| e.platform_text() == platform)
        .unwrap_or_else(|| panic!("{platform}"))
        .decision
}

const OCI: &str = include_str!("../../../tests/fixtures/manifests/oci-index-attestations.json");
const DOCKER: &str = include_str!("../../../tests/fixtures/manifests/docker-list.json");
const NESTED: &str = include_str!("../../../tests/fixtures/manifests/nested-index.json");

#[test]
fn attestations_follow_their_platform() {
    let f = load(OCI);
    let p = run(&f, &sel(&["linux/arm64"])).unwrap();
    assert!(p.sparse);
    assert!(
        matches!(decision_of(&p, "linux/arm64/v8"), Decision::Copy(Reason::PlatformMatch { pattern }) if pattern == "linux/arm64")
    );
    assert_eq!(
        decision_of(&p, "linux/amd64"),
        &Decision::Skip(SkipReason::PlatformNotSelected)
    );
    let atts: Vec<&Entry> = p
        .entries
        .iter()
        .filter(|e| e.descriptor.attestation_subject().is_some())
        .collect();
    assert_eq!(atts.len(), 3);
    let arm = p
        .entries
        .iter()
        .find(|e| e.platform_text() == "linux/arm64/v8")
        .unwrap()
        .descriptor
        .digest
        .clone();
    for a in atts {
        let subject = a.descriptor.attestation_subject().unwrap();
        if subject == arm {
            assert_eq!(
                a.decision,
                Decision::Copy(Reason::AttestationOf { subject })
            );
        } else {
            assert_eq!(
                a.decision,
                Decision::Skip(SkipReason::AttestationOfUnselected { subject })
            );
        }
    }
    // The platformless SBOM artifact is copied by default.
    let artifact = p
        .entries
        .iter()
        .find(|e| e.descriptor.artifact_type.is_some())
        .unwrap();
    assert_eq!(artifact.decision, Decision::Copy(Reason::Platformless));
    // arm64 + its attestation + artifact; blobs deduplicated (the shared layer once).
    assert_eq!(p.manifests.len(), 3);
    let shared = Digest::sha256_of(b"shared");
    assert_eq!(p.blobs.iter().filter(|b| b.digest == shared).count(), 1);
    // Document order is kept.
    let order: Vec<String> = p
        .entries
        .iter()
        .map(|e| e.descriptor.digest.to_string())
        .collect();
    let ManifestView::Index { manifests, .. } = f.root.view().unwrap() else {
        panic!()
    };
    assert_eq!(
        order,
        manifests
            .iter()
            .map(|d| d.digest.to_string())
            .collect::<Vec<_>>()
    );
}

#[test]
fn policies_for_attestations_and_platformless_entries() {
    let f = load(OCI);
    let s = Selector {
        attestations: false,
        platformless: PlatformlessPolicy::Skip,
        ..sel(&["linux/amd64"])
    };
    let p = run(&f, &s).unwrap();
    assert!(p
        .entries
        .iter()
        .filter(|e| e.descriptor.attestation_subject().is_some())
        .all(|e| e.decision == Decision::Skip(SkipReason::AttestationsDisabled)));
    let artifact = p
        .entries
        .iter()
        .find(|e| e.descriptor.artifact_type.is_some())
        .unwrap();
    assert_eq!(artifact.decision, Decision::Skip(SkipReason::Platformless));
    assert_eq!(p.manifests.len(), 1);
    // No filter: everything, not sparse.
    let all = run(&f, &Selector::all()).unwrap();
    assert!(!all.sparse);
    assert!(all
        .entries
        .iter()
        .all(|e| e.decision == Decision::Copy(Reason::AllPlatforms)));
}

#[test]
fn nothing_selected_lists_platforms() {
    let f = load(OCI);
    let e = run(&f, &sel(&["linux/riscv64"])).unwrap_err();
    let Error::NothingSelected { available, .. } = e else {
        panic!("{e}")
    };
    assert_eq!(
        available,
        vec!["linux/amd64", "linux/arm64/v8", "linux/s390x"]
    );
    // A literal pattern that matches nothing next to one that does is reported as unmatched.
    let p = run(&f, &sel(&["linux/amd64", "linux/riscv64", "linux/mips*"])).unwrap();
    assert_eq!(p.unmatched, vec!["linux/riscv64"]);
}

#[test]
fn docker_list_behaves_like_an_oci_index() {
    let f = load(DOCKER);
    let p = run(&f, &sel(&["linux/arm"])).unwrap();
    assert_eq!(p.root.media_type, media::DOCKER_LIST);
    assert_eq!(p.manifests.len(), 1);
    assert_eq!(p.manifests[0].media_type, media::DOCKER_MANIFEST);
    assert!(decision_of(&p, "linux/arm/v7").is_copy());
    assert!(p
        .blobs
        .iter()
        .all(|b| b.media_type.starts_with("application/vnd.docker.")));
}

#[test]
fn nested_index_is_walked_and_pushed_after_its_children() {
    let f = load(NESTED);
    // First call: the planner asks for the inner index.
    let absent = HashSet::new();
    let empty = HashMap::new();
    let inputs = Inputs {
        fetched: &empty,
        absent: &absent,
        root_platform: None,
        source_ref: "src",
    };
    let Outcome::Need(need) = plan(&f.root, &sel(&["linux/amd64"]), &inputs).unwrap() else {
        panic!()
    };
    assert_eq!(
        need.len(),
        1,
        "only the inner index: the s390x child is not selected, so not fetched"
    );
    assert_eq!(media::kind(&need[0].media_type), Kind::Index);
    let p = run(&f, &sel(&["linux/amd64"])).unwrap();
    let inner_pos = p
        .manifests
        .iter()
        .position(|m| m.is_index())
        .expect("inner index pushed");
    let amd_pos = p.manifests.iter().position(|m| !m.is_index()).unwrap();
    assert!(
        amd_pos < inner_pos,
        "children before the index that lists them"
    );
    let inner = p
        .entries
        .iter()
        .find(|e| media::kind(&e.descriptor.media_type) == Kind::Index)
        .unwrap();
    assert_eq!(inner.decision, Decision::Copy(Reason::NestedIndex));
    assert!(p.sparse);
    // Selecting only s390x leaves the inner index out entirely.
    let p = run(&f, &sel(&["linux/s390x"])).unwrap();
    assert!(p.manifests.iter().all(|m| !m.is_index()));
    let inner = p
        .entries
        .iter()
        .find(|e| media::kind(&e.descriptor.media_type) == Kind::Index)
        .unwrap();
    assert_eq!(inner.decision, Decision::Skip(SkipReason::NestedIndexEmpty));
}

#[test]
fn absent_children_are_skipped_as_not_in_source() {
    let f = load(OCI);
    let s390 = f.root.view().map(|v| match v {
        ManifestView::Index { manifests, .. } => manifests[2].digest.clone(),
        _ => unreachable!(),
    });
    let absent: HashSet<Digest> = [s390.unwrap()].into();
    let inputs = Inputs {
        fetched: &f.children,
        absent: &absent,
        root_platform: None,
        source_ref: "src",
    };
    let Outcome::Complete(p) = plan(&f.root, &Selector::all(), &inputs).unwrap() else {
        panic!()
    };
    assert!(p.sparse);
    assert_eq!(p.skipped().count(), 1);
    assert_eq!(
        p.skipped().next().unwrap().decision,
        Decision::Skip(SkipReason::NotInSource)
    );
}

#[test]
fn filtered_index_lists_only_copied_entries() {
    let f = load(NESTED);
    let p = run(&f, &sel(&["linux/amd64"])).unwrap();
    let (root, nested) = filtered_indexes(&p).unwrap();
    assert_ne!(root.digest, f.root.digest);
    assert_eq!(nested.len(), 1);
    let ManifestView::Index { manifests, .. } = root.view().unwrap() else {
        panic!()
    };
    assert_eq!(manifests.len(), 1, "only the (rewritten) inner index");
    assert_eq!(manifests[0].digest, nested[0].digest);
    assert_eq!(manifests[0].size, nested[0].bytes.len() as u64);
    let ManifestView::Index {
        manifests: inner, ..
    } = nested[0].view().unwrap()
    else {
        panic!()
    };
    assert_eq!(inner.len(), 1);
    assert_eq!(inner[0].platform.as_ref().unwrap().architecture, "amd64");
    // Deterministic: the same plan gives the same bytes (reruns recognise it).
    assert_eq!(filtered_indexes(&p).unwrap().0.digest, root.digest);
}

#[test]
fn deep_nesting_is_refused() {
    // An index chain deeper than MAX_DEPTH: each level lists the next.
    let leaf = Bytes::from_static(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#);
    let mut fetched = HashMap::new();
    let mut cur = RawManifest {
        digest: Digest::sha256_of(&leaf),
        bytes: leaf,
        media_type: media::OCI_INDEX.into(),
    };
    for _ in 0..MAX_DEPTH + 1 {
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{}","size":{}}}]}}"#,
            cur.digest,
            cur.bytes.len()
        );
        fetched.insert(cur.digest.clone(), cur.clone());
        let b = Bytes::from(text);
        cur = RawManifest {
            digest: Digest::sha256_of(&b),
            bytes: b,
            media_type: media::OCI_INDEX.into(),
        };
    }
    let absent = HashSet::new();
    let inputs = Inputs {
        fetched: &fetched,
        absent: &absent,
        root_platform: None,
        source_ref: "src",
    };
    let e = plan(&cur, &Selector::all(), &inputs).unwrap_err();
    assert!(
        e.to_string().contains("index") && format!("{e:?}").contains("nested deeper"),
        "{e:?}"
    );
}

/// Cycles and self-references in indexes.
mod cycle_tests {
    use super::*;
    use crate::model::manifest::ManifestError;

    // An index cannot list itself for real (its digest covers the list): only a source that
    // serves bytes under a digest they do not have could present one, and verification refuses
    // that first. The planner still refuses cycles and runaway nesting on its own.

    fn index(entries: &[&Digest], digest: Option<Digest>) -> RawManifest {
        let list: Vec<String> = entries
            .iter()
            .map(|d| {
                format!(
                    r#"{{"mediaType":"{}","digest":"{d}","size":1}}"#,
                    media::OCI_INDEX
                )
            })
            .collect();
        let text = format!(
            r#"{{"mediaType":"{}","manifests":[{}]}}"#,
            media::OCI_INDEX,
            list.join(",")
        );
        let bytes = Bytes::from(text);
        RawManifest {
            digest: digest.unwrap_or_else(|| Digest::sha256_of(&bytes)),
            bytes,
            media_type: media::OCI_INDEX.into(),
        }
    }

    fn fake_digest(n: usize) -> Digest {
        format!("sha256:{n:064x}").parse().unwrap()
    }

    fn refusal(root: &RawManifest, fetched: &HashMap<Digest, RawManifest>) -> String {
        let absent = HashSet::new();
        let inputs = Inputs {
            fetched,
            absent: &absent,
            root_platform: None,
            source_ref: "src",
        };
        match plan(root, &Selector::all(), &inputs) {
            Err(Error::Manifest {
                what,
                source: ManifestError::Invalid(why),
            }) => format!("{what}: {why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_index_cycle_is_refused() {
        let nested = fake_digest(1);
        let root = index(&[&nested], None);
        // Through a nested index that lists itself.
        let looped = index(&[&nested], Some(nested.clone()));
        let fetched = HashMap::from([(nested.clone(), looped)]);
        let why = refusal(&root, &fetched);
        assert!(why.contains("contains itself"), "{why}");
        assert!(why.contains(nested.as_str()), "{why}");
        // Through a nested index that lists the root.
        let back = index(&[&root.digest], Some(nested.clone()));
        let fetched = HashMap::from([(nested.clone(), back)]);
        let why = refusal(&root, &fetched);
        assert!(why.contains("contains itself"), "{why}");
    }

    #[test]
    fn runaway_nesting_is_refused() {
        let chain: Vec<Digest> = (1..=MAX_DEPTH + 2).map(fake_digest).collect();
        let mut fetched = HashMap::new();
        for w in chain.windows(2) {
            fetched.insert(w[0].clone(), index(&[&w[1]], Some(w[0].clone())));
        }
        let root = index(&[&chain[0]], None);
        let why = refusal(&root, &fetched);
        assert!(
            why.contains(&format!("deeper than {MAX_DEPTH} levels")),
            "{why}"
        );
    }
}
