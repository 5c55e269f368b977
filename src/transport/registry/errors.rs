//! Turning transport failures and registry answers into [`Error`]s, and reading bodies with a
//! size limit: the pieces every request of the registry client shares.

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use reqwest::{Method, Response};

use crate::error::{redact_url, Error, OciError, RegistryError};
use crate::transport::retry::parse_retry_after;

pub(super) fn network_error(method: &Method, url: &str, e: reqwest::Error) -> Error {
    // reqwest puts the full URL (with upload-state tokens) in its message: drop it.
    let e = e.without_url();
    let mut message = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !message.contains(&t) {
            message.push_str(": ");
            message.push_str(&t);
        }
        src = s.source();
    }
    let lower = message.to_ascii_lowercase();
    let https_to_http = lower.contains("invalidcontenttype")
        || lower.contains("corrupt message")
        || lower.contains("wrong version number");
    // A certificate the client cannot verify, or one the server refuses, does not heal by itself.
    let tls_refused = is_tls_refusal(&lower);
    Error::Network {
        method: method.to_string(),
        url: redact_url(url),
        message,
        transient: !https_to_http
            && !tls_refused
            && (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode()),
        https_to_http,
    }
}

/// Whether a (lower-cased) transport error is a TLS certificate problem on either side.
fn is_tls_refusal(lower: &str) -> bool {
    lower.contains("invalid peer certificate")
        || lower.contains("certificate required")
        || lower.contains("certificaterequired")
        || lower.contains("bad certificate")
        || lower.contains("badcertificate")
        || lower.contains("unknown ca")
        || lower.contains("unknownca")
        || lower.contains("certificate unknown")
        || lower.contains("certificateunknown")
}

pub(super) async fn registry_error(method: &Method, url: &str, resp: Response) -> RegistryError {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = if *method == Method::HEAD {
        Bytes::new()
    } else {
        read_limited(resp, 64 * 1024).await.unwrap_or_default()
    };
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(default)]
        errors: Vec<OciError>,
    }
    let errors = serde_json::from_slice::<Envelope>(&body)
        .map(|e| e.errors)
        .unwrap_or_default();
    let body = (errors.is_empty() && !body.is_empty())
        .then(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    RegistryError {
        method: method.to_string(),
        url: redact_url(url),
        status,
        errors,
        body,
        retry_after,
    }
}

/// Why [`read_limited`] stopped.
pub(super) enum Limited {
    /// More than the limit: this many bytes had arrived.
    TooLarge(u64),
    /// The body failed.
    Failed(String),
}

impl std::fmt::Display for Limited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limited::TooLarge(n) => write!(f, "body larger than the limit ({n} bytes or more)"),
            Limited::Failed(m) => f.write_str(m),
        }
    }
}

/// Read at most `limit` bytes of a body; more is an error.
pub(super) async fn read_limited(
    resp: Response,
    limit: usize,
) -> std::result::Result<Bytes, Limited> {
    let mut out = BytesMut::new();
    let mut s = resp.bytes_stream();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| Limited::Failed(e.to_string()))?;
        if out.len() + chunk.len() > limit {
            return Err(Limited::TooLarge((out.len() + chunk.len()) as u64));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}
