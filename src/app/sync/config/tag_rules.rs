//! Reading `tags:` (the types live in `sync/tags.rs`, which applies them): a list of tags, or a
//! mapping with `list`, `regex`, `exclude`, `semver`, `latest` and `digests`. Regular
//! expressions, semver ranges and digests are compiled where they are written.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::values::{Expanded, OneOrMany};
use crate::app::sync::tags::{SemverRange, TagItem, TagRules};
use crate::model::digest::Digest;

/// A list of compiled regular expressions (`regex:` / `exclude:`; one string or a list).
pub(super) struct Patterns(pub(super) Vec<regex::Regex>);

impl<'de> Deserialize<'de> for Patterns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = OneOrMany::<Pattern>::deserialize(d)?.0;
        Ok(Patterns(list.into_iter().map(|p| p.0).collect()))
    }
}

/// One regular expression, compiled where it is read.
struct Pattern(regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = String::deserialize(d)?;
        regex::Regex::new(&p).map(Pattern).map_err(|e| {
            let first = e.to_string();
            let reason = first.lines().last().unwrap_or(&first).trim();
            let reason = reason.trim_start_matches("error: ");
            de::Error::custom(format!("invalid regex {p:?}: {reason}"))
        })
    }
}

impl<'de> Deserialize<'de> for TagItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Expanded::deserialize(d)?.0;
        let (tag, pin) = match text.split_once('@') {
            Some((t, dg)) => {
                let dg: Digest = dg
                    .parse()
                    .map_err(|e| de::Error::custom(format!("{text:?}: {e}")))?;
                (t.to_string(), Some(dg))
            }
            None => (text.clone(), None),
        };
        if !crate::model::reference::is_valid_tag(&tag) {
            return Err(de::Error::custom(format!(
                "{tag:?} is not a valid tag (letters, digits, '_', '.', '-'; at most 128); write TAG or TAG@DIGEST"
            )));
        }
        Ok(TagItem { tag, pin })
    }
}

impl<'de> Deserialize<'de> for SemverRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SemverRange::parse(&text).map_err(de::Error::custom)
    }
}

/// A digest after `${VAR}` expansion.
struct DigestText(Digest);

impl<'de> Deserialize<'de> for DigestText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Expanded::deserialize(d)?.0;
        text.parse()
            .map(DigestText)
            .map_err(|e| de::Error::custom(format!("{text:?}: {e}")))
    }
}

/// The mapping form of `tags:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TagMap {
    #[serde(default)]
    list: Vec<TagItem>,
    regex: Option<Patterns>,
    exclude: Option<Patterns>,
    semver: Option<SemverRange>,
    latest: Option<u32>,
    #[serde(default)]
    digests: Vec<DigestText>,
}

impl<'de> Deserialize<'de> for TagRules {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagRules;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a list of tags, or a mapping with list/regex/exclude/semver/latest/digests",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TagRules, A::Error> {
                let mut list = vec![];
                while let Some(t) = seq.next_element::<TagItem>()? {
                    list.push(t);
                }
                if list.is_empty() {
                    return Err(de::Error::custom("the tag list is empty"));
                }
                Ok(TagRules {
                    list,
                    ..TagRules::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TagRules, A::Error> {
                let m = TagMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if m.latest == Some(0) {
                    return Err(de::Error::custom("latest must be at least 1"));
                }
                let rules = TagRules {
                    list: m.list,
                    regex: m.regex.map(|p| p.0).unwrap_or_default(),
                    exclude: m.exclude.map(|p| p.0).unwrap_or_default(),
                    semver: m.semver,
                    latest: m.latest.map(|n| n as usize),
                    digests: m.digests.into_iter().map(|d| d.0).collect(),
                };
                if rules.list.is_empty() && rules.digests.is_empty() && !rules.needs_listing() {
                    return Err(de::Error::custom(
                        "tags selects nothing: give `list`, `regex`, `semver`, `latest` or `digests` (`exclude` only removes)",
                    ));
                }
                Ok(rules)
            }
        }
        d.deserialize_any(V)
    }
}
