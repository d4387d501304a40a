//! `awx-kpi query`'s flags, turned into the query JSON a Grafana panel sends (the
//! contract's keys), plus the protocol fields beside it (time range, interval).

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use awx_datasource::kpi::buckets::MAX_BUCKETS;

use crate::timespec::{parse_interval, parse_time, round_interval};

/// Max data points when `--interval` is not given: a terminal table is a narrow panel.
pub const DEFAULT_MAX_DATA_POINTS: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned ASCII tables, one per frame, under a title line.
    #[default]
    Table,
    /// One CSV block per frame (header row first), frames separated by a blank line.
    Csv,
    /// A JSON array of frames (name, meta, fields with labels, config and values).
    Json,
}

#[derive(Debug, Clone, Args, Default)]
pub struct QueryArgs {
    /// The query type: job_status_counts, job_throughput, failure_rate, job_duration,
    /// queue_wait, active_jobs, capacity, instances, templates, jobs, system, promql,
    /// annotations, lookup (or `queryType` in --json).
    #[arg(value_name = "QUERY_TYPE")]
    pub query_type: Option<String>,
    /// Start of the time range: now-7d, now-24h, now-30m, RFC 3339, a date or epoch ms.
    #[arg(long, default_value = "now-7d", allow_hyphen_values = true)]
    pub from: String,
    /// End of the time range (exclusive).
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    pub to: String,
    /// Bucket width for time series, e.g. 5m, 1h, 1d (default: Grafana's auto interval
    /// for --max-data-points).
    #[arg(long)]
    pub interval: Option<String>,
    /// Most time buckets or steps (Grafana's maxDataPoints; default 100, or the plugin's most
    /// buckets with --interval).
    #[arg(long)]
    pub max_data_points: Option<i64>,
    /// A filter, KEY=VALUE[,VALUE...], repeatable: organization, template, inventory,
    /// project, status, jobType, launchType, instanceGroup, executionNode, launchedBy,
    /// name. Write `\,` for a comma inside a value.
    #[arg(long = "filter", value_name = "KEY=VALUES")]
    pub filters: Vec<String>,
    /// none, template, status, organization, inventory, project, jobType, launchType,
    /// executionNode, instanceGroup, launchedBy.
    #[arg(long)]
    pub group_by: Option<String>,
    /// Statistics for durations and waits, comma-separated: mean, min, max, p50, p90, p95, p99, count.
    #[arg(long)]
    pub stats: Option<String>,
    /// Rows for tables (1 to 10000; default 100).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Where to answer from (default: the data source's default source, auto).
    #[arg(long, value_parser = ["auto", "api", "prometheus"])]
    pub source: Option<String>,
    /// PromQL for the promql query type.
    #[arg(long)]
    pub expr: Option<String>,
    /// Legend format for promql, e.g. {{hostname}}.
    #[arg(long)]
    pub legend_format: Option<String>,
    /// promql: one instant query instead of a range.
    #[arg(long)]
    pub instant: bool,
    /// Count implicit project syncs (launch_type=sync) too.
    #[arg(long)]
    pub include_syncs: bool,
    /// For the lookup query type: organization, template, inventory, project,
    /// instanceGroup, instance, executionNode, status, jobType, launchType.
    #[arg(long)]
    pub lookup: Option<String>,
    /// A raw query JSON object, as in a panel's query inspector; the flags above override its keys.
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print the query JSON (as Grafana would send it) before the answer.
    #[arg(long)]
    pub show_query: bool,
}

/// Everything a Grafana query carries: the JSON, and the protocol's fields beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub json: Value,
    pub ref_id: String,
    pub query_type: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub interval_ms: i64,
    pub max_data_points: i64,
}

/// `status=failed,error` -> ("status", ["failed", "error"]). `\,` keeps a comma.
pub fn parse_filter(spec: &str) -> Result<(String, Vec<String>), String> {
    let Some((key, values)) = spec.split_once('=') else {
        return Err(format!(
            "--filter `{spec}`: write KEY=VALUE[,VALUE...], e.g. --filter status=failed,error"
        ));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(format!(
            "--filter `{spec}`: the key is missing, e.g. --filter template=Deploy"
        ));
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = values.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) if next == ',' || next == '\\' => cur.push(next),
                Some(next) => {
                    cur.push('\\');
                    cur.push(next);
                }
                None => cur.push('\\'),
            },
            ',' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    let out: Vec<String> = out
        .into_iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    Ok((key.to_string(), out))
}

