//! `mirror inspect`: what a reference resolves to, read-only.

use std::sync::Arc;

use crate::app::cli::{InspectArgs, OutputFormat};
use crate::app::endpoint::open_endpoint;
use crate::app::printer::{CliReporter, Printer};
use crate::app::settings::InspectSettings;
use crate::engine::progress::Reporter;
use crate::engine::resolve;
use crate::error::Result;
use crate::exit;
use crate::interrupt::CancelToken;

/// `mirror inspect`.
pub async fn inspect_command(
    a: &InspectArgs,
    printer: Printer,
    cancel: &CancelToken,
) -> Result<u8> {
    let s = InspectSettings::from_args(a, cancel)?;
    let reference = s.source.reference.clone();
    let side = s.source;
    let src = open_endpoint(&side, false, std::time::Duration::from_secs(60)).await?;
    let src_reference = reference.reference();
    let root = resolve::root(&src, &src_reference).await?;
    let plan = resolve::resolve(
        &src,
        &root,
        &crate::engine::select::Selector::all(),
        &reference.to_string(),
        8,
    )
    .await?;
    let mut inspection = crate::engine::inspect::from_plan(&reference.to_string(), &root, &plan)?;
    if s.referrers {
        let opts = crate::engine::artifacts::ArtifactOptions {
            referrers: true,
            digest_tags: true,
            attestations: true,
            jobs: 8,
            ..Default::default()
        };
        let reporter: Arc<dyn Reporter> = Arc::new(CliReporter::new(Printer {
            progress: false,
            ..printer
        }));
        let found = crate::engine::artifacts::discover(&src, &plan, &opts, &reporter).await?;
        inspection.artifacts = found
            .artifacts
            .iter()
            .map(crate::engine::inspect::InspectArtifact::from)
            .collect();
    }
    match printer.output {
        OutputFormat::Json => printer.out_json(&inspection),
        OutputFormat::Human => printer.out(&inspection.render()),
    }
    Ok(exit::OK)
}
