//! The KPIs answered from Prometheus: the history of AWX's own gauges (capacity, the
//! pending and running queue, the installation's counts) and raw PromQL. Range results
//! become one wide frame: a time field on the aligned steps, one number field per
//! series with its labels.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::awx::{ApiRequest, AwxError, Page};
use crate::frame::{Field, FieldConfig, Frame, FrameType, Severity, Values};
use crate::instances::Instance;
use crate::jobs::record::micros;
use crate::jobs::Micros;
use crate::prometheus::promql::{self, metric};
use crate::prometheus::{PrometheusClient, QueryResult, Series};
use crate::query::{GroupBy, JobStatus, Query, QueryError, QueryType, Stat};

use super::buckets::Buckets;
use super::{capacity, KpiError};

struct Steps {
    start: i64,
    step: i64,
    count: usize,
}

impl Steps {
    fn for_query(q: &Query) -> Self {
        let step = promql::step_seconds(q);
        let (start, end) = promql::aligned_range(q, step);
        Steps {
            start,
            step,
            count: ((end - start) / step + 1) as usize,
        }
    }

    fn index(&self, t: f64) -> Option<usize> {
        let offset = t - self.start as f64;
        let i = (offset / self.step as f64).round();
        (i >= 0.0 && (i as usize) < self.count && (offset - i * self.step as f64).abs() < 1e-3)
            .then_some(i as usize)
    }

    fn time_values(&self) -> Values {
        Values::Time(
            (0..self.count)
                // Checked: a range past 2262 has no nanosecond timestamp (null, not a panic).
                .map(|i| {
                    (i as i64)
                        .checked_mul(self.step)
                        .and_then(|o| o.checked_add(self.start))
                        .and_then(|t| t.checked_mul(1_000_000_000))
                })
                .collect(),
        )
    }

    /// A series' values on the steps; missing steps and NaN are nulls.
    fn values(&self, s: &Series) -> Vec<Option<f64>> {
        let mut v = vec![None; self.count];
        for (t, x) in &s.samples {
            if let Some(i) = self.index(*t) {
                v[i] = x.is_finite().then_some(*x);
            }
        }
        v
    }
}

async fn range(
    prom: &PrometheusClient,
    expr: &str,
    steps: &Steps,
) -> Result<QueryResult, KpiError> {
    let end = steps.start + (steps.count as i64 - 1) * steps.step;
    Ok(prom
        .query_range(expr, steps.start as f64, end as f64, steps.step as f64)
        .await?)
}

fn warnings(mut frame: Frame, results: &[&QueryResult]) -> Frame {
    for r in results {
        for w in &r.warnings {
            frame = frame.with_notice(Severity::Warning, format!("Prometheus: {w}"));
        }
    }
    frame
}

/// `capacity` over time: per instance (labels hostname, node_type) and in total.
pub async fn capacity(prom: &PrometheusClient, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let steps = Steps::for_query(q);
    let sel = &prom.selector;
    let hosts = host_matcher(&q.filters.execution_node);
    // Several Prometheus targets may scrape the same AWX: the values are cluster-wide.
    let expr = |m: &str| format!("max by (hostname, node_type) ({})", metric(m, sel, &hosts));
    let exprs = [
        expr("awx_instance_capacity"),
        expr("awx_instance_consumed_capacity"),
        expr("awx_instance_remaining_capacity"),
    ];
    let (cap, used, left) = tokio::try_join!(
        range(prom, &exprs[0], &steps),
        range(prom, &exprs[1], &steps),
        range(prom, &exprs[2], &steps)
    )?;
    let mut per_host = capacity::PerHost::new();
    for (k, result) in [&cap, &used, &left].into_iter().enumerate() {
        for s in &result.series {
            let key = (
                s.labels.get("hostname").cloned().unwrap_or_default(),
                s.labels.get("node_type").cloned().unwrap_or_default(),
            );
            let slot = per_host
                .entry(key)
                .or_insert_with(|| std::array::from_fn(|_| vec![None; steps.count]));
            slot[k] = steps.values(s);
        }
    }
    let mut fields = vec![Field::new("time", steps.time_values())];
    fields.extend(capacity::fields(&per_host, steps.count, &q.measures));
    let frame = Frame::new("capacity")
        .with_type(FrameType::TimeSeriesWide)
        .with_executed_query(exprs.join("\n"))
        .with_fields(fields);
    Ok(vec![warnings(frame, &[&cap, &used, &left])])
}

/// `hostname=~"a|b"` for the chosen nodes (names matched literally), or nothing.
fn host_matcher(nodes: &[String]) -> String {
    if nodes.is_empty() {
        return String::new();
    }
    let alternatives: Vec<String> = nodes.iter().map(|n| regex_literal(n)).collect();
    format!("hostname=~\"{}\"", alternatives.join("|"))
}

