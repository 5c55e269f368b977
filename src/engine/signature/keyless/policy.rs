//! Who may have signed: identity and issuer matchers, as cosign's `--certificate-identity[-regexp]`
//! and `--certificate-oidc-issuer[-regexp]` take them, and the trusted root that vouches for the
//! certificates. docs/signatures.md maps the flags.

use std::fmt;
use std::sync::Arc;

use crate::engine::signature::keyless::trusted_root::TrustedRoot;

/// A regular expression longer than this is refused (a policy, not a program).
pub const MAX_PATTERN: usize = 1024;

/// One value a certificate claim must have.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// The claim equals this string.
    Exact(String),
    /// The claim matches this expression anywhere, as Go's `regexp.MatchString` does for
    /// cosign; anchor it with `^…$` to match the whole claim.
    Regexp(regex::Regex),
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Matcher::Exact(a), Matcher::Exact(b)) => a == b,
            (Matcher::Regexp(a), Matcher::Regexp(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// A regular expression matcher; `what` names the flag or key in the error.
    pub fn regexp(pattern: &str, what: &str) -> Result<Matcher, String> {
        if pattern.len() > MAX_PATTERN {
            return Err(format!(
                "{what}: the expression is {} bytes (at most {MAX_PATTERN})",
                pattern.len()
            ));
        }
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map(Matcher::Regexp)
            .map_err(|e| format!("{what}: {pattern:?} is not a regular expression: {e}"))
    }

    /// Whether `claim` satisfies this matcher.
    pub fn matches(&self, claim: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == claim,
            Matcher::Regexp(r) => r.is_match(claim),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(s) => f.write_str(s),
            Matcher::Regexp(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// A signer the policy accepts: the certificate's subject alternative name (email or URI)
/// and the OIDC issuer Fulcio recorded in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The SAN.
    pub subject: Matcher,
    /// The issuer extension (OID 1.3.6.1.4.1.57264.1.8, or the older .1.1).
    pub issuer: Matcher,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (issuer {})", self.subject, self.issuer)
    }
}

/// The keyless part of a signature policy: one of `identities`, certified by a CA of `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeylessPolicy {
    /// Any one suffices.
    pub identities: Vec<Identity>,
    /// The trusted root (read from disk, never fetched).
    pub root: Arc<TrustedRoot>,
}

impl KeylessPolicy {
    /// The first identity that accepts (`san`, `issuer`), or why none does.
    pub fn accepts(&self, san: &str, issuer: &str) -> Result<usize, Mismatch> {
        if let Some(i) = self
            .identities
            .iter()
            .position(|id| id.subject.matches(san) && id.issuer.matches(issuer))
        {
            return Ok(i);
        }
        if self.identities.iter().any(|id| id.subject.matches(san)) {
            Err(Mismatch::Issuer)
        } else {
            Err(Mismatch::Identity)
        }
    }
}

/// Which claim did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// No identity matches the SAN.
    Identity,
    /// An identity matches the SAN, but not with this issuer.
    Issuer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexp_matches_anywhere_like_cosign_and_exact_matches_whole() {
        let r = Matcher::regexp("@example\\.com", "--x").unwrap();
        assert!(r.matches("dev@example.com"));
        assert!(!r.matches("dev@example.org"));
        let anchored = Matcher::regexp("^dev@example\\.com$", "--x").unwrap();
        assert!(!anchored.matches("evil-dev@example.com"));
        assert!(Matcher::Exact("a".into()).matches("a"));
        assert!(!Matcher::Exact("a".into()).matches("ab"));
        let e = Matcher::regexp("(", "--require-signature-identity-regexp").unwrap_err();
        assert!(e.contains("not a regular expression"), "{e}");
        let e = Matcher::regexp(&"a".repeat(MAX_PATTERN + 1), "--x").unwrap_err();
        assert!(e.contains("at most"), "{e}");
    }
}
