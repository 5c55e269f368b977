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

use crate::model::manifest::Descriptor;

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

/// The rules (and the buildx attestation rule) as the planner applies them.
#[cfg(test)]
mod plan_tests {
    use std::collections::{HashMap, HashSet};

    use bytes::Bytes;

    use super::Rules;
    use crate::engine::plan::{self, Inputs, Outcome, Plan};
    use crate::engine::select::{Decision, PlatformlessPolicy, Reason, Selector, SkipReason};
    use crate::model::digest::Digest;
    use crate::model::manifest::RawManifest;
    use crate::model::media::DOCKER_ATTESTATION;
    use crate::model::platform::PlatformFilter;

    const OCI_M: &str = "application/vnd.oci.image.manifest.v1+json";
    const OCI_I: &str = "application/vnd.oci.image.index.v1+json";

    fn raw(json: String) -> RawManifest {
        let b = Bytes::from(json);
        let d = Digest::sha256_of(&b);
        RawManifest::from_bytes(b, d, None).unwrap()
    }

    fn image(seed: &str, extra: &str) -> RawManifest {
        let cfg = Digest::sha256_of(format!("{seed}/config").as_bytes());
        let layer = Digest::sha256_of(format!("{seed}/layer").as_bytes());
        raw(format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_M}",{extra}"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cfg}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":3}}]}}"#
        ))
    }

    fn entry(m: &RawManifest, rest: &str) -> String {
        format!(
            r#"{{"mediaType":"{}","digest":"{}","size":{}{rest}}}"#,
            m.media_type,
            m.digest,
            m.bytes.len()
        )
    }

    struct Fixture {
        root: RawManifest,
        all: HashMap<Digest, RawManifest>,
        amd: Digest,
        arm: Digest,
        bk_att_arm: Digest,
        ref_att_arm: Digest,
        sbom: Digest,
        nested: Digest,
        s390x: Digest,
    }

    /// amd64, arm64 (annotated keep=yes), a BuildKit attestation of arm64, a buildx
    /// referrer-style attestation of arm64 (no annotations: only its manifest says what it
    /// is), an SBOM artifact without platform, and a nested index holding s390x.
    fn fixture() -> Fixture {
        let amd = image("amd", "");
        let arm = image("arm", "");
        let bk = image("bk", "");
        let refatt = image(
            "refatt",
            &format!(
                r#""artifactType":"{DOCKER_ATTESTATION}","subject":{},"#,
                entry(&arm, "")
            ),
        );
        let sbom = image("sbom", r#""artifactType":"application/spdx+json","#);
        let s390x = image("s390x", "");
        let nested = raw(format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_I}","manifests":[{}]}}"#,
            entry(
                &s390x,
                r#","platform":{"os":"linux","architecture":"s390x"}"#
            )
        ));
        let entries = [
            entry(&amd, r#","platform":{"os":"linux","architecture":"amd64"}"#),
            entry(
                &arm,
                r#","platform":{"os":"linux","architecture":"arm64"},"annotations":{"keep":"yes"}"#,
            ),
            entry(
                &bk,
                &format!(
                    r#","platform":{{"os":"unknown","architecture":"unknown"}},"annotations":{{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"{}"}}"#,
                    arm.digest
                ),
            ),
            entry(
                &refatt,
                r#","platform":{"os":"unknown","architecture":"unknown"}"#,
            ),
            entry(&sbom, r#","artifactType":"application/spdx+json""#),
            entry(&nested, r#","annotations":{"group":"mainframe"}"#),
        ];
        let root = raw(format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_I}","manifests":[{}]}}"#,
            entries.join(",")
        ));
        let all: HashMap<Digest, RawManifest> = [&amd, &arm, &bk, &refatt, &sbom, &nested, &s390x]
            .into_iter()
            .map(|m| (m.digest.clone(), m.clone()))
            .collect();
        Fixture {
            root,
            amd: amd.digest,
            arm: arm.digest,
            bk_att_arm: bk.digest,
            ref_att_arm: refatt.digest,
            sbom: sbom.digest,
            nested: nested.digest,
            s390x: s390x.digest,
            all,
        }
    }

    /// Run the planner the way resolve.rs does, feeding it what it asks for.
    fn run(f: &Fixture, platforms: &[&str], always: &[&str], never: &[&str]) -> Plan {
        let sel = Selector {
            platforms: PlatformFilter::parse(platforms).unwrap(),
            attestations: true,
            platformless: PlatformlessPolicy::Copy,
            rules: Rules::parse(always, never).unwrap(),
            include_foreign: false,
        };
        let mut fetched = HashMap::new();
        let absent = HashSet::new();
        for _ in 0..5 {
            let inp = Inputs {
                fetched: &fetched,
                absent: &absent,
                root_platform: None,
                source_ref: "test",
            };
            match plan::plan(&f.root, &sel, &inp).unwrap() {
                Outcome::Complete(p) => return *p,
                Outcome::Need(list) => {
                    for d in list {
                        fetched.insert(d.digest.clone(), f.all[&d.digest].clone());
                    }
                }
            }
        }
        panic!("planning did not converge")
    }

    fn decision(p: &Plan, d: &Digest) -> Decision {
        p.entries
            .iter()
            .find(|e| &e.descriptor.digest == d)
            .unwrap_or_else(|| panic!("no entry {d}"))
            .decision
            .clone()
    }

    #[test]
    fn referrer_style_attestations_follow_their_platform() {
        let f = fixture();
        let p = run(&f, &["linux/amd64"], &[], &[]);
        assert!(decision(&p, &f.amd).is_copy());
        assert_eq!(
            decision(&p, &f.ref_att_arm),
            Decision::Skip(SkipReason::AttestationOfUnselected {
                subject: f.arm.clone()
            }),
            "a buildx referrer-style attestation of an unselected child is not copied"
        );
        assert!(!decision(&p, &f.bk_att_arm).is_copy());
        let p = run(&f, &["linux/arm64"], &[], &[]);
        assert_eq!(
            decision(&p, &f.ref_att_arm),
            Decision::Copy(Reason::AttestationOf {
                subject: f.arm.clone()
            })
        );
        assert!(p.manifests.iter().any(|m| m.digest == f.ref_att_arm));
    }

    #[test]
    fn always_copy_includes_and_attestations_follow() {
        let f = fixture();
        let p = run(&f, &["linux/amd64"], &["annotation:keep=yes"], &[]);
        assert_eq!(
            decision(&p, &f.arm),
            Decision::Copy(Reason::AlwaysCopy {
                rule: "--always-copy annotation:keep=yes".into()
            })
        );
        assert!(decision(&p, &f.bk_att_arm).is_copy());
        assert!(decision(&p, &f.ref_att_arm).is_copy());
        // A nested index forced in is copied whole.
        let p = run(&f, &["linux/amd64"], &["annotation:group=main*"], &[]);
        assert!(decision(&p, &f.nested).is_copy());
        assert_eq!(
            decision(&p, &f.s390x),
            Decision::Copy(Reason::AlwaysCopy {
                rule: "--always-copy annotation:group=main*".into()
            })
        );
        let p = run(&f, &["linux/amd64"], &[], &[]);
        assert!(!decision(&p, &f.s390x).is_copy());
        assert!(!decision(&p, &f.nested).is_copy());
    }

    #[test]
    fn never_copy_excludes_even_without_a_platform_filter() {
        let f = fixture();
        let p = run(&f, &[], &[], &["artifact-type=application/spdx+*"]);
        assert_eq!(
            decision(&p, &f.sbom),
            Decision::Skip(SkipReason::NeverCopy {
                rule: "--never-copy artifact-type=application/spdx+*".into(),
                overrides: None
            })
        );
        assert!(p.sparse);
        // Excluding a platform by rule takes its attestations with it.
        let p = run(&f, &[], &[], &["annotation:keep=yes"]);
        assert!(!decision(&p, &f.arm).is_copy());
        assert!(!decision(&p, &f.bk_att_arm).is_copy());
        assert!(decision(&p, &f.amd).is_copy());
        let p = run(
            &f,
            &[],
            &[],
            &["media-type=application/vnd.oci.image.index.v1+json"],
        );
        assert!(!decision(&p, &f.nested).is_copy());
    }

    #[test]
    fn never_copy_wins_a_conflict_and_the_plan_says_so() {
        let f = fixture();
        let p = run(
            &f,
            &["linux/amd64"],
            &["annotation:keep=*"],
            &["annotation:keep=yes"],
        );
        let d = decision(&p, &f.arm);
        assert_eq!(
            d,
            Decision::Skip(SkipReason::NeverCopy {
                rule: "--never-copy annotation:keep=yes".into(),
                overrides: Some("--always-copy annotation:keep=*".into())
            })
        );
        assert_eq!(
            d.to_string(),
            "--never-copy annotation:keep=yes (wins over --always-copy annotation:keep=*)"
        );
        assert!(!decision(&p, &f.bk_att_arm).is_copy());
    }
}
