//! `--require-signature` (issue 15, parts 2 and 3) against distribution 2.8 with signatures made
//! by the real cosign 3.x (Sigstore bundle referrer, `sha256-<hex>` fallback tag) and cosign 2.x
//! (`sha256-<hex>.sig` tag), verified in-process by the mirror. Refusals exit 8 and write
//! nothing; hand-made signature objects only for the hostile cases.

use serde_json::{json, Value};

use crate::fixtures::{self, Image};
use crate::harness::{count, mirror_async, sha256, Http, Registry};
use crate::signers::{Cosign, CosignKeys};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn hex(d: &str) -> &str {
    d.trim_start_matches("sha256:")
}

/// Runs `mirror copy SRC DST --require-signature KEY ... -o json`.
async fn gated_copy(
    src: &str,
    dst: &str,
    key: &std::path::Path,
    extra: &[&str],
) -> crate::harness::Output {
    let key = key.display().to_string();
    let mut args = vec!["copy", src, dst, "--require-signature", &key, "-o", "json"];
    args.extend(extra);
    mirror_async(&args).await
}

/// Nothing reached the target: no PUT, POST or PATCH, no tag.
fn assert_nothing_written(dst: &Registry, repo: &str) {
    let reqs = dst.requests();
    for m in ["PUT", "POST", "PATCH", "DELETE"] {
        assert_eq!(count(&reqs, m, ""), 0, "{m} on the target: {reqs:?}");
    }
    assert!(!dst.tag_exists(repo, "v1"));
}

