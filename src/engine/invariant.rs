//! The ordering invariant, checked in code: a tag is written only after everything it
//! references (in the selection) is confirmed present on the target.
//!
//! `copy.rs` records in a [`Confirmed`] every blob it found, mounted or uploaded and every child
//! manifest it found (HEAD) or pushed, and calls [`Confirmed::check_before_tag`] right before the
//! tag (or root-by-digest) PUT. The check costs no request: it compares what the copy itself
//! observed with the plan. Should a future change reorder the steps, the copy stops with an
//! internal error naming the missing objects instead of moving a tag to an incomplete image.

use std::collections::HashSet;

use crate::engine::plan::Plan;
use crate::error::{Error, Result};
use crate::model::digest::Digest;

/// Blobs and manifests confirmed on the target during this copy.
#[derive(Debug, Clone, Default)]
pub struct Confirmed {
    blobs: HashSet<Digest>,
    manifests: HashSet<Digest>,
}

impl Confirmed {
    /// A blob is on the target (found, mounted or uploaded).
    pub fn blob(&mut self, d: &Digest) {
        self.blobs.insert(d.clone());
    }

    /// A manifest is on the target (found or pushed).
    pub fn manifest(&mut self, d: &Digest) {
        self.manifests.insert(d.clone());
    }

    /// `Ok` when every blob and child manifest of `plan` is confirmed; otherwise an internal
    /// error naming what is missing (the tag must not be written).
    pub fn check_before_tag(&self, plan: &Plan) -> Result<()> {
        let blobs: Vec<&Digest> = plan
            .blobs
            .iter()
            .map(|b| &b.digest)
            .filter(|d| !self.blobs.contains(*d))
            .collect();
        let manifests: Vec<&Digest> = plan
            .manifests
            .iter()
            .map(|m| &m.digest)
            .filter(|d| !self.manifests.contains(*d))
            .collect();
        if blobs.is_empty() && manifests.is_empty() {
            return Ok(());
        }
        let list = |v: &[&Digest]| {
            v.iter()
                .take(5)
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Error::Internal(format!(
            "ordering invariant: about to write the tag for {} while {} blob(s) [{}] and {} child manifest(s) [{}] are not confirmed on the target; nothing was tagged",
            plan.root.digest,
            blobs.len(),
            list(&blobs),
            manifests.len(),
            list(&manifests)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::manifest::{Descriptor, RawManifest};
    use bytes::Bytes;

    fn raw(s: &str) -> RawManifest {
        let bytes = Bytes::from(s.to_string());
        RawManifest {
            digest: Digest::sha256_of(&bytes),
            bytes,
            media_type: crate::model::media::OCI_MANIFEST.into(),
        }
    }

    fn plan() -> Plan {
        let child = raw(r#"{"config":{}}"#);
        let blob = Descriptor {
            media_type: "x".into(),
            digest: Digest::sha256_of(b"layer"),
            size: 5,
            platform: None,
            artifact_type: None,
            annotations: Default::default(),
            urls: vec![],
        };
        Plan {
            root: raw(r#"{"manifests":[]}"#),
            entries: vec![],
            manifests: vec![child],
            manifest_blobs: Default::default(),
            blobs: vec![blob],
            foreign: vec![],
            foreign_included: vec![],
            sparse: false,
            unmatched: vec![],
            available: vec![],
            unread: vec![],
        }
    }

    #[test]
    fn refuses_the_tag_until_everything_is_confirmed() {
        let p = plan();
        let mut c = Confirmed::default();
        let e = c.check_before_tag(&p).unwrap_err().to_string();
        assert!(
            e.contains("1 blob(s)") && e.contains("1 child manifest(s)"),
            "{e}"
        );
        c.blob(&p.blobs[0].digest);
        let e = c.check_before_tag(&p).unwrap_err().to_string();
        assert!(e.contains(p.manifests[0].digest.as_str()), "{e}");
        c.manifest(&p.manifests[0].digest);
        c.check_before_tag(&p).unwrap();
    }
}
