//! The query model: what a panel asks for, parsed leniently (Grafana adds keys of its
//! own) and validated precisely (every error names the field and the fix).

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::model::string_enum;
pub use crate::model::{Filters, JobStatus, JobType, LaunchType};
use crate::settings::Source;

#[derive(Debug, Error, Clone, PartialEq)]
#[error("{field}: {message}")]
pub struct QueryError {
    pub field: String,
    pub message: String,
}

impl QueryError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

string_enum!(QueryType {
    JobStatusCounts = "job_status_counts",
    JobThroughput = "job_throughput",
    FailureRate = "failure_rate",
    JobDuration = "job_duration",
    QueueWait = "queue_wait",
    ActiveJobs = "active_jobs",
    Capacity = "capacity",
    Instances = "instances",
    Templates = "templates",
    Jobs = "jobs",
    System = "system",
    Promql = "promql",
    Annotations = "annotations",
    Lookup = "lookup",
    HostOutcomes = "host_outcomes",
    HostFailures = "host_failures",
});

impl QueryType {
    /// The query types over hosts (job host summaries), which take `hostSummaries`,
    /// `groupBy: host` and `filters.host`.
    pub fn is_host_kpi(self) -> bool {
        matches!(self, QueryType::HostOutcomes | QueryType::HostFailures)
    }
}

string_enum!(GroupBy {
    None = "none",
    Template = "template",
    Status = "status",
    Organization = "organization",
    Inventory = "inventory",
    Project = "project",
    JobType = "jobType",
    LaunchType = "launchType",
    ExecutionNode = "executionNode",
    InstanceGroup = "instanceGroup",
    LaunchedBy = "launchedBy",
});

string_enum!(Stat {
    Mean = "mean",
    Min = "min",
    Max = "max",
    P50 = "p50",
    P90 = "p90",
    P95 = "p95",
    P99 = "p99",
    Count = "count",
});

string_enum!(Measure {
    Capacity = "capacity",
    Consumed = "consumed",
    Remaining = "remaining",
    Used = "used",
});

string_enum!(
    /// Which jobs' host summaries to load (one AWX list per job): those of failed and errored
    /// jobs, listing only their failed and unreachable hosts (the default of the host query
    /// types), every finished playbook run with all its hosts (for `ok` and `changed`), or
    /// none (the default of the jobs table).
    HostSummaries {
        None = "none",
        Failed = "failed",
        All = "all",
    }
);

string_enum!(
    /// The outcomes `host_failures` counts.
    HostOutcome {
        Failed = "failed",
        Unreachable = "unreachable",
    }
);

string_enum!(LookupKind {
    Organization = "organization",
    Template = "template",
    Inventory = "inventory",
    Project = "project",
    InstanceGroup = "instanceGroup",
    Instance = "instance",
    ExecutionNode = "executionNode",
    Status = "status",
    JobType = "jobType",
    LaunchType = "launchType",
});

pub const FILTER_KEYS: &[&str] = &[
    "organization",
    "template",
    "inventory",
    "project",
    "status",
    "jobType",
    "launchType",
    "instanceGroup",
    "executionNode",
    "launchedBy",
    "name",
    "host",
];

/// Grafana's time range, half-open: [from, to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl TimeRange {
    pub fn from_millis(from_ms: i64, to_ms: i64) -> Option<Self> {
        Some(Self {
            from: Utc.timestamp_millis_opt(from_ms).single()?,
            to: Utc.timestamp_millis_opt(to_ms).single()?,
        })
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;
pub const DEFAULT_STATS: [Stat; 2] = [Stat::Mean, Stat::P95];

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub ref_id: String,
    pub query_type: QueryType,
    /// `auto` already resolved against the data source's default.
    pub source: Source,
    pub filters: Filters,
    pub group_by: GroupBy,
    pub stats: Vec<Stat>,
    /// For `capacity`: which measures to answer (all by default), so that an alert rule
    /// can watch `used` alone.
    pub measures: Vec<Measure>,
    pub limit: usize,
    pub include_syncs: bool,
    /// For the host query types and the jobs table: whose host summaries to load.
    pub host_summaries: HostSummaries,
    /// `groupBy: host` (host query types only; `group_by` is then `none`).
    pub by_host: bool,
    /// For `host_failures`: which outcomes to answer (both by default), so that an alert rule
    /// can watch unreachable hosts alone.
    pub outcomes: Vec<HostOutcome>,
    pub expr: String,
    pub legend_format: String,
    pub instant: bool,
    pub lookup: Option<LookupKind>,
    pub range: TimeRange,
    pub interval_ms: i64,
    pub max_data_points: i64,
    /// From Grafana's alerting (the `FromAlert` header): exact answers or an error.
    pub from_alert: bool,
}

