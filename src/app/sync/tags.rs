//! Tag selection for `mirror sync`: explicit lists, regular expressions, semver ranges, the
//! newest N versions, and digest pins. Pure; the tag list comes from `Storage::list_tags`.
//!
//! Rules, in order:
//! - `list:` tags are always taken (`TAG@DIGEST` pins the tag to that digest);
//! - when `regex`, `semver` or `latest` is given, the source's tags are listed and a tag is kept
//!   if it matches any `regex` (an unanchored search; none given = all), matches no `exclude`,
//!   and lies in the `semver` range; `latest: N` then keeps the N highest versions;
//! - `digests:` are copied by digest (no tag).
//!
//! Versions are read leniently, because image tags rarely are strict semver: a leading `v` is
//! dropped and missing minor/patch numbers count as 0 (`1.24` = `1.24.0`). A suffix
//! (`1.25.3-alpine`) is kept for ordering as a pre-release, but range checks use the numeric
//! part, so `semver: ">=1.24"` with `regex: "-alpine$"` selects the alpine variants.

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version, VersionReq};

use crate::model::digest::Digest;

/// One explicit tag, optionally pinned to a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagItem {
    /// The tag (written on the target; read from the source unless pinned).
    pub tag: String,
    /// Copy this digest instead of whatever the source tag names now.
    pub pin: Option<Digest>,
}

/// A semver range such as `">=1.24 <2"` or `"~1.26 || ^2"`.
#[derive(Debug, Clone)]
pub struct SemverRange {
    /// As written.
    pub text: String,
    alternatives: Vec<VersionReq>,
}

impl SemverRange {
    /// Parse npm-style ranges: comparators separated by spaces or commas, alternatives by `||`.
    pub fn parse(text: &str) -> Result<SemverRange, String> {
        let mut alternatives = vec![];
        for alt in text.split("||") {
            let mut parts: Vec<String> = vec![];
            let mut pending_op = String::new();
            for tok in alt.split(|c: char| c.is_whitespace() || c == ',') {
                if tok.is_empty() {
                    continue;
                }
                if tok.chars().all(|c| "<>=~^".contains(c)) {
                    pending_op.push_str(tok);
                    continue;
                }
                parts.push(format!("{pending_op}{tok}"));
                pending_op.clear();
            }
            if !pending_op.is_empty() || parts.is_empty() {
                return Err(format!(
                    "semver range {text:?} is incomplete (write e.g. \">=1.24 <2\")"
                ));
            }
            let req = VersionReq::parse(&parts.join(", "))
                .map_err(|e| format!("invalid semver range {text:?}: {e}"))?;
            alternatives.push(req);
        }
        Ok(SemverRange {
            text: text.to_string(),
            alternatives,
        })
    }

    /// Whether the version's numeric part lies in the range.
    pub fn matches(&self, v: &Version) -> bool {
        let core = Version::new(v.major, v.minor, v.patch);
        self.alternatives.iter().any(|r| r.matches(&core))
    }
}

/// Which tags of one image to mirror.
#[derive(Debug, Clone, Default)]
pub struct TagRules {
    /// Explicit tags.
    pub list: Vec<TagItem>,
    /// Keep listed tags matching any of these (none: all).
    pub regex: Vec<regex::Regex>,
    /// Drop listed tags matching any of these.
    pub exclude: Vec<regex::Regex>,
    /// Keep listed tags whose version lies in this range.
    pub semver: Option<SemverRange>,
    /// Keep only the N highest versions.
    pub latest: Option<usize>,
    /// Digests to copy without a tag.
    pub digests: Vec<Digest>,
}

/// Read a tag as a version, leniently (see the module docs). `None` for `latest`, `stable`, ….
pub fn tag_version(tag: &str) -> Option<Version> {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    let (core, build) = match t.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (t, None),
    };
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() > 3
        || nums
            .iter()
            .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let num = |i: usize| -> Option<u64> { nums.get(i).map_or(Some(0), |n| n.parse().ok()) };
    let mut v = Version::new(num(0)?, num(1)?, num(2)?);
    if let Some(p) = pre {
        v.pre = Prerelease::new(p).ok()?;
    }
    if let Some(b) = build {
        v.build = BuildMetadata::new(b).ok()?;
    }
    Some(v)
}

/// Highest version first; equal versions by tag text.
fn by_version_desc(a: &(Version, &String), b: &(Version, &String)) -> Ordering {
    b.0.cmp_precedence(&a.0).then_with(|| a.1.cmp(b.1))
}

impl TagRules {
    /// `regex` (any; none given: all) and not `exclude`.
    fn patterns_match(&self, tag: &str) -> bool {
        (self.regex.is_empty() || self.regex.iter().any(|r| r.is_match(tag)))
            && !self.exclude.iter().any(|r| r.is_match(tag))
    }

    /// Whether these rules own `tag` on the target (`--prune`, docs/sync.md "Pruning"): the
    /// source is listed (`regex`, `semver` or `latest` given) and the tag passes `regex`,
    /// `exclude` and `semver` (with `semver` or `latest`, it must read as a version). `latest`
    /// only ranks what they let through, so a tag it leaves out is still owned. Tags of a
    /// `list` are never owned by being listed: a removed one cannot be told from another
    /// tool's.
    pub fn owns(&self, tag: &str) -> bool {
        if !self.needs_listing() || !self.patterns_match(tag) {
            return false;
        }
        if self.semver.is_none() && self.latest.is_none() {
            return true;
        }
        tag_version(tag).is_some_and(|v| self.semver.as_ref().is_none_or(|r| r.matches(&v)))
    }

