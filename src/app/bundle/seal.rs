//! Sealing a bundle: walk what each image put into `DIR/layout`, name every blob it needs that
//! the bundle leaves out (and who said the far side has it), pack the volumes, write
//! `bundle.json`, and record the bundle in the ledger.
//!
//! The walk reads the layout itself rather than trusting the copies' counters, so a bundle
//! resumed after an interruption (images already in the layout are `current` and copy nothing)
//! is described exactly as a fresh one.

use std::collections::{BTreeMap, BTreeSet};

use super::near::{Near, Recorded, LAYOUT_DIR};
use crate::error::{Error, Result};
use crate::model::delta::{
    BundleImage, BundleManifest, Checksummed, LeftOut, Object, Repository, TagEntry, Totals,
    BUNDLE_FILE, BUNDLE_FORMAT,
};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, ManifestView};
use crate::model::prune::PrunedTag;
use crate::transport::layout::{write_atomic, Layout};
use crate::transport::Storage;

/// Per target repository, for the ledger: tags, manifests and blobs.
type Shipped = (Vec<TagEntry>, BTreeMap<Digest, u64>, BTreeMap<Digest, u64>);

/// What one image's tree holds in the layout.
#[derive(Default)]
struct Tree {
    manifests: BTreeMap<Digest, u64>,
    blobs: BTreeMap<Digest, Descriptor>,
}

/// Every manifest of `root`'s tree present in the layout (an index's absent children are the
/// ones not selected), and every blob those manifests reference.
async fn walk(layout: &Layout, root: &Digest) -> Result<Tree> {
    let mut t = Tree::default();
    let mut stack: Vec<(Digest, Option<String>)> = vec![(root.clone(), None)];
    while let Some((d, hint)) = stack.pop() {
        if t.manifests.contains_key(&d) {
            continue;
        }
        let m = layout.fetch_manifest(d.as_str(), hint.as_deref()).await?;
        t.manifests.insert(d.clone(), m.bytes.len() as u64);
        let view = m.view().map_err(|e| Error::Manifest {
            what: format!("manifest {d} in the bundle"),
            source: e,
        })?;
        match view {
            ManifestView::Index { manifests, .. } => {
                for c in manifests {
                    if layout.has_manifest(&c).await? {
                        stack.push((c.digest.clone(), Some(c.media_type.clone())));
                    }
                }
            }
            ManifestView::Image { config, layers, .. } => {
                for b in std::iter::once(config).chain(layers) {
                    // Foreign layers are fetched from their URLs at pull time unless copied.
                    if b.is_foreign() && !layout.has_blob(&b).await? {
                        continue;
                    }
                    t.blobs.insert(b.digest.clone(), b);
                }
            }
        }
    }
    Ok(t)
}

/// A unique bundle id: the time and a short hash of what it holds.
fn bundle_id(created: &str, images: &[BundleImage]) -> String {
    let mut seed = format!("{created} {}", std::process::id());
    for i in images {
        seed.push_str(&format!(" {} {}", i.target, i.digest));
    }
    let h = Digest::sha256_of(seed.as_bytes());
    format!(
        "{}-{}",
        created.replace([':', '-'], "").trim_end_matches('Z'),
        &h.hex()[..8]
    )
}

