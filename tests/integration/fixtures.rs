//! Deterministic image fixtures (same bytes on every run, no randomness).
//!
//! All JSON is written by hand in a deliberately unusual style — 3-space
//! indentation, `"size"` before `"digest"` before `"mediaType"`,
//! `"schemaVersion"` last, a trailing newline — so that any re-serialisation
//! by the tool under test changes the digest and is caught.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;

use crate::harness::{self, sha256, Http, Registry};

/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config media type.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI gzip layer media type.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker schema2 manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema2 image manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker image config media type.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip layer media type.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// In-toto statement media type (BuildKit attestation layers).
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

/// A content-addressed blob (config or layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Media type used in the referencing descriptor.
    pub media_type: String,
    /// `"sha256:<hex>"` of `bytes`.
    pub digest: String,
    /// The exact content.
    pub bytes: Vec<u8>,
}

impl Blob {
    /// Wraps `bytes`, computing the digest.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.into(),
            digest: sha256(&bytes),
            bytes,
        }
    }
}

/// A manifest or index with its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest's media type (also its `mediaType` field).
    pub media_type: String,
    /// `"sha256:<hex>"` of `bytes`.
    pub digest: String,
    /// The exact serialised JSON.
    pub bytes: Vec<u8>,
    /// `"os/arch[/variant]"` for image manifests; `None` for indexes and attestations.
    pub platform: Option<String>,
    /// Referenced blobs: config first, then layers (empty for indexes).
    pub blobs: Vec<Blob>,
    /// For a BuildKit attestation manifest: digest of the image it attests.
    pub attestation_of: Option<String>,
}

impl Manifest {
    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }
    /// The config blob (panics for indexes).
    pub fn config(&self) -> &Blob {
        self.blobs.first().expect("an index has no config")
    }
    /// The layer blobs (empty for indexes).
    pub fn layers(&self) -> &[Blob] {
        self.blobs.get(1..).unwrap_or(&[])
    }
}

/// A complete image: root manifest plus everything it references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The root (an index, or the single manifest for [`single_manifest`]).
    pub index: Manifest,
    /// Image and attestation manifests, depth-first in index order.
    pub children: Vec<Manifest>,
    /// Nested (non-root) indexes, innermost first.
    pub nested: Vec<Manifest>,
}

impl Image {
    /// The image manifest for `platform` (`"os/arch[/variant]"`, exact match).
    pub fn child(&self, platform: &str) -> &Manifest {
        self.children
            .iter()
            .find(|m| m.platform.as_deref() == Some(platform))
            .unwrap_or_else(|| {
                panic!(
                    "fixture has no platform {platform:?}; it has {:?}",
                    self.platforms()
                )
            })
    }
    /// The attestation manifest referencing `child_digest` (panics if none).
    pub fn attestation_for(&self, child_digest: &str) -> &Manifest {
        self.attestations()
            .into_iter()
            .find(|m| m.attestation_of.as_deref() == Some(child_digest))
            .unwrap_or_else(|| panic!("no attestation for {child_digest}"))
    }
    /// Image manifests only (children without attestations).
    pub fn images(&self) -> Vec<&Manifest> {
        self.children
            .iter()
            .filter(|m| m.attestation_of.is_none())
            .collect()
    }
    /// Attestation manifests only.
    pub fn attestations(&self) -> Vec<&Manifest> {
        self.children
            .iter()
            .filter(|m| m.attestation_of.is_some())
            .collect()
    }
    /// Platform strings of the image manifests, in order.
    pub fn platforms(&self) -> Vec<&str> {
        self.children
            .iter()
            .filter_map(|m| m.platform.as_deref())
            .collect()
    }
    /// Every blob of the root and all children, deduplicated by digest, in first-use order.
    pub fn all_blobs(&self) -> Vec<&Blob> {
        let mut seen = HashSet::new();
        let ms = std::iter::once(&self.index)
            .chain(&self.children)
            .chain(&self.nested);
        ms.flat_map(|m| &m.blobs)
            .filter(|b| seen.insert(b.digest.clone()))
            .collect()
    }
    /// All manifests in push order: children, nested indexes, then the root.
    pub fn all_manifests(&self) -> Vec<&Manifest> {
        self.children
            .iter()
            .chain(&self.nested)
            .chain(std::iter::once(&self.index))
            .collect()
    }
    /// The manifest with `digest`, if part of this image.
    pub fn manifest(&self, digest: &str) -> Option<&Manifest> {
        self.all_manifests()
            .into_iter()
            .find(|m| m.digest == digest)
    }
}

