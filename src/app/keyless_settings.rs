//! The keyless part of the signature policy (issue 23): `--require-signature-identity[-regexp]`,
//! `--require-signature-issuer[-regexp]` and `--trusted-root`, read and checked when the command
//! starts (a bad root or expression is a usage error, exit 2, before anything is contacted).

use std::path::Path;
use std::sync::Arc;

use crate::app::flags::SignatureArgs;
use crate::engine::signature::keyless::policy::{Identity, KeylessPolicy, Matcher};
use crate::engine::signature::keyless::trusted_root::{TrustedRoot, MAX_TRUSTED_ROOT};
use crate::error::{Error, Result};

fn usage(message: String, hint: Option<&str>) -> Error {
    Error::Usage {
        message,
        hint: hint.map(str::to_string),
    }
}

/// Where a site gets a trusted root, for the errors about one.
pub const ROOT_HINT: &str = "refresh it on the connected side with `cosign trusted-root create` and carry it over (docs/signatures.md)";

/// Reads and parses a `trusted_root.json` (bounded), or says why it cannot be used (the file
/// name first).
pub fn load_trusted_root(p: &Path) -> std::result::Result<TrustedRoot, String> {
    let name = p.display().to_string();
    let meta = std::fs::metadata(p).map_err(|e| format!("{name}: {e}"))?;
    if meta.len() > MAX_TRUSTED_ROOT as u64 {
        return Err(format!(
            "{name}: {} bytes is too large for a trusted root (at most {MAX_TRUSTED_ROOT})",
            meta.len()
        ));
    }
    let bytes = std::fs::read(p).map_err(|e| format!("{name}: {e}"))?;
    TrustedRoot::from_json(&bytes, &name).map_err(|e| e.to_string())
}

/// Reads and parses a `trusted_root.json` (bounded); `what` names the flag or key.
pub fn read_trusted_root(p: &Path, what: &str) -> Result<TrustedRoot> {
    load_trusted_root(p).map_err(|m| usage(format!("{what} {m}"), Some(ROOT_HINT)))
}

/// The identities of one policy: each identity (exact or expression) with the issuer.
pub fn identities(
    exact: &[String],
    regexps: &[String],
    issuer: Option<&str>,
    issuer_regexp: Option<&str>,
    what: &str,
) -> Result<Vec<Identity>> {
    let issuer = match (issuer, issuer_regexp) {
        (Some(i), _) => Matcher::Exact(i.to_string()),
        (None, Some(r)) => Matcher::regexp(r, &format!("{what}-issuer-regexp"))
            .map_err(|m| usage(m, None))?,
        (None, None) => {
            return Err(usage(
                format!("{what}-identity needs {what}-issuer or {what}-issuer-regexp (the OIDC issuer, as cosign's --certificate-oidc-issuer)"),
                Some("e.g. --require-signature-issuer https://token.actions.githubusercontent.com"),
            ))
        }
    };
    let mut out: Vec<Identity> = exact
        .iter()
        .map(|i| Identity {
            subject: Matcher::Exact(i.clone()),
            issuer: issuer.clone(),
        })
        .collect();
    for r in regexps {
        out.push(Identity {
            subject: Matcher::regexp(r, &format!("{what}-identity-regexp"))
                .map_err(|m| usage(m, None))?,
            issuer: issuer.clone(),
        });
    }
    Ok(out)
}

/// The keyless policy of the flags, or `None` when no identity is required.
pub fn keyless_policy(a: &SignatureArgs) -> Result<Option<KeylessPolicy>> {
    if a.require_signature_identity.is_empty() && a.require_signature_identity_regexp.is_empty() {
        if a.require_signature_issuer.is_some() || a.require_signature_issuer_regexp.is_some() {
            return Err(usage(
                "--require-signature-issuer needs --require-signature-identity or --require-signature-identity-regexp".into(),
                None,
            ));
        }
        return Ok(None);
    }
    let identities = identities(
        &a.require_signature_identity,
        &a.require_signature_identity_regexp,
        a.require_signature_issuer.as_deref(),
        a.require_signature_issuer_regexp.as_deref(),
        "--require-signature",
    )?;
    let root = a.trusted_root.as_deref().ok_or_else(|| {
        usage(
            "--require-signature-identity needs --trusted-root FILE".into(),
            None,
        )
    })?;
    Ok(Some(KeylessPolicy {
        identities,
        root: Arc::new(read_trusted_root(root, "--trusted-root")?),
    }))
}
