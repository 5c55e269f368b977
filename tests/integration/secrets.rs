//! Secret hygiene of URLs: nothing `mirror` prints (trace logs at `-vv`, the JSON report, error
//! text) contains userinfo or token-like query parameters of the URLs it uses, nor the
//! registry's `_state` upload tokens.
//!
//! The target sits behind the fault proxy, which rewrites every upload `Location` to carry a
//! password in its userinfo and signed-URL style parameters (as registries that hand out
//! object-storage URLs do), and injects faults on those URLs so that retries and errors have to
//! mention them. (Credentials from flags and auth files are the subject of the auth work; they
//! are used here only as extra needles.)

use crate::fault_proxy::{Fault, FaultConfig, FaultProxy, Rule};
use crate::fixtures;
use crate::harness::{mirror_async, Output, Registry};

const USERINFO: &str = "uploader:LocPassw0rd";
const QUERY: &str = "token=SECRETTOKEN1&X-Amz-Signature=SECRETSIG1&X-Amz-Credential=SECRETCRED1";
const NEEDLES: [&str; 6] = [
    "LocPassw0rd",
    "SECRETTOKEN1",
    "SECRETSIG1",
    "SECRETCRED1",
    "SrcPassw0rd",
    "DstPassw0rd",
];

fn rule(method: &'static str, part: &str, nth: usize, fault: Fault) -> Rule {
    Rule {
        method,
        path_contains: part.to_string(),
        nth,
        fault,
    }
}

/// Every `_state` value the registry handed out through this proxy.
fn state_tokens(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .seen()
        .iter()
        .filter_map(|s| s.location.as_deref())
        .filter_map(|l| l.split("_state=").nth(1))
        .map(|v| v.split('&').next().unwrap().to_string())
        .filter(|v| v.len() > 16)
        .collect()
}

fn assert_clean(what: &str, out: &Output, tokens: &[String]) {
    let all = format!("{}\n{}", out.stdout, out.stderr);
    for n in NEEDLES
        .iter()
        .map(|s| s.to_string())
        .chain(tokens.iter().cloned())
    {
        assert!(!all.contains(&n), "{what}: output leaks {n:?}:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_url_secret_or_upload_state_reaches_any_output() {
    let img = fixtures::multi_arch_oci(8 * 1024);
    let src = crate::faults::seeded_source(&img).await;
    let dst = Registry::start();
    let creds = [
        "--src-creds",
        "reader:SrcPassw0rd",
        "--dest-creds",
        "writer:DstPassw0rd",
    ];

    // 1. A successful copy at -vv with retries on the decorated upload URLs, human output.
    // 2. The same with --output json.
    for (n, json) in [(1, false), (2, true)] {
        let cfg = FaultConfig {
            decorate_location: Some((USERINFO, QUERY)),
            rules: vec![
                rule("PUT", "/blobs/uploads/", 1, Fault::Status(500)),
                rule("PUT", "/blobs/uploads/", 2, Fault::Reset),
                rule("PUT", "/blobs/uploads/", 3, Fault::Status(503)),
                rule("HEAD", "/blobs/", 1, Fault::Status(502)),
            ],
            ..FaultConfig::default()
        };
        let dp = FaultProxy::start(&dst.host(), cfg).await;
        let s = format!("{}/team/app:v1", src.host());
        let d = format!("{}/leak/{n}:v1", dp.host());
        let mut args = vec!["copy", &s, &d, "-vv"];
        args.extend(creds);
        if json {
            args.extend(["--output", "json"]);
        }
        let out = mirror_async(&args).await;
        assert_eq!(out.code, 0, "{out}");
        let tokens = state_tokens(&dp);
        assert!(
            !tokens.is_empty(),
            "the registry handed out no _state tokens"
        );
        // The retries were logged, with the (redacted) URLs they concern.
        assert!(out.stderr.contains("retrying"), "{out}");
        assert!(
            out.stderr.contains("REDACTED"),
            "the URLs were logged redacted: {out}"
        );
        if json {
            serde_json::from_str::<serde_json::Value>(&out.stdout).expect("a JSON report");
        }
        assert_clean(
            if json { "-vv --output json" } else { "-vv" },
            &out,
            &tokens,
        );
    }

    // 3. A failing copy: every upload PUT is refused, so the error text carries the URL.
    let body = r#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}"#;
    let cfg = FaultConfig {
        decorate_location: Some((USERINFO, QUERY)),
        rules: vec![rule("PUT", "/blobs/uploads/", 0, Fault::Canned(400, body))],
        ..FaultConfig::default()
    };
    let dp = FaultProxy::start(&dst.host(), cfg).await;
    let s = format!("{}/team/app:v1", src.host());
    let d = format!("{}/leak/3:v1", dp.host());
    let mut args = vec!["copy", &s, &d, "-vv", "--output", "json"];
    args.extend(creds);
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("DIGEST_INVALID"), "{out}");
    assert!(
        out.stderr.contains("/blobs/uploads/") && out.stderr.contains("_state=REDACTED"),
        "the error names the upload URL, redacted: {out}"
    );
    assert_clean("failing run", &out, &state_tokens(&dp));
}