    /// Whether the source's tags must be listed.
    pub fn needs_listing(&self) -> bool {
        !self.regex.is_empty() || self.semver.is_some() || self.latest.is_some()
    }

    /// The tags to mirror, given the source's tags (ignored unless [`Self::needs_listing`]).
    /// Explicit tags come first, in the order written; then filtered tags, highest version first
    /// when versions are involved, else in lexical order. No duplicates.
    pub fn select(&self, available: &[String]) -> Vec<TagItem> {
        let mut out: Vec<TagItem> = vec![];
        for t in &self.list {
            if !out.iter().any(|o| o.tag == t.tag) {
                out.push(t.clone());
            }
        }
        if !self.needs_listing() {
            return out;
        }
        let versioned = self.semver.is_some() || self.latest.is_some();
        let mut kept: Vec<&String> = available
            .iter()
            .filter(|t| self.patterns_match(t))
            .collect();
        kept.sort();
        kept.dedup();
        let chosen: Vec<&String> = if versioned {
            let mut vs: Vec<(Version, &String)> = kept
                .into_iter()
                .filter_map(|t| tag_version(t).map(|v| (v, t)))
                .filter(|(v, _)| self.semver.as_ref().is_none_or(|r| r.matches(v)))
                .collect();
            vs.sort_by(by_version_desc);
            if let Some(n) = self.latest {
                vs.truncate(n);
            }
            vs.into_iter().map(|(_, t)| t).collect()
        } else {
            kept
        };
        for t in chosen {
            if !out.iter().any(|o| &o.tag == t) {
                out.push(TagItem {
                    tag: t.clone(),
                    pin: None,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    fn names(items: &[TagItem]) -> Vec<&str> {
        items.iter().map(|i| i.tag.as_str()).collect()
    }

    #[test]
    fn lenient_versions() {
        assert_eq!(tag_version("1.24").unwrap(), Version::new(1, 24, 0));
        assert_eq!(tag_version("v2").unwrap(), Version::new(2, 0, 0));
        assert_eq!(tag_version("1.25.3-alpine").unwrap().pre.as_str(), "alpine");
        assert!(tag_version("latest").is_none());
        assert!(tag_version("1.2.3.4").is_none());
        assert!(tag_version("1..2").is_none());
        assert!(tag_version("").is_none());
    }

    #[test]
    fn ranges() {
        let r = SemverRange::parse(">=1.24 <2").unwrap();
        assert!(r.matches(&Version::new(1, 24, 0)));
        assert!(r.matches(&tag_version("1.30.1-alpine").unwrap()));
        assert!(!r.matches(&Version::new(2, 0, 0)));
        assert!(!r.matches(&Version::new(1, 23, 9)));
        let r = SemverRange::parse(">= 1.2, < 1.3 || ^3").unwrap();
        assert!(r.matches(&Version::new(1, 2, 5)));
        assert!(r.matches(&Version::new(3, 9, 0)));
        assert!(!r.matches(&Version::new(2, 0, 0)));
        assert!(SemverRange::parse(">=").is_err());
        assert!(SemverRange::parse("banana").is_err());
    }

    #[test]
    fn selection_forms() {
        let available = tags(&[
            "1.23", "1.24.0", "1.24.1", "1.25", "1.25-rc1", "2.0", "latest", "v1.26.0", "edge",
        ]);
        let regex = TagRules {
            regex: vec![regex::Regex::new(r"^1\.24").unwrap()],
            ..TagRules::default()
        };
        assert_eq!(names(&regex.select(&available)), vec!["1.24.0", "1.24.1"]);
        let excl = TagRules {
            regex: vec![regex::Regex::new(".").unwrap()],
            exclude: vec![regex::Regex::new("rc|latest|edge").unwrap()],
            ..TagRules::default()
        };
        assert_eq!(
            names(&excl.select(&available)),
            vec!["1.23", "1.24.0", "1.24.1", "1.25", "2.0", "v1.26.0"]
        );
        let semver = TagRules {
            semver: Some(SemverRange::parse(">=1.24 <2").unwrap()),
            exclude: vec![regex::Regex::new("-rc").unwrap()],
            ..TagRules::default()
        };
        assert_eq!(
            names(&semver.select(&available)),
            vec!["v1.26.0", "1.25", "1.24.1", "1.24.0"]
        );
        let latest = TagRules {
            latest: Some(2),
            list: vec![TagItem {
                tag: "edge".into(),
                pin: None,
            }],
            ..TagRules::default()
        };
        assert_eq!(
            names(&latest.select(&available)),
            vec!["edge", "2.0", "v1.26.0"]
        );
        let list_only = TagRules {
            list: vec![TagItem {
                tag: "x".into(),
                pin: None,
            }],
            ..TagRules::default()
        };
        assert!(!list_only.needs_listing());
        assert_eq!(names(&list_only.select(&available)), vec!["x"]);
    }
}
