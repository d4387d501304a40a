//! PromQL the plugin writes or expands: the data source's selector added to AWX's
//! metrics, Grafana's interval macros, and the step/range alignment Grafana's own
//! Prometheus data source uses.

use crate::query::Query;

/// Prometheus's default scrape interval, which `$__rate_interval` assumes (as Grafana).
const SCRAPE_INTERVAL_S: i64 = 15;
/// Prometheus refuses more than 11,000 points per series.
const MAX_POINTS: i64 = 11_000;

/// `metric{selector}` (or the bare metric when the selector is empty), with extra
/// matchers appended.
pub fn metric(name: &str, selector: &str, extra: &str) -> String {
    let parts: Vec<&str> = [selector, extra]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", parts.join(","))
    }
}

/// The step of a range query, in seconds: Grafana's interval, widened so the range
/// stays within maxDataPoints and Prometheus's 11,000 points.
pub fn step_seconds(q: &Query) -> i64 {
    let range_s = (q.range.to - q.range.from).num_seconds().max(1);
    // At most ~292 years, the span of nanosecond timestamps: a wider step means nothing
    // and would overflow when the steps become frame times.
    let mut step = (q.interval_ms / 1000).clamp(1, i64::MAX / 1_000_000_000);
    let cap = if q.max_data_points > 0 {
        q.max_data_points.min(MAX_POINTS)
    } else {
        MAX_POINTS
    };
    if range_s / step > cap {
        step = (range_s + cap - 1) / cap;
    }
    step
}

/// Start and end aligned down to multiples of the step, as Grafana aligns them (so
/// that refreshing a panel does not shift its points).
pub fn aligned_range(q: &Query, step: i64) -> (i64, i64) {
    let start = q.range.from.timestamp().div_euclid(step) * step;
    let end = q.range.to.timestamp().div_euclid(step) * step;
    (start, end.max(start))
}

fn duration(seconds: i64) -> String {
    format!("{seconds}s")
}

/// Expands `$__interval`, `$__interval_ms`, `$__rate_interval`, `$__range`,
/// `$__range_s` and `$__range_ms` the way Grafana does for Prometheus.
pub fn expand_macros(expr: &str, q: &Query, step: i64) -> String {
    let range_s = (q.range.to - q.range.from).num_seconds().max(1);
    let rate = (step + SCRAPE_INTERVAL_S).max(4 * SCRAPE_INTERVAL_S);
    // Longest names first, so `$__range_ms` is not read as `$__range` + "_ms".
    expr.replace("$__rate_interval", &duration(rate))
        .replace("${__rate_interval}", &duration(rate))
        .replace("$__interval_ms", &(step * 1000).to_string())
        .replace("${__interval_ms}", &(step * 1000).to_string())
        .replace("$__interval", &duration(step))
        .replace("${__interval}", &duration(step))
        .replace("$__range_ms", &(range_s * 1000).to_string())
        .replace("$__range_s", &range_s.to_string())
        .replace("${__range}", &duration(range_s))
        .replace("$__range", &duration(range_s))
}

/// Grafana's legend format: `{{label}}` replaced by the series' label value.
pub fn legend(format: &str, labels: &std::collections::BTreeMap<String, String>) -> Option<String> {
    if format.is_empty() || format == "__auto" {
        return None;
    }
    let mut out = String::new();
    let mut rest = format;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let key = after[..close].trim();
                out.push_str(labels.get(key).map(String::as_str).unwrap_or(""));
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{QueryEnvelope, TimeRange};
    use crate::settings::Source;

    fn q(from_s: i64, to_s: i64, interval_ms: i64) -> Query {
        Query::parse(
            &QueryEnvelope {
                ref_id: "A",
                query_type: "promql",
                json: br#"{"expr":"up"}"#,
                range: TimeRange::from_millis(from_s * 1000, to_s * 1000).unwrap(),
                interval_ms,
                max_data_points: 1000,
                from_alert: false,
            },
            Source::Prometheus,
        )
        .unwrap()
    }

    #[test]
    fn selector_and_matchers_are_joined() {
        assert_eq!(metric("awx_status_total", "", ""), "awx_status_total");
        assert_eq!(
            metric("awx_status_total", "job=\"awx\"", ""),
            "awx_status_total{job=\"awx\"}"
        );
        assert_eq!(
            metric("awx_hosts_total", "job=\"awx\"", "type=\"all\""),
            "awx_hosts_total{job=\"awx\",type=\"all\"}"
        );
    }

    #[test]
    fn macros_expand_like_grafana() {
        let query = q(0, 3600, 60_000);
        let step = step_seconds(&query);
        assert_eq!(step, 60);
        assert_eq!(
            expand_macros(
                "rate(x[$__rate_interval]) / $__range_s + $__interval_ms + $__range",
                &query,
                step
            ),
            "rate(x[75s]) / 3600 + 60000 + 3600s"
        );
        assert_eq!(expand_macros("x[$__interval]", &query, step), "x[60s]");
    }

    #[test]
    fn steps_respect_max_data_points_and_align() {
        let query = q(1_000_003, 1_000_003 + 30 * 86_400, 15_000);
        let step = step_seconds(&query);
        assert!(30 * 86_400 / step <= 1000);
        let (s, e) = aligned_range(&query, step);
        assert_eq!(s % step, 0);
        assert_eq!(e % step, 0);
        assert!(s <= 1_000_003);
    }

    #[test]
    fn legends_substitute_labels() {
        let labels = [("status".to_string(), "failed".to_string())]
            .into_iter()
            .collect();
        assert_eq!(legend("{{status}} jobs", &labels).unwrap(), "failed jobs");
        assert_eq!(legend("{{ missing }}x", &labels).unwrap(), "x");
        assert_eq!(legend("", &labels), None);
    }
}
