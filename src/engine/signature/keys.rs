//! PEM public keys (SubjectPublicKeyInfo): ECDSA P-256/P-384, Ed25519 and RSA, parsed with a
//! small DER reader and verified with `ring`.

use std::fmt;

use base64::Engine as _;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use crate::engine::signature::der::Reader as Der;
use crate::model::digest::Digest;

/// A key file larger than this is refused (a PEM SPKI of a 8192-bit RSA key is ~1.4 KiB).
pub const MAX_KEY_FILE: usize = 16 * 1024;

const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on NIST P-256 (cosign's default).
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA (PKCS#1 v1.5 or PSS signatures, SHA-256/384/512).
    Rsa,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::EcdsaP256 => "ECDSA P-256",
            KeyKind::EcdsaP384 => "ECDSA P-384",
            KeyKind::Ed25519 => "Ed25519",
            KeyKind::Rsa => "RSA",
        })
    }
}

/// A public key that signatures are checked against.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    kind: KeyKind,
    /// The raw key `ring` takes: EC point, Ed25519 key, or PKCS#1 RSAPublicKey DER.
    raw: Vec<u8>,
    /// SHA-256 of the SubjectPublicKeyInfo DER.
    spki: Digest,
    /// Where the key came from (a file name), for messages.
    pub source: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} key {} ({})",
            self.kind,
            self.fingerprint(),
            self.source
        )
    }
}

