//! The sparse-index preflight: does the target registry accept this sparse index? Settled
//! before a single blob moves, so `--on-reject` applies to an untouched target.
//!
//! 1. PUT the unmodified index by digest, untagged. Accepted: the registry takes sparse indexes.
//!    Refused naming a child this copy leaves out (or naming none): the registry refuses sparse
//!    indexes (distribution 2.x names every missing child, zot names none).
//! 2. Refused naming only *selected* children: not settled yet. They are missing because nothing
//!    was copied so far, and the registry may have stopped at the first missing child
//!    (go-containerregistry names only the first one in document order). So PUT a **probe**
//!    index, by digest and untagged, that lists only the children this copy leaves out (the
//!    root's direct children, descriptors verbatim; no `subject`, no annotations of the root).
//!    - Refused with a missing-child error: conclusive. The final push would fail the same way.
//!    - Accepted: the registry lets those children be missing (distribution v3
//!      `platforms: list` when no listed platform is left out; any registry that already holds
//!      them). The selected children are copied before the final push, so it succeeds.
//!    - Any other answer: inconclusive, the final push decides (as before the probe existed).
//!
//! Neither PUT writes a tag. An accepted probe stays behind as an untagged index (digest in the
//! `-v` log) for the registry's garbage collection; see docs/registries.md.

use std::collections::HashSet;

use bytes::Bytes;

use crate::engine::copy::reject::rejection_digests;
use crate::engine::plan::Plan;
use crate::engine::progress::{Event, Reporter};
use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::RawManifest;
use crate::transport::Storage;

/// What the preflight found.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The registry will accept the sparse index once the selected children are there.
    Accepted,
    /// The registry refuses it; `error` is the refusal to report (the probe's when `probe` is set).
    Rejected {
        /// The registry's refusal.
        error: Error,
        /// The probe index whose refusal settled it.
        probe: Option<Digest>,
    },
    /// Not settled; the final push decides.
    Inconclusive,
}

/// How one refusal reads, given which children the copy leaves out.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Not a missing-child refusal (network, 5xx, …).
    Other,
    /// It names a child this copy leaves out, or names none: the registry refuses sparse indexes.
    Refuses,
    /// It names only children this copy will push.
    NamesOnlySelected,
}

/// Read a refusal of an index PUT.
pub(crate) fn read(e: &Error, skipped: &HashSet<&Digest>) -> Reading {
    match rejection_digests(e) {
        None => Reading::Other,
        Some(named) if named.is_empty() || named.iter().any(|d| skipped.contains(d)) => {
            Reading::Refuses
        }
        Some(_) => Reading::NamesOnlySelected,
    }
}

/// The probe index: the root's media type and `schemaVersion`, and only the root's direct
/// children that this copy leaves out, as listed. `None` when there are none (every skipped
/// entry sits in a nested index) or the root does not parse.
pub(crate) fn probe_index(plan: &Plan) -> Option<RawManifest> {
    let skipped: HashSet<&Digest> = plan
        .skipped()
        .filter(|e| e.depth == 1)
        .map(|e| &e.descriptor.digest)
        .collect();
    if skipped.is_empty() {
        return None;
    }
    let root: serde_json::Value = serde_json::from_slice(&plan.root.bytes).ok()?;
    let manifests: Vec<serde_json::Value> = root
        .get("manifests")?
        .as_array()?
        .iter()
        .filter(|m| {
            m.get("digest")
                .and_then(|d| d.as_str())
                .and_then(|d| d.parse::<Digest>().ok())
                .is_some_and(|d| skipped.contains(&d))
        })
        .cloned()
        .collect();
    if manifests.is_empty() {
        return None;
    }
    let mut probe = serde_json::Map::new();
    probe.insert("schemaVersion".into(), serde_json::json!(2));
    if let Some(mt) = root.get("mediaType") {
        probe.insert("mediaType".into(), mt.clone());
    }
    probe.insert("manifests".into(), serde_json::Value::Array(manifests));
    let bytes = Bytes::from(serde_json::to_vec(&serde_json::Value::Object(probe)).ok()?);
    Some(RawManifest {
        digest: Digest::sha256_of(&bytes),
        bytes,
        media_type: plan.root.media_type.clone(),
    })
}

/// Run the preflight for a sparse `plan` against the registry `dst`. Errors only on
/// authentication failures (they would stop the copy anyway).
pub(crate) async fn run<E: Storage>(
    dst: &E,
    plan: &Plan,
    reporter: &dyn Reporter,
) -> Result<Verdict> {
    let skipped: HashSet<&Digest> = plan.skipped().map(|e| &e.descriptor.digest).collect();
    let first = match dst.push_manifest(&plan.root, None).await {
        Ok(_) => {
            reporter.event(Event::Info(format!(
                "{} accepts sparse indexes (preflight PUT by digest succeeded)",
                dst.describe()
            )));
            return Ok(Verdict::Accepted);
        }
        Err(e) => e,
    };
    match read(&first, &skipped) {
        Reading::Refuses => {
            return Ok(Verdict::Rejected {
                error: first,
                probe: None,
            })
        }
        Reading::Other => return inconclusive(first, plan, dst, reporter),
        Reading::NamesOnlySelected => {}
    }
    let Some(probe) = probe_index(plan) else {
        reporter.event(Event::Info(format!(
            "preflight: {} named only selected children and no unselected child is listed by the root; the final push decides",
            dst.describe()
        )));
        return Ok(Verdict::Inconclusive);
    };
    reporter.event(Event::Info(format!(
        "preflight: {} named only selected children ({first}); probing with index {} that lists only the children this copy leaves out",
        dst.describe(),
        probe.digest
    )));
    match dst.push_manifest(&probe, None).await {
        Ok(_) => {
            reporter.event(Event::Info(format!(
                "{} accepted probe index {} (untagged): it lets the children this copy leaves out be missing",
                dst.describe(),
                probe.digest
            )));
            Ok(Verdict::Accepted)
        }
        Err(e) => match read(&e, &skipped) {
            Reading::Refuses => Ok(Verdict::Rejected {
                error: e,
                probe: Some(probe.digest),
            }),
            _ => inconclusive(e, plan, dst, reporter),
        },
    }
}

