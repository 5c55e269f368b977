//! The world the air-gap delta tests run in: images whose layers overlap across tags and
//! repositories, a near (connected) distribution 2.8 registry, a far (disconnected) registry
//! that is either a second 2.8 or the in-process sparse-accepting stand-in, a working directory,
//! and helpers that run each side's commands and read what they wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::json;
use sparse_mirror::model::delta::{
    BundleManifest, Checksummed, Inventory, BUNDLE_FILE, BUNDLE_FORMAT, INVENTORY_FORMAT,
    LEDGER_FORMAT,
};

use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fixtures::{
    self, Blob, Image, Manifest, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST,
};
use crate::harness::{mirror_in_async, read, sha256, Http, Output, Registry};

/// Every platform of every fixture image.
pub const PLATFORMS: [&str; 3] = ["linux/amd64", "linux/arm64", "linux/s390x"];
/// The selection of the first trips.
pub const TWO: [&str; 2] = ["linux/amd64", "linux/arm64"];
/// A base layer: shared by every tag built on the same base, what a delta must not carry twice.
pub const BASE: usize = 24 * 1024;
/// A top layer: the small difference between two tags.
pub const TOP: usize = 1024;

/// A built image and what it is made of.
#[derive(Clone)]
pub struct Built {
    /// `repo`.
    pub repo: String,
    /// `tag`.
    pub tag: String,
    /// The image.
    pub image: Image,
}

fn blob_json(v: &serde_json::Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap();
    out.push(b'\n');
    out
}

fn manifest_of(
    media_type: &str,
    bytes: Vec<u8>,
    platform: Option<&str>,
    blobs: Vec<Blob>,
) -> Manifest {
    Manifest {
        media_type: media_type.into(),
        digest: sha256(&bytes),
        bytes,
        platform: platform.map(String::from),
        blobs,
        attestation_of: None,
    }
}

fn desc(mt: &str, digest: &str, size: usize) -> serde_json::Value {
    json!({"mediaType": mt, "digest": digest, "size": size})
}

/// `repo:tag` built on `base`: an OCI index of [`PLATFORMS`], each an image manifest with its own
/// config, the base layer `base/<platform>` (`base_size` bytes, the same in every image on this
/// base) and a top layer of `top_size` bytes of its own.
pub fn image(base: &str, repo: &str, tag: &str, base_size: usize, top_size: usize) -> Built {
    let mut children = vec![];
    let mut entries = vec![];
    for p in PLATFORMS {
        let (os, arch) = p.split_once('/').unwrap();
        let base_layer = Blob::new(
            OCI_LAYER,
            fixtures::pseudo_bytes(&format!("{base}/base/{p}"), base_size),
        );
        let top = Blob::new(
            OCI_LAYER,
            fixtures::pseudo_bytes(&format!("{repo}:{tag}/top/{p}"), top_size),
        );
        let config = Blob::new(
            OCI_CONFIG,
            blob_json(&json!({
                "architecture": arch,
                "os": os,
                "config": {"Labels": {"org.opencontainers.image.ref.name": format!("{repo}:{tag}")}},
                "rootfs": {"type": "layers", "diff_ids": [base_layer.digest, top.digest]},
            })),
        );
        let bytes = blob_json(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, &config.digest, config.bytes.len()),
            "layers": [
                desc(OCI_LAYER, &base_layer.digest, base_layer.bytes.len()),
                desc(OCI_LAYER, &top.digest, top.bytes.len()),
            ],
        }));
        let m = manifest_of(OCI_MANIFEST, bytes, Some(p), vec![config, base_layer, top]);
        let mut e = desc(OCI_MANIFEST, &m.digest, m.size());
        e["platform"] = json!({"architecture": arch, "os": os});
        entries.push(e);
        children.push(m);
    }
    let index = blob_json(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries,
        "annotations": {"org.opencontainers.image.version": tag},
    }));
    Built {
        repo: repo.into(),
        tag: tag.into(),
        image: Image {
            index: manifest_of(OCI_INDEX, index, None, vec![]),
            children,
            nested: vec![],
        },
    }
}

