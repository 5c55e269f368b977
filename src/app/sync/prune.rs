//! `--prune`: which target tags an entry may delete. Pure; the I/O (listings, the source
//! HEADs, the deletes) is the caller's and `engine/prune.rs`'s.
//!
//! The rule (docs/sync.md, "Pruning"): a target tag is a candidate when the entry **owns** it
//! ([`TagRules::owns`]: its `regex`/`exclude`/`semver` rules match it) and it is **dropped**:
//! - listed by the source in this run but not selected (cut by `latest: N`): `not-selected`;
//! - not listed by the source, and the source answers 404 for it: `gone-at-source`. A listing
//!   that merely omits a tag the source still serves is not enough; worse, it shows the listing
//!   is incomplete, so nothing of the entry is pruned ([`Guard::ListingIncomplete`]).
//!
//! Never a candidate: a tag any entry of the run selects for the same target repository, an
//! artifact tag (`sha256-<hex>[.sig|.att|.sbom]`: deleted with its subject, never alone), and a
//! tag the rules do not match (`not-owned`: kept and reported, so a tag removed from a `list`
//! can be deleted by hand).

use std::collections::HashSet;
use std::fmt;

use super::tags::TagRules;
use crate::model::prune::{is_artifact_tag, Reason};

/// What one entry's rules make of the target's tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryPlan {
    /// Owned, listed by the source, not selected: to delete.
    pub dropped: Vec<(String, Reason)>,
    /// Owned, not listed by the source: to delete if the source answers 404 for them.
    pub check_source: Vec<String>,
    /// Not selected, and the rules do not match them: kept.
    pub not_owned: Vec<String>,
}

/// Why nothing is pruned for an entry in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// The source's tag listing failed (or listed nothing).
    ListingFailed,
    /// Items of the entry failed.
    ItemsFailed(usize),
    /// Another entry writing to the same target repository could not list its tags, so what
    /// it selects is unknown.
    OtherListingFailed(usize),
    /// The source listing omitted a tag the source still serves.
    ListingIncomplete(String),
    /// Asking the source about a tag failed.
    SourceCheckFailed(String, String),
    /// The target's tags could not be listed.
    TargetListingFailed(String),
    /// `--bundle`: no inventory or ledger names the far repository, so its tags are unknown.
    FarUnknown(String),
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Guard::ListingFailed => f.write_str(
                "nothing pruned: the source's tag listing failed or listed no tag in this run",
            ),
            Guard::ItemsFailed(n) => {
                write!(f, "nothing pruned: {n} item(s) of this entry failed in this run")
            }
            Guard::OtherListingFailed(i) => write!(
                f,
                "nothing pruned: images[{i}] writes to the same target repository and its tag listing failed, so what it selects is unknown"
            ),
            Guard::ListingIncomplete(t) => write!(
                f,
                "nothing pruned: the source's tag listing omitted {t}, which the source still serves (HEAD found it): the listing is incomplete"
            ),
            Guard::SourceCheckFailed(t, e) => {
                write!(f, "nothing pruned: checking {t} on the source failed: {e}")
            }
            Guard::TargetListingFailed(e) => {
                write!(f, "nothing pruned: listing the target's tags failed: {e}")
            }
            Guard::FarUnknown(r) => write!(
                f,
                "nothing planned: no --inventory or --ledger names {r}, so its tags on the far side are unknown"
            ),
        }
    }
}

/// What the source said about a tag it did not list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceAnswer {
    /// 404.
    Gone,
    /// It resolves.
    Present,
    /// The check failed (the error text).
    Failed(String),
}

/// The rule a `not-selected` tag was cut by.
pub fn cut_by(rules: &TagRules) -> String {
    match (rules.latest, &rules.semver) {
        (Some(n), Some(r)) => format!("latest {n} of semver {}", r.text),
        (Some(n), None) => format!("latest {n}"),
        // Without `latest`, every owned listed tag is selected; kept for completeness.
        (None, Some(r)) => format!("semver {}", r.text),
        (None, None) => "regex".into(),
    }
}

/// Plan one entry: `listed` are the source's tags in this run, `selected` every tag the run's
/// entries select for this target repository, `target` the tags the target holds.
pub fn plan_entry(
    rules: &TagRules,
    listed: &[String],
    selected: &HashSet<String>,
    target: &[String],
) -> EntryPlan {
    let listed: HashSet<&str> = listed.iter().map(String::as_str).collect();
    let mut p = EntryPlan::default();
    let mut seen = HashSet::new();
    for t in target {
        if !seen.insert(t.as_str()) || selected.contains(t) || is_artifact_tag(t) {
            continue;
        }
        if !rules.owns(t) {
            p.not_owned.push(t.clone());
        } else if listed.contains(t.as_str()) {
            p.dropped
                .push((t.clone(), Reason::NotSelected(cut_by(rules))));
        } else {
            p.check_source.push(t.clone());
        }
    }
    p
}

