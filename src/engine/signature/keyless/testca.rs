//! A private Sigstore-like instance for tests, the CA half (`testlog.rs` has the log half and
//! the instance): a Fulcio-like CA that issues short-lived P-256 certificates with the Fulcio
//! identity and issuer extensions and an embedded SCT signed by a CT log key.
//!
//! Test code only: the unit tests (`keyless/tests.rs`) and the integration tests' fake Fulcio
//! and Rekor servers (`tests/integration/fake_sigstore.rs`, which includes this file by path) use
//! it. It depends on nothing but ring, base64, hex and serde_json so it compiles in both crates.
//! Formats: RFC 5280 (certificates), RFC 6962 (SCT, Merkle tree), Rekor's SET and checkpoint
//! (docs/signatures.md cites them).

#![allow(dead_code)]

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

/// Standard base64.
pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// SHA-256.
pub fn sha256(b: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// One DER element.
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = body.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        let bytes: Vec<u8> = (n as u32)
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        v.push(0x80 | bytes.len() as u8);
        v.extend(bytes);
    }
    v.extend(body);
    v
}

/// A DER SEQUENCE of already encoded parts.
pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A DER OBJECT IDENTIFIER from its dotted form.
pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut chunk = vec![(a & 0x7f) as u8];
        let mut rest = a >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        body.extend(chunk.into_iter().rev());
    }
    tlv(0x06, &body)
}

fn utf8(s: &str) -> Vec<u8> {
    tlv(0x0c, s.as_bytes())
}

fn octets(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}

fn bits(b: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], b].concat())
}

/// A certificate time: UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5;
/// Go re-encodes a TBS this way when it checks an SCT, so any other choice breaks SCTs there).
fn time(secs: i64) -> Vec<u8> {
    let (y, m, d, h, mi, s) = civil(secs);
    if (1950..2050).contains(&y) {
        let t = format!("{:02}{m:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
        tlv(0x17, t.as_bytes())
    } else {
        tlv(
            0x18,
            format!("{y:04}{m:02}{d:02}{h:02}{mi:02}{s:02}Z").as_bytes(),
        )
    }
}

/// (year, month, day, hour, minute, second) of seconds since the epoch (Howard Hinnant's
/// civil-from-days).
fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// An RFC 3339 UTC time, as trusted_root.json writes validity windows.
pub fn rfc3339(secs: i64) -> String {
    let (y, m, d, h, mi, s) = civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Seconds since the epoch now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A P-256 key pair.
pub struct Key {
    pair: EcdsaKeyPair,
    /// The SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
}

impl Key {
    /// A fresh key.
    pub fn generate() -> Key {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let spki = spki_p256(pair.public_key().as_ref());
        Key { pair, spki }
    }

    /// An ASN.1 ECDSA-SHA256 signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    /// The public key as PEM.
    pub fn public_pem(&self) -> String {
        pem("PUBLIC KEY", &self.spki)
    }
}

/// The SubjectPublicKeyInfo of an uncompressed P-256 point.
pub fn spki_p256(point: &[u8]) -> Vec<u8> {
    seq(&[
        seq(&[oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")]),
        bits(point),
    ])
}

/// A PEM block.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b = b64(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn name(org: &str, cn: &str) -> Vec<u8> {
    seq(&[
        tlv(0x31, &seq(&[oid("2.5.4.10"), utf8(org)])),
        tlv(0x31, &seq(&[oid("2.5.4.3"), utf8(cn)])),
    ])
}

fn ext(id: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![oid(id)];
    if critical {
        parts.push(vec![0x01, 0x01, 0xff]);
    }
    parts.push(octets(value));
    seq(&parts)
}

fn alg_ecdsa_sha256() -> Vec<u8> {
    seq(&[oid("1.2.840.10045.4.3.2")])
}

struct Tbs<'a> {
    serial: u64,
    issuer: &'a [u8],
    not_before: i64,
    not_after: i64,
    subject: &'a [u8],
    spki: &'a [u8],
}

fn tbs(t: &Tbs<'_>, exts: &[Vec<u8>]) -> Vec<u8> {
    let mut serial: Vec<u8> = t
        .serial
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    if serial.first().is_none_or(|b| b & 0x80 != 0) {
        serial.insert(0, 0);
    }
    seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &serial),
        alg_ecdsa_sha256(),
        t.issuer.to_vec(),
        seq(&[time(t.not_before), time(t.not_after)]),
        t.subject.to_vec(),
        t.spki.to_vec(),
        tlv(0xa3, &seq(exts)),
    ])
}

fn signed(tbs: Vec<u8>, by: &Key) -> Vec<u8> {
    let sig = by.sign(&tbs);
    seq(&[tbs, alg_ecdsa_sha256(), bits(&sig)])
}

fn serial() -> u64 {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut b).unwrap();
    u64::from_be_bytes(b) >> 1
}

/// A certificate authority: a self-signed root that issues leaf certificates.
pub struct Ca {
    /// Its key.
    pub key: Key,
    /// Its DER certificate.
    pub cert: Vec<u8>,
    subject: Vec<u8>,
}

