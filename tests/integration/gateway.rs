//! The mirror as a trust gateway (issue 22): `--sign-key` signs what was verified upstream and
//! copied, filtered indexes included, with a site key; the real cosign 3.x and 2.x verify the
//! result with the site's public key alone, at distribution 2.8, at the sparse-accepting
//! registry, through an OCI layout and through an air-gap bundle. Reruns write nothing; bad
//! keys and a missing verification policy stop the run (exit 2) before anything is copied.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fake_registry::{FakeOptions, FakeRegistry};
use crate::fixtures::{self, Image};
use crate::harness::{count, mirror_in_async, sha256, Output, Registry};
use crate::signers::{Cosign, CosignKeys};

const PLATFORMS: [&str; 2] = ["linux/amd64", "linux/arm64/v8"];
const PASSWORD: (&str, &str) = ("COSIGN_PASSWORD", "test-password");

/// `sha256:` of a PEM public key's SubjectPublicKeyInfo (what reports and claims name).
fn fingerprint(pem_path: &Path) -> String {
    use base64::Engine as _;
    let pem = std::fs::read_to_string(pem_path).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    sha256(&der)
}

async fn mirror(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let dir = std::env::temp_dir();
    mirror_in_async(&dir, args, envs).await
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// A source with `img` as `team/app:v1`, its index and [`PLATFORMS`] children signed by the
/// upstream key with cosign 2 (`.sig` tags).
async fn upstream_signed(upstream: &CosignKeys, img: &Image) -> (Registry, crate::harness::Http) {
    let (src, http) = fixtures::seeded(img).await;
    let h = src.host();
    upstream
        .sign(Cosign::V2, &format!("{h}/team/app@{}", img.index.digest))
        .await;
    for pl in PLATFORMS {
        let c = &img.child(pl).digest;
        upstream
            .sign(Cosign::V2, &format!("{h}/team/app@{c}"))
            .await;
    }
    (src, http)
}

/// `cosign verify --key` of both versions must accept `image`; returns cosign 3's output.
async fn both_verify(keys: &CosignKeys, image: &str) -> String {
    let r2 = keys.verify(Cosign::V2, image).await;
    assert!(r2.ok, "cosign 2 must verify {image}:\n{}", r2.text);
    let r3 = keys.verify(Cosign::V3, image).await;
    assert!(r3.ok, "cosign 3 must verify {image}:\n{}", r3.text);
    r3.text
}

fn no_writes(reg: &Registry, mark: usize) {
    let reqs = reg.requests_since(mark);
    for m in ["PUT", "POST", "PATCH", "DELETE"] {
        assert_eq!(count(&reqs, m, ""), 0, "{m} on the target: {reqs:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn filtered_index_and_children_carry_the_site_signature_and_reruns_write_nothing() {
    let upstream = CosignKeys::generate().await;
    let site = CosignKeys::generate().await;
    let img = fixtures::multi_arch_oci(128);
    let (src, _http) = upstream_signed(&upstream, &img).await;
    let s = format!("{}/team/app:v1", src.host());
    let dst = Registry::start();
    let dh = dst.host();
    let (up, key) = (p(&upstream.public_key()), p(&site.private_key()));
    let mut args = vec![
        "copy",
        &s,
        "",
        "--require-signature",
        &up,
        "--sign-key",
        &key,
    ];
    args.extend(["--on-reject", "filter", "--sign-children", "--digest-tags"]);
    args.extend(["-p", PLATFORMS[0], "-p", PLATFORMS[1], "-o", "json"]);
    let target = format!("{dh}/filtered/app:v1");
    args[2] = &target;
    let out = mirror(&args, &[PASSWORD]).await;
    assert_eq!(out.code, 0, "{out}");
    let filtered = dst.tag_target("filtered/app", "v1").unwrap();
    assert_ne!(filtered, img.index.digest, "a filtered index");

    // The report names each signature: the filtered index, then each child.
    let r = json(&out);
    let signed = r["signed"].as_array().expect("signed in the copy report");
    let subjects: Vec<&str> = signed
        .iter()
        .map(|g| g["subject"].as_str().unwrap())
        .collect();
    let children: Vec<&str> = PLATFORMS
        .iter()
        .map(|pl| img.child(pl).digest.as_str())
        .collect();
    assert_eq!(
        subjects,
        [vec![filtered.as_str()], children.clone()].concat()
    );
    for g in signed {
        assert_eq!(g["status"], "signed");
        assert_eq!(g["format"], "cosign-simple-signing");
        assert_eq!(g["key_fingerprint"], fingerprint(&site.public_key()));
        assert!(g["tag"].as_str().unwrap().ends_with(".sig"), "{g}");
    }

    // cosign 2 and 3 accept the filtered index with the site key, and print the provenance.
    let text = both_verify(&site, &target).await;
    for claim in [
        format!("\"dev.sparse-mirror/source\":\"{s}\""),
        format!(
            "\"dev.sparse-mirror/source-digest\":\"{}\"",
            img.index.digest
        ),
        "\"dev.sparse-mirror/relation\":\"filtered\"".to_string(),
        format!(
            "\"dev.sparse-mirror/upstream-keys\":\"{}\"",
            fingerprint(&upstream.public_key())
        ),
        "\"dev.sparse-mirror/platforms\":\"linux/amd64,linux/arm64/v8\"".to_string(),
    ] {
        assert!(text.contains(&claim), "{claim} not in:\n{text}");
    }
    // Each child: the site key verifies, and so does the upstream key (its `.sig` layer was
    // copied with --digest-tags and kept when the site signature was appended).
    for c in &children {
        let image = format!("{dh}/filtered/app@{c}");
        both_verify(&site, &image).await;
        let r = upstream.verify(Cosign::V2, &image).await;
        assert!(r.ok, "the upstream key still verifies {c}:\n{}", r.text);
    }

    // `mirror verify` on the filtered target with the site key alone (index and children).
    let site_pub = p(&site.public_key());
    let out = mirror(
        &[
            "verify",
            &s,
            &target,
            "--on-reject",
            "filter",
            "-p",
            PLATFORMS[0],
            "-p",
            PLATFORMS[1],
            "--require-signature",
            &site_pub,
            "--require-signature-children",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");

    // A rerun finds every signature and writes nothing.
    let mark = dst.mark();
    let out = mirror(&args, &[PASSWORD]).await;
    assert_eq!(out.code, 0, "{out}");
    no_writes(&dst, mark);
    let r = json(&out);
    assert_eq!(r["signed"].as_array().unwrap().len(), 3, "{r}");
    assert!(r["signed"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["status"] == "existing"));

    // The original index of a full copy: the upstream `.sig` tag is copied, the site signature
    // appended to it; both keys verify the index.
    let full = format!("{dh}/full/app:v1");
    let out = mirror(
        &[
            "copy",
            &s,
            &full,
            "--require-signature",
            &up,
            "--sign-key",
            &key,
            "--on-reject",
            "full",
            "--digest-tags",
            "-p",
            PLATFORMS[0],
        ],
        &[PASSWORD],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        dst.tag_target("full/app", "v1").as_deref(),
        Some(img.index.digest.as_str())
    );
    let text = both_verify(&site, &full).await;
    assert!(
        text.contains("\"dev.sparse-mirror/relation\":\"same\""),
        "{text}"
    );
    let r = upstream.verify(Cosign::V2, &full).await;
    assert!(r.ok, "the upstream signature is kept:\n{}", r.text);
    // `mirror verify` with the site key alone passes on the target.
    let out = mirror(
        &[
            "verify",
            &s,
            &full,
            "-p",
            PLATFORMS[0],
            "--on-reject",
            "full",
            "--digest-tags",
            "--require-signature",
            &site_pub,
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_openssl_key_signs_sparse_indexes_in_bundle_format_at_the_sparse_registry_and_via_a_layout(
) {
    let upstream = CosignKeys::generate().await;
    // An openssl P-384 PKCS#8 key (unencrypted; cosign imports it to verify with its .pub).
    let site = CosignKeys::import(
        Cosign::V3,
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    )
    .await;
    let img = fixtures::multi_arch_oci(128);
    let (src, _http) = upstream_signed(&upstream, &img).await;
    let s = format!("{}/team/app:v1", src.host());
    let (up, key) = (p(&upstream.public_key()), p(&site.openssl_key()));
    let fake = FakeRegistry::start(FakeOptions::default()).await;
    let sparse = format!("{}/sparse/app:v1", fake.host());
    let gate = [
        "--require-signature",
        up.as_str(),
        "--sign-key",
        key.as_str(),
    ];
    let pick = ["-p", PLATFORMS[0], "-p", PLATFORMS[1]];
    let out = mirror(
        &[
            &["copy", s.as_str(), sparse.as_str(), "--sign-format", "both"][..],
            &gate,
            &pick,
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    // The sparse index keeps the source digest: cosign 3 reads the bundle (and cosign 2 the tag).
    let text = both_verify(&site, &sparse).await;
    assert!(
        text.contains("\"dev.sparse-mirror/relation\":\"same\""),
        "{text}"
    );

    // A sparse OCI layout (the site signature goes in as a `.sig` tag and a fallback-tag
    // bundle), carried on to the sparse-accepting registry.
    let tmp = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:v1", tmp.path().join("layout").display());
    let out = mirror(
        &[
            &["copy", s.as_str(), layout.as_str(), "--sign-format", "both"][..],
            &gate,
            &pick,
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let carried = format!("{}/from-layout/app:v1", fake.host());
    let carry = ["--referrers", "--digest-tags"];
    let out = mirror(
        &[
            &["copy", layout.as_str(), carried.as_str()][..],
            &carry,
            &pick,
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    both_verify(&site, &carried).await;

    // Distribution 2.8 through --on-reject full, bundle format only: the referrer goes under
    // the `sha256-<hex>` fallback tag, which cosign 3 reads (cosign 2.5 does not read bundles
    // without the referrers API).
    let dst = Registry::start();
    let full = format!("{}/full/app:v1", dst.host());
    let out = mirror(
        &[
            &[
                "copy",
                s.as_str(),
                full.as_str(),
                "--sign-format",
                "bundle",
                "--on-reject",
                "full",
            ][..],
            &gate,
            &pick,
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let fallback = format!("sha256-{}", img.index.digest.trim_start_matches("sha256:"));
    assert!(dst.tag_exists("full/app", &fallback), "the fallback tag");
    assert!(
        !dst.tag_exists("full/app", &format!("{fallback}.sig")),
        "no .sig tag"
    );
    let r = site.verify(Cosign::V3, &full).await;
    assert!(r.ok, "cosign 3 reads the bundle:\n{}", r.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_near_side_signs_into_the_bundle_and_the_far_side_verifies_with_the_public_key() {
    let upstream = CosignKeys::generate().await;
    let site = CosignKeys::generate().await;
    let img = fixtures::multi_arch_oci(128);
    let (src, _http) = upstream_signed(&upstream, &img).await;
    let far = Registry::start();
    let before = far.mark();
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    let metrics = tmp.path().join("metrics.prom");
    let file = tmp.path().join("mirror.yaml");
    std::fs::write(
        &file,
        format!(
            "defaults:\n  require-signature: {}\n  sign-key: {}\n  sign-format: both\n\
             images:\n  - source: {}/team/app\n    target: {}/airgap/app\n    tags: [v1]\n",
            p(&upstream.public_key()),
            p(&site.private_key()),
            src.host(),
            far.host()
        ),
    )
    .unwrap();
    let out = mirror(
        &[
            "sync",
            "-f",
            &p(&file),
            "--bundle",
            &p(&bundle),
            "--metrics-file",
            &p(&metrics),
            "-o",
            "json",
        ],
        &[PASSWORD],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let item: Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    let signed = item["signed"]
        .as_array()
        .expect("signed in the item report");
    let formats: Vec<&str> = signed
        .iter()
        .map(|g| g["format"].as_str().unwrap())
        .collect();
    assert_eq!(
        formats,
        ["cosign-simple-signing", "sigstore-bundle-dsse"],
        "{item}"
    );
    let prom = std::fs::read_to_string(&metrics).unwrap();
    for line in [
        "mirror_signatures_total{command=\"sync\",status=\"signed\",format=\"tag\"} 1",
        "mirror_signatures_total{command=\"sync\",status=\"signed\",format=\"bundle\"} 1",
    ] {
        assert!(prom.contains(line), "{line} not in:\n{prom}");
    }
    assert!(
        far.requests_since(before).is_empty(),
        "the near side never talks to the far side"
    );

    // The far side: no private key there, only the bundle and the public key.
    let out = mirror(&["bundle", "apply", &p(&bundle)], &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let target = format!("{}/airgap/app:v1", far.host());
    both_verify(&site, &target).await;
    let source = format!("{}/team/app:v1", src.host());
    let site_pub = p(&site.public_key());
    let out = mirror(
        &["verify", &source, &target, "--require-signature", &site_pub],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
}

/// One refusal: extra flags, environment, what stderr must name.
type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, Vec<String>);

/// A key file the refusals use, from the unit tests' keys.
fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/engine/signature/testdata/sign")
        .join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_keys_wrong_passwords_and_no_policy_stop_before_anything_is_copied() {
    let upstream = CosignKeys::generate().await;
    let site = CosignKeys::generate().await;
    let img = fixtures::multi_arch_oci(128);
    let (src, _http) = upstream_signed(&upstream, &img).await;
    let s = format!("{}/team/app:v1", src.host());
    let dst = Registry::start();
    let before = dst.mark();
    let d = format!("{}/mirror/app:v1", dst.host());
    let up = p(&upstream.public_key());
    let tmp = tempfile::tempdir().unwrap();
    let corrupt = tmp.path().join("corrupt.key");
    let text = std::fs::read_to_string(site.private_key()).unwrap();
    std::fs::write(&corrupt, text.replace("eyJrZGYi", "eyJrZGZp")).unwrap();
    let cosign_key = p(&site.private_key());
    let cases: Vec<Case> = vec![
        (
            vec!["--sign-key".into(), cosign_key.clone()],
            vec![PASSWORD],
            vec![cosign_key.clone(), "verification policy".into()],
        ),
        (
            vec![
                "--require-signature".into(),
                up.clone(),
                "--sign-key".into(),
                cosign_key.clone(),
            ],
            vec![("COSIGN_PASSWORD", "not-the-password")],
            vec![cosign_key.clone(), "wrong password".into()],
        ),
        (
            vec![
                "--require-signature".into(),
                up.clone(),
                "--sign-key".into(),
                cosign_key.clone(),
            ],
            vec![],
            vec![cosign_key.clone(), "COSIGN_PASSWORD".into()],
        ),
        (
            vec![
                "--require-signature".into(),
                up.clone(),
                "--sign-key".into(),
                p(&testdata("rsa1024.pem")),
            ],
            vec![],
            vec!["rsa1024.pem".into(), "RSA key of 1024 bits".into()],
        ),
        (
            vec![
                "--require-signature".into(),
                up.clone(),
                "--sign-key".into(),
                p(&testdata("secp256k1.pem")),
            ],
            vec![],
            vec!["secp256k1.pem".into(), "secp256k1".into()],
        ),
        (
            vec![
                "--require-signature".into(),
                up.clone(),
                "--sign-key".into(),
                p(&corrupt),
            ],
            vec![PASSWORD],
            vec!["corrupt.key".into(), "envelope".into()],
        ),
    ];
    for (extra, envs, wants) in cases {
        let mut args = vec!["copy", s.as_str(), d.as_str()];
        args.extend(extra.iter().map(String::as_str));
        let out = mirror(&args, &envs).await;
        assert_eq!(out.code, 2, "{args:?}: {out}");
        for w in &wants {
            assert!(out.stderr.contains(w.as_str()), "{w:?} not in: {out}");
        }
        assert!(!out.stderr.contains("panicked"), "{out}");
    }
    assert!(
        dst.requests_since(before).is_empty(),
        "nothing reached the target"
    );
    assert!(!dst.tag_exists("mirror/app", "v1"));

    // --sign-key-password-stdin: the password from stdin opens the key.
    let args = [
        "copy",
        s.as_str(),
        d.as_str(),
        "--require-signature",
        up.as_str(),
        "--sign-key",
        cosign_key.as_str(),
        "--sign-key-password-stdin",
        "-p",
        PLATFORMS[0],
        "--on-reject",
        "full",
    ];
    let out = mirror_stdin(&args, "test-password\n").await;
    assert_eq!(out.code, 0, "{out}");
    both_verify(&site, &d).await;
}

/// `mirror ARGS` with `stdin` piped in (no COSIGN_PASSWORD in its environment).
async fn mirror_stdin(args: &[&str], stdin: &str) -> Output {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(crate::harness::mirror_bin())
        .args(args)
        .env("MIRROR_TEST", "1")
        .env("NO_COLOR", "1")
        .env_remove("COSIGN_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = tokio::time::timeout(crate::harness::MIRROR_TIMEOUT, child.wait_with_output())
        .await
        .expect("mirror finished")
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
