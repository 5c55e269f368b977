//! Platform descriptions and `--platform` pattern matching.
//!
//! This module is pure: it parses patterns, normalises [`Platform`] values and decides which
//! children of an OCI image index are selected. It must not do I/O, log, or know about
//! registries, manifests or attestation handling; callers do that.
//!
//! # Pattern grammar
//!
//! `os/arch[/variant][:os.version]`, e.g. `linux/amd64`, `linux/arm/v7`,
//! `windows/amd64:10.0.17763.*`. Every field may be a glob (`*`, `?`, `[abc]`, `{a,b}`), e.g.
//! `linux/*`, `*/arm64`, `linux/arm/v[67]`. A `--platform` value may be a comma-separated list;
//! items are trimmed, empty items are ignored and a leading `!` makes an item an exclude.
//! Errors: a missing arch (`linux`), an empty field (`linux//v7`, `/amd64`), too many slashes
//! (`linux/arm/v7/x`), an empty os.version after `:`, an invalid glob, or a lone `!`.
//!
//! # Matching rules
//!
//! 1. The platform is normalised containerd-style before comparing: os lowercased; arch aliases
//!    `x86_64`/`x86-64`→`amd64`, `aarch64`→`arm64`, `i386`..`i686`→`386`, `armhf`→`arm/v7`,
//!    `armel`→`arm/v6`. Literal (non-glob) arch fields of a pattern get the same alias table, so
//!    `linux/aarch64` == `linux/arm64` and `linux/x86_64` == `linux/amd64`. Globs are matched
//!    against the normalised platform, so write canonical names in globs (`linux/amd*`).
//! 2. All fields compare case-insensitively.
//! 3. A pattern without a variant matches every variant of its os/arch: `linux/arm` matches
//!    arm/v6 and arm/v7, `linux/arm64` matches arm64 and arm64/v8.
//! 4. A pattern with a variant matches only that variant after normalisation. A platform
//!    without a variant has its architecture's default variant: `v1` for amd64, `v8` for arm64,
//!    `v7` for arm (none for others). So `linux/arm64/v8` matches arm64 with no variant,
//!    `linux/arm/v7` matches arm with no variant and `linux/amd64/v1` matches plain amd64, while
//!    `linux/amd64/v3` matches only amd64/v3. A variant glob sees the same default variant.
//! 5. A pattern without `:os.version` matches any os.version; with one it is matched (as a glob)
//!    against the platform's os.version, and a platform without os.version does not match.
//! 6. `unknown/unknown` platforms (BuildKit attestation placeholders) are never matched by a
//!    pattern containing a glob, such as `*/*`, nor by the implicit "all platforms" include of
//!    a filter with only excludes; only a fully literal pattern such as `unknown/unknown`
//!    matches them. Attestations are handled separately by the caller.
//! 7. A platform is selected when some include matches it (or there are no includes) and no
//!    exclude matches it.

use std::fmt;
use std::str::FromStr;

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Deserializer, Serialize};

/// The grammar shown in every [`PlatformPatternError`].
pub const PATTERN_GRAMMAR: &str = concat!(
    "expected os/arch[/variant][:os.version], ",
    "e.g. linux/amd64, linux/arm/v7, windows/amd64:10.0.17763.*"
);

/// Reason returned by [`PlatformFilter::select`] when the filter has no include patterns.
pub const ALL_PLATFORMS: &str = "all platforms";

const GLOB_META: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

/// A platform as it appears in an OCI index descriptor's `platform` object or an image config.
///
/// Deserialises leniently: unknown fields are ignored and missing or `null` fields default to
/// empty. Serialises with the OCI key names (`os.version`, `os.features`), skipping empty ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Platform {
    /// Operating system, e.g. `linux`, `windows`.
    #[serde(deserialize_with = "null_default")]
    pub os: String,
    /// CPU architecture, e.g. `amd64`, `arm64`.
    #[serde(deserialize_with = "null_default")]
    pub architecture: String,
    /// CPU variant, e.g. `v7`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (JSON key `os.version`), e.g. `10.0.17763.5936`.
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Required OS features (JSON key `os.features`).
    #[serde(rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    #[serde(deserialize_with = "null_default")]
    pub os_features: Vec<String>,
    /// Required CPU features (`features`, reserved by the OCI spec).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub features: Vec<String>,
}

