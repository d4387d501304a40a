//! The time-series KPIs over job records: throughput, failure rate, durations and
//! queue waits, per bucket and optionally per group. Frames are "wide" (one time
//! field, number fields with labels) so that alerting reads them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::frame::{Field, FieldConfig, Frame, FrameType, Values};
use crate::instances::Instance;
use crate::jobs::{Job, JobTable, Micros, Selection, TimeKind};
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

/// How a series KPI groups and buckets its jobs.
struct Spec {
    /// Names the KPI in the memo key.
    name: &'static str,
    by: GroupBy,
    sel: Selection,
    /// The time `time_of` buckets on (or a subset of it): a change to a job with this
    /// time in a bucket may change that bucket.
    time: TimeKind,
}

/// A group's accumulator in one bucket, with the number of jobs added.
#[derive(Default, Clone)]
struct Slot<A> {
    jobs: u32,
    acc: A,
}

/// The cells of one bucket: (group label, value), sorted by label.
type Cells<C> = Vec<(Arc<str>, C)>;

/// What a series KPI keeps between refreshes: the cells of each bucket that was wholly
/// inside the range, valid until a job with its time in that bucket changes.
struct SeriesMemo<C> {
    epoch: u64,
    version: u64,
    cells: HashMap<i64, Cells<C>>,
}

/// Per-group slots to per-label cells: labels are made once per group, groups that
/// share a label (a name equal to "(none)") are merged, as grouping by label would.
fn label_cells<A: Acc, C>(
    groups: impl Iterator<Item = (Arc<str>, Slot<A>)>,
    finish: &impl Fn(A) -> C,
) -> Cells<C> {
    let mut by_label: BTreeMap<Arc<str>, A> = BTreeMap::new();
    for (label, slot) in groups {
        if slot.jobs == 0 {
            continue;
        }
        match by_label.entry(label) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(slot.acc);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().merge(slot.acc),
        }
    }
    by_label.into_iter().map(|(l, a)| (l, finish(a))).collect()
}

