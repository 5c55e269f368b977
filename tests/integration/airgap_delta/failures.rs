//! What goes wrong between the two sides: a volume damaged or lost on the way (named, nothing
//! pushed), and an inventory or ledger that no longer tells the truth (the images that need the
//! missing blob fail with no tag, the others complete; a fresh inventory, or the blob put back,
//! completes the rest).

use super::world::{left_out, FarKind, World};
use super::TRIP1;

const ALL: [&str; 0] = [];

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_or_missing_volume_is_named_and_nothing_is_pushed() {
    let mut w = World::start(FarKind::Distribution28).await;
    w.publish("app", "app", "v1").await;
    w.publish("app", "app", "v2").await;
    w.publish("tools", "tools", "v1").await;
    let y = w.yaml("near.yaml", &TRIP1, &ALL);
    let b = w.bundle(&y, "bundle", &["--max-volume-size", "64K"]).await;
    assert!(
        b.volumes.len() >= 3,
        "~160 KiB in 64 KiB volumes: {:?}",
        b.volumes
    );
    assert!(
        !w.path("bundle/layout").exists(),
        "packed: the layout directory is removed"
    );
    for v in &b.volumes {
        let len = std::fs::metadata(w.path("bundle").join(&v.name))
            .unwrap()
            .len();
        assert_eq!(len, v.size, "{}", v.name);
        assert!(
            len <= 64 * 1024,
            "{} is {len} bytes, over the 64K limit",
            v.name
        );
    }
    let check = w.mirror(&["bundle", "check", &w.arg("bundle")]).await;
    assert_eq!(check.code, 0, "an intact bundle: {check}");
    let repos = ["app", "tools"];

    // One byte flipped in the middle of the second volume.
    let damaged = w.path("bundle").join(&b.volumes[1].name);
    let original = std::fs::read(&damaged).unwrap();
    let mut bad = original.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    std::fs::write(&damaged, &bad).unwrap();
    let check = w.mirror(&["bundle", "check", &w.arg("bundle")]).await;
    assert_eq!(check.code, 1, "a damaged volume passed the check: {check}");
    assert!(
        check.stderr.contains(&b.volumes[1].name),
        "the check names the volume: {check}"
    );
    let mark = w.far.mark();
    let out = w.apply("bundle", &[]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&b.volumes[1].name),
        "apply names the volume: {out}"
    );
    assert_eq!(
        w.far.writes_since(mark),
        Vec::<String>::new(),
        "pushed despite a bad volume"
    );
    for r in repos {
        assert_eq!(w.far_tags(r).await, Vec::<String>::new(), "{r} got a tag");
    }
    std::fs::write(&damaged, &original).unwrap();

    // The last volume never arrived.
    let last = b.volumes.last().unwrap().name.clone();
    let away = w.path("elsewhere");
    std::fs::rename(w.path("bundle").join(&last), &away).unwrap();
    let check = w.mirror(&["bundle", "check", &w.arg("bundle")]).await;
    assert_eq!(check.code, 1, "a missing volume passed the check: {check}");
    assert!(
        check.stderr.contains(&last),
        "the check names the volume: {check}"
    );
    let mark = w.far.mark();
    let out = w.apply("bundle", &[]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&last),
        "apply names the missing volume: {out}"
    );
    assert_eq!(
        w.far.writes_since(mark),
        Vec::<String>::new(),
        "pushed with a volume missing"
    );
    for r in repos {
        assert_eq!(w.far_tags(r).await, Vec::<String>::new(), "{r} got a tag");
    }
    std::fs::rename(&away, w.path("bundle").join(&last)).unwrap();

    // Whole again: the split bundle applies.
    let out = w.apply("bundle", &[]).await;
    assert_eq!(out.code, 0, "{out}");
    w.assert_far_complete(&TRIP1, &ALL, "after the repaired bundle")
        .await;
}

const FIRST: [(&str, &[&str]); 2] = [("app", &["v1"]), ("tools", &["v1"])];
const NEXT: [(&str, &[&str]); 2] = [("app", &["v2"]), ("tools", &["v2"])];

