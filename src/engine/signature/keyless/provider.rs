//! The cryptography `sigstore-verify` runs on: its `CryptoProvider` backed by `ring` (the
//! library the mirror already uses for digests, TLS and key-based signatures) instead of its
//! default `aws-lc-rs`, which would add a C library to the build. ring cannot verify an ECDSA
//! signature over a digest it did not compute itself (what Sigstore calls "prehashed", used for
//! message signatures: cosign 2's `.sig` payloads, `sign-blob` bundles), so that one operation
//! is done by RustCrypto's `p256`/`p384`. docs/signatures.md records the choice.

use ring::signature::{self as rs, UnparsedPublicKey, VerificationAlgorithm};
use sigstore_verify::crypto::{CryptoProvider, Error, HashContext, SigningScheme};
use sigstore_verify::types::HashAlgorithm;

/// The provider; installed once per process by [`install`].
#[derive(Debug)]
pub struct RingProvider;

static PROVIDER: RingProvider = RingProvider;

/// Makes [`RingProvider`] the process's `sigstore-crypto` provider (idempotent). Every keyless
/// verification calls it first: without a provider `sigstore-crypto` panics.
pub fn install() {
    if sigstore_verify::crypto::try_default_provider().is_none() {
        // Another thread may have won the race; either way ours is the only one offered.
        let _ = sigstore_verify::crypto::install_default_provider(&PROVIDER);
    }
}

struct Hash(ring::digest::Context);

impl HashContext for Hash {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self: Box<Self>) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

fn algorithm(scheme: SigningScheme) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match scheme {
        SigningScheme::EcdsaP256Sha256 => &rs::ECDSA_P256_SHA256_ASN1,
        SigningScheme::EcdsaP256Sha384 => &rs::ECDSA_P256_SHA384_ASN1,
        SigningScheme::EcdsaP384Sha256 => &rs::ECDSA_P384_SHA256_ASN1,
        SigningScheme::EcdsaP384Sha384 => &rs::ECDSA_P384_SHA384_ASN1,
        SigningScheme::Ed25519 => &rs::ED25519,
        SigningScheme::RsaPssSha256 => &rs::RSA_PSS_2048_8192_SHA256,
        SigningScheme::RsaPssSha384 => &rs::RSA_PSS_2048_8192_SHA384,
        SigningScheme::RsaPssSha512 => &rs::RSA_PSS_2048_8192_SHA512,
        SigningScheme::RsaPkcs1Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
        SigningScheme::RsaPkcs1Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
        SigningScheme::RsaPkcs1Sha512 => &rs::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

fn invalid(scheme: SigningScheme) -> Error {
    Error::Verification(format!("{} signature invalid", scheme.name()))
}

fn unsupported(scheme: SigningScheme, how: &str) -> Error {
    Error::UnsupportedAlgorithm(format!("{} {how} is not supported", scheme.name()))
}

impl CryptoProvider for RingProvider {
    fn hash(&self, algorithm: HashAlgorithm) -> Result<Box<dyn HashContext>, Error> {
        let alg = match algorithm {
            HashAlgorithm::Sha2256 => &ring::digest::SHA256,
            HashAlgorithm::Sha2384 => &ring::digest::SHA384,
            HashAlgorithm::Sha2512 => &ring::digest::SHA512,
            other => {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "cannot compute {other} digests"
                )))
            }
        };
        Ok(Box::new(Hash(ring::digest::Context::new(alg))))
    }

    fn verify_raw(
        &self,
        scheme: SigningScheme,
        key: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let alg = algorithm(scheme).ok_or_else(|| unsupported(scheme, "verification"))?;
        UnparsedPublicKey::new(alg, key)
            .verify(data, signature)
            .map_err(|_| invalid(scheme))
    }

    fn verify_prehashed(
        &self,
        scheme: SigningScheme,
        key: &[u8],
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let ok = match scheme {
            SigningScheme::EcdsaP256Sha256 | SigningScheme::EcdsaP256Sha384 => {
                let k =
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| invalid(scheme))?;
                let s = p256::ecdsa::Signature::from_der(signature).map_err(|_| invalid(scheme))?;
                k.verify_prehash(digest, &s).is_ok()
            }
            SigningScheme::EcdsaP384Sha256 | SigningScheme::EcdsaP384Sha384 => {
                let k =
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| invalid(scheme))?;
                let s = p384::ecdsa::Signature::from_der(signature).map_err(|_| invalid(scheme))?;
                k.verify_prehash(digest, &s).is_ok()
            }
            // Fulcio's keyless certificates carry ECDSA keys (cosign, sigstore-go and GitHub's
            // signers make P-256 keys); an RSA message signature over a digest is refused.
            _ => return Err(unsupported(scheme, "verification over a digest")),
        };
        ok.then_some(()).ok_or_else(|| invalid(scheme))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair};

    #[test]
    fn raw_and_prehashed_p256_agree_and_refuse_other_bytes() {
        let rng = SystemRandom::new();
        let alg = &rs::ECDSA_P256_SHA256_ASN1_SIGNING;
        let pk = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(alg, pk.as_ref(), &rng).unwrap();
        let sig = kp.sign(&rng, b"payload").unwrap();
        let key = kp.public_key().as_ref();
        let s = SigningScheme::EcdsaP256Sha256;
        assert!(PROVIDER
            .verify_raw(s, key, b"payload", sig.as_ref())
            .is_ok());
        assert!(PROVIDER
            .verify_raw(s, key, b"payloaD", sig.as_ref())
            .is_err());
        let digest = ring::digest::digest(&ring::digest::SHA256, b"payload");
        assert!(PROVIDER
            .verify_prehashed(s, key, digest.as_ref(), sig.as_ref())
            .is_ok());
        let other = ring::digest::digest(&ring::digest::SHA256, b"other");
        assert!(PROVIDER
            .verify_prehashed(s, key, other.as_ref(), sig.as_ref())
            .is_err());
        let e = PROVIDER
            .verify_prehashed(SigningScheme::RsaPkcs1Sha256, key, digest.as_ref(), b"x")
            .unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
    }

    #[test]
    fn p384_prehashed_verifies() {
        let rng = SystemRandom::new();
        let alg = &rs::ECDSA_P384_SHA384_ASN1_SIGNING;
        let pk = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(alg, pk.as_ref(), &rng).unwrap();
        let sig = kp.sign(&rng, b"payload").unwrap();
        let digest = ring::digest::digest(&ring::digest::SHA384, b"payload");
        let s = SigningScheme::EcdsaP384Sha384;
        let key = kp.public_key().as_ref();
        assert!(PROVIDER
            .verify_prehashed(s, key, digest.as_ref(), sig.as_ref())
            .is_ok());
        assert!(PROVIDER
            .verify_prehashed(s, key, &[0; 48], sig.as_ref())
            .is_err());
    }
}
