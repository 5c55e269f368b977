//! `mirror inventory` (issue 16): what a far-side registry or layout holds, against real
//! distribution 2.8; the sealed file opens with `Inventory::open` and refuses an edited byte.

use std::collections::BTreeSet;
use std::path::Path;

use sparse_mirror::model::delta::{
    Checksummed, DeltaFileError, Inventory, Repository, SparseIndex, INVENTORY_FORMAT,
};

use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fault_proxy::{Fault, FaultConfig, FaultProxy, Rule};
use crate::fixtures::{self, seeded, Image};
use crate::harness::{mirror_async, mirror_in_async, Http, Output, Registry};

const LAYER: usize = 4 * 1024;

/// The JSON on stdout, opened as `mirror bundle` opens an inventory file.
fn opened(out: &Output) -> Inventory {
    assert_eq!(out.code, 0, "{out}");
    Inventory::open(
        out.stdout.as_bytes(),
        Path::new("stdout"),
        &[INVENTORY_FORMAT],
    )
    .unwrap_or_else(|e| panic!("{e}\n{out}"))
}

fn repo<'a>(inv: &'a Inventory, name: &str) -> &'a Repository {
    inv.repositories
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no repository {name} in {inv:#?}"))
}

/// (digest, size) of what an inventory lists.
fn listed(objects: &[sparse_mirror::model::delta::Object]) -> BTreeSet<(String, u64)> {
    objects
        .iter()
        .map(|o| (o.digest.to_string(), o.size))
        .collect()
}

fn manifests_of<'a>(
    ms: impl IntoIterator<Item = &'a fixtures::Manifest>,
) -> BTreeSet<(String, u64)> {
    ms.into_iter()
        .map(|m| (m.digest.clone(), m.size() as u64))
        .collect()
}

fn blobs_of<'a>(bs: impl IntoIterator<Item = &'a fixtures::Blob>) -> BTreeSet<(String, u64)> {
    bs.into_iter()
        .map(|b| (b.digest.clone(), b.bytes.len() as u64))
        .collect()
}