// ------------------------------------------------------------ JSON writer --

/// Hand-rolled JSON value that keeps key order exactly as written.
enum J {
    S(String),
    N(u64),
    O(Vec<(String, J)>),
    A(Vec<J>),
}

fn s(v: &str) -> J {
    J::S(v.into())
}

fn o(pairs: Vec<(&str, J)>) -> J {
    J::O(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn quote(v: &str, out: &mut String) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn render(j: &J, depth: usize, out: &mut String) {
    const IND: &str = "   ";
    match j {
        J::S(v) => quote(v, out),
        J::N(n) => out.push_str(&n.to_string()),
        J::O(v) if v.is_empty() => out.push_str("{}"),
        J::A(v) if v.is_empty() => out.push_str("[]"),
        J::O(pairs) => {
            out.push_str("{\n");
            for (i, (k, v)) in pairs.iter().enumerate() {
                out.push_str(&IND.repeat(depth + 1));
                quote(k, out);
                out.push_str(": ");
                render(v, depth + 1, out);
                out.push_str(if i + 1 < pairs.len() { ",\n" } else { "\n" });
            }
            out.push_str(&IND.repeat(depth));
            out.push('}');
        }
        J::A(items) => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&IND.repeat(depth + 1));
                render(v, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&IND.repeat(depth));
            out.push(']');
        }
    }
}

/// Renders `j` with 3-space indentation and a trailing newline.
fn to_bytes(j: &J) -> Vec<u8> {
    let mut out = String::new();
    render(j, 0, &mut out);
    out.push('\n');
    out.into_bytes()
}

// --------------------------------------------------------------- builders --

