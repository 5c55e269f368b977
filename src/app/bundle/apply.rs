//! The far side of a delta bundle: `mirror bundle check DIR` and `mirror bundle apply DIR`.
//!
//! 1. `bundle.json` is opened (format and checksum), then every volume is checked (present,
//!    size, SHA-256) before a byte of any is unpacked: a missing or damaged volume is named and
//!    nothing is pushed.
//! 2. The layout is the bundle's directory, or the volumes unpacked into a temp directory.
//! 3. Per image, in order: every blob the bundle left out for it must be on the target (HEAD),
//!    or is mounted from the repository the inventory named. One that is not fails that image
//!    (`Error::LeftOutMissing`: the blob, the images that need it, the claim) before anything
//!    of it is written; the others go on.
//! 4. The image goes through the use case (`engine::image::mirror_image`), layout → target,
//!    tag last, like any copy: a rerun skips what is there, so an interrupted apply resumes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde::Serialize;

use crate::app::bundle::prune_apply::{apply_prune, print as print_pruned, PruneApplied};
use crate::app::cli::BundleApplyArgs;
use crate::app::endpoint::open_endpoint;
use crate::app::printer::{CliReporter, Printer};
use crate::app::settings::{EndpointSettings, Side, TransferSettings};
use crate::engine::artifacts::ArtifactOptions;
use crate::engine::copy::OnReject;
use crate::engine::image::{mirror_image, ImageAction, ImageJob, Mode, TargetSlot};
use crate::engine::progress::Reporter;
use crate::engine::select::Selector;
use crate::error::{Error, ErrorKind, LeftOutMissing, Result};
use crate::exit;
use crate::interrupt::CancelToken;
use crate::model::delta::{
    BundleImage, BundleManifest, Checksummed, LeftOut, BUNDLE_FILE, BUNDLE_FORMAT,
};
use crate::model::digest::Digest;
use crate::model::manifest::Descriptor;
use crate::model::reference::ImageRef;
use crate::transport::layout::Layout;
use crate::transport::registry::{RegistryClient, RegistryRepo};
use crate::transport::{Endpoint, Storage};

/// Open `DIR/bundle.json`, checking its format and checksum.
pub fn open_manifest(dir: &Path) -> Result<BundleManifest> {
    let path = dir.join(BUNDLE_FILE);
    let bytes = std::fs::read(&path).map_err(|e| Error::Io {
        what: format!("reading the bundle manifest {}", path.display()),
        source: e,
    })?;
    BundleManifest::open(&bytes, &path, &[BUNDLE_FORMAT]).map_err(|e| {
        Error::usage_hint(
            e.to_string(),
            "copy bundle.json again from the near side (it is small)",
        )
    })
}

/// Check the manifest and every volume; nothing is unpacked. `hash`: also each volume's
/// SHA-256 (`bundle check`); the apply checks presence and sizes only, and the unpack hashes
/// each volume as it reads it, before anything is pushed, so the volumes are read once.
pub async fn check(dir: &Path, hash: bool) -> Result<BundleManifest> {
    let m = open_manifest(dir)?;
    match &m.layout {
        Some(l) => {
            let p = dir.join(l);
            if !p.join("oci-layout").is_file() {
                return Err(Error::Layout {
                    path: p.display().to_string(),
                    reason: "the bundle's layout directory is missing or incomplete".into(),
                });
            }
        }
        None => {
            let (d, v) = (dir.to_path_buf(), m.volumes.clone());
            tokio::task::spawn_blocking(move || match hash {
                true => crate::transport::volumes::check(&d, &v),
                false => crate::transport::volumes::check_present(&d, &v).map(drop),
            })
            .await
            .map_err(|e| Error::Internal(format!("checking volumes: {e}")))??;
        }
    }
    Ok(m)
}

/// How one left-out blob stands on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOutState {
    /// Already in the target repository.
    Present,
    /// Mounted from the repository the inventory named.
    Mounted,
    /// Dry run: the repository the inventory named has it.
    Mountable,
    /// Nowhere to be found.
    Missing,
}

