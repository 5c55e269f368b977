//! Supply-chain artifacts travel with the selection (issue 5): referrers through the tag
//! fallback (real distribution 2.8 both ways) and through the referrers API (the in-process
//! fake, the only registry here with the API), cosign digest tags, signatures that still
//! verify after the copy, `--always-copy` / `--never-copy`, and foreign layers.
//!
//! The fixture ([`Chain`]) is `fixtures::multi_arch_oci` (six platforms with BuildKit
//! attestations) plus, all written as odd, non-canonical JSON so any re-serialisation shows:
//! - an SBOM referrer on the index (`application/spdx+json`);
//! - Ed25519 signature referrers (`application/vnd.cncf.notary.signature`) on the index, on
//!   linux/amd64 (selected in the tests) and on linux/arm64/v8 (not selected), and on the SBOM;
//! - cosign-style `sha256-<hex>.sig` (signed simple-signing payload) and `.att` tags for the
//!   index, linux/amd64 and linux/arm64/v8;
//! - on a registry without the API, the `sha256-<hex>` fallback indexes a client writes.
#![allow(dead_code)]

mod api;
mod fallback;
mod foreign;
mod rules;

use std::collections::BTreeMap;

use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use crate::fixtures::{self, Blob, Image, Manifest, OCI_INDEX, OCI_MANIFEST};
use crate::harness::{sha256, Http};
use sparse_mirror::engine::report::Report;

/// Layer size of the base image.
pub const LAYER: usize = 4 * 1024;
/// The empty config of OCI artifacts.
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// Artifact types.
pub const SBOM_TYPE: &str = "application/spdx+json";
/// Notation's artifact type (our payload is a raw Ed25519 signature over the digest string).
pub const SIG_TYPE: &str = "application/vnd.cncf.notary.signature";
/// Cosign simple-signing layer type.
pub const COSIGN_SIG: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Cosign attestation layer type.
pub const DSSE: &str = "application/vnd.dsse.envelope.v1+json";

/// The test key (fixed seed: deterministic signatures).
pub fn key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).expect("seed")
}

/// Verify an Ed25519 signature made by [`key`].
pub fn verifies(message: &[u8], signature: &[u8]) -> bool {
    let k = key();
    UnparsedPublicKey::new(&ED25519, k.public_key().as_ref())
        .verify(message, signature)
        .is_ok()
}

/// A referrer or digest-tagged manifest of the fixture.
#[derive(Debug, Clone)]
pub struct Art {
    /// A name for messages.
    pub name: String,
    /// The manifest (blobs: config first, then layers).
    pub manifest: Manifest,
    /// The digest it is attached to.
    pub subject: String,
    /// Its artifact type.
    pub artifact_type: String,
    /// The cosign tag, for digest-tag artifacts.
    pub tag: Option<String>,
}

/// `sha256-<hex>` of a digest.
pub fn fallback_tag(digest: &str) -> String {
    digest.replace(':', "-")
}

