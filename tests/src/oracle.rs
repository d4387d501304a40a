//! The ground truth and the expected KPI values computed from it, written from the
//! contract (docs/QUERIES.md) without any of the plugin's code.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A job as the simulator's `/_sim/truth/jobs` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthJob {
    pub id: i64,
    #[serde(rename = "type")]
    pub job_type: String,
    pub name: String,
    pub status: String,
    pub launch_type: String,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
    pub elapsed: Option<f64>,
    pub failed: Option<bool>,
    pub template_id: Option<i64>,
    pub template_name: Option<String>,
    pub template_type: Option<String>,
    pub organization: Option<String>,
    pub inventory: Option<String>,
    pub project: Option<String>,
    pub execution_node: Option<String>,
    pub instance_group: Option<String>,
    pub launched_by: Option<String>,
}

/// The contract's filters, applied to the truth.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub include_syncs: bool,
    pub status: Vec<String>,
    pub template: Vec<String>,
    pub organization: Vec<String>,
    pub job_type: Vec<String>,
    pub launch_type: Vec<String>,
    pub inventory: Vec<String>,
    pub project: Vec<String>,
    pub execution_node: Vec<String>,
    pub instance_group: Vec<String>,
    pub launched_by: Vec<String>,
    pub name: Option<String>,
}

fn any_of(list: &[String], v: Option<&str>) -> bool {
    list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v))
}

impl Filter {
    pub fn keeps(&self, j: &TruthJob) -> bool {
        (self.include_syncs
            || j.launch_type != "sync"
            || self.launch_type.iter().any(|l| l == "sync"))
            && any_of(&self.status, Some(&j.status))
            && any_of(&self.template, j.template_name.as_deref())
            && any_of(&self.organization, j.organization.as_deref())
            && any_of(&self.job_type, Some(&j.job_type))
            && any_of(&self.launch_type, Some(&j.launch_type))
            && any_of(&self.inventory, j.inventory.as_deref())
            && any_of(&self.project, j.project.as_deref())
            && any_of(
                &self.execution_node,
                j.execution_node.as_deref().filter(|s| !s.is_empty()),
            )
            && any_of(&self.instance_group, j.instance_group.as_deref())
            && any_of(&self.launched_by, j.launched_by.as_deref())
            && self
                .name
                .as_ref()
                .is_none_or(|n| j.name.to_lowercase().contains(&n.to_lowercase()))
    }
}

pub fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Index of the bucket (width `w_ms`, aligned to multiples of it) holding `t`, if `t`
/// is inside [from, to).
pub fn bucket(t: DateTime<Utc>, from_ms: i64, to_ms: i64, w_ms: i64) -> Option<usize> {
    let ms = t.timestamp_micros() as f64 / 1000.0;
    if ms < from_ms as f64 || ms >= to_ms as f64 {
        return None;
    }
    let first = (from_ms as f64 / w_ms as f64).floor() * w_ms as f64;
    Some(((ms - first) / w_ms as f64).floor() as usize)
}

pub fn bucket_count(from_ms: i64, to_ms: i64, w_ms: i64) -> usize {
    let first = from_ms.div_euclid(w_ms);
    let last = (to_ms - 1).div_euclid(w_ms);
    (last - first + 1) as usize
}

/// Percentile by linear interpolation between closest ranks (numpy's default).
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let pos = p * (v.len() as f64 - 1.0);
    let below = pos.floor() as usize;
    let above = pos.ceil() as usize;
    Some(v[below] * (1.0 - (pos - below as f64)) + v[above] * (pos - below as f64))
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

pub fn is_final(status: &str) -> bool {
    matches!(status, "successful" | "failed" | "error" | "canceled")
}

/// Queue wait in seconds: started − created.
pub fn wait(j: &TruthJob) -> Option<f64> {
    j.started
        .map(|s| (s - j.created).num_microseconds().expect("fits") as f64 / 1e6)
}

/// Duration in seconds: AWX's elapsed, for jobs with started and finished.
pub fn duration(j: &TruthJob) -> Option<f64> {
    match (j.started, j.finished) {
        (Some(_), Some(_)) => j.elapsed,
        _ => None,
    }
}

/// Asserts two floats agree to a relative 1e-9 (or both null).
pub fn assert_close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "{what}: got {g}, want {w}"
        ),
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}
