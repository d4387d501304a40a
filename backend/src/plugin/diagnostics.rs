//! CheckHealth ("Save & test") and CollectMetrics.

use grafana_plugin_sdk::pluginv2::{
    check_health_response::HealthStatus, diagnostics_server::Diagnostics, CheckHealthRequest,
    CheckHealthResponse, CollectMetricsRequest, CollectMetricsResponse,
};

use super::Plugin;
use crate::health;

#[tonic::async_trait]
impl Diagnostics for Plugin {
    async fn check_health(
        &self,
        request: tonic::Request<CheckHealthRequest>,
    ) -> Result<tonic::Response<CheckHealthResponse>, tonic::Status> {
        let req = request.into_inner();
        let context = req.plugin_context.as_ref();
        let response = match self.instances.get(context) {
            Err(e) => CheckHealthResponse {
                status: HealthStatus::Error as i32,
                message: e.to_string(),
                json_details: Vec::new(),
            },
            Ok(inst) => {
                let report = health::check(&inst).await;
                tracing::info!(ok = report.ok(), "health check");
                CheckHealthResponse {
                    status: if report.ok() {
                        HealthStatus::Ok
                    } else {
                        HealthStatus::Error
                    } as i32,
                    message: report.summary(),
                    json_details: serde_json::to_vec(&report).unwrap_or_default(),
                }
            }
        };
        Ok(tonic::Response::new(response))
    }

    async fn collect_metrics(
        &self,
        _request: tonic::Request<CollectMetricsRequest>,
    ) -> Result<tonic::Response<CollectMetricsResponse>, tonic::Status> {
        Ok(tonic::Response::new(CollectMetricsResponse {
            metrics: None,
        }))
    }
}
