//! The target-state decision against an in-memory storage (counting its requests) and a real
//! OCI layout, and the use case's write path on layouts.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use super::state::{self, ReadArgs, TargetState};
use super::*;
use crate::engine::copy::types::OnReject;
use crate::engine::plan;
use crate::engine::progress::Event;
use crate::engine::select::Selector;
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::model::platform::PlatformFilter;
use crate::transport::layout::Layout;
use crate::transport::retry::RetryPolicy;
use crate::transport::BlobBody;

mod fake;
use fake::Fake;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn raw(text: String) -> RawManifest {
    let b = Bytes::from(text);
    let d = Digest::sha256_of(&b);
    RawManifest::from_bytes(b, d, None).unwrap()
}

/// A three-platform index, its image manifests and their blobs.
struct Image {
    index: RawManifest,
    children: Vec<(String, RawManifest)>,
    blobs: Vec<(Descriptor, Bytes)>,
}

impl Image {
    fn child(&self, platform: &str) -> &RawManifest {
        &self.children.iter().find(|(p, _)| p == platform).unwrap().1
    }
}

fn blob(media_type: &str, bytes: Vec<u8>) -> (Descriptor, Bytes) {
    let d = Descriptor {
        media_type: media_type.into(),
        digest: Digest::sha256_of(&bytes),
        size: bytes.len() as u64,
        platform: None,
        artifact_type: None,
        annotations: Default::default(),
        urls: vec![],
    };
    (d, Bytes::from(bytes))
}

fn image() -> Image {
    let mut children = vec![];
    let mut blobs = vec![];
    let mut entries = vec![];
    for (os, arch) in [("linux", "amd64"), ("linux", "arm64"), ("linux", "s390x")] {
        let config = blob(
            "application/vnd.oci.image.config.v1+json",
            format!(r#"{{"architecture":"{arch}","os":"{os}"}}"#).into_bytes(),
        );
        let layer = blob(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            format!("layer of {os}/{arch}").into_bytes(),
        );
        let m = raw(format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{}","digest":"{}","size":{}}},"layers":[{{"mediaType":"{}","digest":"{}","size":{}}}]}}"#,
            config.0.media_type,
            config.0.digest,
            config.0.size,
            layer.0.media_type,
            layer.0.digest,
            layer.0.size
        ));
        entries.push(format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"{arch}","os":"{os}"}}}}"#,
            m.digest,
            m.bytes.len()
        ));
        children.push((format!("{os}/{arch}"), m));
        blobs.push(config);
        blobs.push(layer);
    }
    let index = raw(format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    ));
    Image {
        index,
        children,
        blobs,
    }
}

/// Store `img` (the children whose platform `with` accepts), and tag `index` as v1.
async fn seed<S: Storage>(s: &S, img: &Image, with: &[&str], index: &RawManifest) {
    for (d, b) in &img.blobs {
        s.push_blob(
            d,
            BlobBody {
                size: d.size,
                stream: futures_util::stream::iter(vec![Ok(b.clone())]).boxed(),
            },
        )
        .await
        .unwrap();
    }
    for (p, m) in &img.children {
        if with.contains(&p.as_str()) {
            s.push_manifest(m, None).await.unwrap();
        }
    }
    s.push_manifest(index, Some("v1")).await.unwrap();
    s.finish().await.unwrap();
}

fn selector(platforms: &[&str]) -> Selector {
    Selector {
        platforms: PlatformFilter::parse(platforms).unwrap(),
        ..Selector::all()
    }
}