/// Groups of jobs per bucket: group label -> per-bucket value. Jobs are grouped by a
/// numeric key (no string per job); labels are made once per group.
///
/// With the data source's cache, the value of every bucket wholly inside the range is
/// kept, and a refresh recomputes only the buckets at the range's edges and those where
/// a job changed, visiting only their jobs (the store's time index): a warm refresh costs
/// what changed, not the size of the history. Each bucket's value depends only on its
/// jobs, visited in id order either way, so kept and recomputed values are the same.
fn grouped<A, C>(
    loaded: &Loaded<'_>,
    q: &Query,
    spec: &Spec,
    buckets: &Buckets,
    time_of: impl Fn(&Job) -> Option<i64>,
    mut add: impl FnMut(&mut A, &Job),
    finish: impl Fn(A) -> C,
) -> BTreeMap<String, Vec<C>>
where
    A: Acc,
    C: Clone + Send + 'static,
{
    let table: &JobTable = &loaded.records;
    let start = |i: usize| buckets.first + i as i64 * buckets.width;
    let whole = |i: usize| start(i) >= buckets.from && start(i) + buckets.width <= buckets.to;
    let empty = finish(A::default());

    let memo_slot = loaded.store.map(|store| {
        store.memo(&format!(
            "series|{}|{:?}|{}|{:?}|{:?}|{}",
            spec.name, q.filters, q.include_syncs, spec.by, q.stats, buckets.width
        ))
    });
    let mut memo_guard = memo_slot
        .as_ref()
        .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
    let mut memo: Option<&mut SeriesMemo<C>> = memo_guard.as_mut().map(|g| {
        if !g.is::<SeriesMemo<C>>() {
            **g = Box::new(SeriesMemo::<C> {
                epoch: 0,
                version: 0,
                cells: HashMap::new(),
            });
        }
        g.downcast_mut::<SeriesMemo<C>>().expect("the memo's type")
    });
    // Forget what changed since the memo was made, and buckets out of the range.
    if let Some(m) = memo.as_deref_mut() {
        let since = (m.epoch == table.epoch())
            .then(|| table.changes_since(m.version))
            .flatten();
        match since {
            None => m.cells.clear(),
            Some(changes) => {
                for (old, new) in changes {
                    for j in [old, new].into_iter().flatten() {
                        if let Some(t) = spec.time.of(j) {
                            m.cells
                                .remove(&(t.div_euclid(buckets.width) * buckets.width));
                        }
                    }
                }
            }
        }
        let last = start(buckets.count.saturating_sub(1));
        m.cells.retain(|b, _| *b >= buckets.first && *b <= last);
        m.epoch = table.epoch();
        m.version = table.version();
    }
    let kept = |i: usize, m: &Option<&mut SeriesMemo<C>>| {
        whole(i) && m.as_ref().is_some_and(|m| m.cells.contains_key(&start(i)))
    };
    let missing: Vec<usize> = (0..buckets.count).filter(|i| !kept(*i, &memo)).collect();

    // Only the jobs of the buckets to compute, bucket by bucket (the time index): little
    // memory at a time, and a refresh visits only what it recomputes.
    let mut labels: IntMap<u64, Arc<str>> = IntMap::default();
    let mut computed: Vec<Option<Cells<C>>> = vec![None; buckets.count];
    for &i in &missing {
        let from = start(i).max(buckets.from);
        let to = (start(i) + buckets.width).min(buckets.to);
        let mut index: IntMap<u64, usize> = IntMap::default();
        let mut groups: Vec<(u64, Slot<A>)> = Vec::new();
        for j in table.jobs_between(spec.time, from, to) {
            if !spec.sel.matches(j) || time_of(j).and_then(|t| buckets.index(t)) != Some(i) {
                continue;
            }
            let key = group_key(spec.by, j, &table.names);
            let g = *index.entry(key).or_insert_with(|| {
                labels
                    .entry(key)
                    .or_insert_with(|| group_of(loaded, spec.by, j).unwrap_or_default().into());
                groups.push((key, Slot::default()));
                groups.len() - 1
            });
            groups[g].1.jobs += 1;
            add(&mut groups[g].1.acc, j);
        }
        let per_group = groups
            .into_iter()
            .map(|(key, slot)| (labels[&key].clone(), slot));
        computed[i] = Some(label_cells(per_group, &finish));
    }

    let mut out: BTreeMap<Arc<str>, Vec<C>> = BTreeMap::new();
    for (i, computed) in computed.into_iter().enumerate() {
        let cells = match computed {
            Some(cells) => {
                if let (true, Some(m)) = (whole(i), memo.as_deref_mut()) {
                    m.cells.insert(start(i), cells.clone());
                }
                cells
            }
            None => memo
                .as_ref()
                .and_then(|m| m.cells.get(&start(i)))
                .cloned()
                .unwrap_or_default(),
        };
        for (label, c) in cells {
            out.entry(label)
                .or_insert_with(|| vec![empty.clone(); buckets.count])[i] = c;
        }
    }
    out.into_iter().map(|(l, v)| (l.to_string(), v)).collect()
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
            TimeKind::Finished,
            Job::duration,
            "job_duration",
        ),
        _ => statistics(
            &loaded,
            q,
            &buckets,
            TimeKind::Started,
            Job::queue_wait,
            "queue_wait",
        ),
    };
    Ok(vec![buckets.annotate(frame)])
}

/// How many selected jobs finished in `[from, to)`, per final status: the final rows of
/// `job_status_counts`, through the same kept buckets (of an hour) as the series.
pub(crate) fn finished_by_status(
    loaded: &Loaded<'_>,
    q: &Query,
    sel: Selection,
    from: Micros,
    to: Micros,
) -> BTreeMap<String, f64> {
    let spec = Spec {
        name: "status_counts",
        by: GroupBy::Status,
        sel,
        time: TimeKind::Finished,
    };
    finished_per_group(loaded, q, &spec, from, to, |j| {
        j.finished().filter(|_| j.is_final())
    })
}

/// How many selected jobs finished in `[from, to)` (any with a finish time, as the jobs
/// table's active total counts them), through kept buckets (of an hour).
pub(crate) fn count_finished(
    loaded: &Loaded<'_>,
    q: &Query,
    sel: Selection,
    from: Micros,
    to: Micros,
) -> usize {
    let spec = Spec {
        name: "finished_count",
        by: GroupBy::None,
        sel,
        time: TimeKind::Finished,
    };
    finished_per_group(loaded, q, &spec, from, to, Job::finished)
        .values()
        .sum::<f64>() as usize
}

