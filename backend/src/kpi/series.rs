//! The time-series KPIs over job records: throughput, failure rate, durations and
//! queue waits, per bucket and optionally per group. Frames are "wide" (one time
//! field, number fields with labels) so that alerting reads them.

use std::collections::{BTreeMap, HashMap};

use crate::frame::{Field, FieldConfig, Frame, FrameType, Values};
use crate::instances::Instance;
use crate::jobs::Job;
use crate::query::{GroupBy, JobStatus, Query, QueryType, Stat};

use super::buckets::Buckets;
use super::records::{self, group_key, group_label, group_of, IntMap, Loaded};
use super::{stats, KpiError};

/// A value field. Alerting tells series apart by their labels alone, so every field of a
/// frame carries a distinct label set (e.g. `stat="p95"` beside the group's label).
fn series_field(
    name: &str,
    values: Vec<Option<f64>>,
    unit: &str,
    labels: &[(&str, &str)],
    display: Option<String>,
) -> Field {
    let mut config = FieldConfig::unit(unit);
    config.display_name_from_ds = display;
    Field::new(name, Values::F64(values))
        .with_labels(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .with_config(config)
}

fn wide_frame(name: &str, buckets: &Buckets, fields: Vec<Field>, executed: &str) -> Frame {
    Frame::new(name)
        .with_type(FrameType::TimeSeriesWide)
        .with_executed_query(executed)
        .with_field(Field::new("time", buckets.time_values()))
        .with_fields(fields)
}

/// An accumulator of one group in one bucket.
trait Acc: Default + Clone {
    /// Adds another accumulator (two groups that turn out to share a label).
    fn merge(&mut self, other: Self);
}

impl Acc for f64 {
    fn merge(&mut self, other: Self) {
        *self += other;
    }
}

impl Acc for Vec<f64> {
    fn merge(&mut self, other: Self) {
        self.extend(other);
    }
}

/// Groups of jobs per bucket: group label -> per-bucket accumulator. Jobs are grouped
/// by a numeric key (no string per job); labels are made once per group.
fn grouped<'a, A: Acc>(
    loaded: &'a Loaded<'a>,
    q: &Query,
    buckets: &Buckets,
    time_of: impl Fn(&Job) -> Option<i64>,
    mut add: impl FnMut(&mut A, &Job),
) -> BTreeMap<String, Vec<A>> {
    let sel = loaded.select(q);
    let mut index: IntMap<u64, usize> = IntMap::default();
    let mut groups: Vec<(&Job, Vec<A>)> = Vec::new();
    for j in loaded.jobs(&sel) {
        let Some(i) = time_of(j).and_then(|t| buckets.index(t)) else {
            continue;
        };
        let slot = *index.entry(group_key(q.group_by, j)).or_insert_with(|| {
            groups.push((j, vec![A::default(); buckets.count]));
            groups.len() - 1
        });
        add(&mut groups[slot].1[i], j);
    }
    let mut out: BTreeMap<String, Vec<A>> = BTreeMap::new();
    for (first, slots) in groups {
        let label = group_of(loaded, q.group_by, first).unwrap_or_default();
        match out.entry(label) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(slots);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                for (a, b) in o.get_mut().iter_mut().zip(slots) {
                    a.merge(b);
                }
            }
        }
    }
    out
}

pub async fn run(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let buckets = Buckets::for_query(q)?;
    let loaded = records::load(inst, q, buckets.from).await?;
    let frame = match q.query_type {
        QueryType::JobThroughput => throughput(&loaded, q, &buckets),
        QueryType::FailureRate => failure_rate(&loaded, q, &buckets),
        QueryType::JobDuration => statistics(
            &loaded,
            q,
            &buckets,
            Job::finished,
            Job::duration,
            "job_duration",
        ),
        _ => statistics(
            &loaded,
            q,
            &buckets,
            Job::started,
            Job::queue_wait,
            "queue_wait",
        ),
    };
    Ok(vec![frame])
}

fn throughput(loaded: &Loaded<'_>, q: &Query, buckets: &Buckets) -> Frame {
    let by_status = matches!(q.group_by, GroupBy::None | GroupBy::Status);
    let mut fields = Vec::new();
    if by_status {
        let mut counts: HashMap<JobStatus, Vec<f64>> = HashMap::new();
        let sel = loaded.select(q);
        for j in loaded.jobs(&sel) {
            let (Some(status), Some(i)) = (j.status, j.finished().and_then(|t| buckets.index(t)))
            else {
                continue;
            };
            if status.is_final() {
                counts
                    .entry(status)
                    .or_insert_with(|| vec![0.0; buckets.count])[i] += 1.0;
            }
        }
        // Every final status always present (zeros), unless filtered out.
        for s in JobStatus::FINAL {
            if !q.filters.status.is_empty() && !q.filters.status.contains(&s) {
                continue;
            }
            let v = counts
                .remove(&s)
                .unwrap_or_else(|| vec![0.0; buckets.count]);
            fields.push(series_field(
                "jobs",
                v.into_iter().map(Some).collect(),
                "short",
                &[("status", s.as_str())],
                Some(s.as_str().to_string()),
            ));
        }
    } else {
        let groups = grouped::<f64>(
            loaded,
            q,
            buckets,
            |j| j.finished().filter(|_| j.is_final()),
            |c, _| *c += 1.0,
        );
        let label = group_label(q.group_by);
        for (g, v) in groups {
            fields.push(series_field(
                "jobs",
                v.into_iter().map(Some).collect(),
                "short",
                &[(label, &g)],
                Some(g.clone()),
            ));
        }
    }
    wide_frame("job_throughput", buckets, fields, &loaded.executed)
}

