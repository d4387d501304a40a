use clap::Parser;
use std::io::Write;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cfg = awx_sim::Config::parse();
    let sim = match awx_sim::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("awx-sim: {e}");
            std::process::exit(2);
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "awx-sim listening on {}", sim.url());
        let _ = out.flush();
    }
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    sim.shutdown().await;
}