/// A string matched literally inside a PromQL double-quoted RE2 regex: RE2's
/// metacharacters escaped, then the whole escaped again as a PromQL string.
fn regex_literal(s: &str) -> String {
    let mut re = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            re.push('\\');
        }
        re.push(c);
    }
    promql_string(&re)
}

/// The inside of a PromQL double-quoted string.
fn promql_string(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `active_jobs` from AWX's gauges. AWX's awx_running_jobs_total counts running AND
/// waiting jobs; waiting alone is not exported, so it is null.
pub async fn active_jobs(prom: &PrometheusClient, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let steps = Steps::for_query(q);
    let sel = &prom.selector;
    let pending_expr = format!("max({})", metric("awx_pending_jobs_total", sel, ""));
    let running_expr = format!("max({})", metric("awx_running_jobs_total", sel, ""));
    let (pending, running) = tokio::try_join!(
        range(prom, &pending_expr, &steps),
        range(prom, &running_expr, &steps)
    )?;
    let one = |r: &QueryResult| {
        r.series
            .first()
            .map(|s| steps.values(s))
            .unwrap_or_else(|| vec![None; steps.count])
    };
    // A `state` label per field: alerting tells series apart by labels alone.
    let state = |name: &str, v: Vec<Option<f64>>| {
        Field::new(name, Values::F64(v))
            .with_unit("short")
            .with_label("state", name)
            .with_display_name(name)
    };
    let frame = Frame::new("active_jobs")
        .with_type(FrameType::TimeSeriesWide)
        .with_executed_query(format!("{pending_expr}\n{running_expr}"))
        .with_notice(
            Severity::Info,
            "From AWX's gauges: running counts running and waiting jobs (awx_running_jobs_total); syncs are left out.",
        )
        .with_field(Field::new("time", steps.time_values()))
        .with_field(state("pending", one(&pending)))
        .with_field(state("waiting", vec![None; steps.count]))
        .with_field(state("running", one(&running)));
    Ok(vec![warnings(frame, &[&pending, &running])])
}

/// `system` from AWX's gauges at the end of the range.
pub async fn system(prom: &PrometheusClient, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let sel = &prom.selector;
    let at = q.range.to;
    let info_expr = metric("awx_system_info", sel, "");
    let counts = [
        (
            "instances",
            format!("count({})", metric("awx_instance_info", sel, "")),
        ),
        (
            "organizations",
            format!("max({})", metric("awx_organizations_total", sel, "")),
        ),
        (
            "templates",
            format!(
                "max({}) + max({})",
                metric("awx_job_templates_total", sel, ""),
                metric("awx_workflow_job_templates_total", sel, "")
            ),
        ),
        (
            "hosts",
            format!("max({})", metric("awx_hosts_total", sel, "type=\"all\"")),
        ),
    ];
    let info = prom.query(&info_expr, at).await?;
    let values =
        futures::future::try_join_all(counts.iter().map(|(_, e)| prom.query(e, at))).await?;
    let labels = info
        .series
        .first()
        .map(|s| s.labels.clone())
        .unwrap_or_default();
    let label = |k: &str| Values::Str(vec![labels.get(k).cloned()]);
    let mut frame = Frame::new("system")
        .with_executed_query(
            std::iter::once(info_expr.clone())
                .chain(counts.iter().map(|(_, e)| e.clone()))
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .with_field(Field::new("version", label("tower_version")))
        .with_field(Field::new("license_type", label("license_type")))
        .with_field(Field::new("install_uuid", label("install_uuid")));
    for ((name, _), r) in counts.iter().zip(&values) {
        let v = r.series.first().and_then(|s| s.samples.last()).map(|x| x.1);
        frame = frame.with_field(Field::new(
            *name,
            Values::F64(vec![v.filter(|x| x.is_finite())]),
        ));
    }
    if info.series.is_empty() {
        frame = frame.with_notice(
            Severity::Warning,
            format!("No {info_expr} in Prometheus at the end of the range: check the scrape and the selector."),
        );
    }
    Ok(vec![frame])
}

/// Raw PromQL, range or instant, with Grafana's macros and legend format.
pub async fn promql(prom: &PrometheusClient, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let steps = Steps::for_query(q);
    let expr = promql::expand_macros(&q.expr, q, steps.step);
    let display = |s: &Series| promql::legend(&q.legend_format, &s.labels);
    if q.instant {
        let r = prom.query(&expr, q.range.to).await?;
        // An instant vector is a numeric table: labels as string columns, one value.
        let keys: Vec<String> = r
            .series
            .iter()
            .flat_map(|s| s.labels.keys().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut frame = Frame::new("promql")
            .with_type(FrameType::NumericLong)
            .with_executed_query(&expr);
        for k in &keys {
            frame = frame.with_field(Field::new(
                k.as_str(),
                Values::Str(r.series.iter().map(|s| s.labels.get(k).cloned()).collect()),
            ));
        }
        frame = frame.with_field(Field::new(
            "value",
            Values::F64(
                r.series
                    .iter()
                    .map(|s| s.samples.last().map(|x| x.1).filter(|x| x.is_finite()))
                    .collect(),
            ),
        ));
        return Ok(vec![warnings(frame, &[&r])]);
    }
    let r = range(prom, &expr, &steps).await?;
    let mut frame = Frame::new("promql")
        .with_type(FrameType::TimeSeriesWide)
        .with_executed_query(&expr)
        .with_field(Field::new("time", steps.time_values()));
    for s in &r.series {
        let name = s
            .labels
            .get("__name__")
            .cloned()
            .unwrap_or_else(|| "value".into());
        let mut labels = s.labels.clone();
        labels.remove("__name__");
        let mut f = Field::new(name, Values::F64(steps.values(s))).with_labels(labels);
        if let Some(d) = display(s) {
            f = f.with_config(FieldConfig {
                display_name_from_ds: Some(d),
                ..Default::default()
            });
        }
        frame = frame.with_field(f);
    }
    Ok(vec![warnings(frame, &[&r])])
}

// ---------------------------------------------------------------------------------------
// The job KPIs from the metrics of `awx-kpi export` (docs/EXPORTER.md): the history that
// outlives AWX's cleanup_jobs, in the same frames as the API answers.

/// The exporter's families behind the job KPIs.
const JOBS: &str = "awx_jobs_total";
const ELAPSED: &str = "awx_job_elapsed_seconds";
const WAIT: &str = "awx_job_wait_seconds";
/// Present from the exporter's start: a bucket where it has a sample was covered.
const EXPORTER_UP: &str = "awx_exporter_start_time_seconds";

/// The exporter's label for a group, or `None` for groups its metrics do not carry.
fn exporter_label(by: GroupBy, histogram_of_waits: bool) -> Option<&'static str> {
    Some(match by {
        GroupBy::None => "",
        GroupBy::Template => "job_template_name",
        GroupBy::Organization => "organization",
        GroupBy::JobType => "job_type",
        GroupBy::LaunchType => "launch_type",
        GroupBy::Status if !histogram_of_waits => "status",
        _ => return None,
    })
}

fn exporter_matchers(q: &Query, selector: &str, waits: bool) -> Result<String, KpiError> {
    let f = &q.filters;
    let unsupported: [(&str, bool); 6] = [
        ("inventory", !f.inventory.is_empty()),
        ("project", !f.project.is_empty()),
        ("instanceGroup", !f.instance_group.is_empty()),
        ("executionNode", !f.execution_node.is_empty()),
        ("launchedBy", !f.launched_by.is_empty()),
        ("name", !f.name.is_empty()),
    ];
    let status = ("status", waits && !f.status.is_empty());
    if let Some((key, _)) = unsupported.iter().chain([&status]).find(|(_, set)| *set) {
        return Err(QueryError::new(
            format!("filters.{key}"),
            format!(
                "{} through Prometheus reads the metrics of awx-kpi export, whose labels are {}; remove this filter or use source api",
                q.query_type,
                if waits {
                    "job_template_name, organization, job_type and launch_type"
                } else {
                    "job_template_name, organization, job_type, launch_type and status"
                }
            ),
        )
        .into());
    }
    let mut m: Vec<String> = Vec::new();
    if !selector.is_empty() {
        m.push(selector.to_string());
    }
    let mut any_of = |label: &str, values: Vec<&str>| {
        if !values.is_empty() {
            let alt: Vec<String> = values.iter().map(|v| regex_literal(v)).collect();
            m.push(format!("{label}=~\"{}\"", alt.join("|")));
        }
    };
    any_of(
        "job_template_name",
        f.template.iter().map(String::as_str).collect(),
    );
    any_of(
        "organization",
        f.organization.iter().map(String::as_str).collect(),
    );
    any_of("job_type", f.job_type.iter().map(|t| t.as_str()).collect());
    any_of(
        "launch_type",
        f.launch_type.iter().map(|t| t.as_str()).collect(),
    );
    if !waits {
        any_of("status", f.status.iter().map(|s| s.as_str()).collect());
    }
    if !q.include_syncs {
        m.push("launch_type!=\"sync\"".into());
    }
    Ok(m.join(","))
}

/// `name{matchers}` with more matchers.
fn with(name: &str, matchers: &str, extra: &str) -> String {
    let parts: Vec<&str> = [matchers, extra]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    format!("{name}{{{}}}", parts.join(","))
}

/// A measure of each bucket: PromQL with `$W` for the bucket's window, and how the
/// groups are told apart.
struct Measure {
    /// Label of the group in the result (`""`: one series).
    by: &'static str,
    template: String,
}

impl Measure {
    fn expr(&self, window_ms: i64) -> String {
        self.template.replace("$W", &format!("{window_ms}ms"))
    }
}

/// Steps per range query: Prometheus refuses more than 11,000 points per series.
const MAX_STEPS: usize = 10_000;

/// Per group, one value per bucket.
type PerGroup = BTreeMap<String, Vec<Option<f64>>>;

/// How each bucket is evaluated: a window ending at the bucket's end (or at the range's
/// end for the last bucket, from the range's start for the first), so that a bucket
/// holds what happened in it and within the range, as the API's buckets do.
struct Windows {
    buckets: Buckets,
}

impl Windows {
    fn span(&self, i: usize) -> (i64, i64) {
        let b = &self.buckets;
        let start = b.first + i as i64 * b.width;
        (start.max(b.from) / 1000, (start + b.width).min(b.to) / 1000)
    }

    /// Evaluates a measure on every bucket: one range query for the whole buckets and an
    /// instant query for each clipped one at the range's edges.
    async fn run(
        &self,
        prom: &PrometheusClient,
        m: &Measure,
        executed: &mut Vec<String>,
    ) -> Result<(PerGroup, Vec<String>), KpiError> {
        let b = &self.buckets;
        let n = b.count;
        let width_ms = b.width / 1000;
        let whole = |i: usize| {
            let (lo, hi) = self.span(i);
            hi - lo == width_ms
        };
        let mut out: PerGroup = BTreeMap::new();
        let mut warnings = Vec::new();
        let put = |out: &mut PerGroup, s: &Series, i: usize, v: f64| {
            let group = if m.by.is_empty() {
                String::new()
            } else {
                s.labels.get(m.by).cloned().unwrap_or_default()
            };
            out.entry(group).or_insert_with(|| vec![None; n])[i] = v.is_finite().then_some(v);
        };
        let full: Vec<usize> = (0..n).filter(|i| whole(*i)).collect();
        // The whole buckets are consecutive; Prometheus answers at most 11,000 steps a query.
        for part in full.chunks(MAX_STEPS) {
            let (a, z) = (part[0], part[part.len() - 1]);
            let expr = m.expr(width_ms);
            let end_of = |i: usize| (self.span(i).1) as f64 / 1000.0;
            let r = prom
                .query_range(&expr, end_of(a), end_of(z), width_ms as f64 / 1000.0)
                .await?;
            if !executed.contains(&expr) {
                executed.push(expr);
            }
            warnings.extend(r.warnings.iter().cloned());
            for s in &r.series {
                for (t, v) in &s.samples {
                    let t_ms = (t * 1000.0).round() as i64;
                    let i = (t_ms - width_ms - b.first / 1000).div_euclid(width_ms);
                    if i >= 0 && (i as usize) < n && whole(i as usize) {
                        put(&mut out, s, i as usize, *v);
                    }
                }
            }
        }
        for i in (0..n).filter(|i| !whole(*i)) {
            let (lo, hi) = self.span(i);
            if hi <= lo {
                continue;
            }
            let expr = m.expr(hi - lo);
            let at = chrono::DateTime::from_timestamp_millis(hi).ok_or_else(|| {
                KpiError::RangeOutOfBounds {
                    from: lo.to_string(),
                    to: hi.to_string(),
                }
            })?;
            let r = prom.query(&expr, at).await?;
            executed.push(format!("{expr} @ {}", at.to_rfc3339()));
            warnings.extend(r.warnings.iter().cloned());
            for s in &r.series {
                if let Some((_, v)) = s.samples.last() {
                    put(&mut out, s, i, *v);
                }
            }
        }
        Ok((out, warnings))
    }
}

/// A number field of a job KPI, labelled and named as the API's.
fn kpi_field(
    name: &str,
    values: Vec<Option<f64>>,
    unit: &str,
    labels: &[(&str, &str)],
    display: String,
) -> Field {
    let mut config = FieldConfig::unit(unit);
    config.display_name_from_ds = Some(display);
    Field::new(name, Values::F64(values))
        .with_labels(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .with_config(config)
}

/// Counts: 0 in a bucket the exporter covered, null where it had no sample.
fn counts(v: Option<&Vec<Option<f64>>>, covered: &[bool]) -> Vec<Option<f64>> {
    covered
        .iter()
        .enumerate()
        .map(|(i, c)| match v.and_then(|v| v[i]) {
            Some(x) => Some(x),
            None => c.then_some(0.0),
        })
        .collect()
}

/// `job_throughput`, `failure_rate`, `job_duration` and `queue_wait` from the exporter's
/// counters and histograms: per bucket, `increase()` over the bucket (Prometheus
/// extrapolates to its edges), percentiles by `histogram_quantile`.
pub async fn job_series(prom: &PrometheusClient, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let waits = q.query_type == QueryType::QueueWait;
    let stats_kpi = matches!(q.query_type, QueryType::JobDuration | QueryType::QueueWait);
    let by = exporter_label(q.group_by, waits).ok_or_else(|| {
        QueryError::new(
            "groupBy",
            format!(
                "{} through Prometheus can group by {} only (the labels of awx-kpi export's metrics); use source api to group by {}",
                q.query_type,
                if waits {
                    "template, organization, jobType or launchType"
                } else {
                    "template, status, organization, jobType or launchType"
                },
                q.group_by
            ),
        )
    })?;
    if stats_kpi {
        if let Some(s) = q.stats.iter().find(|s| matches!(s, Stat::Min | Stat::Max)) {
            return Err(QueryError::new(
                "stats",
                format!("`{s}` needs every job's value, which a histogram does not keep: use source api, or any of mean, p50, p90, p95, p99, count"),
            )
            .into());
        }
    }
    let matchers = exporter_matchers(q, &prom.selector, waits)?;
    let buckets = Buckets::for_query(q)?;
    let windows = Windows { buckets };
    let n = buckets.count;
    let sum_by = |extra: &str| {
        if extra.is_empty() {
            "sum".to_string()
        } else {
            format!("sum by ({extra})")
        }
    };
    let increase = |metric: &str, extra: &str, group: &str| -> String {
        format!(
            "{} (increase({}[$W]))",
            sum_by(group),
            with(metric, &matchers, extra)
        )
    };
    let mut executed: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let coverage = Measure {
        by: "",
        template: format!(
            "count(count_over_time({}[$W]))",
            metric(EXPORTER_UP, &prom.selector, "")
        ),
    };
    let (up, w) = windows.run(prom, &coverage, &mut executed).await?;
    warnings.extend(w);
    let covered: Vec<bool> = match up.get("") {
        Some(v) => v.iter().map(|x| x.is_some_and(|x| x > 0.0)).collect(),
        None => vec![false; n],
    };
    let label = super::records::group_label(q.group_by);
    let display = |what: &str, g: &str| {
        if by.is_empty() {
            what.to_string()
        } else {
            format!("{what} {g}")
        }
    };
    let mut fields = Vec::new();
    let mut notices: Vec<String> = vec![format!(
        "From the metrics of awx-kpi export in Prometheus: each bucket is increase() over it, which Prometheus extrapolates to the bucket's edges, so counts need not be whole numbers; a bucket the exporter was not scraped in is empty.{}",
        if q.include_syncs {
            " Implicit project syncs are in them only if the exporter runs with --include-syncs."
        } else {
            ""
        }
    )];
    let name = q.query_type.as_str();
    match q.query_type {
        QueryType::JobThroughput => {
            let by_status = matches!(q.group_by, GroupBy::None | GroupBy::Status);
            let m = Measure {
                by: if by_status { "status" } else { by },
                template: increase(JOBS, "", if by_status { "status" } else { by }),
            };
            let (groups, w) = windows.run(prom, &m, &mut executed).await?;
            warnings.extend(w);
            if by_status {
                for s in JobStatus::FINAL {
                    if !q.filters.status.is_empty() && !q.filters.status.contains(&s) {
                        continue;
                    }
                    fields.push(kpi_field(
                        "jobs",
                        counts(groups.get(s.as_str()), &covered),
                        "short",
                        &[("status", s.as_str())],
                        s.as_str().to_string(),
                    ));
                }
            } else {
                for (g, v) in &groups {
                    fields.push(kpi_field(
                        "jobs",
                        counts(Some(v), &covered),
                        "short",
                        &[(label, g)],
                        g.clone(),
                    ));
                }
            }
        }
        QueryType::FailureRate => {
            let failures = Measure {
                by,
                template: increase(JOBS, "status=~\"failed|error\"", by),
            };
            let finished = Measure {
                by,
                template: increase(JOBS, "status=~\"successful|failed|error\"", by),
            };
            let (fail, w1) = windows.run(prom, &failures, &mut executed).await?;
            let (done, w2) = windows.run(prom, &finished, &mut executed).await?;
            warnings.extend(w1.into_iter().chain(w2));
            let mut groups: BTreeSet<String> = done.keys().chain(fail.keys()).cloned().collect();
            if by.is_empty() {
                groups.insert(String::new());
            }
            for g in &groups {
                let f = counts(fail.get(g), &covered);
                let d = counts(done.get(g), &covered);
                let rate: Vec<Option<f64>> = f
                    .iter()
                    .zip(&d)
                    .map(|(f, d)| match (f, d) {
                        (Some(f), Some(d)) if *d > 0.0 => Some(f / d * 100.0),
                        _ => None,
                    })
                    .collect();
                let labels = |measure: &'static str| {
                    let mut l = vec![("measure", measure)];
                    if !by.is_empty() {
                        l.push((label, g.as_str()));
                    }
                    l
                };
                let mut rate_field = kpi_field(
                    "failure_rate",
                    rate,
                    "percent",
                    &labels("failure_rate"),
                    if by.is_empty() {
                        "failure rate".into()
                    } else {
                        g.clone()
                    },
                );
                if let Some(c) = rate_field.config.as_mut() {
                    c.min = Some(0.0);
                    c.max = Some(100.0);
                }
                fields.push(rate_field);
                fields.push(kpi_field(
                    "failures",
                    f,
                    "short",
                    &labels("failures"),
                    display("failures", g),
                ));
                fields.push(kpi_field(
                    "finished",
                    d,
                    "short",
                    &labels("finished"),
                    display("finished", g),
                ));
            }
        }
        _ => {
            let family = if waits { WAIT } else { ELAPSED };
            let sum_m = Measure {
                by,
                template: increase(&format!("{family}_sum"), "", by),
            };
            let count_m = Measure {
                by,
                template: increase(&format!("{family}_count"), "", by),
            };
            let needs_sums = q
                .stats
                .iter()
                .any(|s| matches!(s, Stat::Mean | Stat::Count));
            let (sums, cnts) = if needs_sums {
                let (s, w1) = windows.run(prom, &sum_m, &mut executed).await?;
                let (c, w2) = windows.run(prom, &count_m, &mut executed).await?;
                warnings.extend(w1.into_iter().chain(w2));
                (s, c)
            } else {
                (PerGroup::new(), PerGroup::new())
            };
            let mut per_stat: Vec<(Stat, PerGroup)> = Vec::new();
            for stat in &q.stats {
                let groups = match stat {
                    Stat::Mean => {
                        let mut g = PerGroup::new();
                        for (k, c) in &cnts {
                            let s = sums.get(k);
                            g.insert(
                                k.clone(),
                                c.iter()
                                    .enumerate()
                                    .map(|(i, c)| match (c, s.and_then(|s| s[i])) {
                                        (Some(c), Some(s)) if *c > 0.0 => Some(s / c),
                                        _ => None,
                                    })
                                    .collect(),
                            );
                        }
                        g
                    }
                    Stat::Count => cnts
                        .iter()
                        .map(|(k, v)| (k.clone(), counts(Some(v), &covered)))
                        .collect(),
                    quantile => {
                        let phi = match quantile {
                            Stat::P50 => "0.5",
                            Stat::P90 => "0.9",
                            Stat::P95 => "0.95",
                            _ => "0.99",
                        };
                        let le_by = if by.is_empty() {
                            "le".to_string()
                        } else {
                            format!("{by}, le")
                        };
                        let m = Measure {
                            by,
                            template: format!(
                                "histogram_quantile({phi}, sum by ({le_by}) (increase({}[$W])))",
                                with(&format!("{family}_bucket"), &matchers, "")
                            ),
                        };
                        let (g, w) = windows.run(prom, &m, &mut executed).await?;
                        warnings.extend(w);
                        g
                    }
                };
                per_stat.push((*stat, groups));
            }
            if q.stats
                .iter()
                .any(|s| !matches!(s, Stat::Mean | Stat::Count))
            {
                notices.push(format!(
                    "Percentiles are estimated from the exporter's histogram buckets ({}), interpolating linearly within a bucket as Prometheus's histogram_quantile does.",
                    if waits { "0.5 s to 2 h" } else { "1 s to 24 h" }
                ));
            }
            let mut groups: BTreeSet<String> = per_stat
                .iter()
                .flat_map(|(_, g)| g.keys().cloned())
                .collect();
            if by.is_empty() {
                groups.insert(String::new());
            }
            for g in &groups {
                for (stat, per_group) in &per_stat {
                    let values = per_group.get(g).cloned().unwrap_or_else(|| {
                        if *stat == Stat::Count {
                            counts(None, &covered)
                        } else {
                            vec![None; n]
                        }
                    });
                    let mut labels = vec![("stat", stat.as_str())];
                    if !by.is_empty() {
                        labels.push((label, g.as_str()));
                    }
                    fields.push(kpi_field(
                        stat.as_str(),
                        values,
                        if *stat == Stat::Count { "short" } else { "s" },
                        &labels,
                        if by.is_empty() {
                            stat.to_string()
                        } else {
                            format!("{stat} {g}")
                        },
                    ));
                }
            }
        }
    }
    let mut frame = Frame::new(name)
        .with_type(FrameType::TimeSeriesWide)
        .with_executed_query(executed.join("\n"))
        .with_field(Field::new("time", buckets.time_values()))
        .with_fields(fields);
    for n in notices {
        frame = frame.with_notice(Severity::Info, n);
    }
    if !covered.iter().any(|c| *c) {
        frame = frame.with_notice(
            Severity::Warning,
            format!(
                "No metrics of awx-kpi export in this range ({EXPORTER_UP} with the selector `{}`): run the exporter, have this Prometheus scrape it with a label the data source's selector matches (docs/EXPORTER.md), or use source api.",
                prom.selector
            ),
        );
    }
    for w in warnings {
        frame = frame.with_notice(Severity::Warning, format!("Prometheus: {w}"));
    }
    Ok(vec![buckets.annotate(frame)])
}

/// Whether Prometheus holds samples of the exporter for `q`'s range (for `auto`).
pub async fn exporter_has_history(prom: &PrometheusClient, q: &Query) -> Result<bool, KpiError> {
    let range_ms = (q.range.to - q.range.from).num_milliseconds().max(1);
    let expr = format!(
        "count(count_over_time({}[{range_ms}ms]))",
        metric(EXPORTER_UP, &prom.selector, "")
    );
    let r = prom.query(&expr, q.range.to).await?;
    Ok(r.series
        .first()
        .and_then(|s| s.samples.last())
        .is_some_and(|(_, v)| *v > 0.0))
}

// ---------------------------------------------------------------------------------------
// Which source answers the job KPIs, and what the API's answer must say about AWX's
// retention.

/// How long the oldest job AWX holds is trusted: it moves only when cleanup_jobs runs.
const OLDEST_FOR: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Deserialize)]
struct Created {
    created: Option<chrono::DateTime<chrono::Utc>>,
}

