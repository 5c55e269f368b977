//! The site's signing key (`--sign-key`): cosign's encrypted `cosign.key`
//! ([`encrypted_key`](super::encrypted_key)) or an unencrypted PKCS#8 PEM (`openssl genpkey`),
//! holding ECDSA P-256 or P-384, RSA of at least 2048 bits, or Ed25519: the key types cosign
//! itself signs and verifies with. Signing is `ring`'s.
//!
//! Every copy of key material made here (the file's bytes, the decoded DER, the decrypted
//! plaintext) is a `Zeroizing` buffer, wiped when dropped; `ring` keeps its own parsed copy for
//! the key's lifetime (docs/signatures.md). Nothing here formats key bytes into a message.

use std::fmt;

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self as rsig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use zeroize::Zeroizing;

use super::der::{self, Reader};
use super::encrypted_key::{self, Failure};
use super::keys::{KeyError, KeyKind, PublicKey, MAX_KEY_FILE};

const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The smallest RSA modulus accepted for signing.
pub const MIN_RSA_BITS: usize = 2048;

enum Pair {
    /// P-256 (ring).
    P256(EcdsaKeyPair),
    /// P-384 (RustCrypto `p384`: ring signs P-384 with SHA-384 only, and `cosign verify --key`
    /// checks P-384 signatures with SHA-256).
    P384(Box<p384::ecdsa::SigningKey>),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A private key that signs.
pub struct SigningKey {
    pair: Pair,
    public: PublicKey,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signing key for {:?}", self.public)
    }
}

/// The PEM blocks a `--sign-key` file may hold, and the hint for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    CosignEncrypted,
    Pkcs8,
}

/// The first PEM block's label and decoded body.
fn pem_block(text: &str, source: &str) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| KeyError(format!("{source}: not a PEM file (no `-----BEGIN` line)")))?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| KeyError(format!("{source}: a PEM header without its closing dashes")))?;
    let label = rest[..label_end].to_string();
    let body = &rest[label_end + 5..];
    let end_line = format!("-----END {label}-----");
    let stop = body
        .find(&end_line)
        .ok_or_else(|| KeyError(format!("{source}: `{end_line}` missing")))?;
    let b64: Zeroizing<String> = Zeroizing::new(body[..stop].split_whitespace().collect());
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| KeyError(format!("{source}: bad base64 in the PEM block: {e}")))?;
    Ok((label, Zeroizing::new(der)))
}

fn classify(label: &str, source: &str) -> Result<Block, KeyError> {
    let hint = |what: &str, fix: &str| KeyError(format!("{source}: {what}; {fix}"));
    match label {
        l if encrypted_key::LABELS.contains(&l) => Ok(Block::CosignEncrypted),
        "PRIVATE KEY" => Ok(Block::Pkcs8),
        "EC PRIVATE KEY" | "RSA PRIVATE KEY" => Err(hint(
            &format!("a traditional `{label}` block, not PKCS#8"),
            "convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY -out key.pem`, or import it with `cosign import-key-pair --key KEY`",
        )),
        "ENCRYPTED PRIVATE KEY" => Err(hint(
            "an openssl-encrypted PKCS#8 key (only cosign's encrypted format is read)",
            "import it with `cosign import-key-pair --key KEY` (it asks for both passwords)",
        )),
        "PUBLIC KEY" => Err(hint(
            "a public key",
            "--sign-key takes the private key (cosign.key); the public key is for --require-signature and the cluster's policy",
        )),
        other => Err(KeyError(format!(
            "{source}: unsupported PEM block `{other}` (cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` or a PKCS#8 `PRIVATE KEY` is needed)"
        ))),
    }
}

/// Whether the PEM file is cosign's encrypted key (so a password is needed to read it).
pub fn is_encrypted(pem: &[u8]) -> bool {
    std::str::from_utf8(pem)
        .ok()
        .and_then(|t| pem_block(t, "").ok())
        .is_some_and(|(label, _)| classify(&label, "") == Ok(Block::CosignEncrypted))
}

