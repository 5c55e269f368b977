//! A sync entry's work items: its tags (listing the source where the rules need it) and digest
//! pins, each with the source and target it names; `--bundle` points them at the bundle's layout.

use crate::app::bundle::near::layout_ref;
use crate::app::sync::config::{self, Config};
use crate::app::sync::endpoints::Endpoints;
use crate::app::sync::refresh::WorkItem;
use crate::error::{Error, Result};
use crate::model::reference::ImageRef;
use crate::transport::Storage;

/// How reports name a side: `registry/repository` or `oci:DIR`.
pub fn source_name(r: &ImageRef) -> String {
    match r {
        ImageRef::Registry(rr) => rr.name(),
        ImageRef::Layout(l) => format!("oci:{}", l.path.display()),
    }
}

/// The ref name an OCI-layout target gets for `tag` (`full`: `REGISTRY/REPO:TAG`).
fn target_ref_name(cfg: &Config, i: usize, tag: &str) -> String {
    let img = &cfg.images[i];
    match (&img.target.reference, cfg.settings(i).layout_ref_name) {
        (ImageRef::Layout(_), config::LayoutRefName::Full) => {
            format!("{}:{tag}", source_name(&img.source.reference))
        }
        _ => tag.to_string(),
    }
}

/// An entry's work items and the source tags listed for them.
pub(crate) type Expanded = (Vec<WorkItem>, Vec<String>);

/// Expand image `i` into work items (listing the source's tags when its rules need them), and
/// the tags listed (empty when the rules list nothing), which `--prune` plans with.
pub(crate) async fn expand(cfg: &Config, i: usize, eps: &Endpoints) -> Result<Expanded> {
    let img = &cfg.images[i];
    let name = source_name(&img.source.reference);
    let target = source_name(&img.target.reference);
    let available = if img.tags.needs_listing() {
        let src = eps.source(&img.source.reference).await?;
        let tags = src
            .list_tags()
            .await
            .map_err(|e| e.context(format!("listing the tags of {name}")))?;
        if tags.is_empty() {
            return Err(Error::Missing {
                what: format!("repository {name}"),
                place: "its registry (tags/list answered 404 or listed no tag)".into(),
                sparse: false,
            });
        }
        tags
    } else {
        vec![]
    };
    let mut items = vec![];
    for t in img.tags.select(&available) {
        let (source_reference, source_text) = match &t.pin {
            Some(d) => (d.to_string(), format!("{name}:{}@{d}", t.tag)),
            None => (t.tag.clone(), format!("{name}:{}", t.tag)),
        };
        let ref_name = target_ref_name(cfg, i, &t.tag);
        items.push(WorkItem {
            image: i,
            source_reference,
            target_reference: ref_name.clone(),
            target_tag: Some(ref_name.clone()),
            source_text,
            target_text: format!("{target}:{ref_name}"),
            key: format!("{name}:{}", t.tag),
        });
    }
    for d in &img.tags.digests {
        items.push(WorkItem {
            image: i,
            source_reference: d.to_string(),
            target_reference: d.to_string(),
            target_tag: None,
            source_text: format!("{name}@{d}"),
            target_text: format!("{target}@{d}"),
            key: format!("{name}@{d}"),
        });
    }
    Ok((items, available))
}

/// Point a work item at the bundle's layout: its entry's ref name is the far target
/// (`host/repo:tag`, or `host/repo@digest` for a pin), and reports name the far target.
pub fn bundle_item(it: &mut WorkItem, far: &ImageRef) {
    let (lref, text) = match &it.target_tag {
        Some(_) => {
            let tag = it.key.rsplit_once(':').map_or("latest", |(_, t)| t);
            (
                layout_ref(far, Some(tag), None),
                format!("{}:{tag}", source_name(far)),
            )
        }
        None => {
            let d = it.target_reference.parse().ok();
            (
                layout_ref(far, None, d.as_ref()),
                format!("{}@{}", source_name(far), it.target_reference),
            )
        }
    };
    it.target_tag = Some(lref.clone());
    it.target_reference = lref;
    it.target_text = text;
}
