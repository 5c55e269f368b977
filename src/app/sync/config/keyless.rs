//! The keyless keys of `mirror.yaml` (issue 23), under `defaults:` and per entry, as the flags
//! of `mirror copy`: `require-signature-identity[-regexp]`, `require-signature-issuer[-regexp]`
//! and `trusted-root`. Each value is checked where it is written (an expression that does not
//! compile is an error at its element); the combination is checked per entry once `defaults:`
//! is merged in ([`resolve`]), and every `trusted-root` file written is read and parsed once
//! per run ([`Roots`]), so a bad root stops the run before anything is contacted (exit 2).
//!
//! Merging (docs/sync.md): the two identity keys are one setting (an entry that gives either
//! replaces both of `defaults:`), the two issuer keys another, `trusted-root` a third. An entry
//! that writes `require-signature-identity: []` turns an inherited keyless requirement off.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::values::OneOrMany;
use crate::app::keyless_settings::{load_trusted_root, ROOT_HINT};
use crate::engine::signature::keyless::policy::{Identity, KeylessPolicy, Matcher};
use crate::engine::signature::keyless::trusted_root::TrustedRoot;

/// `require-signature-identity:` one certificate identity (SAN: email or URI) or a list.
#[derive(Debug, Clone, Default)]
pub struct IdentityList(pub Vec<String>);

impl<'de> Deserialize<'de> for IdentityList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(IdentityList(
            OneOrMany::<IdentityText>::deserialize(d)?
                .0
                .into_iter()
                .map(|i| i.0)
                .collect(),
        ))
    }
}

/// One identity, checked on its own so an error points at that element.
struct IdentityText(String);

impl<'de> Deserialize<'de> for IdentityText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(de::Error::custom(
                "an empty identity matches no certificate: give the SAN (an email or URI), as cosign's --certificate-identity",
            ));
        }
        Ok(IdentityText(s))
    }
}

/// `require-signature-identity-regexp:` one expression or a list, each compiled where it is
/// written (matched anywhere in the SAN, as cosign's `--certificate-identity-regexp`).
#[derive(Debug, Clone, Default)]
pub struct RegexpList(pub Vec<Matcher>);

impl<'de> Deserialize<'de> for RegexpList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RegexpList(
            OneOrMany::<Regexp>::deserialize(d)?
                .0
                .into_iter()
                .map(|r| r.0)
                .collect(),
        ))
    }
}

/// One compiled expression (`require-signature-issuer-regexp:` takes one).
#[derive(Debug, Clone)]
pub struct Regexp(pub Matcher);

impl<'de> Deserialize<'de> for Regexp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // The key path goes in front of the message: drop the matcher's own `what: `.
        Matcher::regexp(&s, "-")
            .map(Regexp)
            .map_err(|m| de::Error::custom(m.strip_prefix("-: ").unwrap_or(&m).to_string()))
    }
}

/// `require-signature-issuer:` the OIDC issuer URL (cosign's `--certificate-oidc-issuer`).
#[derive(Debug, Clone)]
pub struct Issuer(pub String);

impl<'de> Deserialize<'de> for Issuer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(de::Error::custom(
                "an empty issuer matches no certificate: give the OIDC issuer URL, e.g. https://accounts.google.com",
            ));
        }
        Ok(Issuer(s))
    }
}

/// `trusted-root:` a `trusted_root.json` file, relative to the working directory as the
/// `require-signature` key files are; read by [`Roots`] after the file is parsed.
#[derive(Debug, Clone)]
pub struct RootFile(pub PathBuf);

impl<'de> Deserialize<'de> for RootFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(de::Error::custom(
                "give the path of a Sigstore trusted_root.json",
            ));
        }
        Ok(RootFile(PathBuf::from(s)))
    }
}

/// The keyless keys one level (`defaults:` or an entry) writes, with where each is written.
#[derive(Clone, Copy)]
pub(super) struct Keys<'a> {
    /// `defaults` or `images[3]`, for messages.
    pub level: &'a str,
    pub identity: Option<&'a Spanned<IdentityList>>,
    pub identity_regexp: Option<&'a Spanned<RegexpList>>,
    pub issuer: Option<&'a Spanned<Issuer>>,
    pub issuer_regexp: Option<&'a Spanned<Regexp>>,
    pub trusted_root: Option<&'a Spanned<RootFile>>,
}

