//! insta snapshots of what users see for the common failures and of `--help`.
//!
//! Ports, temp dirs and timings are filtered (`[REGISTRY]`, `[TEMP]`, `[TIME]`). After an intended
//! change: `INSTA_UPDATE=always cargo test --test integration messages`, then review the `.snap`
//! diffs (or `cargo insta review`). In CI (`CI=true`) a missing or different snapshot fails.

use crate::fixtures;
use crate::harness::{mirror, mirror_async, Http, Registry};

fn snapshot(name: &str, text: &str, filters: &[(&str, &str)]) {
    let mut t = text.to_string();
    for (from, to) in filters {
        t = t.replace(from, to);
    }
    let t = regex_lite_time(&t);
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!(name, t));
}

/// `in 0.12s` → `in [TIME]s`.
fn regex_lite_time(t: &str) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(i) = rest.find(" in ") {
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n > 0 && rest[n..].starts_with('s') {
            out.push_str("[TIME]");
            rest = &rest[n..];
        }
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn common_failures() {
    let img = fixtures::multi_arch_oci(1024);
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", &img).await;
    let dst = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().display().to_string();
    let filters = [
        (src.host(), "[SRC]".to_string()),
        (dst.host(), "[DST]".to_string()),
        (t.clone(), "[TEMP]".to_string()),
    ];
    let filters: Vec<(&str, &str)> = filters
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let s = format!("{}/team/app:v1", src.host());
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "tag-not-found",
            vec![
                "copy".into(),
                format!("{}/team/app:nope", src.host()),
                format!("oci:{t}/a:v1"),
            ],
        ),
        (
            "nothing-selected",
            vec![
                "copy".into(),
                s.clone(),
                format!("oci:{t}/b:v1"),
                "-p".into(),
                "linux/mips64le".into(),
            ],
        ),
        (
            "sparse-rejected",
            vec![
                "copy".into(),
                s.clone(),
                format!("{}/m:v1", dst.host()),
                "-p".into(),
                "linux/amd64".into(),
            ],
        ),
        (
            "bad-platform",
            vec![
                "copy".into(),
                s.clone(),
                format!("oci:{t}/c:v1"),
                "-p".into(),
                "linux/arm/v7/x".into(),
            ],
        ),
        (
            "bad-reference",
            vec![
                "copy".into(),
                "UPPER/case:v1".into(),
                format!("oci:{t}/d:v1"),
            ],
        ),
        (
            "unknown-host",
            vec![
                "copy".into(),
                "registry.invalid/a:v1".into(),
                format!("oci:{t}/e:v1"),
                "--retries".into(),
                "0".into(),
            ],
        ),
    ];
    // The same refusal met by `mirror sync`: its hints name the file's keys, not copy's flags.
    let sync_file = tmp.path().join("sparse.yaml");
    std::fs::write(
        &sync_file,
        format!(
            "images:\n  - source: {}/team/app\n    target: {}/m2\n    tags: [v1]\n    platforms: [linux/amd64]\n",
            src.host(),
            dst.host()
        ),
    )
    .unwrap();
    // A whole registry given as `source:` (its port is not a tag).
    let registry_file = tmp.path().join("registry.yaml");
    std::fs::write(
        &registry_file,
        "images:\n  - source: registry.example.com:5000\n    target: mirror.local/all\n    tags: [v1]\n  - source: quay.io/org/app\n    target: mirror.local:5000\n    tags: [v1]\n",
    )
    .unwrap();
    let cases: Vec<(&str, Vec<String>)> = cases
        .into_iter()
        .chain([
            (
                "sync-sparse-rejected",
                vec!["sync".into(), "-f".into(), sync_file.display().to_string()],
            ),
            (
                "sync-registry-as-repository",
                vec![
                    "sync".into(),
                    "-f".into(),
                    registry_file.display().to_string(),
                ],
            ),
        ])
        .collect();
    for (name, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = mirror_async(&args).await;
        // DNS wording varies between resolvers: keep the first cause line only up to the error kind.
        let stderr = if name == "unknown-host" {
            out.stderr
                .lines()
                .map(|l| l.split(": dns error").next().unwrap())
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        } else {
            out.stderr.clone()
        };
        snapshot(
            &format!("error-{name}"),
            &format!(
                "exit: {}\n--- stdout ---\n{}--- stderr ---\n{stderr}",
                out.code, out.stdout
            ),
            &filters,
        );
    }
}

#[test]
fn help_texts() {
    snapshot("help-top", &mirror(&["--help"]).stdout, &[]);
    snapshot("help-copy", &mirror(&["copy", "--help"]).stdout, &[]);
    // The flag groups: verify and inspect show copy's selection and access flags.
    snapshot("help-verify", &mirror(&["verify", "--help"]).stdout, &[]);
    snapshot("help-inspect", &mirror(&["inspect", "--help"]).stdout, &[]);
}