/// The blobs (configs and layers) of the `platforms` children of `images`, digest → size.
pub fn blobs_for<'a>(
    images: impl IntoIterator<Item = &'a Built>,
    platforms: &[&str],
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for b in images {
        for m in &b.image.children {
            if platforms.contains(&m.platform.as_deref().unwrap()) {
                for blob in &m.blobs {
                    out.insert(blob.digest.clone(), blob.bytes.len() as u64);
                }
            }
        }
    }
    out
}

/// Every manifest of `images` (index and all children), digest → size.
pub fn manifests_of<'a>(images: impl IntoIterator<Item = &'a Built>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for b in images {
        for m in b.image.all_manifests() {
            out.insert(m.digest.clone(), m.size() as u64);
        }
    }
    out
}

/// `a` minus the keys of `b`.
pub fn minus(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    a.iter()
        .filter(|(k, _)| !b.contains_key(*k))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Sum of the sizes.
pub fn bytes(m: &BTreeMap<String, u64>) -> u64 {
    m.values().sum()
}

/// Which far side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FarKind {
    /// The in-process registry that accepts sparse indexes (distribution v3 `platforms: none`,
    /// Quay `FEATURE_SPARSE_INDEX`): a platform filter ships a sparse index.
    SparseAccepting,
    /// A real distribution 2.8: refuses sparse indexes, so the bundle carries every platform.
    Distribution28,
}

/// The disconnected registry.
pub enum Far {
    /// distribution 2.8.
    Real(Registry),
    /// The sparse-accepting stand-in.
    Fake(FakeRegistry),
}

impl Far {
    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        match self {
            Far::Real(r) => r.host(),
            Far::Fake(f) => f.host(),
        }
    }

    /// A mark for [`Far::writes_since`].
    pub fn mark(&self) -> usize {
        match self {
            Far::Real(r) => r.mark(),
            Far::Fake(f) => f.requests().len(),
        }
    }

    /// Requests since `mark`: (method, path with query, status).
    pub fn requests_since(&self, mark: usize) -> Vec<(String, String, u16)> {
        match self {
            Far::Real(r) => r
                .requests_since(mark)
                .into_iter()
                .map(|q| {
                    let path = match q.query.is_empty() {
                        true => q.path,
                        false => format!("{}?{}", q.path, q.query),
                    };
                    (q.method, path, q.status)
                })
                .collect(),
            Far::Fake(f) => f.requests().into_iter().skip(mark).collect(),
        }
    }

    /// Blobs pushed into `repo` since `mark` (the `digest=` of each completed upload), and blobs
    /// mounted into it from another repository (`mount=` of each 201 mount whose `from=` is not
    /// `repo`: the engine sometimes also "mounts" a blob from the repository itself, which moves
    /// nothing).
    pub fn blob_writes_since(
        &self,
        mark: usize,
        repo: &str,
    ) -> (BTreeSet<String>, BTreeSet<String>) {
        let prefix = format!("/v2/{repo}/blobs/uploads/");
        let param = |path: &str, key: &str| {
            let q = path.split_once('?')?.1;
            q.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                .map(|v| v.replace("%3A", ":").replace("%3a", ":"))
        };
        let (mut pushed, mut mounted) = (BTreeSet::new(), BTreeSet::new());
        for (m, path, status) in self.requests_since(mark) {
            if !path.starts_with(&prefix) || status != 201 {
                continue;
            }
            match m.as_str() {
                "PUT" => pushed.extend(param(&path, "digest")),
                "POST" if param(&path, "from").is_some_and(|f| f != repo) => {
                    mounted.extend(param(&path, "mount"))
                }
                _ => {}
            }
        }
        (pushed, mounted)
    }

    /// Requests other than GET and HEAD since `mark`, as `METHOD path -> status`.
    pub fn writes_since(&self, mark: usize) -> Vec<String> {
        self.requests_since(mark)
            .into_iter()
            .filter(|(m, _, _)| m != "GET" && m != "HEAD")
            .map(|(m, p, s)| format!("{m} {p} -> {s}"))
            .collect()
    }
}

