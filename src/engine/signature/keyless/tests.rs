//! Keyless verification against public vectors (Sigstore's public-good instance) and a private
//! instance made here (`testca.rs`); every reason a signature can fail, and hostile inputs.
//!
//! Public vectors (testdata/, copied from the published crates sigstore-verify 0.15.1
//! `test_data/` and sigstore-trust-root 0.15.1, Apache-2.0):
//! - `public-good.json`: the public-good trusted root as sigstore-trust-root 0.15.1 ships it
//!   (`src/trusted_root.json`, with the timestamp authorities the bundles use);
//! - `cosign-v3-blob.sigstore.json` over `cosign-v3-blob.txt`: `cosign sign-blob` (cosign 3)
//!   on the public-good instance, a v0.3 bundle with a message signature, a hashedrekord entry
//!   (inclusion proof, checkpoint, SET) and an RFC 3161 timestamp;
//! - `conda-attestation.sigstore.json` over `signed-package-2.1.0-hb0f4dca_0.conda`: a v0.3
//!   DSSE bundle signed in GitHub Actions on the public-good instance (dsse entry).

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::engine::signature::keyless::cosign2::Material;
use crate::engine::signature::keyless::policy::{Identity, KeylessPolicy, Matcher};
use crate::engine::signature::keyless::problem::KeylessProblem;
use crate::engine::signature::keyless::testca::{self, LeafSpec};
use crate::engine::signature::keyless::testlog::Instance;
use crate::engine::signature::keyless::trusted_root::{TrustedRoot, MAX_TRUSTED_ROOT};
use crate::engine::signature::keyless::verify::{self, check_bundle, check_cosign2, Binding};
use crate::model::digest::Digest;

const PUBLIC_GOOD: &str = include_str!("testdata/public-good.json");
const BLOB_BUNDLE: &str = include_str!("testdata/cosign-v3-blob.sigstore.json");
const BLOB: &[u8] = include_bytes!("testdata/cosign-v3-blob.txt");
const CONDA_BUNDLE: &str = include_str!("testdata/conda-attestation.sigstore.json");
const CONDA: &[u8] = include_bytes!("testdata/signed-package-2.1.0-hb0f4dca_0.conda");
const BLOB_SIGNER: &str = "w.vollprecht@gmail.com";
const GITHUB_OAUTH: &str = "https://github.com/login/oauth";
const CONDA_SIGNER: &str =
    "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main";
const ACTIONS: &str = "https://token.actions.githubusercontent.com";

fn exact(identity: &str, issuer: &str) -> Identity {
    Identity {
        subject: Matcher::Exact(identity.into()),
        issuer: Matcher::Exact(issuer.into()),
    }
}

fn policy(root: &str, identities: Vec<Identity>) -> KeylessPolicy {
    KeylessPolicy {
        identities,
        root: Arc::new(TrustedRoot::from_json(root.as_bytes(), "trusted_root.json").unwrap()),
    }
}

