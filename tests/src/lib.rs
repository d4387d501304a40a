//! The end-to-end harness: it builds the plugin and the AWX simulator, spawns them as
//! Grafana would (the plugin's handshake line read from stdout), talks to the plugin
//! with the pluginv2 gRPC clients and decodes frames with arrow-ipc's FileReader,
//! independently of the plugin's own encoder.

pub mod frames;
pub mod oracle;
pub mod procs;

use std::collections::HashMap;

use grafana_plugin_sdk::pluginv2::{
    DataQuery, DataSourceInstanceSettings, PluginContext, QueryDataRequest, TimeRange,
};

pub use frames::{decode, DecodedField, DecodedFrame};
pub use procs::{Plugin, Prometheus, Sim, SimOptions};

/// A fixed "now" for the simulator, so truths and answers are reproducible.
pub const SIM_NOW: &str = "2026-11-20T12:00:00Z";
pub const ADMIN_TOKEN: &str = "sim-admin-token";
pub const VIEWER_TOKEN: &str = "sim-viewer-token";

/// Settings as Grafana sends them for a provisioned data source.
pub fn datasource(
    url: &str,
    json_data: serde_json::Value,
    secure: &[(&str, &str)],
) -> DataSourceInstanceSettings {
    DataSourceInstanceSettings {
        // Grafana's ids are unique across organisations; the plugin keys instances by them.
        id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        uid: "awx-e2e".into(),
        name: "AWX".into(),
        url: url.into(),
        json_data: serde_json::to_vec(&json_data).expect("json"),
        decrypted_secure_json_data: secure
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        // Grafana bumps this on every save; the plugin rebuilds its instance on change.
        last_updated_ms: NEXT_VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        ..Default::default()
    }
}

/// A second data source on the same AWX with the job cache off (`jobCacheMB: 0`): every
/// query fetched for itself, the reference a cached source must agree with.
pub fn uncached_datasource(url: &str) -> DataSourceInstanceSettings {
    let mut ds = datasource(
        url,
        serde_json::json!({"jobCacheMB": 0}),
        &[("token", ADMIN_TOKEN)],
    );
    ds.uid = "awx-e2e-uncached".into();
    ds
}

static NEXT_VERSION: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
static NEXT_ID: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);

pub fn context(ds: &DataSourceInstanceSettings) -> PluginContext {
    PluginContext {
        org_id: 1,
        plugin_id: "seed-awx-datasource".into(),
        data_source_instance_settings: Some(ds.clone()),
        ..Default::default()
    }
}

/// One query as Grafana's /api/ds/query turns it into a DataQuery.
pub fn query(
    ref_id: &str,
    json: serde_json::Value,
    from_ms: i64,
    to_ms: i64,
    interval_ms: i64,
) -> DataQuery {
    let query_type = json
        .get("queryType")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let mut json = json;
    if let Some(obj) = json.as_object_mut() {
        obj.insert("refId".into(), ref_id.into());
        obj.insert(
            "datasource".into(),
            serde_json::json!({"type": "seed-awx-datasource", "uid": "awx-e2e"}),
        );
        obj.insert("intervalMs".into(), interval_ms.into());
        obj.insert("maxDataPoints".into(), 1000.into());
    }
    DataQuery {
        ref_id: ref_id.into(),
        max_data_points: 1000,
        interval_ms,
        time_range: Some(TimeRange {
            from_epoch_ms: from_ms,
            to_epoch_ms: to_ms,
        }),
        json: serde_json::to_vec(&json).expect("json"),
        query_type,
    }
}

pub fn request(ds: &DataSourceInstanceSettings, queries: Vec<DataQuery>) -> QueryDataRequest {
    QueryDataRequest {
        plugin_context: Some(context(ds)),
        headers: HashMap::new(),
        queries,
    }
}

/// One query (ref id `A`, range `[from_ms, to_ms)` at `interval_ms`) through the plugin as
/// a dashboard sends it: its frames, decoded, or its error message.
pub async fn frames_of(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    q: serde_json::Value,
    from_ms: i64,
    to_ms: i64,
    interval_ms: i64,
) -> Result<Vec<DecodedFrame>, String> {
    let req = request(ds, vec![query("A", q, from_ms, to_ms, interval_ms)]);
    let resp = plugin
        .data()
        .query_data(req)
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    let r = &resp.responses["A"];
    if !r.error.is_empty() {
        return Err(r.error.clone());
    }
    r.frames
        .iter()
        .map(|f| decode(f).map_err(|e| format!("undecodable frame: {e}")))
        .collect()
}

/// The set-up of the tests that compare answers with the simulator's truth: a simulator with
/// the default history, a plugin, a data source with the job cache and one without on it,
/// and the simulator's jobs as they really are.
pub struct CachedAndUncached {
    pub sim: Sim,
    pub plugin: Plugin,
    pub cached: DataSourceInstanceSettings,
    pub uncached: DataSourceInstanceSettings,
    pub truth: Vec<oracle::TruthJob>,
    /// The simulator's (frozen) clock, [`SIM_NOW`], in milliseconds.
    pub now: i64,
}

impl CachedAndUncached {
    pub async fn start() -> Self {
        let sim = Sim::start(SimOptions::default()).await.expect("simulator");
        let plugin = Plugin::spawn().await.expect("plugin");
        let cached = datasource(&sim.url, serde_json::json!({}), &[("token", ADMIN_TOKEN)]);
        let uncached = uncached_datasource(&sim.url);
        let truth = sim.truth_jobs().await.expect("the simulator's truth");
        assert!(
            truth.len() > 1000,
            "the simulator has history: {}",
            truth.len()
        );
        Self {
            sim,
            plugin,
            cached,
            uncached,
            truth,
            now: ms(SIM_NOW),
        }
    }
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub fn ms(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .expect("RFC 3339 time")
        .timestamp_millis()
}
