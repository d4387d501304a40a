//! QueryData: each query answered on its own task, so that a bad query (or a panic)
//! fails only its own refId.

use std::collections::HashMap;

use futures::future::join_all;
use futures::FutureExt;
use grafana_plugin_sdk::pluginv2::{DataQuery, QueryDataRequest};
use tracing::Instrument;

use super::wire::{data_server::Data, DataResponse, ErrorSource, QueryDataResponse};
use super::Plugin;
use crate::frame;
use crate::instances::Instance;
use crate::kpi::{self, KpiError};
use crate::query::{Query, QueryEnvelope, TimeRange};

/// A failed query: its message, status and who is to blame, also logged at warn (what
/// Grafana's default log level shows operators). Messages never carry secrets: errors are
/// built from paths, AWX's `detail` and setting names, never from credentials.
fn error_response(message: String, status: i32, source: ErrorSource) -> DataResponse {
    tracing::warn!(
        error = %message,
        status,
        error_source = source.as_str(),
        "query failed"
    );
    DataResponse {
        error: message,
        status,
        error_source: source.as_str().into(),
        ..Default::default()
    }
}

async fn answer(inst: &Instance, dq: &DataQuery, from_alert: bool) -> DataResponse {
    let range = dq
        .time_range
        .and_then(|r| TimeRange::from_millis(r.from_epoch_ms, r.to_epoch_ms));
    let Some(range) = range else {
        return error_response(
            "invalid query: timeRange: missing or out of range".into(),
            400,
            ErrorSource::Downstream,
        );
    };
    let env = QueryEnvelope {
        ref_id: &dq.ref_id,
        query_type: &dq.query_type,
        json: &dq.json,
        range,
        interval_ms: dq.interval_ms,
        max_data_points: dq.max_data_points,
        from_alert,
    };
    let result = match Query::parse(&env, inst.settings.default_source) {
        Ok(q) => kpi::run(inst, &q).await,
        Err(e) => Err(KpiError::Query(e)),
    };
    let frames = result.and_then(|frames| {
        frames
            .iter()
            .map(|f| frame::encode(f, &dq.ref_id).map_err(KpiError::from))
            .collect::<Result<Vec<_>, _>>()
    });
    match frames {
        Ok(frames) => DataResponse {
            frames,
            status: 200,
            ..Default::default()
        },
        Err(e) => error_response(e.to_string(), e.status(), e.source()),
    }
}

#[tonic::async_trait]
impl Data for Plugin {
    async fn query_data(
        &self,
        request: tonic::Request<QueryDataRequest>,
    ) -> Result<tonic::Response<QueryDataResponse>, tonic::Status> {
        let req = request.into_inner();
        let context = req.plugin_context.as_ref();
        let instance = self.instances.get(context);
        // Grafana's alerting marks its requests; they get exact answers or an error.
        let from_alert = req
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("FromAlert") && v == "true");

        // Several queries each get a task of their own (they compute in parallel); a
        // lone query is answered in place, without handing it to another thread.
        let alone = req.queries.len() == 1;
        let tasks = req.queries.into_iter().map(|dq| {
            let instance = instance.as_ref().map(|i| i.clone()).map_err(|e| e.to_string());
            let span = tracing::info_span!(
                "query",
                ref_id = %dq.ref_id,
                query_type = %query_type_of(&dq),
            );
            async move {
                let ref_id = dq.ref_id.clone();
                let response = match instance {
                    // Settings the user must fix (a bad URL, a missing token).
                    Err(e) => error_response(e, 400, ErrorSource::Downstream),
                    Ok(inst) => {
                        // A panic inside one query is caught here and fails only that query.
                        let panicked = |e: String| {
                            tracing::error!(error = %e, "query task panicked");
                            error_response(
                                "internal error while answering this query; the other queries are unaffected (details in the Grafana server log)".into(),
                                500,
                                ErrorSource::Plugin,
                            )
                        };
                        if alone {
                            std::panic::AssertUnwindSafe(async { answer(&inst, &dq, from_alert).await })
                                .catch_unwind()
                                .await
                                .unwrap_or_else(|p| panicked(panic_text(p.as_ref())))
                        } else {
                            let handle = tokio::spawn(
                                async move { answer(&inst, &dq, from_alert).await }.in_current_span(),
                            );
                            handle.await.unwrap_or_else(|e| panicked(e.to_string()))
                        }
                    }
                };
                (ref_id, response)
            }
            .instrument(span)
        });
        let responses: HashMap<String, DataResponse> = join_all(tasks).await.into_iter().collect();
        Ok(tonic::Response::new(QueryDataResponse { responses }))
    }
}

/// A panic's message, as tokio's JoinError shows it.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".into());
    format!("panicked with message {msg:?}")
}

/// The query type for log spans, before (and whether or not) the query parses.
fn query_type_of(dq: &DataQuery) -> String {
    if !dq.query_type.is_empty() {
        return dq.query_type.clone();
    }
    serde_json::from_slice::<serde_json::Value>(&dq.json)
        .ok()
        .and_then(|v| v.get("queryType")?.as_str().map(str::to_string))
        .unwrap_or_default()
}
