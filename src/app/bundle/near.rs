//! The near side of a delta bundle (`copy`/`sync` with `--bundle DIR`): the images are written
//! into `DIR/layout` instead of their (far-side) targets, each leaving out the blobs the far side
//! holds ([`Near::delta`]), and what each image put there is recorded for the seal
//! (`seal.rs`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::app::flags::BundleArgs;
use crate::engine::copy::Delta;
use crate::engine::image::ImageOutcome;
use crate::error::{Error, Result};
use crate::model::delta::{
    registry_of, repository_key, Checksummed, FarSide, Inventory, SparseIndex, BUNDLE_FILE,
    INVENTORY_FORMAT, LEDGER_FORMAT,
};
use crate::model::digest::Digest;
use crate::model::far_tags::FarTags;
use crate::model::manifest::Descriptor;
use crate::model::prune::PlannedDeletion;
use crate::model::reference::{ImageRef, LayoutRef};

/// The layout directory inside a bundle directory.
pub const LAYOUT_DIR: &str = "layout";

/// One image written into the bundle.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The source, as read.
    pub source: String,
    /// The far-side target reference.
    pub target: String,
    /// [`repository_key`] of the target.
    pub repository: String,
    /// The ref name of its `index.json` entry.
    pub layout_ref: String,
    /// The root digest the entry names.
    pub digest: Digest,
    /// The plan's blobs (for dry runs).
    pub blobs: Vec<Descriptor>,
    /// The plan's manifests, root first: digest and size (for dry runs).
    pub manifests: Vec<(Digest, u64)>,
    /// What the engine left out (for dry runs).
    pub left_out: Arc<Delta>,
}

/// A bundle being written.
pub struct Near {
    /// The bundle directory.
    pub dir: PathBuf,
    /// What the far side holds, from `--inventory` files and the ledger.
    pub far: FarSide,
    /// `--ledger`: its path and content (empty when the file does not exist yet).
    pub ledger: Option<(PathBuf, Inventory)>,
    /// Pack into volumes: `None` keeps the directory; `Some(max)` packs (`None` max: one volume).
    pub volumes: Option<Option<u64>>,
    /// The far side's tags, from the same files: what `--prune` plans against.
    pub far_tags: FarTags,
    recorded: Mutex<Vec<Recorded>>,
    /// `--prune`: the deletions planned for the far side ([`Near::plan_prune`]).
    prune: Mutex<Vec<PlannedDeletion>>,
    /// [`Near::delta`] by repository key: built once, shared by every image of a repository.
    deltas: Mutex<HashMap<String, Arc<Delta>>>,
}

/// Load an inventory or ledger file, checking its format and checksum.
pub fn load_inventory(path: &Path, formats: &[&'static str]) -> Result<Inventory> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        what: format!("reading the inventory {}", path.display()),
        source: e,
    })?;
    Inventory::open(&bytes, path, formats).map_err(|e| {
        Error::usage_hint(
            e.to_string(),
            "take a fresh one with `mirror inventory … --output json` on the far side",
        )
    })
}

