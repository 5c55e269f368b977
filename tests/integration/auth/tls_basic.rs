//! htpasswd basic auth over TLS on a real registry: the right and wrong credentials, the CA
//! through `--dest-cert-dir` or the default `certs.d`, `--dest-tls-verify=false`, plain HTTP
//! to a TLS port, and mutual TLS with `client.cert` + `client.key`.

use super::pki::{htpasswd, tls_registry, Pki};
use super::{assert_holds, assert_no_secret, basic, layout, secret, Env, LAYER};
use crate::fixtures;

#[test]
fn htpasswd_over_tls() {
    let env = Env::new();
    let pki = Pki::new(&env.path("pki"));
    let pass = secret("tls-pass");
    let reg = tls_registry(&pki, &htpasswd(&env.path("auth"), "alice", &pass), false);
    let img = fixtures::multi_arch_oci(LAYER);
    let src = layout(&env, &img);
    let certs = pki.cert_dir(&env.path("certs"), false);
    let certs = certs.to_str().unwrap();
    let dst = |tag: &str| format!("{}/team/app:{tag}", reg.host());
    let creds = format!("alice:{pass}");

    // The right credentials, the CA from --dest-cert-dir.
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst("v1"),
            "--dest-creds",
            &creds,
            "--dest-cert-dir",
            certs,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "team/app", "v1", &img);

    // The wrong password: exit 5, the source of the credentials named, no secret anywhere.
    let wrong = secret("wrong-pass");
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst("v2"),
            "--dest-creds",
            &format!("alice:{wrong}"),
            "--dest-cert-dir",
            certs,
        ],
        None,
    );
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr.contains("--dest-creds (user \"alice\")"),
        "{out}"
    );
    assert!(out.stderr.contains("401"), "{out}");
    assert_no_secret(&out, &[&wrong, &basic("alice", &wrong), &pass]);
    assert!(reg.tag_target("team/app", "v2").is_none());

    // Without the CA the certificate is refused, once (not retried), with a hint.
    let mark = reg.mark();
    let out = env.mirror(&["copy", &src, &dst("v2"), "--dest-creds", &creds], None);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&format!("https://{}/v2/", reg.host())),
        "{out}"
    );
    assert!(out.stderr.contains("--dest-cert-dir"), "hint: {out}");
    assert!(
        reg.requests_since(mark).is_empty(),
        "nothing got through TLS"
    );

    // --dest-tls-verify=false gets through without the CA.
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst("v2"),
            "--dest-creds",
            &creds,
            "--dest-tls-verify=false",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "team/app", "v2", &img);

    // Plain HTTP to the TLS port: the registry says so, and the hint says what to drop.
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst("v3"),
            "--dest-creds",
            &creds,
            "--dest-plain-http",
        ],
        None,
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("drop --src-plain-http/--dest-plain-http"),
        "{out}"
    );

    // The source side: credentials from auth.json, the CA from the default certs.d directory
    // ($XDG_CONFIG_HOME/containers/certs.d/HOST/ca.crt).
    pki.cert_dir(
        &env.path(&format!("config/containers/certs.d/{}", reg.host())),
        false,
    );
    env.auth_json(&format!(
        r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
        reg.host(),
        basic("alice", &pass)
    ));
    let back = env.path("back");
    let out = env.mirror(
        &[
            "copy",
            &dst("v1"),
            &format!("oci:{}:v1", back.display()),
            "--platform",
            "linux/amd64",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    let child = img.child("linux/amd64");
    let hex = child.digest.trim_start_matches("sha256:");
    assert_eq!(
        std::fs::read(back.join("blobs/sha256").join(hex)).unwrap(),
        child.bytes
    );
}

#[test]
fn mutual_tls_uses_the_client_certificate_of_the_cert_dir() {
    let env = Env::new();
    let pki = Pki::new(&env.path("pki"));
    let pass = secret("mtls-pass");
    let reg = tls_registry(&pki, &htpasswd(&env.path("auth"), "bob", &pass), true);
    let img = fixtures::single_manifest(LAYER);
    let src = layout(&env, &img);
    let creds = format!("bob:{pass}");
    let dst = format!("{}/m/app:v1", reg.host());

    let ca_only = pki.cert_dir(&env.path("ca-only"), false);
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst,
            "--dest-creds",
            &creds,
            "--dest-cert-dir",
            ca_only.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("client certificate"), "hint: {out}");

    let full = pki.cert_dir(&env.path("full"), true);
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst,
            "--dest-creds",
            &creds,
            "--dest-cert-dir",
            full.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "m/app", "v1", &img);

    // A key without its certificate is a usage error naming both files.
    let broken = env.path("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::copy(&pki.client_key, broken.join("client.key")).unwrap();
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst,
            "--dest-cert-dir",
            broken.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("client.key") && out.stderr.contains("client.cert"),
        "{out}"
    );
}

