//! Serving Grafana's plugin protocol: bind a loopback port, tell Grafana where it is
//! (the go-plugin handshake line on stdout), serve the gRPC services until a signal.

use std::io::Write;
use std::net::SocketAddr;

use grafana_plugin_sdk::pluginv2::{
    diagnostics_server::DiagnosticsServer, resource_server::ResourceServer,
};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::plugin::wire::{data_server::DataServer, grpc_controller_server::GRPCControllerServer};
use crate::plugin::{Controller, Plugin};

/// go-plugin's core protocol 1, Grafana's plugin protocol 2, over gRPC.
pub fn handshake_line(addr: SocketAddr) -> String {
    format!("1|2|tcp|{addr}|grpc")
}

/// Grafana's messages can be large (a 10,000-row table); allow what its client allows.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// In-flight requests get this long to finish once the plugin is asked to stop: under
/// the 2 s after which Grafana (go-plugin's Kill) gives up and kills the process.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(1_200);

pub async fn serve(shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;

    let (mut health_reporter, health_service) = tonic_health::server::health_reporter();
    // go-plugin pings the service named "plugin"; grpc health clients ask for "".
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;

    let plugin = Plugin::default();
    let controller = Controller::default();
    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(GRPCControllerServer::new(controller.clone()))
        .add_service(
            DataServer::new(plugin.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            DiagnosticsServer::new(plugin.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(ResourceServer::new(plugin).max_decoding_message_size(MAX_MESSAGE_BYTES));

    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", handshake_line(addr))?;
        stdout.flush()?;
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        %addr,
        "AWX data source plugin started"
    );
    // Graceful shutdown waits for open connections, and Grafana keeps its connection
    // open: give in-flight requests a grace period, then stop regardless.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // TCP_NODELAY: a response's frames go out at once. With Nagle's algorithm a frame
    // written after another waits for the peer's delayed ACK, 40 ms on Linux loopback.
    let incoming =
        TcpIncoming::from_listener(listener, true, None).map_err(std::io::Error::other)?;
    let serving = router.serve_with_incoming_shutdown(incoming, async {
        let _ = stop_rx.await;
    });
    tokio::pin!(serving);
    // A SIGTERM from a supervisor, or Grafana's own way: the controller's Shutdown.
    let stop_requested = async {
        tokio::select! {
            () = shutdown => {}
            () = controller.stopped() => {}
        }
    };
    tokio::select! {
        result = &mut serving => result.map_err(std::io::Error::other)?,
        () = stop_requested => {
            let _ = stop_tx.send(());
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut serving).await {
                Ok(result) => result.map_err(std::io::Error::other)?,
                Err(_) => tracing::info!("grace period over; closing open connections"),
            }
        }
    }
    tracing::info!("plugin stopped");
    Ok(())
}