/// The kebab-case name of a state, as the report counts it.
fn state_name(s: LeftOutState) -> String {
    match s {
        LeftOutState::Present => "present",
        LeftOutState::Mounted => "mounted",
        LeftOutState::Mountable => "mountable",
        LeftOutState::Missing => "missing",
    }
    .to_string()
}

/// One image's result.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedImage {
    /// The target.
    pub target: String,
    /// The digest the bundle holds for it.
    pub digest: String,
    /// `copied`, `repaired`, `up-to-date`, `would-copy`, … or `failed`.
    pub action: String,
    /// What the target tag named before.
    pub state_before: Option<String>,
    /// Left-out blobs by state.
    pub left_out: BTreeMap<String, usize>,
    /// Blobs pushed from the bundle.
    pub blobs_copied: u64,
    /// Their bytes.
    pub bytes_copied: u64,
    /// Dry run: bytes the copy would push at most.
    pub bytes_planned: Option<u64>,
    /// The failure.
    pub error: Option<String>,
}

/// `mirror bundle apply`'s report.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// The bundle id.
    pub bundle: String,
    /// Dry run.
    pub dry_run: bool,
    /// Bytes the bundle carries (manifests and blobs).
    pub carried_bytes: u64,
    /// Bytes a full bundle of the same images would carry (the left-out blobs too).
    pub full_bytes: u64,
    /// Per image, in bundle order.
    pub images: Vec<AppliedImage>,
    /// Images applied (or, dry run, that would be).
    pub applied: usize,
    /// Images that failed.
    pub failed: usize,
    /// Seconds.
    pub duration_seconds: f64,
    /// The exit code.
    pub exit_code: u8,
    /// `--prune`: the bundle's deletion plan as applied (absent without a plan or the flag).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prune: Vec<PruneApplied>,
}

struct Env<'a> {
    args: &'a BundleApplyArgs,
    transfer: TransferSettings,
    cancel: &'a CancelToken,
    manifest: &'a BundleManifest,
    /// One client per registry host ([`Env::open`]).
    clients: std::sync::Mutex<HashMap<String, Arc<RegistryClient>>>,
    /// `manifest.left_out` by (target repository, digest).
    claims: HashMap<(&'a str, &'a Digest), &'a LeftOut>,
}