fn b64d(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Flips the last byte of the base64 field at `ptr`.
fn flip(bundle: &mut Value, ptr: &str) {
    let v = bundle.pointer_mut(ptr).unwrap();
    let mut raw = b64d(v.as_str().unwrap());
    let last = raw.len() - 1;
    raw[last] ^= 1;
    *v = Value::String(testca::b64(&raw));
}

fn without_timestamps(bundle: &str) -> Value {
    let mut v: Value = serde_json::from_str(bundle).unwrap();
    v["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("timestampVerificationData");
    v
}

fn check_blob(
    bundle: &Value,
    blob: &[u8],
    p: &KeylessPolicy,
) -> Result<verify::Signer, KeylessProblem> {
    let bytes = serde_json::to_vec(bundle).unwrap();
    check_bundle(&bytes, &Digest::sha256_of(blob), Some(blob), p)
}

#[test]
fn public_good_message_signature_verifies_and_names_its_signer() {
    let p = policy(PUBLIC_GOOD, vec![exact(BLOB_SIGNER, GITHUB_OAUTH)]);
    let bundle: Value = serde_json::from_str(BLOB_BUNDLE).unwrap();
    let s = check_blob(&bundle, BLOB, &p).unwrap();
    assert_eq!(
        (s.identity.as_str(), s.issuer.as_str()),
        (BLOB_SIGNER, GITHUB_OAUTH)
    );
    assert_eq!(s.integrated_time, Some(1_764_787_003));
    // The Rekor SET alone dates it, without the RFC 3161 timestamp.
    check_blob(&without_timestamps(BLOB_BUNDLE), BLOB, &p).unwrap();
}

#[test]
fn public_good_message_signature_one_byte_changes_fail_with_the_right_reason() {
    let p = policy(PUBLIC_GOOD, vec![exact(BLOB_SIGNER, GITHUB_OAUTH)]);
    let case = |ptr: &str| {
        let mut b = without_timestamps(BLOB_BUNDLE);
        flip(&mut b, ptr);
        check_blob(&b, BLOB, &p).unwrap_err()
    };
    let e = case("/messageSignature/signature");
    assert!(matches!(e, KeylessProblem::Signature(_)), "{e}");
    let e = case("/verificationMaterial/certificate/rawBytes");
    assert!(matches!(e, KeylessProblem::Chain(_)), "{e}");
    let e = case("/verificationMaterial/tlogEntries/0/canonicalizedBody");
    assert!(matches!(e, KeylessProblem::LogEntry(_)), "{e}");
    let e = case("/verificationMaterial/tlogEntries/0/inclusionPromise/signedEntryTimestamp");
    assert!(matches!(e, KeylessProblem::LogEntry(_)), "{e}");
    // The payload (the signed blob) changed: the bundle signs another digest.
    let mut blob = BLOB.to_vec();
    blob[0] ^= 1;
    let e = check_blob(&serde_json::from_str(BLOB_BUNDLE).unwrap(), &blob, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::OtherDigest(_)), "{e}");
    // With the RFC 3161 timestamp kept, a changed signature is caught there first.
    let mut b: Value = serde_json::from_str(BLOB_BUNDLE).unwrap();
    flip(&mut b, "/messageSignature/signature");
    let e = check_blob(&b, BLOB, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::Timestamp(_)), "{e}");
}

#[test]
fn public_good_dsse_bundle_verifies_and_one_byte_changes_fail() {
    let p = policy(PUBLIC_GOOD, vec![exact(CONDA_SIGNER, ACTIONS)]);
    let digest = Digest::sha256_of(CONDA);
    let run = |b: &Value| {
        let bytes = serde_json::to_vec(b).unwrap();
        let d = sigstore_verify::types::Sha256Hash::from_hex(digest.hex()).unwrap();
        verify::verify(&bytes, Binding::Digest(d), &p)
    };
    let ok = run(&without_timestamps(CONDA_BUNDLE)).unwrap();
    assert_eq!(ok.identity, CONDA_SIGNER);
    let case = |ptr: &str| {
        let mut b = without_timestamps(CONDA_BUNDLE);
        flip(&mut b, ptr);
        run(&b).unwrap_err()
    };
    let e = case("/dsseEnvelope/signatures/0/sig");
    assert!(matches!(e, KeylessProblem::Signature(_)), "{e}");
    let e = case("/dsseEnvelope/payload");
    assert!(
        matches!(
            e,
            KeylessProblem::Signature(_) | KeylessProblem::BadEncoding(_)
        ),
        "{e}"
    );
    let e = case("/verificationMaterial/certificate/rawBytes");
    assert!(matches!(e, KeylessProblem::Chain(_)), "{e}");
    let e = case("/verificationMaterial/tlogEntries/0/canonicalizedBody");
    assert!(matches!(e, KeylessProblem::LogEntry(_)), "{e}");
    // Through the image gate it is an attestation, not a cosign signature.
    let bytes = CONDA_BUNDLE.as_bytes();
    let e = check_bundle(bytes, &digest, None, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::NotASignature(_)), "{e}");
}

