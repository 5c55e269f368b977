use std::time::Duration;

use super::*;
use crate::engine::copy::OnReject;
use crate::engine::select::PlatformlessPolicy;
use crate::model::platform::Platform;

fn err(yaml: &str) -> ConfigError {
    parse("m.yaml", yaml).expect_err("should fail")
}

fn platform(os: &str, arch: &str) -> Platform {
    Platform {
        os: os.into(),
        architecture: arch.into(),
        ..Platform::default()
    }
}

#[test]
fn full_config_and_overrides() {
    let cfg = parse(
        "m.yaml",
        r#"
defaults:
  platforms: [linux/amd64, linux/arm64]
  on-reject: full
  jobs: 3
registries:
  reg.local:5000:
    credentials: "u:p"
images:
  - source: reg.local:5000/a
    target: oci:/tmp/x
    tags: [3.20, "1.0@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
  - source: docker.io/library/nginx
    target: reg.local:5000/mirror/nginx
    tags:
      semver: ">=1.24 <2"
      exclude: -rc
      latest: 2
    platforms: linux/amd64
    attestations: false
    platformless: skip
    referrers-artifact-types: ["application/spdx+json"]
    never-copy: media-type=application/vnd.example.*
    layout-ref-name: full
"#,
    )
    .unwrap();
    assert_eq!(cfg.images.len(), 2);
    assert_eq!(
        cfg.images[0].tags.list[0].tag, "3.20",
        "a YAML float stays the tag text"
    );
    assert!(cfg.images[0].tags.list[1].pin.is_some());
    assert_eq!(
        (cfg.images[0].line, cfg.images[1].line),
        (Some(10), Some(13))
    );
    let s0 = cfg.settings(0);
    assert_eq!(s0.platforms.patterns, vec!["linux/amd64", "linux/arm64"]);
    let f0 = s0.platform_filter();
    assert!(f0.select(&platform("linux", "arm64")).is_some());
    assert!(f0.select(&platform("linux", "s390x")).is_none());
    assert_eq!(
        (s0.on_reject, s0.jobs, s0.attestations),
        (OnReject::Full, 3, true)
    );
    let s1 = cfg.settings(1);
    assert_eq!(s1.platforms.patterns, vec!["linux/amd64"]);
    assert!(s1
        .platform_filter()
        .select(&platform("linux", "arm64"))
        .is_none());
    assert!(!s1.attestations);
    assert_eq!(s1.platformless, PlatformlessPolicy::Skip);
    assert_eq!(s1.artifact_types.globs, vec!["application/spdx+json"]);
    assert!(s1.artifact_filter().matches(Some("application/spdx+json")));
    assert!(!s1.artifact_filter().matches(Some("application/vnd.other")));
    assert!(s1.referrers, "artifact types imply referrers");
    let never: Vec<String> = s1.rules.never.iter().map(|r| r.to_string()).collect();
    assert_eq!(never, vec!["media-type=application/vnd.example.*"]);
    assert_eq!(s1.layout_ref_name, LayoutRefName::Full);
    assert!(!s0.referrers && !s0.digest_tags && s0.rules.is_empty());
    assert!(s0.platforms.patterns.len() == 2 && s0.artifact_types.globs.is_empty());
    assert!(format!("{:?}", cfg.registries).contains("<redacted>"));
    assert!(!format!("{:?}", cfg.registries).contains("\"p\""));
}

#[test]
fn an_image_list_replaces_the_default_list() {
    let cfg = parse(
        "m.yaml",
        "defaults:\n  always-copy: [artifact-type=a/*]\n  never-copy: media-type=x/*\nimages:\n  - {source: a/b, target: c/d, tags: [v1]}\n  - {source: a/c, target: c/e, tags: [v1], always-copy: []}\n",
    )
    .unwrap();
    let (r0, r1) = (&cfg.settings(0).rules, &cfg.settings(1).rules);
    assert_eq!((r0.always.len(), r0.never.len()), (1, 1));
    assert_eq!((r1.always.len(), r1.never.len()), (0, 1));
    assert_eq!(
        (cfg.images[0].line, cfg.images[1].line),
        (Some(5), Some(6)),
        "flow-style entries are located too"
    );
}

#[test]
fn errors_name_file_line_and_key() {
    let e = err("images:\n  - source: a/b\n    target: c/d\n    tags: [v1]\n    jobz: 3\n");
    assert_eq!((e.line, e.column), (Some(5), Some(5)));
    assert!(
        e.message.contains("images[0]") && e.message.contains("jobz"),
        "{e}"
    );
    assert!(!e.message.contains(".value"), "{e}");
    assert!(e.to_string().starts_with("m.yaml:5:5: "), "{e}");
    assert!(e.to_string().contains("\n     5 |     jobz: 3\n"), "{e}");
    let e = err("images:\n  - source: a/b\n    target: c/d\n    tags:\n      regex: 'v('\n");
    assert_eq!(e.line, Some(5), "{e}");
    assert!(
        e.message.contains("images[0].tags") && e.message.contains("invalid regex"),
        "{e}"
    );
    let e = err("images:\n  - source: a/b\n    target: c/d\n    tags:\n      semver: '>=x'\n");
    assert!(e.message.contains("semver"), "{e}");
    let e = err("images:\n  - source: a/b:v1\n    target: c/d\n    tags: [v1]\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("names a tag"), "{e}");
    let e =
        err("images:\n  - source: a/b\n    target: c/d\n    tags: [v1]\n    platforms: [linux]\n");
    assert_eq!(e.line, Some(5));
    assert!(e.message.contains("platform"), "{e}");
    let e = err("images:\n  - source: a/b\n    target: c/d\n");
    assert!(e.message.contains("missing field `tags`"), "{e}");
    let e = err("images:\n  - source: a/b\n    target: c/d\n    tags: {exclude: x}\n");
    assert!(e.message.contains("selects nothing"), "{e}");
    let e =
        err("images:\n  - source: ${NOPE_NOT_SET_ANYWHERE}/b\n    target: c/d\n    tags: [a]\n");
    assert!(
        e.message.contains("NOPE_NOT_SET_ANYWHERE is not set"),
        "{e}"
    );
    assert_eq!(e.line, Some(2));
    let e = err("images:\n  - source: a/b\n    target: c/d\n    tags: [v1]\n  - source: a/c\n    target: oci:/x\n    tags:\n      digests: [\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"]\n");
    assert_eq!((e.line, e.column), (Some(5), None), "{e}");
    assert!(e.message.starts_with("images[1]:"), "{e}");
    assert!(e.to_string().starts_with("m.yaml:5: images[1]: "), "{e}");
    let e = err("defaults:\n  always-copy: [colour=blue]\nimages:\n  - source: a/b\n    target: c/d\n    tags: [v1]\n");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(
        e.message.contains("always-copy") && e.message.contains("invalid rule"),
        "{e}"
    );
    let e = err("defaults:\n  on-reject: maybe\nimages: []\n");
    assert!(
        e.message.contains("on-reject") && e.message.contains("maybe"),
        "{e}"
    );
    let e = err("images:\n  - source: a/b\n    target: c/d\n    tags: [v1]\n    tags: [v2]\n");
    assert_eq!(e.line, Some(5), "{e}");
    assert!(
        e.message.contains("duplicate") && e.message.contains("tags"),
        "{e}"
    );
    assert!(!e.message.contains("DuplicateKeyPolicy"), "{e}");
    let e = err("defaults:\n  attestations: yes\nimages: []\n");
    assert!(e.message.starts_with("defaults.attestations: "), "{e}");
    let e = err("images: []\n");
    assert!(e.message.contains("nothing to mirror"), "{e}");
}

/// CPU time of this thread: unlike wall time, it does not grow when other processes load the
/// machine (a test run beside parallel builds), so the bound below measures the parser.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Parse `yaml`, which must fail, in well under the CPU time the old parser took (19 s for the
/// bracket file), and return the error.
fn refused_quickly(yaml: &str) -> ConfigError {
    let t = thread_cpu_time();
    let e = err(yaml);
    let took = thread_cpu_time() - t;
    assert!(
        took < Duration::from_secs(2),
        "took {took:?} of CPU to refuse a {} byte file: {e}",
        yaml.len()
    );
    e
}

#[test]
fn deeply_nested_brackets_are_refused_at_once() {
    for yaml in [
        format!("images: {}\n", "[".repeat(200_000)),
        "[".repeat(200_000),
    ] {
        let e = refused_quickly(&yaml);
        assert!(e.message.contains(LIMITS), "{e}");
        assert!(e.message.contains("recursion limit"), "{e}");
        assert_eq!(e.line, Some(1), "{e}");
        let shown = e.to_string();
        assert!(shown.len() < 600, "a long line is shown cropped: {shown}");
        assert!(shown.contains("[[[[…\n       | "), "{shown}");
    }
}

#[test]
fn a_deep_mapping_is_refused_at_once() {
    let head = "images:\n  - source: a/b\n    target: c/d\n    tags:\n";
    let flow = format!("{head}      {}\n", "{list: ".repeat(50_000));
    let mut block = String::from(head);
    for depth in 3..2_000 {
        block.push_str(&" ".repeat(depth * 2));
        block.push_str("list:\n");
    }
    // The parser looks ahead through the flow mapping and stops at the nesting limit.
    let e = refused_quickly(&flow);
    assert!(e.message.starts_with("images[0]: recursion limit"), "{e}");
    assert!(e.message.contains(LIMITS), "{e}");
    assert_eq!(e.line, Some(5), "{e}");
    // A block mapping is read as it streams: the first level that cannot be `tags` stops it.
    let e = refused_quickly(&block);
    assert!(
        e.message
            .starts_with("images[0].tags.list: expected sequence"),
        "{e}"
    );
    assert_eq!(e.line, Some(6), "{e}");
}

#[test]
fn a_huge_file_is_refused_at_once() {
    // 70 000 entries of 3 values each: more values than any sync configuration needs.
    let mut yaml = String::from("images:\n");
    for i in 0..70_000 {
        yaml.push_str(&format!(
            "  - {{source: a/b{i}, target: c/d{i}, tags: [v1]}}\n"
        ));
    }
    let e = refused_quickly(&yaml);
    assert!(e.message.contains(LIMITS), "{e}");
    assert!(
        e.message.contains("too many values (more than 200000)"),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, " ".repeat(MAX_FILE_BYTES as usize + 1)).unwrap();
    let e = load(&big).unwrap_err();
    assert!(e.message.contains("larger than 8 MiB"), "{e}");
}

#[test]
fn target_prefix_maps_docker_hub_and_other_names_and_excludes_target() {
    let cfg = parse(
        "m.yaml",
        r#"
defaults:
  target-prefix: registry.internal/mirror
images:
  - source: nginx
    tags: [1.27]
  - source: quay.io/prometheus/node-exporter
    tags: [v1]
  - source: 127.0.0.1:5000/team/app
    target-prefix: 127.0.0.1:5001/other
    tags: [v1]
  - source: docker.io/bitnami/redis
    target: registry.internal/own/redis
    tags: [v1]
"#,
    )
    .unwrap();
    let targets: Vec<&str> = cfg.images.iter().map(|i| i.target.text.as_str()).collect();
    assert_eq!(
        targets,
        vec![
            "registry.internal/mirror/library/nginx",
            "registry.internal/mirror/prometheus/node-exporter",
            "127.0.0.1:5001/other/team/app",
            "registry.internal/own/redis",
        ]
    );
    let e = err("images:\n  - source: nginx\n    tags: [v1]\n    target: reg.io/a\n    target-prefix: reg.io/m\n");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(
        e.to_string()
            .starts_with("m.yaml:2: images[0]: `target` and `target-prefix` exclude each other"),
        "{e}"
    );
    let e = err("images:\n  - source: nginx\n    tags: [v1]\n");
    assert!(e.to_string().contains("no target"), "{e}");
    let e =
        err("defaults:\n  target-prefix: mirror/x\nimages:\n  - source: nginx\n    tags: [v1]\n");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(
        e.to_string().contains(
            "defaults.target-prefix: target-prefix \"mirror/x\": \"mirror\" is not a registry host"
        ),
        "{e}"
    );
    let e = err("images:\n  - source: oci:/tmp/l\n    target-prefix: reg.io/m\n    tags: [v1]\n");
    assert!(e.to_string().contains("needs a registry source"), "{e}");
}

#[test]
fn source_registry_entries_need_a_prefix_and_exclude_source_and_target() {
    let cfg = parse(
        "m.yaml",
        r#"
defaults:
  target-prefix: reg.internal/m
images:
  - source: reg.local:5000/one/app
    tags: [v1]
  - source-registry: reg.local:5000/team
    repositories: {regex: '^team/a', exclude: ['-test$']}
    tags: {regex: '^v'}
  - source: reg.local:5000/two/app
    tags: [v1]
"#,
    )
    .unwrap();
    assert_eq!(cfg.images.len(), 2);
    let d = &cfg.discoveries[0];
    assert_eq!((d.entry, d.position, d.line), (1, 1, Some(7)));
    assert_eq!(d.source.to_string(), "reg.local:5000/team");
    assert!(d.takes("team/app") && d.takes("team/api"));
    assert!(!d.takes("team/app-test"), "exclude");
    assert!(!d.takes("team/tool"), "regex");
    assert!(!d.takes("teamx/app"), "outside the organisation");
    assert_eq!(
        d.image("team/app").unwrap().target.text,
        "reg.internal/m/team/app"
    );
    for (yaml, want) in [
        (
            "images:\n  - source-registry: r.io/t\n    tags: [v1]\n",
            "needs `target-prefix`",
        ),
        (
            "images:\n  - source-registry: r.io/t\n    target: r.io/x\n    tags: [v1]\n",
            "give `target-prefix`, not `target`",
        ),
        (
            "images:\n  - source-registry: r.io/t\n    source: r.io/t/a\n    target-prefix: r.io/m\n    tags: [v1]\n",
            "exclude each other",
        ),
        (
            "images:\n  - source: r.io/t/a\n    repositories: {regex: a}\n    target-prefix: r.io/m\n    tags: [v1]\n",
            "`repositories` filters a `source-registry` catalog",
        ),
        (
            "images:\n  - source-registry: team\n    target-prefix: r.io/m\n    tags: [v1]\n",
            "not a registry host",
        ),
        (
            "images:\n  - source-registry: r.io/t\n    repositories: {regex: '('}\n    target-prefix: r.io/m\n    tags: [v1]\n",
            "invalid regex",
        ),
    ] {
        let e = err(yaml);
        assert!(e.to_string().contains(want), "{yaml}: {e}");
        assert!(e.line.is_some(), "{e}");
    }
}

#[test]
fn a_registry_given_as_source_or_target_points_to_discovery_and_prefixes() {
    for (src, reg) in [
        ("registry.example.com", "registry.example.com"),
        ("registry.example.com:5000", "registry.example.com:5000"),
        ("docker://localhost:5000/", "localhost:5000"),
    ] {
        let e = err(&format!(
            "images:\n  - source: {src}\n    target: mirror.local/x\n    tags: [v1]\n"
        ));
        let m = e.to_string();
        assert!(m.contains("names a registry, not a repository"), "{m}");
        assert!(m.contains(&format!("`source-registry: {reg}`")), "{m}");
        assert!(m.contains("target-prefix"), "{m}");
    }
    let e = err(
        "images:\n  - source: quay.io/org/app\n    target: mirror.local:5000\n    tags: [v1]\n",
    );
    let m = e.to_string();
    assert!(m.contains("`target-prefix: mirror.local:5000`"), "{m}");
    // A layout is not a registry, and `localhost/app` is a repository.
    parse(
        "m.yaml",
        "images:\n  - source: localhost:5000/app\n    target: oci:x\n    tags: [v1]\n",
    )
    .unwrap();
    // A repository with a tag is still refused as one.
    let e = err("images:\n  - source: quay.io/org/app:v1\n    target: mirror.local/app\n");
    assert!(e.to_string().contains("names a tag or digest"), "{e}");
}

#[test]
fn limit_rate_takes_the_units_of_the_flag_or_bytes_per_second() {
    let images = "images:\n  - source: a.io/x\n    target: b.io/x\n    tags: [v1]\n";
    for (written, want) in [
        ("20M", 20_000_000),
        ("'40Mi'", 40 * 1024 * 1024),
        ("1500000", 1_500_000),
    ] {
        let cfg = parse("m.yaml", &format!("limit-rate: {written}\n{images}")).unwrap();
        assert_eq!(cfg.limit_rate, Some(want), "{written}");
    }
    assert_eq!(parse("m.yaml", images).unwrap().limit_rate, None);
    let e = err(&format!("limit-rate: 20X\n{images}"));
    assert!(e.message.contains("unknown unit"), "{e:?}");
    assert_eq!(e.line, Some(1), "{e:?}");
}

#[test]
fn prune_is_a_default_an_entry_may_override() {
    let cfg = parse(
        "m.yaml",
        r#"
defaults:
  prune: true
images:
  - source: reg.local:5000/a
    target: reg.local:5000/m/a
    tags: {latest: 2}
  - source: reg.local:5000/b
    target: reg.local:5000/m/b
    tags: {latest: 2}
    prune: false
  - source: reg.local:5000/c
    target: reg.local:5000/m/c
    tags: [v1]
"#,
    )
    .unwrap();
    let p: Vec<Option<bool>> = (0..3).map(|i| cfg.settings(i).prune).collect();
    assert_eq!(p, vec![Some(true), Some(false), Some(true)]);
    let e = parse(
        "m.yaml",
        "images:\n  - source: r.local/a\n    target: r.local/b\n    tags: [v1]\n    prune: yes\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("prune"), "{e}");
}