impl SigningKey {
    /// Reads a `--sign-key` file's bytes; `password` opens cosign's encrypted key (an empty
    /// password is a password, as in cosign). `source` names the file in every message.
    pub fn from_pem(
        pem: &[u8],
        source: &str,
        password: Option<&[u8]>,
    ) -> Result<SigningKey, KeyError> {
        if pem.len() > MAX_KEY_FILE {
            return Err(KeyError(format!(
                "{source}: {} bytes is too large for a private key file (at most {MAX_KEY_FILE})",
                pem.len()
            )));
        }
        let text = std::str::from_utf8(pem)
            .map_err(|_| KeyError(format!("{source}: not a PEM text file")))?;
        let (label, body) = pem_block(text, source)?;
        match classify(&label, source)? {
            Block::Pkcs8 => Self::from_pkcs8(&body, source),
            Block::CosignEncrypted => {
                let password = password.ok_or_else(|| {
                    KeyError(format!(
                        "{source}: cosign's encrypted key, and no password was given"
                    ))
                })?;
                let der = encrypted_key::decrypt(&body, password).map_err(|f| match f {
                    Failure::WrongPassword => KeyError(format!(
                        "{source}: wrong password: it does not decrypt this cosign key (or the file was altered)"
                    )),
                    Failure::Malformed(m) => KeyError(format!("{source}: {m}")),
                })?;
                Self::from_pkcs8(&der, source)
            }
        }
    }

    /// Reads a PKCS#8 `PrivateKeyInfo` (v1 or v2).
    pub fn from_pkcs8(der: &[u8], source: &str) -> Result<SigningKey, KeyError> {
        let err = |m: &str| KeyError(format!("{source}: not a PKCS#8 private key: {m}"));
        let mut outer = Reader::new(der);
        let mut info = Reader::new(outer.expect(der::SEQUENCE).map_err(|e| err(&e))?);
        if !outer.done() {
            return Err(err("trailing bytes"));
        }
        let version = info.expect(der::INTEGER).map_err(|e| err(&e))?;
        if version != [0] && version != [1] {
            return Err(err("unknown version"));
        }
        let mut alg = Reader::new(info.expect(der::SEQUENCE).map_err(|e| err(&e))?);
        let oid = alg.expect(der::OID).map_err(|e| err(&e))?;
        let key = info.expect(der::OCTET_STRING).map_err(|e| err(&e))?;
        let unsupported = |what: &str| {
            KeyError(format!(
                "{source}: {what} is not supported for signing (ECDSA P-256 or P-384, RSA of at least {MIN_RSA_BITS} bits, and Ed25519 are: the key types cosign verifies)"
            ))
        };
        let rejected = |kind: &str, e: ring::error::KeyRejected| {
            KeyError(format!("{source}: the {kind} key is rejected: {e}"))
        };
        let rng = SystemRandom::new();
        let (pair, algorithm, public_bits): (Pair, Vec<u8>, Vec<u8>) = match oid {
            o if o == OID_EC => {
                let curve = alg.expect(der::OID).map_err(|e| err(&e))?;
                if curve == OID_SECP256K1 {
                    return Err(unsupported("ECDSA on secp256k1"));
                }
                if curve == OID_P521 {
                    return Err(unsupported("ECDSA P-521"));
                }
                if curve != OID_P256 && curve != OID_P384 {
                    return Err(unsupported("this elliptic curve"));
                }
                let (private, public) = ec_private_key(key).map_err(|e| err(&e))?;
                let public = public.ok_or_else(|| {
                    err("the EC key carries no public key (re-export it with `openssl pkey -in KEY -out key.pem`)")
                })?;
                let alg_id = [der::tlv(der::OID, OID_EC), der::tlv(der::OID, curve)].concat();
                let pair = if curve == OID_P256 {
                    let kp = EcdsaKeyPair::from_private_key_and_public_key(
                        &rsig::ECDSA_P256_SHA256_ASN1_SIGNING,
                        &private,
                        public,
                        &rng,
                    )
                    .map_err(|e| rejected("ECDSA", e))?;
                    Pair::P256(kp)
                } else {
                    let sk = p384::ecdsa::SigningKey::from_slice(&private)
                        .map_err(|_| err("the P-384 private scalar is invalid"))?;
                    let derived = sk.verifying_key().to_encoded_point(false);
                    if derived.as_bytes() != public {
                        return Err(err(
                            "the P-384 public key does not belong to the private key",
                        ));
                    }
                    Pair::P384(Box::new(sk))
                };
                (pair, alg_id, public.to_vec())
            }
            o if o == OID_ED25519 => {
                let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|e| rejected("Ed25519", e))?;
                let bits = kp.public_key().as_ref().to_vec();
                (Pair::Ed25519(kp), der::tlv(der::OID, OID_ED25519), bits)
            }
            o if o == OID_RSA => {
                let bits = rsa_modulus_bits(key).map_err(|e| err(&e))?;
                if bits < MIN_RSA_BITS {
                    return Err(unsupported(&format!("an RSA key of {bits} bits")));
                }
                let kp = RsaKeyPair::from_pkcs8(der).map_err(|e| rejected("RSA", e))?;
                let alg_id = [der::tlv(der::OID, OID_RSA), der::tlv(der::NULL, &[])].concat();
                let public = kp.public_key().as_ref().to_vec();
                (Pair::Rsa(kp), alg_id, public)
            }
            _ => return Err(unsupported("this key algorithm")),
        };
        let public = PublicKey::from_spki_der(&der::spki(&algorithm, &public_bits), source)?;
        Ok(SigningKey { pair, public, rng })
    }

    /// The public half: what `--require-signature` and the cluster's policy are given, and
    /// whose fingerprint the reports name.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The algorithm.
    pub fn kind(&self) -> KeyKind {
        self.public.kind()
    }

    /// Signs `message` as `cosign verify --key` checks it, in both formats (cosign 2.5 and
    /// 3.1, docs/signatures.md): ECDSA (ASN.1 DER signatures) with SHA-256 on P-256 and P-384
    /// alike, RSA PKCS#1 v1.5 with SHA-256, Ed25519 over the message itself.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let fail = || format!("signing with {:?} failed", self.public);
        match &self.pair {
            Pair::P256(kp) => kp
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| fail()),
            Pair::P384(sk) => {
                use p384::ecdsa::signature::hazmat::PrehashSigner;
                let digest = ring::digest::digest(&ring::digest::SHA256, message);
                let sig: p384::ecdsa::Signature =
                    sk.sign_prehash(digest.as_ref()).map_err(|_| fail())?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            Pair::Ed25519(kp) => Ok(kp.sign(message).as_ref().to_vec()),
            Pair::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(&rsig::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(|_| fail())?;
                Ok(sig)
            }
        }
    }
}

