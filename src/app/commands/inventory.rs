//! `mirror inventory`: which repositories (the REFs, the targets of a sync file), how to reach
//! them, the walk of each (`engine::inventory`), the sparse-index probe per registry, and the
//! sealed [`Inventory`] file or its table through the [`Printer`].
//!
//! Repositories are walked one after another, each with `--jobs` requests in flight. One
//! registry client per host serves every repository on it (one connection pool, one token
//! cache, one `GET /v2/`), as in `mirror sync`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::app::cli::{InventoryArgs, OutputFormat};
use crate::app::endpoint::interruptible;
use crate::app::flags::AccessArgs;
use crate::app::printer::{CliReporter, Printer};
use crate::app::settings::{AccessSettings, Side, TransferSettings};
use crate::app::sync::config::{self, RegistryConfig};
use crate::engine::inventory::{self, Scope};
use crate::error::{Error, Result};
use crate::exit;
use crate::interrupt::CancelToken;
use crate::model::delta::{
    repository_key, Checksummed, Inventory, RegistryFacts, SparseIndex, INVENTORY_FORMAT,
};
use crate::model::reference::{names_tag_or_digest, ImageRef, RegistryRef};
use crate::transport::layout::Layout;
use crate::transport::registry::{RegistryClient, RegistryRepo};
use crate::transport::Endpoint;

/// One repository to list.
struct Wanted {
    /// Registry or layout, without tag or digest.
    reference: ImageRef,
    /// Which of its roots.
    scope: Scope,
}

/// The repositories of the command line and the sync file, by [`repository_key`] (so each is
/// walked once, with the union of what was asked).
fn wanted(
    args: &InventoryArgs,
    cfg: Option<&config::Config>,
    printer: Printer,
) -> Result<BTreeMap<String, Wanted>> {
    let mut out: BTreeMap<String, Wanted> = BTreeMap::new();
    let mut add = |reference: ImageRef, scope: Scope| {
        let key = repository_key(&reference);
        match out.remove(&key) {
            Some(w) => out.insert(
                key,
                Wanted {
                    reference: w.reference,
                    scope: w.scope.merge(scope),
                },
            ),
            None => out.insert(key, Wanted { reference, scope }),
        };
    };
    for text in &args.references {
        let r: ImageRef = text
            .parse()
            .map_err(|e| Error::usage(format!("REF {text:?}: {e}")))?;
        let scope = match &r {
            ImageRef::Layout(l) if l.archive => {
                return Err(Error::usage_hint(
                    format!("REF {text:?}: an oci-archive is not an inventory place"),
                    "list a registry repository or an oci:DIR layout",
                ))
            }
            ImageRef::Layout(l) => match (&l.tag, &l.digest) {
                (None, None) => Scope::All,
                (t, d) => Scope::Only {
                    tags: t.iter().cloned().collect(),
                    digests: d.iter().cloned().collect(),
                },
            },
            ImageRef::Registry(_) if !names_tag_or_digest(text) => Scope::All,
            ImageRef::Registry(rr) => Scope::Only {
                tags: rr.tag.iter().cloned().collect(),
                digests: rr.digest.iter().cloned().collect(),
            },
        };
        add(bare(r), scope);
    }
    if let (Some(cfg), Some(file)) = (cfg, &args.file) {
        for img in &cfg.images {
            add(bare(img.target.reference.clone()), Scope::All);
        }
        for d in &cfg.discoveries {
            printer.warn(&format!(
                "{}: images[{}] (source-registry {}) is not covered: its target repositories come from the source's catalog, which inventory does not read; give them as REF",
                file.display(),
                d.entry,
                d.source
            ));
        }
    }
    Ok(out)
}

/// The repository itself: no tag, no digest.
fn bare(r: ImageRef) -> ImageRef {
    match r {
        ImageRef::Registry(rr) => ImageRef::Registry(RegistryRef {
            tag: None,
            digest: None,
            ..rr
        }),
        ImageRef::Layout(mut l) => {
            l.tag = None;
            l.digest = None;
            ImageRef::Layout(l)
        }
    }
}

/// One client per registry host, pinged once.
struct Clients<'a> {
    args: &'a InventoryArgs,
    registries: BTreeMap<String, RegistryConfig>,
    transfer: TransferSettings,
    cancel: &'a CancelToken,
    by_host: HashMap<String, Arc<RegistryClient>>,
}

