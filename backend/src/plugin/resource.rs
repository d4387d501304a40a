//! CallResource: the editor's look-ups. Routes:
//! `GET lookup/<kind>?q=<substring>&organization=<name or id>` (organization repeatable).

use std::collections::HashMap;

use grafana_plugin_sdk::pluginv2::{
    resource_server::Resource, CallResourceRequest, CallResourceResponse, StringList,
};
use serde_json::json;
use tracing::Instrument;

use super::Plugin;
use crate::kpi::lookup;
use crate::query::LookupKind;

fn respond(code: i32, body: serde_json::Value) -> CallResourceResponse {
    CallResourceResponse {
        code,
        headers: HashMap::from([(
            "Content-Type".to_string(),
            StringList {
                values: vec!["application/json".to_string()],
            },
        )]),
        body: serde_json::to_vec(&body).unwrap_or_default().into(),
    }
}

fn error(code: i32, message: impl Into<String>) -> CallResourceResponse {
    respond(code, json!({ "error": message.into() }))
}

/// The values of one query parameter of the request URL (Grafana passes the path and
/// query in `url`); repeated or comma-free values both work.
fn params(url: &str, name: &str) -> Vec<String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.into_owned())
        .collect()
}

impl Plugin {
    async fn route(&self, req: CallResourceRequest) -> CallResourceResponse {
        if !req.method.eq_ignore_ascii_case("GET") {
            return error(405, format!("method {} not allowed; use GET", req.method));
        }
        let path = req.path.trim_matches('/');
        let Some(kind) = path.strip_prefix("lookup/") else {
            return error(
                404,
                format!("unknown resource `{path}`; the routes are lookup/<kind>"),
            );
        };
        let Some(kind) = LookupKind::parse(kind) else {
            return error(
                404,
                format!(
                    "unknown lookup `{kind}`; use one of: {}",
                    LookupKind::valid()
                ),
            );
        };
        let context = req.plugin_context.as_ref();
        let inst = match self.instances.get(context) {
            Ok(i) => i,
            Err(e) => return error(400, e.to_string()),
        };
        let search = params(&req.url, "q").into_iter().next().unwrap_or_default();
        let organizations = params(&req.url, "organization");
        match lookup::values(&inst, kind, &search, &organizations).await {
            Ok((values, _)) => respond(200, json!(values)),
            Err(e) => error(e.status(), e.to_string()),
        }
    }
}

#[tonic::async_trait]
impl Resource for Plugin {
    type CallResourceStream =
        futures::stream::Once<futures::future::Ready<Result<CallResourceResponse, tonic::Status>>>;

    async fn call_resource(
        &self,
        request: tonic::Request<CallResourceRequest>,
    ) -> Result<tonic::Response<Self::CallResourceStream>, tonic::Status> {
        let req = request.into_inner();
        let span = tracing::info_span!("resource", path = %req.path);
        let response = self.route(req).instrument(span).await;
        Ok(tonic::Response::new(futures::stream::once(
            futures::future::ready(Ok(response)),
        )))
    }
}