/// Seal the bundle: describe it, pack it, write `bundle.json`, update the ledger. `None` when
/// no image was written.
pub async fn seal(
    near: &Near,
    created: String,
    cancel: &crate::interrupt::CancelToken,
) -> Result<Option<BundleManifest>> {
    let recorded = near.recorded();
    if recorded.is_empty() {
        return Ok(None);
    }
    let layout = Layout::open(&near.layout_dir())?;
    let mut totals = Totals::default();
    let mut all_manifests: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut carried: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut left_out: BTreeMap<(String, Digest), LeftOut> = BTreeMap::new();
    let mut images = vec![];
    // Per target repository, for the ledger: what the far side will hold once applied.
    let mut shipped: BTreeMap<String, Shipped> = BTreeMap::new();
    for r in &recorded {
        let tree = walk(&layout, &r.digest).await?;
        let mut image_left = vec![];
        let entry = shipped.entry(r.repository.clone()).or_default();
        for (d, b) in &tree.blobs {
            if layout.has_blob(b).await? {
                carried.insert(d.clone(), b.size);
                entry.2.insert(d.clone(), b.size);
                continue;
            }
            let Some(known) = near.far.lookup(&r.repository, d) else {
                return Err(Error::Internal(format!(
                    "bundle {}: blob {d} of {} is neither in the bundle nor listed by an inventory or the ledger",
                    near.dir.display(),
                    r.target
                )));
            };
            image_left.push(d.clone());
            // Once applied, the target repository holds it (checked or mounted there).
            entry.2.insert(d.clone(), b.size);
            left_out
                .entry((r.repository.clone(), d.clone()))
                .or_insert_with(|| LeftOut {
                    digest: d.clone(),
                    size: b.size,
                    repository: r.repository.clone(),
                    claimed_by: known.claim,
                    mount_from: known.mount_from,
                });
        }
        for (d, n) in &tree.manifests {
            all_manifests.insert(d.clone(), *n);
            entry.1.insert(d.clone(), *n);
        }
        if let Some((_, t)) = r
            .layout_ref
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
        {
            if !r.layout_ref.contains('@') {
                entry.0.push(TagEntry {
                    tag: t.to_string(),
                    digest: r.digest.clone(),
                });
            }
        }
        images.push(image_of(r, image_left));
    }
    totals.manifests = all_manifests.len() as u64;
    totals.manifest_bytes = all_manifests.values().sum();
    totals.blobs = carried.len() as u64;
    totals.blob_bytes = carried.values().sum();
    totals.left_out = left_out.len() as u64;
    totals.left_out_bytes = left_out.values().map(|l| l.size).sum();

    let mut m = BundleManifest {
        format: BUNDLE_FORMAT.into(),
        id: String::new(),
        created: created.clone(),
        tool: crate::app::bundle::stamp::tool(),
        computed_against: near.far.basis.clone(),
        images,
        left_out: left_out.into_values().collect(),
        layout: None,
        volumes: vec![],
        prune: near.prune_plan(),
        totals,
        checksum: String::new(),
    };
    m.id = bundle_id(&created, &m.images);
    drop(layout);
    match near.volumes {
        None => m.layout = Some(LAYOUT_DIR.into()),
        Some(max) => {
            let (src, dir, cancel) = (near.layout_dir(), near.dir.clone(), cancel.clone());
            m.volumes = tokio::task::spawn_blocking(move || {
                crate::transport::volumes::pack(&src, &dir, "layout.tar", max, &cancel)
            })
            .await
            .map_err(|e| Error::Internal(format!("packing the bundle: {e}")))??;
        }
    }
    let bytes = m.seal();
    write_atomic(&near.dir.join(BUNDLE_FILE), &bytes)?;
    if m.layout.is_none() {
        std::fs::remove_dir_all(near.layout_dir()).map_err(|e| Error::Io {
            what: format!("removing {} after packing it", near.layout_dir().display()),
            source: e,
        })?;
    }
    if let Some((path, ledger)) = &near.ledger {
        let mut l = ledger.clone();
        l.created = created;
        l.tool = crate::app::bundle::stamp::tool();
        l.bundles.push(m.id.clone());
        // A tag shipped again is no longer remembered as pruned.
        l.pruned.retain(|p| {
            !shipped
                .get(&p.repository)
                .is_some_and(|s| s.0.iter().any(|t| t.tag == p.tag))
        });
        for (name, (tags, manifests, blobs)) in shipped {
            let obj = |(d, n): (Digest, u64)| Object {
                digest: d,
                size: n,
                bundle: Some(m.id.clone()),
            };
            l.repositories.push(Repository {
                name,
                tags,
                manifests: manifests.into_iter().map(obj).collect(),
                blobs: blobs.into_iter().map(obj).collect(),
            });
        }
        l.normalise();
        // The far side drops what this bundle's plan deletes: the ledger forgets those tags
        // and remembers the plan, so an older inventory does not bring them back.
        for p in &m.prune {
            if let Some(r) = l.repositories.iter_mut().find(|r| r.name == p.repository) {
                r.tags.retain(|t| t.tag != p.tag);
            }
            l.pruned.push(PrunedTag {
                repository: p.repository.clone(),
                tag: p.tag.clone(),
                digest: p.digest.clone(),
                bundle: m.id.clone(),
                created: m.created.clone(),
            });
        }
        write_atomic(path, &l.seal())?;
    }
    Ok(Some(m))
}

fn image_of(r: &Recorded, left_out: Vec<Digest>) -> BundleImage {
    BundleImage {
        source: r.source.clone(),
        target: r.target.clone(),
        repository: r.repository.clone(),
        digest: r.digest.clone(),
        layout_ref: r.layout_ref.clone(),
        left_out,
    }
}

/// A dry run's estimate from the recorded plans: what the bundle would carry and leave out
/// (blobs counted once per bundle, left-out ones once per target repository).
pub fn estimate(recorded: &[Recorded]) -> Totals {
    let mut manifests: BTreeMap<&Digest, u64> = BTreeMap::new();
    let mut carried: BTreeMap<&Digest, u64> = BTreeMap::new();
    let mut left: BTreeSet<(&str, &Digest)> = BTreeSet::new();
    let mut left_bytes = 0;
    for r in recorded {
        for (d, n) in &r.manifests {
            manifests.insert(d, *n);
        }
        for b in &r.blobs {
            if r.left_out.left_out.contains(&b.digest) {
                if left.insert((&r.repository, &b.digest)) {
                    left_bytes += b.size;
                }
            } else {
                carried.insert(&b.digest, b.size);
            }
        }
    }
    Totals {
        manifests: manifests.len() as u64,
        manifest_bytes: manifests.values().sum(),
        blobs: carried.len() as u64,
        blob_bytes: carried.values().sum(),
        left_out: left.len() as u64,
        left_out_bytes: left_bytes,
    }
}
