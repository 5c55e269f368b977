//! The real cosign 3.x and 2.x signing keylessly against the private Sigstore instance of
//! `fake_sigstore.rs`, and verifying with `--certificate-identity`/`--certificate-oidc-issuer`
//! against its `trusted_root.json` (issue 23).
//!
//! What each cosign needs for a private instance (found by running them; docs/signatures.md):
//! - cosign 3.1: `sign --identity-token T --signing-config SC --trusted-root TR` (the signing
//!   config names the Fulcio and Rekor URLs; with `--trusted-root`, sigstore-go verifies the new
//!   bundle before pushing it); `verify --trusted-root TR`.
//! - cosign 2.5: `sign --fulcio-url U --rekor-url U --identity-token T` with the environment
//!   `SIGSTORE_ROOT_FILE`, `SIGSTORE_REKOR_PUBLIC_KEY`, `SIGSTORE_CT_LOG_PUBLIC_KEY_FILE`;
//!   `verify --trusted-root TR`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fake_sigstore::{identity_token, FakeSigstore};
use crate::harness::{count, mirror_async, peer_bin, Http, Output, Registry};
pub use crate::signers::Cosign;

/// The repository the tests sign in.
pub const REPO: &str = "team/app";

/// Output of one cosign run.
pub struct Run {
    pub ok: bool,
    pub text: String,
}

/// A signer with a private Sigstore instance and a scratch directory holding its trusted root,
/// signing config and cosign 2's PEM files.
pub struct KeylessSigner {
    pub sigstore: FakeSigstore,
    pub dir: tempfile::TempDir,
}