/// Jobs per group whose `finished_at` falls in `[from, to)`, summed over hourly buckets
/// kept between refreshes.
fn finished_per_group(
    loaded: &Loaded<'_>,
    q: &Query,
    spec: &Spec,
    from: Micros,
    to: Micros,
    finished_at: impl Fn(&Job) -> Option<Micros>,
) -> BTreeMap<String, f64> {
    let Some(buckets) = hourly(from, to) else {
        return BTreeMap::new();
    };
    grouped::<f64, f64>(
        loaded,
        q,
        spec,
        &buckets,
        finished_at,
        |c, _| *c += 1.0,
        |c| c,
    )
    .into_iter()
    .map(|(group, per_bucket)| (group, per_bucket.iter().sum()))
    .collect()
}

/// Buckets of an hour (longer for long ranges: never more than about 10,000) over
/// `[from, to)`, for totals kept per bucket between refreshes.
fn hourly(from: Micros, to: Micros) -> Option<Buckets> {
    if to <= from {
        return None;
    }
    const HOUR: Micros = 3_600_000_000;
    let width = HOUR * ((to - from) / (10_000 * HOUR) + 1);
    Some(Buckets {
        first: from.div_euclid(width) * width,
        width,
        count: ((to - 1).div_euclid(width) - from.div_euclid(width) + 1) as usize,
        from,
        to,
        widened_from_ms: None,
    })
}

fn throughput(loaded: &Loaded<'_>, q: &Query, buckets: &Buckets) -> Frame {
    let by_status = matches!(q.group_by, GroupBy::None | GroupBy::Status);
    let mut fields = Vec::new();
    let spec = Spec {
        name: "throughput",
        by: if by_status {
            GroupBy::Status
        } else {
            q.group_by
        },
        sel: loaded.select(q),
        time: TimeKind::Finished,
    };
    let mut groups = grouped::<f64, f64>(
        loaded,
        q,
        &spec,
        buckets,
        |j| j.finished().filter(|_| j.is_final()),
        |c, _| *c += 1.0,
        |c| c,
    );
    if by_status {
        // Every final status always present (zeros), unless filtered out.
        for s in JobStatus::FINAL {
            if !q.filters.status.is_empty() && !q.filters.status.contains(&s) {
                continue;
            }
            let v = groups
                .remove(s.as_str())
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
    let spec = Spec {
        name: "failure_rate",
        by: q.group_by,
        sel: loaded.select(q),
        time: TimeKind::Finished,
    };
    let groups = grouped::<Outcomes, Outcomes>(
        loaded,
        q,
        &spec,
        buckets,
        Job::finished,
        |o, j| match j.status {
            Some(JobStatus::Failed | JobStatus::Error) => {
                o.failures += 1.0;
                o.finished += 1.0;
            }
            Some(JobStatus::Successful) => o.finished += 1.0,
            _ => {}
        },
        |o| o,
    );
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
    time: TimeKind,
    value_of: fn(&Job) -> Option<f64>,
    name: &'static str,
) -> Frame {
    let spec = Spec {
        name,
        by: q.group_by,
        sel: loaded.select(q),
        time,
    };
    // Per bucket, every statistic asked for (selection, not a full sort).
    let groups = grouped::<Vec<f64>, Vec<Option<f64>>>(
        loaded,
        q,
        &spec,
        buckets,
        |j| value_of(j).and(time.of(j)),
        |v, j| {
            if let Some(x) = value_of(j) {
                v.push(x);
            }
        },
        |mut samples| stats::summarize(&q.stats, &mut samples),
    );
    let mut groups: Vec<(String, Vec<Vec<Option<f64>>>)> = groups.into_iter().collect();
    if q.group_by == GroupBy::None && groups.is_empty() {
        let empty = stats::summarize(&q.stats, &mut []);
        groups.push((String::new(), vec![empty; buckets.count]));
    }
    let label = group_label(q.group_by);
    let mut fields = Vec::new();
    for (g, per_bucket) in groups {
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