async fn read<E: Storage>(
    src: &Arc<E>,
    dst: &Arc<E>,
    sd: &Digest,
    platforms: &[&str],
) -> TargetState {
    let sel = selector(platforms);
    let r = state::read(
        src,
        Some(dst),
        &ReadArgs {
            source_reference: "v1",
            target_tag: Some("v1"),
            selector: &sel,
            source_text: "src:v1",
            jobs: 4,
            cache: None,
            gate: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(&r.source_digest, sd);
    r.state
}

/// The index `--on-reject filter` makes of `img` for `platforms`.
fn filtered(img: &Image, platforms: &[&str]) -> RawManifest {
    let children: HashMap<Digest, RawManifest> = img
        .children
        .iter()
        .map(|(_, m)| (m.digest.clone(), m.clone()))
        .collect();
    let absent = Default::default();
    let inputs = plan::Inputs {
        fetched: &children,
        absent: &absent,
        root_platform: None,
        source_ref: "src:v1",
    };
    let plan::Outcome::Complete(p) = plan::plan(&img.index, &selector(platforms), &inputs).unwrap()
    else {
        panic!("incomplete plan")
    };
    plan::filtered_indexes(&p).unwrap().0
}

async fn pair() -> (Image, Arc<Fake>, Arc<Fake>) {
    let img = image();
    let src = Arc::new(Fake::default());
    seed(
        src.as_ref(),
        &img,
        &["linux/amd64", "linux/arm64", "linux/s390x"],
        &img.index,
    )
    .await;
    src.requests();
    (img, src, Arc::new(Fake::default()))
}

#[tokio::test]
async fn absent_when_the_target_tag_resolves_to_nothing() {
    let (img, src, dst) = pair().await;
    let s = read(&src, &dst, &img.index.digest, &["linux/amd64"]).await;
    assert_eq!(s, TargetState::Absent);
    assert_eq!(s.resolves_to(), None);
    assert!(!s.is_complete(OnReject::Filter));
}

/// The tag names the source index and the selected child is there: current, read with one HEAD
/// of the tag, one GET of the index and one HEAD per selected child (none from the source).
#[tokio::test]
async fn current_costs_one_index_get_and_a_head_per_selected_child() {
    let (img, src, dst) = pair().await;
    seed(dst.as_ref(), &img, &["linux/amd64"], &img.index).await;
    dst.requests();
    let s = read(&src, &dst, &img.index.digest, &["linux/amd64"]).await;
    assert_eq!(
        s,
        TargetState::Current {
            digest: img.index.digest.clone()
        }
    );
    assert!(s.is_complete(OnReject::Fail));
    let amd64 = img.child("linux/amd64").digest.to_string();
    assert_eq!(
        dst.requests(),
        vec![
            ("HEAD", "v1".to_string()),
            ("GET", img.index.digest.to_string()),
            ("HEAD", amd64),
        ]
    );
    assert_eq!(
        src.requests(),
        vec![("HEAD", "v1".to_string())],
        "the source is asked one HEAD"
    );
}

#[tokio::test]
async fn filtered_current_names_both_digests_and_is_complete_only_under_filter() {
    let (img, src, dst) = pair().await;
    let f = filtered(&img, &["linux/amd64"]);
    assert_ne!(f.digest, img.index.digest);
    seed(dst.as_ref(), &img, &["linux/amd64"], &f).await;
    dst.requests();
    let s = read(&src, &dst, &img.index.digest, &["linux/amd64"]).await;
    assert_eq!(
        s,
        TargetState::Filtered {
            source_digest: img.index.digest.clone(),
            filtered_digest: f.digest.clone()
        }
    );
    assert_eq!(s.resolves_to(), Some(&f.digest));
    assert!(s.is_complete(OnReject::Filter));
    assert!(!s.is_complete(OnReject::Fail));
    assert!(!s.is_complete(OnReject::Full));
    // The filtered index is recognised by its digest: no GET on the target, one HEAD per child.
    let amd64 = img.child("linux/amd64").digest.to_string();
    assert_eq!(
        dst.requests(),
        vec![("HEAD", "v1".to_string()), ("HEAD", amd64)]
    );
    let text = s.describe();
    assert!(
        text.contains(f.digest.as_str()) && text.contains(img.index.digest.as_str()),
        "{text}"
    );
}

#[tokio::test]
async fn a_deleted_child_is_named_with_its_platform() {
    let (img, src, dst) = pair().await;
    seed(
        dst.as_ref(),
        &img,
        &["linux/amd64", "linux/arm64"],
        &img.index,
    )
    .await;
    let victim = img.child("linux/arm64").digest.clone();
    dst.delete(&victim);
    let s = read(
        &src,
        &dst,
        &img.index.digest,
        &["linux/amd64", "linux/arm64"],
    )
    .await;
    assert_eq!(
        s,
        TargetState::MissingChildren {
            source_digest: img.index.digest.clone(),
            holds: img.index.digest.clone(),
            missing: vec![MissingChild {
                digest: victim,
                platform: Some("linux/arm64".into())
            }]
        }
    );
    assert!(!s.is_complete(OnReject::Filter));
}

#[tokio::test]
async fn a_deleted_child_of_a_filtered_index_is_missing_too() {
    let (img, src, dst) = pair().await;
    let f = filtered(&img, &["linux/amd64"]);
    seed(dst.as_ref(), &img, &["linux/amd64"], &f).await;
    dst.delete(&img.child("linux/amd64").digest);
    let s = read(&src, &dst, &img.index.digest, &["linux/amd64"]).await;
    match s {
        TargetState::MissingChildren { holds, missing, .. } => {
            assert_eq!(holds, f.digest);
            assert_eq!(missing.len(), 1);
        }
        other => panic!("{other:?}"),
    }
}

/// A platform added to the selection: on a sparse mirror of the original index its child is
/// missing; a filtered index of the old selection no longer is what the filter makes: other.
#[tokio::test]
async fn a_platform_added_to_the_filter() {
    let (img, src, dst) = pair().await;
    seed(dst.as_ref(), &img, &["linux/amd64"], &img.index).await;
    let s = read(
        &src,
        &dst,
        &img.index.digest,
        &["linux/amd64", "linux/s390x"],
    )
    .await;
    assert_eq!(
        s,
        TargetState::MissingChildren {
            source_digest: img.index.digest.clone(),
            holds: img.index.digest.clone(),
            missing: vec![MissingChild {
                digest: img.child("linux/s390x").digest.clone(),
                platform: Some("linux/s390x".into())
            }]
        }
    );

    let dst = Arc::new(Fake::default());
    let f = filtered(&img, &["linux/amd64"]);
    seed(dst.as_ref(), &img, &["linux/amd64"], &f).await;
    let s = read(
        &src,
        &dst,
        &img.index.digest,
        &["linux/amd64", "linux/s390x"],
    )
    .await;
    assert_eq!(s, TargetState::Other { digest: f.digest });
}

#[tokio::test]
async fn a_different_digest_is_other() {
    let (img, src, dst) = pair().await;
    let older = raw(format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#
    ));
    seed(dst.as_ref(), &img, &[], &older).await;
    let s = read(&src, &dst, &img.index.digest, &["linux/amd64"]).await;
    assert_eq!(
        s,
        TargetState::Other {
            digest: older.digest.clone()
        }
    );
    assert_eq!(s.resolves_to(), Some(&older.digest));
}

struct Quiet;
impl Reporter for Quiet {
    fn event(&self, _e: Event) {}
}

fn job(mode: Mode, platforms: &[&str]) -> ImageJob {
    ImageJob {
        source_reference: "v1".into(),
        target_tag: Some("v1".into()),
        source_text: "src:v1".into(),
        target_text: "dst:v1".into(),
        selector: selector(platforms),
        on_reject: OnReject::Fail,
        jobs: 4,
        retry: RetryPolicy::default(),
        artifacts: Default::default(),
        mode,
        require_platforms: false,
        dry_run_details: false,
        cache: None,
        gate: None,
        write_lock: None,
        cancel: crate::interrupt::CancelToken::new(),
        signatures: Default::default(),
        delta: None,
        known_blobs: Default::default(),
        transfer: Default::default(),
        site_signing: None,
    }
}

/// An OCI-layout target: absent until the use case creates it, current after the copy, and a
/// rerun, a dry run and a verify all report the same state and digest.
#[tokio::test]
async fn a_layout_target_through_the_use_case() {
    let dir = tempfile::tempdir().unwrap();
    let img = image();
    let src = Arc::new(Layout::create(&dir.path().join("src")).unwrap());
    seed(
        src.as_ref(),
        &img,
        &["linux/amd64", "linux/arm64", "linux/s390x"],
        &img.index,
    )
    .await;
    let reporter: Arc<dyn Reporter> = Arc::new(Quiet);
    let path = dir.path().join("dst");
    let opener = path.clone();
    let later = TargetSlot::Later(Box::new(move || {
        Box::pin(async move { Ok(Arc::new(Layout::create(&opener)?)) })
    }));
    let first = mirror_image(&job(Mode::Write, &["linux/arm64"]), &src, later, &reporter)
        .await
        .unwrap();
    assert_eq!(first.before, TargetState::Absent);
    assert_eq!(first.action, ImageAction::Copied);
    let current = TargetState::Current {
        digest: img.index.digest.clone(),
    };
    assert_eq!(first.after, current);
    assert_eq!(first.resolves_to(), Some(&img.index.digest));

    let dst = Arc::new(Layout::open(&path).unwrap());
    assert_eq!(
        read(&src, &dst, &img.index.digest, &["linux/arm64"]).await,
        current
    );
    for mode in [Mode::Write, Mode::DryRun, Mode::Verify] {
        let again = mirror_image(
            &job(mode, &["linux/arm64"]),
            &src,
            TargetSlot::Open(dst.clone()),
            &reporter,
        )
        .await
        .unwrap();
        assert_eq!(
            (again.before.clone(), again.after.clone()),
            (current.clone(), current.clone()),
            "{mode:?}"
        );
        let want = match mode {
            Mode::Verify => ImageAction::Complete,
            _ => ImageAction::UpToDate,
        };
        assert_eq!(again.action, want, "{mode:?}");
    }
    // Another platform is missing on the layout: the dry run says so, the write repairs it.
    let wider = ["linux/arm64", "linux/s390x"];
    let dry = mirror_image(
        &job(Mode::DryRun, &wider),
        &src,
        TargetSlot::Open(dst.clone()),
        &reporter,
    )
    .await
    .unwrap();
    assert_eq!(dry.action, ImageAction::WouldRepair);
    assert_eq!(dry.missing.len(), 1);
    let fixed = mirror_image(
        &job(Mode::Write, &wider),
        &src,
        TargetSlot::Open(dst.clone()),
        &reporter,
    )
    .await
    .unwrap();
    assert_eq!(fixed.action, ImageAction::Repaired);
    assert_eq!(fixed.after, current);
    assert_eq!(read(&src, &dst, &img.index.digest, &wider).await, current);
}

/// Verify of a filtered mirror: complete under `--on-reject filter`, a wrong digest otherwise.
#[tokio::test]
async fn verify_accepts_a_filtered_mirror_only_under_filter() {
    let (img, src, dst) = pair().await;
    let f = filtered(&img, &["linux/amd64"]);
    seed(dst.as_ref(), &img, &["linux/amd64"], &f).await;
    let reporter: Arc<dyn Reporter> = Arc::new(Quiet);
    let mut j = job(Mode::Verify, &["linux/amd64"]);
    j.on_reject = OnReject::Filter;
    let ok = mirror_image(&j, &src, TargetSlot::Open(dst.clone()), &reporter)
        .await
        .unwrap();
    assert_eq!(ok.action, ImageAction::Complete, "{:?}", ok.missing);
    assert_eq!(ok.resolves_to(), Some(&f.digest));
    j.on_reject = OnReject::Fail;
    let no = mirror_image(&j, &src, TargetSlot::Open(dst.clone()), &reporter)
        .await
        .unwrap();
    assert_eq!(no.action, ImageAction::Incomplete);
    assert_eq!(no.missing[0].kind, "wrong-digest");
    // And a write rerun under filter is up to date, naming the filtered digest.
    let mut w = job(Mode::Write, &["linux/amd64"]);
    w.on_reject = OnReject::Filter;
    dst.requests();
    let rerun = mirror_image(&w, &src, TargetSlot::Open(dst.clone()), &reporter)
        .await
        .unwrap();
    assert_eq!(rerun.action, ImageAction::UpToDate);
    let c = rerun.copy.unwrap();
    assert_eq!(c.pushed_digest, f.digest);
    assert!(!c.plan.sparse);
    assert!(
        dst.requests().iter().all(|(m, _)| !m.starts_with("PUT")),
        "a rerun writes nothing"
    );
}