/// Why a key file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo); `source` names it in messages.
    pub fn from_pem(pem: &[u8], source: &str) -> Result<PublicKey, KeyError> {
        if pem.len() > MAX_KEY_FILE {
            return Err(KeyError(format!(
                "{source}: {} bytes is too large for a public key file (at most {MAX_KEY_FILE})",
                pem.len()
            )));
        }
        let text = std::str::from_utf8(pem)
            .map_err(|_| KeyError(format!("{source}: not a PEM text file")))?;
        let begin = "-----BEGIN PUBLIC KEY-----";
        let end = "-----END PUBLIC KEY-----";
        let start = text.find(begin).ok_or_else(|| {
            let hint = if text.contains("PRIVATE KEY") {
                " (this is a private key: pass the public key, e.g. cosign.pub)"
            } else {
                ""
            };
            KeyError(format!("{source}: no `{begin}` block{hint}"))
        })?;
        let body = &text[start + begin.len()..];
        let stop = body
            .find(end)
            .ok_or_else(|| KeyError(format!("{source}: `{end}` missing")))?;
        let b64: String = body[..stop].split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| KeyError(format!("{source}: bad base64 in the PEM block: {e}")))?;
        Self::from_spki_der(&der, source)
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8], source: &str) -> Result<PublicKey, KeyError> {
        let err = |m: &str| KeyError(format!("{source}: not a SubjectPublicKeyInfo: {m}"));
        let mut outer = Der::new(der);
        let mut spki = Der::new(outer.expect(0x30).map_err(|e| err(&e))?);
        if !outer.done() {
            return Err(err("trailing bytes"));
        }
        let mut alg = Der::new(spki.expect(0x30).map_err(|e| err(&e))?);
        let oid = alg.expect(0x06).map_err(|e| err(&e))?;
        let bits = spki.expect(0x03).map_err(|e| err(&e))?;
        let (&unused, key) = bits.split_first().ok_or_else(|| err("empty key"))?;
        if unused != 0 {
            return Err(err("key bit string with unused bits"));
        }
        let kind = match oid {
            o if o == OID_EC => match alg.expect(0x06).map_err(|e| err(&e))? {
                c if c == OID_P256 => KeyKind::EcdsaP256,
                c if c == OID_P384 => KeyKind::EcdsaP384,
                _ => return Err(KeyError(format!("{source}: unsupported elliptic curve (P-256 and P-384 are supported)"))),
            },
            o if o == OID_ED25519 => KeyKind::Ed25519,
            o if o == OID_RSA => KeyKind::Rsa,
            _ => {
                return Err(KeyError(format!(
                    "{source}: unsupported key algorithm (ECDSA P-256/P-384, Ed25519 and RSA are supported)"
                )))
            }
        };
        let len_ok = match kind {
            KeyKind::EcdsaP256 => key.len() == 65 && key[0] == 4,
            KeyKind::EcdsaP384 => key.len() == 97 && key[0] == 4,
            KeyKind::Ed25519 => key.len() == 32,
            KeyKind::Rsa => Der::new(key).expect(0x30).is_ok(),
        };
        if !len_ok {
            return Err(err(&format!("malformed {kind} key")));
        }
        Ok(PublicKey {
            kind,
            raw: key.to_vec(),
            spki: Digest::sha256_of(der),
            source: source.to_string(),
        })
    }

    /// The algorithm.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// `sha256:<hex>` of the SubjectPublicKeyInfo DER (what the report names).
    pub fn fingerprint(&self) -> String {
        self.spki.to_string()
    }

    /// The SHA-256 of the SPKI DER as raw bytes (cosign 3 bundles carry it, base64, as the
    /// public key hint).
    pub fn spki_sha256_raw(&self) -> Vec<u8> {
        let hex = self.spki.hex();
        (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect()
    }

    /// Whether `sig` is this key's signature over `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let algs: &[&'static dyn VerificationAlgorithm] = match self.kind {
            KeyKind::EcdsaP256 => &[&signature::ECDSA_P256_SHA256_ASN1],
            KeyKind::EcdsaP384 => &[
                &signature::ECDSA_P384_SHA384_ASN1,
                &signature::ECDSA_P384_SHA256_ASN1,
            ],
            KeyKind::Ed25519 => &[&signature::ED25519],
            KeyKind::Rsa => &[
                &signature::RSA_PKCS1_2048_8192_SHA256,
                &signature::RSA_PSS_2048_8192_SHA256,
                &signature::RSA_PKCS1_2048_8192_SHA384,
                &signature::RSA_PKCS1_2048_8192_SHA512,
            ],
        };
        algs.iter().any(|a| {
            UnparsedPublicKey::new(*a, &self.raw)
                .verify(message, sig)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    use crate::engine::signature::fixtures::COSIGN_PUB;

    fn pem(der: &[u8]) -> String {
        let b = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{b}\n-----END PUBLIC KEY-----\n")
    }

    fn spki(alg: &[u8], key: &[u8]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut v = vec![tag];
            if body.len() < 128 {
                v.push(body.len() as u8);
            } else {
                v.extend([0x82, (body.len() >> 8) as u8, body.len() as u8]);
            }
            v.extend(body);
            v
        }
        let mut bits = vec![0];
        bits.extend(key);
        tlv(0x30, &[tlv(0x30, alg), tlv(0x03, &bits)].concat())
    }

    #[test]
    fn parses_cosign_p256_key_and_fingerprints_the_spki() {
        let k = PublicKey::from_pem(COSIGN_PUB.as_bytes(), "cosign.pub").unwrap();
        assert_eq!(k.kind(), KeyKind::EcdsaP256);
        assert!(k.fingerprint().starts_with("sha256:"));
        // The hint cosign 3 wrote into its bundle for this key.
        let hint = base64::engine::general_purpose::STANDARD.encode(k.spki_sha256_raw());
        assert_eq!(hint, "7v6lvRvN7KZv+xAYvW6OVEJzC675E3LgVL3/G8X2oAU=");
    }

    #[test]
    fn ed25519_and_p384_keys_verify_their_signatures() {
        let rng = SystemRandom::new();
        let pk = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let kp = Ed25519KeyPair::from_pkcs8(pk.as_ref()).unwrap();
        let der = spki(&[0x06, 3, 0x2b, 0x65, 0x70], kp.public_key().as_ref());
        let k = PublicKey::from_pem(pem(&der).as_bytes(), "ed.pub").unwrap();
        assert_eq!(k.kind(), KeyKind::Ed25519);
        let sig = kp.sign(b"payload");
        assert!(k.verify(b"payload", sig.as_ref()));
        assert!(!k.verify(b"payloaD", sig.as_ref()));

        let alg = &signature::ECDSA_P384_SHA384_ASN1_SIGNING;
        let pk = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(alg, pk.as_ref(), &rng).unwrap();
        let mut a = vec![0x06, 7];
        a.extend(OID_EC);
        a.extend([0x06, 5]);
        a.extend(OID_P384);
        let k = PublicKey::from_spki_der(&spki(&a, kp.public_key().as_ref()), "p384").unwrap();
        assert_eq!(k.kind(), KeyKind::EcdsaP384);
        let sig = kp.sign(&rng, b"payload").unwrap();
        assert!(k.verify(b"payload", sig.as_ref()));
        assert!(!k.verify(b"other", sig.as_ref()));
    }

    #[test]
    fn hostile_key_files_are_refused_with_a_reason() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![b'A'; MAX_KEY_FILE + 1], "too large"),
            (
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n".to_vec(),
                "private key",
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----".to_vec(),
                "base64",
            ),
            (
                pem(&[0x30, 0x85, 1, 2, 3, 4, 5]).into_bytes(),
                "SubjectPublicKeyInfo",
            ),
            (pem(&[0x30, 0x10, 0x30]).into_bytes(), "truncated"),
            (
                pem(&spki(&[0x06, 3, 0x2b, 0x65, 0x71], &[0; 57])).into_bytes(),
                "unsupported key algorithm",
            ),
            (
                pem(&spki(&[0x06, 3, 0x2b, 0x65, 0x70], &[0; 31])).into_bytes(),
                "malformed Ed25519",
            ),
            (vec![0xff, 0xfe], "PEM"),
        ];
        for (bytes, want) in cases {
            let e = PublicKey::from_pem(&bytes, "k.pub").unwrap_err();
            assert!(e.0.contains(want), "{want:?} not in {e}");
            assert!(e.0.starts_with("k.pub: "), "{e}");
        }
    }
}
