//! Credentials and the registry authentication handshake (Basic and Bearer token).
//!
//! The credential *sources* are resolved by the CLI settings step; this module holds what was
//! found ([`Credentials`], with a description of where it came from that is safe to print) and
//! the pure parts of the Bearer flow: parsing `WWW-Authenticate` and token responses.
//! Secrets never reach `Debug` output or logs.

pub mod credentials;
pub mod tls;

use std::fmt;

/// Credentials for one registry.
#[derive(Clone, Default)]
pub enum Credentials {
    /// No credentials: anonymous tokens only.
    #[default]
    Anonymous,
    /// Username and password (or identity token used as password).
    Basic {
        /// User name.
        username: String,
        /// Password; never printed.
        password: String,
    },
    /// A registry bearer token given directly; never printed.
    Bearer(String),
    /// A docker `identitytoken`: an OAuth2 refresh token exchanged at the token realm
    /// (`grant_type=refresh_token`) for access tokens; never printed.
    IdentityToken {
        /// User name, when the auth file has one (often empty or `<token>`).
        username: String,
        /// The refresh token.
        token: String,
    },
    /// Ask a docker credential helper (`docker-credential-NAME get`) when the registry first
    /// wants credentials.
    Helper {
        /// The helper suffix: `pass` runs `docker-credential-pass`.
        helper: String,
        /// What the helper is asked for: the registry host, or `https://index.docker.io/v1/`.
        server: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}:<redacted>)"),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Credentials::IdentityToken { username, .. } => {
                write!(f, "IdentityToken({username}:<redacted>)")
            }
            Credentials::Helper { helper, server } => write!(f, "Helper({helper}, {server})"),
        }
    }
}

/// Credentials plus where they came from, e.g. `--dest-creds (user "ci")` or `anonymous`.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    /// The credentials.
    pub credentials: Credentials,
    /// A printable description of the source (never the secret).
    pub source: String,
}

impl Auth {
    /// Anonymous access.
    pub fn anonymous() -> Self {
        Auth {
            credentials: Credentials::Anonymous,
            source: "anonymous (no credentials found)".into(),
        }
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        /// Token endpoint.
        realm: String,
        /// `service` parameter.
        service: Option<String>,
    },
}

impl Credentials {
    /// Whether these are secrets the user supplied (as opposed to none, or a helper not yet run).
    pub fn is_secret(&self) -> bool {
        matches!(
            self,
            Credentials::Basic { .. } | Credentials::Bearer(_) | Credentials::IdentityToken { .. }
        )
    }
}

/// Whether a URL's host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback_url(url: &reqwest::Url) -> bool {
    let Some(h) = url.host_str() else {
        return false;
    };
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a user-supplied secret may be sent to `url`: never over plain HTTP to a host that is
/// not loopback, unless `--allow-insecure-auth` was given.
pub fn may_send_secret(url: &reqwest::Url, allow_insecure_auth: bool) -> bool {
    url.scheme() != "http" || allow_insecure_auth || is_loopback_url(url)
}

/// Parse a `WWW-Authenticate` header value. Unknown schemes yield `None`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
        })
    } else {
        None
    }
}

fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n)
                        }
                    }
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                val.push(*c);
                chars.next();
            }
        }
        out.push((key.trim().to_string(), val.trim().to_string()));
    }
    out
}

/// The longest token lifetime believed (24 hours): a token server's `expires_in` above it
/// (up to 2^64-1) is clamped, so the expiry arithmetic cannot overflow; the token is simply
/// renewed sooner than the server said.
pub const MAX_TOKEN_TTL_SECS: u64 = 24 * 3600;

/// The lifetime assumed when a token server sends none, or one that is not a positive number
/// (60 s, as the distribution token spec says).
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 60;

/// A token server's answer.
#[derive(Debug, serde::Deserialize)]
pub struct TokenResponse {
    /// Docker-style token.
    #[serde(default)]
    pub token: Option<String>,
    /// OAuth2-style token.
    #[serde(default)]
    pub access_token: Option<String>,
    /// Lifetime in seconds, as sent: any JSON value (a number of any size or sign, a string, a
    /// float), judged by [`TokenResponse::ttl`], so an odd value does not lose the token.
    #[serde(default)]
    pub expires_in: Option<Box<serde_json::value::RawValue>>,
}