impl Clients<'_> {
    /// The `--dest-*` flags, with a sync file's `registries:` entry filling in what they leave
    /// unset (as `mirror sync` reads that entry).
    fn access_args(&self, host: &str) -> AccessArgs {
        let mut a = self.args.dest.view();
        if let Some(rc) = self.registries.get(host) {
            if a.creds.is_none() && a.registry_token.is_none() {
                a.creds = rc.credentials.as_ref().map(|c| c.0.clone());
            }
            a.plain_http |= rc.plain_http;
            a.tls_verify &= rc.tls_verify.unwrap_or(true);
        }
        a
    }

    async fn client(&mut self, r: &RegistryRef) -> Result<Arc<RegistryClient>> {
        if let Some(c) = self.by_host.get(&r.registry) {
            return Ok(c.clone());
        }
        let access = AccessSettings::from_args(
            Side::Target,
            &self.access_args(&r.registry),
            &self.args.access,
            r,
            &self.transfer,
            self.cancel,
        )?;
        let client = Arc::new(RegistryClient::new(
            r.api_host(),
            access.auth,
            access.client,
        )?);
        client
            .ping(&r.repository, false)
            .await
            .map_err(|e| e.context(format!("connecting to {} for pull", r.registry)))?;
        self.by_host.insert(r.registry.clone(), client.clone());
        Ok(client)
    }
}

/// `mirror inventory`.
pub async fn inventory_command(
    args: &InventoryArgs,
    printer: Printer,
    cancel: &CancelToken,
) -> Result<u8> {
    let cfg = match &args.file {
        Some(f) => Some(config::load(f).map_err(Error::config)?),
        None => None,
    };
    let wanted = wanted(args, cfg.as_ref(), printer)?;
    let transfer = TransferSettings::from_args(&args.transfer);
    let mut clients = Clients {
        args,
        registries: cfg.map(|c| c.registries).unwrap_or_default(),
        transfer,
        cancel,
        by_host: HashMap::new(),
    };
    let created = crate::app::bundle::stamp::now_utc();
    let mut inv = Inventory::new(
        INVENTORY_FORMAT,
        created.clone(),
        format!("mirror {}", env!("CARGO_PKG_VERSION")),
    );
    // registry → its first repository (sorted), where a probe goes.
    let mut registries: BTreeMap<String, RegistryRef> = BTreeMap::new();
    for (key, w) in &wanted {
        let reporter = CliReporter::for_item(printer, key);
        let ep = match &w.reference {
            ImageRef::Registry(r) => {
                registries
                    .entry(r.registry.clone())
                    .or_insert_with(|| r.clone());
                let client = interruptible(cancel, clients.client(r)).await?;
                Endpoint::Registry(RegistryRepo::new(client, &r.repository, false))
            }
            ImageRef::Layout(l) if !l.path.join("oci-layout").exists() => {
                printer.warn(&format!(
                    "{key}: no OCI layout there (no oci-layout file); listed empty"
                ));
                inv.repositories.push(empty(key));
                continue;
            }
            ImageRef::Layout(l) => {
                Endpoint::Layout(Layout::open(&l.path)?.with_lock_timeout(transfer.lock_timeout))
            }
        };
        let walked = interruptible(
            cancel,
            inventory::walk(&ep, key, &w.scope, transfer.jobs, &reporter),
        )
        .await?;
        tracing::debug!(
            repository = key.as_str(),
            absent_children = walked.absent_children,
            absent_blobs = walked.absent_blobs,
            foreign_layers = walked.foreign_layers,
            "walked"
        );
        inv.repositories.push(walked.repository);
    }
    for (registry, r) in &registries {
        let sparse_index = if args.probe_sparse {
            probe(&mut clients, registry, r, &created, printer, cancel).await?
        } else {
            SparseIndex::Unknown
        };
        inv.registries.push(RegistryFacts {
            registry: registry.clone(),
            sparse_index,
        });
    }
    inv.normalise();
    let sealed = inv.seal();
    match printer.output {
        OutputFormat::Json => printer.out_bytes(&sealed),
        OutputFormat::Human => printer.inventory(&inv),
    }
    Ok(exit::OK)
}

/// `--probe-sparse` for one registry, in its first repository of the run.
async fn probe(
    clients: &mut Clients<'_>,
    registry: &str,
    r: &RegistryRef,
    created: &str,
    printer: Printer,
    cancel: &CancelToken,
) -> Result<SparseIndex> {
    let client = clients.client(r).await?;
    let repo = RegistryRepo::new(client, &r.repository, true);
    let p = interruptible(cancel, inventory::probe_sparse(&repo, registry, created)).await?;
    match p.sparse_index {
        SparseIndex::Unknown => printer.warn(&format!(
            "{registry}: sparse-index probe settled nothing: {}",
            p.answer
        )),
        v => printer.info_line(&format!(
            "{registry}: sparse indexes {} ({})",
            if v == SparseIndex::Accepted {
                "accepted"
            } else {
                "rejected"
            },
            p.answer
        )),
    }
    Ok(p.sparse_index)
}

fn empty(key: &str) -> crate::model::delta::Repository {
    crate::model::delta::Repository {
        name: key.to_string(),
        tags: vec![],
        manifests: vec![],
        blobs: vec![],
    }
}
