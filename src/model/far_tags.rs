//! What the near side knows of the far side's tags, from inventories and the ledger: what a
//! bundle's prune plan is computed against (docs/air-gap.md, "Pruning across the gap").

use std::collections::BTreeMap;

use crate::model::delta::{Inventory, TagEntry};
use crate::model::digest::Digest;
use crate::model::prune::PrunedTag;

/// The far side's tags as the near side knows them: per repository, tag → digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FarTags {
    repos: BTreeMap<String, BTreeMap<String, Digest>>,
}

impl FarTags {
    /// From inventories (what the far side held when each was taken) and the ledger (what
    /// bundles shipped, and what they pruned). A tag shipped by the ledger wins over an
    /// inventory's digest (bundles are newer than the inventory they were computed against, or
    /// the far side holds both and the apply's digest check settles it); a tag a bundle pruned
    /// after an inventory was taken is gone, unless a later bundle shipped it again.
    pub fn new(
        inventories: &[&Inventory],
        ledger: Option<&Inventory>,
        pruned: &[PrunedTag],
    ) -> Self {
        let mut repos: BTreeMap<String, BTreeMap<String, Digest>> = BTreeMap::new();
        for inv in inventories {
            for r in &inv.repositories {
                let tags = repos.entry(r.name.clone()).or_default();
                for t in &r.tags {
                    let dropped_later = pruned.iter().any(|p| {
                        p.repository == r.name && p.tag == t.tag && p.created >= inv.created
                    });
                    if !dropped_later {
                        tags.insert(t.tag.clone(), t.digest.clone());
                    }
                }
            }
        }
        if let Some(l) = ledger {
            for r in &l.repositories {
                let tags = repos.entry(r.name.clone()).or_default();
                for TagEntry { tag, digest } in &r.tags {
                    tags.insert(tag.clone(), digest.clone());
                }
            }
        }
        FarTags { repos }
    }

    /// The tags of `repository` (sorted by tag).
    pub fn tags(&self, repository: &str) -> Vec<(String, Digest)> {
        self.repos
            .get(repository)
            .map(|m| m.iter().map(|(t, d)| (t.clone(), d.clone())).collect())
            .unwrap_or_default()
    }

    /// Whether anything is known of `repository`.
    pub fn knows(&self, repository: &str) -> bool {
        self.repos.contains_key(repository)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::delta::{Repository, INVENTORY_FORMAT, LEDGER_FORMAT};

    fn d(n: u8) -> Digest {
        Digest::sha256_of(&[n])
    }

    fn inv(format: &str, created: &str, tags: &[(&str, u8)]) -> Inventory {
        let mut i = Inventory::new(format, created.into(), "mirror test".into());
        i.repositories.push(Repository {
            name: "far/app".into(),
            tags: tags
                .iter()
                .map(|(t, n)| TagEntry {
                    tag: t.to_string(),
                    digest: d(*n),
                })
                .collect(),
            manifests: vec![],
            blobs: vec![],
        });
        i
    }

    #[test]
    fn the_ledger_wins_and_a_later_prune_hides_an_older_inventory_s_tag() {
        let old = inv(
            INVENTORY_FORMAT,
            "2026-12-01T00:00:00Z",
            &[("v1", 1), ("v2", 2), ("v3", 3)],
        );
        let ledger = inv(
            LEDGER_FORMAT,
            "2026-12-03T00:00:00Z",
            &[("v2", 20), ("v4", 4)],
        );
        let pruned = vec![PrunedTag {
            repository: "far/app".into(),
            tag: "v1".into(),
            digest: d(1),
            bundle: "b2".into(),
            created: "2026-12-02T00:00:00Z".into(),
        }];
        let far = FarTags::new(&[&old], Some(&ledger), &pruned);
        assert_eq!(
            far.tags("far/app"),
            vec![
                ("v2".into(), d(20)),
                ("v3".into(), d(3)),
                ("v4".into(), d(4))
            ]
        );
        // An inventory taken after the prune bundle still lists what it saw.
        let fresh = inv(INVENTORY_FORMAT, "2026-12-02T00:00:01Z", &[("v1", 1)]);
        let far = FarTags::new(&[&fresh], None, &pruned);
        assert_eq!(far.tags("far/app"), vec![("v1".into(), d(1))]);
        assert!(far.knows("far/app") && !far.knows("far/other"));
    }
}
