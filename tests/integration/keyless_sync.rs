//! Keyless identity policies in the sync file (issue 23): `require-signature-identity`,
//! `require-signature-issuer` and `trusted-root` under `defaults:` and per entry, checked
//! against signatures the real cosign 3 made against the private Sigstore instance of
//! `fake_sigstore.rs`; through `mirror sync`, `mirror sync --verify` and `mirror sync --bundle`.

use std::path::Path;

use serde_json::Value;

use crate::harness::{count, mirror_async, Registry};
use crate::keyless_signers::{Cosign, KeylessSigner};

const ME: &str = "dev@example.com";
const EVE: &str = "eve@example.com";
const ISSUER: &str = "https://issuer.example";

/// The JSON lines of a `sync -o json` run, item reports only (the summary has no `image`).
fn items(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("image").is_some())
        .collect()
}

/// `defaults:` with the keyless policy (`ME`, `ISSUER`, `root`); the signatures are carried
/// so that `--verify` finds them on the target.
fn defaults(root: &Path) -> String {
    format!(
        "defaults:\n  platforms: linux/amd64\n  on-reject: full\n  referrers: true\n  digest-tags: true\n\
         \x20 require-signature-identity: {ME}\n  require-signature-issuer: {ISSUER}\n  trusted-root: {}\n",
        root.display()
    )
}

fn entry(src: &str, repo: &str, dst: &str, target: &str, extra: &str) -> String {
    format!("  - source: {src}/{repo}\n    target: {dst}/{target}\n    tags: [v1]\n{extra}")
}