/// An error found after parsing: where (1-based) and what, the key path first.
#[derive(Debug)]
pub(super) struct Located {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

fn at<T>(s: &Spanned<T>, message: String) -> Located {
    let pos = |n: u64| usize::try_from(n).ok().filter(|&n| n > 0);
    Located {
        line: pos(s.referenced.line()),
        column: pos(s.referenced.column()),
        message,
    }
}

/// The trusted roots of one run, each file read and parsed once.
#[derive(Default)]
pub(super) struct Roots(HashMap<PathBuf, Arc<TrustedRoot>>);

impl Roots {
    /// Reads the root `keys` names (if any and not read yet); an unreadable or unparsable
    /// root is an error at the key.
    pub(super) fn load(&mut self, keys: &Keys<'_>) -> Result<Option<Arc<TrustedRoot>>, Located> {
        let Some(s) = keys.trusted_root else {
            return Ok(None);
        };
        let path = &s.value.0;
        if let Some(r) = self.0.get(path) {
            return Ok(Some(r.clone()));
        }
        let root = load_trusted_root(path).map(Arc::new).map_err(|m| {
            at(
                s,
                format!("{}.trusted-root: {m}; {}", keys.level, ROOT_HINT),
            )
        })?;
        self.0.insert(path.clone(), root.clone());
        Ok(Some(root))
    }
}

/// The keyless policy of entry `entry` with `defaults` merged in (`None`: no identity
/// required), or the first inconsistency, located at the key that causes it.
pub(super) fn resolve(
    entry: &Keys<'_>,
    defaults: &Keys<'_>,
    roots: &mut Roots,
) -> Result<Option<KeylessPolicy>, Located> {
    for k in [entry, defaults] {
        if let (Some(_), Some(r)) = (k.issuer, k.issuer_regexp) {
            return Err(at(
                r,
                format!(
                    "{}: `require-signature-issuer` and `require-signature-issuer-regexp` exclude each other: give one",
                    k.level
                ),
            ));
        }
    }
    let writes_identity = |k: &Keys<'_>| k.identity.is_some() || k.identity_regexp.is_some();
    let writes_issuer = |k: &Keys<'_>| k.issuer.is_some() || k.issuer_regexp.is_some();
    let ids = [entry, defaults].into_iter().find(|k| writes_identity(k));
    let iss = [entry, defaults].into_iter().find(|k| writes_issuer(k));
    // Where an inherited key was written, and for which entry it is incomplete.
    let whose = |k: &Keys<'_>| {
        if k.level == entry.level {
            String::new()
        } else {
            format!(" ({} gives none)", entry.level)
        }
    };
    let Some(ids) = ids else {
        if let Some(k) = iss {
            let message = format!(
                "{}.require-signature-issuer: needs `require-signature-identity` or `require-signature-identity-regexp`, on the entry or under `defaults:`{}",
                k.level,
                whose(k)
            );
            return Err(match (k.issuer, k.issuer_regexp) {
                (Some(s), _) => at(s, message),
                (None, Some(s)) => at(s, message),
                (None, None) => unreachable!("writes an issuer"),
            });
        }
        return Ok(None);
    };
    let mut subjects: Vec<Matcher> = ids
        .identity
        .map(|s| s.value.0.iter().cloned().map(Matcher::Exact).collect())
        .unwrap_or_default();
    if let Some(r) = ids.identity_regexp {
        subjects.extend(r.value.0.iter().cloned());
    }
    if subjects.is_empty() {
        // `require-signature-identity: []`: no keyless requirement here.
        return Ok(None);
    }
    let located = |message: String| match (ids.identity, ids.identity_regexp) {
        (Some(s), _) => at(s, message),
        (None, Some(s)) => at(s, message),
        (None, None) => unreachable!("writes an identity"),
    };
    let issuer = match iss.map(|k| (k.issuer, k.issuer_regexp)) {
        Some((Some(i), _)) => Matcher::Exact(i.value.0.clone()),
        Some((None, Some(r))) => r.value.0.clone(),
        _ => {
            return Err(located(format!(
                "{}.require-signature-identity: needs `require-signature-issuer` or `require-signature-issuer-regexp` (the OIDC issuer, as cosign's --certificate-oidc-issuer), on the entry or under `defaults:`{}",
                ids.level,
                whose(ids)
            )))
        }
    };
    let root_keys = [entry, defaults]
        .into_iter()
        .find(|k| k.trusted_root.is_some());
    let Some(root) = root_keys.map(|k| roots.load(k)).transpose()?.flatten() else {
        return Err(located(format!(
            "{}.require-signature-identity: needs `trusted-root: FILE` (a Sigstore trusted_root.json, carried into the air gap; docs/signatures.md), on the entry or under `defaults:`{}",
            ids.level,
            whose(ids)
        )));
    };
    Ok(Some(KeylessPolicy {
        identities: subjects
            .into_iter()
            .map(|subject| Identity {
                subject,
                issuer: issuer.clone(),
            })
            .collect(),
        root,
    }))
}
