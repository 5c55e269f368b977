//! Retention (`--prune`): why a tag is to be deleted, the deletion plan a bundle carries across
//! the gap (`bundle.json` `prune`) and the ledger's memory of it. Pure data; docs/sync.md
//! ("Pruning") and docs/air-gap.md describe the rules.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
}
