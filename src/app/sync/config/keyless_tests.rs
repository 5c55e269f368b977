//! The keyless keys of the sync file: merging, and each error located at its key.

use std::sync::Arc;

use super::*;
use crate::engine::signature::keyless::policy::Matcher;

const PUBLIC_GOOD: &str =
    include_str!("../../../engine/signature/keyless/testdata/public-good.json");

/// A directory holding `root.json` (the public-good trusted root) and `bad.json`.
fn roots() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("root.json"), PUBLIC_GOOD).unwrap();
    std::fs::write(d.path().join("bad.json"), "{\"mediaType\": 1").unwrap();
    d
}

fn err(yaml: &str) -> ConfigError {
    parse("m.yaml", yaml).expect_err("should fail")
}

fn exact(s: &str) -> Matcher {
    Matcher::Exact(s.into())
}

#[test]
fn defaults_are_inherited_and_entries_replace_each_setting() {
    let d = roots();
    let root = d.path().join("root.json");
    let yaml = format!(
        r#"
defaults:
  require-signature-identity: krel-trust@k8s-releng-prod.iam.gserviceaccount.com
  require-signature-issuer: https://accounts.google.com
  trusted-root: {root}
  require-signature-children: true
images:
  - source: registry.k8s.io/pause
    target: reg.local/pause
    tags: ["3.10"]
  - source: ghcr.io/org/a
    target: reg.local/a
    tags: [v1]
    require-signature-identity: [a@example.com, b@example.com]
    require-signature-issuer-regexp: ^https://(a|b)\.example$
  - source: ghcr.io/org/b
    target: reg.local/b
    tags: [v1]
    require-signature-identity-regexp: ^https://github\.com/org/
  - source: ghcr.io/org/free
    target: reg.local/free
    tags: [v1]
    require-signature-identity: []
"#,
        root = root.display()
    );
    let cfg = parse("m.yaml", &yaml).unwrap();
    let policy = |i: usize| cfg.settings(i).signatures.keyless.clone();
    let p0 = policy(0).expect("inherited");
    assert_eq!(p0.identities.len(), 1);
    assert_eq!(
        p0.identities[0].subject,
        exact("krel-trust@k8s-releng-prod.iam.gserviceaccount.com")
    );
    assert_eq!(
        p0.identities[0].issuer,
        exact("https://accounts.google.com")
    );
    assert_eq!(p0.root.source, root.display().to_string());
    assert!(cfg.settings(0).signatures.children);
    assert!(cfg.settings(0).signatures.enabled());

    // A list of identities, each with the entry's issuer expression.
    let p1 = policy(1).unwrap();
    let subjects: Vec<String> = p1
        .identities
        .iter()
        .map(|i| i.subject.to_string())
        .collect();
    assert_eq!(subjects, ["a@example.com", "b@example.com"]);
    assert!(p1.identities[1].issuer.matches("https://b.example"));
    assert!(!p1.identities[1]
        .issuer
        .matches("https://accounts.google.com"));
    assert!(p1.accepts("b@example.com", "https://a.example").is_ok());

    // An entry giving the regexp replaces both identity keys of the defaults, keeps the issuer.
    let p2 = policy(2).unwrap();
    assert_eq!(p2.identities.len(), 1);
    assert!(p2.identities[0]
        .subject
        .matches("https://github.com/org/x/.github/workflows/r.yml@refs/heads/main"));
    assert!(!p2.identities[0]
        .subject
        .matches("krel-trust@k8s-releng-prod.iam.gserviceaccount.com"));
    assert_eq!(
        p2.identities[0].issuer,
        exact("https://accounts.google.com")
    );

    // `[]` turns the inherited requirement off.
    assert!(policy(3).is_none());
    assert!(!cfg.settings(3).signatures.enabled());

    // The root file is read once for the run.
    assert!(Arc::ptr_eq(&p0.root, &p1.root) && Arc::ptr_eq(&p0.root, &p2.root));
}

#[test]
fn keys_and_identities_combine_in_one_policy() {
    let d = roots();
    let key = d.path().join("cosign.pub");
    std::fs::write(
        &key,
        include_str!("../../../engine/signature/testdata/cosign.pub"),
    )
    .unwrap();
    let yaml = format!(
        "images:\n  - source: a.example/x\n    target: b.example/x\n    tags: [v1]\n    require-signature: [{}]\n    require-signature-identity: dev@example.com\n    require-signature-issuer: https://issuer.example\n    trusted-root: {}\n",
        key.display(),
        d.path().join("root.json").display()
    );
    let cfg = parse("m.yaml", &yaml).unwrap();
    let s = &cfg.settings(0).signatures;
    assert_eq!(s.keys.len(), 1);
    assert_eq!(s.keyless.as_ref().unwrap().identities.len(), 1);
}

