//! `--always-copy` / `--never-copy`: every form includes, excludes, and loses or wins a
//! conflict (`--never-copy` wins). The source is real distribution 2.8; the index is built
//! here so its entries carry the fields the rules look at.

use super::{report, Chain};
use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fixtures::{self, Manifest, OCI_INDEX};
use crate::harness::{mirror_async, sha256, Http, Registry};
use sparse_mirror::engine::report::Report;

struct Fixture {
    index: Manifest,
    amd: String,
    arm: String,
    sbom: String,
    nested: String,
    s390x: String,
}

fn entry(m: &Manifest, extra: &str) -> String {
    format!(
        r#"{{"mediaType":"{}","size":{},"digest":"{}"{extra}}}"#,
        m.media_type,
        m.size(),
        m.digest
    )
}

/// An index of: linux/amd64 (tier=gold), linux/arm64 (tier=bronze), an SBOM artifact entry
/// (artifactType, no platform) and a nested index holding linux/s390x.
async fn seed(src: &Registry) -> Fixture {
    let chain = Chain::new();
    let img = &chain.img;
    let http = Http::new();
    let host = src.host();
    let amd = img.child("linux/amd64");
    let arm = img.child("linux/arm64/v8");
    let s390x = img.child("linux/s390x");
    let blobs: Vec<&fixtures::Blob> = [amd, arm, s390x]
        .iter()
        .flat_map(|m| &m.blobs)
        .chain(&chain.sbom.manifest.blobs)
        .collect();
    let mut seen = std::collections::HashSet::new();
    for b in blobs.into_iter().filter(|b| seen.insert(b.digest.clone())) {
        http.push_blob(&host, "rules/app", &b.bytes).await;
    }
    for m in [amd, arm, s390x, &chain.sbom.manifest] {
        fixtures::push_manifest_only(&http, &host, "rules/app", &m.digest, m).await;
    }
    let nested_bytes = format!(
        "{{\"manifests\":[{}],\"mediaType\":\"{OCI_INDEX}\",\"schemaVersion\":2}}\n",
        entry(
            s390x,
            r#","platform":{"architecture":"s390x","os":"linux"}"#
        )
    )
    .into_bytes();
    let nested = Manifest {
        media_type: OCI_INDEX.into(),
        digest: sha256(&nested_bytes),
        bytes: nested_bytes,
        platform: None,
        blobs: vec![],
        attestation_of: None,
    };
    fixtures::push_manifest_only(&http, &host, "rules/app", &nested.digest, &nested).await;
    let entries = [
        entry(
            amd,
            r#","platform":{"architecture":"amd64","os":"linux"},"annotations":{"org.example/tier":"gold"}"#,
        ),
        entry(
            arm,
            r#","platform":{"architecture":"arm64","os":"linux","variant":"v8"},"annotations":{"org.example/tier":"bronze"}"#,
        ),
        entry(
            &chain.sbom.manifest,
            r#","artifactType":"application/spdx+json""#,
        ),
        entry(&nested, ""),
    ];
    let bytes = format!(
        "{{\n \"manifests\": [\n  {}\n ],\n \"mediaType\": \"{OCI_INDEX}\",\n \"schemaVersion\": 2\n}}\n",
        entries.join(",\n  ")
    )
    .into_bytes();
    let index = Manifest {
        media_type: OCI_INDEX.into(),
        digest: sha256(&bytes),
        bytes,
        platform: None,
        blobs: vec![],
        attestation_of: None,
    };
    fixtures::push_manifest_only(&http, &host, "rules/app", "v1", &index).await;
    Fixture {
        index,
        amd: amd.digest.clone(),
        arm: arm.digest.clone(),
        sbom: chain.sbom.manifest.digest.clone(),
        nested: nested.digest,
        s390x: s390x.digest.clone(),
    }
}

/// (copied?, reason text) for an entry.
fn fate(r: &Report, digest: &str) -> (bool, String) {
    let e = r
        .entries
        .iter()
        .find(|e| e.digest.as_str() == digest)
        .unwrap_or_else(|| panic!("no entry {digest}"));
    (e.decision.is_copy(), e.reason_text.clone())
}