/// What a leaf certificate says and how long it is valid.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// The SAN: an email when it contains `@` and no `://`, else a URI.
    pub identity: String,
    /// The OIDC issuer extension.
    pub issuer: String,
    /// Validity start and end (seconds since the epoch).
    pub not_before: i64,
    /// See `not_before`.
    pub not_after: i64,
}

impl LeafSpec {
    /// Valid from a minute ago for ten minutes, like Fulcio's.
    pub fn new(identity: &str, issuer: &str) -> LeafSpec {
        let n = now();
        LeafSpec {
            identity: identity.into(),
            issuer: issuer.into(),
            not_before: n - 60,
            not_after: n + 600,
        }
    }
}

impl Ca {
    /// A root valid from `not_before` to `not_after`.
    pub fn new(cn: &str, not_before: i64, not_after: i64) -> Ca {
        let key = Key::generate();
        let subject = name("sigstore-test", cn);
        let exts = vec![
            ext("2.5.29.15", true, &tlv(0x03, &[0x01, 0x06])),
            ext("2.5.29.19", true, &seq(&[vec![0x01, 0x01, 0xff]])),
            ext("2.5.29.14", false, &octets(&sha256(&key.spki)[..20])),
        ];
        let t = Tbs {
            serial: serial(),
            issuer: &subject,
            not_before,
            not_after,
            subject: &subject,
            spki: &key.spki,
        };
        let cert = signed(tbs(&t, &exts), &key);
        Ca { key, cert, subject }
    }

    /// This CA's subject and key in a CA certificate issued by `by` (for chain loops).
    pub fn cross_signed(&self, by: &Ca) -> Vec<u8> {
        let n = now();
        let exts = vec![
            ext("2.5.29.15", true, &tlv(0x03, &[0x01, 0x06])),
            ext("2.5.29.19", true, &seq(&[vec![0x01, 0x01, 0xff]])),
        ];
        let t = Tbs {
            serial: serial(),
            issuer: &by.subject,
            not_before: n - 86_400,
            not_after: n + 86_400,
            subject: &self.subject,
            spki: &self.key.spki,
        };
        signed(tbs(&t, &exts), &by.key)
    }

    /// A certificate for `spki` (the signer's ephemeral key) with the Fulcio extensions and,
    /// when `ct` is given, an embedded SCT signed by that CT log key.
    pub fn issue(&self, spki: &[u8], spec: &LeafSpec, ct: Option<&Key>) -> Vec<u8> {
        let san = if spec.identity.contains('@') && !spec.identity.contains("://") {
            tlv(0x81, spec.identity.as_bytes())
        } else {
            tlv(0x86, spec.identity.as_bytes())
        };
        let mut exts = vec![
            ext("2.5.29.15", true, &tlv(0x03, &[0x07, 0x80])),
            ext("2.5.29.37", false, &seq(&[oid("1.3.6.1.5.5.7.3.3")])),
            ext("2.5.29.14", false, &octets(&sha256(spki)[..20])),
            ext(
                "2.5.29.35",
                false,
                &seq(&[tlv(0x80, &sha256(&self.key.spki)[..20])]),
            ),
            ext("2.5.29.17", true, &seq(&[san])),
            ext("1.3.6.1.4.1.57264.1.1", false, spec.issuer.as_bytes()),
            ext("1.3.6.1.4.1.57264.1.8", false, &utf8(&spec.issuer)),
        ];
        let t = Tbs {
            serial: serial(),
            issuer: &self.subject,
            not_before: spec.not_before,
            not_after: spec.not_after,
            subject: &[0x30, 0x00],
            spki,
        };
        if let Some(ct) = ct {
            let pre = tbs(&t, &exts);
            let sct = sct(ct, &sha256(&self.key.spki), &pre, spec.not_before * 1000);
            let mut list = (sct.len() as u16).to_be_bytes().to_vec();
            list.extend(&sct);
            let mut outer = (list.len() as u16).to_be_bytes().to_vec();
            outer.extend(&list);
            exts.push(ext("1.3.6.1.4.1.11129.2.4.2", false, &octets(&outer)));
        }
        signed(tbs(&t, &exts), &self.key)
    }
}

/// An RFC 6962 v1 SCT over a precertificate entry, signed by the CT log `ct`.
fn sct(ct: &Key, issuer_key_hash: &[u8; 32], tbs: &[u8], timestamp_ms: i64) -> Vec<u8> {
    let ts = (timestamp_ms as u64).to_be_bytes();
    let mut signed = vec![0u8, 0u8];
    signed.extend(ts);
    signed.extend([0, 1]);
    signed.extend(issuer_key_hash);
    signed.extend(&(tbs.len() as u32).to_be_bytes()[1..]);
    signed.extend(tbs);
    signed.extend([0, 0]);
    let sig = ct.sign(&signed);
    let mut out = vec![0u8];
    out.extend(sha256(&ct.spki));
    out.extend(ts);
    out.extend([0, 0, 4, 3]);
    out.extend((sig.len() as u16).to_be_bytes());
    out.extend(sig);
    out
}
