//! Hostile sources: an in-test registry (the fake, which can serve bytes that do not match their
//! digest) serves each bad input; the target is a real distribution 2.8 registry. Each case must
//! end with exit 1 (2 for a bad reference), a message naming the object and the problem, and
//! nothing written to the target, asserted on the target's storage.

use serde_json::{json, Value};

use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fixtures::{self, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST};
use crate::harness::{mirror, mirror_async, sha256, Registry};

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

fn desc(media_type: &str, bytes: &[u8]) -> Value {
    json!({ "mediaType": media_type, "digest": sha256(bytes), "size": bytes.len() })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// One repository of the fake: a small linux/amd64 image under an index tagged `v1`, with
/// hooks to corrupt any part of it.
struct Src<'a> {
    fake: &'a FakeRegistry,
    repo: String,
}

impl Src<'_> {
    fn blob(&self, media_type: &str, data: &[u8]) -> Value {
        self.fake.put_blob(&self.repo, data);
        desc(media_type, data)
    }
    fn manifest(&self, media_type: &str, v: &Value) -> Value {
        let b = bytes(v);
        self.fake
            .put_manifest(&self.repo, &sha256(&b), media_type, &b);
        desc(media_type, &b)
    }
    fn tag(&self, media_type: &str, body: &[u8]) {
        self.fake.put_manifest(&self.repo, "v1", media_type, body);
    }
    /// config + one layer → image manifest descriptor (with platform).
    fn image(&self, layer: &[u8]) -> (Value, Value, Value) {
        let config = self.blob(OCI_CONFIG, br#"{"architecture":"amd64","os":"linux"}"#);
        let layer = self.blob(OCI_LAYER, layer);
        let m = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer.clone()]
        });
        let mut d = self.manifest(OCI_MANIFEST, &m);
        d["platform"] = json!({ "os": "linux", "architecture": "amd64" });
        (d, m, layer)
    }
    fn index_of(&self, entries: Vec<Value>) -> Vec<u8> {
        bytes(&json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries }))
    }
}