fn desc_json(media_type: &str, digest: &str, size: usize) -> String {
    // Odd key order and spacing on purpose.
    format!(r#"{{ "size" :{size},"digest": "{digest}" , "mediaType":"{media_type}"}}"#)
}

/// A referrer: empty config, one layer, `subject`, `artifactType`, annotations.
pub fn referrer(
    name: &str,
    artifact_type: &str,
    subject: &Manifest,
    payload: Vec<u8>,
    layer_type: &str,
    annotations: &[(&str, &str)],
) -> Art {
    let config = Blob::new(EMPTY, b"{}".to_vec());
    let layer = Blob::new(layer_type, payload);
    let ann: String = annotations
        .iter()
        .map(|(k, v)| format!(r#""{k}":"{v}""#))
        .collect::<Vec<_>>()
        .join(",\n      ");
    let bytes = format!(
        "{{\n  \"layers\": [ {} ],\n  \"subject\":{},\n  \"config\" : {},\n  \"artifactType\": \"{artifact_type}\",\n  \"annotations\": {{\n      {ann}\n  }},\n  \"mediaType\": \"{OCI_MANIFEST}\",\n  \"schemaVersion\": 2\n}}\n",
        desc_json(&layer.media_type, &layer.digest, layer.bytes.len()),
        desc_json(&subject.media_type, &subject.digest, subject.size()),
        desc_json(&config.media_type, &config.digest, config.bytes.len()),
    )
    .into_bytes();
    Art {
        name: name.into(),
        manifest: Manifest {
            media_type: OCI_MANIFEST.into(),
            digest: sha256(&bytes),
            bytes,
            platform: None,
            blobs: vec![config, layer],
            attestation_of: None,
        },
        subject: subject.digest.clone(),
        artifact_type: artifact_type.into(),
        tag: None,
    }
}

/// An Ed25519 signature referrer over the subject's digest string.
pub fn signature(name: &str, subject: &Manifest) -> Art {
    let sig = key().sign(subject.digest.as_bytes()).as_ref().to_vec();
    referrer(
        name,
        SIG_TYPE,
        subject,
        sig,
        "application/vnd.example.ed25519-signature",
        &[("org.example.signed-digest", &subject.digest)],
    )
}

/// A cosign-style image manifest (config + one annotated layer), tagged `tag`.
fn cosign(name: &str, tag: String, subject: &Manifest, layer: Blob, ann: (&str, &str)) -> Art {
    let config = Blob::new(
        "application/vnd.oci.image.config.v1+json",
        format!(
            "{{\"architecture\":\"\",\"os\":\"\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{}\"]}},\"config\":{{}}}}",
            layer.digest
        )
        .into_bytes(),
    );
    let bytes = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{OCI_MANIFEST}\",\"config\":{},\"layers\":[{{\"mediaType\":\"{}\",\"size\":{},\"digest\":\"{}\",\"annotations\":{{\"{}\":\"{}\"}}}}]}}",
        desc_json(&config.media_type, &config.digest, config.bytes.len()),
        layer.media_type,
        layer.bytes.len(),
        layer.digest,
        ann.0,
        ann.1
    )
    .into_bytes();
    Art {
        name: name.into(),
        manifest: Manifest {
            media_type: OCI_MANIFEST.into(),
            digest: sha256(&bytes),
            bytes,
            platform: None,
            blobs: vec![config, layer],
            attestation_of: None,
        },
        subject: subject.digest.clone(),
        artifact_type: "application/vnd.oci.image.config.v1+json".into(),
        tag: Some(tag),
    }
}

/// The cosign simple-signing payload for `digest`.
pub fn simple_signing(digest: &str) -> Vec<u8> {
    format!(
        "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"registry.example/team/app\"}},\"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}"
    )
    .into_bytes()
}

/// `sha256-<hex>.sig` with a signed simple-signing payload.
pub fn cosign_sig(name: &str, subject: &Manifest) -> Art {
    let payload = simple_signing(&subject.digest);
    let sig = base64::engine::general_purpose::STANDARD.encode(key().sign(&payload).as_ref());
    cosign(
        name,
        format!("{}.sig", fallback_tag(&subject.digest)),
        subject,
        Blob::new(COSIGN_SIG, payload),
        ("dev.cosignproject.cosign/signature", &sig),
    )
}

/// `sha256-<hex>.att` with a DSSE envelope.
pub fn cosign_att(name: &str, subject: &Manifest) -> Art {
    let statement = format!(
        "{{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"predicateType\":\"https://slsa.dev/provenance/v0.2\",\"subject\":[{{\"digest\":{{\"sha256\":\"{}\"}}}}]}}",
        subject.digest.trim_start_matches("sha256:")
    );
    let env = format!(
        "{{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"{}\",\"signatures\":[]}}",
        base64::engine::general_purpose::STANDARD.encode(statement)
    );
    cosign(
        name,
        format!("{}.att", fallback_tag(&subject.digest)),
        subject,
        Blob::new(DSSE, env.into_bytes()),
        ("predicateType", "https://slsa.dev/provenance/v0.2"),
    )
}

/// The whole fixture.
pub struct Chain {
    /// The base image (index + 12 children).
    pub img: Image,
    /// SBOM on the index.
    pub sbom: Art,
    /// Signature on the SBOM.
    pub sbom_sig: Art,
    /// Signature on the index.
    pub index_sig: Art,
    /// Signature on linux/amd64.
    pub amd_sig: Art,
    /// Signature on linux/arm64/v8.
    pub arm_sig: Art,
    /// Cosign `.sig` / `.att` tags of the index, amd64 and arm64.
    pub cosign: Vec<Art>,
}

impl Chain {
    /// Build it (deterministic).
    pub fn new() -> Chain {
        let img = fixtures::multi_arch_oci(LAYER);
        let amd = img.child("linux/amd64").clone();
        let arm = img.child("linux/arm64/v8").clone();
        let sbom = referrer(
            "sbom",
            SBOM_TYPE,
            &img.index,
            br#"{"spdxVersion":"SPDX-2.3","name":"app","packages":[]}"#.to_vec(),
            "application/spdx+json",
            &[("org.opencontainers.image.created", "2024-05-06T07:08:09Z")],
        );
        let sbom_sig = signature("sbom-sig", &sbom.manifest);
        let index_sig = signature("index-sig", &img.index);
        let amd_sig = signature("amd64-sig", &amd);
        let arm_sig = signature("arm64-sig", &arm);
        let cosign = vec![
            cosign_sig("index.sig", &img.index),
            cosign_att("index.att", &img.index),
            cosign_sig("amd64.sig", &amd),
            cosign_att("amd64.att", &amd),
            cosign_sig("arm64.sig", &arm),
            cosign_att("arm64.att", &arm),
        ];
        Chain {
            img,
            sbom,
            sbom_sig,
            index_sig,
            amd_sig,
            arm_sig,
            cosign,
        }
    }

    /// Every referrer (not the cosign tags).
    pub fn referrers(&self) -> Vec<&Art> {
        vec![
            &self.sbom,
            &self.sbom_sig,
            &self.index_sig,
            &self.amd_sig,
            &self.arm_sig,
        ]
    }

    /// The referrers that belong to the index and linux/amd64.
    pub fn amd64_referrers(&self) -> Vec<&Art> {
        vec![&self.sbom, &self.sbom_sig, &self.index_sig, &self.amd_sig]
    }

    /// The cosign tags of the index and linux/amd64.
    pub fn amd64_cosign(&self) -> Vec<&Art> {
        self.cosign
            .iter()
            .filter(|a| a.subject != self.img.child("linux/arm64/v8").digest)
            .collect()
    }

    /// Push the image, the referrers, the cosign tags and (with `fallback`) the `sha256-<hex>`
    /// indexes a client writes on a registry without the referrers API.
    pub async fn push(&self, http: &Http, host: &str, repo: &str, fallback: bool) {
        fixtures::push_image(http, host, repo, "v1", &self.img).await;
        for a in self.referrers().into_iter().chain(&self.cosign) {
            let blobs: Vec<&Blob> = a.manifest.blobs.iter().collect();
            for b in blobs {
                if http.head_blob(host, repo, &b.digest).await != 200 {
                    http.push_blob(host, repo, &b.bytes).await;
                }
            }
            let reference = a.tag.clone().unwrap_or_else(|| a.manifest.digest.clone());
            fixtures::push_manifest_only(http, host, repo, &reference, &a.manifest).await;
        }
        if fallback {
            let mut groups: BTreeMap<String, Vec<&Art>> = BTreeMap::new();
            for a in self.referrers() {
                groups.entry(a.subject.clone()).or_default().push(a);
            }
            for (subject, arts) in groups {
                let index = fallback_index(&arts);
                let (status, body) = http
                    .put_manifest(host, repo, &fallback_tag(&subject), OCI_INDEX, &index)
                    .await;
                assert_eq!(status, 201, "fallback index for {subject}: {body}");
            }
        }
    }
}

/// A referrers fallback index listing `arts`, as a client writes it.
pub fn fallback_index(arts: &[&Art]) -> Vec<u8> {
    let entries: Vec<String> = arts
        .iter()
        .map(|a| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"artifactType":"{}"}}"#,
                a.manifest.digest,
                a.manifest.size(),
                a.artifact_type
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

/// Decode the JSON report (the schema is `deny_unknown_fields` throughout).
pub fn report(stdout: &str) -> Report {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("report does not decode: {e}\n{stdout}"))
}

/// The referrers fallback index on a registry: digests it lists (sorted), or empty.
pub async fn fallback_digests(http: &Http, host: &str, repo: &str, subject: &str) -> Vec<String> {
    let (status, _, body) = http.get_manifest(host, repo, &fallback_tag(subject)).await;
    if status == 404 {
        return vec![];
    }
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut d: Vec<String> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap().to_string())
        .collect();
    d.sort();
    d
}