impl Near {
    /// `--bundle` and its companions; `None` without `--bundle`.
    pub fn open(a: &BundleArgs) -> Result<Option<Arc<Near>>> {
        let Some(dir) = &a.bundle else {
            return Ok(None);
        };
        if dir.join(BUNDLE_FILE).exists() {
            return Err(Error::usage_hint(
                format!(
                    "bundle {} is sealed already ({} exists)",
                    dir.display(),
                    dir.join(BUNDLE_FILE).display()
                ),
                "write each bundle into a new directory",
            ));
        }
        let mut far = FarSide::default();
        let mut inventories = vec![];
        for p in &a.inventories {
            let inv = load_inventory(p, &[INVENTORY_FORMAT, LEDGER_FORMAT])?;
            far.add(&inv, &p.display().to_string());
            inventories.push(inv);
        }
        let ledger = match &a.ledger {
            Some(p) if p.exists() => {
                let inv = load_inventory(p, &[LEDGER_FORMAT])?;
                far.add(&inv, &p.display().to_string());
                Some((p.clone(), inv))
            }
            Some(p) => Some((
                p.clone(),
                Inventory::new(
                    LEDGER_FORMAT,
                    String::new(),
                    crate::app::bundle::stamp::tool(),
                ),
            )),
            None => None,
        };
        let volumes = match (&a.max_volume_size, a.pack) {
            (Some(s), _) => Some(Some(
                crate::transport::volumes::parse_size(s)
                    .map_err(|e| Error::usage(format!("--max-volume-size {s:?}: {e}")))?,
            )),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let pruned = ledger.as_ref().map_or(vec![], |(_, l)| l.pruned.clone());
        let far_tags = FarTags::new(
            &inventories.iter().collect::<Vec<_>>(),
            ledger.as_ref().map(|(_, l)| l),
            &pruned,
        );
        Ok(Some(Arc::new(Near {
            dir: dir.clone(),
            far,
            ledger,
            volumes,
            far_tags,
            prune: Mutex::default(),
            recorded: Mutex::default(),
            deltas: Mutex::default(),
        })))
    }

    /// `DIR/layout`.
    pub fn layout_dir(&self) -> PathBuf {
        self.dir.join(LAYOUT_DIR)
    }

    /// The layout reference the images are written to (`tag`: the entry's ref name).
    pub fn layout_target(&self, tag: Option<String>) -> ImageRef {
        ImageRef::Layout(LayoutRef {
            path: self.layout_dir(),
            tag,
            digest: None,
            archive: false,
        })
    }

    /// What the engine needs to write `far`'s image into the bundle: the blobs to leave out,
    /// and whether the far registry is known to refuse sparse indexes.
    pub fn delta(&self, far: &ImageRef) -> Arc<Delta> {
        let key = repository_key(far);
        if let Some(d) = self.deltas.lock().expect("not poisoned").get(&key) {
            return d.clone();
        }
        let refuses_sparse = registry_of(&key)
            .filter(|reg| self.far.sparse_index(reg) == SparseIndex::Rejected)
            .map(|reg| {
                let files: Vec<String> = self
                    .far
                    .basis
                    .iter()
                    .map(|b| format!("{} {} (taken {})", b.kind, b.file, b.created))
                    .collect();
                format!(
                    "{reg} refused a sparse probe index when its inventory was taken ({}); decided on the near side, before the bundle was written",
                    files.join(", ")
                )
            });
        let d = Arc::new(Delta {
            left_out: self
                .far
                .digests_for(&key)
                .into_iter()
                .collect::<HashSet<_>>(),
            refuses_sparse,
        });
        self.deltas
            .lock()
            .expect("not poisoned")
            .insert(key, d.clone());
        d
    }

    /// Record what `outcome` put into the bundle for `target` (a reference into `far`, the far
    /// repository); `delta` is the one the image was written with ([`Near::delta`]).
    pub fn record(
        &self,
        (source, far, target): (&str, &ImageRef, &str),
        layout_ref: &str,
        outcome: &ImageOutcome,
        delta: Arc<Delta>,
    ) {
        let plan = outcome.copy.as_ref().map_or(&outcome.plan, |c| &c.plan);
        let mut manifests = vec![(plan.root.digest.clone(), plan.root.bytes.len() as u64)];
        manifests.extend(
            plan.manifests
                .iter()
                .map(|m| (m.digest.clone(), m.bytes.len() as u64)),
        );
        let digest = outcome
            .resolves_to()
            .cloned()
            .unwrap_or_else(|| plan.root.digest.clone());
        let r = Recorded {
            source: source.to_string(),
            target: target.to_string(),
            repository: repository_key(far),
            layout_ref: layout_ref.to_string(),
            digest,
            blobs: plan.blobs.clone(),
            manifests,
            left_out: delta,
        };
        let mut all = self.recorded.lock().expect("not poisoned");
        all.retain(|x| x.layout_ref != r.layout_ref);
        all.push(r);
    }

    /// Add deletions to the far side's plan (`sync --bundle --prune`).
    pub fn plan_prune(&self, plan: Vec<PlannedDeletion>) {
        self.prune.lock().expect("not poisoned").extend(plan);
    }

    /// The far side's deletion plan, sorted by target.
    pub fn prune_plan(&self) -> Vec<PlannedDeletion> {
        let mut v = self.prune.lock().expect("not poisoned").clone();
        v.sort_by(|a, b| a.target.cmp(&b.target));
        v
    }

    /// What was recorded, sorted by target (items finish in any order; a bundle's image order
    /// is stable).
    pub fn recorded(&self) -> Vec<Recorded> {
        let mut v = self.recorded.lock().expect("not poisoned").clone();
        v.sort_by(|a, b| a.target.cmp(&b.target));
        v
    }
}

/// The ref name of a far target's entry in the bundle layout: `host/repo:tag` or
/// `host/repo@digest` (an `oci:` target: its directory and tag).
pub fn layout_ref(far: &ImageRef, tag: Option<&str>, digest: Option<&Digest>) -> String {
    let name = repository_key(far);
    match (tag, digest) {
        (Some(t), _) => format!("{name}:{t}"),
        (None, Some(d)) => format!("{name}@{d}"),
        (None, None) => format!("{name}:latest"),
    }
}