/// One source with `team/app` signed by `ME` and `team/other` signed by `EVE` (both from
/// `ISSUER`), and a sync file whose defaults require `ME`: `team/app` is copied, `team/other`
/// fails with exit 8 in its item and nothing is written for it, and an entry that overrides the
/// identity with `[EVE, ME]` copies `team/other`. `--verify` checks the policy again on the
/// target. Then the same policy on the near side of a `--bundle`, and on the far side.
#[tokio::test(flavor = "multi_thread")]
async fn sync_requires_keyless_identities_from_defaults_and_per_entry() {
    let signer = KeylessSigner::start().await;
    let img = crate::fixtures::multi_arch_oci(64);
    let (src, http) = crate::fixtures::seeded(&img).await;
    let h = src.host();
    let other = crate::fixtures::multi_arch_oci(65);
    crate::fixtures::push_image(&http, &h, "team/other", "v1", &other).await;
    for (repo, digest, who) in [
        ("team/app", &img.index.digest, ME),
        ("team/other", &other.index.digest, EVE),
    ] {
        let r = signer
            .sign(
                Cosign::V3,
                &format!("{h}/{repo}@{digest}"),
                who,
                ISSUER,
                false,
            )
            .await;
        assert!(r.ok, "{}", r.text);
    }
    let root = signer.root();
    let dst = Registry::start();
    let dh = dst.host();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("mirror.yaml");
    std::fs::write(
        &cfg,
        format!(
            "{}images:\n{}{}{}",
            defaults(&root),
            entry(&h, "team/app", &dh, "mirror/app", ""),
            entry(&h, "team/other", &dh, "mirror/other", ""),
            entry(
                &h,
                "team/other",
                &dh,
                "mirror/other-eve",
                &format!("    require-signature-identity: [{EVE}, {ME}]\n")
            ),
        ),
    )
    .unwrap();
    let cfg_arg = cfg.display().to_string();
    let out = mirror_async(&["sync", "-f", &cfg_arg, "--verify", "-o", "json"]).await;
    assert_eq!(out.code, 6, "one item refused, the others done: {out}");
    let reports = items(&out.stdout);
    let of = |image: u64, action: &str| {
        reports
            .iter()
            .find(|r| r["image"] == image && r["action"] == action)
            .unwrap_or_else(|| panic!("no {action} item for images[{image}]: {out}"))
    };
    // Inherited from defaults: copied, then verified on the target with the same policy.
    for (image, who) in [(0, ME), (2, EVE)] {
        for action in ["copied", "complete"] {
            let r = of(image, action);
            assert_eq!(r["signatures"][0]["identity"], who, "{action}: {r}");
            assert_eq!(r["signatures"][0]["issuer"], ISSUER, "{action}: {r}");
        }
    }
    // Another identity: a failed item with the mirror's exit code for a refused signature,
    // naming the signature and why; nothing written, and not verified.
    let refused = of(1, "failed");
    assert_eq!(refused["exit_code"], 8, "{refused}");
    let error = refused["error"].as_str().unwrap();
    for needed in [
        "no signature over index",
        &format!("identity {ME} (issuer {ISSUER})"),
        "1 signature(s) found",
        "Sigstore bundle",
        "other identity",
        EVE,
    ] {
        assert!(error.contains(needed), "names {needed:?}: {error}");
    }
    assert_eq!(
        reports.iter().filter(|r| r["image"] == 1).count(),
        1,
        "{out}"
    );
    assert!(dst.tag_exists("mirror/app", "v1"));
    assert!(dst.tag_exists("mirror/other-eve", "v1"));
    assert!(!dst.tag_exists("mirror/other", "v1"));
    assert_eq!(
        dst.any_layer_links("mirror/other"),
        0,
        "nothing written for it"
    );

    // The bundle path: the policy on the near side (the refused image stays out of the
    // bundle), then on the far side with the same root file.
    let far = crate::fake_registry::FakeRegistry::start(Default::default()).await;
    let fh = far.host();
    let near = tmp.path().join("near.yaml");
    std::fs::write(
        &near,
        format!(
            "{}images:\n{}{}",
            defaults(&root),
            entry(&h, "team/app", &fh, "mirror/app", ""),
            entry(&h, "team/other", &fh, "mirror/other", ""),
        ),
    )
    .unwrap();
    let b = tmp.path().join("b").display().to_string();
    let mark = src.mark();
    let out = mirror_async(&["sync", "-f", &near.display().to_string(), "--bundle", &b]).await;
    assert_eq!(out.code, 6, "{out}");
    assert!(out.stderr.contains("other identity"), "{out}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(Path::new(&b).join("bundle.json")).unwrap()).unwrap();
    let targets: Vec<&str> = manifest["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, [format!("{fh}/mirror/app:v1")], "{manifest}");
    let reqs = src.requests_since(mark);
    assert_eq!(count(&reqs, "PUT", ""), 0, "the source is only read");
    let out = mirror_async(&["bundle", "apply", &b]).await;
    assert_eq!(out.code, 0, "{out}");
    // The far side reads nothing from the near side's source: the bundle's layout is the
    // source of the check, the far registry the target, with the root carried across.
    let root_arg = root.display().to_string();
    let layout = format!("oci:{b}/layout@{}", img.index.digest);
    let far_verify = |identity: &'static str| {
        let (s, t, r) = (
            layout.clone(),
            format!("{fh}/mirror/app:v1"),
            root_arg.clone(),
        );
        async move {
            mirror_async(&[
                "verify",
                &s,
                &t,
                "-p",
                "linux/amd64",
                "--require-signature-identity",
                identity,
                "--require-signature-issuer",
                ISSUER,
                "--trusted-root",
                &r,
            ])
            .await
        }
    };
    let mark = src.mark();
    let out = far_verify(ME).await;
    assert_eq!(out.code, 0, "far side, same root: {out}");
    let out = far_verify(EVE).await;
    assert_eq!(out.code, 8, "far side, another identity: {out}");
    assert!(out.stderr.contains("other identity"), "{out}");
    assert!(
        src.requests_since(mark).is_empty(),
        "the source is not contacted"
    );
}

/// Errors in the keyless keys stop the run before anything is contacted (exit 2), located at
/// file:line with the key.
#[tokio::test(flavor = "multi_thread")]
async fn keyless_key_errors_stop_sync_before_it_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_root = tmp.path().join("trusted_root.json");
    std::fs::write(&bad_root, "{\"mediaType\": ").unwrap();
    let entry = entry("127.0.0.1:1", "team/app", "127.0.0.1:1", "mirror/app", "");
    let cases = [
        (
            format!(
                "defaults:\n  trusted-root: {}\nimages:\n{entry}",
                bad_root.display()
            ),
            ":2:17: defaults.trusted-root: ",
            "not a Sigstore trusted root",
        ),
        (
            format!("images:\n{entry}    require-signature-issuer: {ISSUER}\n"),
            ":5:31: images[0].require-signature-issuer: ",
            "needs `require-signature-identity`",
        ),
        (
            format!("defaults:\n  require-signature-identity-regexp: '(dev'\nimages:\n{entry}"),
            ":2:38: defaults.require-signature-identity-regexp: ",
            "is not a regular expression",
        ),
    ];
    for (yaml, at, why) in cases {
        let cfg = tmp.path().join("m.yaml");
        std::fs::write(&cfg, &yaml).unwrap();
        let out = mirror_async(&["sync", "-f", &cfg.display().to_string()]).await;
        assert_eq!(out.code, 2, "{yaml}\n{out}");
        assert!(
            out.stderr.contains(&format!("m.yaml{at}")) && out.stderr.contains(why),
            "{at} {why}: {out}"
        );
    }
}