fn null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Normalises an architecture and variant with containerd's alias table (module rule 1).
fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant
        .map(str::to_ascii_lowercase)
        .filter(|v| !v.is_empty());
    let (arch, variant) = match arch.as_str() {
        "x86_64" | "x86-64" | "amd64" => ("amd64", variant.filter(|v| v != "v1")),
        "aarch64" | "arm64" => (
            "arm64",
            variant.filter(|v| !matches!(v.as_str(), "v8" | "8" | "v8.0")),
        ),
        "i386" | "i486" | "i586" | "i686" => ("386", variant),
        "armhf" => ("arm", Some("v7".to_string())),
        "armel" => ("arm", Some("v6".to_string())),
        "arm" => (
            "arm",
            Some(match variant.as_deref() {
                None | Some("7") => "v7".to_string(),
                Some(v @ ("5" | "6" | "8")) => format!("v{v}"),
                Some(v) => v.to_string(),
            }),
        ),
        _ => return (arch, variant),
    };
    (arch.to_string(), variant)
}

/// The variant an architecture has when none is given (module rule 4).
fn default_variant(arch: &str) -> &'static str {
    match arch {
        "amd64" => "v1",
        "arm64" => "v8",
        "arm" => "v7",
        _ => "",
    }
}

/// The variant of a normalised platform, or its architecture's default.
fn effective_variant(p: &Platform) -> &str {
    p.variant
        .as_deref()
        .unwrap_or_else(|| default_variant(&p.architecture))
}

impl Platform {
    /// Containerd-style normalisation: os, architecture and variant lowercased; arch aliases
    /// `x86_64`/`x86-64`→`amd64`, `aarch64`→`arm64`, `i386`/`i486`/`i586`/`i686`→`386`,
    /// `armhf`→`arm`+`v7`, `armel`→`arm`+`v6`; amd64 variant `v1` and arm64 variant `v8`
    /// dropped; arm without variant gets `v7`; an empty variant becomes `None`.
    pub fn normalized(&self) -> Platform {
        let mut n = self.clone();
        n.os.make_ascii_lowercase();
        (n.architecture, n.variant) = normalize_arch(&self.architecture, self.variant.as_deref());
        n
    }

    /// True for the BuildKit attestation placeholder `unknown/unknown`.
    pub fn is_unknown(&self) -> bool {
        self.os.eq_ignore_ascii_case("unknown") && self.architecture.eq_ignore_ascii_case("unknown")
    }
}

/// Formats as `os/arch[/variant][:os.version]`, e.g. `linux/arm/v7`,
/// `windows/amd64:10.0.17763.1234` (as stored, not normalised).
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        if let Some(v) = self.os_version.as_deref().filter(|v| !v.is_empty()) {
            write!(f, ":{v}")?;
        }
        Ok(())
    }
}

/// Why a platform pattern was rejected; its message names the pattern, the problem and the
/// accepted grammar ([`PATTERN_GRAMMAR`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform pattern {pattern:?}: {reason}; {PATTERN_GRAMMAR}")]
pub struct PlatformPatternError {
    pattern: String,
    reason: String,
}

