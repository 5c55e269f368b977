//! From a run to files, for `mirror client-config` and `mirror sync --client-config DIR`: the
//! [`Model`] from the sync file and the item reports (what each target holds, as `mirror
//! verify` reads it), then the warnings, the plan (`--dry-run`), and the files, written under
//! DIR (each through a temporary file and a rename) or printed.

use std::collections::HashMap;
use std::path::Path;

use crate::app::client_config::mapping::{self, Discovered};
use crate::app::client_config::model::{one_line, Access, Format, Model, Observed};
use crate::app::client_config::render::render;
use crate::app::metrics::write_atomically;
use crate::app::printer::Printer;
use crate::app::sync::config::{Config, Discovery};
use crate::app::sync::report::{DiscoveryReport, ItemReport};
use crate::error::{Error, Result};

/// What the items hold, from their reports; when an item was reported twice (`sync --verify`
/// reports it synced, then verified), the later report counts.
pub fn observed(reports: &[ItemReport]) -> Vec<Observed> {
    let mut out: Vec<Observed> = vec![];
    let mut at: HashMap<(usize, String), usize> = HashMap::new();
    for r in reports {
        let o = Observed {
            image: r.image,
            source: r.source.clone(),
            state: r.target_state.clone(),
            error: r.error.as_deref().map(one_line),
        };
        match at.get(&(r.image, r.source.clone())) {
            Some(&k) => out[k] = o,
            None => {
                at.insert((r.image, r.source.clone()), out.len());
                out.push(o);
            }
        }
    }
    out
}

/// The model of a run: `cfg` after discovery, `discoveries` as the file had them (before),
/// `found` what each one found, `reports` the items, `plain_http` the hosts whose clients
/// settled on plain HTTP.
pub fn model(
    file: &Path,
    cfg: &Config,
    discoveries: &[Discovery],
    found: &[DiscoveryReport],
    reports: &[ItemReport],
    plain_http: &[String],
) -> Result<Model> {
    let counts: Vec<usize> = found.iter().map(|d| d.repositories.len()).collect();
    let ranges: Vec<Discovered> = mapping::discovered(discoveries, &counts);
    // Every registry host's access, read once (a certificate directory that cannot be read is
    // an error naming it).
    let mut access: HashMap<String, Access> = HashMap::new();
    for img in &cfg.images {
        for r in [&img.source.reference, &img.target.reference] {
            if let crate::model::reference::ImageRef::Registry(rr) = r {
                if !access.contains_key(&rr.registry) {
                    let seen = plain_http.contains(&rr.registry);
                    let a = mapping::access(&cfg.registries, &rr.registry, seen).map_err(|e| {
                        Error::usage_hint(
                            format!("registries.{}.cert-dir: {e}", rr.registry),
                            "the client configuration references the CA files of that directory",
                        )
                    })?;
                    access.insert(rr.registry.clone(), a);
                }
            }
        }
    }
    let lookup = |h: &str| access.get(h).cloned().unwrap_or_default();
    let (maps, left_out) = mapping::mappings(cfg, &ranges, &lookup);
    Ok(Model::build(
        &file.display().to_string(),
        &maps,
        &observed(reports),
        left_out,
    ))
}

/// Print the warnings, then the plan (`dry_run`), or write the files of `formats` under `dir`,
/// or print them to stdout (no `dir`).
pub fn emit(
    model: &Model,
    formats: &[Format],
    dir: Option<&Path>,
    dry_run: bool,
    printer: Printer,
) -> Result<()> {
    let mut warnings = model.warnings();
    let mut files = vec![];
    for f in formats {
        let r = render(model, *f);
        for w in r.warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        files.extend(r.files);
    }
    for w in &warnings {
        printer.warn(w);
    }
    if model.sources.is_empty() {
        printer
            .warn("no image of the file maps a registry to a registry: the files name no mirror");
    }
    if dry_run {
        for l in model.plan() {
            printer.out_line(&l);
        }
        for f in &files {
            match dir {
                Some(d) => printer.out_line(&format!("would write {}", d.join(&f.path).display())),
                None => printer.out_line(&format!("would print {}", f.path.display())),
            }
        }
        return Ok(());
    }
    let Some(dir) = dir else {
        let many = files.len() > 1;
        for f in &files {
            if many {
                printer.out_line(&format!("# ==> {} <==", f.path.display()));
            }
            printer.out(&f.text);
        }
        return Ok(());
    };
    for f in &files {
        let path = dir.join(&f.path);
        let io = |e: std::io::Error| Error::Io {
            what: format!("writing {}", path.display()),
            source: e,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        write_atomically(&path, f.text.as_bytes()).map_err(io)?;
        printer.info_line(&format!("wrote {}", path.display()));
    }
    Ok(())
}
