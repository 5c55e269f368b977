//! Token auth on a real registry (distribution 2.8 `auth.token`) with tokens from the in-test
//! issuer: cross-repository mounts with both scopes in one token, a token that expires in the
//! middle of a copy, identity tokens, the token server's reason on failure, registry tokens,
//! and credentials kept off a plain-HTTP realm on another host.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::token_issuer::{IssuerConfig, TokenIssuer};
use super::{assert_holds, assert_no_secret, layout, secret, Env, LAYER};
use crate::fixtures;
use crate::harness::{count, show, Http, Registry};

async fn token_registry(
    env: &Env,
    lifetime: i64,
    expires_in: Option<i64>,
) -> (TokenIssuer, Registry, String) {
    let pass = secret("token-pass");
    let issuer = TokenIssuer::start(
        &env.path("issuer"),
        IssuerConfig {
            user: "alice".into(),
            password: pass.clone(),
            refresh_token: Some(secret("refresh")),
            lifetime,
            expires_in,
        },
    )
    .await;
    let reg = Registry::start_with(&issuer.registry_yaml());
    (issuer, reg, pass)
}

#[tokio::test(flavor = "multi_thread")]
async fn mount_between_repositories_asks_one_token_for_both_scopes() {
    let env = Env::new();
    let (issuer, reg, pass) = token_registry(&env, 300, Some(300)).await;
    let img = fixtures::multi_arch_oci(LAYER);
    let creds = format!("alice:{pass}");
    let src = format!("{}/src/app:v1", reg.host());
    let out = env
        .mirror_async(&["copy", &layout(&env, &img), &src, "--dest-creds", &creds])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "src/app", "v1", &img);

    let mark = reg.mark();
    let dst = format!("{}/dst/app:v1", reg.host());
    let out = env
        .mirror_async(&[
            "copy",
            &src,
            &dst,
            "--src-creds",
            &creds,
            "--dest-creds",
            &creds,
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "dst/app", "v1", &img);
    let reqs = reg.requests_since(mark);
    let mounted = reqs
        .iter()
        .filter(|r| r.method == "POST" && r.query.contains("mount=") && r.status == 201)
        .count();
    assert_eq!(
        mounted,
        img.all_blobs().len(),
        "every blob mounted:\n{}",
        show(&reqs)
    );
    assert_eq!(
        count(&reqs, "PUT", "/v2/dst/app/blobs/uploads"),
        0,
        "no upload:\n{}",
        show(&reqs)
    );
    let both = issuer.requests().into_iter().any(|r| {
        r.status == 200
            && r.scopes == ["repository:dst/app:pull,push", "repository:src/app:pull"]
            && r.user.as_deref() == Some("alice")
    });
    assert!(
        both,
        "one token request with both scopes: {:#?}",
        issuer.requests()
    );
}