impl Env<'_> {
    /// A target (or mount source): one client per registry host for the whole apply, so
    /// credentials are resolved (and a password asked or read from stdin) once per host, and the
    /// connection pool and tokens are shared.
    async fn open(&self, r: ImageRef, push: bool) -> Result<Endpoint> {
        let ImageRef::Registry(rr) = &r else {
            let s = EndpointSettings::new(
                r,
                Side::Target,
                &self.args.dest.view(),
                &self.args.access,
                &self.transfer,
                self.cancel,
            )?;
            return open_endpoint(&s, push, self.transfer.lock_timeout).await;
        };
        let known = self
            .clients
            .lock()
            .expect("not poisoned")
            .get(&rr.registry)
            .cloned();
        let client = match known {
            Some(c) => c,
            None => {
                let s = EndpointSettings::new(
                    r.clone(),
                    Side::Target,
                    &self.args.dest.view(),
                    &self.args.access,
                    &self.transfer,
                    self.cancel,
                )?;
                let c = Arc::new(RegistryClient::new(rr.api_host(), s.auth, s.client)?);
                RegistryRepo::new(c.clone(), &rr.repository, push)
                    .ping()
                    .await
                    .map_err(|e| e.context(format!("connecting to {}", rr.registry)))?;
                self.clients
                    .lock()
                    .expect("not poisoned")
                    .entry(rr.registry.clone())
                    .or_insert(c)
                    .clone()
            }
        };
        Ok(Endpoint::Registry(RegistryRepo::new(
            client,
            &rr.repository,
            push,
        )))
    }

    /// Every image of the bundle that needs `left`.
    fn needed_by(&self, left: &LeftOut) -> Vec<String> {
        self.manifest
            .images
            .iter()
            .filter(|i| i.repository == left.repository && i.left_out.contains(&left.digest))
            .map(|i| i.target.clone())
            .collect()
    }

    /// Check (and mount) the blobs the bundle left out for `img`: HEADs `--jobs` at a time, one
    /// endpoint per mount source, and nothing asked twice for one repository (`present` holds
    /// what earlier images of it confirmed).
    async fn left_out(
        &self,
        img: &BundleImage,
        dst: &Endpoint,
        states: &mut BTreeMap<String, usize>,
        present: &mut HashSet<Digest>,
    ) -> Result<()> {
        let mut todo: Vec<(&LeftOut, Descriptor)> = vec![];
        for d in &img.left_out {
            let Some(&left) = self.claims.get(&(img.repository.as_str(), d)) else {
                return Err(Error::Internal(format!(
                    "bundle.json lists {d} as left out for {} without saying who claimed it",
                    img.target
                )));
            };
            if present.contains(d) {
                *states.entry(state_name(LeftOutState::Present)).or_default() += 1;
                continue;
            }
            let desc = Descriptor {
                media_type: "application/octet-stream".into(),
                digest: d.clone(),
                size: left.size,
                platform: None,
                artifact_type: None,
                annotations: Default::default(),
                urls: vec![],
            };
            todo.push((left, desc));
        }
        let jobs = self.transfer.jobs.max(1);
        let ctx =
            |e: Error, d: &Digest, place: &str| e.context(format!("checking blob {d} on {place}"));
        let heads: Vec<Result<bool>> = futures_util::stream::iter(&todo)
            .map(|(_, desc)| async move {
                dst.has_blob(desc)
                    .await
                    .map_err(|e| ctx(e, &desc.digest, &img.target))
            })
            .buffered(jobs)
            .collect()
            .await;
        let mut results: Vec<LeftOutState> = vec![];
        let mut sources: BTreeMap<&str, Endpoint> = BTreeMap::new();
        for ((left, desc), head) in todo.iter().zip(heads) {
            let mut state = match head? {
                true => LeftOutState::Present,
                false => LeftOutState::Missing,
            };
            if let (LeftOutState::Missing, Some(from)) = (state, &left.mount_from) {
                if !sources.contains_key(from.as_str()) {
                    let from_ref: ImageRef = from
                        .parse()
                        .map_err(|e| Error::Internal(format!("mount source {from}: {e}")))?;
                    sources.insert(from, self.open(from_ref, false).await?);
                }
                let src = &sources[from.as_str()];
                let found = if self.args.dry_run {
                    src.has_blob(desc).await
                } else {
                    dst.try_mount(desc, src).await
                };
                state = match (
                    found.map_err(|e| ctx(e, &desc.digest, from))?,
                    self.args.dry_run,
                ) {
                    (true, true) => LeftOutState::Mountable,
                    (true, false) => LeftOutState::Mounted,
                    (false, _) => LeftOutState::Missing,
                };
            }
            results.push(state);
        }
        let mut first_missing: Option<Error> = None;
        for ((left, desc), state) in todo.iter().zip(results) {
            *states.entry(state_name(state)).or_default() += 1;
            match state {
                LeftOutState::Present | LeftOutState::Mounted => {
                    present.insert(desc.digest.clone());
                }
                LeftOutState::Mountable => {}
                LeftOutState::Missing => {
                    first_missing.get_or_insert_with(|| {
                        Error::LeftOutMissing(Box::new(LeftOutMissing {
                            target: img.target.clone(),
                            digest: desc.digest.clone(),
                            size: left.size,
                            claim: left.claimed_by.to_string(),
                            mount_from: left.mount_from.clone(),
                            needed_by: self.needed_by(left),
                        }))
                    });
                }
            }
        }
        match first_missing {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Apply one image.
    async fn image(
        &self,
        img: &BundleImage,
        src: &Arc<Endpoint>,
        printer: Printer,
        out: &mut AppliedImage,
        present: &mut HashSet<Digest>,
    ) -> Result<()> {
        let far: ImageRef = img.target.parse().map_err(|e| {
            Error::usage(format!(
                "bundle.json names an invalid target {}: {e}",
                img.target
            ))
        })?;
        let dst = Arc::new(self.open(far.clone(), !self.args.dry_run).await?);
        self.left_out(img, &dst, &mut out.left_out, present).await?;
        let reporter = Arc::new(CliReporter::for_item(printer, &img.target));
        let mut selector = Selector::all();
        selector.include_foreign = true;
        let job = ImageJob {
            source_reference: img.layout_ref.clone(),
            target_tag: far.tag().map(str::to_string),
            source_text: format!("bundle {} ({})", self.manifest.id, img.layout_ref),
            target_text: img.target.clone(),
            selector,
            on_reject: self.args.on_reject.into(),
            jobs: self.transfer.jobs,
            retry: self.transfer.retry,
            // Whatever referrers and digest tags the near side put into the bundle.
            artifacts: ArtifactOptions {
                referrers: true,
                types: Default::default(),
                digest_tags: true,
                attestations: true,
                include_foreign: true,
                jobs: self.transfer.jobs,
            },
            mode: if self.args.dry_run {
                Mode::DryRun
            } else {
                Mode::Write
            },
            require_platforms: false,
            dry_run_details: false,
            cache: None,
            gate: None,
            write_lock: None,
            cancel: self.cancel.clone(),
            signatures: Default::default(),
            delta: None,
            known_blobs: Arc::new(present.clone()),
            transfer: Default::default(),
            site_signing: None,
        };
        let r: Arc<dyn Reporter> = reporter.clone();
        let o = mirror_image(&job, src, TargetSlot::Open(dst), &r).await;
        reporter.finish();
        let o = o?;
        out.state_before = Some(o.before.name().to_string());
        out.action = serde_json::to_value(o.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.bytes_planned = o.planned_bytes;
        if let Some(c) = &o.copy {
            out.blobs_copied = c.blobs.copied;
            out.bytes_copied = c.blobs.copied_bytes;
        }
        let expect_filtered = job.on_reject == OnReject::Filter;
        if let (false, Some(at)) = (expect_filtered, o.resolves_to()) {
            if at != &img.digest && o.action != ImageAction::WouldCopy {
                return Err(Error::Internal(format!(
                    "{} resolves to {at} after the apply, not to the bundle's {}",
                    img.target, img.digest
                )));
            }
        }
        Ok(())
    }
}

/// `mirror bundle apply DIR`: every image of the bundle, repositories in parallel; a line per
/// image as it ends (human output). The caller prints the report.
pub async fn apply(
    args: &BundleApplyArgs,
    printer: Printer,
    cancel: &CancelToken,
) -> Result<ApplyReport> {
    let started = Instant::now();
    let m = check(&args.dir, false).await?;
    let (layout_dir, _unpacked): (PathBuf, Option<tempfile::TempDir>) = match &m.layout {
        Some(l) => (args.dir.join(l), None),
        None => {
            let base = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
            let tmp = tempfile::Builder::new()
                .prefix("mirror-bundle-")
                .tempdir_in(&base)
                .map_err(|e| Error::Io {
                    what: format!(
                        "creating a directory to unpack into under {}",
                        base.display()
                    ),
                    source: e,
                })?;
            let (d, v, dest) = (
                args.dir.clone(),
                m.volumes.clone(),
                tmp.path().to_path_buf(),
            );
            tokio::task::spawn_blocking(move || crate::transport::volumes::unpack(&d, &v, &dest))
                .await
                .map_err(|e| Error::Internal(format!("unpacking volumes: {e}")))??;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    let src = Arc::new(Endpoint::Layout(Layout::open(&layout_dir)?));
    let env = Env {
        args,
        transfer: TransferSettings::from_args(&args.transfer),
        cancel,
        manifest: &m,
        clients: Default::default(),
        claims: m
            .left_out
            .iter()
            .map(|l| ((l.repository.as_str(), &l.digest), l))
            .collect(),
    };
    let _writing = (!args.dry_run).then(|| cancel.writing());
    let mut report = ApplyReport {
        bundle: m.id.clone(),
        dry_run: args.dry_run,
        carried_bytes: m.totals.delta_bytes(),
        full_bytes: m.totals.full_bytes(),
        images: vec![],
        applied: 0,
        failed: 0,
        duration_seconds: 0.0,
        exit_code: exit::OK,
        prune: vec![],
    };
    // Repositories in parallel (--parallel), the images of one repository one after another:
    // distribution 2.8 answers concurrent pushes of one blob into one repository with spurious
    // errors (as sync's one writer per target repository).
    let mut groups: Vec<Vec<(usize, &BundleImage)>> = vec![];
    for (k, img) in m.images.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|g| g[0].1.repository == img.repository)
        {
            Some(g) => g.push((k, img)),
            None => groups.push(vec![(k, img)]),
        }
    }
    let results: Vec<Vec<(usize, AppliedImage, bool)>> = futures_util::stream::iter(groups)
        .map(|group| {
            let (env, src) = (&env, &src);
            async move {
                let mut done = vec![];
                // Left-out blobs the repository was found to hold, for its later images.
                let mut present = HashSet::new();
                for (k, img) in group {
                    if cancel.is_cancelled() {
                        break;
                    }
                    let mut out = AppliedImage {
                        target: img.target.clone(),
                        digest: img.digest.to_string(),
                        action: String::new(),
                        state_before: None,
                        left_out: BTreeMap::new(),
                        blobs_copied: 0,
                        bytes_copied: 0,
                        bytes_planned: None,
                        error: None,
                    };
                    let ok = match env.image(img, src, printer, &mut out, &mut present).await {
                        Ok(()) => true,
                        Err(e) if e.kind() == ErrorKind::Interrupted => break,
                        Err(e) => {
                            out.action = "failed".into();
                            printer.error(&e);
                            out.error = Some(crate::app::sync::output::error_text(
                                &e,
                                crate::error::hints::HintStyle::Flags,
                            ));
                            false
                        }
                    };
                    print_applied(printer, &out);
                    done.push((k, out, ok));
                }
                done
            }
        })
        .buffer_unordered(usize::from(args.parallel))
        .collect()
        .await;
    cancel.check()?;
    let mut results: Vec<(usize, AppliedImage, bool)> = results.into_iter().flatten().collect();
    results.sort_by_key(|(k, _, _)| *k);
    match (m.prune.is_empty(), args.prune) {
        (true, _) => {}
        (false, true) => {
            let failed: HashSet<String> = results
                .iter()
                .filter(|(_, _, ok)| !ok)
                .map(|(k, _, _)| m.images[*k].repository.clone())
                .collect();
            let open = |r: ImageRef| -> BoxFuture<'_, Result<Endpoint>> {
                Box::pin(env.open(r, !args.dry_run))
            };
            let jobs = env.transfer.jobs;
            report.prune =
                apply_prune(&m.prune, &failed, &open, (args.dry_run, args.prune_max, jobs)).await;
            print_pruned(printer, &report.prune);
        }
        (false, false) => printer.info_line(&format!(
            "bundle {}: carries a deletion plan of {} tag(s) for the far side; pass --prune to apply it",
            m.id,
            m.prune.len()
        )),
    }
    for (_, out, ok) in results {
        match ok {
            true => report.applied += 1,
            false => report.failed += 1,
        }
        report.images.push(out);
    }
    report.duration_seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    report.exit_code = if report.failed > 0 || report.prune.iter().any(|p| p.error.is_some()) {
        exit::PARTIAL_FAILURE
    } else {
        exit::OK
    };
    Ok(report)
}

/// One applied image, as a line (human output).
fn print_applied(printer: Printer, a: &AppliedImage) {
    if printer.json() {
        return;
    }
    let left: Vec<String> = a.left_out.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let left = if left.is_empty() {
        String::new()
    } else {
        format!("; left-out blobs: {}", left.join(", "))
    };
    printer.out_line(&format!(
        "{:<12} {}@{}  {} blob(s) pushed, {} bytes{left}",
        a.action, a.target, a.digest, a.blobs_copied, a.bytes_copied
    ));
}
