//! An in-process private Sigstore instance for the keyless end-to-end tests (issue 23): a
//! Fulcio-like CA (`POST /api/v1/signingCert` for cosign 2, `POST /api/v2/signingCert` for
//! cosign 3 / sigstore-go) and a Rekor-like log (`POST /api/v1/log/entries`, hashedrekord and
//! dsse v0.0.1), on 127.0.0.1 with a free port. No installable Fulcio or Rekor exists here, so
//! this fake is allowed; the certificates, SCTs, entries, SETs and checkpoints it issues are
//! real ones (`src/engine/signature/keyless/testca.rs`), checked by the real cosign.
//!
//! The identity token is trusted, not verified: the certificate's SAN is the token's `email`
//! (or `sub`), its issuer extension the token's `iss`. A token claim `x-expired: true` makes
//! the CA issue a certificate that had already expired (the "expired chain" case).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[path = "../../src/engine/signature/keyless/testca.rs"]
pub mod testca;
#[path = "../../src/engine/signature/keyless/testlog.rs"]
pub mod testlog;

use testca::LeafSpec;
use testlog::Instance;

/// The running instance.
pub struct FakeSigstore {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The CA, CT log and transparency log.
    pub instance: Arc<Mutex<Instance>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A JWT (RS256 in the header: cosign parses it before use) with these claims and a signature
/// nobody checks (the fake trusts its tokens), as
/// `--identity-token` takes it.
pub fn token(claims: Value) -> String {
    let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let header = json!({"alg": "RS256", "typ": "JWT"}).to_string();
    format!(
        "{}.{}.{}",
        enc(header.as_bytes()),
        enc(claims.to_string().as_bytes()),
        enc(&[7u8; 256])
    )
}

/// An identity token for an email identity, or a URI identity when `identity` has `://`.
pub fn identity_token(identity: &str, issuer: &str, expired: bool) -> String {
    let now = testca::now();
    let mut c = json!({"iss": issuer, "aud": "sigstore", "iat": now, "exp": now + 600,
                       "sub": identity, "x-expired": expired});
    if !identity.contains("://") {
        c["email"] = json!(identity);
        c["email_verified"] = json!(true);
    }
    token(c)
}

fn claims(token: &str) -> Option<Value> {
    let part = token.split('.').nth(1)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&raw).ok()
}

fn spec_for(token: &str) -> Option<LeafSpec> {
    let c = claims(token)?;
    let identity = c.get("email").or_else(|| c.get("sub"))?.as_str()?;
    let mut spec = LeafSpec::new(identity, c.get("iss")?.as_str()?);
    if c.get("x-expired").and_then(Value::as_bool) == Some(true) {
        spec.not_before -= 3600;
        spec.not_after = spec.not_before + 600;
    }
    Some(spec)
}

