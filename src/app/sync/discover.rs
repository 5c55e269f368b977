//! Resolving `source-registry:` entries when a sync starts: list the registry's catalog
//! (`GET /v2/_catalog`, `Link` pages), keep the repositories in the organisation that pass
//! `repositories: {regex, exclude}`, and put one image entry per repository where the entry
//! stands in the file (target: `target-prefix` + the repository path). Registries that do not
//! serve the catalog (Docker Hub among them) make this a configuration error (exit 2) that
//! says so and suggests listing the repositories.

use std::path::Path;

use crate::app::printer::Printer;
use crate::error::{Error, Result};
use crate::transport::registry::Catalog;

use crate::app::sync::config::{Config, ConfigError, ImageConfig};
use crate::app::sync::endpoints::Endpoints;
use crate::app::sync::report::DiscoveryReport;

/// The `n` asked per catalog page (`MIRROR_CATALOG_PAGE_SIZE` overrides it, for tests and
/// tuning; registries may clamp it).
const CATALOG_PAGE: usize = 1000;

fn page_size() -> usize {
    std::env::var("MIRROR_CATALOG_PAGE_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(CATALOG_PAGE)
}

/// Resolve every `source-registry:` entry of `cfg` into image entries (in file order).
pub(crate) async fn resolve(
    cfg: &mut Config,
    eps: &Endpoints,
    file: &Path,
) -> Result<Vec<DiscoveryReport>> {
    let discoveries = std::mem::take(&mut cfg.discoveries);
    let mut reports = vec![];
    let mut found: Vec<Vec<ImageConfig>> = vec![];
    for d in &discoveries {
        let config_error = |message: String| {
            Error::config(ConfigError {
                file: file.display().to_string(),
                line: d.line,
                column: None,
                message: format!("images[{}].source-registry: {message}", d.entry),
                snippet: None,
            })
        };
        let client = eps.client(&d.source.client_ref()).await?;
        let catalog = client
            .catalog(page_size())
            .await
            .map_err(|e| e.context(format!("listing the repositories of {}", d.source)))?;
        let (all, pages) = match catalog {
            Catalog::Listed {
                repositories,
                pages,
            } => (repositories, pages),
            Catalog::Unavailable { status } => {
                let why = match status {
                    401 | 403 => "not allowed for this client",
                    _ => "not implemented there",
                };
                let hub = if d.source.registry == crate::model::reference::DOCKER_HUB {
                    " (Docker Hub serves no catalog)"
                } else {
                    ""
                };
                return Err(config_error(format!(
                    "{} does not serve its repository catalog{hub}: GET /v2/_catalog answered {status} ({why}); list the repositories as `source:` entries instead (with `target-prefix`, each maps the same way)",
                    d.source.registry
                )));
            }
        };
        let listed = all.len();
        let taken: Vec<String> = all.into_iter().filter(|r| d.takes(r)).collect();
        let images = taken
            .iter()
            .map(|r| d.image(r))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(config_error)?;
        reports.push(DiscoveryReport {
            image: d.entry,
            source: d.source.to_string(),
            target_prefix: d.prefix.to_string(),
            catalog_pages: pages,
            catalog_repositories: listed,
            repositories: taken,
        });
        found.push(images);
    }
    // Insert from the last entry back, so the earlier positions stay valid.
    for (d, images) in discoveries.iter().zip(found).rev() {
        cfg.images.splice(d.position..d.position, images);
    }
    Ok(reports)
}

/// Say what discovery found (human output; JSON has it in the summary).
pub(crate) fn show(printer: Printer, reports: &[DiscoveryReport]) {
    if printer.json() {
        return;
    }
    for r in reports {
        let mut text = format!(
            "discovered {} of {} repositories in {} ({} catalog page(s)) → {}/…\n",
            r.repositories.len(),
            r.catalog_repositories,
            r.source,
            r.catalog_pages,
            r.target_prefix
        );
        for repo in &r.repositories {
            text.push_str(&format!("  {repo}\n"));
        }
        if r.repositories.is_empty() {
            printer.warn(&format!(
                "images[{}]: no repository in {} passed `repositories:`",
                r.image, r.source
            ));
        }
        printer.info(&text);
    }
}
