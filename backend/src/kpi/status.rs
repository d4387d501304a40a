//! `job_status_counts`: one row per status, always all eight. Active statuses count
//! the jobs in that status now; final statuses count the jobs that finished in the range.

use crate::awx::ApiRequest;
use crate::frame::{Field, FieldConfig, Frame, FrameType, Severity, Values};
use crate::instances::Instance;
use crate::jobs::record::micros;
use crate::jobs::store::iso;
use crate::prometheus::PrometheusClient;
use crate::query::{JobStatus, Query};

use super::records;
use super::KpiError;

fn table(counts: [Option<f64>; 8], executed: &str) -> Frame {
    Frame::new("job_status_counts")
        .with_type(FrameType::NumericLong)
        .with_executed_query(executed)
        .with_field(Field::new(
            "status",
            Values::strings(JobStatus::ALL.iter().map(|s| Some(s.as_str()))),
        ))
        .with_field(
            Field::new("count", Values::F64(counts.to_vec()))
                .with_config(FieldConfig::unit("short")),
        )
}

/// From the job-record cache when it already holds the range; otherwise, when AWX can
/// apply every filter, from one `count` per status (8 one-row requests instead of paging
/// through the jobs).
pub async fn from_api(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let from = micros(q.range.from);
    if let Some(store) = &inst.jobs {
        // After a restart the cache on disk holds the range: counting it again would cost
        // AWX eight requests for what a refresh brings in two.
        store.load_from_disk().await;
    }
    let warm = inst
        .jobs
        .as_ref()
        .is_some_and(|s| s.read().coverage_from().is_some_and(|c| c <= from));
    if !warm && records::fully_pushable(&q.filters) {
        return from_counts(inst, q).await;
    }
    from_records(inst, q).await
}

async fn from_counts(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let mut base = ApiRequest::new("unified_jobs/");
    let mut filters = q.filters.clone();
    filters.status.clear();
    for (k, v) in records::pushdown(&filters, q.include_syncs) {
        base = base.param(&k, v);
    }
    let wanted: Vec<JobStatus> = JobStatus::ALL
        .iter()
        .copied()
        .filter(|s| q.filters.status.is_empty() || q.filters.status.contains(s))
        .collect();
    let requests: Vec<ApiRequest> = wanted
        .iter()
        .map(|s| {
            let r = base.clone().param("status", s.as_str());
            if s.is_final() {
                r.param("finished__gte", iso(micros(q.range.from)))
                    .param("finished__lt", iso(micros(q.range.to)))
            } else {
                r
            }
        })
        .collect();
    let counts = futures::future::try_join_all(requests.iter().map(|r| inst.awx.count(r))).await?;
    let mut out = [None; 8];
    for (s, n) in wanted.iter().zip(counts) {
        out[JobStatus::ALL.iter().position(|x| x == s).unwrap_or(0)] = Some(n as f64);
    }
    let executed: Vec<String> = requests
        .iter()
        .map(|r| inst.awx.display(&r.clone().param("page_size", "1")))
        .collect();
    Ok(vec![table(out, &executed.join("\n"))])
}

async fn from_records(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let from = micros(q.range.from);
    let to = micros(q.range.to);
    let loaded = records::load(inst, q, from).await?;
    // The status filter picks rows; it must not hide statuses from their own count.
    let sel = loaded.select(q).without_status();
    let mut counts = [0.0f64; 8];
    let slot = |status: JobStatus| JobStatus::ALL.iter().position(|s| *s == status);
    // Active statuses: the jobs in them now (few: found through the time index).
    for j in loaded.records.open_jobs().filter(|j| sel.matches(j)) {
        if let Some(i) = j.status.and_then(slot) {
            counts[i] += 1.0;
        }
    }
    // Final statuses: the jobs that finished in the range (kept per hour between refreshes).
    for (status, n) in super::series::finished_by_status(&loaded, q, sel, from, to) {
        if let Some(i) = JobStatus::parse(&status).and_then(slot) {
            counts[i] += n;
        }
    }
    let shown = JobStatus::ALL
        .iter()
        .zip(counts)
        .map(|(s, c)| (q.filters.status.is_empty() || q.filters.status.contains(s)).then_some(c));
    let mut out = [None; 8];
    for (slot, v) in out.iter_mut().zip(shown) {
        *slot = v;
    }
    Ok(vec![table(out, &loaded.executed)])
}

pub async fn from_prometheus(prom: &PrometheusClient, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let sel = &prom.selector;
    let expr = if sel.is_empty() {
        "awx_status_total".to_string()
    } else {
        format!("awx_status_total{{{sel}}}")
    };
    let expr = format!("sum by (status) ({expr})");
    let result = prom.query(&expr, q.range.to).await?;
    let mut counts = [None; 8];
    for series in &result.series {
        let Some(status) = series
            .labels
            .get("status")
            .and_then(|s| JobStatus::parse(s))
        else {
            continue;
        };
        if let Some((_, v)) = series.samples.last() {
            counts[JobStatus::ALL
                .iter()
                .position(|s| *s == status)
                .unwrap_or(0)] = Some(*v);
        }
    }
    // `new` is never exported by AWX: leave it null, not 0.
    let mut frame = table(counts, &expr).with_notice(
        Severity::Info,
        "From AWX's awx_status_total gauge: final statuses count every job stored in AWX (not only the time range), syncs excluded, and the gauge falls when old jobs are purged. Use source api for counts over the range.",
    );
    for w in result.warnings {
        frame = frame.with_notice(Severity::Warning, w);
    }
    Ok(vec![frame])
}
