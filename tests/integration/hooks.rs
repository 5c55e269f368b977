//! Hooks (issue 17): `hooks:` in a sync file and `mirror copy --on-change`, against
//! distribution 2.8. The hooks are real programs (`sh -c …`, written by the tests).

use std::path::Path;

use crate::fixtures;
use crate::harness::{mirror_in_async, Http, Registry};
use crate::unattended::{lines, sync};
use sparse_mirror::app::sync::report::{Action, ItemReport};

const LAYER: usize = 1024;

async fn source_with(tags: &[&str]) -> (Registry, String) {
    let src = Registry::start();
    let img = fixtures::single_manifest(LAYER);
    for t in tags {
        fixtures::push_image(&Http::new(), &src.host(), "team/app", t, &img).await;
    }
    let digest = img.index.digest.clone();
    (src, digest)
}

fn config(src: &Registry, dst: &Registry, tags: &str, hooks: &str) -> String {
    format!(
        "hooks:\n{hooks}images:\n  - source: {s}/team/app\n    target: {d}/m/app\n    tags: [{tags}]\n",
        s = src.host(),
        d = dst.host()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_on_change_hook_reads_the_item_json_and_its_environment() {
    let (src, digest) = source_with(&["v1"]).await;
    let dst = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("hook-out");
    std::fs::create_dir(&out_dir).unwrap();
    let hooks = "  pass-env: [HOOK_OUT]\n  on-change: [sh, -c, 'cat > \"$HOOK_OUT/item.json\"; printf \"%s\\n%s\\n%s\\n%s\\n\" \"$MIRROR_EVENT\" \"$MIRROR_SOURCE\" \"$MIRROR_TARGET\" \"$MIRROR_DIGEST\" > \"$HOOK_OUT/env\"']\n";
    let cfg = config(&src, &dst, "v1", hooks);
    let env = [("HOOK_OUT", out_dir.to_str().unwrap())];
    let out = sync(dir.path(), &cfg, &["-o", "json"], &env).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(items[0].action, Action::Copied);
    assert_eq!(items[0].hooks.len(), 1, "{out}");
    assert!(items[0].hooks[0].ok, "{out}");
    assert_eq!(summary.hook_failures, 0);
    let seen: ItemReport =
        serde_json::from_slice(&std::fs::read(out_dir.join("item.json")).unwrap()).unwrap();
    assert_eq!(seen.action, Action::Copied);
    assert_eq!(seen.source, format!("{}/team/app:v1", src.host()));
    assert_eq!(seen.source_digest.unwrap().to_string(), digest);
    let seen_env = std::fs::read_to_string(out_dir.join("env")).unwrap();
    assert_eq!(
        seen_env.lines().collect::<Vec<_>>(),
        vec![
            "on-change".to_string(),
            format!("{}/team/app:v1", src.host()),
            format!("{}/m/app:v1", dst.host()),
            digest.clone()
        ]
    );
    // Unchanged on the rerun: no hook.
    std::fs::remove_file(out_dir.join("item.json")).unwrap();
    let out = sync(dir.path(), &cfg, &["-o", "json"], &env).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, _) = lines(&out);
    assert_eq!(items[0].action, Action::SkippedUnchanged);
    assert!(items[0].hooks.is_empty());
    assert!(!out_dir.join("item.json").exists());

    // `mirror copy --on-change`: the copy's JSON report on stdin, the digest in the environment.
    let out = mirror_in_async(
        dir.path(),
        &[
            "copy",
            &format!("{}/team/app:v1", src.host()),
            &format!("{}/c/app:v1", dst.host()),
            "--on-change",
            "sh -c 'cat > \"$HOOK_OUT/copy.json\"; echo \"$MIRROR_DIGEST\" > \"$HOOK_OUT/copy.digest\"'",
            "--hook-env",
            "HOOK_OUT",
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("copy.json")).unwrap()).unwrap();
    assert_eq!(report["source_digest"], digest.as_str());
    // The copy's own JSON report names the hook run, as sync's item reports do.
    let printed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(printed["source_digest"], digest.as_str());
    assert_eq!(printed["hooks"][0]["on"], "on-change", "{out}");
    assert_eq!(printed["hooks"][0]["program"], "sh", "{out}");
    assert_eq!(printed["hooks"][0]["ok"], true, "{out}");
    assert_eq!(printed["hooks"][0]["exit_code"], 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("copy.digest"))
            .unwrap()
            .trim(),
        digest
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_hook_is_reported_and_counted_and_changes_the_exit_code_only_when_asked() {
    let (src, _) = source_with(&["v1"]).await;
    let dst = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let hooks = "  on-change: [sh, -c, 'exit 3']\n  on-failure: [sh, -c, 'exit 4']\n";
    // v1 is copied (its hook fails with 3), nope fails (its hook fails with 4).
    let cfg = config(&src, &dst, "v1", hooks);
    let out = sync(dir.path(), &cfg, &["-o", "json"], &[]).await;
    assert_eq!(out.code, 0, "a failed hook alone keeps exit 0: {out}");
    let (items, summary) = lines(&out);
    let h = &items[0].hooks[0];
    assert!(!h.ok && h.exit_code == Some(3) && !h.timed_out, "{h:?}");
    assert_eq!(h.on, "on-change");
    assert_eq!(summary.hook_failures, 1);
    assert!(out.stderr.contains("on-change hook for"), "{out}");
    // With --hook-failure-exit, the same failure gives 6 (the tag moves again first).
    let cfg2 = cfg.replace("/m/app", "/m/app2");
    let out = sync(
        dir.path(),
        &cfg2,
        &["-o", "json", "--hook-failure-exit"],
        &[],
    )
    .await;
    assert_eq!(out.code, 6, "{out}");
    assert_eq!(lines(&out).1.exit_code, 6);
    // on-failure runs for a failed item.
    let cfg = config(&src, &dst, "nope", hooks);
    let out = sync(dir.path(), &cfg, &["-o", "json"], &[]).await;
    assert_eq!(out.code, 6, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(items[0].action, Action::Failed);
    assert_eq!(items[0].hooks[0].on, "on-failure");
    assert_eq!(items[0].hooks[0].exit_code, Some(4));
    assert_eq!(summary.hook_failures, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_hook_is_killed_with_its_process_group_after_the_timeout() {
    let (src, _) = source_with(&["v1"]).await;
    let dst = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let hooks = format!(
        "  timeout: 60\n  on-change: [sh, -c, 'sleep 300 & echo $! > {}; wait']\n",
        pid_file.display()
    );
    let cfg = config(&src, &dst, "v1", &hooks);
    let started = std::time::Instant::now();
    let out = sync(
        dir.path(),
        &cfg,
        &["-o", "json", "--hook-timeout", "1"],
        &[],
    )
    .await;
    assert!(started.elapsed().as_secs() < 30, "the timeout did not hold");
    assert_eq!(out.code, 0, "{out}");
    let (items, summary) = lines(&out);
    let h = &items[0].hooks[0];
    assert!(h.timed_out && !h.ok && h.exit_code.is_none(), "{h:?}");
    assert!(
        h.duration_seconds >= 1.0 && h.duration_seconds < 10.0,
        "{h:?}"
    );
    assert_eq!(summary.hook_failures, 1);
    // The background `sleep` was in the hook's process group: it is gone too.
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let proc = format!("/proc/{}", pid.trim());
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !Path::new(&proc).exists()
            || std::fs::read_to_string(format!("{proc}/stat"))
                .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
    });
    assert!(gone, "the hook's child {} survived", pid.trim());
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_never_see_credentials() {
    let (src, _) = source_with(&["v1"]).await;
    let dst = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("hook.env");
    let hooks = format!(
        "  pass-env: [HOOK_NOTE]\n  on-change: [sh, -c, 'env > {}']\n",
        env_file.display()
    );
    let cfg = config(&src, &dst, "v1", &hooks);
    let auth = dir.path().join("auth.json");
    std::fs::write(&auth, r#"{"auths":{}}"#).unwrap();
    let env = [
        ("MIRROR_SRC_CREDS", "user:src-s3cret"),
        ("MIRROR_DEST_CREDS", "user:dest-s3cret"),
        ("MIRROR_DEST_REGISTRY_TOKEN", "tok-s3cret"),
        ("REGISTRY_AUTH_FILE", auth.to_str().unwrap()),
        ("DOCKER_CONFIG", "/nonexistent-s3cret"),
        ("SOME_PASSWORD", "pw-s3cret"),
        ("AWS_SECRET_ACCESS_KEY", "aws-s3cret"),
        ("HOOK_NOTE", "visible"),
    ];
    let out = sync(dir.path(), &cfg, &["-o", "json"], &env).await;
    assert_eq!(out.code, 0, "{out}");
    let seen = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        !seen.contains("s3cret"),
        "a secret reached the hook:\n{seen}"
    );
    assert!(
        !seen.contains("REGISTRY_AUTH_FILE") && !seen.contains("DOCKER_CONFIG"),
        "{seen}"
    );
    assert!(seen.contains("HOOK_NOTE=visible"), "{seen}");
    assert!(seen.contains("MIRROR_SOURCE="), "{seen}");
    assert!(seen.lines().any(|l| l.starts_with("PATH=")), "{seen}");
    // Passing a credential variable on purpose is refused.
    let bad = config(
        &src,
        &dst,
        "v1",
        "  pass-env: [MIRROR_SRC_CREDS]\n  on-change: [env]\n",
    );
    let out = sync(dir.path(), &bad, &[], &[]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("hooks.pass-env"), "{out}");
    assert!(out.stderr.contains("carry mirror's credentials"), "{out}");
    let out = mirror_in_async(
        dir.path(),
        &[
            "copy",
            &format!("{}/team/app:v1", src.host()),
            &format!("{}/c/app:v1", dst.host()),
            "--on-change",
            "env",
            "--hook-env",
            "DOCKER_CONFIG",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{out}");
}