/// When the oldest job AWX still holds was created, if the range starts before it (AWX
/// holds nothing older: cleanup_jobs purged it, or there was none); `None` when AWX holds
/// a job created at or before the range's start. A job store that holds such a job, or
/// synced within the minute (every sync reads AWX's oldest job with its count), answers
/// without a request; otherwise one one-row request, kept a minute.
pub async fn starts_before_history(inst: &Instance, q: &Query) -> Result<Option<Micros>, AwxError> {
    let from = micros(q.range.from);
    if let Some(store) = &inst.jobs {
        let t = store.read();
        if t.jobs().first().is_some_and(|j| j.created <= from) {
            return Ok(None);
        }
        if let Some(oldest) = t.awx_oldest(OLDEST_FOR) {
            return Ok(oldest.filter(|o| from < *o));
        }
    }
    let memo = inst.jobs.as_ref().map(|store| store.memo("awx-oldest-job"));
    let kept = memo.as_ref().and_then(|m| {
        let g = m.lock().unwrap_or_else(|p| p.into_inner());
        g.downcast_ref::<(std::time::Instant, Option<Micros>)>()
            .filter(|(at, _)| at.elapsed() < OLDEST_FOR)
            .map(|(_, oldest)| *oldest)
    });
    let oldest = match kept {
        Some(o) => o,
        None => {
            let req = ApiRequest::new("unified_jobs/")
                .param("order_by", "id")
                .param("page_size", "1");
            let page: Page<Created> = inst.awx.get(&req).await?;
            let oldest = page.results.first().and_then(|j| j.created).map(micros);
            if let Some(m) = &memo {
                *m.lock().unwrap_or_else(|p| p.into_inner()) =
                    Box::new((std::time::Instant::now(), oldest));
            }
            oldest
        }
    };
    Ok(oldest.filter(|o| from < *o))
}