/// What Grafana sends besides the JSON (the protocol's DataQuery fields).
#[derive(Debug, Clone)]
pub struct QueryEnvelope<'a> {
    pub ref_id: &'a str,
    pub query_type: &'a str,
    pub json: &'a [u8],
    pub range: TimeRange,
    pub interval_ms: i64,
    pub max_data_points: i64,
    /// Grafana's alerting asks (the `FromAlert` header): never a partial answer.
    pub from_alert: bool,
}

impl Query {
    pub fn parse(env: &QueryEnvelope<'_>, default_source: Source) -> Result<Self, QueryError> {
        let obj: Map<String, Value> = if env.json.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(env.json) {
                Ok(Value::Object(m)) => m,
                Ok(other) => {
                    return Err(QueryError::new(
                        "query",
                        format!("expected a JSON object, got {}", json_kind(&other)),
                    ))
                }
                Err(e) => return Err(QueryError::new("query", format!("invalid JSON: {e}"))),
            }
        };

        let type_name = match obj.get("queryType") {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            Some(Value::String(_)) | None | Some(Value::Null) => env.query_type,
            Some(other) => {
                return Err(QueryError::new(
                    "queryType",
                    format!("expected a string, got {}", json_kind(other)),
                ))
            }
        };
        if type_name.is_empty() {
            return Err(QueryError::new(
                "queryType",
                format!("missing; choose one of: {}", QueryType::valid()),
            ));
        }
        let query_type = QueryType::parse(type_name).ok_or_else(|| {
            QueryError::new(
                "queryType",
                format!(
                    "unknown query type `{type_name}`; choose one of: {}",
                    QueryType::valid()
                ),
            )
        })?;

        let source = match opt_str(&obj, "source")? {
            None => default_source,
            Some(s) => Source::parse(s).ok_or_else(|| {
                QueryError::new(
                    "source",
                    format!("unknown source `{s}`; use auto, api or prometheus"),
                )
            })?,
        };
        let source = if source == Source::Auto {
            default_source
        } else {
            source
        };

        let filters = parse_filters(obj.get("filters"))?;
        let hosts = query_type.is_host_kpi();
        if !filters.host.is_empty() && !hosts {
            return Err(QueryError::new(
                "filters.host",
                format!(
                    "picks hosts, which only host_outcomes and host_failures have; remove it from this {query_type} query"
                ),
            ));
        }
        let (group_by, by_host) = match opt_str(&obj, "groupBy")? {
            None => (GroupBy::None, false),
            Some("host") if hosts => (GroupBy::None, true),
            Some("host") => {
                return Err(QueryError::new(
                    "groupBy",
                    format!(
                        "`host` groups host_outcomes and host_failures only; use one of: {}",
                        GroupBy::valid()
                    ),
                ))
            }
            Some(s) => {
                let g = GroupBy::parse(s).ok_or_else(|| {
                    let also = if hosts { ", host" } else { "" };
                    QueryError::new(
                        "groupBy",
                        format!(
                            "unknown groupBy `{s}`; use one of: {}{also}",
                            GroupBy::valid()
                        ),
                    )
                })?;
                (g, false)
            }
        };
        let host_summaries = match opt_str(&obj, "hostSummaries")? {
            None if hosts => HostSummaries::Failed,
            None => HostSummaries::None,
            Some(s) => HostSummaries::parse(s).ok_or_else(|| {
                QueryError::new(
                    "hostSummaries",
                    format!(
                        "unknown `{s}`; use failed (the failed and unreachable hosts of failed jobs), all (every host of every run: one AWX request per job) or none"
                    ),
                )
            })?,
        };
        let outcomes = enum_list_or(
            &obj,
            "outcomes",
            HostOutcome::parse,
            HostOutcome::valid,
            "a host outcome",
            HostOutcome::ALL,
        )?;
        if hosts && host_summaries == HostSummaries::None {
            return Err(QueryError::new(
                "hostSummaries",
                format!("{query_type} needs host summaries; use failed or all"),
            ));
        }
        let stats = enum_list_or(
            &obj,
            "stats",
            Stat::parse,
            Stat::valid,
            "a statistic",
            &DEFAULT_STATS,
        )?;
        let measures = enum_list_or(
            &obj,
            "measures",
            Measure::parse,
            Measure::valid,
            "a capacity measure",
            Measure::ALL,
        )?;
        let limit = match obj.get("limit") {
            None | Some(Value::Null) => DEFAULT_LIMIT,
            Some(v) => {
                let n = match v {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) if s.trim().is_empty() => Some(DEFAULT_LIMIT as u64),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                match n {
                    Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => n as usize,
                    _ => {
                        return Err(QueryError::new(
                            "limit",
                            format!(
                            "`{v}` is not a row count; use a whole number from 1 to {MAX_LIMIT}"
                        ),
                        ))
                    }
                }
            }
        };
        let include_syncs = opt_bool(&obj, "includeSyncs")?.unwrap_or(false);
        let instant = opt_bool(&obj, "instant")?.unwrap_or(false);
        let expr = opt_str(&obj, "expr")?.unwrap_or_default().to_string();
        let legend_format = opt_str(&obj, "legendFormat")?
            .unwrap_or_default()
            .to_string();
        let lookup = match opt_str(&obj, "lookup")? {
            None => None,
            Some(s) => Some(LookupKind::parse(s).ok_or_else(|| {
                QueryError::new(
                    "lookup",
                    format!("unknown lookup `{s}`; use one of: {}", LookupKind::valid()),
                )
            })?),
        };
        if query_type == QueryType::Lookup && lookup.is_none() {
            return Err(QueryError::new(
                "lookup",
                format!("missing; say what to list, one of: {}", LookupKind::valid()),
            ));
        }
        if query_type == QueryType::Promql && expr.trim().is_empty() {
            return Err(QueryError::new(
                "expr",
                "missing; write a PromQL expression, e.g. sum(awx_running_jobs_total)",
            ));
        }
        if env.range.from >= env.range.to && query_type_needs_range(query_type) {
            return Err(QueryError::new(
                "timeRange",
                "the range is empty or reversed: `from` must be before `to`",
            ));
        }

