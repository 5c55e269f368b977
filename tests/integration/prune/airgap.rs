//! Pruning across the gap: three trips of bundles; on the third, the near side prunes its own
//! mirror and plans the far side's deletions into the bundle, and `bundle apply --prune` carries
//! them out after the images. A far tag someone changed is left alone, and the report says so.

use super::{push_versions, set, sync};
use crate::fixtures;
use crate::harness::{mirror_in_async, Http, Output, Registry};
use sparse_mirror::model::delta::{
    BundleManifest, Checksummed, Inventory, BUNDLE_FORMAT, LEDGER_FORMAT,
};

fn bundle_json(dir: &std::path::Path) -> BundleManifest {
    let p = dir.join("bundle.json");
    BundleManifest::open(&std::fs::read(&p).unwrap(), &p, &[BUNDLE_FORMAT]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_trips_where_the_third_prunes_on_both_sides() {
    let (near, far) = (Registry::start(), Registry::start());
    let (http, dir) = (Http::new(), tempfile::tempdir().unwrap());
    let (n, f) = (near.host(), far.host());
    let d = dir.path();
    let tags = "{semver: \">=1\", latest: 2}";
    // The near side's own mirror, and the far side's targets, under the same rules.
    let near_yaml = format!(
        "images:\n  - source: {n}/team/app\n    target: {n}/mirror/app\n    tags: {tags}\n"
    );
    let far_yaml = format!(
        "images:\n  - source: {n}/team/app\n    target: {f}/mirror/app\n    tags: {tags}\n"
    );
    std::fs::write(d.join("far.yaml"), &far_yaml).unwrap();
    let run = |args: Vec<String>| async move {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        mirror_in_async(d, &a, &[]).await
    };
    let trip = |k: u32, extra: &'static [&'static str]| {
        let mut a: Vec<String> = ["sync", "-f", "far.yaml", "--no-cache", "--bundle"]
            .map(String::from)
            .into();
        a.push(format!("b{k}"));
        a.extend(["--ledger", "ledger.json"].map(String::from));
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let ok = |o: &Output| assert_eq!(o.code, 0, "{o}");

    // Trip 1: everything, against the (empty) far side's inventory.
    let v = push_versions(&http, &n, "team/app", &["1.0", "1.1"], false).await;
    let inv = run(["inventory", "-f", "far.yaml", "-o", "json"]
        .map(String::from)
        .into())
    .await;
    ok(&inv);
    std::fs::write(d.join("inventory.json"), &inv.stdout).unwrap();
    let mut first = trip(1, &[]);
    first.extend(["--inventory", "inventory.json"].map(String::from));
    ok(&run(first).await);
    ok(&run(["bundle", "apply", "b1"].map(String::from).into()).await);
    ok(&sync(d, &near_yaml, &["--prune"]).await);

    // Trip 2: a new version; the far side grows (no --prune), the near mirror keeps two.
    push_versions(&http, &n, "team/app", &["1.2"], false).await;
    ok(&sync(d, &near_yaml, &["--prune"]).await);
    ok(&run(trip(2, &[])).await);
    ok(&run(["bundle", "apply", "b2"].map(String::from).into()).await);
    assert_eq!(http.tags(&f, "mirror/app").await.len(), 3);

    // Trip 3: another version, pruned on both sides.
    push_versions(&http, &n, "team/app", &["1.3"], false).await;
    ok(&sync(d, &near_yaml, &["--prune"]).await);
    ok(&run(trip(3, &["--prune"])).await);
    let m = bundle_json(&d.join("b3"));
    let plan: Vec<(&str, &str, String)> = m
        .prune
        .iter()
        .map(|p| (p.tag.as_str(), p.digest.as_str(), p.why.to_string()))
        .collect();
    assert_eq!(
        plan,
        vec![
            (
                "1.0",
                v[0].0.index.digest.as_str(),
                "not-selected: latest 2 of semver >=1".into()
            ),
            (
                "1.1",
                v[1].0.index.digest.as_str(),
                "not-selected: latest 2 of semver >=1".into()
            ),
        ]
    );
    // The ledger forgets the planned tags and remembers the plan.
    let ledger = Inventory::open(
        &std::fs::read(d.join("ledger.json")).unwrap(),
        &d.join("ledger.json"),
        &[LEDGER_FORMAT],
    )
    .unwrap();
    let kept: Vec<&str> = ledger.repositories[0]
        .tags
        .iter()
        .map(|t| t.tag.as_str())
        .collect();
    assert_eq!(kept, vec!["1.2", "1.3"]);
    assert_eq!(ledger.pruned.len(), 2);

    // Someone on the far side moved 1.0: the dry run says it stays.
    let moved = &v[1].0.index;
    fixtures::push_manifest_only(&http, &f, "mirror/app", "1.0", moved).await;
    let dry = run([
        "bundle",
        "apply",
        "b3",
        "--prune",
        "--dry-run",
        "-o",
        "json",
    ]
    .map(String::from)
    .into())
    .await;
    ok(&dry);
    let r: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let pr = r["prune"].as_array().unwrap_or_else(|| panic!("{dry}"));
    assert_eq!(pr[0]["action"], "prune-refused", "{dry}");
    assert!(
        pr[0]["detail"]
            .as_str()
            .unwrap()
            .contains("changed on this side"),
        "{dry}"
    );
    assert_eq!(pr[1]["action"], "would-prune", "{dry}");
    fixtures::push_manifest_only(&http, &f, "mirror/app", "1.0", &v[0].0.index).await;

    // Without --prune the plan is only mentioned; with it, the far side ends like the near one.
    let plain = run(["bundle", "apply", "b3"].map(String::from).into()).await;
    ok(&plain);
    assert!(plain.stderr.contains("pass --prune to apply it"), "{plain}");
    assert_eq!(http.tags(&f, "mirror/app").await.len(), 4);
    let applied = run(["bundle", "apply", "b3", "--prune"]
        .map(String::from)
        .into())
    .await;
    ok(&applied);
    assert!(applied.stdout.contains("pruned"), "{applied}");
    let near_tags: std::collections::BTreeSet<String> =
        http.tags(&n, "mirror/app").await.into_iter().collect();
    let far_tags: std::collections::BTreeSet<String> =
        http.tags(&f, "mirror/app").await.into_iter().collect();
    assert_eq!(near_tags, set(&["1.2", "1.3"]));
    assert_eq!(far_tags, near_tags);
    for (img, _) in &v[..2] {
        assert_eq!(
            http.head_manifest(&f, "mirror/app", &img.index.digest)
                .await
                .0,
            404
        );
    }
}