const ENTRY: &str = "images:\n  - source: a.example/x\n    target: b.example/x\n    tags: [v1]\n";

#[test]
fn an_identity_needs_an_issuer_and_a_root() {
    let d = roots();
    let root = d.path().join("root.json").display().to_string();
    let e = err(&format!(
        "{ENTRY}    require-signature-identity: dev@example.com\n    trusted-root: {root}\n"
    ));
    assert_eq!((e.line, e.column), (Some(5), Some(33)), "{e}");
    assert!(
        e.message
            .starts_with("images[0].require-signature-identity: needs `require-signature-issuer`"),
        "{e}"
    );
    assert!(e.to_string().starts_with("m.yaml:5:33: "), "{e}");

    // Written under defaults, incomplete for an entry that adds nothing: at the defaults' key.
    let e = err(&format!(
        "defaults:\n  require-signature-identity-regexp: '@example\\.com$'\n  trusted-root: {root}\n{ENTRY}"
    ));
    assert_eq!(e.line, Some(2), "{e}");
    assert!(
        e.message
            .starts_with("defaults.require-signature-identity: needs `require-signature-issuer`")
            && e.message.contains("(images[0] gives none)"),
        "{e}"
    );
    // … and complete when the entry gives the issuer.
    let ok = parse(
        "m.yaml",
        &format!(
            "defaults:\n  require-signature-identity-regexp: '@example\\.com$'\n  trusted-root: {root}\n{ENTRY}    require-signature-issuer: https://issuer.example\n"
        ),
    )
    .unwrap();
    assert!(ok.settings(0).signatures.keyless.is_some());

    let e = err(&format!(
        "{ENTRY}    require-signature-identity: dev@example.com\n    require-signature-issuer: https://issuer.example\n"
    ));
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.message.contains("needs `trusted-root: FILE`"), "{e}");
}

#[test]
fn an_issuer_needs_an_identity_and_only_one_issuer_key() {
    let e = err(&format!(
        "{ENTRY}    require-signature-issuer: https://issuer.example\n"
    ));
    assert_eq!(e.line, Some(5), "{e}");
    assert!(
        e.message.starts_with(
            "images[0].require-signature-issuer: needs `require-signature-identity` or `require-signature-identity-regexp`"
        ),
        "{e}"
    );
    let e = err(&format!(
        "defaults:\n  require-signature-issuer: https://a.example\n  require-signature-issuer-regexp: a\n{ENTRY}"
    ));
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("exclude each other"), "{e}");
}

#[test]
fn a_bad_root_a_bad_expression_and_an_empty_identity_are_located() {
    let d = roots();
    let bad = d.path().join("bad.json").display().to_string();
    // Checked although no entry requires an identity.
    let e = err(&format!("defaults:\n  trusted-root: {bad}\n{ENTRY}"));
    assert_eq!((e.line, e.column), (Some(2), Some(17)), "{e}");
    assert!(
        e.message.starts_with("defaults.trusted-root: ")
            && e.message.contains("bad.json")
            && e.message.contains("not a Sigstore trusted root")
            && e.message.contains("cosign trusted-root create"),
        "{e}"
    );
    let missing = d.path().join("nope.json").display().to_string();
    let e = err(&format!("{ENTRY}    trusted-root: {missing}\n"));
    assert_eq!(e.line, Some(5), "{e}");
    assert!(
        e.message.starts_with("images[0].trusted-root: ") && e.message.contains("nope.json"),
        "{e}"
    );

    let e = err(&format!(
        "{ENTRY}    require-signature-identity-regexp:\n      - ^a$\n      - '(unclosed'\n"
    ));
    assert_eq!(e.line, Some(7), "{e}");
    assert!(
        e.message
            .starts_with("images[0].require-signature-identity-regexp[1]: \"(unclosed\" is not a regular expression"),
        "{e}"
    );
    let e = err(&format!(
        "defaults:\n  require-signature-issuer-regexp: '[z-a]'\n{ENTRY}"
    ));
    assert_eq!(e.line, Some(2), "{e}");
    assert!(
        e.message.starts_with(
            "defaults.require-signature-issuer-regexp: \"[z-a]\" is not a regular expression"
        ),
        "{e}"
    );
    let e = err(&format!(
        "{ENTRY}    require-signature-identity: [a@example.com, '']\n"
    ));
    assert_eq!(e.line, Some(5), "{e}");
    assert!(
        e.message
            .starts_with("images[0].require-signature-identity[1]: an empty identity"),
        "{e}"
    );
}