        Ok(Query {
            ref_id: env.ref_id.to_string(),
            query_type,
            source,
            filters,
            group_by,
            stats,
            measures,
            limit,
            include_syncs,
            host_summaries,
            by_host,
            outcomes,
            expr,
            legend_format,
            instant,
            lookup,
            range: env.range,
            interval_ms: env.interval_ms,
            max_data_points: env.max_data_points,
            from_alert: env.from_alert,
        })
    }
}

fn query_type_needs_range(t: QueryType) -> bool {
    !matches!(
        t,
        QueryType::Lookup | QueryType::System | QueryType::Instances
    )
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, QueryError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(QueryError::new(
            key,
            format!("expected a string, got {}", json_kind(other)),
        )),
    }
}

fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, QueryError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(other) => Err(QueryError::new(
            key,
            format!("expected true or false, got {other}"),
        )),
    }
}

/// A list of strings; a single string or number is accepted as a one-element list
/// (a template variable with one value). Empty strings are dropped.
fn string_list(field: &str, v: &Value) -> Result<Vec<String>, QueryError> {
    let item = |v: &Value| -> Result<Option<String>, QueryError> {
        match v {
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.trim().to_string())),
            Value::Number(n) => Ok(Some(n.to_string())),
            other => Err(QueryError::new(
                field,
                format!(
                    "expected a list of strings, found {} in it",
                    json_kind(other)
                ),
            )),
        }
    };
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items
            .iter()
            .map(item)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect()),
        Value::String(_) | Value::Number(_) => Ok(item(v)?.into_iter().collect()),
        other => Err(QueryError::new(
            field,
            format!("expected a list of strings, got {}", json_kind(other)),
        )),
    }
}

