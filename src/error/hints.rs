//! Advice shown under an error: found by looking at its root cause.

use super::retry_after::RetryAfter;
use super::Error;
use crate::model::manifest::ManifestError;

/// Who reads a hint: someone who ran a command with flags, or someone who wrote a sync file.
/// The advice is the same; its words are the ones the reader can act on (`--on-reject full`
/// or `on-reject: full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintStyle {
    /// Command-line flags (`mirror copy`, `verify`, `inspect`, `bundle apply`).
    Flags,
    /// Keys of the sync file (`mirror sync`).
    SyncFile,
}

impl HintStyle {
    /// `flag` on the command line, `key` in a sync file.
    fn say<'a>(self, flag: &'a str, key: &'a str) -> &'a str {
        match self {
            HintStyle::Flags => flag,
            HintStyle::SyncFile => key,
        }
    }
}

impl Error {
    /// Advice for the user of a command line, found by looking at the root cause.
    pub fn hints(&self) -> Vec<String> {
        self.hints_for(HintStyle::Flags)
    }

    /// Advice in the words of `style`'s reader.
    pub fn hints_for(&self, style: HintStyle) -> Vec<String> {
        let mut h = vec![];
        if let Some(asked) = refused_retry_after(self) {
            h.push(format!("try again {}, as the registry asked", asked.when()));
        }
        match self.root() {
            Error::Usage { hint: Some(hint), .. } => h.push(hint.clone()),
            Error::Config(_) => {
                h.push("nothing was run; the file format is in docs/sync.md".into())
            }
            Error::BodyCutShort { source, .. } if source.to_string().to_ascii_lowercase().contains("timed out") => h.push(
                "the registry stopped sending mid-body for longer than --timeout on every read: on a slow link or a busy registry, raise --timeout".into(),
            ),
            Error::BodyCutShort { .. } => h.push(
                "the registry answered, so its host, port and credentials are right, but the body ended early on every read: a proxy or load balancer between here and the registry that cuts transfers, or the registry's storage backend failing mid-read, is the likely cause (their logs name the blob); a rerun copies only what is missing".into(),
            ),
            Error::Network { https_to_http: true, .. } => h.push(format!(
                "the registry seems to speak plain HTTP: {}",
                style.say("pass --src-plain-http or --dest-plain-http", "set `plain-http: true` for its host under `registries:`")
            )),
            Error::Network { message, .. } if tls_hint(message).is_some() => {
                h.push(tls_hint(message).unwrap_or_default().into())
            }
            Error::Network { url, message, .. } => {
                h.push("check that the registry host and port are right and reachable from here".into());
                // With TLS 1.3 a server refusing a missing client certificate often just closes
                // the connection after the handshake, and its alert is lost.
                let m = message.to_ascii_lowercase();
                if url.starts_with("https://") && ["channel closed", "connection closed", "connection reset", "unexpected eof", "broken pipe"].iter().any(|s| m.contains(s)) {
                    h.push("if the registry requires a client certificate (mutual TLS), put client.cert and client.key in the --src-cert-dir/--dest-cert-dir directory".into());
                }
            }
            Error::Registry(r) if r.status == 400 && r.body.as_deref().is_some_and(|b| b.contains("HTTP request to an HTTPS server")) => h.push(
                format!("the registry speaks HTTPS: {}", style.say("drop --src-plain-http/--dest-plain-http", "remove `plain-http: true` for its host under `registries:`")),
            ),
            Error::Auth { credential_source, reason, .. } if reason.starts_with("DELETE ") => {
                h.push(format!("credentials tried: {credential_source}"));
                h.push("deleting needs the `delete` right: a token for `repository:NAME:delete` (distribution's token auth asks for that action on every DELETE), or an account allowed to delete artifacts (Harbor: a robot account with the delete permission); docs/registries.md §Deletes".into());
            }
            Error::Registry(r) if r.method == "DELETE" && (r.status == 405 || r.has_code("UNSUPPORTED")) => h.push(
                "the registry does not allow deletes: distribution needs `storage.delete.enabled: true` in its configuration (off by default); elsewhere allow this account to delete manifests, or leave `prune` off for this target (docs/registries.md §Deletes)".into(),
            ),
            Error::Registry(r) if r.method == "DELETE" && r.status == 400 => h.push(
                "the registry refused this kind of delete (distribution 2.8 deletes manifests by digest only, never a tag alone; docs/registries.md §Deletes)".into(),
            ),
            Error::Auth { credential_source, status, registry, .. } => {
                h.push(format!("credentials tried: {credential_source}"));
                if *status == Some(403) {
                    h.push("the account is known but lacks pull or push rights on that repository".into());
                } else {
                    h.push(format!("log in with `docker login {registry}` (or podman login), or {}", style.say("pass --src-creds/--dest-creds", "set `credentials:` for its host under `registries:`")));
                }
            }
            Error::Registry(r) if r.status == 401 => h.push(
                format!("the registry wants credentials: run `docker login`, or {}", style.say("pass --src-creds/--dest-creds", "set `credentials:` for its host under `registries:`")),
            ),
            Error::Registry(r) if r.status == 403 => h.push(
                "the account lacks pull or push rights on that repository".into(),
            ),
            Error::Registry(r) if r.status == 429 => h.push(
                format!("the registry is rate limiting: {}, authenticate, or retry later", style.say("lower --jobs", "lower --jobs or `jobs:`")),
            ),
            Error::Registry(r) if r.status == 404 && (r.has_code("MANIFEST_UNKNOWN") || r.has_code("NAME_UNKNOWN")) => {
                h.push("check the repository name and tag; `mirror inspect` shows what a reference resolves to".into())
            }
            Error::SparseRejected(s) => {
                if let Some(r) = &s.response {
                    h.push(format!("the registry answered {r}"));
                }
                if let Some(by) = &s.recorded_by {
                    h.push(format!("known before anything was written: {by}"));
                }
                if let Some(p) = &s.probe {
                    h.push(format!("conclusive: the registry first named only selected children (it may stop at the first missing child), then also refused probe index {p}, which lists only the children this copy leaves out (pushed by digest, untagged)"));
                }
                h.push(match style {
                    HintStyle::Flags => "copy every platform instead (no --platform), or pass --on-reject full to copy the missing children too".into(),
                    HintStyle::SyncFile => "copy every platform instead (no `platforms:` for the entry or its defaults), or set `on-reject: full` to copy the missing children too".into(),
                });
                h.push(format!(
                    "{} pushes a new, smaller index instead (new digest: signatures over the original index will not verify)",
                    style.say("--on-reject filter", "`on-reject: filter`")
                ));
                h.push("to accept sparse indexes: distribution v3 `validation.manifests.indexes.platforms: none`; Quay ≥ 3.17 `FEATURE_SPARSE_INDEX: true`".into());
            }
            Error::LeftOutMissing(_) => {
                h.push("the inventory or ledger was wrong, or the blob was deleted since: take a fresh inventory on this side (`mirror inventory -f mirror.yaml --probe-sparse --output json > inventory.json`), write a new bundle against it on the near side, and apply that".into());
                h.push("the other images of the bundle were applied; a rerun of the apply after the blob is back completes this one".into());
            }
            Error::NothingSelected { .. } => {
                h.push("patterns look like os/arch[/variant][:os.version], e.g. linux/amd64, linux/arm/v7, 'linux/*'".into())
            }
            Error::ForeignUrlsRejected { .. } => {
                h.push("allow the URLs on the target: distribution `validation.manifests.urls.allow: ['^https?://([^/]+\\.)*example\\.com/']` (or `validation.disabled: true`); by default distribution allows none".into());
                h.push(format!("{} copies the layer data too, but the manifest keeps its URLs: removing them would change its digest and the index's", style.say("--include-foreign-layers", "`include-foreign-layers: true`")));
            }
            Error::Interrupted => h.push(
                "run the same command again to finish: what is already on the target is not copied again".into(),
            ),
            Error::Manifest { source: ManifestError::Schema1, .. } => h.push(
                "schema1 is deprecated and unsupported: convert the image upstream (e.g. rebuild and push it)".into(),
            ),
            _ => {}
        }
        h
    }
}

/// The `Retry-After` a retry loop refused to wait for, if that is why `e` gave up.
fn refused_retry_after(e: &Error) -> Option<RetryAfter> {
    match e {
        Error::RetryAfterTooLong { asked, .. } => Some(*asked),
        Error::Context { source, .. } => refused_retry_after(source),
        _ => None,
    }
}

/// Advice for a TLS failure, from the transport's (rustls) message.
fn tls_hint(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    if m.contains("invalid peer certificate") {
        Some("the registry's certificate is not trusted here: put its CA certificate (PEM) in DIR/ca.crt and pass --src-cert-dir/--dest-cert-dir DIR (or use /etc/containers/certs.d/HOST/), or pass --src-tls-verify=false/--dest-tls-verify=false")
    } else if [
        "certificate required",
        "certificaterequired",
        "bad certificate",
        "badcertificate",
        "unknown ca",
        "unknownca",
    ]
    .iter()
    .any(|s| m.contains(s))
    {
        Some("the registry wants a client certificate it trusts (mutual TLS): put client.cert and client.key in the --src-cert-dir/--dest-cert-dir directory")
    } else {
        None
    }
}