/// The tags to delete once the source answered for every [`EntryPlan::check_source`] tag, or
/// the guard that stops the entry.
pub fn settle(
    plan: &EntryPlan,
    answers: &[(String, SourceAnswer)],
) -> Result<Vec<(String, Reason)>, Guard> {
    let mut out = plan.dropped.clone();
    for t in &plan.check_source {
        match answers.iter().find(|(a, _)| a == t).map(|(_, s)| s) {
            Some(SourceAnswer::Gone) => out.push((t.clone(), Reason::GoneAtSource)),
            Some(SourceAnswer::Present) => return Err(Guard::ListingIncomplete(t.clone())),
            Some(SourceAnswer::Failed(e)) => {
                return Err(Guard::SourceCheckFailed(t.clone(), e.clone()))
            }
            None => return Err(Guard::SourceCheckFailed(t.clone(), "not checked".into())),
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::sync::tags::{SemverRange, TagItem};

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }
    fn set(s: &[&str]) -> HashSet<String> {
        s.iter().map(|x| x.to_string()).collect()
    }
    fn latest(n: usize) -> TagRules {
        TagRules {
            semver: Some(SemverRange::parse(">=1").unwrap()),
            latest: Some(n),
            ..TagRules::default()
        }
    }

    #[test]
    fn latest_cuts_owned_tags_and_leaves_the_rest() {
        let rules = latest(2);
        let listed = v(&["1.0", "1.1", "1.2", "1.3", "1.4", "latest"]);
        let selected: HashSet<String> = rules.select(&listed).into_iter().map(|t| t.tag).collect();
        assert_eq!(selected, set(&["1.4", "1.3"]));
        let sig = format!("sha256-{}.sig", "b".repeat(64));
        let target = v(&[
            "1.0",
            "1.1",
            "1.3",
            "1.4",
            "latest",
            "hand-pushed",
            "0.9",
            &sig,
        ]);
        let p = plan_entry(&rules, &listed, &selected, &target);
        assert_eq!(
            p.dropped,
            vec![
                (
                    "1.0".into(),
                    Reason::NotSelected("latest 2 of semver >=1".into())
                ),
                (
                    "1.1".into(),
                    Reason::NotSelected("latest 2 of semver >=1".into())
                ),
            ]
        );
        assert!(p.check_source.is_empty());
        // `latest` and `hand-pushed` are no versions; 0.9 is outside the range.
        assert_eq!(p.not_owned, v(&["latest", "hand-pushed", "0.9"]));
    }

    #[test]
    fn a_tag_the_source_no_longer_lists_needs_its_404() {
        let rules = TagRules {
            regex: vec![regex::Regex::new("^v").unwrap()],
            ..TagRules::default()
        };
        let listed = v(&["v1", "v3"]);
        let selected = set(&["v1", "v3"]);
        let p = plan_entry(&rules, &listed, &selected, &v(&["v1", "v2", "v3"]));
        assert_eq!(p.check_source, v(&["v2"]));
        assert_eq!(
            settle(&p, &[("v2".into(), SourceAnswer::Gone)]).unwrap(),
            vec![("v2".into(), Reason::GoneAtSource)]
        );
        assert_eq!(
            settle(&p, &[("v2".into(), SourceAnswer::Present)]),
            Err(Guard::ListingIncomplete("v2".into()))
        );
        assert!(matches!(
            settle(&p, &[("v2".into(), SourceAnswer::Failed("503".into()))]),
            Err(Guard::SourceCheckFailed(..))
        ));
        assert!(
            settle(&p, &[]).is_err(),
            "an unchecked tag is never deleted"
        );
    }

    #[test]
    fn lists_own_nothing_and_other_entries_selections_are_safe() {
        let list_only = TagRules {
            list: vec![TagItem {
                tag: "v2".into(),
                pin: None,
            }],
            ..TagRules::default()
        };
        let p = plan_entry(&list_only, &[], &set(&["v2"]), &v(&["v1", "v2"]));
        assert_eq!(p.not_owned, v(&["v1"]));
        assert!(p.dropped.is_empty() && p.check_source.is_empty());
        // `2.5-special` reads as a version in range, but another entry selects it.
        let p = plan_entry(
            &latest(1),
            &v(&["1.0", "2.0"]),
            &set(&["2.0", "2.5-special"]),
            &v(&["2.5-special", "1.0"]),
        );
        assert_eq!(p.dropped.len(), 1);
        assert_eq!(p.dropped[0].0, "1.0");
    }

    #[test]
    fn excluded_tags_are_not_owned() {
        let rules = TagRules {
            regex: vec![regex::Regex::new(".").unwrap()],
            exclude: vec![regex::Regex::new("-rc").unwrap()],
            ..TagRules::default()
        };
        assert!(rules.owns("v1"));
        assert!(!rules.owns("v1-rc1"));
        let p = plan_entry(&rules, &v(&["v1"]), &set(&["v1"]), &v(&["v1", "v1-rc1"]));
        assert_eq!(p.not_owned, v(&["v1-rc1"]));
    }
}
