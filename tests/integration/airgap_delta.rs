//! Issue 16, air-gap deltas, end to end: the near side writes bundles (`mirror sync --bundle`)
//! against what the far side holds (an inventory from `mirror inventory`, or the near side's
//! ledger), and the far side applies them (`mirror bundle apply`). Near and far registries are
//! real distribution 2.8 processes; the far side is also run as the in-process sparse-accepting
//! registry, the only way a platform-filtered (sparse) index lands with its source digest.
//!
//! - the 3-trip scenario, on both far sides (`three_trips_*`), and dry runs (`dry_runs_*`);
//! - failures: a damaged and a missing volume, an inventory that lies (`failures.rs`);
//! - skopeo reads a bundle's layout;
//! - docs/air-gap.md's ```` ```sh walkthrough ```` blocks run in order (`walkthrough.rs`).

mod failures;
mod walkthrough;
mod world;

use std::collections::BTreeSet;
use std::process::Command;

use world::{
    blobs_for, bytes, ledger, left_out, manifests_of, mentions_bytes, minus, Built, FarKind, World,
    PLATFORMS, TWO,
};

use sparse_mirror::model::delta::{BundleManifest, SparseIndex};

const TRIP1: [(&str, &[&str]); 2] = [("app", &["v1", "v2"]), ("tools", &["v1"])];
const TRIP2: [(&str, &[&str]); 3] = [
    ("app", &["v1", "v2", "v3"]),
    ("app-debug", &["v1"]),
    ("tools", &["v1"]),
];