/// `verify` and `inspect` take copy's access flags with the same formats: `USER` with the
/// password on stdin, `--*-cert-dir`, `--*-tls-verify` (verify used to accept only
/// `USER:PASSWORD` and had no TLS flags; inspect had no cert dir).
#[test]
fn verify_and_inspect_take_the_copy_access_flags() {
    let env = Env::new();
    let pki = Pki::new(&env.path("pki"));
    let pass = secret("verify-pass");
    let reg = tls_registry(&pki, &htpasswd(&env.path("auth"), "alice", &pass), false);
    let img = fixtures::multi_arch_oci(LAYER);
    let src = layout(&env, &img);
    let certs = pki.cert_dir(&env.path("certs"), false);
    let certs = certs.to_str().unwrap();
    let dst = format!("{}/team/app:v1", reg.host());
    let creds = format!("alice:{pass}");
    let out = env.mirror(
        &[
            "copy",
            &src,
            &dst,
            "--dest-creds",
            &creds,
            "--dest-cert-dir",
            certs,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");

    // USER plus the password on stdin, and the CA directory.
    let out = env.mirror(
        &[
            "verify",
            &src,
            &dst,
            "--dest-creds",
            "alice",
            "--dest-password-stdin",
            "--dest-cert-dir",
            certs,
        ],
        Some(&format!("{pass}\n")),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("complete"), "{out}");
    assert_no_secret(&out, &[&pass, &basic("alice", &pass)]);

    // USER:PASSWORD without the CA, certificate checks off.
    let out = env.mirror(
        &[
            "verify",
            &src,
            &dst,
            "--dest-creds",
            &creds,
            "--dest-tls-verify",
            "false",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");

    // The wrong password is an authentication failure for verify too, naming the flag.
    let out = env.mirror(
        &[
            "verify",
            &src,
            &dst,
            "--dest-creds",
            "alice:wrong",
            "--dest-cert-dir",
            certs,
        ],
        None,
    );
    assert_eq!(out.code, 7, "{out}");
    assert!(
        out.stderr.contains("--dest-creds (user \"alice\")"),
        "{out}"
    );

    // inspect: the source side of the same flags.
    let out = env.mirror(
        &[
            "inspect",
            &dst,
            "--src-creds",
            &creds,
            "--src-cert-dir",
            certs,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("linux/amd64"), "{out}");
}

/// A sync file's `registries.HOST.cert-dir` is the run's CA for that host (as
/// `--dest-cert-dir` is for a copy), and `sync --client-config` references its `ca.crt` in the
/// generated hosts.toml (issue 26).
#[test]
fn a_sync_file_cert_dir_is_the_runs_ca_and_the_client_config_names_it() {
    let env = Env::new();
    let pki = Pki::new(&env.path("pki"));
    let pass = secret("sync-tls-pass");
    let reg = tls_registry(&pki, &htpasswd(&env.path("auth"), "alice", &pass), false);
    let src = crate::harness::Registry::start();
    let img = fixtures::single_manifest(LAYER);
    let out = env.mirror(
        &[
            "copy",
            &layout(&env, &img),
            &format!("{}/team/app:v1", src.host()),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    let certs = pki.cert_dir(&env.path("certs"), false);
    let write = |cert_dir: bool| {
        let line = match cert_dir {
            true => format!("    cert-dir: {}\n", certs.display()),
            false => String::new(),
        };
        env.file(
            "mirror.yaml",
            &format!(
                "defaults:\n  target-prefix: {reg}/mirror\nregistries:\n  {reg}:\n    credentials: \"alice:{pass}\"\n{line}images:\n  - source: {src}/team/app\n    tags: [v1]\n",
                reg = reg.host(),
                src = src.host()
            ),
        )
    };
    let clients = env.path("clients");
    let run = |file: &std::path::Path| {
        env.mirror(
            &[
                "sync",
                "-f",
                file.to_str().unwrap(),
                "--client-config",
                clients.to_str().unwrap(),
            ],
            None,
        )
    };
    // Without the CA the certificate is refused: the item fails.
    let out = run(&write(false));
    assert_eq!(out.code, 6, "{out}");
    assert!(reg.tag_target("mirror/team/app", "v1").is_none());
    // With `cert-dir` the run trusts the CA, and hosts.toml names it.
    let out = run(&write(true));
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "mirror/team/app", "v1", &img);
    let hosts = std::fs::read_to_string(clients.join(format!("certs.d/{}/hosts.toml", src.host())))
        .unwrap();
    let hosts: toml::Table = toml::from_str(&hosts).unwrap();
    let host = &hosts["host"][&format!("https://{}/v2/mirror", reg.host())];
    let ca = std::fs::canonicalize(certs.join("ca.crt")).unwrap();
    assert_eq!(
        host["ca"][0].as_str(),
        Some(ca.to_str().unwrap()),
        "{hosts:?}"
    );
    assert!(host.get("skip_verify").is_none(), "{hosts:?}");
    assert_no_secret(&out, &[&pass]);
}
