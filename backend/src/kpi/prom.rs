//! The KPIs answered from Prometheus: the history of AWX's own gauges (capacity, the
//! pending and running queue, the installation's counts) and raw PromQL. Range results
//! become one wide frame: a time field on the aligned steps, one number field per
//! series with its labels.

use crate::frame::{Field, FieldConfig, Frame, FrameType, Severity, Values};
use crate::prometheus::promql::{self, metric};
use crate::prometheus::{PrometheusClient, QueryResult, Series};
use crate::query::Query;

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

/// A string matched literally inside a PromQL double-quoted RE2 regex.
fn regex_literal(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            // One backslash for RE2, escaped once more for the PromQL string.
            out.push_str("\\\\");
        } else if c == '"' {
            out.push('\\');
        }
        out.push(c);
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

#[cfg(test)]
mod tests {
    use super::*;

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