/// Two sites, one working directory (the near side's files and the carried medium alike).
pub struct World {
    /// The connected source registry.
    pub near: Registry,
    /// The disconnected registry.
    pub far: Far,
    /// Which one it is.
    pub kind: FarKind,
    /// Setup and checks.
    pub http: Http,
    /// Where YAML files, inventories, the ledger and bundles live.
    pub dir: tempfile::TempDir,
    /// Everything published on the near side, in order.
    pub published: Vec<Built>,
}

impl World {
    /// Starts both registries.
    pub async fn start(kind: FarKind) -> World {
        let far = match kind {
            FarKind::Distribution28 => Far::Real(Registry::start()),
            FarKind::SparseAccepting => {
                Far::Fake(FakeRegistry::start(FakeOptions::default()).await)
            }
        };
        World {
            near: Registry::start(),
            far,
            kind,
            http: Http::new(),
            dir: tempfile::tempdir().unwrap(),
            published: vec![],
        }
    }

    /// `dir/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `dir/name` as a string argument.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Builds `repo:tag` on `base` (small [`BASE`]/[`TOP`] layers) and pushes it to the near side.
    pub async fn publish(&mut self, base: &str, repo: &str, tag: &str) -> Built {
        self.publish_sized(base, repo, tag, BASE, TOP).await
    }

    /// [`World::publish`] with explicit layer sizes.
    pub async fn publish_sized(
        &mut self,
        base: &str,
        repo: &str,
        tag: &str,
        base_size: usize,
        top_size: usize,
    ) -> Built {
        let b = image(base, repo, tag, base_size, top_size);
        fixtures::push_image(&self.http, &self.near.host(), repo, tag, &b.image).await;
        self.published.push(b.clone());
        b
    }

    /// The published image `repo:tag`.
    pub fn built(&self, repo: &str, tag: &str) -> &Built {
        self.published
            .iter()
            .find(|b| b.repo == repo && b.tag == tag)
            .unwrap_or_else(|| panic!("{repo}:{tag} was not published"))
    }

    /// The published images of `items`.
    pub fn images(&self, items: &[(&str, &[&str])]) -> Vec<&Built> {
        let mut out = vec![];
        for (repo, tags) in items {
            for t in *tags {
                out.push(self.built(repo, t));
            }
        }
        out
    }

    /// Writes the sync YAML `name`: each `(repo, tags)` from the near side to the same path on
    /// the far side; `platforms` empty = all; `on-reject: full`.
    pub fn yaml(&self, name: &str, items: &[(&str, &[&str])], platforms: &[&str]) -> String {
        let mut y = format!(
            "# near side: {} → far side: {}\ndefaults:\n  platforms: [{}]\n  on-reject: full\nimages:\n",
            self.near.host(),
            self.far.host(),
            platforms.join(", ")
        );
        for (repo, tags) in items {
            y.push_str(&format!(
                "  - source: {}/{repo}\n    target: {}/{repo}\n    tags: [{}]\n",
                self.near.host(),
                self.far.host(),
                tags.join(", ")
            ));
        }
        std::fs::write(self.path(name), y).unwrap();
        self.arg(name)
    }

    /// `mirror ARGS` in the working directory.
    pub async fn mirror(&self, args: &[&str]) -> Output {
        mirror_in_async(self.dir.path(), args, &[]).await
    }

    /// `mirror inventory -f YAML --probe-sparse --output json > name`, checked and parsed.
    pub async fn inventory(&self, yaml: &str, name: &str) -> (String, Inventory) {
        let out = self
            .mirror(&[
                "inventory",
                "-f",
                yaml,
                "--probe-sparse",
                "--output",
                "json",
            ])
            .await;
        assert_eq!(out.code, 0, "mirror inventory -f {yaml}: {out}");
        std::fs::write(self.path(name), &out.stdout).unwrap();
        let inv = Inventory::open(out.stdout.as_bytes(), &self.path(name), &[INVENTORY_FORMAT])
            .unwrap_or_else(|e| panic!("the inventory does not open: {e}\n{out}"));
        (self.arg(name), inv)
    }