fn spki_of(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn bad(m: &str) -> Response {
    (StatusCode::BAD_REQUEST, m.to_string()).into_response()
}

type Shared = Arc<Mutex<Instance>>;

/// Fulcio API v1 (cosign 2): `{publicKey: {content: base64(PEM)}, signedEmailAddress}`, the
/// token as a bearer; answers 201 with the PEM chain, leaf first.
async fn signing_cert_v1(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(spec) = spec_for(bearer(&headers)) else {
        return bad("identity token without iss and email/sub");
    };
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let pem = req
        .pointer("/publicKey/content")
        .and_then(Value::as_str)
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .and_then(|p| String::from_utf8(p).ok());
    let Some(spki) = pem.as_deref().and_then(spki_of) else {
        return bad("no publicKey.content");
    };
    let inst = s.lock().unwrap();
    let leaf = inst.ca.issue(&spki, &spec, Some(&inst.ct));
    let chain = testca::pem("CERTIFICATE", &leaf) + &testca::pem("CERTIFICATE", &inst.ca.cert);
    (
        StatusCode::CREATED,
        [("content-type", "application/pem-certificate-chain")],
        chain,
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("")
}

/// Fulcio API v2 (sigstore-go): `{publicKeyRequest: {publicKey: {content: PEM}}}` with the token
/// as a bearer (or in `credentials.oidcIdentityToken`); answers 200 with
/// `signedCertificateEmbeddedSct`.
async fn signing_cert_v2(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let token = req
        .pointer("/credentials/oidcIdentityToken")
        .and_then(Value::as_str)
        .unwrap_or_else(|| bearer(&headers));
    let Some(spec) = spec_for(token) else {
        return bad("identity token without iss and email/sub");
    };
    let Some(spki) = req
        .pointer("/publicKeyRequest/publicKey/content")
        .and_then(Value::as_str)
        .and_then(spki_of)
    else {
        return bad("no publicKeyRequest.publicKey.content");
    };
    let inst = s.lock().unwrap();
    let leaf = inst.ca.issue(&spki, &spec, Some(&inst.ct));
    let certs = [
        testca::pem("CERTIFICATE", &leaf),
        testca::pem("CERTIFICATE", &inst.ca.cert),
    ];
    let out = json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": certs}}});
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        out.to_string(),
    )
        .into_response()
}

/// Rekor v1 `POST /api/v1/log/entries`: a hashedrekord or dsse v0.0.1 proposed entry,
/// canonicalized as Rekor does, appended, answered 201 with `{uuid: LogEntry}` and the ETag.
async fn create_entry(State(s): State<Shared>, body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let canonical = match req.get("kind").and_then(Value::as_str) {
        Some("hashedrekord") => {
            let hash = req.pointer("/spec/data/hash/value").and_then(Value::as_str);
            let sig = req
                .pointer("/spec/signature/content")
                .and_then(Value::as_str);
            let key = req
                .pointer("/spec/signature/publicKey/content")
                .and_then(Value::as_str);
            let (Some(hash), Some(sig), Some(key)) = (hash, sig, key) else {
                return bad("hashedrekord without hash, signature or public key");
            };
            let mut digest = [0u8; 32];
            if hex::decode_to_slice(hash, &mut digest).is_err() {
                return bad("hash is not SHA-256 hex");
            }
            let sig = base64::engine::general_purpose::STANDARD
                .decode(sig)
                .unwrap_or_default();
            let pem = base64::engine::general_purpose::STANDARD
                .decode(key)
                .unwrap_or_default();
            testlog::hashedrekord(&digest, &sig, &String::from_utf8_lossy(&pem))
        }
        Some("dsse") => {
            let env = req
                .pointer("/spec/proposedContent/envelope")
                .and_then(Value::as_str);
            let ver = req
                .pointer("/spec/proposedContent/verifiers/0")
                .and_then(Value::as_str)
                .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok());
            let (Some(env), Some(ver)) = (env, ver) else {
                return bad("dsse without envelope or verifier");
            };
            testlog::dsse_body(env, &String::from_utf8_lossy(&ver))
        }
        other => return bad(&format!("unsupported kind {other:?}")),
    };
    let mut inst = s.lock().unwrap();
    let entry = inst.log.append(&canonical, testca::now());
    let answer = entry.rekor_response(&inst.log.log_id());
    let uuid = hex::encode(testlog::leaf_hash(&canonical));
    (
        StatusCode::CREATED,
        [
            ("content-type", "application/json".to_string()),
            ("etag", uuid.clone()),
            ("location", format!("/api/v1/log/entries/{uuid}")),
        ],
        answer.to_string(),
    )
        .into_response()
}

async fn public_key(State(s): State<Shared>) -> Response {
    let pem = s.lock().unwrap().log.key.public_pem();
    (
        StatusCode::OK,
        [("content-type", "application/x-pem-file")],
        pem,
    )
        .into_response()
}

impl FakeSigstore {
    /// Starts a fresh instance on a free loopback port.
    pub async fn start() -> FakeSigstore {
        let instance: Shared = Arc::new(Mutex::new(Instance::new()));
        let app = Router::new()
            .route("/api/v1/signingCert", post(signing_cert_v1))
            .route("/api/v2/signingCert", post(signing_cert_v2))
            .route("/api/v1/log/entries", post(create_entry))
            .route("/api/v1/log/publicKey", get(public_key))
            .with_state(instance.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async { drop(rx.await) })
                .await
                .ok();
        });
        FakeSigstore {
            url,
            instance,
            _stop: tx,
        }
    }

    /// `trusted_root.json` for this instance (`cas`: these CA certificates instead of its own).
    pub fn trusted_root(&self, cas: Option<&[&[u8]]>) -> String {
        let inst = self.instance.lock().unwrap();
        serde_json::to_string_pretty(&inst.trusted_root(&self.url, cas)).unwrap()
    }

    /// cosign 3's signing config: this Fulcio and Rekor (v1 APIs), no TSA, no OIDC provider.
    pub fn signing_config(&self) -> String {
        let start = testca::rfc3339(testca::now() - 86_400);
        let svc = json!([{"url": self.url, "majorApiVersion": 1, "validFor": {"start": start},
                          "operator": "sparse-mirror-tests"}]);
        json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": svc, "oidcUrls": [], "rekorTlogUrls": svc, "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"},
        })
        .to_string()
    }

    /// PEM files cosign 2 reads from SIGSTORE_ROOT_FILE, SIGSTORE_REKOR_PUBLIC_KEY and
    /// SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: (Fulcio root, Rekor key, CT log key).
    pub fn cosign2_env_files(&self) -> (String, String, String) {
        let inst = self.instance.lock().unwrap();
        (
            testca::pem("CERTIFICATE", &inst.ca.cert),
            inst.log.key.public_pem(),
            inst.ct.public_pem(),
        )
    }
}