impl PlatformPatternError {
    /// The offending item, trimmed; a filter's own leading `!` is removed unless the item is a
    /// lone `!`.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
    /// What is wrong with it, e.g. `missing architecture`.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// One `--platform` pattern, `os/arch[/variant][:os.version]`; every field may be a glob.
/// See the module documentation for the grammar and matching rules.
#[derive(Debug, Clone)]
pub struct PlatformPattern {
    text: String,
    literal: bool,
    os: GlobMatcher,
    /// Alias-normalised when literal.
    arch: GlobMatcher,
    /// `None`: the pattern has no variant and matches any; the effective variant when literal.
    variant: Option<GlobMatcher>,
    os_version: Option<GlobMatcher>,
}

/// Parses one pattern (surrounding whitespace trimmed; a leading `!` is an error here, since
/// excludes exist only in [`PlatformFilter`]).
impl FromStr for PlatformPattern {
    type Err = PlatformPatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let err = |reason: String| PlatformPatternError {
            pattern: text.into(),
            reason,
        };
        let (head, version) = text
            .split_once(':')
            .map_or((text, None), |(h, v)| (h, Some(v)));
        let parts: Vec<&str> = head.split('/').collect();
        let problem = if text.is_empty() {
            "empty pattern"
        } else if text.starts_with('!') {
            "'!' is only allowed once, at the start of a --platform item"
        } else if text.contains(char::is_whitespace) {
            "whitespace inside the pattern"
        } else if version == Some("") {
            "empty os.version after ':'"
        } else if version.is_some_and(|v| v.contains([':', '/'])) {
            "os.version must be the last part and contain no '/' or ':'"
        } else if parts.len() == 1 {
            "missing architecture"
        } else if parts.len() > 3 {
            "too many '/' separators (at most os/arch/variant)"
        } else {
            ""
        };
        if !problem.is_empty() {
            return Err(err(problem.into()));
        }
        let names = ["os", "architecture", "variant"];
        if let Some(i) = parts.iter().position(|p| p.is_empty()) {
            return Err(err(format!("empty {} field", names[i])));
        }
        let glob = |name: &str, f: &str| {
            let g = GlobBuilder::new(f).case_insensitive(true).build();
            g.map(|g| g.compile_matcher())
                .map_err(|e| err(format!("invalid glob in {name} field: {e}")))
        };
        let is_glob = |f: &str| f.contains(GLOB_META);
        let (mut arch, mut variant) = (parts[1].to_string(), parts.get(2).map(|v| v.to_string()));
        if !is_glob(&arch) {
            // Literal arch: alias table; a literal variant becomes the effective one (rule 4).
            let lit_var = variant.as_deref().filter(|v| !is_glob(v));
            let (a, v) = normalize_arch(&arch, lit_var);
            let implied = matches!(arch.to_ascii_lowercase().as_str(), "armhf" | "armel");
            if implied || lit_var.is_some() {
                variant = Some(v.unwrap_or_else(|| default_variant(&a).into()));
            }
            arch = a;
        }
        Ok(Self {
            text: text.to_string(),
            literal: !is_glob(text),
            os: glob("os", parts[0])?,
            arch: glob("architecture", &arch)?,
            variant: variant.map(|v| glob("variant", &v)).transpose()?,
            os_version: version.map(|v| glob("os.version", v)).transpose()?,
        })
    }
}

impl PlatformPattern {
    /// The pattern as the user wrote it (trimmed, without a leading `!`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when no field contains a glob metacharacter.
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    /// Whether this pattern matches `p` (normalised first), per the module's matching rules.
    pub fn matches(&self, p: &Platform) -> bool {
        self.matches_normalized(&p.normalized())
    }

    fn matches_normalized(&self, n: &Platform) -> bool {
        if n.is_unknown() && !self.literal {
            return false;
        }
        self.os.is_match(&n.os)
            && self.arch.is_match(&n.architecture)
            && self
                .variant
                .as_ref()
                .is_none_or(|v| v.is_match(effective_variant(n)))
            && match (&self.os_version, n.os_version.as_deref()) {
                (None, _) => true,
                (Some(g), Some(v)) => g.is_match(v),
                (Some(_), None) => false,
            }
    }
}

/// Formats as [`PlatformPattern::as_str`].
impl fmt::Display for PlatformPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The include/exclude filter built from repeatable `--platform` values.
#[derive(Debug, Clone, Default)]
pub struct PlatformFilter {
    includes: Vec<PlatformPattern>,
    excludes: Vec<PlatformPattern>,
}