/// Deterministic pseudo-random bytes (xorshift64*, seeded by FNV-1a of `seed`).
pub fn pseudo_bytes(seed: &str, len: usize) -> Vec<u8> {
    let mut x = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Object of string values, keys in the given order.
fn kv(pairs: &[(&str, &str)]) -> J {
    o(pairs.iter().map(|(k, v)| (*k, s(v))).collect())
}

/// A platform: `"os/arch[/variant]"` plus an optional `os.version`.
struct Plat {
    name: &'static str,
    os_version: Option<&'static str>,
}

const fn plat(name: &'static str) -> Plat {
    Plat {
        name,
        os_version: None,
    }
}

impl Plat {
    /// (os, arch, variant)
    fn parts(&self) -> (&'static str, &'static str, Option<&'static str>) {
        let mut it = self.name.split('/');
        let (os, arch) = (it.next().unwrap(), it.next().unwrap());
        (os, arch, it.next())
    }
    /// Descriptor `platform` object: architecture, os[, os.version][, variant].
    fn json(&self) -> J {
        let (os, arch, variant) = self.parts();
        let mut p = vec![("architecture", arch), ("os", os)];
        p.extend(self.os_version.map(|v| ("os.version", v)));
        p.extend(variant.map(|v| ("variant", v)));
        kv(&p)
    }
    /// Config JSON: os, architecture[, variant][, os.version], rootfs, config.
    fn config(&self, diff_ids: &[&str]) -> Vec<u8> {
        let (os, arch, variant) = self.parts();
        let mut c = vec![("os", s(os)), ("architecture", s(arch))];
        c.extend(variant.map(|v| ("variant", s(v))));
        c.extend(self.os_version.map(|v| ("os.version", s(v))));
        let diff_ids = J::A(diff_ids.iter().map(|d| s(d)).collect());
        c.push((
            "rootfs",
            o(vec![("diff_ids", diff_ids), ("type", s("layers"))]),
        ));
        let env = (os != "unknown").then(|| ("Env", J::A(vec![s("PATH=/usr/bin:/bin")])));
        c.push(("config", o(env.into_iter().collect())));
        to_bytes(&o(c))
    }
}

/// Descriptor with keys in the order size, digest, mediaType[, platform][, annotations].
fn desc(mt: &str, digest: &str, size: usize, platform: Option<J>, ann: &[(&str, &str)]) -> J {
    let mut d = vec![
        ("size", J::N(size as u64)),
        ("digest", s(digest)),
        ("mediaType", s(mt)),
    ];
    d.extend(platform.map(|p| ("platform", p)));
    if !ann.is_empty() {
        d.push(("annotations", kv(ann)));
    }
    o(d)
}

type Ann<'a> = &'a [(&'a str, &'a str)];

/// Image manifest JSON: config, layers, mediaType, schemaVersion (last).
fn manifest_json(mt: &str, config: &Blob, layers: &[(&Blob, Ann)]) -> Vec<u8> {
    let d = |b: &Blob, ann: Ann| desc(&b.media_type, &b.digest, b.bytes.len(), None, ann);
    let layers = J::A(layers.iter().map(|(b, ann)| d(b, ann)).collect());
    let mut top = vec![("config", d(config, &[])), ("layers", layers)];
    top.extend([("mediaType", s(mt)), ("schemaVersion", J::N(2))]);
    to_bytes(&o(top))
}

/// Index/list manifest: manifests[, annotations], mediaType, schemaVersion (last).
fn index(mt: &str, entries: Vec<J>, ann: Ann) -> Manifest {
    let mut top = vec![("manifests", J::A(entries))];
    if !ann.is_empty() {
        top.push(("annotations", kv(ann)));
    }
    top.extend([("mediaType", s(mt)), ("schemaVersion", J::N(2))]);
    manifest(mt, to_bytes(&o(top)), None, vec![], None)
}

fn manifest(
    mt: &str,
    bytes: Vec<u8>,
    p: Option<&str>,
    blobs: Vec<Blob>,
    of: Option<&str>,
) -> Manifest {
    let (media_type, digest) = (mt.to_string(), sha256(&bytes));
    let (platform, attestation_of) = (p.map(String::from), of.map(String::from));
    Manifest {
        media_type,
        digest,
        bytes,
        platform,
        blobs,
        attestation_of,
    }
}

/// Image manifests for `plats`, each with config + [shared, unique] layers,
/// where the shared layer's bytes come from `fixture` alone.
fn images(docker: bool, fixture: &str, plats: &[Plat], layer_size: usize) -> Vec<Manifest> {
    assert!(
        layer_size > 0,
        "layer_size must be > 0 so that layers differ"
    );
    let (mt, cfg_mt, layer_mt) = match docker {
        true => (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER),
        false => (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER),
    };
    let shared = Blob::new(
        layer_mt,
        pseudo_bytes(&format!("{fixture}/shared"), layer_size),
    );
    let image = |p: &Plat| {
        let seed = format!("{fixture}/{}/layer1", p.name);
        let unique = Blob::new(layer_mt, pseudo_bytes(&seed, layer_size));
        let config = Blob::new(cfg_mt, p.config(&[&shared.digest, &unique.digest]));
        let bytes = manifest_json(mt, &config, &[(&shared, &[]), (&unique, &[])]);
        manifest(
            mt,
            bytes,
            Some(p.name),
            vec![config, shared.clone(), unique],
            None,
        )
    };
    plats.iter().map(image).collect()
}

/// BuildKit-style attestation manifest for image `of`.
fn attestation(fixture: &str, of: &Manifest) -> Manifest {
    let platform = of.platform.as_ref().unwrap().replace('/', "%2F");
    let subject = o(vec![
        (
            "name",
            s(&format!("pkg:docker/{fixture}@v1?platform={platform}")),
        ),
        (
            "digest",
            kv(&[("sha256", of.digest.trim_start_matches("sha256:"))]),
        ),
    ]);
    let statement = o(vec![
        ("predicateType", s("https://slsa.dev/provenance/v0.2")),
        ("_type", s("https://in-toto.io/Statement/v0.1")),
        ("subject", J::A(vec![subject])),
        (
            "predicate",
            kv(&[("buildType", "https://mobyproject.org/buildkit@v1")]),
        ),
    ]);
    let layer = Blob::new(IN_TOTO, to_bytes(&statement));
    let config = Blob::new(OCI_CONFIG, plat("unknown/unknown").config(&[&layer.digest]));
    let ann: Ann = &[(
        "in-toto.io/predicate-type",
        "https://slsa.dev/provenance/v0.2",
    )];
    let bytes = manifest_json(OCI_MANIFEST, &config, &[(&layer, ann)]);
    manifest(
        OCI_MANIFEST,
        bytes,
        None,
        vec![config, layer],
        Some(&of.digest),
    )
}

/// Index entry for `m`, with `p`'s platform object if given.
fn entry(m: &Manifest, p: Option<&Plat>) -> J {
    desc(&m.media_type, &m.digest, m.size(), p.map(Plat::json), &[])
}

fn entries(images: &[Manifest], plats: &[Plat]) -> Vec<J> {
    images
        .iter()
        .zip(plats)
        .map(|(m, p)| entry(m, Some(p)))
        .collect()
}

/// OCI index (`application/vnd.oci.image.index.v1+json`) with a top-level
/// `annotations` object (`org.opencontainers.image.created`) and 12 entries:
/// 6 OCI image manifests — linux/amd64, linux/arm64/v8 (`"variant":"v8"`),
/// linux/arm/v7, linux/ppc64le, linux/s390x, windows/amd64 (with
/// `"os.version":"10.0.17763.5936"`) — then 6 BuildKit attestation manifests
/// in the same order (platform `unknown/unknown`, annotations
/// `vnd.docker.reference.digest` = the image digest and
/// `vnd.docker.reference.type` = `attestation-manifest`).
/// Each image: own config (`application/vnd.oci.image.config.v1+json`) +
/// 2 `tar+gzip` layers of `layer_size` bytes; layer 0 is shared by all six,
/// layer 1 is unique. Each attestation: small config + one
/// `application/vnd.in-toto+json` layer. 25 distinct blobs, 13 manifests.
pub fn multi_arch_oci(layer_size: usize) -> Image {
    const F: &str = "multi-arch-oci";
    let windows = Plat {
        name: "windows/amd64",
        os_version: Some("10.0.17763.5936"),
    };
    let plats = [
        plat("linux/amd64"),
        plat("linux/arm64/v8"),
        plat("linux/arm/v7"),
        plat("linux/ppc64le"),
        plat("linux/s390x"),
        windows,
    ];
    let images = images(false, F, &plats, layer_size);
    let atts: Vec<Manifest> = images.iter().map(|m| attestation(F, m)).collect();
    let mut entries = entries(&images, &plats);
    entries.extend(atts.iter().map(|a| {
        let of = a.attestation_of.as_deref().unwrap();
        let ann = [
            ("vnd.docker.reference.digest", of),
            ("vnd.docker.reference.type", "attestation-manifest"),
        ];
        desc(
            OCI_MANIFEST,
            &a.digest,
            a.size(),
            Some(plat("unknown/unknown").json()),
            &ann,
        )
    }));
    let index = index(
        OCI_INDEX,
        entries,
        &[("org.opencontainers.image.created", "2024-05-06T07:08:09Z")],
    );
    Image {
        index,
        children: [images, atts].concat(),
        nested: vec![],
    }
}

/// Docker schema2 manifest list (`...manifest.list.v2+json`) with 4 entries,
/// each carrying `mediaType` and `platform`: linux/amd64, linux/arm64/v8,
/// linux/arm/v7, linux/386. Children are `...manifest.v2+json` with a
/// `application/vnd.docker.container.image.v1+json` config and 2
/// `rootfs.diff.tar.gzip` layers (layer 0 shared). No attestations, no
/// annotations. 9 distinct blobs, 5 manifests.
pub fn docker_list(layer_size: usize) -> Image {
    let plats = [
        plat("linux/amd64"),
        plat("linux/arm64/v8"),
        plat("linux/arm/v7"),
        plat("linux/386"),
    ];
    let images = images(true, "docker-list", &plats, layer_size);
    let index = index(DOCKER_LIST, entries(&images, &plats), &[]);
    Image {
        index,
        children: images,
        nested: vec![],
    }
}

/// OCI root index with 2 entries: (a) an inner OCI index (descriptor without
/// platform) holding linux/amd64 and linux/arm64 (no variant) image
/// manifests, and (b) a linux/s390x image manifest. `nested` = [inner index];
/// `children` = [amd64, arm64, s390x]. All three images share layer 0.
/// 7 distinct blobs, 5 manifests.
pub fn nested_index(layer_size: usize) -> Image {
    let plats = [
        plat("linux/amd64"),
        plat("linux/arm64"),
        plat("linux/s390x"),
    ];
    let images = images(false, "nested-index", &plats, layer_size);
    let inner = index(OCI_INDEX, entries(&images[..2], &plats[..2]), &[]);
    let entries = vec![entry(&inner, None), entry(&images[2], Some(&plats[2]))];
    let index = index(OCI_INDEX, entries, &[]);
    Image {
        index,
        children: images,
        nested: vec![inner],
    }
}

/// A single OCI image manifest for linux/amd64 (config + 2 layers); it is
/// the root (`index`), `children` and `nested` are empty. 3 blobs.
pub fn single_manifest(layer_size: usize) -> Image {
    let index = images(false, "single-manifest", &[plat("linux/amd64")], layer_size).remove(0);
    Image {
        index,
        children: vec![],
        nested: vec![],
    }
}

/// A single OCI image manifest whose layers have these sizes (in this order), for transfer
/// tests: large layers, and layers of distinct sizes.
pub fn layered(fixture: &str, sizes: &[usize]) -> Image {
    let layers: Vec<Blob> = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| Blob::new(OCI_LAYER, pseudo_bytes(&format!("{fixture}/layer{i}"), *n)))
        .collect();
    let p = plat("linux/amd64");
    let digests: Vec<&str> = layers.iter().map(|b| b.digest.as_str()).collect();
    let config = Blob::new(OCI_CONFIG, p.config(&digests));
    let refs: Vec<(&Blob, Ann)> = layers.iter().map(|b| (b, &[] as Ann)).collect();
    let bytes = manifest_json(OCI_MANIFEST, &config, &refs);
    let mut blobs = vec![config.clone()];
    blobs.extend(layers.iter().cloned());
    Image {
        index: manifest(OCI_MANIFEST, bytes, Some("linux/amd64"), blobs, None),
        children: vec![],
        nested: vec![],
    }
}