#[derive(Default, Clone, Copy)]
struct Outcomes {
    failures: f64,
    finished: f64,
}

impl Acc for Outcomes {
    fn merge(&mut self, other: Self) {
        self.failures += other.failures;
        self.finished += other.finished;
    }
}

fn failure_rate(loaded: &Loaded<'_>, q: &Query, buckets: &Buckets) -> Frame {
    let groups = grouped::<Outcomes>(loaded, q, buckets, Job::finished, |o, j| match j.status {
        Some(JobStatus::Failed | JobStatus::Error) => {
            o.failures += 1.0;
            o.finished += 1.0;
        }
        Some(JobStatus::Successful) => o.finished += 1.0,
        _ => {}
    });
    let label = group_label(q.group_by);
    let mut groups: Vec<(String, Vec<Outcomes>)> = groups.into_iter().collect();
    if q.group_by == GroupBy::None && groups.is_empty() {
        groups.push((String::new(), vec![Outcomes::default(); buckets.count]));
    }
    let mut fields = Vec::new();
    for (g, v) in groups {
        let grouped = q.group_by != GroupBy::None;
        let labels = |measure: &'static str| {
            let mut l = vec![("measure", measure)];
            if grouped {
                l.push((label, g.as_str()));
            }
            l
        };
        let display = |what: &str| {
            Some(if grouped {
                format!("{what} {g}")
            } else {
                what.to_string()
            })
        };
        let rate: Vec<Option<f64>> = v
            .iter()
            .map(|o| (o.finished > 0.0).then(|| o.failures / o.finished * 100.0))
            .collect();
        let mut rate_field = series_field(
            "failure_rate",
            rate,
            "percent",
            &labels("failure_rate"),
            Some(if grouped {
                g.clone()
            } else {
                "failure rate".into()
            }),
        );
        if let Some(c) = rate_field.config.as_mut() {
            c.min = Some(0.0);
            c.max = Some(100.0);
        }
        fields.push(rate_field);
        fields.push(series_field(
            "failures",
            v.iter().map(|o| Some(o.failures)).collect(),
            "short",
            &labels("failures"),
            display("failures"),
        ));
        fields.push(series_field(
            "finished",
            v.iter().map(|o| Some(o.finished)).collect(),
            "short",
            &labels("finished"),
            display("finished"),
        ));
    }
    wide_frame("failure_rate", buckets, fields, &loaded.executed)
}

fn statistics(
    loaded: &Loaded<'_>,
    q: &Query,
    buckets: &Buckets,
    time_of: fn(&Job) -> Option<i64>,
    value_of: fn(&Job) -> Option<f64>,
    name: &str,
) -> Frame {
    let groups = grouped::<Vec<f64>>(
        loaded,
        q,
        buckets,
        |j| value_of(j).and(time_of(j)),
        |v, j| {
            if let Some(x) = value_of(j) {
                v.push(x);
            }
        },
    );
    let mut groups: Vec<(String, Vec<Vec<f64>>)> = groups.into_iter().collect();
    if q.group_by == GroupBy::None && groups.is_empty() {
        groups.push((String::new(), vec![Vec::new(); buckets.count]));
    }
    let label = group_label(q.group_by);
    let mut fields = Vec::new();
    for (g, mut samples) in groups {
        // Per bucket, every statistic asked for (selection, not a full sort).
        let per_bucket: Vec<Vec<Option<f64>>> = samples
            .iter_mut()
            .map(|s| stats::summarize(&q.stats, s))
            .collect();
        let grouped = q.group_by != GroupBy::None;
        for (k, stat) in q.stats.iter().enumerate() {
            let values = per_bucket.iter().map(|v| v[k]).collect();
            let unit = if *stat == Stat::Count { "short" } else { "s" };
            let mut labels = vec![("stat", stat.as_str())];
            let display = if grouped {
                labels.push((label, g.as_str()));
                format!("{stat} {g}")
            } else {
                stat.to_string()
            };
            fields.push(series_field(
                stat.as_str(),
                values,
                unit,
                &labels,
                Some(display),
            ));
        }
    }
    wide_frame(name, buckets, fields, &loaded.executed)
}