fn inconclusive<E: Storage>(
    e: Error,
    plan: &Plan,
    dst: &E,
    reporter: &dyn Reporter,
) -> Result<Verdict> {
    if e.kind() == crate::error::ErrorKind::Auth {
        return Err(e.context(format!(
            "preflight push of index {} to {}",
            plan.root.digest,
            dst.describe()
        )));
    }
    reporter.event(Event::Info(format!(
        "preflight was inconclusive ({e}); the final push decides"
    )));
    Ok(Verdict::Inconclusive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{plan, Inputs, Outcome};
    use crate::engine::select::Selector;
    use crate::error::{OciError, RegistryError};
    use crate::model::platform::PlatformFilter;
    use std::collections::HashMap;

    fn raw(s: &str) -> RawManifest {
        let b = Bytes::from(s.to_string());
        let d = Digest::sha256_of(&b);
        RawManifest::from_bytes(b, d, None).unwrap()
    }

    fn planned(text: &str, patterns: &[&str]) -> Plan {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let root = raw(v["root"].as_str().unwrap());
        let fetched: HashMap<Digest, RawManifest> = v["children"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, t)| (k.parse().unwrap(), raw(t.as_str().unwrap())))
            .collect();
        let absent = HashSet::new();
        let inputs = Inputs {
            fetched: &fetched,
            absent: &absent,
            root_platform: None,
            source_ref: "src",
        };
        let sel = Selector {
            platforms: PlatformFilter::parse(patterns).unwrap(),
            ..Selector::all()
        };
        match plan(&root, &sel, &inputs).unwrap() {
            Outcome::Complete(p) => *p,
            Outcome::Need(n) => panic!("fixture lacks {n:?}"),
        }
    }

    const OCI: &str = include_str!("../../tests/fixtures/manifests/oci-index-attestations.json");
    const DOCKER: &str = include_str!("../../tests/fixtures/manifests/docker-list.json");

    fn listed(m: &RawManifest) -> Vec<Digest> {
        let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
        v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["digest"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn probe_lists_exactly_the_left_out_children_in_document_order() {
        for text in [OCI, DOCKER] {
            let p = planned(text, &["linux/amd64"]);
            let probe = probe_index(&p).expect("a sparse plan has a probe");
            let want: Vec<Digest> = p
                .skipped()
                .filter(|e| e.depth == 1)
                .map(|e| e.descriptor.digest.clone())
                .collect();
            assert!(!want.is_empty());
            assert_eq!(listed(&probe), want);
            assert_eq!(probe.media_type, p.root.media_type);
            assert_eq!(probe.digest, Digest::sha256_of(&probe.bytes));
            assert_ne!(probe.digest, p.root.digest);
            // It parses as the root's kind of index and carries no subject or annotations.
            let again = RawManifest::from_bytes(
                probe.bytes.clone(),
                probe.digest.clone(),
                Some(&probe.media_type),
            )
            .unwrap();
            assert!(again.is_index());
            let v: serde_json::Value = serde_json::from_slice(&probe.bytes).unwrap();
            assert!(v.get("subject").is_none() && v.get("annotations").is_none());
            // Descriptors are copied verbatim (platform, annotations).
            let root: serde_json::Value = serde_json::from_slice(&p.root.bytes).unwrap();
            for d in v["manifests"].as_array().unwrap() {
                assert!(root["manifests"].as_array().unwrap().contains(d));
            }
        }
    }

    #[test]
    fn a_full_plan_has_no_probe() {
        let p = planned(OCI, &[]);
        assert!(!p.sparse);
        assert!(probe_index(&p).is_none());
    }

    fn refusal(status: u16, code: &str, message: &str) -> Error {
        Error::Registry(Box::new(RegistryError {
            method: "PUT".into(),
            url: "http://127.0.0.1:1/v2/a/manifests/sha256:x".into(),
            status,
            errors: vec![OciError {
                code: code.into(),
                message: message.into(),
                detail: None,
            }],
            body: None,
            retry_after: None,
        }))
    }

    #[test]
    fn refusals_read_by_what_they_name() {
        let p = planned(OCI, &["linux/amd64"]);
        let skipped: HashSet<&Digest> = p.skipped().map(|e| &e.descriptor.digest).collect();
        let selected = &p.manifests[0].digest;
        let left_out = p.skipped().next().unwrap().descriptor.digest.to_string();
        let ggcr = |d: &str| {
            refusal(
                404,
                "MANIFEST_UNKNOWN",
                &format!("Sub-manifest \"{d}\" not found"),
            )
        };
        assert_eq!(
            read(&ggcr(&selected.to_string()), &skipped),
            Reading::NamesOnlySelected
        );
        assert_eq!(read(&ggcr(&left_out), &skipped), Reading::Refuses);
        assert_eq!(
            read(
                &refusal(400, "MANIFEST_INVALID", "manifest invalid"),
                &skipped
            ),
            Reading::Refuses,
            "zot names no digest"
        );
        assert_eq!(
            read(&refusal(503, "UNAVAILABLE", "busy"), &skipped),
            Reading::Other
        );
    }
}