async fn plan(src: &Registry, args: &[&str]) -> Report {
    let s = format!("{}/rules/app:v1", src.host());
    let mut all = vec![
        "copy",
        "--dry-run",
        "-o",
        "json",
        s.as_str(),
        "oci:/nonexistent:x",
    ];
    all.extend_from_slice(args);
    let out = mirror_async(&all).await;
    assert_eq!(out.code, 0, "{args:?}: {out}");
    report(&out.stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_rule_form_includes_excludes_and_never_copy_wins() {
    let src = Registry::start();
    let f = seed(&src).await;
    let amd64_only = ["-p", "linux/amd64", "--platformless", "skip"];
    type Case<'a> = (&'a str, Vec<&'a str>, &'a str, bool, &'a str);
    let cases: Vec<Case> = vec![
        // artifact-type
        (
            "artifact-type includes",
            vec!["--always-copy", "artifact-type=application/spdx*"],
            &f.sbom,
            true,
            "--always-copy artifact-type=application/spdx*",
        ),
        (
            "artifact-type excludes",
            vec!["--never-copy", "artifact-type=application/spdx+json"],
            &f.sbom,
            false,
            "--never-copy artifact-type=application/spdx+json",
        ),
        (
            "artifact-type conflict",
            vec![
                "--always-copy",
                "artifact-type=*",
                "--never-copy",
                "artifact-type=application/spdx+json",
            ],
            &f.sbom,
            false,
            "--never-copy artifact-type=application/spdx+json (wins over --always-copy artifact-type=*)",
        ),
        // media-type
        (
            "media-type includes",
            vec!["--always-copy", "media-type=*.index.*"],
            &f.nested,
            true,
            "--always-copy media-type=*.index.*",
        ),
        (
            "media-type excludes",
            vec!["--never-copy", "media-type=application/vnd.oci.image.index.v1+json"],
            &f.nested,
            false,
            "--never-copy media-type=application/vnd.oci.image.index.v1+json",
        ),
        (
            "media-type conflict",
            vec![
                "--always-copy",
                "media-type=*.index.*",
                "--never-copy",
                "media-type=application/vnd.oci.*",
            ],
            &f.nested,
            false,
            "--never-copy media-type=application/vnd.oci.* (wins over --always-copy media-type=*.index.*)",
        ),
        // annotation
        (
            "annotation includes",
            vec!["--always-copy", "annotation:org.example/tier=bronze"],
            &f.arm,
            true,
            "--always-copy annotation:org.example/tier=bronze",
        ),
        (
            "annotation excludes",
            vec!["--never-copy", "annotation:org.example/tier=gold"],
            &f.amd,
            false,
            "--never-copy annotation:org.example/tier=gold",
        ),
        (
            "annotation conflict",
            vec![
                "--always-copy",
                "annotation:org.example/tier=*",
                "--never-copy",
                "annotation:org.example/tier=bronze",
            ],
            &f.arm,
            false,
            "--never-copy annotation:org.example/tier=bronze (wins over --always-copy annotation:org.example/tier=*)",
        ),
    ];
    for (name, rule_args, digest, copied, reason) in cases {
        // Excludes run without a platform filter (everything would be copied otherwise);
        // includes and conflicts run with linux/amd64 only, where the entry would be skipped.
        let mut args: Vec<&str> = if name.ends_with("excludes") {
            vec![]
        } else {
            amd64_only.to_vec()
        };
        args.extend(rule_args);
        let r = plan(&src, &args).await;
        assert_eq!(fate(&r, digest), (copied, reason.to_string()), "{name}");
        // The control: without the rule the entry goes the other way.
        let control: Vec<&str> = if name.ends_with("excludes") {
            vec![]
        } else {
            amd64_only.to_vec()
        };
        let r = plan(&src, &control).await;
        assert_eq!(
            fate(&r, digest).0,
            name.ends_with("excludes"),
            "{name}: control"
        );
    }
    // A nested index forced in brings its entries; the human plan names the rule.
    let s = format!("{}/rules/app:v1", src.host());
    let out = mirror_async(&[
        "copy",
        "--dry-run",
        &s,
        "oci:/nonexistent:x",
        "-p",
        "linux/amd64",
        "--always-copy",
        "media-type=*.index.*",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let s390x_line = out
        .stdout
        .lines()
        .find(|l| l.contains(&f.s390x[..19]))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        s390x_line.contains("copy") && s390x_line.contains("--always-copy media-type=*.index.*"),
        "{s390x_line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_decide_what_is_actually_copied() {
    let src = Registry::start();
    let f = seed(&src).await;
    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let s = format!("{}/rules/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", fake.host());
    let out = mirror_async(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--always-copy",
        "annotation:org.example/tier=bronze",
        "--never-copy",
        "artifact-type=application/spdx+json",
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(fake.has_manifest("mirror/app", &f.amd));
    assert!(fake.has_manifest("mirror/app", &f.arm), "forced in");
    assert!(!fake.has_manifest("mirror/app", &f.sbom), "excluded");
    assert!(!fake.has_manifest("mirror/app", &f.nested));
    let (_, bytes) = fake.manifest_bytes("mirror/app", "v1").unwrap();
    assert_eq!(bytes, f.index.bytes, "the index is pushed unmodified");
}