/// app:v1 and tools:v1 on the far side (bundle "first", with `first_args`); app:v2 and tools:v2
/// published; the sync file for them. Returns the world, that file and app's linux/amd64 base
/// layer (needed by app:v1 and app:v2, not by tools).
async fn far_side_with_first_images(first_args: &[&str]) -> (World, String, String) {
    let mut w = World::start(FarKind::Distribution28).await;
    for (repo, tag) in [
        ("app", "v1"),
        ("tools", "v1"),
        ("app", "v2"),
        ("tools", "v2"),
    ] {
        w.publish(repo, repo, tag).await;
    }
    let y1 = w.yaml("first.yaml", &FIRST, &ALL);
    w.bundle(&y1, "first", first_args).await;
    let out = w.apply("first", &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let y2 = w.yaml("next.yaml", &NEXT, &ALL);
    let lost = w.built("app", "v1").image.child("linux/amd64").layers()[0]
        .digest
        .clone();
    (w, y2, lost)
}

/// DELETE the blob from the far side's app repository (the harness's 2.8 has
/// storage.delete.enabled), as a clean-up or garbage collection would.
async fn lose(w: &World, digest: &str) {
    let far = w.far.host();
    let url = format!("http://{far}/v2/app/blobs/{digest}");
    let status = w.http.client.delete(&url).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 202, "DELETE {url}");
    assert_eq!(w.http.head_blob(&far, "app", digest).await, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inventory_that_lies_fails_only_the_images_that_need_the_blob() {
    let (w, y2, lost) = far_side_with_first_images(&[]).await;
    let far = w.far.host();
    let (first, next) = (FIRST, NEXT);
    let (inv, _) = w.inventory(&y2, "inventory.json").await;
    // After the inventory was taken, app's linux/amd64 base layer goes.
    lose(&w, &lost).await;

    let b = w.bundle(&y2, "delta", &["--inventory", &inv]).await;
    assert!(
        left_out(&b).contains(&(format!("{far}/app"), lost.clone())),
        "the inventory said {lost} is there, so the bundle leaves it out: {:?}",
        b.left_out
    );
    for attempt in ["first apply", "rerun of the same bundle"] {
        let out = w.apply("delta", &[]).await;
        assert_eq!(out.code, 6, "{attempt}: {out}");
        for needle in [lost.as_str(), &format!("{far}/app:v2"), inv.as_str()] {
            assert!(
                out.stderr.contains(needle),
                "{attempt}: the error does not name {needle}: {out}"
            );
        }
        assert_eq!(
            w.far_tags("app").await,
            vec!["v1".to_string()],
            "{attempt}: app:v2 tagged"
        );
        w.assert_far_complete(&[("tools", &["v2"])], &ALL, attempt)
            .await;
    }

    // A fresh inventory no longer lists the blob: the new bundle carries it and completes app:v2
    // (and app:v1, whose layer it was, is whole again).
    let (inv2, listed) = w.inventory(&y2, "inventory-2.json").await;
    let app = listed
        .repositories
        .iter()
        .find(|r| r.name == format!("{far}/app"))
        .expect("app in the inventory");
    assert!(
        app.blobs.iter().all(|o| o.digest.to_string() != lost),
        "{app:?}"
    );
    w.bundle(&y2, "delta-2", &["--inventory", &inv2]).await;
    assert!(
        w.carried_blobs("delta-2").contains_key(&lost),
        "the new bundle carries {lost}"
    );
    let out = w.apply("delta-2", &[]).await;
    assert_eq!(out.code, 0, "{out}");
    w.assert_far_complete(&next, &ALL, "after the fresh inventory")
        .await;
    w.assert_far_complete(&first, &ALL, "after the fresh inventory")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ledger_claim_that_no_longer_holds_is_named_and_the_same_bundle_completes_later() {
    let ledger = "ledger.json";
    let (w, y2, lost) = far_side_with_first_images(&["--ledger", ledger]).await;
    let far = w.far.host();
    let first_id = super::world::bundle_manifest(&w.path("first")).id;
    lose(&w, &lost).await;

    let b = w.bundle(&y2, "delta", &["--ledger", ledger]).await;
    let claim = b
        .left_out
        .iter()
        .find(|l| l.repository == format!("{far}/app") && l.digest.to_string() == lost)
        .unwrap_or_else(|| {
            panic!(
                "the ledger lists {lost}, so it is left out: {:?}",
                b.left_out
            )
        });
    assert_eq!(claim.claimed_by.kind, "ledger");
    assert_eq!(claim.claimed_by.bundle.as_deref(), Some(first_id.as_str()));
    let out = w.apply("delta", &[]).await;
    assert_eq!(out.code, 6, "{out}");
    for needle in [lost.as_str(), &format!("{far}/app:v2"), ledger, &first_id] {
        assert!(
            out.stderr.contains(needle),
            "the error does not name {needle}: {out}"
        );
    }
    assert_eq!(
        w.far_tags("app").await,
        vec!["v1".to_string()],
        "app:v2 tagged"
    );
    w.assert_far_complete(&[("tools", &["v2"])], &ALL, "tools:v2 despite app:v2")
        .await;

    // The blob is put back on the far side (from a backup): the same bundle now completes.
    let bytes = &w.built("app", "v1").image.child("linux/amd64").layers()[0].bytes;
    assert_eq!(w.http.push_blob(&far, "app", bytes).await, lost);
    let out = w.apply("delta", &[]).await;
    assert_eq!(out.code, 0, "{out}");
    w.assert_far_complete(&NEXT, &ALL, "after the blob came back")
        .await;
    w.assert_far_complete(&FIRST, &ALL, "after the blob came back")
        .await;
}
