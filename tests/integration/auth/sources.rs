//! Where credentials come from, against real registries: docker credential helpers (through
//! `credHelpers` and `credsStore`, failing, missing, slow, identity tokens), auth.json before
//! config.json, `--dest-authfile` before `REGISTRY_AUTH_FILE`, namespaced entries, the
//! password on stdin, and a missing password without a terminal.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::pki::{htpasswd, htpasswd_yaml};
use super::token_issuer::{IssuerConfig, TokenIssuer};
use super::{assert_holds, assert_no_secret, basic, layout, secret, Env, LAYER};
use crate::fixtures;
use crate::harness::{Http, Registry};

/// Writes an executable `docker-credential-NAME` shell script into `bin`.
fn helper(bin: &Path, name: &str, body: &str) {
    let p = bin.join(format!("docker-credential-{name}"));
    std::fs::create_dir_all(bin).unwrap();
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_helpers() {
    let mut env = Env::new();
    let pass = secret("helper-pass");
    let refresh = secret("helper-refresh");
    let issuer = TokenIssuer::start(
        &env.path("issuer"),
        IssuerConfig {
            user: "alice".into(),
            password: pass.clone(),
            refresh_token: Some(refresh.clone()),
            lifetime: 300,
            expires_in: Some(300),
        },
    )
    .await;
    let reg = Registry::start_with(&issuer.registry_yaml());
    let host = reg.host();
    let bin = env.path("bin");
    let log = env.path("helper.log");
    // Answers for this registry only, like a real keychain; logs each call.
    helper(
        &bin,
        "testhelper",
        &format!(
            r#"server=$(cat)
echo "$1 $server" >> {log}
if [ "$server" = "{host}" ]; then
  printf '{{"ServerURL":"%s","Username":"alice","Secret":"{pass}"}}' "$server"
else
  echo "credentials not found in native keychain"; exit 1
fi"#,
            log = log.display()
        ),
    );
    helper(
        &bin,
        "tokenhelper",
        &format!(r#"cat >/dev/null; printf '{{"Username":"<token>","Secret":"{refresh}"}}'"#),
    );
    helper(
        &bin,
        "failhelper",
        "cat >/dev/null; echo 'keychain is locked' >&2; exit 3",
    );
    helper(&bin, "slowhelper", "sleep 5");
    env.prepend_path(&bin);
    let img = fixtures::single_manifest(LAYER);
    let src = layout(&env, &img);
    let dst = |tag: &str| format!("{host}/team/app:{tag}");

    // credHelpers: the helper is asked for this host, with `get`.
    env.docker_config(&format!(r#"{{"credHelpers":{{"{host}":"testhelper"}}}}"#));
    let out = env.mirror_async(&["copy", &src, &dst("v1")]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "team/app", "v1", &img);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("get {host}\n")
    );

    // credsStore: the same helper for every registry.
    env.docker_config(r#"{"credsStore":"testhelper","auths":{}}"#);
    let out = env.mirror_async(&["copy", &src, &dst("v2")]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "team/app", "v2", &img);

    // A helper answering with `<token>`: an identity token, exchanged with the refresh grant.
    env.docker_config(&format!(r#"{{"credHelpers":{{"{host}":"tokenhelper"}}}}"#));
    let out = env.mirror_async(&["copy", &src, &dst("v3")]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "team/app", "v3", &img);
    assert!(issuer
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.status == 200));
    assert_no_secret(&out, &[&refresh, &pass]);

    // A failing helper: exit 5, the helper and its message named.
    env.docker_config(&format!(r#"{{"credHelpers":{{"{host}":"failhelper"}}}}"#));
    let out = env.mirror_async(&["copy", &src, &dst("v4")]).await;
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr
            .contains("docker-credential-failhelper get` failed"),
        "{out}"
    );
    assert!(out.stderr.contains("keychain is locked"), "{out}");

    // A missing helper.
    env.docker_config(&format!(r#"{{"credHelpers":{{"{host}":"notinstalled"}}}}"#));
    let out = env.mirror_async(&["copy", &src, &dst("v4")]).await;
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr
            .contains("docker-credential-notinstalled is not installed"),
        "{out}"
    );

    // A helper that hangs is stopped after the timeout.
    env.docker_config(&format!(r#"{{"credHelpers":{{"{host}":"slowhelper"}}}}"#));
    env.set("MIRROR_CREDENTIAL_HELPER_TIMEOUT", "0.5");
    let started = std::time::Instant::now();
    let out = env.mirror_async(&["copy", &src, &dst("v4")]).await;
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr
            .contains("docker-credential-slowhelper did not answer within 0.5s"),
        "{out}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "not waited for"
    );
    assert!(reg.tag_target("team/app", "v4").is_none());

    // Helpers run only when a registry asks: an open registry works with a broken helper set up.
    let open = Registry::start();
    fixtures::push_image(&Http::new(), &open.host(), "pub/app", "v1", &img).await;
    env.docker_config(r#"{"credsStore":"failhelper"}"#);
    let out_dir = env.path("out");
    let out = env
        .mirror_async(&[
            "copy",
            &format!("{}/pub/app:v1", open.host()),
            &format!("oci:{}:v1", out_dir.display()),
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
}

#[test]
fn auth_files_in_order() {
    let mut env = Env::new();
    let pass = secret("files-pass");
    let reg = Registry::start_with(&htpasswd_yaml(&htpasswd(&env.path("auth"), "alice", &pass)));
    let host = reg.host();
    let img = fixtures::single_manifest(LAYER);
    let src = layout(&env, &img);
    let dst = |repo: &str, tag: &str| format!("{host}/{repo}:{tag}");
    let right = basic("alice", &pass);
    let wrong = basic("alice", "wrong-password-123");
    let entry = |key: &str, auth: &str| format!(r#""{key}":{{"auth":"{auth}"}}"#);
    let file = |entries: &[String]| format!(r#"{{"auths":{{{}}}}}"#, entries.join(","));

    // auth.json ($XDG_RUNTIME_DIR/containers) is read before docker's config.json.
    let auth_json = env.auth_json(&file(&[entry(&host, &right)]));
    let config_json = env.docker_config(&file(&[entry(&host, &wrong)]));
    let out = env.mirror(&["copy", &src, &dst("a/app", "v1")], None);
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "a/app", "v1", &img);

    env.auth_json(&file(&[entry(&host, &wrong)]));
    env.docker_config(&file(&[entry(&host, &right)]));
    let out = env.mirror(&["copy", &src, &dst("a/app", "v2")], None);
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr.contains(&auth_json.display().to_string()),
        "names auth.json: {out}"
    );
    assert_no_secret(&out, &[&wrong, "wrong-password-123", &right, &pass]);

    // No entry for this registry in auth.json: config.json answers. The docker hub alias key in
    // it does not match.
    env.auth_json(&file(&[
        entry("other.example:5000", &wrong),
        entry("https://index.docker.io/v1/", &wrong),
    ]));
    let out = env.mirror(&["copy", &src, &dst("a/app", "v3")], None);
    assert_eq!(out.code, 0, "{out}");
    assert!(reg.tag_target("a/app", "v3").is_some());

    // --dest-authfile comes before $REGISTRY_AUTH_FILE, which comes before auth.json.
    let explicit = env.file("explicit.json", &file(&[entry(&host, &right)]));
    let from_env = env.file("env.json", &file(&[entry(&host, &wrong)]));
    env.set("REGISTRY_AUTH_FILE", from_env.to_str().unwrap());
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst("a/app", "v4"),
            "--dest-authfile",
            explicit.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    let out = env.mirror(&["copy", &src, &dst("a/app", "v5")], None);
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr.contains(&from_env.display().to_string()),
        "names REGISTRY_AUTH_FILE: {out}"
    );
    env.set("REGISTRY_AUTH_FILE", "");

    // A namespaced auth.json entry wins for its repositories only.
    env.auth_json(&file(&[
        entry(&format!("{host}/locked"), &wrong),
        entry(&host, &right),
    ]));
    let out = env.mirror(&["copy", &src, &dst("locked/app", "v1")], None);
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr.contains(&format!("entry \"{host}/locked\"")),
        "{out}"
    );
    let out = env.mirror(&["copy", &src, &dst("open/app", "v1")], None);
    assert_eq!(out.code, 0, "{out}");

    // An explicit auth file that is not JSON is a usage error; one found by default is skipped.
    let bad = env.file("bad.json", "{not json");
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst("a/app", "v6"),
            "--dest-authfile",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("bad.json") && out.stderr.contains("not valid JSON"),
        "{out}"
    );
    std::fs::write(&auth_json, "{not json").unwrap();
    let out = env.mirror(&["copy", &src, &dst("a/app", "v6")], None);
    assert_eq!(out.code, 0, "{out}");
    let _ = config_json;
}

#[test]
fn passwords_from_stdin_and_never_from_a_missing_terminal() {
    let env = Env::new();
    let pass = secret("stdin-pass");
    let reg = Registry::start_with(&htpasswd_yaml(&htpasswd(&env.path("auth"), "carol", &pass)));
    let img = fixtures::single_manifest(LAYER);
    let src = layout(&env, &img);
    let dst = format!("{}/s/app:v1", reg.host());

    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst,
            "--dest-creds",
            "carol",
            "--dest-password-stdin",
        ],
        Some(&format!("{pass}\n")),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "s/app", "v1", &img);
    assert_no_secret(&out, &[&pass]);

    // No password and no terminal to ask on: a usage error before any request.
    let mark = reg.mark();
    let out = env.mirror(&["copy", &src, &dst, "--dest-creds", "carol"], None);
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("has no password") && out.stderr.contains("--dest-password-stdin"),
        "{out}"
    );
    assert!(reg.requests_since(mark).is_empty());

    for bad in [
        vec!["--dest-password-stdin"],
        vec![
            "--src-creds",
            "a",
            "--src-password-stdin",
            "--dest-creds",
            "b",
            "--dest-password-stdin",
        ],
        vec![
            "--dest-creds",
            "carol:x",
            "--dest-registry-token",
            "tok-123456",
        ],
    ] {
        let mut args = vec!["copy", &src, &dst];
        args.extend(bad.iter().copied());
        let out = env.mirror(&args, Some(""));
        assert_eq!(out.code, 2, "{args:?}: {out}");
    }
}
