//! Registry answers as errors: the OCI error document, the HTTP failure, URL redaction.

use std::fmt;

use super::retry_after::RetryAfter;
use crate::model::digest::Digest;

/// One entry of a registry's `{"errors":[…]}` body. `detail` may be any JSON.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct OciError {
    /// `MANIFEST_BLOB_UNKNOWN`, `UNAUTHORIZED`, …
    #[serde(default)]
    pub code: String,
    /// Human text.
    #[serde(default)]
    pub message: String,
    /// Untyped detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl OciError {
    /// Digests mentioned in `detail`, wherever they are (string, object values, nested text).
    pub fn detail_digests(&self) -> Vec<Digest> {
        let mut text = String::new();
        if let Some(d) = &self.detail {
            text = d.to_string();
        }
        text.push(' ');
        text.push_str(&self.message);
        find_digests(&text)
    }
}

fn find_digests(text: &str) -> Vec<Digest> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(i) = rest.find("sha256:") {
        let cand: String = rest[i..].chars().take(71).collect();
        if let Ok(d) = cand.parse::<Digest>() {
            if !out.contains(&d) {
                out.push(d);
            }
        }
        rest = &rest[i + 7..];
    }
    out
}

/// A non-success HTTP answer from a registry.
#[derive(Debug, Clone)]
pub struct RegistryError {
    /// HTTP method.
    pub method: String,
    /// Redacted URL.
    pub url: String,
    /// HTTP status.
    pub status: u16,
    /// Parsed OCI errors (empty when the body had none, e.g. HEAD).
    pub errors: Vec<OciError>,
    /// The body when it was not an OCI error document (truncated).
    pub body: Option<String>,
    /// `Retry-After`, if sent (and parsable).
    pub retry_after: Option<RetryAfter>,
}

impl RegistryError {
    /// Whether any error has this code.
    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }
    /// Whether retrying the same request may succeed (408, 429, 5xx without a validation code).
    pub fn is_transient(&self) -> bool {
        let validation =
            self.has_code("MANIFEST_BLOB_UNKNOWN") || self.has_code("MANIFEST_INVALID");
        matches!(self.status, 408 | 429) || (self.status >= 500 && !validation)
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: HTTP {}", self.method, self.url, self.status)?;
        if let Some(r) = http_reason(self.status) {
            write!(f, " {r}")?;
        }
        // Group entries by code and message: distribution sends one per missing digest.
        let mut groups: Vec<(&str, &str, Vec<String>)> = vec![];
        for e in &self.errors {
            let detail = match &e.detail {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Null) | None => None,
                Some(other) => Some(other.to_string()),
            };
            match groups
                .iter_mut()
                .find(|(c, m, _)| *c == e.code && *m == e.message)
            {
                Some(g) => g.2.extend(detail),
                None => groups.push((&e.code, &e.message, detail.into_iter().collect())),
            }
        }
        for (code, message, details) in &groups {
            write!(f, "; {code}: {message}")?;
            match details.len() {
                0 => {}
                1 => write!(f, " ({})", details[0])?,
                n => {
                    let shown: Vec<&str> = details.iter().take(3).map(String::as_str).collect();
                    write!(
                        f,
                        " ({n}×: {}{})",
                        shown.join(", "),
                        if n > 3 { ", …" } else { "" }
                    )?
                }
            }
        }
        if self.errors.is_empty() {
            if self.method == "HEAD" {
                write!(f, " (a HEAD response has no body to explain it)")?;
            } else if let Some(b) = &self.body {
                if !b.trim().is_empty() {
                    write!(f, ": {}", b.trim())?;
                }
            }
        }
        Ok(())
    }
}

fn http_reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status)
        .ok()?
        .canonical_reason()
}

/// Remove userinfo and token-like query parameters from a URL before it is shown or stored.
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return url.to_string();
    };
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let secret = [
                    "token",
                    "sig",
                    "signature",
                    "secret",
                    "password",
                    "key",
                    "credential",
                    "_state",
                    "x-amz-",
                    "x-goog-",
                ]
                .iter()
                .any(|s| lower.contains(s));
                (
                    k.into_owned(),
                    if secret {
                        "REDACTED".into()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts() {
        let r = redact_url("https://user:pw@host/v2/x/blobs/uploads/abc?_state=SECRET&digest=sha256:1&X-Amz-Signature=zz");
        assert!(
            !r.contains("pw") && !r.contains("SECRET") && !r.contains("zz"),
            "{r}"
        );
        assert!(r.contains("digest=sha256"), "{r}");
    }

    #[test]
    fn digests_in_details() {
        let e: OciError = serde_json::from_str(r#"{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{"message":"Could not find child manifest with digest `sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`"}}"#).unwrap();
        assert_eq!(e.detail_digests().len(), 1);
        let e: OciError = serde_json::from_str(r#"{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#).unwrap();
        assert_eq!(e.detail_digests().len(), 1);
    }
}
