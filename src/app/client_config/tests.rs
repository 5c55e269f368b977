//! Unit tests of the model and the renderers (snapshots and the CRD schema check are in
//! tests/integration/client_config.rs).

use super::containerd;
use super::model::*;
use crate::engine::image::state::TargetState;
use crate::model::digest::Digest;

fn d(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .unwrap()
}

fn mapping(src: (&str, &str), dst: (&str, &str), images: Vec<usize>) -> Mapping {
    Mapping {
        source_registry: src.0.into(),
        source_path: src.1.into(),
        namespace: false,
        mirror_registry: dst.0.into(),
        mirror_path: dst.1.into(),
        source_access: Access::default(),
        mirror_access: Access::default(),
        images,
    }
}

fn seen(image: usize, source: &str, state: Option<TargetState>) -> Observed {
    Observed {
        image,
        source: source.into(),
        state,
        error: None,
    }
}

#[test]
fn a_source_mapped_twice_lists_both_mirrors_in_file_order() {
    let m = Model::build(
        "m.yaml",
        &[
            mapping(
                ("docker.io", "library/nginx"),
                ("b.example", "x/library/nginx"),
                vec![0],
            ),
            mapping(("quay.io", "org/app"), ("b.example", "x/org/app"), vec![1]),
            mapping(
                ("docker.io", "library/nginx"),
                ("a.example", "y/library/nginx"),
                vec![2],
            ),
        ],
        &[],
        vec![],
    );
    assert_eq!(m.sources.len(), 2);
    let nginx = &m.sources[0];
    assert_eq!(nginx.location(), "docker.io/library/nginx");
    let order: Vec<String> = nginx.mirrors.iter().map(Mirror::location).collect();
    assert_eq!(
        order,
        ["b.example/x/library/nginx", "a.example/y/library/nginx"]
    );
}

#[test]
fn holdings_decide_digest_mirroring() {
    let maps = [
        mapping(("r.io", "kept"), ("m.io", "p/kept"), vec![0]),
        mapping(("r.io", "filt"), ("m.io", "p/filt"), vec![1]),
        mapping(("r.io", "none"), ("m.io", "p/none"), vec![2]),
    ];
    let obs = [
        seen(
            0,
            "r.io/kept:v1",
            Some(TargetState::Current { digest: d('a') }),
        ),
        seen(
            0,
            "r.io/kept:v2",
            Some(TargetState::Current { digest: d('b') }),
        ),
        seen(
            1,
            "r.io/filt:v1",
            Some(TargetState::Current { digest: d('c') }),
        ),
        seen(
            1,
            "r.io/filt:v2",
            Some(TargetState::Filtered {
                source_digest: d('d'),
                filtered_digest: d('e'),
            }),
        ),
        seen(2, "r.io/none:v1", None),
    ];
    let m = Model::build("m.yaml", &maps, &obs, vec![]);
    let verdicts: Vec<Digests> = m
        .sources
        .iter()
        .map(|s| s.mirrors[0].holds.digests())
        .collect();
    assert_eq!(
        verdicts,
        [Digests::Served, Digests::Filtered, Digests::Unknown]
    );
    let w = m.warnings();
    let filtered = w.iter().find(|w| w.contains("r.io/filt:v2")).unwrap();
    assert!(
        filtered.contains("will not be served from m.io/p/filt"),
        "{filtered}"
    );
    assert!(filtered.contains(&d('d').to_string()) && filtered.contains(&d('e').to_string()));
    assert!(filtered.contains("on-reject: full") && filtered.contains("sparse indexes"));
    assert!(
        filtered.contains(&format!("r.io/filt@{}", d('e'))),
        "{filtered}"
    );
    assert!(
        w.iter().any(|w| w.contains("r.io/none:v1 is not served")),
        "{w:?}"
    );
    assert!(!w.iter().any(|w| w.contains("r.io/kept")), "{w:?}");
}

#[test]
fn insecure_mirrors_are_warned_once() {
    let mut a = mapping(("r.io", "a"), ("m.local:5000", "a"), vec![0]);
    a.mirror_access.plain_http = true;
    let mut b = mapping(("r.io", "b"), ("m.local:5000", "b"), vec![1]);
    b.mirror_access.plain_http = true;
    let w = Model::build("m.yaml", &[a, b], &[], vec![]).warnings();
    assert_eq!(
        w.iter().filter(|w| w.contains("plain HTTP")).count(),
        1,
        "{w:?}"
    );
}

#[test]
fn containerd_namespaces() {
    use containerd::namespace;
    assert_eq!(
        namespace("library/nginx", "mirror/library/nginx").as_deref(),
        Some("mirror")
    );
    assert_eq!(
        namespace("library/nginx", "library/nginx").as_deref(),
        Some("")
    );
    assert_eq!(namespace("team", "a/b/team").as_deref(), Some("a/b"));
    assert_eq!(namespace("", "mirror").as_deref(), Some("mirror"));
    assert_eq!(namespace("library/nginx", "mirror/nginx"), None);
    assert_eq!(namespace("app", "mirror/myapp"), None);
}

#[test]
fn repository_of_items() {
    assert_eq!(
        repository_of("127.0.0.1:5000/team/app:v1"),
        "127.0.0.1:5000/team/app"
    );
    assert_eq!(repository_of(&format!("r.io/a@{}", d('a'))), "r.io/a");
    assert_eq!(repository_of("r.io/a:v1@sha256:00"), "r.io/a");
}

#[test]
fn a_later_report_of_the_same_item_wins() {
    use crate::app::client_config::output::observed;
    use crate::app::sync::report::ItemReport;
    let mut synced = ItemReport::new(0, "r.io/a:v1", "m.io/a:v1");
    synced.target_state = Some(TargetState::Absent);
    let mut verified = ItemReport::new(0, "r.io/a:v1", "m.io/a:v1");
    verified.target_state = Some(TargetState::Current { digest: d('a') });
    let mut failed = ItemReport::new(1, "r.io/b:*", "m.io/b");
    failed.error = Some("listing the tags of r.io/b:\n  refused".into());
    let o = observed(&[synced, failed, verified]);
    assert_eq!(o.len(), 2);
    assert_eq!(o[0].state, Some(TargetState::Current { digest: d('a') }));
    assert_eq!(
        o[1].error.as_deref(),
        Some("listing the tags of r.io/b: refused")
    );
}
