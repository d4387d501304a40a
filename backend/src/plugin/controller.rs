//! go-plugin's controller service: Grafana stops a plugin by calling `Shutdown`, then
//! closes its connection and waits 2 s for the process to exit before killing it.

use std::sync::Arc;

use tokio::sync::Notify;

use super::wire::{grpc_controller_server::GRPCController, Empty};

/// Answers `Shutdown` and tells the server to stop.
#[derive(Debug, Clone, Default)]
pub struct Controller {
    stop: Arc<Notify>,
}

impl Controller {
    /// Resolves once Grafana has asked the plugin to stop.
    pub async fn stopped(&self) {
        self.stop.notified().await
    }
}

#[tonic::async_trait]
impl GRPCController for Controller {
    async fn shutdown(
        &self,
        _request: tonic::Request<Empty>,
    ) -> Result<tonic::Response<Empty>, tonic::Status> {
        tracing::info!("Grafana asked the plugin to stop");
        // notify_one keeps the permit if the server is not yet waiting for it.
        self.stop.notify_one();
        Ok(tonic::Response::new(Empty {}))
    }
}
