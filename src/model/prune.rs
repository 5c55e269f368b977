//! Retention (`--prune`): why a tag is to be deleted, the deletion plan a bundle carries across
//! the gap (`bundle.json` `prune`), and what the near side knows of the far side's tags (from
//! inventories and the ledger) to plan against. Pure data; docs/sync.md ("Pruning") and
//! docs/air-gap.md describe the rules.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::delta::{Inventory, TagEntry};
use crate::model::digest::Digest;

/// Why a tag the entry owns is to be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The rules no longer select it; the text names the rule (`latest 5`).
    NotSelected(String),
    /// The source answered 404 for the tag.
    GoneAtSource,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotSelected(rule) => write!(f, "not-selected: {rule}"),
            Reason::GoneAtSource => f.write_str("gone-at-source"),
        }
    }
}

impl std::str::FromStr for Reason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gone-at-source" => Ok(Reason::GoneAtSource),
            _ => match s.strip_prefix("not-selected: ") {
                Some(rule) => Ok(Reason::NotSelected(rule.to_string())),
                None => Err(format!(
                    "unknown prune reason {s:?} (expected `gone-at-source` or `not-selected: RULE`)"
                )),
            },
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One tag the near side planned to delete on the far side (`bundle.json` `prune`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedDeletion {
    /// The far target, `host/repo:tag` (or `oci:DIR:tag`).
    pub target: String,
    /// [`repository_key`](crate::model::delta::repository_key) of the far repository.
    pub repository: String,
    /// The tag (a layout target: its ref name).
    pub tag: String,
    /// What the near side believes the tag names on the far side: the apply deletes it only
    /// if the tag still names exactly this.
    pub digest: Digest,
    /// Why.
    pub why: Reason,
    /// The source tag the decision was made from (`host/repo:tag`).
    pub source: String,
}

/// A tag a bundle planned to delete, as the ledger remembers it (`ledger.json` `pruned`), so
/// an inventory taken before that bundle does not bring the tag back into later plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrunedTag {
    /// The far repository.
    pub repository: String,
    /// The tag.
    pub tag: String,
    /// The digest it named.
    pub digest: Digest,
    /// The bundle that carried the deletion.
    pub bundle: String,
    /// When that bundle was sealed (RFC 3339, UTC).
    pub created: String,
}

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

/// Whether a tag has the form of a supply-chain artifact tag: the referrers fallback tag
/// `<alg>-<hex>` or a cosign-style `<alg>-<hex>.<suffix>`. Such tags belong to their subject and
/// are deleted with it, never on their own (a `regex: '.'` owns none of them).
pub fn is_artifact_tag(tag: &str) -> bool {
    let Some((alg, rest)) = tag.split_once('-') else {
        return false;
    };
    let hex = rest.split_once('.').map_or(rest, |(h, _)| h);
    matches!(alg, "sha256" | "sha512")
        && hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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
    fn reasons_read_back_as_written() {
        for r in [Reason::GoneAtSource, Reason::NotSelected("latest 5".into())] {
            let j = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Reason>(&j).unwrap(), r);
        }
        assert_eq!(
            Reason::NotSelected("latest 2".into()).to_string(),
            "not-selected: latest 2"
        );
        assert!("dropped".parse::<Reason>().is_err());
    }

    #[test]
    fn artifact_tags_are_recognised_by_form() {
        let hex = "a".repeat(64);
        assert!(is_artifact_tag(&format!("sha256-{hex}")));
        assert!(is_artifact_tag(&format!("sha256-{hex}.sig")));
        assert!(is_artifact_tag(&format!("sha512-{hex}.att")));
        assert!(!is_artifact_tag("sha256-abc.sig"));
        assert!(!is_artifact_tag(&format!("md5-{hex}")));
        assert!(!is_artifact_tag(&format!("sha256-{}", "A".repeat(64))));
        assert!(!is_artifact_tag("v1.2"));
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
