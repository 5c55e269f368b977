//! cosign's encrypted private key (`cosign generate-key-pair`, `cosign import-key-pair`): a PEM
//! block `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN PRIVATE KEY`) whose
//! body is a JSON envelope:
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<base64, 32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<base64, 24 bytes>"},
//!  "ciphertext":"<base64: Poly1305 tag, then XSalsa20 ciphertext>"}
//! ```
//!
//! The key is scrypt(password, salt, N, r, p) of 32 bytes; the plaintext is the PKCS#8 DER of
//! the private key. The format is read from what the real cosign writes (docs/signatures.md):
//! scrypt from RustCrypto `scrypt`, the box from RustCrypto `crypto_secretbox`.

use base64::Engine as _;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use zeroize::Zeroizing;

/// The PEM labels of cosign's encrypted key (current, then before cosign 2).
pub const LABELS: [&str; 2] = [
    "ENCRYPTED SIGSTORE PRIVATE KEY",
    "ENCRYPTED COSIGN PRIVATE KEY",
];

/// scrypt memory is 128·r·N bytes; a key file asking for more than this is refused (cosign's
/// own parameters, N = 65536 and r = 8, need 64 MiB).
pub const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Why the envelope cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The password does not open the box (or the ciphertext was altered).
    WrongPassword,
    /// Not a cosign envelope, or parameters out of bounds.
    Malformed(String),
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, Failure> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map_err(|e| Failure::Malformed(format!("{what} is not base64: {e}")))
}

/// Opens the envelope (the PEM block's decoded body) with `password`: the PKCS#8 DER.
pub fn decrypt(envelope: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let env: Envelope = serde_json::from_slice(envelope).map_err(|e| {
        Failure::Malformed(format!(
            "the encrypted key is not cosign's JSON envelope: {e}"
        ))
    })?;
    if env.kdf.name != "scrypt" {
        return Err(Failure::Malformed(format!(
            "key derivation {:?} (only scrypt is known)",
            env.kdf.name
        )));
    }
    if env.cipher.name != "nacl/secretbox" {
        return Err(Failure::Malformed(format!(
            "cipher {:?} (only nacl/secretbox is known)",
            env.cipher.name
        )));
    }
    let KdfParams { n, r, p } = env.kdf.params;
    if n < 2 || !n.is_power_of_two() {
        return Err(Failure::Malformed(format!(
            "scrypt N = {n} is not a power of two"
        )));
    }
    let memory = 128u64.saturating_mul(r as u64).saturating_mul(n);
    if memory > MAX_SCRYPT_MEMORY || p == 0 || p > 16 {
        return Err(Failure::Malformed(format!(
            "scrypt parameters N = {n}, r = {r}, p = {p} are out of bounds (at most {} MiB of memory, p 1-16)",
            MAX_SCRYPT_MEMORY >> 20
        )));
    }
    let salt = b64(&env.kdf.salt, "the salt")?;
    let nonce = b64(&env.cipher.nonce, "the nonce")?;
    if nonce.len() != 24 {
        return Err(Failure::Malformed(format!(
            "the nonce is {} bytes (24 expected)",
            nonce.len()
        )));
    }
    let ciphertext = b64(&env.ciphertext, "the ciphertext")?;
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 32)
        .map_err(|e| Failure::Malformed(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &params, key.as_mut())
        .map_err(|e| Failure::Malformed(format!("scrypt: {e}")))?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(key.as_ref()));
    cipher
        .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| Failure::WrongPassword)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box sealed here with small scrypt parameters (the real cosign's keys are tested in
    /// private_key.rs): decrypts with the password, refuses another.
    #[test]
    fn opens_with_the_password_only() {
        let salt = [3u8; 32];
        let nonce = [9u8; 24];
        let params = scrypt::Params::new(4, 8, 1, 32).unwrap();
        let mut key = [0u8; 32];
        scrypt::scrypt(b"pw", &salt, &params, &mut key).unwrap();
        let sealed = XSalsa20Poly1305::new(Key::from_slice(&key))
            .encrypt(Nonce::from_slice(&nonce), &b"secret pkcs8"[..])
            .unwrap();
        let e = base64::engine::general_purpose::STANDARD;
        let env = serde_json::json!({
            "kdf": {"name": "scrypt", "params": {"N": 16, "r": 8, "p": 1}, "salt": e.encode(salt)},
            "cipher": {"name": "nacl/secretbox", "nonce": e.encode(nonce)},
            "ciphertext": e.encode(&sealed),
        })
        .to_string();
        assert_eq!(
            decrypt(env.as_bytes(), b"pw").unwrap().as_slice(),
            b"secret pkcs8"
        );
        assert_eq!(
            decrypt(env.as_bytes(), b"pW").unwrap_err(),
            Failure::WrongPassword
        );
        // One flipped ciphertext byte is indistinguishable from a wrong password.
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        let tampered = env.replace(&e.encode(&sealed), &e.encode(&bad));
        assert_eq!(
            decrypt(tampered.as_bytes(), b"pw").unwrap_err(),
            Failure::WrongPassword
        );
    }

    #[test]
    fn hostile_envelopes_are_refused_before_any_work() {
        let ok_salt = "AAAA";
        let nonce = base64::engine::general_purpose::STANDARD.encode([0u8; 24]);
        let env = |name: &str, n: u64, r: u32, cipher: &str, nonce: &str| {
            serde_json::json!({
                "kdf": {"name": name, "params": {"N": n, "r": r, "p": 1}, "salt": ok_salt},
                "cipher": {"name": cipher, "nonce": nonce},
                "ciphertext": "AAAA",
            })
            .to_string()
        };
        let cases = [
            (
                env("argon2", 16, 8, "nacl/secretbox", &nonce),
                "only scrypt",
            ),
            (env("scrypt", 16, 8, "aes", &nonce), "only nacl/secretbox"),
            (
                env("scrypt", 100, 8, "nacl/secretbox", &nonce),
                "power of two",
            ),
            (
                env("scrypt", 1 << 30, 8, "nacl/secretbox", &nonce),
                "out of bounds",
            ),
            (
                env("scrypt", 16, 8, "nacl/secretbox", "AAAA"),
                "24 expected",
            ),
            ("{\"kdf\":1}".to_string(), "JSON envelope"),
        ];
        for (json, want) in cases {
            match decrypt(json.as_bytes(), b"pw") {
                Err(Failure::Malformed(m)) => assert!(m.contains(want), "{want:?} not in {m}"),
                other => panic!("{want}: {other:?}"),
            }
        }
    }
}
