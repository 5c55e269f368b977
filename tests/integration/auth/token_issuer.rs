//! A small token server for distribution's token auth (`auth.token` in the registry config).
//!
//! It answers `GET /token?service=…&scope=…` (Basic credentials or anonymous) and the OAuth2
//! `POST /token` refresh-token grant, and signs ES256 JWTs with a test key whose certificate
//! is sent in the `x5c` header; the registry checks that chain against its `rootcertbundle`
//! (distribution 2.8 `registry/auth/token/token.go`, `VerifySigningKey`). Claims: `iss`, `aud`
//! = the service, `sub`, `exp`/`nbf`/`iat`, `jti` and `access` (every requested action is granted
//! to an authenticated user; anonymous users get nothing).
//!
//! Token lifetime is what the registry sees: it adds 60 s of leeway to `exp`, so `exp` is set
//! 60 s early. `expires_in` in the answer can differ from the real lifetime, to make a token
//! expire while the client still believes it valid.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::Engine;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const SERVICE: &str = "mirror-test-registry";
pub const ISSUER: &str = "mirror-test-issuer";

/// Who may get tokens and for how long.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    pub user: String,
    pub password: String,
    /// An identity (refresh) token accepted by the `POST` grant.
    pub refresh_token: Option<String>,
    /// Seconds the registry accepts a token.
    pub lifetime: i64,
    /// `expires_in` sent to the client (`None`: omitted, clients assume 60).
    pub expires_in: Option<i64>,
}

/// One token request as the server saw it.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub method: String,
    /// `scope` values, split on spaces.
    pub scopes: Vec<String>,
    /// The Basic user, or `<refresh>` for the refresh-token grant; `None`: anonymous.
    pub user: Option<String>,
    /// 200 or the refusal status.
    pub status: u16,
}

struct Inner {
    config: IssuerConfig,
    key: EcdsaKeyPair,
    x5c: String,
    requests: Vec<TokenRequest>,
    issued: Vec<String>,
    /// Actions never granted (a user without delete rights: `delete`).
    withheld: Vec<String>,
}

/// A running token server on `127.0.0.1:<random port>`; stops when dropped.
pub struct TokenIssuer {
    addr: SocketAddr,
    cert: PathBuf,
    state: Arc<Mutex<Inner>>,
    _stop: oneshot::Sender<()>,
}

impl TokenIssuer {
    /// Generates a signing key in `dir` and starts serving.
    pub async fn start(dir: &Path, config: IssuerConfig) -> TokenIssuer {
        let (pkcs8, cert, der) = super::pki::token_key(dir);
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &ring::rand::SystemRandom::new(),
        )
        .expect("token key");
        let _ = key.public_key();
        let state = Arc::new(Mutex::new(Inner {
            config,
            key,
            x5c: base64::engine::general_purpose::STANDARD.encode(der),
            requests: vec![],
            issued: vec![],
            withheld: vec![],
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async { drop(rx.await) });
        tokio::spawn(IntoFuture::into_future(serve));
        TokenIssuer {
            addr,
            cert,
            state,
            _stop: tx,
        }
    }

    /// The `auth:` YAML for a registry trusting this issuer.
    pub fn registry_yaml(&self) -> String {
        self.registry_yaml_with_realm(&format!("http://{}/token", self.addr))
    }

    /// The `auth:` YAML with another realm URL (the registry still trusts this issuer's key).
    pub fn registry_yaml_with_realm(&self, realm: &str) -> String {
        format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            self.cert.display()
        )
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every token handed out so far.
    pub fn issued(&self) -> Vec<String> {
        self.state.lock().unwrap().issued.clone()
    }

    /// Never grant `action` from now on (the token server grants the rest without an error, as
    /// real ones do; the registry then refuses the request).
    pub fn withhold(&self, action: &str) {
        self.state.lock().unwrap().withheld.push(action.to_string());
    }

    pub fn set_lifetime(&self, lifetime: i64, expires_in: Option<i64>) {
        let mut s = self.state.lock().unwrap();
        s.config.lifetime = lifetime;
        s.config.expires_in = expires_in;
    }
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn error(status: StatusCode, msg: &str) -> Response {
    let body = json!({"errors": [{"code": "UNAUTHORIZED", "message": msg}]}).to_string();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

async fn handle(State(state): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let query = parts.uri.query().unwrap_or("").to_string();
    let pairs = |q: &str| -> Vec<(String, String)> {
        reqwest::Url::parse(&format!("http://x/?{q}"))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let params = if parts.method == Method::POST {
        pairs(&String::from_utf8_lossy(&body))
    } else {
        pairs(&query)
    };
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let mut s = state.lock().unwrap();
    let (user, refused): (Option<String>, Option<&str>) = if parts.method == Method::POST {
        match (get("grant_type").as_deref(), get("refresh_token")) {
            (Some("refresh_token"), Some(t)) if Some(&t) == s.config.refresh_token.as_ref() => {
                (Some("<refresh>".into()), None)
            }
            (Some("refresh_token"), _) => (Some("<refresh>".into()), Some("invalid refresh token")),
            _ => (None, Some("unsupported grant")),
        }
    } else {
        match parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        {
            None => (None, None),
            Some(h) => {
                let decoded = h
                    .strip_prefix("Basic ")
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .and_then(|d| String::from_utf8(d).ok())
                    .unwrap_or_default();
                let (u, p) = decoded.split_once(':').unwrap_or((&decoded, ""));
                let ok = u == s.config.user && p == s.config.password;
                (
                    Some(u.to_string()),
                    (!ok).then_some("invalid username or password"),
                )
            }
        }
    };
    let status = if refused.is_some() { 401 } else { 200 };
    s.requests.push(TokenRequest {
        method: parts.method.to_string(),
        scopes: scopes.clone(),
        user: user.clone(),
        status,
    });
    if let Some(msg) = refused {
        return error(StatusCode::UNAUTHORIZED, msg);
    }
    let access: Vec<serde_json::Value> = if user.is_none() {
        vec![]
    } else {
        scopes
            .iter()
            .filter_map(|sc| {
                let mut it = sc.splitn(2, ':');
                let typ = it.next()?;
                let (name, actions) = it.next()?.rsplit_once(':')?;
                let granted: Vec<&str> = actions
                    .split(',')
                    .filter(|a| !s.withheld.iter().any(|w| w == a))
                    .collect();
                Some(json!({"type": typ, "name": name, "actions": granted}))
            })
            .collect()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let n = s.issued.len();
    let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [s.x5c]});
    let claims = json!({
        "iss": ISSUER,
        "sub": user.clone().unwrap_or_default(),
        "aud": SERVICE,
        "exp": now + s.config.lifetime - 60,
        "nbf": now - 1,
        "iat": now,
        "jti": format!("jti-{n}-{now}"),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let sig = s
        .key
        .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
        .expect("signing");
    let token = format!("{signing_input}.{}", b64url(sig.as_ref()));
    s.issued.push(token.clone());
    let mut answer = if parts.method == Method::POST {
        json!({"access_token": token, "scope": scopes.join(" ")})
    } else {
        json!({"token": token, "access_token": token})
    };
    if let Some(e) = s.config.expires_in {
        answer["expires_in"] = json!(e);
    }
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(answer.to_string()))
        .unwrap()
}