impl TokenResponse {
    /// Parse a token server's body (JSON; at most the caller's size limit).
    pub fn parse(body: &[u8]) -> Option<TokenResponse> {
        serde_json::from_slice(body).ok()
    }

    /// The lifetime in seconds: `expires_in` when it is a positive number of seconds (a JSON
    /// string of one counts; fractions round down), clamped to [`MAX_TOKEN_TTL_SECS`];
    /// otherwise [`DEFAULT_TOKEN_TTL_SECS`].
    pub fn ttl(&self) -> u64 {
        let Some(raw) = &self.expires_in else {
            return DEFAULT_TOKEN_TTL_SECS;
        };
        let t = raw.get().trim();
        let t = t
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(t);
        let secs = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            t.parse::<u64>().unwrap_or(u64::MAX)
        } else {
            // A float cast saturates (inf → u64::MAX, NaN → 0); negative numbers give 0.
            t.parse::<f64>().map_or(0, |f| f as u64)
        };
        match secs {
            0 => DEFAULT_TOKEN_TTL_SECS,
            s => s.min(MAX_TOKEN_TTL_SECS),
        }
    }

    /// The token, whichever field carries it, and its lifetime ([`ttl`](Self::ttl)).
    pub fn into_token(self) -> Option<(String, u64)> {
        let ttl = self.ttl();
        self.token
            .filter(|t| !t.is_empty())
            .or(self.access_token)
            .filter(|t| !t.is_empty())
            .map(|t| (t, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    /// Issue 14: `expires_in` of i64::MAX or u64::MAX overflowed an `Instant`; odd values lost
    /// the token. Every value now gives a lifetime in 1 ..= 24 h.
    #[test]
    fn odd_expires_in_values() {
        let ttl = |v: &str| {
            TokenResponse::parse(format!(r#"{{"token":"t","expires_in":{v}}}"#).as_bytes())
                .and_then(TokenResponse::into_token)
                .map(|(_, ttl)| ttl)
        };
        assert_eq!(ttl("300"), Some(300));
        assert_eq!(ttl("9223372036854775807"), Some(MAX_TOKEN_TTL_SECS));
        assert_eq!(ttl("18446744073709551615"), Some(MAX_TOKEN_TTL_SECS));
        assert_eq!(ttl("1e400"), Some(MAX_TOKEN_TTL_SECS));
        assert_eq!(ttl("1e300"), Some(MAX_TOKEN_TTL_SECS));
        assert_eq!(ttl("99999999999999999999999"), Some(MAX_TOKEN_TTL_SECS));
        assert_eq!(
            ttl(r#""99999999999999999999999""#),
            Some(MAX_TOKEN_TTL_SECS)
        );
        for odd in [
            "0",
            "-1",
            "-9223372036854775808",
            "0.5",
            "null",
            "true",
            r#""soon""#,
            "[]",
            "{}",
        ] {
            assert_eq!(ttl(odd), Some(DEFAULT_TOKEN_TTL_SECS), "{odd}");
        }
        assert!(TokenResponse::parse(b"<html>").is_none());
        let empty = TokenResponse::parse(br#"{"token":"","access_token":""}"#).unwrap();
        assert!(empty.into_token().is_none());
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credentials::Bearer("tok".into())).contains("tok"));
        let c = Credentials::IdentityToken {
            username: "u".into(),
            token: "refresh-me".into(),
        };
        assert!(!format!("{c:?}").contains("refresh-me"));
    }

    #[test]
    fn secrets_stay_off_plain_http_to_remote_hosts() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(may_send_secret(
            &u("https://registry.example.com/v2/"),
            false
        ));
        assert!(!may_send_secret(
            &u("http://registry.example.com/v2/"),
            false
        ));
        assert!(may_send_secret(&u("http://registry.example.com/v2/"), true));
        assert!(may_send_secret(&u("http://127.0.0.1:5000/v2/"), false));
        assert!(may_send_secret(&u("http://127.9.9.9:5000/v2/"), false));
        assert!(may_send_secret(&u("http://localhost:5000/token"), false));
        assert!(may_send_secret(&u("http://[::1]:5000/v2/"), false));
        assert!(!may_send_secret(&u("http://10.0.0.1:5000/v2/"), false));
        assert!(!may_send_secret(
            &u("http://localhost.example.com/v2/"),
            false
        ));
    }
}
