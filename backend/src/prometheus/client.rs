//! A client for the Prometheus HTTP query API (also served by Thanos, Mimir and
//! VictoriaMetrics): instant and range queries, label values; auth and timeouts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::Client;
use serde::Deserialize;
use thiserror::Error;
use url::Url;

use crate::http::{self, BodyError};
use crate::settings::{join_path, PrometheusAuth, PrometheusSettings, TlsSettings};

#[derive(Debug, Error, Clone)]
pub enum PromError {
    #[error("cannot reach Prometheus at {url}: {reason}; check the Prometheus URL")]
    Unreachable { url: String, reason: String },
    #[error("Prometheus did not answer within {0:?}; narrow the range or raise the timeout")]
    Timeout(Duration),
    #[error("Prometheus rejected the credentials (HTTP {0}); check the Prometheus authentication settings")]
    Unauthorized(u16),
    #[error("Prometheus answered HTTP 404 at {0}: the URL does not look like a Prometheus query API (it should be the base, e.g. http://prometheus:9090)")]
    NotFound(String),
    #[error("Prometheus: {error_type}: {error}")]
    Query { error_type: String, error: String },
    #[error("Prometheus failed with HTTP {0}")]
    Server(u16),
    #[error("Prometheus sent an unreadable answer: {0}")]
    InvalidResponse(String),
}

impl PromError {
    pub fn status(&self) -> i32 {
        match self {
            PromError::Query { .. } => 400,
            PromError::Unauthorized(s) => i32::from(*s),
            PromError::Timeout(_) => 504,
            _ => 502,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

/// One series of a query result: its labels and its (time, value) samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: std::collections::BTreeMap<String, String>,
    /// (unix seconds, value); NaN and ±Inf as Prometheus sends them.
    pub samples: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    pub series: Vec<Series>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
    #[serde(default)]
    value: Option<(f64, String)>,
}

#[derive(Debug)]
pub struct PrometheusClient {
    http: Client,
    base: Url,
    auth: Option<HeaderValue>,
    timeout: Duration,
    pub selector: String,
}

impl PrometheusClient {
    /// `tls` is the data source's TLS trust (CA, skip-verify), shared with AWX: both
    /// usually sit behind the same private CA.
    pub fn new(
        settings: &PrometheusSettings,
        tls: &TlsSettings,
        timeout: Duration,
    ) -> Result<Self, http::BuildError> {
        let http = http::build_client(tls, timeout, 8)?;
        let auth = match &settings.auth {
            PrometheusAuth::None => None,
            PrometheusAuth::Bearer(t) => Some(format!("Bearer {}", t.expose())),
            PrometheusAuth::Basic { username, password } => Some(format!(
                "Basic {}",
                crate::awx::client::encode_basic(username, password.expose())
            )),
        };
        let auth = auth
            .map(|a| {
                HeaderValue::from_str(&a).map(|mut h| {
                    h.set_sensitive(true);
                    h
                })
            })
            .transpose()
            .map_err(|_| {
                http::BuildError::Client(
                    "the Prometheus credentials contain characters that cannot be sent in an HTTP header".into(),
                )
            })?;
        Ok(Self {
            http,
            base: settings.url.clone(),
            auth,
            timeout,
            selector: settings.selector.clone(),
        })
    }

    async fn call(&self, path: &str, params: &[(&str, String)]) -> Result<QueryResult, PromError> {
        let mut url = join_path(&self.base, path);
        url.query_pairs_mut().extend_pairs(params);
        let mut req = self.http.get(url);
        if let Some(a) = &self.auth {
            req = req.header(AUTHORIZATION, a.clone());
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                PromError::Timeout(self.timeout)
            } else {
                PromError::Unreachable {
                    url: self.base.to_string(),
                    reason: http::error_chain(&e),
                }
            }
        })?;
        let status = resp.status().as_u16();
        let body = http::read_body(resp, http::MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => PromError::InvalidResponse(format!(
                    "the answer is larger than {} bytes; narrow the query",
                    http::MAX_BODY_BYTES
                )),
                BodyError::Read(r) => PromError::InvalidResponse(r),
            })?;
        if status == 404 {
            return Err(PromError::NotFound(self.base.to_string()));
        }
        parse_response(status, &body)
    }

    pub async fn query(&self, expr: &str, at: DateTime<Utc>) -> Result<QueryResult, PromError> {
        self.call(
            "/api/v1/query",
            &[("query", expr.to_string()), ("time", seconds(at))],
        )
        .await
    }

    pub async fn query_range(
        &self,
        expr: &str,
        start: f64,
        end: f64,
        step_seconds: f64,
    ) -> Result<QueryResult, PromError> {
        self.call(
            "/api/v1/query_range",
            &[
                ("query", expr.to_string()),
                ("start", format_seconds(start)),
                ("end", format_seconds(end)),
                ("step", format_seconds(step_seconds)),
            ],
        )
        .await
    }
}

fn seconds(t: DateTime<Utc>) -> String {
    format_seconds(t.timestamp_millis() as f64 / 1000.0)
}

