//! The gateway step (`--sign-key`, docs/signatures.md): once the image is complete on the
//! target, sign the digest the target reference resolves to (the source's index, a sparse or a
//! filtered one, or a single manifest) and, with `--sign-children`, each copied child image
//! manifest, with the site key. A dry run says what would be signed and writes nothing.

use std::sync::Arc;

use crate::engine::copy::types::descriptor_of;
use crate::engine::image::job::{ImageJob, ImageOutcome};
use crate::engine::progress::{Event, Reporter};
use crate::engine::signature::payload::{Provenance, Relation};
use crate::engine::signature::publish::{sign_subject, Signed, SiteSigning};
use crate::engine::signature::sign::Subject;
use crate::engine::signature::subjects;
use crate::error::Result;
use crate::model::digest::Digest;
use crate::model::manifest::Descriptor;
use crate::transport::storage::Storage;

/// The target repository without tag or digest: the payload's `docker-reference`.
pub fn repository(target: &str) -> &str {
    let t = target.split_once('@').map_or(target, |(r, _)| r);
    match (t.rfind(':'), t.rfind('/')) {
        (Some(c), Some(s)) if c > s => &t[..c],
        (Some(c), None) => &t[..c],
        _ => t,
    }
}

/// The root the target reference names: the copy's (filtered) root when that is it, else read
/// from the target.
async fn root<E: Storage>(dst: &Arc<E>, out: &ImageOutcome, at: &Digest) -> Result<Descriptor> {
    let copied = out.copy.as_ref().map(|c| &c.plan.root);
    match [copied, Some(&out.plan.root)]
        .into_iter()
        .flatten()
        .find(|m| &m.digest == at)
    {
        Some(m) => Ok(descriptor_of(m)),
        None => Ok(descriptor_of(&dst.fetch_manifest(at.as_str(), None).await?)),
    }
}

/// Signs (or, `dry_run`, looks at) what `out` left on `dst`.
pub async fn sign_image<E: Storage>(
    job: &ImageJob,
    site: &SiteSigning,
    dst: &Arc<E>,
    out: &ImageOutcome,
    dry_run: bool,
    reporter: &Arc<dyn Reporter>,
) -> Result<Vec<Signed>> {
    let at = match out.after.resolves_to() {
        Some(d) => d.clone(),
        // Dry run on a target that lacks the image: the root the copy would push.
        None => out.plan.root.digest.clone(),
    };
    reporter.event(Event::Stage("signing"));
    let root = root(dst, out, &at).await?;
    let mut platforms: Vec<String> = vec![];
    if out.plan.root.is_index() {
        for e in out.plan.entries.iter().filter(|e| e.decision.is_copy()) {
            let p = e.platform_text();
            if p != "-" && p != "unknown/unknown" && !platforms.contains(&p) {
                platforms.push(p);
            }
        }
    }
    let keys_for = |d: &Digest| -> Vec<String> {
        let own: Vec<String> = out
            .signatures
            .iter()
            .filter(|v| &v.subject == d)
            .filter_map(upstream_signer)
            .collect();
        if own.is_empty() {
            out.signatures
                .iter()
                .filter(|v| v.subject == out.source_digest)
                .filter_map(upstream_signer)
                .collect()
        } else {
            own
        }
    };
    let provenance = |d: &Digest, relation| Provenance {
        source: job.source_text.clone(),
        source_digest: out.source_digest.clone(),
        relation,
        upstream_keys: keys_for(d),
        platforms: platforms.clone(),
    };
    let mut todo = vec![(
        root.clone(),
        provenance(
            &out.source_digest,
            if at == out.source_digest {
                Relation::Same
            } else {
                Relation::Filtered
            },
        ),
    )];
    if site.children && out.plan.root.is_index() {
        for c in subjects(&out.plan) {
            let entry = out.plan.entries.iter().find(|e| e.descriptor.digest == c);
            if let Some(e) = entry {
                todo.push((e.descriptor.clone(), provenance(&c, Relation::Child)));
            }
        }
    }
    let repo = repository(&job.target_text);
    let mut signed = vec![];
    for (d, p) in &todo {
        let s = Subject {
            descriptor: d,
            repository: repo,
            provenance: p,
        };
        let r = sign_subject(
            dst,
            &site.key,
            site.format,
            &s,
            &site.created,
            dry_run,
            reporter,
        )
        .await?;
        signed.extend(r);
    }
    Ok(signed)
}

/// How the provenance names an upstream signer: a key's fingerprint, or for a keyless signature
/// its certificate identity and issuer (`identity issuer`).
fn upstream_signer(v: &crate::engine::signature::Verified) -> Option<String> {
    match (&v.key_fingerprint, &v.identity, &v.issuer) {
        (Some(k), _, _) => Some(k.clone()),
        (None, Some(i), Some(iss)) => Some(format!("{i} {iss}")),
        (None, Some(i), None) => Some(i.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::repository;

    #[test]
    fn repository_drops_tag_and_digest_but_not_the_port() {
        assert_eq!(repository("reg:5000/org/app:v1"), "reg:5000/org/app");
        assert_eq!(repository("reg:5000/org/app"), "reg:5000/org/app");
        assert_eq!(repository("reg/org/app@sha256:abcd"), "reg/org/app");
        assert_eq!(repository("app:v1"), "app");
        assert_eq!(repository("oci:/mnt/usb/app:v1"), "oci:/mnt/usb/app");
    }
}
