//! The authentication handshake of a [`RegistryClient`]: which `Authorization` header a
//! request carries, what a 401 challenge changes, the token cache and token requests (Basic
//! `GET` or the OAuth2 refresh-token `POST`), credential helpers run on first need, and the
//! rule that user secrets never travel over plain HTTP to another machine. docs/auth.md
//! describes the behaviour; `send` and `ping` in the parent module drive it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, Response};

use super::client::{RegistryClient, Token};
use super::errors::{network_error, read_limited, registry_error};
use crate::auth::{may_send_secret, parse_challenge, Challenge, Credentials, TokenResponse};
use crate::error::{redact_url, Error, Result};

/// The largest token-server body read (1 MiB): real ones are a few KiB (docs/reliability.md).
const MAX_TOKEN_BODY: usize = 1 << 20;

impl RegistryClient {
    pub(super) fn auth_error(&self, reason: String, status: Option<u16>) -> Error {
        Error::Auth {
            registry: self.host.clone(),
            reason,
            credential_source: self.auth.source.clone(),
            status,
        }
    }

    /// The credentials, after asking the credential helper if that is where they live.
    pub(super) async fn credentials(&self) -> Result<Credentials> {
        let Credentials::Helper { helper, server } = &self.auth.credentials else {
            return Ok(self.auth.credentials.clone());
        };
        let r = self
            .resolved
            .get_or_init(|| async {
                let (h, s) = (helper.clone(), server.clone());
                let timeout = crate::auth::credentials::helper_timeout();
                tokio::task::spawn_blocking(move || {
                    crate::auth::credentials::run_helper(&h, &s, timeout)
                        .map(|c| c.unwrap_or(Credentials::Anonymous))
                })
                .await
                .unwrap_or_else(|e| Err(format!("the credential helper task failed: {e}")))
            })
            .await;
        r.clone().map_err(|reason| self.auth_error(reason, None))
    }

    /// Refuse to send a user-supplied secret over plain HTTP to a host that is not loopback.
    pub(super) fn check_secret_transport(&self, creds: &Credentials, url: &str) -> Result<()> {
        if !creds.is_secret() {
            return Ok(());
        }
        let Ok(u) = reqwest::Url::parse(url) else {
            return Ok(());
        };
        if may_send_secret(&u, self.opts.allow_insecure_auth) {
            return Ok(());
        }
        Err(self.auth_error(
            format!(
                "refusing to send credentials over plain HTTP to {} (anyone on the network could read them); \
                 use HTTPS, or pass --allow-insecure-auth to send them anyway",
                u.host_str().unwrap_or("?")
            ),
            None,
        ))
    }

    pub(super) async fn auth_header(&self, scope: &str, url: &str) -> Result<Option<HeaderValue>> {
        let challenge = self.challenge.lock().await.clone();
        let creds = match (&self.auth.credentials, &challenge) {
            (Credentials::Bearer(_), _) => self.auth.credentials.clone(),
            // Nothing was asked yet: send nothing, so a registry that allows anonymous access
            // never makes us run a credential helper.
            (_, None) => return Ok(None),
            _ => self.credentials().await?,
        };
        let value = match (&creds, challenge) {
            (Credentials::Bearer(t), _) => {
                self.check_secret_transport(&creds, url)?;
                Some(format!("Bearer {t}"))
            }
            (Credentials::Basic { username, password }, Some(Challenge::Basic)) => {
                self.check_secret_transport(&creds, url)?;
                use base64::Engine;
                let enc = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                Some(format!("Basic {enc}"))
            }
            (_, Some(ch @ Challenge::Bearer { .. })) => {
                Some(format!("Bearer {}", self.token(&ch, scope, None).await?))
            }
            _ => None,
        };
        Ok(value
            .and_then(|v| HeaderValue::from_str(&v).ok())
            .map(|mut v| {
                v.set_sensitive(true);
                v
            }))
    }

