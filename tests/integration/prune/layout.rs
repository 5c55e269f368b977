//! `--prune` on an OCI layout target, then `mirror gc`: skopeo and `mirror verify` accept what
//! is left, which is smaller by exactly the blobs nothing references any more.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::{lines, push_versions, sync, with};
use crate::harness::{mirror_in_async, Http, Registry};
use sparse_mirror::app::sync::report::Action;

/// Every blob file of a layout and its size.
fn blobs(dir: &Path) -> BTreeSet<(String, u64)> {
    std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = format!("sha256:{}", e.file_name().to_str().unwrap());
            (name, e.metadata().unwrap().len())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pruned_layout_is_collected_to_exactly_what_index_json_reaches() {
    let src = Registry::start();
    let (http, dir) = (Http::new(), tempfile::tempdir().unwrap());
    let s = src.host();
    let pushed = push_versions(
        &http,
        &s,
        "team/app",
        &["1.0", "1.1", "1.2", "1.3", "1.4"],
        false,
    )
    .await;
    let layout = dir.path().join("usb");
    let l = layout.display();
    let c = |n| {
        format!("images:\n  - source: {s}/team/app\n    target: oci:{l}\n    tags: {{semver: \">=1\", latest: {n}}}\n")
    };
    assert_eq!(sync(dir.path(), &c(5), &[]).await.code, 0);
    let full = blobs(&layout);
    assert_eq!(full.len(), 15);

    // The refs go at once; the blobs, just written, are younger than --gc-min-age.
    let out = sync(dir.path(), &c(2), &["--prune"]).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(with(&items, Action::Pruned).len(), 3, "{out}");
    assert_eq!(summary.gc.len(), 1, "{out}");
    assert!(summary.gc[0].orphaned.is_empty());
    assert_eq!(summary.gc[0].recent.len(), 9);
    assert_eq!(blobs(&layout), full);

    // `mirror gc`: the dry run lists exactly the three pruned images' blobs, with sizes.
    let gc = |extra: &[&str]| {
        let mut a = vec![
            "gc".to_string(),
            format!("oci:{l}"),
            "--min-age".into(),
            "0".into(),
            "-o".into(),
            "json".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let args = gc(&["--dry-run"]);
    let dry = mirror_in_async(
        dir.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    )
    .await;
    assert_eq!(dry.code, 0, "{dry}");
    let report: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let listed: BTreeSet<(String, u64)> = report["orphaned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["digest"].as_str().unwrap().to_string(),
                b["size"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut want = BTreeSet::new();
    for (img, _) in &pushed[..3] {
        want.insert((img.index.digest.clone(), img.index.bytes.len() as u64));
        for b in &img.index.blobs {
            want.insert((b.digest.clone(), b.bytes.len() as u64));
        }
    }
    assert_eq!(listed, want);
    assert_eq!(blobs(&layout), full, "a dry run deletes nothing");
    let args = gc(&[]);
    let done = mirror_in_async(
        dir.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    )
    .await;
    assert_eq!(done.code, 0, "{done}");
    let left = blobs(&layout);
    assert_eq!(left, full.difference(&want).cloned().collect());
    let size = |b: &BTreeSet<(String, u64)>| b.iter().map(|(_, n)| n).sum::<u64>();
    assert_eq!(size(&full) - size(&left), size(&want));

    // What is left is a layout the peers and `mirror verify` accept.
    for v in ["1.3", "1.4"] {
        let o = Command::new("skopeo")
            .args(["inspect", &format!("oci:{l}:{v}")])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "skopeo inspect {v}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let args = [
            "verify",
            &format!("{s}/team/app:{v}"),
            &format!("oci:{l}:{v}"),
        ];
        let o = mirror_in_async(dir.path(), &args, &[]).await;
        assert_eq!(o.code, 0, "{o}");
    }
}