/// Forwards 127.0.0.1:<port> to `upstream`, sending the answers at `rate` bytes per second.
async fn slow_proxy(upstream: String, rate: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let up = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&up).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    let _ = sw.shutdown().await;
                });
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
                }
                let _ = cw.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn token_that_expires_mid_copy_is_renewed() {
    // The registry accepts each token for 2 s, but the issuer claims 300 s, so the client only
    // learns of the expiry from the registry's 401 in the middle of the copy.
    let env = Env::new();
    let (issuer, reg, pass) = token_registry(&env, 2, Some(300)).await;
    // A source that takes about 5 s to read: 2 layers of 640 KiB at 256 KiB/s.
    let source = Registry::start();
    let img = fixtures::single_manifest(640 * 1024);
    fixtures::push_image(&Http::new(), &source.host(), "slow/app", "v1", &img).await;
    let slow = slow_proxy(source.host(), 256 * 1024).await;
    let started = std::time::Instant::now();
    let out = env
        .mirror_async(&[
            "copy",
            &format!("{slow}/slow/app:v1"),
            &format!("{}/team/app:v1", reg.host()),
            "--dest-creds",
            &format!("alice:{pass}"),
            "--jobs",
            "1",
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "the copy was slow enough to outlive a token"
    );
    assert_holds(&reg, "team/app", "v1", &img);
    let reqs = reg.requests_since(0);
    let first_ok = reqs
        .iter()
        .position(|r| r.path.starts_with("/v2/team/") && r.status < 400);
    let expired_later = first_ok.is_some_and(|i| reqs[i..].iter().any(|r| r.status == 401));
    assert!(
        expired_later,
        "the registry refused an expired token mid-copy:\n{}",
        show(&reqs)
    );
    let grants = issuer
        .requests()
        .iter()
        .filter(|r| {
            r.status == 200
                && r.scopes
                    .iter()
                    .any(|s| s == "repository:team/app:pull,push")
        })
        .count();
    assert!(
        grants >= 2,
        "the token was renewed: {:#?}",
        issuer.requests()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_token_uses_the_refresh_token_grant() {
    let env = Env::new();
    let issuer = TokenIssuer::start(
        &env.path("issuer"),
        IssuerConfig {
            user: "alice".into(),
            password: secret("unused"),
            refresh_token: Some("refresh-0123456789".into()),
            lifetime: 300,
            expires_in: None,
        },
    )
    .await;
    let reg = Registry::start_with(&issuer.registry_yaml());
    let img = fixtures::single_manifest(LAYER);
    let src = layout(&env, &img);
    let config = |t: &str| {
        format!(
            r#"{{"auths":{{"{}":{{"auth":"","identitytoken":"{t}"}}}}}}"#,
            reg.host()
        )
    };
    env.docker_config(&config("refresh-0123456789"));
    let out = env
        .mirror_async(&["copy", &src, &format!("{}/team/app:v1", reg.host()), "-vv"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "team/app", "v1", &img);
    let reqs = issuer.requests();
    assert!(
        reqs.iter()
            .all(|r| r.method == "POST" && r.user.as_deref() == Some("<refresh>")),
        "{reqs:#?}"
    );
    assert!(reqs.iter().any(|r| r.status == 200), "{reqs:#?}");
    assert_no_secret(&out, &["refresh-0123456789"]);
    for t in issuer.issued() {
        assert_no_secret(&out, &[&t]);
    }

    env.docker_config(&config("refresh-revoked-999"));
    let out = env
        .mirror_async(&["copy", &src, &format!("{}/team/app:v2", reg.host())])
        .await;
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr
            .contains("answered POST with HTTP 401: UNAUTHORIZED: invalid refresh token"),
        "{out}"
    );
    assert!(
        out.stderr.contains("identity token"),
        "names the source: {out}"
    );
    assert_no_secret(&out, &["refresh-revoked-999"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_server_reason_is_shown_and_registry_tokens_are_sent_as_is() {
    let env = Env::new();
    let (issuer, reg, pass) = token_registry(&env, 300, Some(300)).await;
    let img = fixtures::single_manifest(LAYER);
    let src = layout(&env, &img);
    let dst = format!("{}/team/app:v1", reg.host());

    let wrong = secret("wrong");
    let out = env
        .mirror_async(&[
            "copy",
            &src,
            &dst,
            "--dest-creds",
            &format!("alice:{wrong}"),
        ])
        .await;
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr.contains("invalid username or password"),
        "the token server's reason: {out}"
    );
    assert!(
        out.stderr.contains("--dest-creds (user \"alice\")"),
        "{out}"
    );
    assert_no_secret(&out, &[&wrong]);

    // A token obtained elsewhere, given with --dest-registry-token: no token request at all.
    let url = format!(
        "http://{}/token?service={}&scope=repository:team/app:pull,push",
        issuer
            .registry_yaml()
            .split("realm: http://")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap(),
        super::token_issuer::SERVICE
    );
    let resp = Http::new()
        .client
        .get(&url)
        .basic_auth("alice", Some(&pass))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    let before = issuer.requests().len();
    let out = env
        .mirror_async(&["copy", &src, &dst, "--dest-registry-token", &token])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_holds(&reg, "team/app", "v1", &img);
    assert_eq!(issuer.requests().len(), before, "no token request");
    assert_no_secret(&out, &[&token]);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_never_go_to_a_plain_http_realm_on_another_host() {
    let env = Env::new();
    let issuer = TokenIssuer::start(
        &env.path("issuer"),
        IssuerConfig {
            user: "alice".into(),
            password: "unused-password".into(),
            refresh_token: None,
            lifetime: 300,
            expires_in: None,
        },
    )
    .await;
    // The realm names a host that is not this machine, over plain HTTP. Refused before any
    // connection (or name lookup) is made.
    let reg =
        Registry::start_with(&issuer.registry_yaml_with_realm("http://registry.invalid/token"));
    let img = fixtures::single_manifest(LAYER);
    let pass = secret("pass");
    let out = env
        .mirror_async(&[
            "copy",
            &layout(&env, &img),
            &format!("{}/a/b:v1", reg.host()),
            "--dest-creds",
            &format!("alice:{pass}"),
        ])
        .await;
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr
            .contains("refusing to send credentials over plain HTTP to registry.invalid"),
        "{out}"
    );
    assert!(out.stderr.contains("--allow-insecure-auth"), "{out}");
    assert_no_secret(&out, &[&pass]);
}
