//! Structured logs on stderr in hclog's JSON shape (`@level`, `@message`, `@timestamp`),
//! which Grafana's plugin host reads and re-logs under the plugin's name. Fields of the
//! enclosing spans (refId, queryType) are added to every line. stdout stays reserved
//! for the handshake.

use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(key(field), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(key(field), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(key(field), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(key(field), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(key(field), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(key(field), Value::from(value));
    }
}

fn key(field: &Field) -> String {
    match field.name() {
        "message" => "@message".to_string(),
        other => other.to_string(),
    }
}

struct SpanFields(Map<String, Value>);

pub struct HclogLayer;

impl<S> Layer<S> for HclogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut map = Map::new();
        attrs.record(&mut JsonVisitor(&mut map));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(map));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut map = Map::new();
        map.insert(
            "@level".into(),
            Value::String(event.metadata().level().as_str().to_ascii_lowercase()),
        );
        map.insert(
            "@timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        map.insert(
            "@module".into(),
            Value::String(event.metadata().target().to_string()),
        );
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        event.record(&mut JsonVisitor(&mut map));
        let mut line = Value::Object(map).to_string();
        line.push('\n');
        // Logging must never take the plugin down: a closed stderr is ignored.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Installs the stderr logger; the level comes from `GF_PLUGIN_LOG_LEVEL` or `RUST_LOG`
/// (default `info`).
pub fn init() {
    let filter = std::env::var("GF_PLUGIN_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info,h2=warn,hyper=warn,tower=warn"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(HclogLayer)
        .try_init();
}
