//! Keys made by the real `cosign generate-key-pair` / `cosign import-key-pair` (password
//! `test-password`) and by `openssl genpkey` (testdata/sign/README.md).

use super::*;

const PASSWORD: &[u8] = b"test-password";

fn data(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/engine/signature/testdata/sign")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn public(name: &str) -> PublicKey {
    PublicKey::from_pem(&data(name), name).unwrap()
}

/// Loads `key`, checks its public half against `pub_file` and that a signature verifies with
/// the public key read from that file (and not over other bytes).
fn round_trip(key: &str, password: Option<&[u8]>, pub_file: &str, kind: KeyKind) {
    let k = SigningKey::from_pem(&data(key), key, password).unwrap();
    let p = public(pub_file);
    assert_eq!(k.kind(), kind, "{key}");
    assert_eq!(k.public().fingerprint(), p.fingerprint(), "{key}");
    let sig = k.sign(b"payload").unwrap();
    assert!(p.verify(b"payload", &sig), "{key}");
    assert!(!p.verify(b"payloaD", &sig), "{key}");
}

#[test]
fn cosign_generated_key_opens_with_its_password_and_signs() {
    round_trip(
        "cosign-p256.key",
        Some(PASSWORD),
        "cosign-p256.pub",
        KeyKind::EcdsaP256,
    );
    assert!(is_encrypted(&data("cosign-p256.key")));
    assert!(!is_encrypted(&data("p256.pem")));
}

#[test]
fn cosign_imported_keys_of_every_type_open() {
    round_trip(
        "cosign-p384.key",
        Some(PASSWORD),
        "p384.pub",
        KeyKind::EcdsaP384,
    );
    round_trip(
        "cosign-ed25519.key",
        Some(PASSWORD),
        "ed25519.pub",
        KeyKind::Ed25519,
    );
    round_trip(
        "cosign-rsa2048.key",
        Some(PASSWORD),
        "rsa2048.pub",
        KeyKind::Rsa,
    );
}

#[test]
fn openssl_pkcs8_keys_sign() {
    round_trip("p256.pem", None, "p256.pub", KeyKind::EcdsaP256);
    round_trip("p384.pem", None, "p384.pub", KeyKind::EcdsaP384);
    round_trip("ed25519.pem", None, "ed25519.pub", KeyKind::Ed25519);
    round_trip("rsa2048.pem", None, "rsa2048.pub", KeyKind::Rsa);
    // A password given for an unencrypted key is not needed, and not an error.
    assert!(SigningKey::from_pem(&data("p256.pem"), "p256.pem", Some(b"x")).is_ok());
}

fn refusal(bytes: &[u8], password: Option<&[u8]>) -> String {
    SigningKey::from_pem(bytes, "site.key", password)
        .unwrap_err()
        .0
}

#[test]
fn wrong_or_missing_password_is_refused_naming_the_file() {
    let key = data("cosign-p256.key");
    let e = refusal(&key, Some(b"not-the-password"));
    assert!(e.starts_with("site.key: wrong password"), "{e}");
    let e = refusal(&key, None);
    assert!(e.contains("no password was given"), "{e}");
}

#[test]
fn unsupported_and_corrupt_keys_are_refused_with_the_reason() {
    let text = String::from_utf8(data("p256.pem")).unwrap();
    let body_line = text.lines().nth(1).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            data("rsa1024.pem"),
            "an RSA key of 1024 bits is not supported",
        ),
        (data("secp256k1.pem"), "ECDSA on secp256k1 is not supported"),
        (data("sec1.pem"), "openssl pkcs8 -topk8"),
        (data("p256.pub"), "a public key"),
        (vec![b'A'; MAX_KEY_FILE + 1], "too large"),
        (b"hello".to_vec(), "not a PEM file"),
        (vec![0xff, 0xfe], "not a PEM text file"),
        (
            text.replace(body_line, &body_line[..20]).into_bytes(),
            "not a PKCS#8 private key",
        ),
        (text.replace(body_line, "!!!!").into_bytes(), "bad base64"),
        (
            text.replace("-----END PRIVATE KEY-----", "").into_bytes(),
            "`-----END PRIVATE KEY-----` missing",
        ),
        (
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
                .to_vec(),
            "unsupported PEM block",
        ),
    ];
    for (bytes, want) in cases {
        let e = refusal(&bytes, None);
        assert!(e.starts_with("site.key: "), "{e}");
        assert!(e.contains(want), "{want:?} not in {e}");
    }
    // A corrupt cosign envelope: the reason, not "wrong password".
    let key = String::from_utf8(data("cosign-p256.key")).unwrap();
    let line = key.lines().nth(1).unwrap();
    let e = refusal(key.replace(line, "eyJrZGYiOjF9").as_bytes(), Some(PASSWORD));
    assert!(e.contains("not cosign's JSON envelope"), "{e}");
}

#[test]
fn debug_output_names_the_key_not_its_bytes() {
    let k = SigningKey::from_pem(&data("p256.pem"), "p256.pem", None).unwrap();
    let s = format!("{k:?}");
    assert!(s.contains("ECDSA P-256") && s.contains("p256.pem"), "{s}");
    let text = String::from_utf8(data("p256.pem")).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!s.contains(&body[..16]), "{s}");
}

/// `cosign verify --key` (2.5 and 3.1) checks P-384 signatures with SHA-256, in `.sig` tags and
/// in bundles alike (cosign 3.1 signs its own P-384 bundles with SHA-384 and then cannot verify
/// them: docs/signatures.md), so the signature is over SHA-256, not SHA-384.
#[test]
fn p384_signs_over_sha256() {
    use ring::signature::{UnparsedPublicKey, ECDSA_P384_SHA256_ASN1, ECDSA_P384_SHA384_ASN1};
    let k = SigningKey::from_pem(&data("cosign-p384.key"), "k", Some(PASSWORD)).unwrap();
    let text = String::from_utf8(data("p384.pub")).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let point = &spki[spki.len() - 97..];
    let sig = k.sign(b"m").unwrap();
    assert!(UnparsedPublicKey::new(&ECDSA_P384_SHA256_ASN1, point)
        .verify(b"m", &sig)
        .is_ok());
    assert!(UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, point)
        .verify(b"m", &sig)
        .is_err());
}