fn assert_refused(out: &crate::harness::Output, image: &str, why: &str) {
    assert_eq!(out.code, 8, "{out}");
    assert!(out.stderr.contains("signature required"), "{out}");
    assert!(out.stderr.contains(image), "names the image: {out}");
    assert!(out.stderr.contains(why), "says {why:?}: {out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
}

/// A source registry with `img` as `team/app:v1`, signed (index and linux/amd64) by `keys`
/// with cosign `v`.
async fn signed_source(keys: &CosignKeys, v: Cosign, img: &Image) -> (Registry, Http) {
    let (src, http) = fixtures::seeded(img).await;
    let h = src.host();
    keys.sign(v, &format!("{h}/team/app@{}", img.index.digest))
        .await;
    let child = &img.child("linux/amd64").digest;
    keys.sign(v, &format!("{h}/team/app@{child}")).await;
    (src, http)
}

fn fingerprint(pem_path: &std::path::Path) -> String {
    use base64::Engine as _;
    let pem = std::fs::read_to_string(pem_path).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    format!("sha256:{}", sha256(&der).trim_start_matches("sha256:"))
}

#[tokio::test(flavor = "multi_thread")]
async fn both_cosign_formats_are_accepted_and_reported() {
    let keys = CosignKeys::generate().await;
    let key = keys.public_key();
    for (v, format, via) in [
        (Cosign::V3, "sigstore-bundle-dsse", "fallback-tag"),
        (Cosign::V2, "cosign-simple-signing", "digest-tag"),
    ] {
        let img = fixtures::multi_arch_oci(128);
        let (src, _http) = signed_source(&keys, v, &img).await;
        let dst = Registry::start();
        let s = format!("{}/team/app:v1", src.host());
        let d = format!("{}/mirror/app:v1", dst.host());
        let extra = [
            "-p",
            "linux/amd64",
            "--on-reject",
            "full",
            "--require-signature-children",
            "--referrers",
            "--digest-tags",
        ];
        let out = gated_copy(&s, &d, &key, &extra).await;
        assert_eq!(out.code, 0, "{v:?}: {out}");
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        let sigs = r["signatures"].as_array().unwrap();
        assert_eq!(sigs.len(), 2, "index and linux/amd64: {}", out.stdout);
        assert_eq!(sigs[0]["subject"], img.index.digest.as_str());
        assert_eq!(sigs[1]["subject"], img.child("linux/amd64").digest.as_str());
        for s in sigs {
            assert_eq!(s["format"], format, "{v:?}");
            assert_eq!(s["via"], via, "{v:?}");
            assert_eq!(s["key_fingerprint"], fingerprint(&key).as_str());
            let tag = s["tag"].as_str().unwrap();
            assert!(tag.starts_with(&format!("sha256-{}", hex(s["subject"].as_str().unwrap()))));
        }
        assert_eq!(
            dst.tag_target("mirror/app", "v1").as_deref(),
            Some(img.index.digest.as_str())
        );
        // A child without a signature fails --require-signature-children, before any write.
        let dst2 = Registry::start();
        let d2 = format!("{}/mirror/app:v1", dst2.host());
        let extra = [
            "-p",
            "linux/arm64/v8",
            "--on-reject",
            "full",
            "--require-signature-children",
        ];
        let out = gated_copy(&s, &d2, &key, &extra).await;
        assert_refused(&out, &s, &img.child("linux/arm64/v8").digest);
        assert_nothing_written(&dst2, "mirror/app");

        // `mirror verify` checks the same policy on the target.
        let k = key.display().to_string();
        let args = [
            "verify",
            &s,
            &d,
            "-p",
            "linux/amd64",
            "--on-reject",
            "full",
            "--require-signature",
            &k,
        ];
        let out = mirror_async(&args).await;
        assert_eq!(out.code, 0, "{out}");
        // And with --require-signature-children: the index and linux/amd64 carry signatures on
        // the target (copied with --referrers/--digest-tags), reported as the copy reports them.
        let with_children = [&args[..], &["--require-signature-children", "-o", "json"]].concat();
        let out = mirror_async(&with_children).await;
        assert_eq!(out.code, 0, "{out}");
        let item: Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
        let sigs = item["signatures"]
            .as_array()
            .expect("signatures in the item report");
        assert_eq!(sigs.len(), 2, "{out}");
        assert_eq!(sigs[1]["subject"], img.child("linux/amd64").digest.as_str());
        // The air gap's second hop gates from an OCI layout: the signatures travelled into it
        // (the fallback tag or the `.sig` tag inside the layout), and the gate reads them there.
        let tmp = tempfile::tempdir().unwrap();
        let layout = format!("oci:{}:v1", tmp.path().join("usb").display());
        let carry = ["--referrers", "--digest-tags"];
        let out =
            mirror_async(&[&["copy", s.as_str(), layout.as_str()][..], &carry].concat()).await;
        assert_eq!(out.code, 0, "{out}");
        let d3 = format!("{}/from-usb/app:v1", dst.host());
        let out = gated_copy(
            &layout,
            &d3,
            &key,
            &["-p", "linux/amd64", "--on-reject", "full"],
        )
        .await;
        assert_eq!(out.code, 0, "{v:?} from a layout: {out}");
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(r["signatures"][0]["format"], format, "{v:?}");
        assert_eq!(r["signatures"][0]["via"], via, "{v:?}");
        // A complete copy made without --referrers/--digest-tags: the target carries no
        // signature, so verify refuses it (exit 8) though nothing is missing.
        let f = format!("{}/unsigned-copy/app:v1", dst.host());
        let full = ["-p", "linux/amd64", "--on-reject", "full"];
        let out = mirror_async(&[&["copy", s.as_str(), f.as_str()][..], &full].concat()).await;
        assert_eq!(out.code, 0, "{out}");
        let args = [
            &["verify", s.as_str(), f.as_str()][..],
            &full,
            &["--require-signature", &k],
        ]
        .concat();
        let out = mirror_async(&args).await;
        assert_eq!(out.code, 8, "{out}");
        assert!(out.stderr.contains(&f), "names the target: {out}");
        assert!(out.stderr.contains("no signature found"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_other_key_replayed_and_tampered_signatures_are_refused() {
    let keys = CosignKeys::generate().await;
    let other = CosignKeys::generate().await;
    let img = fixtures::multi_arch_oci(128);
    let (src, http) = signed_source(&keys, Cosign::V2, &img).await;
    let sh = src.host();
    let s = format!("{sh}/team/app:v1");
    let dst = Registry::start();
    let d = format!("{}/mirror/app:v1", dst.host());

    // Signed by another key.
    let out = gated_copy(&s, &d, &other.public_key(), &[]).await;
    assert_refused(&out, &s, "does not verify with any required key");
    assert!(
        out.stderr
            .contains(&format!("sha256-{}.sig", hex(&img.index.digest))),
        "{out}"
    );
    // cosign 2 appends a second signature (a second layer) to the same `.sig` manifest: the
    // other key is accepted now (dry run: the gate runs, nothing is written).
    other
        .sign(Cosign::V2, &format!("{sh}/team/app@{}", img.index.digest))
        .await;
    let out = gated_copy(&s, &d, &other.public_key(), &["--dry-run"]).await;
    assert_eq!(out.code, 0, "{out}");
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let fp = fingerprint(&other.public_key());
    assert_eq!(r["signatures"][0]["key_fingerprint"], fp.as_str());

    // Unsigned.
    let unsigned = fixtures::single_manifest(64);
    fixtures::push_image(&http, &sh, "team/unsigned", "v1", &unsigned).await;
    let u = format!("{sh}/team/unsigned:v1");
    let out = gated_copy(&u, &d, &keys.public_key(), &[]).await;
    assert_refused(&out, &u, "no signature found");

    // A valid signature replayed from another image: team/app's `.sig` under team/unsigned's
    // digest tag.
    let sig_tag = format!("sha256-{}.sig", hex(&img.index.digest));
    let (st, _, sig_manifest) = http.get_manifest(&sh, "team/app", &sig_tag).await;
    assert_eq!(st, 200);
    let m: Value = serde_json::from_slice(&sig_manifest).unwrap();
    let payload_digest = m["layers"][0]["digest"].as_str().unwrap().to_string();
    let (_, payload) = http.get_blob(&sh, "team/app", &payload_digest).await;
    let config_digest = m["config"]["digest"].as_str().unwrap().to_string();
    let (_, config) = http.get_blob(&sh, "team/app", &config_digest).await;
    for b in [&payload[..], &config[..]] {
        http.push_blob(&sh, "team/unsigned", b).await;
    }
    let replay_tag = format!("sha256-{}.sig", hex(&unsigned.index.digest));
    let (st, body) = http
        .put_manifest(
            &sh,
            "team/unsigned",
            &replay_tag,
            OCI_MANIFEST,
            &sig_manifest,
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let out = gated_copy(&u, &d, &keys.public_key(), &[]).await;
    assert_refused(
        &out,
        &u,
        &format!("signs another digest ({})", img.index.digest),
    );

    // Tampered payload: same signature annotation, altered payload (new blob, manifest updated).
    let tampered = String::from_utf8(payload.to_vec()).unwrap().replace(
        "cosign container image signature",
        "cosign container image signaturE",
    );
    let td = http.push_blob(&sh, "team/app", tampered.as_bytes()).await;
    let mut m2 = m.clone();
    m2["layers"][0]["digest"] = json!(td);
    m2["layers"][0]["size"] = json!(tampered.len());
    let bytes = serde_json::to_vec(&m2).unwrap();
    let (st, body) = http
        .put_manifest(&sh, "team/app", &sig_tag, OCI_MANIFEST, &bytes)
        .await;
    assert_eq!(st, 201, "{body}");
    let out = gated_copy(&s, &d, &keys.public_key(), &[]).await;
    assert_refused(&out, &s, "does not verify with any required key");

    assert_nothing_written(&dst, "mirror/app");
}

/// Pushes a hand-made signature manifest with one layer (`layer_type`, `blob`, annotations) as a
/// referrer of `subject` listed in its `sha256-<hex>` fallback tag index, or as its `.sig` tag.
async fn push_hostile(
    http: &Http,
    host: &str,
    subject: &fixtures::Manifest,
    layer_type: &str,
    blob: &[u8],
    annotations: Value,
    as_sig_tag: bool,
) {
    let empty = http.push_blob(host, "team/app", b"{}").await;
    let bd = http.push_blob(host, "team/app", blob).await;
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": layer_type, "digest": bd, "size": blob.len(), "annotations": annotations}],
    });
    if as_sig_tag {
        let bytes = serde_json::to_vec(&m).unwrap();
        let tag = format!("sha256-{}.sig", hex(&subject.digest));
        let (st, body) = http
            .put_manifest(host, "team/app", &tag, OCI_MANIFEST, &bytes)
            .await;
        assert_eq!(st, 201, "{body}");
        return;
    }
    m["artifactType"] = json!(BUNDLE);
    m["subject"] =
        json!({"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size()});
    let bytes = serde_json::to_vec(&m).unwrap();
    let md = sha256(&bytes);
    let (st, body) = http
        .put_manifest(host, "team/app", &md, OCI_MANIFEST, &bytes)
        .await;
    assert_eq!(st, 201, "{body}");
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": md, "size": bytes.len(), "artifactType": BUNDLE}],
    });
    let tag = format!("sha256-{}", hex(&subject.digest));
    let ib = serde_json::to_vec(&index).unwrap();
    let (st, body) = http
        .put_manifest(host, "team/app", &tag, OCI_INDEX, &ib)
        .await;
    assert_eq!(st, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_signature_objects_get_a_clear_refusal_and_no_panic() {
    let keys = CosignKeys::generate().await;
    let key = keys.public_key();
    let cases: Vec<(&str, &[u8], Value, bool, &str)> = vec![
        (
            SIMPLE_SIGNING,
            br#"{"critical":{"image":{"docker-manifest-digest":"x"}}}"#,
            json!({"dev.cosignproject.cosign/signature": "%%% not base64 %%%"}),
            true,
            "bad encoding: signature annotation is not base64",
        ),
        (
            SIMPLE_SIGNING,
            b"{}",
            json!({}),
            true,
            "has no dev.cosignproject.cosign/signature annotation",
        ),
        (
            BUNDLE,
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnv"#,
            json!({}),
            false,
            "bundle is not JSON",
        ),
        (
            BUNDLE,
            br#"{"mediaType":"text/plain"}"#,
            json!({}),
            false,
            "not a Sigstore bundle",
        ),
        (BUNDLE, &[b'x'; 300 * 1024], json!({}), false, "too large"),
        (
            "application/octet-stream",
            b"junk",
            json!({}),
            false,
            "without a signature layer",
        ),
    ];
    for (layer_type, blob, ann, sig_tag, why) in cases {
        let img = fixtures::multi_arch_oci(64);
        let (src, http) = fixtures::seeded(&img).await;
        push_hostile(
            &http,
            &src.host(),
            &img.index,
            layer_type,
            blob,
            ann,
            sig_tag,
        )
        .await;
        let dst = Registry::start();
        let s = format!("{}/team/app:v1", src.host());
        let d = format!("{}/mirror/app:v1", dst.host());
        let out = gated_copy(&s, &d, &key, &[]).await;
        assert_refused(&out, &s, why);
        assert_nothing_written(&dst, "mirror/app");
    }
    // A key file that is not a public key is a usage error before any I/O.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.pub");
    std::fs::write(
        &bad,
        "-----BEGIN PUBLIC KEY-----\n@@@\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let out = gated_copy("127.0.0.1:1/a/b:v1", "127.0.0.1:1/c/d:v1", &bad, &[]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("bad base64"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_require_signature_from_defaults_and_per_image() {
    let keys = CosignKeys::generate().await;
    let img = fixtures::multi_arch_oci(64);
    let (src, http) = signed_source(&keys, Cosign::V3, &img).await;
    let sh = src.host();
    let unsigned = fixtures::single_manifest(64);
    fixtures::push_image(&http, &sh, "team/unsigned", "v1", &unsigned).await;
    fixtures::push_image(&http, &sh, "team/free", "v1", &unsigned).await;
    let dst = Registry::start();
    let dh = dst.host();
    let tmp = tempfile::tempdir().unwrap();
    let key = keys.public_key();
    let yaml = format!(
        "defaults:\n  require-signature: {}\n  on-reject: full\n  platforms: linux/amd64\n\
         images:\n\
         \x20 - source: {sh}/team/app\n    target: {dh}/mirror/app\n    tags: [v1]\n\
         \x20 - source: {sh}/team/unsigned\n    target: {dh}/mirror/unsigned\n    tags: [v1]\n\
         \x20 - source: {sh}/team/free\n    target: {dh}/mirror/free\n    tags: [v1]\n    require-signature: []\n",
        key.display()
    );
    std::fs::write(tmp.path().join("mirror.yaml"), yaml).unwrap();
    let cfg = tmp.path().join("mirror.yaml").display().to_string();
    let out = mirror_async(&["sync", "-f", &cfg, "-o", "json"]).await;
    assert_eq!(out.code, 6, "one item refused, the others done: {out}");
    assert!(out.stdout.contains("signature required"), "{out}");
    let items: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let app = items
        .iter()
        .find(|i| i["image"] == 0)
        .expect("item of team/app");
    assert_eq!(
        app["signatures"][0]["format"], "sigstore-bundle-dsse",
        "{out}"
    );
    assert_eq!(app["signatures"][0]["subject"], img.index.digest.as_str());
    assert!(dst.tag_exists("mirror/app", "v1"), "signed: copied");
    assert!(
        dst.tag_exists("mirror/free", "v1"),
        "per-image override: copied"
    );
    assert!(
        !dst.tag_exists("mirror/unsigned", "v1"),
        "unsigned: refused"
    );
    assert_eq!(
        dst.any_layer_links("mirror/unsigned"),
        0,
        "nothing written for it"
    );

    // A key file that is not a key is a configuration error naming it (exit 2).
    let bad = tmp.path().join("bad.pub");
    std::fs::write(&bad, "not a key").unwrap();
    let yaml = format!(
        "images:\n  - source: {sh}/team/app\n    target: {dh}/mirror/app\n    tags: [v1]\n    require-signature: {}\n",
        bad.display()
    );
    std::fs::write(tmp.path().join("bad.yaml"), yaml).unwrap();
    let cfg = tmp.path().join("bad.yaml").display().to_string();
    let out = mirror_async(&["sync", "-f", &cfg]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("bad.pub") && out.stderr.contains("PUBLIC KEY"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn p384_rsa_and_ed25519_keys_signed_by_the_real_cosign_are_accepted() {
    let img = fixtures::multi_arch_oci(64);
    let (src, _http) = fixtures::seeded(&img).await;
    let sh = src.host();
    let s = format!("{sh}/team/app:v1");
    let tmp = tempfile::tempdir().unwrap();
    let mut pubs = vec![];
    for (v, alg, format) in [
        (
            Cosign::V3,
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
            "sigstore-bundle-dsse",
        ),
        (
            Cosign::V3,
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..],
            "sigstore-bundle-dsse",
        ),
        (
            Cosign::V2,
            &["-algorithm", "ed25519"][..],
            "cosign-simple-signing",
        ),
    ] {
        let keys = CosignKeys::import(v, alg).await;
        // Each key signs its own copy of the image (the mirror copies it within the source).
        let repo = format!("keys/{}", alg[1].to_lowercase());
        let out = mirror_async(&["copy", &s, &format!("{sh}/{repo}:v1")]).await;
        assert_eq!(out.code, 0, "{out}");
        keys.sign(v, &format!("{sh}/{repo}@{}", img.index.digest))
            .await;
        let d = format!("oci:{}:v1", tmp.path().join(&repo).display());
        let out = gated_copy(&format!("{sh}/{repo}:v1"), &d, &keys.public_key(), &[]).await;
        assert_eq!(out.code, 0, "{alg:?}: {out}");
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(r["signatures"][0]["format"], format, "{alg:?}");
        assert_eq!(
            r["signatures"][0]["key_fingerprint"],
            fingerprint(&keys.public_key()).as_str()
        );
        pubs.push((repo, keys));
    }
    // Each image refuses the other algorithms' keys.
    for (i, (repo, _)) in pubs.iter().enumerate() {
        let other = &pubs[(i + 1) % pubs.len()].1;
        let d = format!("oci:{}:v1", tmp.path().join("refused").display());
        let image = format!("{sh}/{repo}:v1");
        let out = gated_copy(&image, &d, &other.public_key(), &[]).await;
        // Either "signed by another key" (the bundle names its key) or "does not verify with
        // any required key (signed by another key, …)".
        assert_refused(&out, &image, "another key");
        assert!(
            !tmp.path().join("refused").exists(),
            "nothing written: {out}"
        );
    }
}

/// The gate reads a cosign 3 bundle through the referrers API (the in-process fake: none of the
/// installable registries here has the API; the Debian build of crane's registry answers 404 and
/// is read through the fallback tag like distribution 2.8).
#[tokio::test(flavor = "multi_thread")]
async fn gate_reads_cosign3_bundles_through_the_referrers_api() {
    use crate::fake_registry::{FakeOptions, FakeRegistry};
    use crate::harness::CraneRegistry;
    let keys = CosignKeys::generate().await;
    let img = fixtures::multi_arch_oci(64);
    let (src, _http) = signed_source(&keys, Cosign::V3, &img).await;
    let api = FakeRegistry::start(FakeOptions {
        referrers_api: true,
        ..FakeOptions::default()
    })
    .await;
    let crane = CraneRegistry::start();
    let s = format!("{}/team/app:v1", src.host());
    let dst = Registry::start();
    let d = format!("{}/mirror/app:v1", dst.host());
    for (host, via, tag) in [
        (api.host(), "referrer", Value::Null),
        (
            crane.host(),
            "fallback-tag",
            json!(format!("sha256-{}", hex(&img.index.digest))),
        ),
    ] {
        // The image and its bundle, copied with --referrers.
        let a = format!("{host}/team/app:v1");
        let out = mirror_async(&["copy", &s, &a, "--referrers"]).await;
        assert_eq!(out.code, 0, "{out}");
        let out = gated_copy(&a, &d, &keys.public_key(), &["--dry-run"]).await;
        assert_eq!(out.code, 0, "{out}");
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(r["signatures"][0]["via"], via, "{out}");
        assert_eq!(r["signatures"][0]["tag"], tag, "{out}");
        assert_eq!(
            r["signatures"][0]["format"], "sigstore-bundle-dsse",
            "{out}"
        );
    }
}