fn assert_whole_image(r: &Repository, img: &Image) {
    assert_eq!(
        listed(&r.manifests),
        manifests_of(img.all_manifests()),
        "manifests of {}",
        r.name
    );
    assert_eq!(
        listed(&r.blobs),
        blobs_of(img.all_blobs()),
        "blobs of {}",
        r.name
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_arch_repository_with_two_tags_lists_exactly_its_manifests_and_blobs() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (reg, http) = seeded(&img).await;
    fixtures::push_manifest_only(&http, &reg.host(), "team/app", "v2", &img.index).await;
    let name = format!("{}/team/app", reg.host());
    let mark = reg.mark();
    let inv = opened(&mirror_async(&["inventory", &name, "--output", "json", "--jobs", "3"]).await);
    assert_eq!(inv.format, INVENTORY_FORMAT);
    assert!(inv.tool.starts_with("mirror "), "{}", inv.tool);
    assert!(
        inv.created.ends_with('Z') && inv.created.len() == 20,
        "{}",
        inv.created
    );
    assert_eq!(inv.repositories.len(), 1);
    let r = repo(&inv, &name);
    let tags: Vec<(&str, String)> = r
        .tags
        .iter()
        .map(|t| (t.tag.as_str(), t.digest.to_string()))
        .collect();
    assert_eq!(
        tags,
        vec![
            ("v1", img.index.digest.clone()),
            ("v2", img.index.digest.clone())
        ]
    );
    assert_whole_image(r, &img);
    assert_eq!(inv.registries.len(), 1);
    assert_eq!(inv.registries[0].registry, reg.host());
    assert_eq!(inv.registries[0].sparse_index, SparseIndex::Unknown);
    // Read-only, and each blob HEADed once although both tags name the same index.
    let reqs = reg.requests_since(mark);
    assert!(
        reqs.iter()
            .all(|q| matches!(q.method.as_str(), "GET" | "HEAD")),
        "{}",
        crate::harness::show(&reqs)
    );
    for b in img.all_blobs() {
        let heads = crate::harness::count(&reqs, "HEAD", &format!("/blobs/{}", b.digest));
        assert_eq!(heads, 1, "{}", b.digest);
    }
    // The whole read: one tags/list, a HEAD per tag, a GET per manifest, a HEAD per blob.
    let count = |m, p| crate::harness::count(&reqs, m, p);
    assert_eq!(count("GET", "/tags/list"), 1);
    assert_eq!(count("HEAD", "/manifests/"), 2);
    assert_eq!(count("GET", "/manifests/"), 13);
    assert_eq!(count("HEAD", "/blobs/"), 25);
    // A single tag lists that tag only, with the same content.
    let one =
        opened(&mirror_async(&["inventory", &format!("{name}:v2"), "--output", "json"]).await);
    let r1 = repo(&one, &name);
    assert_eq!(r1.tags.len(), 1);
    assert_eq!(r1.tags[0].tag, "v2");
    assert_whole_image(r1, &img);
    // The default output: one line per repository, the verdict per registry.
    let text = mirror_async(&["inventory", &name]).await;
    assert_eq!(text.code, 0, "{text}");
    let line = text
        .stdout
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("{text}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cols[1..4], &["2", "13", "25"], "{text}");
    assert!(
        text.stdout
            .contains(&format!("registry {}: sparse indexes unknown", reg.host())),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sparse_layout_lists_only_the_children_it_holds() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (src, _http) = seeded(&img).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("usb");
    let out = mirror_async(&[
        "copy",
        &format!("{}/team/app:v1", src.host()),
        &format!("oci:{}:v1", layout.display()),
        "--platform",
        "linux/amd64",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let inv = opened(
        &mirror_async(&[
            "inventory",
            &format!("oci:{}", layout.display()),
            "--output",
            "json",
        ])
        .await,
    );
    let name = format!("oci:{}", layout.display());
    let r = repo(&inv, &name);
    assert_eq!(r.tags.len(), 1);
    assert_eq!(r.tags[0].tag, "v1");
    assert_eq!(r.tags[0].digest.to_string(), img.index.digest);
    let amd64 = img.child("linux/amd64");
    let att = img.attestation_for(&amd64.digest);
    assert_eq!(
        listed(&r.manifests),
        manifests_of([&img.index, amd64, att]),
        "only the children the layout holds"
    );
    assert_eq!(
        listed(&r.blobs),
        blobs_of(amd64.blobs.iter().chain(&att.blobs))
    );
    assert!(inv.registries.is_empty(), "a layout has no registry facts");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_that_does_not_exist_is_listed_empty() {
    let reg = Registry::start();
    let name = format!("{}/not/there", reg.host());
    let inv = opened(&mirror_async(&["inventory", &name, "--output", "json"]).await);
    let r = repo(&inv, &name);
    assert!(
        r.tags.is_empty() && r.manifests.is_empty() && r.blobs.is_empty(),
        "{r:?}"
    );
    // A tag asked for that is not there: a warning, the repository still listed (empty).
    let out = mirror_async(&["inventory", &format!("{name}:v9"), "--output", "json"]).await;
    assert!(repo(&opened(&out), &name).tags.is_empty());
    assert!(out.stderr.contains("tag v9 does not exist"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_indexes_are_walked_to_the_bottom() {
    let img = fixtures::nested_index(LAYER);
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_layout(dir.path(), "v1", &img);
    let name = format!("oci:{}", dir.path().display());
    let inv = opened(&mirror_async(&["inventory", &name, "--output", "json"]).await);
    assert_whole_image(repo(&inv, &name), &img);
    assert_eq!(repo(&inv, &name).manifests.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_request_names_the_object_registry_method_and_status() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (reg, _http) = seeded(&img).await;
    let blob = &img.child("linux/s390x").layers()[1].digest;
    let proxy = FaultProxy::start(
        &reg.host(),
        FaultConfig::rules(vec![Rule {
            method: "HEAD",
            path_contains: format!("/blobs/{blob}"),
            nth: 0,
            fault: Fault::Status(500),
        }]),
    )
    .await;
    let name = format!("{}/team/app", proxy.host());
    let out = mirror_async(&["inventory", &name, "--retries", "0", "--output", "json"]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.is_empty(), "no partial inventory: {out}");
    for needle in [
        format!("inventory of {name}"),
        format!("HEAD blob {blob}"),
        format!("HEAD http://{}/v2/team/app/blobs/{blob}", proxy.host()),
        "500".to_string(),
    ] {
        assert!(out.stderr.contains(&needle), "{needle:?} in {out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_file_covers_every_target_repository() {
    let multi = fixtures::multi_arch_oci(LAYER);
    let single = fixtures::single_manifest(LAYER);
    let (reg, http) = seeded(&multi).await;
    let host = reg.host();
    fixtures::push_image(&http, &host, "mirror/app", "1.0", &multi).await;
    fixtures::push_image(&http, &host, "mirror/db", "2.0", &single).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "images:
  - source: src.example/app
    target: {host}/mirror/app
    tags: [\"1.0\"]
  - source: src.example/db
    target: {host}/mirror/db
    tags: [\"2.0\"]
  - source: src.example/new
    target: {host}/mirror/new
    tags: [v1]
  - source-registry: src.example/org
    target-prefix: {host}/pref
    tags: [v1]
"
    );
    std::fs::write(dir.path().join("far.yaml"), yaml).unwrap();
    // The sources are never contacted (src.example does not resolve).
    let out = mirror_in_async(
        dir.path(),
        &["inventory", "-f", "far.yaml", "--output", "json"],
        &[],
    )
    .await;
    let inv = opened(&out);
    let names: Vec<&str> = inv.repositories.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            format!("{host}/mirror/app"),
            format!("{host}/mirror/db"),
            format!("{host}/mirror/new")
        ],
        "exactly the targets, not team/app"
    );
    assert_whole_image(repo(&inv, &format!("{host}/mirror/app")), &multi);
    assert_whole_image(repo(&inv, &format!("{host}/mirror/db")), &single);
    assert!(repo(&inv, &format!("{host}/mirror/new")).blobs.is_empty());
    assert!(
        !reg.requests().iter().any(|q| q.path.contains("_catalog")),
        "no catalog request"
    );
    assert!(
        out.stderr
            .contains("far.yaml: images[3] (source-registry src.example/org) is not covered"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_sparse_says_rejected_on_distribution_and_accepted_on_a_sparse_registry() {
    let img = fixtures::multi_arch_oci(LAYER);
    let (reg, _http) = seeded(&img).await;
    let name = format!("{}/team/app", reg.host());
    let out = mirror_async(&["inventory", &name, "--probe-sparse", "--output", "json"]).await;
    let inv = opened(&out);
    assert_eq!(inv.registries.len(), 1);
    assert_eq!(
        inv.registries[0].sparse_index,
        SparseIndex::Rejected,
        "{out}"
    );
    assert!(out.stderr.contains("sparse indexes rejected"), "{out}");
    assert!(out.stderr.contains("MANIFEST_BLOB_UNKNOWN"), "{out}");
    // The probe was refused, so nothing was stored and no tag was written.
    assert_eq!(
        Http::new().tags(&reg.host(), "team/app").await,
        vec!["v1".to_string()]
    );

    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let name = format!("{}/far/app", fake.host());
    let out = mirror_async(&["inventory", &name, "--probe-sparse", "--output", "json"]).await;
    let inv = opened(&out);
    assert_eq!(
        inv.registries[0].sparse_index,
        SparseIndex::Accepted,
        "{out}"
    );
    let probe = fake
        .requests()
        .into_iter()
        .find(|(m, p, _)| m == "PUT" && p.contains("/manifests/sha256:"))
        .unwrap_or_else(|| panic!("no probe PUT: {:?}", fake.requests()));
    assert_eq!(probe.2, 201);
    assert!(
        fake.tag_digest("far/app", "latest").is_none(),
        "the probe is untagged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_opens_and_one_edited_byte_breaks_its_checksum() {
    let img = fixtures::docker_list(LAYER);
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("far");
    fixtures::write_layout(&layout, "v1", &img);
    let out = mirror_async(&[
        "inventory",
        &format!("oci:{}", layout.display()),
        "--output",
        "json",
    ])
    .await;
    let inv = opened(&out);
    assert_whole_image(repo(&inv, &format!("oci:{}", layout.display())), &img);
    // The stdout bytes are exactly what seal() writes.
    let mut again = inv.clone();
    assert_eq!(again.seal(), out.stdout.as_bytes());
    // One byte of one size changed: refused by name.
    let size = format!("\"size\": {}", img.index.size());
    assert!(out.stdout.contains(&size), "{out}");
    let edited = out
        .stdout
        .replacen(&size, &format!("\"size\": {}", img.index.size() + 1), 1);
    let e = Inventory::open(
        edited.as_bytes(),
        Path::new("inventory.json"),
        &[INVENTORY_FORMAT],
    )
    .unwrap_err();
    assert!(matches!(e, DeltaFileError::Checksum { .. }), "{e}");
    assert!(e.to_string().contains("inventory.json"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_doc_lists_every_inventory_field() {
    let img = fixtures::single_manifest(LAYER);
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_layout(dir.path(), "v1", &img);
    let out = mirror_async(&[
        "inventory",
        &format!("oci:{}", dir.path().display()),
        "--output",
        "json",
    ])
    .await;
    let mut inv = opened(&out);
    inv.registries
        .push(sparse_mirror::model::delta::RegistryFacts {
            registry: "r.example".into(),
            sparse_index: SparseIndex::Unknown,
        });
    let v = serde_json::to_value(&inv).unwrap();
    let r = &v["repositories"][0];
    let mut keys: Vec<String> = vec![];
    for o in [
        &v,
        &v["registries"][0],
        r,
        &r["tags"][0],
        &r["manifests"][0],
    ] {
        keys.extend(o.as_object().unwrap().keys().cloned());
    }
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-output.md"))
            .unwrap();
    let section = &doc[doc.find("## Inventory and ledger").expect("the section")..];
    for k in keys
        .iter()
        .chain(&["bundles".to_string(), "bundle".to_string()])
    {
        assert!(
            section.contains(&format!("| `{k}` |")),
            "docs/json-output.md's inventory section has no row for `{k}`"
        );
    }
}