struct Case {
    name: &'static str,
    /// Text the error must contain (the object and the problem).
    expect: Vec<String>,
    /// A blob digest that must not reach the target (blob-level cases).
    bad_blob: Option<String>,
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_sources_are_refused_and_nothing_is_written() {
    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let dst = Registry::start();
    let layer = fixtures::pseudo_bytes("hostile layer", 4096);
    let mut cases: Vec<(String, Case)> = vec![];
    let mut add = |n: usize, setup: &dyn Fn(&Src) -> Case| {
        let src = Src {
            fake: &fake,
            repo: format!("hostile/{n}"),
        };
        let case = setup(&src);
        cases.push((src.repo.clone(), case));
    };

    add(0, &|s| {
        s.tag(OCI_INDEX, b"<html>this is not JSON</html>");
        Case {
            name: "not JSON",
            expect: vec!["manifest v1 from".into(), "not a valid manifest".into()],
            bad_blob: None,
        }
    });
    add(1, &|s| {
        // The index says OCI manifest; the child's body says Docker schema2.
        let config = s.blob(OCI_CONFIG, br#"{"architecture":"amd64","os":"linux"}"#);
        let l = s.blob(OCI_LAYER, &layer);
        let m = json!({ "schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": config, "layers": [l] });
        let b = bytes(&m);
        s.fake
            .put_manifest(&s.repo, &sha256(&b), DOCKER_MANIFEST, &b);
        let mut d = desc(OCI_MANIFEST, &b);
        d["platform"] = json!({ "os": "linux", "architecture": "amd64" });
        s.tag(OCI_INDEX, &s.index_of(vec![d]));
        Case {
            name: "wrong mediaType for its descriptor",
            expect: vec![sha256(&b), "does not match".into(), DOCKER_MANIFEST.into()],
            bad_blob: None,
        }
    });
    add(2, &|s| {
        let big = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[],"annotations":{{"pad":"{}"}}}}"#,
            "x".repeat(5 << 20)
        );
        s.tag(OCI_INDEX, big.as_bytes());
        Case {
            name: "manifest over 4 MiB",
            expect: vec!["manifest v1 from".into(), "over the 4 MiB".into()],
            bad_blob: None,
        }
    });
    add(3, &|s| {
        // The child manifest's digest is listed, other bytes are served under it.
        let (d, _, _) = s.image(&layer);
        let digest = d["digest"].as_str().unwrap().to_string();
        s.fake.put_manifest_at(&s.repo, &digest, OCI_MANIFEST, br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#);
        s.tag(OCI_INDEX, &s.index_of(vec![d]));
        Case {
            name: "manifest digest mismatch",
            expect: vec![format!("manifest {digest}"), "digest mismatch".into()],
            bad_blob: None,
        }
    });
    add(4, &|s| {
        // A layer's digest is listed, other bytes of the same size are served under it.
        let (d, _, l) = s.image(&layer);
        let digest = l["digest"].as_str().unwrap().to_string();
        let mut wrong = layer.clone();
        wrong[100] ^= 0xff;
        s.fake.put_blob_at(&s.repo, &digest, &wrong);
        s.tag(OCI_INDEX, &s.index_of(vec![d]));
        Case {
            name: "blob digest mismatch",
            expect: vec![format!("blob {digest}"), "digest mismatch".into()],
            bad_blob: Some(digest),
        }
    });
    add(5, &|s| {
        // The index lists the child with the wrong size.
        let (mut d, _, _) = s.image(&layer);
        let digest = d["digest"].as_str().unwrap().to_string();
        d["size"] = json!(d["size"].as_u64().unwrap() + 7);
        s.tag(OCI_INDEX, &s.index_of(vec![d]));
        Case {
            name: "manifest size mismatch",
            expect: vec![format!("manifest {digest}"), "size mismatch".into()],
            bad_blob: None,
        }
    });
    add(6, &|s| {
        // The image manifest lists its layer with a smaller size than the blob has.
        let config = s.blob(OCI_CONFIG, br#"{"architecture":"amd64","os":"linux"}"#);
        let mut l = s.blob(OCI_LAYER, &layer);
        let digest = l["digest"].as_str().unwrap().to_string();
        l["size"] = json!(layer.len() - 10);
        let m = json!({ "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [l] });
        let mut d = s.manifest(OCI_MANIFEST, &m);
        d["platform"] = json!({ "os": "linux", "architecture": "amd64" });
        s.tag(OCI_INDEX, &s.index_of(vec![d]));
        Case {
            name: "blob size mismatch",
            expect: vec![format!("blob {digest}"), "size mismatch".into()],
            bad_blob: Some(digest),
        }
    });
    add(7, &|s| {
        let (mut d, _, _) = s.image(&layer);
        d["digest"] = json!(format!("md5:{}", "0".repeat(32)));
        s.tag(OCI_INDEX, &s.index_of(vec![d]));
        Case {
            name: "unknown digest algorithm",
            expect: vec![
                "manifest v1 from".into(),
                "md5:".into(),
                "unsupported algorithm".into(),
            ],
            bad_blob: None,
        }
    });
    add(8, &|s| {
        let (mut d, _, _) = s.image(&layer);
        d["digest"] = json!(format!("sha256:{}", "Z".repeat(64)));
        s.tag(OCI_INDEX, &s.index_of(vec![d]));
        Case {
            name: "malformed hex",
            expect: vec![
                "manifest v1 from".into(),
                "ZZZZ".into(),
                "lowercase hex".into(),
            ],
            bad_blob: None,
        }
    });
    add(9, &|s| {
        // A cycle: the root lists a nested index whose digest serves the root's own bytes.
        let nested = sha256(b"the nested index that never was");
        let root = s.index_of(vec![
            json!({ "mediaType": OCI_INDEX, "digest": nested, "size": 10 }),
        ]);
        s.tag(OCI_INDEX, &root);
        s.fake.put_manifest_at(&s.repo, &nested, OCI_INDEX, &root);
        Case {
            name: "index cycle through a nested index",
            expect: vec!["index cycle".into(), nested.clone(), sha256(&root)],
            bad_blob: None,
        }
    });
    add(10, &|s| {
        // Runaway nesting: 10 honest nested indexes.
        let (d, _, _) = s.image(&layer);
        let mut inner = d;
        for _ in 0..10 {
            let b = s.index_of(vec![inner]);
            s.fake.put_manifest(&s.repo, &sha256(&b), OCI_INDEX, &b);
            inner = desc(OCI_INDEX, &b);
        }
        s.tag(OCI_INDEX, &s.index_of(vec![inner]));
        Case {
            name: "indexes nested too deep",
            expect: vec!["nested deeper than 8 levels".into(), "hostile/10".into()],
            bad_blob: None,
        }
    });
    add(11, &|s| {
        let v1 = json!({
            "schemaVersion": 1, "name": "library/x", "tag": "v1", "architecture": "amd64",
            "fsLayers": [{ "blobSum": sha256(b"") }], "history": [], "signatures": []
        });
        s.tag(SCHEMA1, &bytes(&v1));
        Case {
            name: "schema1",
            expect: vec![
                "manifest v1 from".into(),
                "schema1 manifests are not supported".into(),
                "hint: schema1 is deprecated and unsupported: convert the image upstream".into(),
            ],
            bad_blob: None,
        }
    });

    for (repo, case) in &cases {
        let out = mirror_async(&[
            "copy",
            &format!("{}/{repo}:v1", fake.host()),
            &format!("{}/{repo}:v1", dst.host()),
        ])
        .await;
        let name = case.name;
        assert_eq!(out.code, 1, "{name}: {out}");
        assert!(out.stdout.is_empty(), "{name}: {out}");
        for e in &case.expect {
            assert!(
                out.stderr.contains(e.as_str()),
                "{name}: stderr lacks {e:?}: {out}"
            );
        }
        assert!(!out.stderr.contains("panicked"), "{name}: {out}");
        // Nothing on the target: no tag, no manifest; for blob cases not the bad blob either
        // (other, verified blobs of the same copy may have been uploaded concurrently).
        let repo_dir = dst
            .storage_dir()
            .join(format!("docker/registry/v2/repositories/{repo}"));
        match &case.bad_blob {
            None => assert!(
                !repo_dir.exists(),
                "{name}: the target was written: {}",
                repo_dir.display()
            ),
            Some(bad) => {
                assert!(
                    !dst.blob_uploaded(repo, bad),
                    "{name}: the bad blob reached the target"
                );
                assert!(
                    !dst.blob_data_exists(bad),
                    "{name}: the bad blob's bytes were stored"
                );
                assert!(
                    !repo_dir.join("_manifests").exists(),
                    "{name}: a manifest was written"
                );
            }
        }
        assert!(!dst.tag_exists(repo, "v1"), "{name}");
    }
}

/// An invalid reference is a usage error (exit 2) whose message shows the offending part;
/// nothing is contacted.
#[test]
fn invalid_references_show_the_offending_part() {
    for (arg, part) in [
        ("127.0.0.1:5000/Team/app:v1", "Team"),
        ("127.0.0.1:5000/team/app:v1!", "v1!"),
        ("127.0.0.1:5000/team/app@sha256:abc", "sha256:abc"),
        ("ftp://127.0.0.1:5000/team/app:v1", "ftp"),
        ("oci:", "oci:"),
    ] {
        let out = mirror(&["copy", arg, "oci:/nonexistent/never:v1"]);
        assert_eq!(out.code, 2, "{arg}: {out}");
        assert!(out.stderr.contains("source"), "{arg}: {out}");
        assert!(
            out.stderr.contains(part),
            "{arg}: the message lacks {part:?}: {out}"
        );
    }
    assert!(!std::path::Path::new("/nonexistent/never").exists());
}