#[test]
fn public_good_root_other_identity_issuer_and_other_root() {
    let bundle: Value = serde_json::from_str(BLOB_BUNDLE).unwrap();
    let p = policy(
        PUBLIC_GOOD,
        vec![exact("someone@example.com", GITHUB_OAUTH)],
    );
    let e = check_blob(&bundle, BLOB, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::OtherIdentity { .. }), "{e}");
    assert!(e.to_string().contains(BLOB_SIGNER), "{e}");
    let p = policy(PUBLIC_GOOD, vec![exact(BLOB_SIGNER, ACTIONS)]);
    let e = check_blob(&bundle, BLOB, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::OtherIssuer { .. }), "{e}");
    // A regular expression, as cosign's --certificate-identity-regexp.
    let re = Identity {
        subject: Matcher::regexp("@gmail\\.com$", "x").unwrap(),
        issuer: Matcher::regexp("^https://github\\.com/", "x").unwrap(),
    };
    let p = policy(PUBLIC_GOOD, vec![exact("a@b.c", ACTIONS), re]);
    assert_eq!(check_blob(&bundle, BLOB, &p).unwrap().accepted_by, 1);
    // A root of another instance: the certificate chains to none of its CAs.
    let other = Instance::new()
        .trusted_root("http://127.0.0.1:1", None)
        .to_string();
    let p = policy(&other, vec![exact(BLOB_SIGNER, GITHUB_OAUTH)]);
    let e = check_blob(&without_timestamps(BLOB_BUNDLE), BLOB, &p).unwrap_err();
    assert!(
        matches!(e, KeylessProblem::LogEntry(_) | KeylessProblem::Chain(_)),
        "{e}"
    );
}

const ME: &str = "dev@example.com";
const ISSUER: &str = "https://issuer.example";

fn private(inst: &Instance, identities: Vec<Identity>) -> KeylessPolicy {
    policy(
        &inst.trusted_root("http://127.0.0.1:1", None).to_string(),
        identities,
    )
}

#[test]
fn private_instance_dsse_bundle_every_reason() {
    let mut inst = Instance::new();
    let img = Digest::sha256_of(b"index");
    let p = private(&inst, vec![exact(ME, ISSUER)]);
    let good = inst.dsse_bundle(img.hex(), &LeafSpec::new(ME, ISSUER));
    let run =
        |b: &Value, p: &KeylessPolicy| check_bundle(&serde_json::to_vec(b).unwrap(), &img, None, p);
    let s = run(&good, &p).unwrap();
    assert_eq!((s.identity.as_str(), s.issuer.as_str()), (ME, ISSUER));
    // Another image's digest.
    let e = check_bundle(
        &serde_json::to_vec(&good).unwrap(),
        &Digest::sha256_of(b"x"),
        None,
        &p,
    );
    assert!(matches!(e, Err(KeylessProblem::OtherDigest(_))), "{e:?}");
    // Other identity, other issuer.
    let other = inst.dsse_bundle(img.hex(), &LeafSpec::new("eve@example.com", ISSUER));
    assert!(matches!(
        run(&other, &p),
        Err(KeylessProblem::OtherIdentity { .. })
    ));
    let other = inst.dsse_bundle(img.hex(), &LeafSpec::new(ME, "https://evil.example"));
    assert!(matches!(
        run(&other, &p),
        Err(KeylessProblem::OtherIssuer { .. })
    ));
    // A certificate that had expired when the log recorded the signature.
    let mut spec = LeafSpec::new(ME, ISSUER);
    spec.not_before -= 3600;
    spec.not_after = spec.not_before + 600;
    let expired = inst.dsse_bundle(img.hex(), &spec);
    let e = run(&expired, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::Expired(_)), "{e}");
    // The log entry of another signature.
    let mut swapped = good.clone();
    swapped["verificationMaterial"]["tlogEntries"] =
        other["verificationMaterial"]["tlogEntries"].clone();
    let e = run(&swapped, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::LogEntry(_)), "{e}");
    // A root without this CA (another instance's CA, same logs).
    let stranger = testca::Ca::new("stranger", testca::now() - 86_400, testca::now() + 86_400);
    let root = inst
        .trusted_root("http://127.0.0.1:1", Some(&[&stranger.cert]))
        .to_string();
    let e = run(&good, &policy(&root, vec![exact(ME, ISSUER)])).unwrap_err();
    assert!(matches!(e, KeylessProblem::Chain(_)), "{e}");
    // A key-based bundle is not for the keyless check.
    let mut keyed = good.clone();
    keyed["verificationMaterial"] = json!({"publicKey": {"hint": "abc"}, "tlogEntries": []});
    assert_eq!(run(&keyed, &p), Err(KeylessProblem::KeyBased));
}

