//! The Rekor-like half of the private test instance (`testca.rs` has the CA half): a log that
//! signs entries (signed entry timestamp, RFC 6962 inclusion proof, signed checkpoint), Rekor's
//! canonical hashedrekord and dsse bodies, and the whole instance with its `trusted_root.json`.
//! Test code only, included by path from `tests/integration/fake_sigstore.rs` too.

#![allow(dead_code)]

use base64::Engine as _;
use serde_json::{json, Value};

use super::testca::{b64, now, pem, rfc3339, sha256, Ca, Key, LeafSpec};

/// RFC 6962 leaf hash.
pub fn leaf_hash(body: &[u8]) -> [u8; 32] {
    sha256(&[&[0u8][..], body].concat())
}

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    sha256(&[&[1u8][..], l, r].concat())
}

fn root_of(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let k = leaves.len().next_power_of_two() / 2;
    node(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
}

/// RFC 6962 audit path of leaf `m` in `leaves`.
fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = leaves.len().next_power_of_two() / 2;
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(root_of(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(root_of(&leaves[..k]));
        p
    }
}

/// A Rekor-like transparency log.
pub struct Log {
    /// Its key.
    pub key: Key,
    leaves: Vec<[u8; 32]>,
    /// The checkpoint origin's tree ID.
    pub tree_id: u64,
}

/// What the log answers for one entry, as Rekor v1's `LogEntry`.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The log index.
    pub index: u64,
    /// The canonicalized body.
    pub body: Vec<u8>,
    /// The integrated time.
    pub integrated_time: i64,
    /// The signed entry timestamp.
    pub set: Vec<u8>,
    /// The audit path, the tree size and root, and the signed checkpoint.
    pub hashes: Vec<[u8; 32]>,
    /// See `hashes`.
    pub tree_size: u64,
    /// See `hashes`.
    pub root: [u8; 32],
    /// See `hashes`.
    pub checkpoint: String,
}

impl Default for Log {
    fn default() -> Self {
        Self::new()
    }
}

impl Log {
    /// An empty log with a fresh key.
    pub fn new() -> Log {
        Log {
            key: Key::generate(),
            leaves: Vec::new(),
            tree_id: 1_193_050_959_916_656_506,
        }
    }

    /// SHA-256 of the log key's SPKI: the log ID.
    pub fn log_id(&self) -> [u8; 32] {
        sha256(&self.key.spki)
    }

    /// Appends `body` (already canonical JSON) at `integrated_time`.
    pub fn append(&mut self, body: &[u8], integrated_time: i64) -> Entry {
        let index = self.leaves.len() as u64;
        self.leaves.push(leaf_hash(body));
        let payload = json!({
            "body": b64(body),
            "integratedTime": integrated_time,
            "logID": hex::encode(self.log_id()),
            "logIndex": index,
        });
        let set = self
            .key
            .sign(serde_json::to_string(&payload).unwrap().as_bytes());
        let root = root_of(&self.leaves);
        let size = self.leaves.len() as u64;
        let origin = format!("rekor.sigstore.dev - {}", self.tree_id);
        let note = format!("{origin}\n{size}\n{}\n", b64(&root));
        let mut sig = sha256(&self.key.spki)[..4].to_vec();
        sig.extend(self.key.sign(note.as_bytes()));
        Entry {
            index,
            body: body.to_vec(),
            integrated_time,
            set,
            hashes: path(index as usize, &self.leaves),
            tree_size: size,
            root,
            checkpoint: format!("{note}\n\u{2014} rekor.sigstore.dev {}\n", b64(&sig)),
        }
    }
}

impl Entry {
    /// Rekor v1's answer to `POST /api/v1/log/entries`: `{uuid: LogEntry}`.
    pub fn rekor_response(&self, log_id: &[u8; 32]) -> Value {
        let uuid = hex::encode(leaf_hash(&self.body));
        json!({ uuid: {
            "body": b64(&self.body),
            "integratedTime": self.integrated_time,
            "logID": hex::encode(log_id),
            "logIndex": self.index,
            "verification": {
                "signedEntryTimestamp": b64(&self.set),
                "inclusionProof": {
                    "checkpoint": self.checkpoint,
                    "hashes": self.hashes.iter().map(hex::encode).collect::<Vec<_>>(),
                    "logIndex": self.index,
                    "rootHash": hex::encode(self.root),
                    "treeSize": self.tree_size,
                },
            },
        }})
    }

    /// The bundle's `tlogEntries` item.
    pub fn bundle_entry(&self, log_id: &[u8; 32], kind: &str) -> Value {
        json!({
            "logIndex": self.index.to_string(),
            "logId": {"keyId": b64(log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": self.integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": b64(&self.set)},
            "inclusionProof": {
                "logIndex": self.index.to_string(),
                "rootHash": b64(&self.root),
                "treeSize": self.tree_size.to_string(),
                "hashes": self.hashes.iter().map(|h| b64(h)).collect::<Vec<_>>(),
                "checkpoint": {"envelope": self.checkpoint},
            },
            "canonicalizedBody": b64(&self.body),
        })
    }

    /// cosign 2's `dev.sigstore.cosign/bundle` annotation.
    pub fn cosign_annotation(&self, log_id: &[u8; 32]) -> String {
        json!({
            "SignedEntryTimestamp": b64(&self.set),
            "Payload": {
                "body": b64(&self.body),
                "integratedTime": self.integrated_time,
                "logIndex": self.index,
                "logID": hex::encode(log_id),
            },
        })
        .to_string()
    }
}

/// Rekor's canonical hashedrekord v0.0.1 body for a signature over SHA-256 `digest`.
pub fn hashedrekord(digest: &[u8; 32], sig: &[u8], cert_pem: &str) -> Vec<u8> {
    let v = json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
        "signature": {"content": b64(sig), "publicKey": {"content": b64(cert_pem.as_bytes())}},
    }});
    serde_json::to_vec(&v).unwrap()
}