/// Sorted digests.
pub fn sorted(arts: &[&Art]) -> Vec<String> {
    let mut v: Vec<String> = arts.iter().map(|a| a.manifest.digest.clone()).collect();
    v.sort();
    v
}

/// `mirror inspect --referrers` lists every referrer and digest tag of the index and children.
#[tokio::test(flavor = "multi_thread")]
async fn inspect_lists_referrers_and_digest_tags() {
    let chain = Chain::new();
    let src = crate::harness::Registry::start();
    let http = Http::new();
    chain.push(&http, &src.host(), "team/app", true).await;
    let out = crate::harness::mirror_async(&[
        "inspect",
        "--referrers",
        &format!("{}/team/app:v1", src.host()),
        "-o",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{out}");
    let i: sparse_mirror::engine::inspect::Inspection = serde_json::from_str(&out.stdout).unwrap();
    let mut got: Vec<String> = i.artifacts.iter().map(|a| a.digest.to_string()).collect();
    got.sort();
    let all: Vec<&Art> = chain.referrers().into_iter().chain(&chain.cosign).collect();
    assert_eq!(got, sorted(&all));
    let sbom = i
        .artifacts
        .iter()
        .find(|a| a.digest.to_string() == chain.sbom.manifest.digest)
        .unwrap();
    assert_eq!(sbom.subject.to_string(), chain.img.index.digest);
    let human = crate::harness::mirror_async(&[
        "inspect",
        "--referrers",
        &format!("{}/team/app:v1", src.host()),
    ])
    .await;
    assert!(human.stdout.contains(".sig"), "{human}");
    // Without the flag, nothing is listed (and nothing is looked up).
    let plain = crate::harness::mirror_async(&[
        "inspect",
        &format!("{}/team/app:v1", src.host()),
        "-o",
        "json",
    ])
    .await;
    let i: sparse_mirror::engine::inspect::Inspection =
        serde_json::from_str(&plain.stdout).unwrap();
    assert!(i.artifacts.is_empty());
}
