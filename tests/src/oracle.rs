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

/// A run with host summaries as `/_sim/truth/host_summaries` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthRun {
    pub job: i64,
    pub status: String,
    pub finished: DateTime<Utc>,
    pub template: Option<String>,
    pub inventory: String,
    pub hosts: Vec<TruthHostRun>,
}

/// One host's counters in one run.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthHostRun {
    pub host: i64,
    pub name: String,
    pub ok: i64,
    pub changed: i64,
    pub failures: i64,
    pub dark: i64,
    pub skipped: i64,
    pub ignored: i64,
    pub rescued: i64,
    pub failed: bool,
}

impl TruthHostRun {
    /// The host's state in the run as the contract counts it (docs/QUERIES.md, host
    /// outcomes): unreachable over failed over changed over ok.
    pub fn outcome(&self) -> &'static str {
        if self.dark > 0 {
            "unreachable"
        } else if self.failures > 0 {
            "failed"
        } else if self.changed > 0 {
            "changed"
        } else {
            "ok"
        }
    }
}

/// A host now, as `/_sim/truth/hosts` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthHost {
    pub id: i64,
    pub name: String,
    pub inventory: String,
    pub enabled: bool,
    pub flaky: String,
    pub group: Option<String>,
    pub last_job: Option<i64>,
    pub has_active_failures: bool,
}

/// Which jobs' hosts a host KPI reads: playbook runs that finished in the range; failed and
/// errored ones for the failed hosts only, every one that started for all hosts.
pub fn reads_hosts(j: &TruthJob, all: bool, from_us: i64, to_us: i64) -> bool {
    j.job_type == "job"
        && j.finished
            .is_some_and(|f| us(f) >= from_us && us(f) < to_us)
        && if all {
            is_final(&j.status) && j.started.is_some()
        } else {
            j.status == "failed" || j.status == "error"
        }
}

/// One expected row of `host_outcomes`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRow {
    pub host: String,
    pub host_id: i64,
    pub group: Option<String>,
    pub inventory: String,
    pub jobs: u64,
    pub failed: u64,
    pub unreachable: u64,
    pub changed: u64,
    pub ok: u64,
    /// (finished, job id, template) of the newest run the host failed or was unreachable in.
    pub last_failure: Option<(DateTime<Utc>, i64, Option<String>)>,
}

/// `host_outcomes` from the truth: `jobs` already selected (filters, [`reads_hosts`]);
/// `group` labels a job under the query's groupBy; `hosts` picks hosts by name or id.
/// Sorted as the contract says: most failed and unreachable runs first, then the most
/// recent failure, the most runs, the host's name, the group, the host's id.
pub fn host_outcomes(
    jobs: &[&TruthJob],
    runs: &std::collections::HashMap<i64, TruthRun>,
    all: bool,
    group: &dyn Fn(&TruthJob) -> Option<String>,
    hosts: &[String],
) -> Vec<HostRow> {
    // Per (host, group): the row, and when the host's newest run finished (for its inventory).
    type Rows = std::collections::BTreeMap<(i64, Option<String>), (HostRow, (DateTime<Utc>, i64))>;
    let mut rows = Rows::new();
    for j in jobs {
        let Some(run) = runs.get(&j.id) else {
            continue;
        };
        let g = group(j);
        for h in &run.hosts {
            let bad = h.failed;
            if !all && !bad {
                continue;
            }
            if !hosts.is_empty()
                && !hosts
                    .iter()
                    .any(|v| *v == h.name || v.parse::<i64>() == Ok(h.host))
            {
                continue;
            }
            let at = (run.finished, run.job);
            let (row, newest) = rows.entry((h.host, g.clone())).or_insert_with(|| {
                (
                    HostRow {
                        host: h.name.clone(),
                        host_id: h.host,
                        group: g.clone(),
                        inventory: run.inventory.clone(),
                        jobs: 0,
                        failed: 0,
                        unreachable: 0,
                        changed: 0,
                        ok: 0,
                        last_failure: None,
                    },
                    at,
                )
            });
            row.jobs += 1;
            match h.outcome() {
                "unreachable" => row.unreachable += 1,
                "failed" => row.failed += 1,
                "changed" => row.changed += 1,
                _ => row.ok += 1,
            }
            if at >= *newest {
                *newest = at;
                row.inventory = run.inventory.clone();
            }
            if bad
                && row
                    .last_failure
                    .as_ref()
                    .is_none_or(|(t, id, _)| (*t, *id) < at)
            {
                row.last_failure = Some((run.finished, run.job, run.template.clone()));
            }
        }
    }
    let mut out: Vec<HostRow> = rows.into_values().map(|(r, _)| r).collect();
    out.sort_by(|a, b| {
        (b.failed + b.unreachable)
            .cmp(&(a.failed + a.unreachable))
            .then_with(|| {
                b.last_failure
                    .as_ref()
                    .map(|l| l.0)
                    .cmp(&a.last_failure.as_ref().map(|l| l.0))
            })
            .then_with(|| b.jobs.cmp(&a.jobs))
            .then_with(|| a.host.cmp(&b.host))
            .then_with(|| a.group.cmp(&b.group))
            .then_with(|| a.host_id.cmp(&b.host_id))
    });
    out
}

/// `host_failures` from the truth: per group (by `group`, or by host name), the failed and
/// the unreachable hosts of the jobs that finished in each bucket.
pub fn host_failures(
    jobs: &[&TruthJob],
    runs: &std::collections::HashMap<i64, TruthRun>,
    group: &dyn Fn(&TruthJob, &TruthHostRun) -> String,
    (from_ms, to_ms, w_ms): (i64, i64, i64),
) -> std::collections::BTreeMap<String, Vec<(f64, f64)>> {
    let n = bucket_count(from_ms, to_ms, w_ms);
    let mut out: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    for j in jobs {
        let (Some(run), Some(b)) = (
            runs.get(&j.id),
            j.finished.and_then(|f| bucket(f, from_ms, to_ms, w_ms)),
        ) else {
            continue;
        };
        for h in run.hosts.iter().filter(|h| h.failed) {
            let series = out
                .entry(group(j, h))
                .or_insert_with(|| vec![(0.0, 0.0); n]);
            match h.outcome() {
                "failed" => series[b].0 += 1.0,
                "unreachable" => series[b].1 += 1.0,
                _ => {}
            }
        }
    }
    out
}
