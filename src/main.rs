//! The `mirror` binary: parse, set up logging, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use sparse_mirror::app::cli::Cli;
use sparse_mirror::app::printer::Printer;
use sparse_mirror::app::run;
use sparse_mirror::exit;
use sparse_mirror::interrupt::CancelToken;

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let printer = Printer::new(&cli.global);
    init_tracing(cli.global.verbose, cli.global.quiet, printer.color);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    // One token for the whole run: the signal task cancels it, the command and everything it
    // calls get clones.
    let cancel = CancelToken::new();
    let code = rt.block_on(async {
        // First signal: the engine cancels its work and cleans up (uploads cancelled, temp
        // files removed), then `run` returns `Interrupted`. Second signal: exit at once.
        let on_signal = cancel.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            on_signal.cancel();
            shutdown_signal().await;
            eprintln!("error: interrupted again; exiting without cleanup");
            std::process::exit(exit::INTERRUPTED.into());
        });
        // `run` ends the command after an interrupt (bounded cleanup) and still writes the
        // metrics file; the exit code is then 130.
        match run::run(&cli, printer, &cancel).await {
            Ok(code) => code,
            Err(e) => {
                printer.error(&e);
                e.exit_code()
            }
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    ExitCode::from(code)
}

/// One glibc malloc arena instead of up to 8 per core.
///
/// Each tokio worker thread otherwise gets its own arena, and the blob buffers freed in one are
/// not reused by another: a full copy at the default `--jobs 8` peaked at 16.4–17.1 MiB RSS with
/// the default arenas and 14.7–15.1 MiB with one, at the same wall and CPU time (the allocations
/// per blob are few: 16 KiB pieces, see `chunks.rs`). docs/performance.md has the runs. A
/// `MALLOC_ARENA_MAX` set in the environment is left to win.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

fn init_tracing(verbose: u8, quiet: u8, color: bool) {
    let default = match (quiet, verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn",
        (_, 1) => "warn,sparse_mirror=debug",
        _ => "info,sparse_mirror=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sparse_mirror::app::printer::LogWriter::new)
        .with_ansi(color)
        .with_target(false)
        .init();
}
