//! insta snapshots of what each command shows: the human output (stdout and stderr) and the JSON
//! of `copy`, `sync`, `verify` and `inspect`, on one 6-platform image mirrored with
//! `-p linux/amd64` into distribution 2.8 (which refuses sparse indexes, so `--on-reject filter`
//! makes a filtered mirror) and into an OCI layout (which keeps the sparse index).
//!
//! Ports, temp paths and timings are filtered (`[SRC]`, `[DST]`, `[TEMP]`, `[TIME]`). Digests stay:
//! the fixtures are deterministic, so a changed digest in a snapshot is a real change.
//! After an intended change: `INSTA_UPDATE=always cargo test --test integration outputs`, then
//! review the `.snap` diffs (or use `cargo insta review`).

use crate::fixtures;
use crate::harness::{mirror_in_async, Http, Output, Registry};

/// Filters shared by every snapshot: registry addresses, the temp dir and timings.
fn settings(src: &Registry, dst: &Registry, tmp: &std::path::Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(&regex_escape(&src.host()), "[SRC]");
    s.add_filter(&regex_escape(&dst.host()), "[DST]");
    s.add_filter(&regex_escape(&tmp.display().to_string()), "[TEMP]");
    s.add_filter(r#""(\w*seconds)":(\s?)[0-9.e-]+"#, r#""$1":$2"[TIME]""#);
    s.add_filter(r"\b(in|after) [0-9]+(\.[0-9]+)?\s?(ms|s)\b", "$1 [TIME]");
    s.add_filter(
        r#""(started|finished|timestamp)":(\s?)"[^"]*""#,
        r#""$1":$2"[TIME]""#,
    );
    s
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Exit code, stdout and stderr of one run, as one text.
fn shown(out: &Output) -> String {
    format!(
        "exit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
        out.code,
        out.stdout.trim_end(),
        out.stderr.trim_end()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn command_outputs() {
    let img = fixtures::multi_arch_oci(1024);
    let src = Registry::start();
    fixtures::push_image(&Http::new(), &src.host(), "team/app", "v1", &img).await;
    let dst = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/mirror/app:v1", dst.host());
    let layout = format!("oci:{}/layout:v1", dir.display());
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        mirror_in_async(dir, &args, &[]).await
    };
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let settings = settings(&src, &dst, dir);
    let _guard = settings.bind_to_scope();

    // copy: a dry run, the filtered mirror, its rerun (human and JSON), a sparse layout.
    let o = run(v(&["copy", &s, &d, "-p", "linux/amd64", "--dry-run"])).await;
    insta::assert_snapshot!("copy-dry-run", shown(&o));
    let o = run(v(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
    ]))
    .await;
    assert_eq!(o.code, 0, "{o}");
    insta::assert_snapshot!("copy-filter", shown(&o));
    let o = run(v(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
    ]))
    .await;
    insta::assert_snapshot!("copy-filter-rerun", shown(&o));
    let o = run(v(&[
        "copy",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
        "-o",
        "json",
    ]))
    .await;
    insta::assert_snapshot!("copy-filter-rerun-json", shown(&o));
    let o = run(v(&["copy", &s, &layout, "-p", "linux/amd64,linux/arm64"])).await;
    assert_eq!(o.code, 0, "{o}");
    insta::assert_snapshot!("copy-layout-sparse", shown(&o));
    let o = run(v(&["copy", &s, &d, "-p", "linux/amd64"])).await;
    insta::assert_snapshot!("copy-sparse-rejected", shown(&o));

    // verify: the filtered mirror made on purpose, the sparse layout, and a target that lacks it.
    let o = run(v(&[
        "verify",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
    ]))
    .await;
    insta::assert_snapshot!("verify-filtered", shown(&o));
    let o = run(v(&[
        "verify",
        &s,
        &d,
        "-p",
        "linux/amd64",
        "--on-reject",
        "filter",
        "-o",
        "json",
    ]))
    .await;
    insta::assert_snapshot!("verify-filtered-json", shown(&o));
    let o = run(v(&["verify", &s, &layout, "-p", "linux/amd64,linux/arm64"])).await;
    insta::assert_snapshot!("verify-layout", shown(&o));
    let absent = format!("{}/mirror/none:v1", dst.host());
    let o = run(v(&["verify", &s, &absent, "-p", "linux/amd64"])).await;
    insta::assert_snapshot!("verify-absent", shown(&o));

    // sync: two items, then a no-op rerun (human and JSON lines); one item at a time, so the
    // progress lines come in a stable order.
    let cfg = format!(
        "defaults:\n  platforms: [linux/amd64]\n  on-reject: filter\nimages:\n  - source: {}/team/app\n    target: {}/synced/app\n    tags: [v1]\n  - source: {}/team/app\n    target: oci:{}/synced-layout\n    tags: [v1]\n",
        src.host(),
        dst.host(),
        src.host(),
        dir.display()
    );
    std::fs::write(dir.join("mirror.yaml"), cfg).unwrap();
    let cache = dir.join("cache").display().to_string();
    let o = run(v(&[
        "sync",
        "-f",
        "mirror.yaml",
        "--cache-dir",
        &cache,
        "--parallel",
        "1",
    ]))
    .await;
    assert_eq!(o.code, 0, "{o}");
    insta::assert_snapshot!("sync", shown(&o));
    let o = run(v(&[
        "sync",
        "-f",
        "mirror.yaml",
        "--cache-dir",
        &cache,
        "--parallel",
        "1",
    ]))
    .await;
    insta::assert_snapshot!("sync-rerun", shown(&o));
    let o = run(v(&[
        "sync",
        "-f",
        "mirror.yaml",
        "--cache-dir",
        &cache,
        "-o",
        "json",
        // One item at a time: JSON lines come out as items finish, so concurrent items would
        // make the order (and the snapshot) depend on timing.
        "--parallel",
        "1",
    ]))
    .await;
    insta::assert_snapshot!("sync-rerun-json", shown(&o));

    // inspect: human and JSON.
    let o = run(v(&["inspect", &s])).await;
    insta::assert_snapshot!("inspect", shown(&o));
    let o = run(v(&["inspect", &s, "-o", "json"])).await;
    insta::assert_snapshot!("inspect-json", shown(&o));
}