// ---------------------------------------------------------------- pushing --

/// PUTs one manifest to `repo` under `reference`, asserting 201.
pub async fn push_manifest_only(
    http: &Http,
    host: &str,
    repo: &str,
    reference: &str,
    m: &Manifest,
) {
    let (status, body) = http
        .put_manifest(host, repo, reference, &m.media_type, &m.bytes)
        .await;
    let digest = &m.digest;
    assert_eq!(
        status, 201,
        "PUT manifest {digest} to {repo}:{reference}: {body}"
    );
}

/// Uploads `blobs` to `repo`, asserting each returned digest.
pub async fn push_blobs(http: &Http, host: &str, repo: &str, blobs: &[&Blob]) {
    for b in blobs {
        assert_eq!(http.push_blob(host, repo, &b.bytes).await, b.digest);
    }
}

/// Pushes the whole image: all blobs, every child by digest, nested indexes
/// by digest (innermost first), then the root by `tag`, asserting 201s.
pub async fn push_image(http: &Http, host: &str, repo: &str, tag: &str, img: &Image) {
    push_blobs(http, host, repo, &img.all_blobs()).await;
    for m in img.children.iter().chain(&img.nested) {
        push_manifest_only(http, host, repo, &m.digest, m).await;
    }
    push_manifest_only(http, host, repo, tag, &img.index).await;
}