    /// React to a 401 on a request sent at `sent_at`: remember the challenge and, for Bearer,
    /// get a token for `scope` newer than that request. `Ok(true)`: worth sending again.
    pub(super) async fn handle_challenge(
        &self,
        resp: &Response,
        scope: &str,
        sent_at: Instant,
    ) -> Result<bool> {
        let Some(ch) = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge)
        else {
            return Ok(false);
        };
        if let Credentials::Bearer(_) = self.auth.credentials {
            // The user's own token was refused: nothing to renew.
            return Ok(false);
        }
        if let Challenge::Basic = ch {
            let had = self.challenge.lock().await.replace(ch.clone());
            if had == Some(Challenge::Basic) {
                return Ok(false);
            }
            return Ok(!matches!(self.credentials().await?, Credentials::Anonymous));
        }
        *self.challenge.lock().await = Some(ch.clone());
        self.token(&ch, scope, Some(sent_at)).await?;
        Ok(true)
    }

    /// A valid token for `scope`: from the cache, else from the token server. With
    /// `newer_than`, a cached token fetched before that instant counts as refused.
    pub(super) async fn token(
        &self,
        ch: &Challenge,
        scope: &str,
        newer_than: Option<Instant>,
    ) -> Result<String> {
        let cached = |tokens: &HashMap<String, Token>| {
            tokens
                .get(scope)
                .filter(|t| t.expires > Instant::now() && newer_than.is_none_or(|n| t.fetched > n))
                .map(|t| t.value.clone())
        };
        if let Some(t) = cached(&*self.tokens.lock().await) {
            return Ok(t);
        }
        // One renewal at a time: requests that expire together share the new token.
        let _one = self.token_fetch.lock().await;
        if let Some(t) = cached(&*self.tokens.lock().await) {
            return Ok(t);
        }
        let (value, ttl) = self.fetch_token(ch, scope).await?;
        // Renew a little early so a long copy does not send an expired token.
        let margin = Duration::from_secs(ttl.min(30) / 3);
        let now = Instant::now();
        tracing::debug!(registry = %self.host, scope, ttl, "got a registry token");
        // `ttl` is at most MAX_TOKEN_TTL_SECS (auth::TokenResponse::ttl); checked all the same.
        let expires = now
            .checked_add(Duration::from_secs(ttl).saturating_sub(margin))
            .unwrap_or(now);
        self.tokens.lock().await.insert(
            scope.to_string(),
            Token {
                value: value.clone(),
                expires,
                fetched: now,
            },
        );
        Ok(value)
    }

    /// Ask the token server (the Bearer challenge's realm) for a token for `scope`: a GET with
    /// Basic credentials (or none), or for an identity token the OAuth2 refresh-token POST.
    pub(super) async fn fetch_token(&self, ch: &Challenge, scope: &str) -> Result<(String, u64)> {
        let Challenge::Bearer { realm, service } = ch else {
            return Err(Error::Internal(
                "a token was asked for without a Bearer challenge".into(),
            ));
        };
        let mut url = reqwest::Url::parse(realm).map_err(|e| {
            self.auth_error(format!("the token realm {realm:?} is not a URL: {e}"), None)
        })?;
        let creds = self.credentials().await?;
        self.check_secret_transport(&creds, url.as_str())?;
        let req = if let Credentials::IdentityToken { token, .. } = &creds {
            // OAuth2 refresh-token grant (distribution docs/spec/auth/oauth.md): form POST.
            let mut form = reqwest::Url::parse("form:").expect("static URL");
            {
                let mut q = form.query_pairs_mut();
                q.append_pair("grant_type", "refresh_token");
                q.append_pair("refresh_token", token);
                q.append_pair("client_id", "sparse-mirror");
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                q.append_pair("scope", scope);
            }
            self.http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.query().unwrap_or_default().to_string())
        } else {
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                for s in scope.split(' ') {
                    q.append_pair("scope", s);
                }
            }
            let req = self.http.get(url.clone());
            match &creds {
                Credentials::Basic { username, password } => {
                    req.basic_auth(username, Some(password))
                }
                _ => req,
            }
        };
        let method = if matches!(creds, Credentials::IdentityToken { .. }) {
            Method::POST
        } else {
            Method::GET
        };
        let resp = req
            .timeout(self.opts.timeout)
            .send()
            .await
            .map_err(|e| network_error(&method, url.as_str(), e))?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|c| c.chars().take(80).collect::<String>());
        if !status.is_success() {
            let e = registry_error(&method, url.as_str(), resp).await;
            let reason = e
                .errors
                .first()
                .map(|o| format!("{}: {}", o.code, o.message))
                .or(e.body.clone())
                .unwrap_or_default();
            return Err(self.auth_error(
                format!(
                    "the token server {} answered {method} with HTTP {}{}",
                    redact_url(realm),
                    status.as_u16(),
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {reason}")
                    }
                ),
                Some(status.as_u16()),
            ));
        }
        let body = read_limited(resp, MAX_TOKEN_BODY).await.map_err(|e| {
            self.auth_error(
                format!(
                    "the token server {} answered {method} with an unusable body: {e}",
                    redact_url(realm)
                ),
                None,
            )
        })?;
        let Some(answer) = TokenResponse::parse(&body) else {
            return Err(self.auth_error(
                format!(
                    "the token server {} answered {method} with a body that is not a JSON token \
                     response ({} bytes{})",
                    redact_url(realm),
                    body.len(),
                    content_type
                        .map(|c| format!(", Content-Type {c}"))
                        .unwrap_or_default()
                ),
                None,
            ));
        };
        answer.into_token().ok_or_else(|| {
            self.auth_error(
                format!("the token server {} sent no token", redact_url(realm)),
                None,
            )
        })
    }
}