#[tokio::test(flavor = "multi_thread")]
async fn three_trips_to_a_registry_that_accepts_sparse_indexes() {
    three_trips(FarKind::SparseAccepting).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_trips_to_distribution_2_8_carry_every_platform() {
    three_trips(FarKind::Distribution28).await;
}

/// Trip 1: 3 images, full. Trip 2: two new tags (app:v3, and app-debug:v1 in a new repository)
/// built on app's base layers: only their top layers and configs travel, the base is mounted or
/// already there; the ledger and the inventory give the same delta. Trip 3: linux/s390x added to
/// the filter.
async fn three_trips(kind: FarKind) {
    let mut w = World::start(kind).await;
    let far = w.far.host();
    let sparse = kind == FarKind::SparseAccepting;
    let (inv0, ledger_path, b1) = first_trip(&mut w).await;
    let trip1: Vec<Built> = w.images(&TRIP1).into_iter().cloned().collect();

    // ---------------------------------------------------------------- trip 2: two new tags
    w.publish("app", "app", "v3").await;
    w.publish("app", "app-debug", "v1").await;
    let y2 = w.yaml("trip-2.yaml", &TRIP2, &TWO);
    // The inventory path: what the far side holds now.
    let (inv1, _) = w.inventory(&y2, "inventory-1.json").await;
    let b2i = w
        .bundle(&y2, "trip-2-by-inventory", &["--inventory", &inv1])
        .await;
    // The ledger path (inventory-0 only says whether the far registry takes sparse indexes).
    let b2 = w
        .bundle(
            &y2,
            "trip-2",
            &["--ledger", &ledger_path, "--inventory", &inv0],
        )
        .await;
    assert_eq!(
        b2.images.len(),
        5,
        "every image of the file, manifests always"
    );

    // Same delta both ways.
    assert_eq!(
        left_out(&b2),
        left_out(&b2i),
        "ledger vs inventory: left-out blobs"
    );
    assert_eq!(
        w.carried_blobs("trip-2"),
        w.carried_blobs("trip-2-by-inventory"),
        "ledger vs inventory: carried blobs"
    );
    assert_eq!(b2.totals, b2i.totals);

    // Only the new top layers and configs travel; the base layers do not.
    let trip2 = w.images(&TRIP2);
    let new = [w.built("app", "v3"), w.built("app-debug", "v1")];
    let want2 = minus(
        &blobs_for(new.iter().copied(), shipped(kind, &TWO)),
        &blobs_for(&trip1, shipped(kind, &TWO)),
    );
    let carried2 = w.carried_blobs("trip-2");
    assert_eq!(
        carried2, want2,
        "trip 2 carries exactly the new tags' new blobs"
    );
    let bases = blobs_for([w.built("app", "v1")], &PLATFORMS);
    assert!(
        bases
            .keys()
            .all(|d| !carried2.contains_key(d) || want2.contains_key(d)),
        "a shared base layer travelled again"
    );
    let bound = bytes(&want2) + bytes(&manifests_of(trip2.iter().copied()));
    let on_disk = bytes(&world::layout_files(&w.path("trip-2").join("layout")));
    assert!(
        b2.totals.blob_bytes <= bytes(&want2) && on_disk <= bound,
        "trip 2: bundle.json says {} blob bytes, {on_disk} bytes on disk; the new layers and \
         configs are {} bytes, with every manifest {bound}",
        b2.totals.blob_bytes,
        bytes(&want2)
    );
    assert!(b2.totals.left_out_bytes > 0);
    // app-debug is a new repository: its base layers are mounted from app.
    let debug_base: BTreeSet<String> = b2
        .left_out
        .iter()
        .filter(|l| l.repository == format!("{far}/app-debug"))
        .map(|l| {
            assert_eq!(
                l.mount_from.as_deref(),
                Some(format!("{far}/app").as_str()),
                "{l:?}"
            );
            l.digest.to_string()
        })
        .collect();
    assert_eq!(
        debug_base,
        minus(
            &blobs_for(new[1..].iter().copied(), shipped(kind, &TWO)),
            &want2
        )
        .into_keys()
        .collect(),
        "app-debug's base layers are left out, to be mounted"
    );

    let mark = w.far.mark();
    let out = w.apply("trip-2", &[]).await;
    assert_eq!(out.code, 0, "apply trip 2: {out}");
    // On the wire: exactly the carried blobs are uploaded; app-debug's base layers are mounted.
    let mut pushed = BTreeSet::new();
    for repo in ["app", "app-debug", "tools"] {
        let (p, m) = w.far.blob_writes_since(mark, repo);
        pushed.extend(p);
        if repo == "app-debug" {
            assert_eq!(m, debug_base, "mounted into app-debug");
        }
    }
    assert_eq!(
        pushed,
        carried2.keys().cloned().collect::<BTreeSet<_>>(),
        "blobs uploaded to the far side in trip 2"
    );
    w.assert_far_complete(&TRIP2, &TWO, "after trip 2").await;

    // ---------------------------------------------------------------- trip 3: + linux/s390x
    let y3 = w.yaml("trip-3.yaml", &TRIP2, &PLATFORMS);
    let (inv2, _) = w.inventory(&y3, "inventory-2.json").await;
    let b3 = w
        .bundle(
            &y3,
            "trip-3",
            &["--inventory", &inv2, "--ledger", &ledger_path],
        )
        .await;
    let carried3 = w.carried_blobs("trip-3");
    if sparse {
        let want3 = blobs_for(trip2.iter().copied(), &["linux/s390x"]);
        assert_eq!(carried3, want3, "trip 3 carries the added platform's blobs");
        let old = blobs_for(trip2.iter().copied(), &TWO);
        assert!(
            carried3.keys().all(|d| !old.contains_key(d)),
            "trip 3 carried a blob of the old platforms"
        );
    } else {
        // Every platform went over already: no layer travels.
        assert!(
            carried3.is_empty(),
            "trip 3 to 2.8 carried blobs: {carried3:?}"
        );
        assert_eq!(b3.totals.blobs, 0);
    }
    let mark = w.far.mark();
    let out = w.apply("trip-3", &[]).await;
    assert_eq!(out.code, 0, "apply trip 3: {out}");
    let mut pushed = BTreeSet::new();
    for repo in ["app", "app-debug", "tools"] {
        pushed.extend(w.far.blob_writes_since(mark, repo).0);
    }
    assert_eq!(
        pushed,
        carried3.keys().cloned().collect::<BTreeSet<_>>(),
        "blobs uploaded to the far side in trip 3"
    );
    w.assert_far_complete(&TRIP2, &PLATFORMS, "after trip 3")
        .await;
    let l = ledger(w.path("ledger.json").as_path());
    assert_eq!(
        l.bundles,
        vec![b1.id, b2.id, b3.id],
        "the ledger names every bundle"
    );
}

/// What a bundle carries for a selection: 2.8 refuses sparse indexes, so `on-reject: full` makes
/// every bundle carry every platform.
fn shipped(kind: FarKind, sel: &'static [&'static str]) -> &'static [&'static str] {
    match kind {
        FarKind::SparseAccepting => sel,
        FarKind::Distribution28 => &PLATFORMS,
    }
}