impl KeylessSigner {
    /// Starts the instance and writes `trusted_root.json`, `signing_config.json`,
    /// `fulcio_root.pem`, `rekor.pub` and `ctlog.pub`.
    pub async fn start() -> KeylessSigner {
        let sigstore = FakeSigstore::start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("trusted_root.json"), sigstore.trusted_root(None)).unwrap();
        std::fs::write(d.join("signing_config.json"), sigstore.signing_config()).unwrap();
        let (root, rekor, ct) = sigstore.cosign2_env_files();
        std::fs::write(d.join("fulcio_root.pem"), root).unwrap();
        std::fs::write(d.join("rekor.pub"), rekor).unwrap();
        std::fs::write(d.join("ctlog.pub"), ct).unwrap();
        KeylessSigner { sigstore, dir }
    }

    /// The trusted root file.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("trusted_root.json")
    }

    /// Writes another trusted root file (e.g. one without this instance's CA) and returns it.
    pub fn write_root(&self, name: &str, json: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, json).unwrap();
        p
    }

    async fn cosign(&self, v: Cosign, args: &[&str], fulcio: Option<&Path>) -> Run {
        let bin = peer_bin(if v == Cosign::V3 {
            "cosign"
        } else {
            "cosign-2"
        });
        let d = self.dir.path();
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.args(args)
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Nothing from the public-good instance: the TUF cache stays in the temp dir.
            .env("TUF_ROOT", d.join("tuf"))
            .env("HOME", d);
        // cosign 2.5 reads its trust material from the environment even with --trusted-root
        // (else it asks the public-good TUF repository): the log keys, and the Fulcio CAs of
        // the root being checked (`fulcio_root.pem` when signing, the root's own otherwise).
        if v == Cosign::V2 {
            cmd.env("SIGSTORE_REKOR_PUBLIC_KEY", d.join("rekor.pub"))
                .env("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE", d.join("ctlog.pub"))
                .env(
                    "SIGSTORE_ROOT_FILE",
                    fulcio.unwrap_or(&d.join("fulcio_root.pem")),
                );
        }
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("{} {args:?} did not finish in 120 s", bin.display()))
            .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
        Run {
            ok: out.status.success(),
            text: format!(
                "{} {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                bin.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// Signs `image` (`host/repo@digest`) keylessly as `identity` from `issuer`; `expired`: the
    /// CA issues a certificate that had already expired.
    pub async fn sign(
        &self,
        v: Cosign,
        image: &str,
        identity: &str,
        issuer: &str,
        expired: bool,
    ) -> Run {
        let token = identity_token(identity, issuer, expired);
        let url = self.sigstore.url.clone();
        let mut args = vec![
            "sign",
            "--identity-token",
            &token,
            "--allow-http-registry",
            "-y",
        ];
        match v {
            Cosign::V3 => {
                args.extend(["--signing-config", "signing_config.json"]);
                // sigstore-go verifies the new bundle when given the root; an expired
                // certificate must get through to be a test case.
                if !expired {
                    args.extend(["--trusted-root", "trusted_root.json"]);
                }
            }
            Cosign::V2 => args.extend(["--fulcio-url", &url, "--rekor-url", &url]),
        }
        args.push(image);
        self.cosign(v, &args, None).await
    }

    /// `cosign verify --certificate-identity I --certificate-oidc-issuer U --trusted-root R`.
    pub async fn verify(
        &self,
        v: Cosign,
        image: &str,
        identity: &str,
        issuer: &str,
        root: &Path,
    ) -> Run {
        let root_file = root;
        let root = root.display().to_string();
        let args = [
            "verify",
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
            &root,
            "--allow-http-registry",
            image,
        ];
        let fulcio = root_file.with_extension("fulcio.pem");
        let tr: Value = serde_json::from_slice(&std::fs::read(root_file).unwrap()).unwrap();
        let pems: String = tr["certificateAuthorities"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|ca| ca["certChain"]["certificates"].as_array().unwrap().clone())
            .map(|c| {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(c["rawBytes"].as_str().unwrap())
                    .unwrap();
                crate::fake_sigstore::testca::pem("CERTIFICATE", &der)
            })
            .collect();
        std::fs::write(&fulcio, pems).unwrap();
        self.cosign(v, &args, Some(&fulcio)).await
    }
}

fn tag_of(digest: &str) -> String {
    format!("sha256-{}", digest.trim_start_matches("sha256:"))
}

async fn json_manifest(http: &Http, host: &str, reference: &str) -> Value {
    let (st, _, body) = http.get_manifest(host, REPO, reference).await;
    assert_eq!(st, 200, "GET manifest {reference}");
    serde_json::from_slice(&body).unwrap()
}

async fn put_json(
    http: &Http,
    host: &str,
    reference: &str,
    media: &str,
    v: &Value,
) -> (String, usize) {
    let bytes = serde_json::to_vec(v).unwrap();
    let (st, body) = http
        .put_manifest(host, REPO, reference, media, &bytes)
        .await;
    assert_eq!(st, 201, "PUT {reference}: {body}");
    (crate::harness::sha256(&bytes), bytes.len())
}

/// cosign 3's bundle for `subject` (through the fallback tag): (fallback index, bundle
/// manifest, bundle JSON).
async fn v3_bundle(http: &Http, host: &str, subject: &str) -> (Value, Value, Value) {
    let index = json_manifest(http, host, &tag_of(subject)).await;
    let m = json_manifest(
        http,
        host,
        index["manifests"][0]["digest"].as_str().unwrap(),
    )
    .await;
    let (st, blob) = http
        .get_blob(host, REPO, m["layers"][0]["digest"].as_str().unwrap())
        .await;
    assert_eq!(st, 200);
    (index, m, serde_json::from_slice(&blob).unwrap())
}

/// Replaces the log entry of `subject`'s keyless signature in `host/team/app` with the entry
/// of `donor`'s signature (another image, same signer): a valid, logged entry for another
/// signature.
pub async fn swap_log_entry(http: &Http, host: &str, v: Cosign, subject: &str, donor: &str) {
    match v {
        Cosign::V2 => {
            let key = "dev.sigstore.cosign/bundle";
            let theirs = json_manifest(http, host, &format!("{}.sig", tag_of(donor))).await;
            let mut ours = json_manifest(http, host, &format!("{}.sig", tag_of(subject))).await;
            ours["layers"][0]["annotations"][key] = theirs["layers"][0]["annotations"][key].clone();
            let media = ours["mediaType"].as_str().unwrap().to_string();
            put_json(
                http,
                host,
                &format!("{}.sig", tag_of(subject)),
                &media,
                &ours,
            )
            .await;
        }
        Cosign::V3 => {
            let (_, _, theirs) = v3_bundle(http, host, donor).await;
            let (mut index, mut m, mut ours) = v3_bundle(http, host, subject).await;
            ours["verificationMaterial"]["tlogEntries"] =
                theirs["verificationMaterial"]["tlogEntries"].clone();
            let blob = serde_json::to_vec(&ours).unwrap();
            let d = http.push_blob(host, REPO, &blob).await;
            m["layers"][0]["digest"] = json!(d);
            m["layers"][0]["size"] = json!(blob.len());
            let media = m["mediaType"].as_str().unwrap().to_string();
            let bytes = serde_json::to_vec(&m).unwrap();
            let md = crate::harness::sha256(&bytes);
            put_json(http, host, &md, &media, &m).await;
            index["manifests"][0]["digest"] = json!(md);
            index["manifests"][0]["size"] = json!(bytes.len());
            let media = index["mediaType"].as_str().unwrap().to_string();
            put_json(http, host, &tag_of(subject), &media, &index).await;
        }
    }
}

const ME: &str = "dev@example.com";
const ISSUER: &str = "https://issuer.example";

/// `mirror copy SRC DST -p linux/amd64 --referrers --digest-tags` with the keyless policy
/// (`identity`, `issuer`, `root`) and `extra` flags.
async fn gated(
    src: &str,
    dst: &str,
    identity: &str,
    issuer: &str,
    root: &Path,
    extra: &[&str],
) -> Output {
    let root = root.display().to_string();
    let mut args = vec![
        "copy",
        src,
        dst,
        "-p",
        "linux/amd64",
        "--referrers",
        "--digest-tags",
        "--require-signature-identity",
        identity,
        "--require-signature-issuer",
        issuer,
        "--trusted-root",
        &root,
    ];
    args.extend(extra);
    mirror_async(&args).await
}

fn refused(out: &Output, dst: &Registry, mark: usize, why: &str) {
    assert_eq!(out.code, 8, "{out}");
    assert!(out.stderr.contains(why), "says {why:?}: {out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
    let reqs = dst.requests_since(mark);
    for m in ["PUT", "POST", "PATCH", "DELETE"] {
        assert_eq!(count(&reqs, m, ""), 0, "{m} on the target: {reqs:?}");
    }
}

/// The issue's matrix for one cosign version: the right identity passes (sparse, and filtered
/// into distribution 2.8), and other identity, other issuer, an expired certificate, another
/// signature's log entry and a root without the CA each fail in `cosign verify` and in the
/// mirror's gate (exit 8, nothing written).
async fn mirror_agrees_with_cosign(v: Cosign) {
    let signer = KeylessSigner::start().await;
    let img = crate::fixtures::multi_arch_oci(64);
    let (src, http) = crate::fixtures::seeded(&img).await;
    let h = src.host();
    let expired = crate::fixtures::multi_arch_oci(65);
    crate::fixtures::push_image(&http, &h, REPO, "expired", &expired).await;
    let swapped = crate::fixtures::multi_arch_oci(66);
    crate::fixtures::push_image(&http, &h, REPO, "swapped", &swapped).await;
    let by_digest = |d: &str| format!("{h}/{REPO}@{d}");
    let root = signer.root();
    for (d, exp) in [
        (&img.index.digest, false),
        (&expired.index.digest, true),
        (&swapped.index.digest, false),
    ] {
        let r = signer.sign(v, &by_digest(d), ME, ISSUER, exp).await;
        assert!(r.ok, "{}", r.text);
    }
    // The donor: a signature over the swapped image's linux/amd64 child.
    let donor = &swapped.child("linux/amd64").digest;
    let r = signer.sign(v, &by_digest(donor), ME, ISSUER, false).await;
    assert!(r.ok, "{}", r.text);
    swap_log_entry(&http, &h, v, &swapped.index.digest, donor).await;
    let stranger = crate::fake_sigstore::testca::Ca::new("stranger", 0, 4_000_000_000);
    let other_root = signer.write_root(
        "other_root.json",
        &signer.sigstore.trusted_root(Some(&[&stranger.cert])),
    );

    let dst = Registry::start();
    let dh = dst.host();
    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let cases: [(&str, &str, &str, &Path, &str); 5] = [
        ("v1", "eve@example.com", ISSUER, &root, "other identity"),
        (
            "v1",
            ME,
            "https://other-issuer.example",
            &root,
            "other issuer",
        ),
        ("expired", ME, ISSUER, &root, "expired"),
        ("swapped", ME, ISSUER, &root, "log entry"),
        ("v1", ME, ISSUER, &other_root, "certificate chain"),
    ];
    for (tag, identity, issuer, r, why) in cases {
        let digest = src_digest(&http, &h, tag).await;
        let c = signer
            .verify(v, &by_digest(&digest), identity, issuer, r)
            .await;
        assert!(!c.ok, "cosign must refuse ({why}):\n{}", c.text);
        let mark = dst.mark();
        let out = gated(
            &format!("{h}/{REPO}:{tag}"),
            &format!("{dh}/{REPO}:{tag}"),
            identity,
            issuer,
            r,
            &[],
        )
        .await;
        refused(&out, &dst, mark, why);
    }
    // The right identity: cosign accepts it, the mirror copies it sparse (the index signature
    // stays valid at the target) and filtered into distribution 2.8.
    let c = signer
        .verify(v, &by_digest(&img.index.digest), ME, ISSUER, &root)
        .await;
    assert!(c.ok, "{}", c.text);
    let fh = fake.host();
    let out = gated(
        &format!("{h}/{REPO}:v1"),
        &format!("{fh}/{REPO}:v1"),
        ME,
        ISSUER,
        &root,
        &["-o", "json"],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["signatures"][0]["identity"], ME, "{out}");
    assert_eq!(report["signatures"][0]["issuer"], ISSUER, "{out}");
    let c = signer
        .verify(
            v,
            &format!("{fh}/{REPO}@{}", img.index.digest),
            ME,
            ISSUER,
            &root,
        )
        .await;
    assert!(
        c.ok,
        "the sparse copy keeps the signature valid:\n{}",
        c.text
    );
    // The gateway over a keyless upstream: the identity policy is the verification
    // `--sign-key` needs, and the filtered index (a digest nobody upstream signed) carries the
    // site signature, which this cosign accepts with the site's public key alone.
    let site = crate::signers::CosignKeys::import(
        Cosign::V3,
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    )
    .await;
    let site_key = site.openssl_key().display().to_string();
    // A key-only gate meets a keyless signature: the refusal names what is missing (an
    // identity policy), not "another key".
    let mark = dst.mark();
    let site_pub = site.public_key().display().to_string();
    let out = mirror_async(&[
        "copy",
        &format!("{h}/{REPO}:v1"),
        &format!("{dh}/{REPO}:keyonly"),
        "-p",
        "linux/amd64",
        "--require-signature",
        &site_pub,
    ])
    .await;
    refused(&out, &dst, mark, "no identity policy was given");
    let out = gated(
        &format!("{h}/{REPO}:v1"),
        &format!("{dh}/{REPO}:v1"),
        ME,
        ISSUER,
        &root,
        &[
            "--on-reject",
            "filter",
            "--sign-key",
            &site_key,
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let filtered = report["pushed_digest"].as_str().unwrap().to_string();
    assert_ne!(filtered, img.index.digest, "{out}");
    assert_eq!(report["signed"][0]["subject"], filtered.as_str(), "{out}");
    assert_eq!(report["signed"][0]["status"], "signed", "{out}");
    let r = site.verify(v, &format!("{dh}/{REPO}:v1")).await;
    assert!(
        r.ok,
        "cosign verify --key site.pub on the filtered index:\n{}",
        r.text
    );
    assert!(
        r.text.contains(&format!("{ME} {ISSUER}")),
        "the provenance names the keyless upstream signer:\n{}",
        r.text
    );
    let out = mirror_async(&[
        "verify",
        &format!("{h}/{REPO}:v1"),
        &format!("{fh}/{REPO}:v1"),
        "-p",
        "linux/amd64",
        "--require-signature-identity",
        ME,
        "--require-signature-issuer",
        ISSUER,
        "--trusted-root",
        &root.display().to_string(),
    ])
    .await;
    assert_eq!(out.code, 0, "mirror verify on the sparse target: {out}");
}

async fn src_digest(http: &Http, host: &str, tag: &str) -> String {
    let (st, d) = http.head_manifest(host, REPO, tag).await;
    assert_eq!(st, 200);
    d.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn mirror_agrees_with_cosign3_on_every_case() {
    mirror_agrees_with_cosign(Cosign::V3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mirror_agrees_with_cosign2_on_every_case() {
    mirror_agrees_with_cosign(Cosign::V2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn both_cosigns_sign_and_verify_keylessly_against_the_private_instance() {
    let signer = KeylessSigner::start().await;
    let img = crate::fixtures::multi_arch_oci(64);
    let (src, _http) = crate::fixtures::seeded(&img).await;
    let h = src.host();
    for v in [Cosign::V3, Cosign::V2] {
        let image = format!("{h}/team/app@{}", img.index.digest);
        let r = signer
            .sign(
                v,
                &image,
                "dev@example.com",
                "https://issuer.example",
                false,
            )
            .await;
        assert!(r.ok, "{}", r.text);
        let r = signer
            .verify(
                v,
                &image,
                "dev@example.com",
                "https://issuer.example",
                &signer.root(),
            )
            .await;
        assert!(r.ok, "{}", r.text);
        let r = signer
            .verify(
                v,
                &image,
                "eve@example.com",
                "https://issuer.example",
                &signer.root(),
            )
            .await;
        assert!(!r.ok, "{}", r.text);
    }
}

/// The bundle path: the policy is checked on the near side (`--bundle`), the far side applies
/// the bundle, and `mirror verify` checks the same policy on the far target with the same
/// trusted root file. A refused image leaves no bundle behind.
#[tokio::test(flavor = "multi_thread")]
async fn keyless_policy_on_both_sides_of_a_bundle() {
    let signer = KeylessSigner::start().await;
    let img = crate::fixtures::multi_arch_oci(64);
    let (src, _http) = crate::fixtures::seeded(&img).await;
    let h = src.host();
    let r = signer
        .sign(
            Cosign::V3,
            &format!("{h}/{REPO}@{}", img.index.digest),
            ME,
            ISSUER,
            false,
        )
        .await;
    assert!(r.ok, "{}", r.text);
    let far = FakeRegistry::start(FakeOptions::default()).await;
    let fh = far.host();
    let dir = tempfile::tempdir().unwrap();
    let root = signer.root().display().to_string();
    let policy = |identity: &'static str| {
        vec![
            "--require-signature-identity",
            identity,
            "--require-signature-issuer",
            ISSUER,
            "--trusted-root",
        ]
    };
    let (source, target) = (format!("{h}/{REPO}:v1"), format!("{fh}/{REPO}:v1"));
    let refused_dir = dir.path().join("refused").display().to_string();
    let mut args = vec![
        "copy",
        &source,
        &target,
        "-p",
        "linux/amd64",
        "--referrers",
        "--bundle",
        &refused_dir,
    ];
    args.extend(policy("eve@example.com"));
    args.push(&root);
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 8, "{out}");
    assert!(out.stderr.contains("other identity"), "{out}");
    assert!(
        !dir.path().join("refused/bundle.json").exists(),
        "no bundle for a refused image"
    );

    let b = dir.path().join("b").display().to_string();
    let mut args = vec![
        "copy",
        &source,
        &target,
        "-p",
        "linux/amd64",
        "--referrers",
        "--bundle",
        &b,
    ];
    args.extend(policy(ME));
    args.push(&root);
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 0, "{out}");
    let out = mirror_async(&["bundle", "apply", &b]).await;
    assert_eq!(out.code, 0, "{out}");
    let mut args = vec!["verify", &source, &target, "-p", "linux/amd64"];
    args.extend(policy(ME));
    args.push(&root);
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 0, "far-side verify with the same root: {out}");
    let mut args = vec!["verify", &source, &target, "-p", "linux/amd64"];
    args.extend(policy("eve@example.com"));
    args.push(&root);
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 8, "far-side verify, another identity: {out}");
    // A root that does not parse is a usage error before anything is contacted.
    let bad = signer.write_root("bad_root.json", "{not json");
    let bad = bad.display().to_string();
    let mut args = vec!["verify", &source, &target];
    args.extend(policy(ME));
    args.push(&bad);
    let out = mirror_async(&args).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("not a Sigstore trusted root"), "{out}");
}