fn enum_list<T: Copy + PartialEq>(
    field: &str,
    v: &Value,
    parse: fn(&str) -> Option<T>,
    valid: fn() -> String,
    what: &str,
) -> Result<Vec<T>, QueryError> {
    let mut out = Vec::new();
    for s in string_list(field, v)? {
        let t = parse(&s).ok_or_else(|| {
            QueryError::new(
                field,
                format!("`{s}` is not {what}; use any of: {}", valid()),
            )
        })?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// [`enum_list`] of an optional key: missing, null or empty gives `default`.
fn enum_list_or<T: Copy + PartialEq>(
    obj: &Map<String, Value>,
    key: &str,
    parse: fn(&str) -> Option<T>,
    valid: fn() -> String,
    what: &str,
    default: &[T],
) -> Result<Vec<T>, QueryError> {
    let list = match obj.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => enum_list(key, v, parse, valid, what)?,
    };
    Ok(if list.is_empty() {
        default.to_vec()
    } else {
        list
    })
}

fn parse_filters(v: Option<&Value>) -> Result<Filters, QueryError> {
    let obj = match v {
        None | Some(Value::Null) => return Ok(Filters::default()),
        Some(Value::Object(o)) => o,
        Some(other) => {
            return Err(QueryError::new(
                "filters",
                format!(
                    "expected an object such as {{\"status\": [\"failed\"]}}, got {}",
                    json_kind(other)
                ),
            ))
        }
    };
    let mut f = Filters::default();
    for (key, value) in obj {
        let field = format!("filters.{key}");
        match key.as_str() {
            "organization" => f.organization = string_list(&field, value)?,
            "template" => f.template = string_list(&field, value)?,
            "inventory" => f.inventory = string_list(&field, value)?,
            "project" => f.project = string_list(&field, value)?,
            "instanceGroup" => f.instance_group = string_list(&field, value)?,
            "executionNode" => f.execution_node = string_list(&field, value)?,
            "launchedBy" => f.launched_by = string_list(&field, value)?,
            "name" => f.name = string_list(&field, value)?,
            "host" => f.host = string_list(&field, value)?,
            "status" => {
                f.status = enum_list(
                    &field,
                    value,
                    JobStatus::parse,
                    JobStatus::valid,
                    "a job status",
                )?
            }
            "jobType" => {
                f.job_type = enum_list(&field, value, JobType::parse, JobType::valid, "a job type")?
            }
            "launchType" => {
                f.launch_type = enum_list(
                    &field,
                    value,
                    LaunchType::parse,
                    LaunchType::valid,
                    "a launch type",
                )?
            }
            other => {
                return Err(QueryError::new(
                    field.clone(),
                    format!(
                        "unknown filter `{other}`; use any of: {}",
                        FILTER_KEYS.join(", ")
                    ),
                ))
            }
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(json: &str) -> QueryEnvelope<'_> {
        QueryEnvelope {
            ref_id: "A",
            query_type: "",
            json: json.as_bytes(),
            range: TimeRange::from_millis(0, 3_600_000).unwrap(),
            interval_ms: 60_000,
            max_data_points: 1000,
            from_alert: false,
        }
    }

    fn parse(json: &str) -> Result<Query, QueryError> {
        Query::parse(&env(json), Source::Api)
    }

    #[test]
    fn grafana_keys_are_ignored_and_defaults_apply() {
        let q = parse(
            r#"{"queryType":"job_duration","refId":"A","datasource":{"uid":"x"},"intervalMs":1000,"hide":false}"#,
        )
        .unwrap();
        assert_eq!(q.query_type, QueryType::JobDuration);
        assert_eq!(q.stats, vec![Stat::Mean, Stat::P95]);
        assert_eq!(q.limit, 100);
        assert_eq!(q.group_by, GroupBy::None);
        assert_eq!(q.source, Source::Api);
        assert!(!q.include_syncs);
    }

    #[test]
    fn unknown_query_type_lists_the_valid_ones() {
        let e = parse(r#"{"queryType":"nope"}"#).unwrap_err();
        assert_eq!(e.field, "queryType");
        assert!(e.message.contains("job_status_counts") && e.message.contains("lookup"));
        let e = parse("{}").unwrap_err();
        assert!(e.message.contains("missing"), "{e}");
    }

    #[test]
    fn the_protocol_query_type_is_used_when_the_json_has_none() {
        let mut e = env("{}");
        e.query_type = "jobs";
        assert_eq!(
            Query::parse(&e, Source::Auto).unwrap().query_type,
            QueryType::Jobs
        );
    }

    #[test]
    fn filters_accept_lists_single_values_and_reject_bad_values() {
        let q = parse(
            r#"{"queryType":"jobs","filters":{"status":["failed","error",""],"template":"Deploy","organization":[],"jobType":["job"]}}"#,
        )
        .unwrap();
        assert_eq!(q.filters.status, vec![JobStatus::Failed, JobStatus::Error]);
        assert_eq!(q.filters.template, vec!["Deploy"]);
        assert_eq!(q.filters.job_type, vec![JobType::Job]);
        let e = parse(r#"{"queryType":"jobs","filters":{"status":["runing"]}}"#).unwrap_err();
        assert_eq!(e.field, "filters.status");
        assert!(e.message.contains("running"), "{e}");
        let e = parse(r#"{"queryType":"jobs","filters":{"colour":["red"]}}"#).unwrap_err();
        assert!(e.message.contains("launchType"), "{e}");
        let e = parse(r#"{"queryType":"jobs","filters":[1]}"#).unwrap_err();
        assert_eq!(e.field, "filters");
    }

    #[test]
    fn limits_and_stats_are_validated() {
        assert_eq!(
            parse(r#"{"queryType":"jobs","limit":"250"}"#)
                .unwrap()
                .limit,
            250
        );
        let e = parse(r#"{"queryType":"jobs","limit":10001}"#).unwrap_err();
        assert!(e.message.contains("10000"), "{e}");
        let e = parse(r#"{"queryType":"job_duration","stats":["p42"]}"#).unwrap_err();
        assert!(e.message.contains("p95"), "{e}");
        let q = parse(r#"{"queryType":"job_duration","stats":["max","max","count"]}"#).unwrap();
        assert_eq!(q.stats, vec![Stat::Max, Stat::Count]);
        let q = parse(r#"{"queryType":"capacity","measures":["used"]}"#).unwrap();
        assert_eq!(q.measures, vec![Measure::Used]);
        let q = parse(r#"{"queryType":"capacity"}"#).unwrap();
        assert_eq!(q.measures, Measure::ALL);
        let e = parse(r#"{"queryType":"capacity","measures":["free"]}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("measures: `free` is not a capacity measure"),
            "{e}"
        );
    }

    #[test]
    fn bad_json_shapes_fail_with_the_field_named() {
        assert_eq!(parse("[1,2]").unwrap_err().field, "query");
        assert_eq!(parse("{not json").unwrap_err().field, "query");
        assert_eq!(
            parse(r#"{"queryType":"jobs","groupBy":5}"#)
                .unwrap_err()
                .field,
            "groupBy"
        );
        assert_eq!(
            parse(r#"{"queryType":"lookup"}"#).unwrap_err().field,
            "lookup"
        );
        assert_eq!(
            parse(r#"{"queryType":"promql"}"#).unwrap_err().field,
            "expr"
        );
    }

    #[test]
    fn host_query_types_take_host_options_and_others_refuse_them() {
        let q = parse(r#"{"queryType":"host_outcomes"}"#).unwrap();
        assert_eq!(q.host_summaries, HostSummaries::Failed);
        assert!(!q.by_host);
        let q = parse(
            r#"{"queryType":"host_failures","groupBy":"host","hostSummaries":"all","filters":{"host":["web-01","12"]}}"#,
        )
        .unwrap();
        assert!(q.by_host);
        assert_eq!(q.group_by, GroupBy::None);
        assert_eq!(q.host_summaries, HostSummaries::All);
        assert_eq!(q.filters.host, vec!["web-01", "12"]);
        let q = parse(r#"{"queryType":"host_outcomes","groupBy":"template"}"#).unwrap();
        assert_eq!((q.group_by, q.by_host), (GroupBy::Template, false));
        // the jobs table loads none unless asked
        assert_eq!(
            parse(r#"{"queryType":"jobs"}"#).unwrap().host_summaries,
            HostSummaries::None
        );
        assert_eq!(
            parse(r#"{"queryType":"jobs","hostSummaries":"failed"}"#)
                .unwrap()
                .host_summaries,
            HostSummaries::Failed
        );
        let e = parse(r#"{"queryType":"host_outcomes","hostSummaries":"none"}"#).unwrap_err();
        assert_eq!(e.field, "hostSummaries");
        assert!(e.message.contains("failed or all"), "{e}");
        let e = parse(r#"{"queryType":"host_outcomes","hostSummaries":"some"}"#).unwrap_err();
        assert!(e.message.contains("use failed"), "{e}");
        let e = parse(r#"{"queryType":"job_throughput","groupBy":"host"}"#).unwrap_err();
        assert_eq!(e.field, "groupBy");
        assert!(e.message.contains("host_outcomes"), "{e}");
        let e = parse(r#"{"queryType":"host_failures","groupBy":"rack"}"#).unwrap_err();
        assert!(e.message.ends_with(", host"), "{e}");
        assert_eq!(q.outcomes, HostOutcome::ALL);
        let q = parse(r#"{"queryType":"host_failures","outcomes":["unreachable"]}"#).unwrap();
        assert_eq!(q.outcomes, vec![HostOutcome::Unreachable]);
        let e = parse(r#"{"queryType":"host_failures","outcomes":["dark"]}"#).unwrap_err();
        assert!(
            e.to_string().contains(
                "outcomes: `dark` is not a host outcome; use any of: failed, unreachable"
            ),
            "{e}"
        );
        let e = parse(r#"{"queryType":"jobs","filters":{"host":["x"]}}"#).unwrap_err();
        assert_eq!(e.field, "filters.host");
        assert!(e.message.contains("remove it"), "{e}");
    }

    #[test]
    fn auto_source_resolves_to_the_default() {
        let q = Query::parse(
            &env(r#"{"queryType":"active_jobs","source":"auto"}"#),
            Source::Prometheus,
        )
        .unwrap();
        assert_eq!(q.source, Source::Prometheus);
    }
}