/// Rekor's canonical dsse v0.0.1 body for `envelope` (its JSON as submitted).
pub fn dsse_body(envelope: &str, cert_pem: &str) -> Vec<u8> {
    let env: Value = serde_json::from_str(envelope).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let sigs: Vec<Value> = env["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"signature": s["sig"], "verifier": b64(cert_pem.as_bytes())}))
        .collect();
    let v = json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "envelopeHash": {"algorithm": "sha256", "value": hex::encode(sha256(envelope.as_bytes()))},
        "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(&payload))},
        "signatures": sigs,
    }});
    serde_json::to_vec(&v).unwrap()
}

/// The whole instance: CA, CT log, transparency log.
pub struct Instance {
    /// The Fulcio-like CA.
    pub ca: Ca,
    /// The CT log key.
    pub ct: Key,
    /// The Rekor-like log.
    pub log: Log,
}

impl Default for Instance {
    fn default() -> Self {
        Self::new()
    }
}

impl Instance {
    /// A fresh instance whose CA is valid from a day ago for a year.
    pub fn new() -> Instance {
        let n = now();
        Instance {
            ca: Ca::new("fake-fulcio", n - 86_400, n + 365 * 86_400),
            ct: Key::generate(),
            log: Log::new(),
        }
    }

    /// `trusted_root.json` naming this instance's CA (`cas`: these CA certificates instead),
    /// log and CT log, served at `url`.
    pub fn trusted_root(&self, url: &str, cas: Option<&[&[u8]]>) -> Value {
        let start = rfc3339(now() - 2 * 86_400);
        let key = |k: &Key| {
            json!({
                "rawBytes": b64(&k.spki),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": start},
            })
        };
        let own = [self.ca.cert.as_slice()];
        let cas = cas.unwrap_or(&own);
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": url, "hashAlgorithm": "SHA2_256", "publicKey": key(&self.log.key),
                       "logId": {"keyId": b64(&self.log.log_id())}}],
            "certificateAuthorities": cas.iter().map(|c| json!({
                "subject": {"organization": "sigstore-test", "commonName": "fake-fulcio"},
                "uri": url,
                "certChain": {"certificates": [{"rawBytes": b64(c)}]},
                "validFor": {"start": start},
            })).collect::<Vec<_>>(),
            "ctlogs": [{"baseUrl": url, "hashAlgorithm": "SHA2_256", "publicKey": key(&self.ct),
                        "logId": {"keyId": b64(&sha256(&self.ct.spki))}}],
            "timestampAuthorities": [],
        })
    }

    /// A cosign 3-style bundle (v0.3, DSSE with the cosign sign predicate over `digest_hex`),
    /// signed keylessly for `spec`: the bundle JSON.
    pub fn dsse_bundle(&mut self, digest_hex: &str, spec: &LeafSpec) -> Value {
        let key = Key::generate();
        let cert = self.ca.issue(&key.spki, spec, Some(&self.ct));
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "", "digest": {"sha256": digest_hex}}],
            "predicateType": "https://sigstore.dev/cosign/sign/v1",
            "predicate": {},
        });
        let payload = serde_json::to_vec(&statement).unwrap();
        let ptype = "application/vnd.in-toto+json";
        let mut pae = format!("DSSEv1 {} {ptype} {} ", ptype.len(), payload.len()).into_bytes();
        pae.extend(&payload);
        let sig = key.sign(&pae);
        let envelope = json!({"payload": b64(&payload), "payloadType": ptype,
                              "signatures": [{"sig": b64(&sig)}]});
        let body = dsse_body(&envelope.to_string(), &pem("CERTIFICATE", &cert));
        let entry = self.log.append(&body, now());
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(&cert)},
                "tlogEntries": [entry.bundle_entry(&self.log.log_id(), "dsse")],
            },
            "dsseEnvelope": envelope,
        })
    }

    /// A cosign 2-style keyless `.sig` layer over `digest`: (payload, base64 signature,
    /// certificate PEM, chain PEM, Rekor bundle annotation).
    pub fn cosign2_layer(
        &mut self,
        digest: &str,
        spec: &LeafSpec,
    ) -> (Vec<u8>, String, String, String, String) {
        let key = Key::generate();
        let cert = pem(
            "CERTIFICATE",
            &self.ca.issue(&key.spki, spec, Some(&self.ct)),
        );
        let payload = json!({"critical": {"identity": {"docker-reference": "registry.test/app"},
            "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"},
            "optional": null});
        let payload = serde_json::to_vec(&payload).unwrap();
        let sig = key.sign(&payload);
        let body = hashedrekord(&sha256(&payload), &sig, &cert);
        let entry = self.log.append(&body, now());
        let chain = pem("CERTIFICATE", &self.ca.cert);
        (
            payload,
            b64(&sig),
            cert,
            chain,
            entry.cosign_annotation(&self.log.log_id()),
        )
    }
}
