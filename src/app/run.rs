//! The dispatch: the parsed command line to its command (`app/commands/`), then the metrics file.
//!
//! An interrupt (SIGINT/SIGTERM; `main.rs` cancels the token) ends the command here: commands
//! that write get up to [`CLEANUP_GRACE`] to clean up first. The metrics file is written in
//! every case, an interrupted run included (exit code 130).

use std::time::{Duration, Instant};

use crate::app::cli::{BundleCommand, Cli, Command};
use crate::app::commands;
use crate::app::metrics;
use crate::app::printer::Printer;
use crate::error::{Error, Result};
use crate::exit;
use crate::interrupt::CancelToken;

/// How long cleanup after SIGINT/SIGTERM may take before the command is abandoned.
pub const CLEANUP_GRACE: Duration = Duration::from_secs(10);

/// Run the parsed command line; returns the exit code on success paths. `cancel` is the
/// token `main.rs` cancels on SIGINT/SIGTERM.
pub async fn run(cli: &Cli, printer: Printer, cancel: &CancelToken) -> Result<u8> {
    let started = Instant::now();
    let r = tokio::select! {
        biased;
        r = dispatch(cli, printer, cancel) => r,
        // Commands that write hold a guard until they have cleaned up (bounded, in case a
        // registry does not answer the DELETE); the others end at once.
        _ = async {
            cancel.cancelled().await;
            let _ = tokio::time::timeout(CLEANUP_GRACE, cancel.writers_done()).await;
        } => Err(Error::Interrupted),
    };
    write_metrics(&cli.command, started, &r, printer);
    let name = command_name(&cli.command);
    r.map_err(|e| match e {
        Error::Usage {
            message,
            hint: None,
        } => Error::usage_hint(message, format!("see `mirror {name} --help`")),
        e => e,
    })
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Copy(_) => "copy",
        Command::Inspect(_) => "inspect",
        Command::Inventory(_) => "inventory",
        Command::Man { .. } => "man",
        Command::Sync(_) => "sync",
        Command::ClientConfig(_) => "client-config",
        Command::Bundle(BundleCommand::Apply(_)) => "bundle apply",
        Command::Bundle(BundleCommand::Check { .. }) => "bundle check",
        Command::Verify(_) => "verify",
        Command::Completions { .. } => "completions",
        Command::Gc(_) => "gc",
    }
}

async fn dispatch(cli: &Cli, printer: Printer, cancel: &CancelToken) -> Result<u8> {
    match &cli.command {
        Command::Copy(args) => commands::copy::copy_command(args, printer, cancel).await,
        Command::Inspect(args) => commands::inspect::inspect_command(args, printer, cancel).await,
        Command::Inventory(args) => {
            commands::inventory::inventory_command(args, printer, cancel).await
        }
        Command::Man { dir } => commands::man::write_man_pages(dir)
            .map(|()| exit::OK)
            .map_err(|e| Error::Io {
                what: format!("writing man pages to {}", dir.display()),
                source: e,
            }),
        Command::Sync(args) => commands::sync::sync_command(args, printer, cancel).await,
        Command::ClientConfig(args) => {
            commands::client_config::client_config_command(args, printer, cancel).await
        }
        Command::Bundle(BundleCommand::Apply(args)) => {
            commands::bundle::apply_command(args, printer, cancel).await
        }
        Command::Bundle(BundleCommand::Check { dir }) => {
            commands::bundle::check_command(dir, printer).await
        }
        Command::Verify(args) => commands::verify::verify_command(args, printer, cancel).await,
        Command::Gc(args) => commands::gc::gc_command(args, printer).await,
        Command::Completions { shell } => {
            commands::man::print_completions(*shell, printer);
            Ok(exit::OK)
        }
    }
}

/// After a command: write the metrics file when `--metrics-file` was given (a failure to write
/// it is a warning; the exit code stays the command's).
fn write_metrics(command: &Command, started: Instant, result: &Result<u8>, printer: Printer) {
    let (name, path, item) = match command {
        Command::Copy(a) => (
            "copy",
            &a.metrics.metrics_file,
            Some((a.source.as_str(), a.target.as_str())),
        ),
        Command::Verify(a) => (
            "verify",
            &a.metrics.metrics_file,
            Some((a.source.as_str(), a.target.as_str())),
        ),
        Command::Sync(a) => ("sync", &a.metrics.metrics_file, None),
        _ => return,
    };
    let Some(path) = path else { return };
    let code = match result {
        Ok(c) => *c,
        Err(e) => e.exit_code(),
    };
    if let Err(e) = metrics::finish(path, name, started, code, item) {
        printer.warn(&format!(
            "cannot write the metrics file {}: {e}",
            path.display()
        ));
    }
}
