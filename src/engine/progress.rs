//! Progress events: how the engine tells the outside world what it is doing.
//!
//! The engine never prints. It calls [`Reporter::event`], which must be cheap and non-blocking;
//! the CLI decides whether that becomes progress bars, log lines or nothing.

use crate::model::digest::Digest;

/// How a blob reached the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlobOutcome {
    /// Already there (HEAD).
    Existing,
    /// Mounted from another repository of the same registry.
    Mounted,
    /// Streamed from the source.
    Copied,
}

/// Something the engine did or noticed.
#[derive(Debug, Clone)]
pub enum Event {
    /// A stage starts, e.g. "resolving", "preflight", "blobs", "manifests", "index".
    Stage(&'static str),
    /// The number and size of blobs the plan needs.
    BlobsPlanned {
        /// Count.
        count: usize,
        /// Total bytes.
        bytes: u64,
    },
    /// A blob transfer started.
    BlobStarted {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// Bytes of a blob passed through.
    BlobBytes {
        /// The blob.
        digest: Digest,
        /// Bytes in this step.
        n: u64,
    },
    /// A blob is on the target.
    BlobDone {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// How.
        outcome: BlobOutcome,
    },
    /// A manifest was written.
    ManifestPushed {
        /// Its digest.
        digest: Digest,
        /// The tag, when pushed by tag.
        tag: Option<String>,
    },
    /// Something the user should know; also collected into the report.
    Warning(String),
    /// Informational.
    Info(String),
}

/// Receives events. Implementations must not block.
pub trait Reporter: Send + Sync {
    /// Handle one event.
    fn event(&self, e: Event);
}

/// Discards everything.
pub struct NullReporter;

impl Reporter for NullReporter {
    fn event(&self, _e: Event) {}
}