#[test]
fn private_instance_cosign2_layer_every_reason() {
    let mut inst = Instance::new();
    let img = Digest::sha256_of(b"index");
    let p = private(&inst, vec![exact(ME, ISSUER)]);
    let (payload, sig, cert, chain, rekor) =
        inst.cosign2_layer(img.as_str(), &LeafSpec::new(ME, ISSUER));
    let m = Material {
        certificate: cert.clone(),
        chain: Some(chain.clone()),
        rekor_bundle: Some(rekor.clone()),
        rfc3161: None,
    };
    assert_eq!(
        check_cosign2(&payload, &sig, &m, &img, &p)
            .unwrap()
            .identity,
        ME
    );
    // Without the chain annotation the root's CA still anchors it.
    let bare = Material {
        chain: None,
        ..m.clone()
    };
    check_cosign2(&payload, &sig, &bare, &img, &p).unwrap();
    let e = check_cosign2(&payload, &sig, &m, &Digest::sha256_of(b"x"), &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::OtherDigest(_)), "{e}");
    // The Rekor bundle of another signature.
    let (_, _, _, _, rekor2) = inst.cosign2_layer(img.as_str(), &LeafSpec::new(ME, ISSUER));
    let swapped = Material {
        rekor_bundle: Some(rekor2),
        ..m.clone()
    };
    let e = check_cosign2(&payload, &sig, &swapped, &img, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::LogEntry(_)), "{e}");
    // No Rekor bundle: nothing proves when it was signed.
    let none = Material {
        rekor_bundle: None,
        ..m.clone()
    };
    let e = check_cosign2(&payload, &sig, &none, &img, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::LogEntry(_)), "{e}");
    // A signature over other bytes.
    let mut raw = b64d(&sig);
    let n = raw.len() - 1;
    raw[n] ^= 1;
    let e = check_cosign2(&payload, &testca::b64(&raw), &m, &img, &p).unwrap_err();
    assert!(
        matches!(
            e,
            KeylessProblem::LogEntry(_) | KeylessProblem::Signature(_)
        ),
        "{e}"
    );
}

#[test]
fn trusted_roots_that_cannot_be_used_are_refused_with_a_reason() {
    let inst = Instance::new();
    let mut no_ca = inst.trusted_root("http://x", None);
    no_ca["certificateAuthorities"] = json!([]);
    let mut bad_key = inst.trusted_root("http://x", None);
    bad_key["tlogs"][0]["publicKey"]["rawBytes"] = json!("AAAA");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "not a Sigstore trusted root"),
        (vec![b' '; MAX_TRUSTED_ROOT + 1], "too large"),
        (vec![0xff, 0xfe], "UTF-8"),
        (no_ca.to_string().into_bytes(), "no certificateAuthorities"),
        (bad_key.to_string().into_bytes(), "unusable"),
        (b"{\"mediaType\":\"x\"}".to_vec(), "trusted root"),
    ];
    for (bytes, want) in cases {
        let e = TrustedRoot::from_json(&bytes, "root.json").unwrap_err();
        assert!(e.0.contains(want), "{want:?} not in {e}");
        assert!(e.0.starts_with("root.json: "), "{e}");
    }
    let r = TrustedRoot::from_json(PUBLIC_GOOD.as_bytes(), "pg.json").unwrap();
    assert!(r.summary().contains("CA(s)"), "{}", r.summary());
}

