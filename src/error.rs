//! The one error type: usage, configuration and engine errors, with a kind and hints.
//!
//! Code that must tell errors apart matches on [`Error::kind`] ([`ErrorKind`]), never on exit
//! codes; the exit code derives from the kind in one place, [`ErrorKind::exit_code`].
//!
//! Policy: every error names the object (blob, manifest, tag), the registry or layout, and for
//! HTTP the method, the redacted URL and the status with the registry's OCI error codes.
//! Context is attached with [`Error::context`], never by re-wrapping into strings, so
//! [`Error::exit_code`] and [`Error::hints`] can walk the chain. Secrets never appear: URLs go
//! through [`redact_url`] before they are stored.

use std::time::Duration;

use crate::exit;
use crate::model::digest::{Digest, VerifyError};
use crate::model::manifest::ManifestError;

pub mod hints;

mod http;
mod retry_after;

pub use self::http::{redact_url, OciError, RegistryError};
pub use self::retry_after::RetryAfter;

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the target refused the sparse index.
#[derive(Debug, Clone)]
pub struct SparseRejection {
    /// The target, e.g. `127.0.0.1:5000/team/app:v1`.
    pub target: String,
    /// The index digest that was refused.
    pub index: Digest,
    /// The registry's answer; `None` when the refusal was known before (see `recorded_by`).
    pub response: Option<RegistryError>,
    /// Who said the registry refuses sparse indexes, when it was not asked in this run: an
    /// inventory taken with `mirror inventory --probe-sparse` (a delta bundle, docs/air-gap.md).
    pub recorded_by: Option<String>,
    /// Child digests the registry named as missing.
    pub missing: Vec<Digest>,
    /// Platforms of the missing children, when known (`linux/ppc64le`, …).
    pub missing_platforms: Vec<String>,
    /// Whether it was caught by the preflight, before any blob moved.
    pub before_any_copy: bool,
    /// The preflight probe index (only the left-out children) whose refusal settled it, when
    /// the registry named only selected children at first (engine/preflight.rs).
    pub probe: Option<Digest>,
}

/// A blob a delta bundle left out that the far side lacks ([`Error::LeftOutMissing`]).
#[derive(Debug, Clone)]
pub struct LeftOutMissing {
    /// The target the image was to be applied to.
    pub target: String,
    /// The blob.
    pub digest: crate::model::digest::Digest,
    /// Its size.
    pub size: u64,
    /// Who said it was there (the inventory or ledger entry).
    pub claim: String,
    /// The repository the claim named, tried as a mount source.
    pub mount_from: Option<String>,
    /// Every image of the bundle that needs it.
    pub needed_by: Vec<String>,
}

/// What kind of failure an [`Error`] is: what code matches on, and what decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A bad flag, reference, pattern or credential syntax: nothing was contacted.
    Usage,
    /// The `mirror sync` configuration file is invalid: nothing was run.
    Config,
    /// Authentication or authorisation failed (401/403, token server, credential helper).
    Auth,
    /// The object (manifest, blob, tag, repository, layout entry) does not exist.
    NotFound,
    /// The filters selected nothing, or a required platform is absent.
    NothingSelected,
    /// The target refused the sparse index.
    Rejected,
    /// `--require-signature`: no valid signature (exit 8).
    SignatureRequired,
    /// Cancelled by SIGINT/SIGTERM.
    Interrupted,
    /// Anything else: network, registry, I/O, invalid or mismatching content, internal.
    Failure,
}

impl ErrorKind {
    /// Every kind, for docs and tests.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::Usage,
        ErrorKind::Config,
        ErrorKind::Auth,
        ErrorKind::NotFound,
        ErrorKind::NothingSelected,
        ErrorKind::Rejected,
        ErrorKind::SignatureRequired,
        ErrorKind::Interrupted,
        ErrorKind::Failure,
    ];

    /// The documented exit code (docs/exit-codes.md): the only place that maps errors to codes.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage | ErrorKind::Config => exit::USAGE,
            ErrorKind::Auth => exit::AUTH,
            ErrorKind::NothingSelected => exit::NOTHING_SELECTED,
            ErrorKind::Rejected => exit::SPARSE_REJECTED,
            ErrorKind::SignatureRequired => exit::SIGNATURE_REQUIRED,
            ErrorKind::Interrupted => exit::INTERRUPTED,
            ErrorKind::NotFound | ErrorKind::Failure => exit::FAILURE,
        }
    }
}