/// Trip 1: app:v1, app:v2 (one base), tools:v1 published; the far side's inventory (probed for
/// sparse indexes); a full bundle recorded in a new ledger; applied; the far side complete.
/// Returns the inventory's path, the ledger's path and bundle.json.
async fn first_trip(w: &mut World) -> (String, String, BundleManifest) {
    let far = w.far.host();
    let kind = w.kind;
    let sparse = kind == FarKind::SparseAccepting;
    // ---------------------------------------------------------------- trip 1: full
    w.publish("app", "app", "v1").await;
    w.publish("app", "app", "v2").await;
    w.publish("tools", "tools", "v1").await;
    let y1 = w.yaml("trip-1.yaml", &TRIP1, &TWO);
    let (inv0, inv) = w.inventory(&y1, "inventory-0.json").await;
    let expected = if sparse {
        SparseIndex::Accepted
    } else {
        SparseIndex::Rejected
    };
    assert_eq!(
        inv.sparse_index(&far),
        expected,
        "--probe-sparse on {kind:?}"
    );
    assert!(
        inv.repositories.iter().all(|r| r.blobs.is_empty()),
        "the far side is empty: {inv:?}"
    );
    let ledger_path = w.arg("ledger.json");
    let b1 = w
        .bundle(
            &y1,
            "trip-1",
            &["--inventory", &inv0, "--ledger", &ledger_path],
        )
        .await;
    assert_eq!(b1.images.len(), 3, "{b1:?}");
    for i in &b1.images {
        let (repo, tag) = i
            .target
            .rsplit_once('/')
            .unwrap()
            .1
            .split_once(':')
            .unwrap();
        assert_eq!(i.target, format!("{far}/{repo}:{tag}"));
        assert_eq!(i.digest.to_string(), w.built(repo, tag).image.index.digest);
    }
    assert!(
        b1.left_out.is_empty(),
        "nothing on the far side yet: {:?}",
        b1.left_out
    );
    let trip1: Vec<Built> = w.images(&TRIP1).into_iter().cloned().collect();
    let want1 = blobs_for(&trip1, shipped(kind, &TWO));
    assert_eq!(
        w.carried_blobs("trip-1"),
        want1,
        "trip 1 carries the selection's blobs"
    );
    assert_eq!(b1.totals.blob_bytes, bytes(&want1));
    let l = ledger(w.path("ledger.json").as_path());
    assert!(
        l.bundles.contains(&b1.id),
        "the ledger records bundle {}: {l:?}",
        b1.id
    );
    let out = w.apply("trip-1", &[]).await;
    assert_eq!(out.code, 0, "apply trip 1: {out}");
    w.assert_far_complete(&TRIP1, &TWO, "after trip 1").await;
    (inv0, ledger_path, b1)
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_state_the_real_bundle_sizes_on_a_sparse_accepting_far_side() {
    dry_runs(FarKind::SparseAccepting).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_state_the_real_bundle_sizes_on_distribution_2_8() {
    dry_runs(FarKind::Distribution28).await;
}

/// After trip 1, the near side's `sync --bundle --dry-run` (ledger path) and the far side's
/// `bundle apply --dry-run` write nothing (no bundle, the ledger unchanged, no write request on
/// the far registry) and state the delta and full sizes that the real bundle's bundle.json has.
async fn dry_runs(kind: FarKind) {
    let mut w = World::start(kind).await;
    let (inv0, ledger_path, _) = first_trip(&mut w).await;
    w.publish("app", "app", "v3").await;
    w.publish("app", "app-debug", "v1").await;
    let y2 = w.yaml("trip-2.yaml", &TRIP2, &TWO);
    let ledger_before = std::fs::read(w.path("ledger.json")).unwrap();
    let dry = w
        .mirror(&[
            "sync",
            "-f",
            &y2,
            "--bundle",
            &w.arg("trip-2-dry"),
            "--ledger",
            &ledger_path,
            "--inventory",
            &inv0,
            "--dry-run",
        ])
        .await;
    assert_eq!(dry.code, 0, "near-side dry run: {dry}");
    assert!(!w.path("trip-2-dry").exists(), "a dry run writes no bundle");
    assert_eq!(
        std::fs::read(w.path("ledger.json")).unwrap(),
        ledger_before,
        "a dry run leaves the ledger alone"
    );
    let b2 = w
        .bundle(
            &y2,
            "trip-2",
            &["--ledger", &ledger_path, "--inventory", &inv0],
        )
        .await;
    let text = format!("{}{}", dry.stdout, dry.stderr);
    for (what, n) in [
        ("delta", b2.totals.delta_bytes()),
        ("full", b2.totals.full_bytes()),
    ] {
        assert!(
            mentions_bytes(&text, n),
            "{kind:?}: the near-side dry run does not state the {what} size {n} of the real \
             bundle (totals {:?}): {dry}",
            b2.totals
        );
    }

    let far = w.far.host();
    let mark = w.far.mark();
    let out = w.apply("trip-2", &["--dry-run"]).await;
    assert_eq!(out.code, 0, "far-side dry run: {out}");
    assert_eq!(
        w.far.writes_since(mark),
        Vec::<String>::new(),
        "the dry run wrote"
    );
    assert_eq!(w.far_tag("app", "v3").await, None, "the dry run tagged");
    let text = format!("{}{}", out.stdout, out.stderr);
    for needle in [format!("{far}/app:v3"), format!("{far}/app-debug:v1")] {
        assert!(
            text.contains(&needle),
            "the far-side dry run does not name {needle}: {out}"
        );
    }
    for (what, n) in [
        ("delta", b2.totals.delta_bytes()),
        ("full", b2.totals.full_bytes()),
    ] {
        assert!(
            mentions_bytes(&text, n),
            "the far-side dry run does not state the {what} size {n}: {out}"
        );
    }
    // And the real apply afterwards completes.
    let out = w.apply("trip-2", &[]).await;
    assert_eq!(out.code, 0, "{out}");
    w.assert_far_complete(&TRIP2, &TWO, "after the dry runs and the apply")
        .await;
}

/// skopeo (Debian's) reads a bundle's layout: every image's entry gives the source index bytes.
#[tokio::test(flavor = "multi_thread")]
async fn skopeo_reads_a_bundle_layout() {
    if Command::new("skopeo").arg("--version").output().is_err() {
        panic!("skopeo is required for this interoperability test (apt-get install -y skopeo)");
    }
    let mut w = World::start(FarKind::Distribution28).await;
    w.publish("app", "app", "v1").await;
    w.publish("app", "app", "v2").await;
    w.publish("tools", "tools", "v1").await;
    let y = w.yaml("near.yaml", &TRIP1, &[]);
    let b = w.bundle(&y, "bundle", &[]).await;
    assert_eq!(b.images.len(), 3);
    for i in &b.images {
        let (repo, tag) = i
            .target
            .rsplit_once('/')
            .unwrap()
            .1
            .split_once(':')
            .unwrap();
        let reference = format!("oci:{}:{}", w.path("bundle/layout").display(), i.layout_ref);
        let o = Command::new("skopeo")
            .args(["inspect", "--raw", &reference])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "skopeo inspect --raw {reference}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            o.stdout,
            w.built(repo, tag).image.index.bytes,
            "{reference}: not the source index bytes"
        );
    }
}