fn bad_json(msg: impl std::fmt::Display) -> String {
    format!("--json: {msg}")
}

impl QueryArgs {
    /// The query JSON and the protocol fields, with relative times resolved against `now`.
    pub fn to_request(&self, now: DateTime<Utc>) -> Result<Request, String> {
        let mut obj: Map<String, Value> = match &self.json {
            None => Map::new(),
            Some(raw) => match serde_json::from_str::<Value>(raw) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(bad_json(
                        "expected a JSON object such as {\"queryType\":\"jobs\"}",
                    ))
                }
                Err(e) => return Err(bad_json(format!("invalid JSON: {e}"))),
            },
        };

        let from = parse_time(&self.from, now).map_err(|e| format!("--from {e}"))?;
        let to = parse_time(&self.to, now).map_err(|e| format!("--to {e}"))?;
        let span_ms = (to - from).num_milliseconds().max(1);
        let (interval_ms, max_data_points) = match &self.interval {
            Some(i) => (
                parse_interval(i).map_err(|e| format!("--interval {e}"))?,
                self.max_data_points.unwrap_or(MAX_BUCKETS),
            ),
            None => {
                let mdp = self.max_data_points.unwrap_or(DEFAULT_MAX_DATA_POINTS);
                (round_interval(span_ms / mdp.max(1)).max(1_000), mdp)
            }
        };
        if max_data_points < 1 {
            return Err("--max-data-points must be at least 1".into());
        }

        if let Some(t) = &self.query_type {
            obj.insert("queryType".into(), json!(t));
        }
        let query_type = obj
            .get("queryType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let ref_id = match obj.get("refId").and_then(Value::as_str) {
            Some(r) if !r.is_empty() => r.to_string(),
            _ => "A".to_string(),
        };
        obj.insert("refId".into(), json!(ref_id));
        obj.entry("datasource")
            .or_insert_with(|| json!({"type": "seed-awx-datasource", "uid": "awx-kpi"}));
        obj.insert("intervalMs".into(), json!(interval_ms));
        obj.insert("maxDataPoints".into(), json!(max_data_points));

        if let Some(s) = &self.source {
            obj.insert("source".into(), json!(s));
        }
        if !self.filters.is_empty() {
            let mut filters = match obj.remove("filters") {
                Some(Value::Object(m)) => m,
                None | Some(Value::Null) => Map::new(),
                Some(_) => {
                    return Err(bad_json(
                        "`filters` must be an object to add --filter to it",
                    ))
                }
            };
            let mut seen: Vec<String> = Vec::new();
            for spec in &self.filters {
                let (key, values) = parse_filter(spec)?;
                // A key given on the command line replaces the one from --json; repeated
                // flags with the same key add up.
                if !seen.contains(&key) {
                    filters.insert(key.clone(), json!([]));
                    seen.push(key.clone());
                }
                if let Some(Value::Array(list)) = filters.get_mut(&key) {
                    list.extend(values.into_iter().map(Value::String));
                }
            }
            obj.insert("filters".into(), Value::Object(filters));
        }
        if let Some(g) = &self.group_by {
            obj.insert("groupBy".into(), json!(g));
        }
        if let Some(s) = &self.stats {
            let stats: Vec<&str> = s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            obj.insert("stats".into(), json!(stats));
        }
        if let Some(l) = self.limit {
            obj.insert("limit".into(), json!(l));
        }
        if let Some(e) = &self.expr {
            obj.insert("expr".into(), json!(e));
        }
        if let Some(l) = &self.legend_format {
            obj.insert("legendFormat".into(), json!(l));
        }
        if self.instant {
            obj.insert("instant".into(), json!(true));
        }
        if self.include_syncs {
            obj.insert("includeSyncs".into(), json!(true));
        }
        if let Some(l) = &self.lookup {
            obj.insert("lookup".into(), json!(l));
        }

        Ok(Request {
            json: Value::Object(obj),
            ref_id,
            query_type,
            from,
            to,
            interval_ms,
            max_data_points,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-10-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn args(query_type: &str) -> QueryArgs {
        QueryArgs {
            query_type: Some(query_type.into()),
            from: "now-7d".into(),
            to: "now".into(),
            ..Default::default()
        }
    }

    #[test]
    fn filters_split_on_commas_and_keep_escaped_ones() {
        assert_eq!(
            parse_filter("status=failed,error"),
            Ok(("status".into(), vec!["failed".into(), "error".into()]))
        );
        assert_eq!(
            parse_filter("template=Deploy"),
            Ok(("template".into(), vec!["Deploy".into()]))
        );
        assert_eq!(
            parse_filter(r"template=Backup\, nightly,Deploy web"),
            Ok((
                "template".into(),
                vec!["Backup, nightly".into(), "Deploy web".into()]
            ))
        );
        assert_eq!(
            parse_filter("name=a=b, ,"),
            Ok(("name".into(), vec!["a=b".into()]))
        );
        assert_eq!(
            parse_filter("organization="),
            Ok(("organization".into(), vec![]))
        );
        assert_eq!(
            parse_filter("failed").unwrap_err(),
            "--filter `failed`: write KEY=VALUE[,VALUE...], e.g. --filter status=failed,error"
        );
        assert_eq!(
            parse_filter("=x").unwrap_err(),
            "--filter `=x`: the key is missing, e.g. --filter template=Deploy"
        );
    }

    #[test]
    fn the_query_json_has_the_contracts_keys() {
        let mut a = args("job_duration");
        a.interval = Some("1h".into());
        a.filters = vec![
            "status=failed,error".into(),
            "template=Deploy".into(),
            "template=Backup".into(),
        ];
        a.group_by = Some("template".into());
        a.stats = Some("mean, p95".into());
        a.limit = Some(20);
        a.source = Some("api".into());
        let r = a.to_request(now()).unwrap();
        assert_eq!(
            r.json,
            json!({
                "refId": "A",
                "queryType": "job_duration",
                "datasource": {"type": "seed-awx-datasource", "uid": "awx-kpi"},
                "intervalMs": 3_600_000,
                "maxDataPoints": MAX_BUCKETS,
                "source": "api",
                "filters": {"status": ["failed", "error"], "template": ["Deploy", "Backup"]},
                "groupBy": "template",
                "stats": ["mean", "p95"],
                "limit": 20,
            })
        );
        assert_eq!(r.query_type, "job_duration");
        assert_eq!(r.ref_id, "A");
        assert_eq!(r.from.to_rfc3339(), "2024-09-24T00:00:00+00:00");
        assert_eq!(r.to, now());
        assert_eq!((r.interval_ms, r.max_data_points), (3_600_000, MAX_BUCKETS));
    }

    #[test]
    fn without_an_interval_grafanas_auto_interval_applies() {
        let r = args("job_throughput").to_request(now()).unwrap();
        assert_eq!((r.interval_ms, r.max_data_points), (7_200_000, 100));
        let mut a = args("job_throughput");
        a.max_data_points = Some(7);
        let r = a.to_request(now()).unwrap();
        assert_eq!((r.interval_ms, r.max_data_points), (86_400_000, 7));
    }

    #[test]
    fn raw_json_is_the_base_and_flags_override_it() {
        let mut a = args("jobs");
        a.query_type = None;
        a.json = Some(
            r#"{"queryType":"jobs","refId":"B","limit":5,"filters":{"status":["failed"],"template":["X"]}}"#
                .into(),
        );
        a.filters = vec!["status=error".into()];
        a.limit = Some(7);
        let r = a.to_request(now()).unwrap();
        assert_eq!(r.query_type, "jobs");
        assert_eq!(r.ref_id, "B");
        assert_eq!(r.json["limit"], json!(7));
        assert_eq!(
            r.json["filters"],
            json!({"status": ["error"], "template": ["X"]})
        );
        a.json = Some("[1]".into());
        assert!(a
            .to_request(now())
            .unwrap_err()
            .starts_with("--json: expected a JSON object"));
        a.json = Some("{nope".into());
        assert!(a
            .to_request(now())
            .unwrap_err()
            .starts_with("--json: invalid JSON"));
    }

    #[test]
    fn bad_times_and_intervals_name_the_flag() {
        let mut a = args("jobs");
        a.from = "now-7x".into();
        assert!(a
            .to_request(now())
            .unwrap_err()
            .starts_with("--from `now-7x`"));
        let mut a = args("jobs");
        a.interval = Some("hourly".into());
        assert!(a
            .to_request(now())
            .unwrap_err()
            .starts_with("--interval `hourly`"));
        let mut a = args("jobs");
        a.filters = vec!["nokey".into()];
        assert!(a
            .to_request(now())
            .unwrap_err()
            .starts_with("--filter `nokey`"));
    }
}