/// Everything that can go wrong: on the command line, in a configuration file, in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command-line input (exit 2), found before any I/O.
    #[error("{message}")]
    Usage {
        /// What is wrong, naming the flag or argument.
        message: String,
        /// Advice; `None` lets the command add "see `mirror CMD --help`".
        hint: Option<String>,
    },
    /// An invalid configuration file (exit 2). Holds the parser's error (for `mirror sync`, a
    /// `ConfigError` rendering file:line:column, the key and the line), shown as it renders.
    #[error("{0}")]
    Config(Box<dyn std::error::Error + Send + Sync>),
    /// The registry answered with an error status.
    #[error("{0}")]
    Registry(Box<RegistryError>),
    /// Authentication failed: wrong credentials, token server refusal, or 401/403.
    #[error("authentication to {registry} failed: {reason}")]
    Auth {
        /// Registry host.
        registry: String,
        /// The reason, from the token server or the registry.
        reason: String,
        /// Where credentials came from (never the secret).
        credential_source: String,
        /// 401 or 403 when known.
        status: Option<u16>,
    },
    /// The request never got an answer.
    #[error("{method} {url}: {message}")]
    Network {
        /// HTTP method.
        method: String,
        /// Redacted URL.
        url: String,
        /// What the HTTP stack said, with its causes.
        message: String,
        /// A connection-level failure that may pass.
        transient: bool,
        /// Looks like an HTTPS client talking to a plain-HTTP server.
        https_to_http: bool,
    },
    /// Content did not match its digest or size.
    #[error("{what}")]
    Verify {
        /// The object.
        what: String,
        /// Size or digest mismatch.
        source: VerifyError,
    },
    /// A manifest that cannot be used.
    #[error("{what}")]
    Manifest {
        /// The object.
        what: String,
        /// Why.
        source: ManifestError,
    },
    /// The platform filter selected nothing.
    #[error("the platform filter selected nothing in {source_ref}; it has: {}", available.join(", "))]
    NothingSelected {
        /// The source reference.
        source_ref: String,
        /// Platforms the source offers.
        available: Vec<String>,
    },
    /// A requested platform is not in the source (with `--require-platforms`).
    #[error("requested platform(s) {} not found in {source_ref}{}; it has: {}", missing.join(", "), if *sparse_layout {" (this layout is sparse: those children were not copied into it)"} else {""}, available.join(", "))]
    PlatformMissing {
        /// The source reference.
        source_ref: String,
        /// Patterns that matched nothing.
        missing: Vec<String>,
        /// Platforms the source offers.
        available: Vec<String>,
        /// The source is a sparse layout.
        sparse_layout: bool,
    },
    /// The target refused the sparse index.
    #[error("{} rejects sparse indexes: it {} index {} because {}{} child manifest(s) that this copy leaves out would be missing{}{}", .0.target,
        if .0.recorded_by.is_some() { "would refuse" } else { "refused" }, .0.index,
        if .0.probe.is_some() { "at least " } else { "" }, .0.missing.len().max(1),
        if .0.missing_platforms.is_empty() { String::new() } else { format!(" ({})", .0.missing_platforms.join(", ")) },
        if .0.before_any_copy { "; no data was moved" } else { "" })]
    SparseRejected(Box<SparseRejection>),
    /// A blob or manifest that the storage does not hold.
    #[error("{what} is not in {place}{}", if *sparse { " (it is sparse or incomplete)" } else { "" })]
    Missing {
        /// The object, e.g. `manifest sha256:…`.
        what: String,
        /// The registry repository or layout.
        place: String,
        /// Whether the place may legitimately be sparse (a layout).
        sparse: bool,
    },
    /// An OCI layout problem (missing or garbled files, unknown tag).
    #[error("OCI layout {path}: {reason}")]
    Layout {
        /// The layout directory or file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A local I/O failure.
    #[error("{what}")]
    Io {
        /// The file or operation.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The target refused a manifest whose layers carry external URLs (foreign layers).
    #[error("{target} refused manifest {manifest}: it lists foreign layer(s) {} with external URLs ({}), which this registry does not allow", layers.iter().map(|d| d.short()).collect::<Vec<_>>().join(", "), urls.join(", "))]
    ForeignUrlsRejected {
        /// The target repository.
        target: String,
        /// The manifest that was refused.
        manifest: Digest,
        /// Its layers with URLs.
        layers: Vec<Digest>,
        /// Their URLs (redacted).
        urls: Vec<String>,
        /// The registry's answer.
        source: Box<Error>,
    },
    /// A delta bundle left a blob out because an inventory or the ledger said the far side holds
    /// it, and the far side does not (nor could it be mounted): the image is not applied.
    #[error("{}: blob {} ({} bytes) is not on the target{}; the bundle left it out because {}; images in this bundle that need it: {}", .0.target, .0.digest, .0.size, .0.mount_from.as_ref().map(|m| format!(" and could not be mounted from {m}")).unwrap_or_default(), .0.claim, .0.needed_by.join(", "))]
    LeftOutMissing(Box<LeftOutMissing>),
    /// `--require-signature`: no signature verifies (exit 8); `detail` lists every signature
    /// found and why each failed. Raised before anything is written.
    #[error("{image}: signature required: {detail}")]
    SignatureRequired {
        /// The source image.
        image: String,
        /// What was required, what was found, why each failed.
        detail: String,
    },
    /// Cancelled by a signal.
    #[error("interrupted")]
    Interrupted,
    /// A step retried until the policy gave up. An outer retry loop does not retry it again,
    /// so nested retries do not multiply.
    #[error("{what}: gave up after {attempts} attempts")]
    RetriesExhausted {
        /// The step, e.g. `GET manifest`.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        #[source]
        source: Box<Error>,
    },
    /// The registry asked (`Retry-After`) to wait longer than a retry waits at most: not
    /// retried, so a run does not sleep for hours on the registry's word; the hint says when to
    /// try again. An outer retry loop does not retry it either.
    #[error("{what}: the registry asked to wait {asked}, longer than the {} s a retry waits: not retried", limit.as_secs())]
    RetryAfterTooLong {
        /// The step, e.g. `GET manifest`.
        what: String,
        /// What the registry asked for.
        asked: RetryAfter,
        /// The longest `Retry-After` a retry honours.
        limit: Duration,
        /// The answer that carried it.
        #[source]
        source: Box<Error>,
    },
    /// A body that broke off before its end on every read: the first GET and each resume with
    /// `Range` (transport/resume.rs). The answers began, so the host, port and credentials are
    /// right; the registry, or a proxy in front of it, ends the transfer early. The resumes were
    /// the retries: an outer loop does not retry it again.
    #[error("{method} {what}: the body broke off before its end on all {reads} reads (the first GET and {} resumes with Range); {received} of {expected} bytes arrived", reads.saturating_sub(1))]
    BodyCutShort {
        /// HTTP method.
        method: String,
        /// The object and where from, e.g. `blob sha256:… from host/repo`.
        what: String,
        /// Reads tried.
        reads: u32,
        /// Bytes that arrived in order (the most any read reached).
        received: u64,
        /// The object's size.
        expected: u64,
        /// How the last read ended.
        #[source]
        source: Box<Error>,
    },
    /// Something that should not happen; names the invariant.
    #[error("internal error: {0}")]
    Internal(String),
    /// Context around an inner error.
    #[error("{context}")]
    Context {
        /// What was being done, naming the object.
        context: String,
        /// The cause.
        #[source]
        source: Box<Error>,
    },
}

impl From<RegistryError> for Error {
    fn from(e: RegistryError) -> Self {
        Error::Registry(Box::new(e))
    }
}

impl Error {
    /// A usage error (exit 2) without a hint of its own.
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    /// A usage error with advice.
    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// An invalid configuration file; `e` renders its own location.
    pub fn config(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        Error::Config(e.into())
    }

    /// What kind of failure this is (through contexts and retries).
    pub fn kind(&self) -> ErrorKind {
        match self.root() {
            Error::Usage { .. } => ErrorKind::Usage,
            Error::Config(_) => ErrorKind::Config,
            Error::Auth { .. } => ErrorKind::Auth,
            Error::Registry(r) if r.status == 401 || r.status == 403 => ErrorKind::Auth,
            Error::NothingSelected { .. } | Error::PlatformMissing { .. } => {
                ErrorKind::NothingSelected
            }
            Error::SparseRejected(_) => ErrorKind::Rejected,
            Error::SignatureRequired { .. } => ErrorKind::SignatureRequired,
            Error::LeftOutMissing(_) => ErrorKind::NotFound,
            Error::Interrupted => ErrorKind::Interrupted,
            Error::Missing { .. } => ErrorKind::NotFound,
            Error::Registry(r) if r.status == 404 => ErrorKind::NotFound,
            _ => ErrorKind::Failure,
        }
    }

    /// Wrap with context naming the object being worked on.
    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// The innermost error (through contexts).
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. }
            | Error::RetriesExhausted { source, .. }
            | Error::RetryAfterTooLong { source, .. } => source.root(),
            other => other,
        }
    }

    /// Whether some retry loop already gave up on this error.
    fn exhausted(&self) -> bool {
        match self {
            Error::RetriesExhausted { .. } | Error::RetryAfterTooLong { .. } => true,
            Error::Context { source, .. } => source.exhausted(),
            _ => false,
        }
    }

    /// The documented exit code for this error ([`ErrorKind::exit_code`] of its kind).
    pub fn exit_code(&self) -> u8 {
        self.kind().exit_code()
    }

    /// Whether the root cause is "the source does not have it" (404 or a missing layout file).
    pub fn is_missing(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// Whether retrying the same idempotent step may succeed.
    pub fn is_transient(&self) -> bool {
        if self.exhausted() {
            return false;
        }
        match self.root() {
            Error::Registry(r) => r.is_transient(),
            Error::Network { transient, .. } => *transient,
            Error::Verify {
                source: VerifyError::Source(_),
                ..
            } => true,
            _ => false,
        }
    }

    /// [`is_transient`](Self::is_transient), or bytes received over the network that failed
    /// their digest or size check: a short or damaged body in transit looks exactly like that.
    pub fn is_transient_or_damaged(&self) -> bool {
        self.is_transient() || (!self.exhausted() && matches!(self.root(), Error::Verify { .. }))
    }

    /// `Retry-After` from the registry, if any.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self.root() {
            Error::Registry(r) => r.retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_walk_context() {
        let e = Error::Interrupted.context("copying blob x");
        assert_eq!(e.exit_code(), exit::INTERRUPTED);
        let r = RegistryError {
            method: "HEAD".into(),
            url: "http://h/v2/".into(),
            status: 401,
            errors: vec![],
            body: None,
            retry_after: None,
        };
        let e = Error::from(r).context("checking");
        assert_eq!(e.exit_code(), exit::AUTH);
        assert!(e.root().to_string().contains("HEAD response has no body"));
    }

    /// Every kind maps to the exit code docs/exit-codes.md documents for it.
    #[test]
    fn every_kind_has_its_documented_exit_code() {
        let doc = include_str!("../docs/exit-codes.md");
        let expected = |k: ErrorKind| match k {
            ErrorKind::Usage | ErrorKind::Config => "USAGE",
            ErrorKind::Auth => "AUTH",
            ErrorKind::NothingSelected => "NOTHING_SELECTED",
            ErrorKind::Rejected => "SPARSE_REJECTED",
            ErrorKind::SignatureRequired => "SIGNATURE_REQUIRED",
            ErrorKind::Interrupted => "INTERRUPTED",
            ErrorKind::NotFound | ErrorKind::Failure => "FAILURE",
        };
        for k in ErrorKind::ALL {
            let code = k.exit_code();
            let name = exit::ALL
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, n)| *n)
                .unwrap_or_else(|| panic!("{k:?}: code {code} not in exit::ALL"));
            assert_eq!(name, expected(k), "{k:?}");
            assert!(
                doc.contains(&format!("| {code} | {name} |")),
                "docs/exit-codes.md lacks | {code} | {name} | for {k:?}"
            );
        }
    }

    #[test]
    fn kinds_of_each_error() {
        let reg = |status| {
            Error::from(RegistryError {
                method: "GET".into(),
                url: "http://h/v2/a/manifests/v1".into(),
                status,
                errors: vec![],
                body: None,
                retry_after: None,
            })
        };
        assert_eq!(Error::usage("bad").kind(), ErrorKind::Usage);
        let cfg = Error::config(std::io::Error::other("mirror.yaml:3:5: images[0]: bad"));
        assert_eq!(cfg.kind(), ErrorKind::Config);
        assert_eq!(cfg.to_string(), "mirror.yaml:3:5: images[0]: bad");
        assert!(cfg.hints()[0].contains("nothing was run"));
        assert_eq!(reg(403).context("x").kind(), ErrorKind::Auth);
        assert_eq!(reg(404).kind(), ErrorKind::NotFound);
        assert_eq!(reg(500).kind(), ErrorKind::Failure);
        assert_eq!(
            Error::Interrupted.context("copying").kind(),
            ErrorKind::Interrupted
        );
        assert_eq!(
            Error::usage_hint("m", "try this").hints(),
            vec!["try this".to_string()]
        );
    }
}
