//! `active_jobs` reconstructed from job records: at each step, a job counts as pending
//! from `created` until `started` (or until it finished, if it never started), and as
//! running from `started` until `finished`. AWX keeps no timestamp for the move from
//! pending to waiting, so waiting jobs count as pending here and `waiting` is null.

use std::collections::BTreeMap;

use crate::frame::{Field, FieldConfig, Frame, FrameType, Severity, Values};
use crate::instances::Instance;
use crate::jobs::Micros;
use crate::query::Query;

use super::buckets::Buckets;
use super::records;
use super::KpiError;

pub async fn from_api(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let buckets = Buckets::for_query(q)?;
    // A job active at the first step may have finished right after it.
    let loaded = records::load(inst, q, buckets.first).await?;
    let sel = loaded.select(q);
    let steps: Vec<Micros> = buckets.starts().collect();
    // Sweep: +1/-1 events per state, then a running sum at each step.
    let mut pending = vec![0i64; steps.len() + 1];
    let mut running = vec![0i64; steps.len() + 1];
    // The first step at or after t (the steps are `first + i * width`).
    let (first, width, n) = (buckets.first, buckets.width, steps.len());
    let step_at = |t: Micros| -> usize {
        if t <= first {
            0
        } else {
            ((t - first - 1) / width + 1).min(n as i64) as usize
        }
    };
    for j in loaded.jobs(&sel) {
        let end = j.finished().map_or(steps.len(), step_at);
        let start_pending = step_at(j.created);
        match j.started() {
            Some(started) => {
                let s = step_at(started);
                pending[start_pending.min(s)] += 1;
                pending[s] -= 1;
                running[s.min(end)] += 1;
                running[end] -= 1;
            }
            None => {
                pending[start_pending.min(end)] += 1;
                pending[end] -= 1;
            }
        }
    }
    let cumulative = |d: &[i64]| -> Vec<Option<f64>> {
        let mut acc = 0;
        d[..steps.len()]
            .iter()
            .map(|x| {
                acc += x;
                Some(acc as f64)
            })
            .collect()
    };
    // A `state` label per field: alerting tells series apart by labels alone.
    let state = |name: &str, values: Vec<Option<f64>>| {
        Field::new(name, Values::F64(values))
            .with_labels(BTreeMap::from([("state".to_string(), name.to_string())]))
            .with_config(FieldConfig {
                unit: Some("short".into()),
                display_name_from_ds: Some(name.to_string()),
                ..Default::default()
            })
    };
    let frame = Frame::new("active_jobs")
        .with_type(FrameType::TimeSeriesWide)
        .with_executed_query(&loaded.executed)
        .with_notice(
            Severity::Info,
            "Reconstructed from job records: pending counts jobs from created to started (waiting included, AWX records no time for it); running from started to finished.",
        )
        .with_field(Field::new("time", buckets.time_values()))
        .with_field(state("pending", cumulative(&pending)))
        .with_field(state("waiting", vec![None; steps.len()]))
        .with_field(state("running", cumulative(&running)));
    Ok(vec![frame])
}
