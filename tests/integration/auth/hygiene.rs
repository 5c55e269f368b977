//! No secret in the output: copies at `-vv` (and with `RUST_LOG=trace`) with `--output json`
//! against a real token-auth registry, successful and failing, scanned for the password, its
//! Basic encoding, every token the issuer handed out and upload-state parameters.

use super::token_issuer::{IssuerConfig, TokenIssuer};
use super::{assert_no_secret, basic, layout, secret, Env, LAYER};
use crate::fixtures;
use crate::harness::{Output, Registry};

/// Upload locations carry `_state=` (an HMAC of the upload); only `_state=REDACTED` may appear.
fn assert_no_upload_state(out: &Output) {
    for text in [&out.stdout, &out.stderr] {
        for (i, _) in text.match_indices("_state=") {
            assert!(
                text[i..].starts_with("_state=REDACTED"),
                "unredacted upload state:\n{out}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_logs_json_or_errors() {
    let mut env = Env::new();
    let pass = secret("hygiene-pass");
    let issuer = TokenIssuer::start(
        &env.path("issuer"),
        IssuerConfig {
            user: "erin".into(),
            password: pass.clone(),
            refresh_token: None,
            lifetime: 300,
            expires_in: Some(300),
        },
    )
    .await;
    let reg = Registry::start_with(&issuer.registry_yaml());
    let img = fixtures::multi_arch_oci(LAYER);
    let src = layout(&env, &img);
    let creds = format!("erin:{pass}");
    let b64 = basic("erin", &pass);

    let mut runs = vec![];
    for (i, trace) in [false, true].into_iter().enumerate() {
        if trace {
            env.set("RUST_LOG", "trace");
        }
        let dst = format!("{}/h/app:v{i}", reg.host());
        let out = env
            .mirror_async(&[
                "copy",
                &src,
                &dst,
                "--dest-creds",
                &creds,
                "-vv",
                "--output",
                "json",
            ])
            .await;
        assert_eq!(out.code, 0, "{out}");
        let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
        assert!(report.is_object(), "{out}");
        assert!(
            out.stderr.contains("got a registry token"),
            "-vv logs the auth flow: {out}"
        );
        // Registry to registry, so the source side authenticates too.
        let copy = format!("{}/h/copy:v{i}", reg.host());
        let out2 = env
            .mirror_async(&[
                "copy",
                &dst,
                &copy,
                "--src-creds",
                &creds,
                "--dest-creds",
                &creds,
                "-vv",
                "--output",
                "json",
            ])
            .await;
        assert_eq!(out2.code, 0, "{out2}");
        runs.extend([out, out2]);
    }
    env.set("RUST_LOG", "");
    let wrong = secret("hygiene-wrong");
    let out = env
        .mirror_async(&[
            "copy",
            &src,
            &format!("{}/h/app:bad", reg.host()),
            "--dest-creds",
            &format!("erin:{wrong}"),
            "-vv",
            "--output",
            "json",
        ])
        .await;
    assert_eq!(out.code, 5, "{out}");
    assert_no_secret(&out, &[&wrong, &basic("erin", &wrong)]);
    runs.push(out);

    let tokens = issuer.issued();
    assert!(tokens.len() >= 4, "tokens were issued: {}", tokens.len());
    for out in &runs {
        assert_no_secret(out, &[&pass, &b64]);
        for t in &tokens {
            // A JWT's signature part alone is secret enough to scan for.
            assert_no_secret(out, &[t.rsplit('.').next().unwrap()]);
        }
        assert!(
            !out.stderr.to_ascii_lowercase().contains("authorization: "),
            "{out}"
        );
        assert_no_upload_state(out);
    }
}