fn format_seconds(s: f64) -> String {
    let text = format!("{s:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn parse_value(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

/// A successful matrix or vector answer, read in one pass: sample values borrowed from
/// the body (no string per sample), no intermediate JSON tree. Anything else (errors,
/// scalars, escaped strings) is left to the general reading in [`parse_response`].
#[derive(Deserialize)]
struct SeriesAnswer<'a> {
    status: &'a str,
    data: SeriesData<'a>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
struct SeriesData<'a> {
    #[serde(rename = "resultType")]
    result_type: &'a str,
    #[serde(borrow)]
    result: Vec<BorrowedSeries<'a>>,
}

#[derive(Deserialize)]
struct BorrowedSeries<'a> {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    #[serde(default, borrow)]
    values: Vec<(f64, &'a str)>,
    #[serde(default, borrow)]
    value: Option<(f64, &'a str)>,
}

fn parse_series_answer(body: &[u8]) -> Option<QueryResult> {
    let a: SeriesAnswer = serde_json::from_slice(body).ok()?;
    if a.status != "success" || !matches!(a.data.result_type, "matrix" | "vector") {
        return None;
    }
    let series = a
        .data
        .result
        .into_iter()
        .map(|r| {
            let mut samples: Vec<(f64, f64)> = Vec::with_capacity(r.values.len() + 1);
            samples.extend(r.values.iter().map(|(t, v)| (*t, parse_value(v))));
            if let Some((t, v)) = r.value {
                samples.push((t, parse_value(v)));
            }
            Series {
                labels: r.metric,
                samples,
            }
        })
        .collect();
    Some(QueryResult {
        series,
        warnings: a.warnings,
    })
}

/// Reads one answer of the query API (any status but 404, which needs the URL to explain).
/// Public so that property tests can feed it arbitrary bodies.
pub fn parse_response(status: u16, body: &[u8]) -> Result<QueryResult, PromError> {
    if matches!(status, 401 | 403) {
        return Err(PromError::Unauthorized(status));
    }
    if let Some(result) = parse_series_answer(body) {
        return Ok(result);
    }
    let env: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(_) if status >= 500 => return Err(PromError::Server(status)),
        Err(e) => return Err(PromError::InvalidResponse(e.to_string())),
    };
    if env.status != "success" {
        return Err(PromError::Query {
            error_type: env.error_type.unwrap_or_else(|| "error".into()),
            error: env.error.unwrap_or_default(),
        });
    }
    let data = env.data.unwrap_or_default();
    let series = parse_result(&data)?;
    Ok(QueryResult {
        series,
        warnings: env.warnings,
    })
}

fn parse_result(data: &serde_json::Value) -> Result<Vec<Series>, PromError> {
    let kind = data
        .get("resultType")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let result = data
        .get("result")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    match kind {
        "matrix" | "vector" => {
            let raw: Vec<RawSeries> = serde_json::from_value(result)
                .map_err(|e| PromError::InvalidResponse(e.to_string()))?;
            Ok(raw
                .into_iter()
                .map(|r| {
                    let mut samples: Vec<(f64, f64)> =
                        r.values.iter().map(|(t, v)| (*t, parse_value(v))).collect();
                    if let Some((t, v)) = r.value {
                        samples.push((t, parse_value(&v)));
                    }
                    Series {
                        labels: r.metric,
                        samples,
                    }
                })
                .collect())
        }
        "scalar" | "string" => {
            let (t, v): (f64, String) = serde_json::from_value(result)
                .map_err(|e| PromError::InvalidResponse(e.to_string()))?;
            Ok(vec![Series {
                labels: Default::default(),
                samples: vec![(t, parse_value(&v))],
            }])
        }
        other => Err(PromError::InvalidResponse(format!(
            "unknown resultType `{other}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_vector_and_scalar_results_parse() {
        let m: serde_json::Value = serde_json::from_str(
            r#"{"resultType":"matrix","result":[{"metric":{"status":"failed"},"values":[[1700000000,"3"],[1700000060,"NaN"]]}]}"#,
        )
        .unwrap();
        let s = parse_result(&m).unwrap();
        assert_eq!(s[0].labels["status"], "failed");
        assert_eq!(s[0].samples[0], (1_700_000_000.0, 3.0));
        assert!(s[0].samples[1].1.is_nan());
        let v: serde_json::Value = serde_json::from_str(
            r#"{"resultType":"vector","result":[{"metric":{},"value":[1700000000.5,"7"]}]}"#,
        )
        .unwrap();
        assert_eq!(
            parse_result(&v).unwrap()[0].samples,
            vec![(1_700_000_000.5, 7.0)]
        );
        let sc: serde_json::Value =
            serde_json::from_str(r#"{"resultType":"scalar","result":[1700000000,"2"]}"#).unwrap();
        assert_eq!(parse_result(&sc).unwrap()[0].samples[0].1, 2.0);
    }

    #[test]
    fn whole_answers_read_in_one_pass_equal_the_general_reading() {
        for body in [
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"hostname":"a\"b"},"values":[[1700000000,"3"],[1700000001.5,"+Inf"]]},{"metric":{},"values":[]}]},"warnings":["w"]}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"x":"y"},"value":[1700000000,"-1e3"]}]}}"#,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}}"#,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"\u0031"]]}]}}"#,
        ] {
            let fast = parse_series_answer(body.as_bytes());
            let env: Envelope = serde_json::from_str(body).unwrap();
            let general = parse_result(&env.data.unwrap()).unwrap();
            let got = parse_response(200, body.as_bytes()).unwrap();
            assert_eq!(got.series, general, "{body}");
            if let Some(fast) = fast {
                assert_eq!(fast.series, general, "{body}");
            }
        }
        assert_eq!(
            parse_response(200, br#"{"status":"success","data":{"resultType":"matrix","result":[]},"warnings":["w"]}"#)
                .unwrap()
                .warnings,
            vec!["w".to_string()]
        );
    }

    #[test]
    fn seconds_are_formatted_without_noise() {
        assert_eq!(format_seconds(1_700_000_000.0), "1700000000");
        assert_eq!(format_seconds(1.5), "1.5");
        assert_eq!(format_seconds(60.0), "60");
    }
}
