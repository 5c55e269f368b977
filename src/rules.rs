//! `--always-copy` / `--never-copy` rules: force index entries in or out, whatever the platform
//! filter says.
//!
//! Pure. A rule is one of three forms, matched against the index entry's descriptor as listed
//! (nothing is fetched to evaluate a rule):
//!
//! - `artifact-type=GLOB`: the descriptor's `artifactType` (an entry without one never matches);
//! - `media-type=GLOB`: the descriptor's `mediaType`;
//! - `annotation:KEY=GLOB`: the value of annotation `KEY` (an entry without it never matches).
//!
//! Globs are case-sensitive; `*` also matches `/`, so `media-type=application/vnd.oci.*` works.
//! **`--never-copy` wins over `--always-copy`**, as a `!` exclude wins over an include in
//! `--platform`: an exclusion is the safer reading of a contradiction, and the plan names both
//! rules so the conflict is visible.

use std::fmt;
use std::str::FromStr;

use globset::{GlobBuilder, GlobMatcher};

use crate::manifest::Descriptor;

/// What a rule looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// The descriptor's `artifactType`.
    ArtifactType,
    /// The descriptor's `mediaType`.
    MediaType,
    /// The value of one annotation.
    Annotation(String),
}

/// One parsed rule (without its direction).
#[derive(Debug, Clone)]
pub struct Rule {
    text: String,
    field: Field,
    glob: GlobMatcher,
}

/// Why a rule text does not parse.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid rule {text:?}: {reason} (forms: artifact-type=GLOB, media-type=GLOB, annotation:KEY=GLOB)")]
pub struct RuleError {
    /// The rejected text.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

impl FromStr for Rule {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| RuleError {
            text: s.to_string(),
            reason: reason.to_string(),
        };
        let (lhs, pattern) = s.split_once('=').ok_or_else(|| err("missing '='"))?;
        let field = match lhs.trim() {
            "artifact-type" => Field::ArtifactType,
            "media-type" => Field::MediaType,
            other => match other.strip_prefix("annotation:") {
                Some("") => return Err(err("empty annotation key")),
                Some(key) => Field::Annotation(key.to_string()),
                None => return Err(err("unknown field")),
            },
        };
        if pattern.is_empty() {
            return Err(err("empty pattern (use '*' to match any value)"));
        }
        let glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .build()
            .map_err(|e| err(&format!("invalid glob: {e}")))?
            .compile_matcher();
        Ok(Rule {
            text: s.to_string(),
            field,
            glob,
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Rule {
    /// Whether the descriptor matches.
    pub fn matches(&self, d: &Descriptor) -> bool {
        let value = match &self.field {
            Field::ArtifactType => d.artifact_type.as_deref(),
            Field::MediaType => Some(d.media_type.as_str()),
            Field::Annotation(k) => d.annotations.get(k).map(String::as_str),
        };
        value.is_some_and(|v| self.glob.is_match(v))
    }
    /// What the rule looks at.
    pub fn field(&self) -> &Field {
        &self.field
    }
}

/// The verdict of the rules for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No rule matched: the platform filter decides.
    None,
    /// An `--always-copy` rule matched (its text, as shown in the plan).
    Always(String),
    /// A `--never-copy` rule matched; `overrides` names an `--always-copy` rule that also matched.
    Never {
        /// The `--never-copy` rule, as shown in the plan.
        rule: String,
        /// The `--always-copy` rule it beat, if any.
        overrides: Option<String>,
    },
}

/// All `--always-copy` and `--never-copy` rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Force-include rules.
    pub always: Vec<Rule>,
    /// Exclude rules (they win).
    pub never: Vec<Rule>,
}

impl Rules {
    /// Parse the flag values.
    pub fn parse<S: AsRef<str>>(always: &[S], never: &[S]) -> Result<Self, RuleError> {
        let p = |v: &[S]| -> Result<Vec<Rule>, RuleError> {
            v.iter().map(|s| s.as_ref().trim().parse()).collect()
        };
        Ok(Rules {
            always: p(always)?,
            never: p(never)?,
        })
    }

    /// No rules at all.
    pub fn is_empty(&self) -> bool {
        self.always.is_empty() && self.never.is_empty()
    }

    /// Evaluate the rules for one index entry. `--never-copy` wins.
    pub fn verdict(&self, d: &Descriptor) -> Verdict {
        let always = self
            .always
            .iter()
            .find(|r| r.matches(d))
            .map(|r| format!("--always-copy {r}"));
        match self.never.iter().find(|r| r.matches(d)) {
            Some(r) => Verdict::Never {
                rule: format!("--never-copy {r}"),
                overrides: always,
            },
            None => always.map_or(Verdict::None, Verdict::Always),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(json: &str) -> Descriptor {
        serde_json::from_str(json).unwrap()
    }

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_the_three_forms() {
        let r: Rule = "artifact-type=application/spdx+json".parse().unwrap();
        assert_eq!(r.field(), &Field::ArtifactType);
        let r: Rule = "media-type=application/vnd.oci.*".parse().unwrap();
        assert_eq!(r.field(), &Field::MediaType);
        let r: Rule = "annotation:org.example/keep=yes=really".parse().unwrap();
        assert_eq!(r.field(), &Field::Annotation("org.example/keep".into()));
        for bad in [
            "artifact-type",
            "kind=x",
            "annotation:=x",
            "media-type=",
            "media-type=[",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad}");
        }
        let e = "kind=x".parse::<Rule>().unwrap_err().to_string();
        assert!(e.contains("annotation:KEY=GLOB"), "{e}");
    }

    #[test]
    fn matches_descriptor_fields() {
        let d = desc(&format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{D}","size":1,
               "artifactType":"application/spdx+json","annotations":{{"team":"infra/core"}}}}"#
        ));
        let m = |r: &str| r.parse::<Rule>().unwrap().matches(&d);
        assert!(m("artifact-type=application/spdx+json"));
        assert!(m("artifact-type=application/*"));
        assert!(!m("artifact-type=application/vnd.cyclonedx*"));
        assert!(m("media-type=*manifest*"));
        assert!(m("annotation:team=infra/*"));
        assert!(!m("annotation:owner=*"));
        let plain = desc(&format!(r#"{{"mediaType":"x","digest":"{D}","size":1}}"#));
        assert!(!"artifact-type=*".parse::<Rule>().unwrap().matches(&plain));
    }

    #[test]
    fn never_copy_wins_and_names_the_rule_it_beat() {
        let rules = Rules::parse(&["media-type=*"], &["annotation:skip=true"]).unwrap();
        let keep = desc(&format!(r#"{{"mediaType":"x","digest":"{D}","size":1}}"#));
        let drop = desc(&format!(
            r#"{{"mediaType":"x","digest":"{D}","size":1,"annotations":{{"skip":"true"}}}}"#
        ));
        assert_eq!(
            rules.verdict(&keep),
            Verdict::Always("--always-copy media-type=*".into())
        );
        assert_eq!(
            rules.verdict(&drop),
            Verdict::Never {
                rule: "--never-copy annotation:skip=true".into(),
                overrides: Some("--always-copy media-type=*".into())
            }
        );
        assert_eq!(Rules::default().verdict(&keep), Verdict::None);
    }
}