impl PlatformFilter {
    /// Parses `--platform` values. Each value may be a comma-separated list; items are trimmed,
    /// empty items ignored, and a leading `!` makes an exclude. `parse(&[])` is the "everything"
    /// filter.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Self, PlatformPatternError> {
        let mut filter = Self::default();
        for item in values
            .iter()
            .flat_map(|v| v.as_ref().split(','))
            .map(str::trim)
        {
            if item.is_empty() {
                continue;
            }
            match item.strip_prefix('!').map(str::trim) {
                Some("") => {
                    let reason = "'!' without a pattern".into();
                    return Err(PlatformPatternError {
                        pattern: item.into(),
                        reason,
                    });
                }
                Some(rest) => filter.excludes.push(rest.parse()?),
                None => filter.includes.push(item.parse()?),
            }
        }
        Ok(filter)
    }

    /// True when there are no patterns at all (no `--platform` given: copy everything).
    pub fn is_all(&self) -> bool {
        self.includes.is_empty() && self.excludes.is_empty()
    }

    /// `Some(reason)` when `p` is selected: the text of the first matching include, or
    /// [`ALL_PLATFORMS`] when there are no includes; `None` when no include matches or any
    /// exclude matches. `unknown/unknown` is selected only by a literal include (rule 6).
    pub fn select(&self, p: &Platform) -> Option<String> {
        let n = p.normalized();
        let reason = if self.includes.is_empty() {
            (!n.is_unknown()).then(|| ALL_PLATFORMS.to_string())?
        } else {
            self.includes
                .iter()
                .find(|i| i.matches_normalized(&n))?
                .as_str()
                .to_string()
        };
        (!self.excludes.iter().any(|e| e.matches_normalized(&n))).then_some(reason)
    }

    /// Literal include patterns that match none of `available`: for "requested platform
    /// absent" warnings.
    pub fn unmatched_literals<'a>(&'a self, available: &[Platform]) -> Vec<&'a PlatformPattern> {
        let normalized: Vec<Platform> = available.iter().map(Platform::normalized).collect();
        self.includes
            .iter()
            .filter(|i| i.is_literal() && !normalized.iter().any(|n| i.matches_normalized(n)))
            .collect()
    }

    /// The include patterns, in the order given.
    pub fn includes(&self) -> &[PlatformPattern] {
        &self.includes
    }

    /// The exclude patterns (without their `!`), in the order given.
    pub fn excludes(&self) -> &[PlatformPattern] {
        &self.excludes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a platform from `os/arch[/variant][:os.version]` without normalising it.
    fn plat(s: &str) -> Platform {
        let (head, ver) = s
            .split_once(':')
            .map_or((s, None), |(h, v)| (h, Some(v.into())));
        let mut it = head.split('/').map(String::from);
        let (os, architecture) = (it.next().unwrap(), it.next().unwrap());
        Platform {
            os,
            architecture,
            variant: it.next(),
            os_version: ver,
            ..Default::default()
        }
    }

    #[test]
    #[rustfmt::skip]
    fn parse_errors() {
        let cases = [
            ("linux", "\"linux\": missing architecture"), ("/amd64", "empty os field"),
            ("linux//v7", "\"linux//v7\": empty architecture field"),
            ("linux/arm/", "empty variant field"), ("linux/arm/v7/x", "too many '/' separators"),
            ("windows/amd64:", "empty os.version after ':'"),
            ("windows/amd64:10:1", "os.version must be the last"),
            ("linux:1/amd64", "os.version must be the last"),
            ("linux/arm/v[67", "invalid glob in variant field"),
            ("linux/{amd64", "invalid glob in architecture field"),
            ("lin ux/amd64", "whitespace inside"), ("!", "\"!\": '!' without a pattern"),
            ("linux/amd64, ! ", "'!' without a pattern"),
            ("!!linux/amd64", "\"!linux/amd64\": '!' is only allowed once"),
        ];
        for (input, want) in cases {
            let msg = PlatformFilter::parse(&[input]).unwrap_err().to_string();
            assert!(msg.contains(want) && msg.ends_with(PATTERN_GRAMMAR), "{input:?}: {msg}");
        }
        let err = "linux".parse::<PlatformPattern>().unwrap_err();
        assert_eq!((err.pattern(), err.reason()), ("linux", "missing architecture"));
        assert_eq!(err.to_string(), "invalid platform pattern \"linux\": missing architecture; \
            expected os/arch[/variant][:os.version], e.g. linux/amd64, linux/arm/v7, \
            windows/amd64:10.0.17763.*");
        assert!("".parse::<PlatformPattern>().is_err());
    }

    #[test]
    #[rustfmt::skip]
    fn parse_ok() {
        let cases = [
            ("linux/arm64", true), ("linux/arm/v7", true), ("windows/amd64:10.0.17763.1234", true),
            ("windows/amd64:10.0.17763.*", false), ("linux/arm/v[67]", false), ("*/*", false),
            ("linux/{amd64,arm64}", false), ("linux/?rm", false),
        ];
        for (text, literal) in cases {
            let p: PlatformPattern = format!(" {text} ").parse().unwrap();
            assert_eq!((p.as_str(), p.is_literal(), p.to_string()), (text, literal, text.into()));
        }
    }

    /// (filter, platform, want): want "" = not selected, "=" = selected by the filter text.
    #[test]
    #[rustfmt::skip]
    fn select_table() {
        let cases = [
            // Rule 1: aliases on both sides; globs see normalised names.
            ("linux/aarch64", "linux/arm64", "="), ("linux/x86_64", "linux/amd64", "="),
            ("linux/amd64", "linux/x86-64", "="), ("linux/386", "linux/i686", "="),
            ("linux/arm/v7", "linux/armhf", "="), ("linux/amd*", "linux/x86_64", "="),
            ("linux/armel", "linux/arm/v6", "="), ("linux/armel", "linux/arm/v7", ""),
            // Rule 2: case.
            ("LINUX/AMD64", "linux/amd64", "="), ("linux/amd64", "Linux/AMD64", "="),
            ("Linux/*", "linux/s390x", "="), ("linux/amd64/V3", "linux/amd64/v3", "="),
            // Rule 3: no variant in the pattern matches any variant.
            ("linux/arm", "linux/arm/v6", "="), ("linux/arm", "linux/arm", "="),
            ("linux/arm64", "linux/arm64/v8", "="), ("linux/amd64", "linux/amd64/v3", "="),
            // Rule 4: a named variant matches only that variant after normalisation.
            ("linux/arm64/v8", "linux/arm64", "="), ("linux/arm64/v8", "linux/arm64/v9", ""),
            ("linux/arm/v7", "linux/arm", "="), ("linux/arm/v7", "linux/arm/v6", ""),
            ("linux/amd64/v1", "linux/amd64", "="), ("linux/amd64/v3", "linux/amd64", ""),
            ("linux/arm/v[67]", "linux/arm/v6", "="), ("linux/arm/v[67]", "linux/arm/v5", ""),
            ("linux/arm/v[67]", "linux/arm", "="), ("linux/arm64/v*", "linux/arm64", "="),
            ("*/*/v8", "linux/arm64", "="), ("linux/ppc64le/v8", "linux/ppc64le", ""),
            // Rule 5: os.version.
            ("windows/amd64:10.0.17763.*", "windows/amd64:10.0.17763.5936", "="),
            ("windows/amd64:10.0.17763.*", "windows/amd64:10.0.20348.1", ""),
            ("windows/amd64:10.0.17763.*", "windows/amd64", ""),
            ("windows/amd64:10.0.1", "windows/amd64:10.0.1", "="),
            ("windows/amd64", "windows/amd64:10.0.1", "="),
            // Globs.
            ("linux/*", "linux/s390x", "="), ("linux/*", "windows/amd64", ""),
            ("*/arm64", "darwin/arm64", "="), ("linux/?rm64", "linux/arm64", "="),
            // Rule 6: unknown/unknown only by a literal pattern.
            ("*/*", "unknown/unknown", ""), ("unknown/*", "unknown/unknown", ""),
            ("unknown/unknown", "unknown/unknown", "="), ("", "unknown/unknown", ""),
            ("!linux/arm", "unknown/unknown", ""),
            // Excludes, comma lists, empty items; the first matching include is the reason.
            ("", "linux/amd64", ALL_PLATFORMS), (" , ", "linux/amd64", ALL_PLATFORMS),
            ("!linux/arm", "linux/arm/v7", ""), ("!linux/arm", "linux/amd64", ALL_PLATFORMS),
            ("! linux/arm , !linux/s390x", "linux/s390x", ""), ("linux/amd64", "linux/arm64", ""),
            ("linux/*,!linux/arm/v6", "linux/arm/v6", ""),
            ("linux/*,!linux/arm/v6", "linux/arm/v7", "linux/*"),
            ("linux/amd64, linux/*", "linux/amd64", "linux/amd64"),
            ("linux/arm64 ,, linux/*", "linux/s390x", "linux/*"),
            ("windows/*,!*/*:10.0.17763.*", "windows/amd64:10.0.17763.1", ""),
            ("windows/*,!*/*:10.0.17763.*", "windows/amd64:10.0.20348.1", "windows/*"),
        ];
        for (filter, platform, want) in cases {
            let want = match want { "" => None, "=" => Some(filter), w => Some(w) };
            let got = PlatformFilter::parse(&[filter]).unwrap().select(&plat(platform));
            assert_eq!(got.as_deref(), want, "filter {filter:?} platform {platform:?}");
            if !filter.contains([',', '!']) && !filter.trim().is_empty() {
                let p: PlatformPattern = filter.parse().unwrap();
                assert_eq!(p.matches(&plat(platform)), want.is_some(), "{filter:?} {platform:?}");
            }
        }
    }

    #[test]
    #[rustfmt::skip]
    fn filter_accessors_and_unmatched_literals() {
        let values = ["linux/amd64,linux/arm/v7", "linux/s390x", "!*/arm64", "*/riscv64"];
        let f = PlatformFilter::parse(&values).unwrap();
        assert!(!f.is_all() && PlatformFilter::parse::<&str>(&[]).unwrap().is_all());
        assert!(!PlatformFilter::parse(&["!linux/arm"]).unwrap().is_all());
        let texts = |v: &[PlatformPattern]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let includes = ["linux/amd64", "linux/arm/v7", "linux/s390x", "*/riscv64"];
        assert_eq!(texts(f.includes()), includes);
        assert_eq!(texts(f.excludes()), ["*/arm64"]);
        let avail = [plat("linux/x86_64"), plat("linux/armhf"), plat("linux/arm64")];
        let missing: Vec<&str> = f.unmatched_literals(&avail).iter().map(|p| p.as_str()).collect();
        assert_eq!(missing, ["linux/s390x"]);
        assert_eq!(f.select(&plat("linux/amd64")).as_deref(), Some("linux/amd64"));
        let f = PlatformFilter::parse(&["unknown/unknown, linux/arm/v6"]).unwrap();
        let missing = f.unmatched_literals(&[plat("unknown/unknown"), plat("linux/arm64")]);
        assert_eq!(missing.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["linux/arm/v6"]);
    }

    #[test]
    #[rustfmt::skip]
    fn normalize_and_display() {
        let cases = [
            ("Linux/AArch64/v8", "linux/arm64"), ("linux/arm64/8", "linux/arm64"),
            ("linux/armhf", "linux/arm/v7"), ("linux/armel", "linux/arm/v6"),
            ("linux/arm", "linux/arm/v7"), ("linux/arm/6", "linux/arm/v6"),
            ("linux/x86_64/v1", "linux/amd64"), ("linux/i386", "linux/386"),
            ("linux/amd64/V3", "linux/amd64/v3"), ("linux/arm64/v9", "linux/arm64/v9"),
            ("windows/amd64:10.0.1", "windows/amd64:10.0.1"),
        ];
        for (input, want) in cases {
            assert_eq!(plat(input).normalized().to_string(), want, "{input}");
        }
        assert!(plat("unknown/unknown").is_unknown() && !plat("linux/unknown").is_unknown());
    }

    #[test]
    fn json() {
        let raw =
            r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.5936","extra":1}"#;
        let p: Platform = serde_json::from_str(raw).unwrap();
        assert_eq!(p, plat("windows/amd64:10.0.17763.5936"));
        let out = r#"{"os":"windows","architecture":"amd64","os.version":"10.0.17763.5936"}"#;
        assert_eq!(serde_json::to_string(&p).unwrap(), out);
        let raw = r#"{"os":"linux","architecture":"arm","variant":"v7","features":["sse4"]}"#;
        let p: Platform = serde_json::from_str(raw).unwrap();
        assert_eq!((p.variant.as_deref(), p.features.len()), (Some("v7"), 1));
        let p: Platform = serde_json::from_str(r#"{"os":null,"os.features":["win32k"]}"#).unwrap();
        assert_eq!(
            (p.os.as_str(), p.architecture.as_str(), p.os_features.len()),
            ("", "", 1)
        );
        let out = r#"{"os":"","architecture":"","os.features":["win32k"]}"#;
        assert_eq!(serde_json::to_string(&p).unwrap(), out);
    }
}