fn iso(us: Micros) -> String {
    crate::jobs::record::to_datetime(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The API's frames, with a notice when the range starts before the oldest job AWX holds.
pub async fn note_history(inst: &Instance, q: &Query, frames: Vec<Frame>) -> Vec<Frame> {
    let oldest = match starts_before_history(inst, q).await {
        Ok(Some(o)) => o,
        Ok(None) => return frames,
        Err(e) => {
            tracing::debug!(error = %e, "the oldest job AWX holds is unknown");
            return frames;
        }
    };
    let text = format!(
        "AWX holds no job created before {} (its cleanup_jobs purges older ones), and this range starts earlier: its first buckets may lack jobs that AWX no longer has.{}",
        iso(oldest),
        if inst.prometheus.is_some() {
            " With awx-kpi export scraped by this data source's Prometheus, source prometheus (or auto) answers from its counters."
        } else {
            " awx-kpi export keeps the history in Prometheus (docs/EXPORTER.md)."
        }
    );
    frames
        .into_iter()
        .map(|f| f.with_notice(Severity::Info, text.clone()))
        .collect()
}

/// `auto` for the job KPIs when a Prometheus is set: the API (exact) while AWX still holds
/// every job of the range; the exporter's metrics when the range starts before the oldest
/// job AWX holds and Prometheus has them. The reason, for executedQueryString.
pub async fn auto_job_series(inst: &Instance, q: &Query) -> (super::Resolved, String) {
    use super::Resolved::{Api, Prometheus};
    let Some(prom) = inst.prometheus.as_ref() else {
        return (Api, "auto: api (no Prometheus URL is set)".into());
    };
    let oldest = match starts_before_history(inst, q).await {
        Ok(None) => {
            return (
                Api,
                "auto: api (AWX still holds every job of the range; its answer is exact)".into(),
            )
        }
        Ok(Some(o)) => o,
        Err(e) => {
            return (
                Api,
                format!("auto: api (the oldest job AWX holds is unknown: {e})"),
            )
        }
    };
    match exporter_has_history(prom, q).await {
        Ok(true) => (
            Prometheus,
            format!(
                "auto: prometheus (the range starts before {}, the oldest job AWX holds; the counters of awx-kpi export hold the history)",
                iso(oldest)
            ),
        ),
        Ok(false) => (
            Api,
            format!(
                "auto: api (the range starts before {}, the oldest job AWX holds, but Prometheus has no metrics of awx-kpi export in it)",
                iso(oldest)
            ),
        ),
        Err(e) => (
            Api,
            format!("auto: api (Prometheus could not say whether it holds awx-kpi export's metrics: {e})"),
        ),
    }
}

/// The reason `auto` chose, as the first line of every frame's executedQueryString.
pub fn with_reason(frames: Vec<Frame>, why: &str) -> Vec<Frame> {
    frames
        .into_iter()
        .map(|mut f| {
            let executed = f.meta.executed_query_string.take().unwrap_or_default();
            f.with_executed_query(if executed.is_empty() {
                why.to_string()
            } else {
                format!("{why}\n{executed}")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(json: &str) -> Query {
        Query::parse(
            &crate::query::QueryEnvelope {
                ref_id: "A",
                query_type: "",
                json: json.as_bytes(),
                range: crate::query::TimeRange::from_millis(0, 3_600_000).unwrap(),
                interval_ms: 60_000,
                max_data_points: 100,
                from_alert: false,
            },
            crate::settings::Source::Prometheus,
        )
        .unwrap()
    }

    #[test]
    fn exporter_filters_become_label_matchers() {
        let q = query(
            r#"{"queryType":"job_duration","filters":{"template":["Deploy \"API\", v2\\canary","a.b"],"launchType":["manual"]}}"#,
        );
        assert_eq!(
            exporter_matchers(&q, "job=\"awx\"", false).unwrap(),
            r#"job="awx",job_template_name=~"Deploy \"API\", v2\\\\canary|a\\.b",launch_type=~"manual",launch_type!="sync""#
        );
        let q = query(
            r#"{"queryType":"job_throughput","includeSyncs":true,"filters":{"status":["failed"]}}"#,
        );
        assert_eq!(
            exporter_matchers(&q, "", false).unwrap(),
            r#"status=~"failed""#
        );
    }

    #[test]
    fn filters_the_exporter_has_no_label_for_are_refused_with_the_fix() {
        let q = query(r#"{"queryType":"job_throughput","filters":{"inventory":["Production"]}}"#);
        let e = exporter_matchers(&q, "", false).unwrap_err().to_string();
        assert!(e.starts_with("invalid query: filters.inventory: job_throughput through Prometheus reads the metrics of awx-kpi export"), "{e}");
        assert!(e.ends_with("remove this filter or use source api"), "{e}");
        let q = query(r#"{"queryType":"queue_wait","filters":{"status":["failed"]}}"#);
        let e = exporter_matchers(&q, "", true).unwrap_err().to_string();
        assert!(e.contains("filters.status"), "{e}");
        assert_eq!(exporter_label(GroupBy::Status, true), None);
        assert_eq!(
            exporter_label(GroupBy::Template, false),
            Some("job_template_name")
        );
    }

    #[test]
    fn promql_strings_escape_quotes_backslashes_and_newlines() {
        assert_eq!(promql_string("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(regex_literal("x\\y"), r#"x\\\\y"#);
    }

    #[test]
    fn host_matchers_match_names_literally() {
        assert_eq!(host_matcher(&[]), "");
        assert_eq!(
            host_matcher(&["awx-exec-1".into(), "a.b".into()]),
            r#"hostname=~"awx-exec-1|a\\.b""#
        );
        assert_eq!(host_matcher(&["x\"y".into()]), r#"hostname=~"x\"y""#);
    }
}