// ----------------------------------------------------------------- layout --

/// Writes a complete OCI image layout at `dir`: `oci-layout`,
/// `blobs/sha256/<hex>` for every blob and manifest, and `index.json` with one
/// entry for the root annotated `org.opencontainers.image.ref.name` = `tag`.
pub fn write_layout(dir: &Path, tag: &str, img: &Image) {
    harness::write(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    );
    let blobs = img.all_blobs().into_iter().map(|b| (&b.digest, &b.bytes));
    let manifests = img
        .all_manifests()
        .into_iter()
        .map(|m| (&m.digest, &m.bytes));
    for (digest, bytes) in blobs.chain(manifests) {
        let hex = digest.trim_start_matches("sha256:");
        harness::write(&dir.join("blobs/sha256").join(hex), bytes);
    }
    let root = &img.index;
    let ann = [("org.opencontainers.image.ref.name", tag)];
    let entry = desc(&root.media_type, &root.digest, root.size(), None, &ann);
    let index = o(vec![
        ("schemaVersion", J::N(2)),
        ("mediaType", s(OCI_INDEX)),
        ("manifests", J::A(vec![entry])),
    ]);
    harness::write(&dir.join("index.json"), &to_bytes(&index));
}

/// A fresh registry holding `img` as `team/app:v1`.
pub async fn seeded(img: &Image) -> (Registry, Http) {
    let src = Registry::start();
    let http = Http::new();
    push_image(&http, &src.host(), "team/app", "v1", img).await;
    (src, http)
}

/// Where a blob lives in an OCI layout: `blobs/<alg>/<hex>`.
pub fn layout_blob(dir: &Path, digest: &str) -> std::path::PathBuf {
    let (alg, hex) = digest.split_once(':').unwrap();
    dir.join("blobs").join(alg).join(hex)
}
