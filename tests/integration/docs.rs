//! Documentation that runs: the README's main-job command and every `mirror` command in
//! docs/air-gap.md, against local registries; plus `inspect` output and man-page freshness.

use std::path::Path;
use std::process::Command;

use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fixtures;
use crate::harness::{mirror_async, mirror_bin, Http, Registry};
use sparse_mirror::engine::inspect::Inspection;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn readme_main_job_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("cargo install --locked --path . && scripts/demo"),
        "README names the demo"
    );
    assert!(
        readme.contains("\nscripts/test\n"),
        "README names the test command"
    );
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.contains("exec scripts/test"),
        ".ci/run must run the README's test command"
    );
    let out = Command::new(root().join("scripts/demo"))
        .env("MIRROR", mirror_bin())
        .env("MIRROR_TEST", "1")
        .output()
        .unwrap();
    // Its registries are stopped on exit: no registry process still serves a config from a
    // demo work directory (`mirror-demo.*`, deleted on exit), and its registry no longer answers.
    // (Registries of other origin on the machine are not the demo's business.)
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let host = stdout
        .lines()
        .find_map(|l| l.strip_prefix("== upstream image "))
        .and_then(|l| l.split('/').next())
        .expect("the demo names its registry")
        .to_string();
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout).into_owned();
    let leaked: Vec<&str> = ps
        .lines()
        .filter(|l| {
            let config = l.rsplit(' ').next().unwrap();
            l.starts_with("docker-registry serve")
                && config.contains("/mirror-demo.")
                && !Path::new(config).exists()
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "the demo left registries running: {leaked:?}"
    );
    assert!(
        std::net::TcpStream::connect(&host).is_err(),
        "the demo registry {host} still answers"
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for needle in [
        "result is a SPARSE index",
        "exit code: 4",
        "no data was moved",
        "pushing a filtered index",
        "is up to date",
    ] {
        assert!(
            text.contains(needle),
            "demo output lacks {needle:?}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn air_gap_doc_commands_run() {
    let doc = std::fs::read_to_string(root().join("docs/air-gap.md")).unwrap();
    let img = fixtures::multi_arch_oci(4096);
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "org/app", "v1", &img).await;
    // The disconnected registry of the doc's happy path accepts sparse indexes.
    let dst = FakeRegistry::start(FakeOptions::default()).await;
    let usb = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for block in doc.split("```sh\n").skip(1) {
        let block = &block[..block.find("```").unwrap()];
        for line in block.lines().filter(|l| l.starts_with("mirror ")) {
            let line = line
                .replace("quay.io/org/app:v1", &format!("{}/org/app:v1", src.host()))
                .replace("registry.airgap", &dst.host())
                .replace("/mnt/usb", &usb.path().display().to_string());
            let args: Vec<&str> = line.split_whitespace().skip(1).collect();
            let out = mirror_async(&args).await;
            assert_eq!(out.code, 0, "docs/air-gap.md command failed: {line}\n{out}");
            ran += 1;
        }
    }
    assert!(ran >= 5, "found only {ran} commands");
    assert_eq!(
        dst.manifest_bytes("org/app", "v1").unwrap().1,
        img.index.bytes,
        "digest kept end to end"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_reports_indexes_lists_nested_and_layouts() {
    let src = Registry::start();
    let http = Http::new();
    for (repo, img) in [
        ("oci", fixtures::multi_arch_oci(4096)),
        ("list", fixtures::docker_list(4096)),
        ("nested", fixtures::nested_index(4096)),
    ] {
        fixtures::push_image(&http, &src.host(), repo, "v1", &img).await;
        let out = mirror_async(&[
            "inspect",
            &format!("{}/{repo}:v1", src.host()),
            "-o",
            "json",
        ])
        .await;
        assert_eq!(out.code, 0, "{out}");
        let i: Inspection =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(i.digest.to_string(), img.index.digest);
        assert_eq!(i.media_type, img.index.media_type);
        let listed: Vec<String> = i.entries.iter().map(|e| e.digest.to_string()).collect();
        for m in img
            .all_manifests()
            .iter()
            .filter(|m| m.digest != img.index.digest)
        {
            assert!(
                listed.contains(&m.digest),
                "{repo}: {} not listed",
                m.digest
            );
        }
        assert!(i.entries.iter().all(|e| e.present));
        if repo == "oci" {
            let amd = &img.child("linux/amd64").digest;
            let att = i
                .entries
                .iter()
                .find(|e| {
                    e.attestation_of.as_ref().map(|d| d.to_string()).as_deref()
                        == Some(amd.as_str())
                })
                .expect("attestation linked");
            assert_eq!(att.platform.as_deref(), Some("unknown/unknown"));
            let human = mirror_async(&["inspect", &format!("{}/{repo}:v1", src.host())]).await;
            assert!(
                human.stdout.contains("windows/amd64:10.0.17763.5936"),
                "{human}"
            );
        }
    }
    // A sparse layout shows which children it lacks.
    let dir = tempfile::tempdir().unwrap();
    let l = format!("oci:{}:v1", dir.path().display());
    assert_eq!(
        mirror_async(&[
            "copy",
            &format!("{}/oci:v1", src.host()),
            &l,
            "-p",
            "linux/arm64"
        ])
        .await
        .code,
        0
    );
    let out = mirror_async(&["inspect", &l, "-o", "json"]).await;
    let i: Inspection = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        i.entries.iter().filter(|e| e.present).count(),
        2,
        "arm64 + its attestation"
    );
    let human = mirror_async(&["inspect", &l]).await;
    assert!(human.stdout.contains("ABSENT (sparse source)"), "{human}");
}

#[test]
fn man_pages_are_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let out = crate::harness::mirror(&["man", &tmp.path().display().to_string()]);
    assert_eq!(out.code, 0, "{out}");
    let mut names = vec![];
    for e in std::fs::read_dir(tmp.path()).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let committed = std::fs::read(root().join("docs/man").join(&name)).unwrap_or_default();
        assert!(
            committed == std::fs::read(e.path()).unwrap(),
            "docs/man/{name} is stale: run `cargo run -- man docs/man`"
        );
        names.push(name);
    }
    let committed = std::fs::read_dir(root().join("docs/man")).unwrap().count();
    assert_eq!(
        committed,
        names.len(),
        "docs/man has pages for commands that no longer exist"
    );
    assert!(names.contains(&"mirror-copy.1".to_string()));
}
