//! `mirror sync`'s registry clients and layouts: one client per host for the whole run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::app::flags::{AccessArgs, SharedAccessArgs};
use crate::app::settings::{AccessSettings, Side, TransferSettings};
use crate::error::{Error, Result};
use crate::interrupt::CancelToken;
use crate::model::reference::{ImageRef, RegistryRef};
use crate::transport::layout::Layout;
use crate::transport::registry::RegistryClient;

use crate::app::sync::config::RegistryConfig;
use crate::app::sync::store::{Gated, Shared};

/// Opens endpoints for a run: one HTTP client per registry host (connection pool and token
/// cache shared by every image), layouts created once.
pub(crate) struct Endpoints {
    pub(crate) registries: BTreeMap<String, RegistryConfig>,
    /// Access already resolved from command-line flags (`mirror verify`), by registry host.
    pub(crate) preset: HashMap<String, AccessSettings>,
    pub(crate) access: SharedAccessArgs,
    pub(crate) transfer: TransferSettings,
    pub(crate) cancel: CancelToken,
    pub(crate) shared: Shared,
    pub(crate) clients: Mutex<HashMap<String, HostClient>>,
    pub(crate) layouts: Mutex<HashSet<PathBuf>>,
}

/// One registry host's client and the outcome of its first `GET /v2/`, made once per run: it
/// settles HTTPS versus plain HTTP for loopback hosts and authenticates up front.
type HostClient = (
    Arc<RegistryClient>,
    Arc<tokio::sync::OnceCell<std::result::Result<(), Arc<Error>>>>,
);

/// A fresh error equal to `e` for the errors a ping can give (network, registry, auth), so a
/// host's failure can be reported by every item that needs it without pinging again.
fn replay(e: &Error, host: &str) -> Error {
    let root = match e.root() {
        Error::Registry(r) => Error::Registry(r.clone()),
        Error::Network {
            method,
            url,
            message,
            transient,
            https_to_http,
        } => Error::Network {
            method: method.clone(),
            url: url.clone(),
            message: message.clone(),
            transient: *transient,
            https_to_http: *https_to_http,
        },
        Error::Auth {
            registry,
            reason,
            credential_source,
            status,
        } => Error::Auth {
            registry: registry.clone(),
            reason: reason.clone(),
            credential_source: credential_source.clone(),
            status: *status,
        },
        other => Error::Internal(other.to_string()),
    };
    root.context(format!(
        "connecting to {host} (first tried earlier in this run)"
    ))
}

impl Endpoints {
    /// The registry hosts whose client talks plain HTTP after its first `GET /v2/` (a loopback
    /// registry without `plain-http: true` answers in plain HTTP): what `mirror client-config`
    /// marks insecure.
    pub(crate) fn plain_http_hosts(&self) -> Vec<String> {
        let clients = self.clients.lock().expect("not poisoned");
        let mut hosts: Vec<String> = clients
            .iter()
            .filter(|(_, (c, _))| c.base().starts_with("http://"))
            .map(|(h, _)| h.clone())
            .collect();
        hosts.sort();
        hosts
    }

    pub(crate) async fn client(&self, r: &RegistryRef) -> Result<Arc<RegistryClient>> {
        let (client, ready) = {
            let mut clients = self.clients.lock().expect("not poisoned");
            match clients.get(&r.registry) {
                Some(c) => c.clone(),
                None => {
                    let access = match self.preset.get(&r.registry) {
                        Some(a) => a.clone(),
                        None => {
                            let rc = self
                                .registries
                                .get(&r.registry)
                                .cloned()
                                .unwrap_or_default();
                            let args = AccessArgs {
                                creds: rc.credentials.as_ref().map(|c| c.0.clone()),
                                plain_http: rc.plain_http,
                                tls_verify: rc.tls_verify.unwrap_or(true),
                                cert_dir: rc.cert_dir.clone(),
                                ..AccessArgs::default()
                            };
                            AccessSettings::from_args(
                                Side::Source,
                                &args,
                                &self.access,
                                r,
                                &self.transfer,
                                &self.cancel,
                            )
                            .map_err(|e| e.context(format!("access to {}", r.registry)))?
                        }
                    };
                    let c: HostClient = (
                        Arc::new(RegistryClient::new(
                            r.api_host(),
                            access.auth,
                            access.client,
                        )?),
                        Arc::default(),
                    );
                    clients.insert(r.registry.clone(), c.clone());
                    c
                }
            }
        };
        let first = ready
            .get_or_init(|| async {
                client
                    .ping(&r.repository, false)
                    .await
                    .map_err(|e| Arc::new(e.context(format!("connecting to {}", r.registry))))
            })
            .await;
        match first {
            Ok(()) => Ok(client),
            Err(e) => Err(replay(e, &r.registry)),
        }
    }

    pub(crate) async fn source(&self, r: &ImageRef) -> Result<Gated> {
        match r {
            ImageRef::Registry(rr) => {
                let g = Gated::registry(
                    self.client(rr).await?,
                    &rr.repository,
                    false,
                    self.shared.clone(),
                );
                // For tests and tuning: the `tags/list` page size (`n=`).
                Ok(
                    match std::env::var("MIRROR_TAG_PAGE_SIZE")
                        .ok()
                        .and_then(|v| v.parse().ok())
                    {
                        Some(n) => g.with_tags_page_size(n),
                        None => g,
                    },
                )
            }
            ImageRef::Layout(l) => Ok(Gated::layout(
                Layout::open(&l.path)?.with_lock_timeout(self.transfer.lock_timeout),
                self.shared.clone(),
            )),
        }
    }

    /// `None`: a dry run whose layout target does not exist yet. Dry runs and verification
    /// ask for pull access only, so read-only credentials suffice.
    pub(crate) async fn target(&self, r: &ImageRef, dry_run: bool) -> Result<Option<Gated>> {
        match r {
            ImageRef::Registry(rr) => Ok(Some(Gated::registry(
                self.client(rr).await?,
                &rr.repository,
                !dry_run,
                self.shared.clone(),
            ))),
            ImageRef::Layout(l) if dry_run => match l.path.join("oci-layout").exists() {
                true => Ok(Some(Gated::layout(
                    Layout::open(&l.path)?,
                    self.shared.clone(),
                ))),
                false => Ok(None),
            },
            ImageRef::Layout(l) => {
                // Create each layout once, before any image writes to it, so two images cannot
                // race on a fresh index.json.
                let mut ready = self.layouts.lock().expect("not poisoned");
                if ready.insert(l.path.clone()) {
                    Layout::create(&l.path)?;
                }
                drop(ready);
                Ok(Some(Gated::layout(
                    Layout::create(&l.path)?.with_lock_timeout(self.transfer.lock_timeout),
                    self.shared.clone(),
                )))
            }
        }
    }
}