#[test]
fn hostile_bundles_are_refused_quickly_with_a_reason() {
    let mut inst = Instance::new();
    let img = Digest::sha256_of(b"index");
    let p = private(&inst, vec![exact(ME, ISSUER)]);
    let good = inst.dsse_bundle(img.hex(), &LeafSpec::new(ME, ISSUER));
    let run = |b: &Value| check_bundle(&serde_json::to_vec(b).unwrap(), &img, None, &p);
    // 10 000 log entries (small ones: the whole bundle stays under the 256 KiB blob limit, as
    // a hostile one must to be read at all): refused by count before any is parsed or verified.
    let mut many = good.clone();
    many["verificationMaterial"]["tlogEntries"] =
        Value::Array(vec![json!({"logIndex": "1"}); 10_000]);
    assert!(serde_json::to_vec(&many).unwrap().len() < 256 * 1024);
    let err = run(&many).unwrap_err();
    assert!(matches!(err, KeylessProblem::TooLarge(_)), "{err}");
    assert!(
        err.to_string().contains("10000 transparency log entries"),
        "{err}"
    );
    // An oversize certificate.
    let mut big = good.clone();
    big["verificationMaterial"]["certificate"]["rawBytes"] =
        json!(testca::b64(&vec![0x30; 64 * 1024]));
    assert!(matches!(run(&big), Err(KeylessProblem::TooLarge(_))));
    // Malformed DER in the certificate.
    let mut junk = good.clone();
    junk["verificationMaterial"]["certificate"]["rawBytes"] =
        json!(testca::b64(b"\x30\x82\xff\xff junk"));
    let e = run(&junk).unwrap_err();
    assert!(
        matches!(e, KeylessProblem::BadEncoding(_) | KeylessProblem::Chain(_)),
        "{e}"
    );
    // Not base64, not JSON, wrong media type, truncated.
    let mut nb = good.clone();
    nb["verificationMaterial"]["certificate"]["rawBytes"] = json!("%%%");
    assert!(matches!(run(&nb), Err(KeylessProblem::BadEncoding(_))));
    let text = good.to_string();
    for b in [&text[..text.len() / 2], "{\"mediaType\":\"x\"}", "[]"] {
        let e = check_bundle(b.as_bytes(), &img, None, &p).unwrap_err();
        assert!(matches!(e, KeylessProblem::BadEncoding(_)), "{e}");
    }
}

#[test]
fn hostile_cosign2_material_chain_loops_and_malformed_pem() {
    let mut inst = Instance::new();
    let img = Digest::sha256_of(b"index");
    let p = private(&inst, vec![exact(ME, ISSUER)]);
    let (payload, sig, cert, _, rekor) =
        inst.cosign2_layer(img.as_str(), &LeafSpec::new(ME, ISSUER));
    let with = |certificate: String, chain: Option<String>| Material {
        certificate,
        chain,
        rekor_bundle: Some(rekor.clone()),
        rfc3161: None,
    };
    // A chain loop: A issued by B, B issued by A, a leaf issued by A; the root trusts neither.
    let n = testca::now();
    let (a, b) = (
        testca::Ca::new("A", n - 60, n + 600),
        testca::Ca::new("B", n - 60, n + 600),
    );
    let key = testca::Key::generate();
    let leaf = a.issue(&key.spki, &LeafSpec::new(ME, ISSUER), Some(&inst.ct));
    let chain = [a.cross_signed(&b), b.cross_signed(&a)]
        .iter()
        .map(|c| testca::pem("CERTIFICATE", c))
        .collect::<String>()
        .repeat(4);
    let m = with(testca::pem("CERTIFICATE", &leaf), Some(chain));
    // webpki's path building has a signature budget and loop detection: it ends, refused.
    let e = check_cosign2(&payload, &sig, &m, &img, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::Chain(_)), "{e}");
    // Too many certificates in the chain annotation.
    let long = testca::pem("CERTIFICATE", &inst.ca.cert).repeat(100);
    let e = check_cosign2(&payload, &sig, &with(cert.clone(), Some(long)), &img, &p).unwrap_err();
    assert!(matches!(e, KeylessProblem::TooLarge(_)), "{e}");
    for (c, want) in [
        ("-----BEGIN CERTIFICATE-----\nMIIB", "missing"),
        (
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
            "base64",
        ),
        ("no pem here", "no `-----BEGIN CERTIFICATE-----` block"),
    ] {
        let e = check_cosign2(&payload, &sig, &with(c.into(), None), &img, &p).unwrap_err();
        assert!(e.to_string().contains(want), "{want:?} not in {e}");
    }
    let junk = testca::pem("CERTIFICATE", b"\x30\x03\x02\x01\x01");
    let e = check_cosign2(&payload, &sig, &with(junk, None), &img, &p).unwrap_err();
    assert!(
        matches!(e, KeylessProblem::BadEncoding(_) | KeylessProblem::Chain(_)),
        "{e}"
    );
    for bad in ["{", "{\"Payload\":{}}", "{\"SignedEntryTimestamp\":\"x\",\"Payload\":{\"body\":\"%%\",\"integratedTime\":1,\"logIndex\":1,\"logID\":\"00\"}}"] {
        let m = Material { rekor_bundle: Some(bad.into()), ..with(cert.clone(), None) };
        let e = check_cosign2(&payload, &sig, &m, &img, &p).unwrap_err();
        assert!(matches!(e, KeylessProblem::BadEncoding(_)), "{e}");
    }
}
