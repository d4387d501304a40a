//! gpx_awx: the backend of Grafana's AWX data source. Grafana starts it and reads one
//! handshake line from stdout; logs go to stderr only.

use awx_datasource::{logging, server};

/// The shipped binary is a static musl build (it runs in Grafana's Alpine image), and
/// musl's allocator is slow for a server that allocates per request (about 40 % more CPU
/// per query, docs/BENCHMARKS.md). mimalloc on every target, so that a build for the
/// host's glibc behaves as the shipped one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    logging::init();
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return std::future::pending().await;
                }
            };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutdown requested");
    };
    match server::serve(shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "plugin server failed");
            std::process::ExitCode::FAILURE
        }
    }
}