/// A SEC1 `ECPrivateKey`'s private scalar and, when present, public point.
type EcParts<'a> = (Zeroizing<Vec<u8>>, Option<&'a [u8]>);

/// SEC1 `ECPrivateKey`: the private scalar and, when present, the public point.
fn ec_private_key(body: &[u8]) -> Result<EcParts<'_>, String> {
    let mut outer = Reader::new(body);
    let mut k = Reader::new(outer.expect(der::SEQUENCE)?);
    if k.expect(der::INTEGER)? != [1] {
        return Err("ECPrivateKey version is not 1".into());
    }
    let private = Zeroizing::new(k.expect(der::OCTET_STRING)?.to_vec());
    k.optional(0xa0)?; // [0] parameters: the curve, already named by the AlgorithmIdentifier
    let public = match k.optional(0xa1)? {
        Some(wrapped) => {
            let bits = Reader::new(wrapped).expect(der::BIT_STRING)?;
            match bits.split_first() {
                Some((0, point)) => Some(point),
                _ => return Err("malformed public key bit string".into()),
            }
        }
        None => None,
    };
    Ok((private, public))
}

/// The bit length of an `RSAPrivateKey`'s modulus.
fn rsa_modulus_bits(body: &[u8]) -> Result<usize, String> {
    let mut outer = Reader::new(body);
    let mut k = Reader::new(outer.expect(der::SEQUENCE)?);
    k.expect(der::INTEGER)?; // version
    Ok(der::integer_bits(k.expect(der::INTEGER)?))
}

#[cfg(test)]
#[path = "private_key_tests.rs"]
mod tests;