    /// `mirror sync -f YAML --bundle name EXTRA…`, asserting exit 0; returns bundle.json.
    pub async fn bundle(&self, yaml: &str, name: &str, extra: &[&str]) -> BundleManifest {
        let dir = self.arg(name);
        let mut args = vec!["sync", "-f", yaml, "--bundle", &dir];
        args.extend_from_slice(extra);
        let out = self.mirror(&args).await;
        assert_eq!(out.code, 0, "{}: {out}", args.join(" "));
        bundle_manifest(&self.path(name))
    }

    /// `mirror bundle apply name EXTRA…` on the far side.
    pub async fn apply(&self, name: &str, extra: &[&str]) -> Output {
        let dir = self.arg(name);
        let mut args = vec!["bundle", "apply", &dir];
        args.extend_from_slice(extra);
        self.mirror(&args).await
    }

    /// The digest `repo:tag` names on the far side (HEAD), if any.
    pub async fn far_tag(&self, repo: &str, tag: &str) -> Option<String> {
        let (status, digest) = self.http.head_manifest(&self.far.host(), repo, tag).await;
        (status == 200).then(|| digest.expect("Docker-Content-Digest"))
    }

    /// The far side's tags of `repo`.
    pub async fn far_tags(&self, repo: &str) -> Vec<String> {
        self.http.tags(&self.far.host(), repo).await
    }

    /// Every `(repo, tag)` of `items` names the SOURCE index digest on the far side, and
    /// `mirror verify` with `platforms` (the selection) finds it complete.
    pub async fn assert_far_complete(
        &self,
        items: &[(&str, &[&str])],
        platforms: &[&str],
        when: &str,
    ) {
        for b in self.images(items) {
            let (repo, tag) = (&b.repo, &b.tag);
            assert_eq!(
                self.far_tag(repo, tag).await.as_deref(),
                Some(b.image.index.digest.as_str()),
                "{when}: far {repo}:{tag} does not name the source index digest"
            );
            let src = format!("{}/{repo}:{tag}", self.near.host());
            let dst = format!("{}/{repo}:{tag}", self.far.host());
            let mut args = vec!["verify", src.as_str(), dst.as_str()];
            let sel = platforms.join(",");
            if !platforms.is_empty() {
                args.extend(["--platform", sel.as_str()]);
            }
            let out = self.mirror(&args).await;
            assert_eq!(out.code, 0, "{when}: far {repo}:{tag} is incomplete: {out}");
        }
    }

    /// The blob files of bundle `name`'s layout that are not manifests of published images.
    pub fn carried_blobs(&self, name: &str) -> BTreeMap<String, u64> {
        let manifests = manifests_of(&self.published);
        minus(&layout_files(&self.path(name).join("layout")), &manifests)
    }
}

/// Reads and checks `DIR/bundle.json`.
pub fn bundle_manifest(dir: &Path) -> BundleManifest {
    let path = dir.join(BUNDLE_FILE);
    BundleManifest::open(&read(&path), &path, &[BUNDLE_FORMAT])
        .unwrap_or_else(|e| panic!("{} does not open: {e}", path.display()))
}

/// Reads and checks a ledger.
pub fn ledger(path: &Path) -> Inventory {
    Inventory::open(&read(path), path, &[LEDGER_FORMAT])
        .unwrap_or_else(|e| panic!("{} does not open as a ledger: {e}", path.display()))
}

/// The files under `layout/blobs/sha256`, `sha256:<hex>` → size.
pub fn layout_files(layout: &Path) -> BTreeMap<String, u64> {
    let dir = layout.join("blobs/sha256");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        out.insert(format!("sha256:{name}"), e.metadata().unwrap().len());
    }
    out
}

/// The `(repository, digest)` pairs a bundle leaves out.
pub fn left_out(b: &BundleManifest) -> BTreeSet<(String, String)> {
    b.left_out
        .iter()
        .map(|l| (l.repository.clone(), l.digest.to_string()))
        .collect()
}

/// Whether `text` states `n` bytes, as a number or in the printer's `1.5 KiB` form.
pub fn mentions_bytes(text: &str, n: u64) -> bool {
    text.contains(&n.to_string()) || text.contains(&sparse_mirror::engine::report::human_bytes(n))
}
