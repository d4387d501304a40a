//! `active_jobs` reconstructed from job records: at each step, a job counts as pending
//! from `created` until `started` (or until it finished, if it never started), and as
//! running from `started` until `finished`. AWX keeps no timestamp for the move from
//! pending to waiting, so waiting jobs count as pending here and `waiting` is null.

use std::collections::BTreeMap;

use crate::frame::{Field, FieldConfig, Frame, FrameType, Severity, Values};
use crate::instances::Instance;
use crate::jobs::{Job, JobTable, Micros, Selection};
use crate::query::Query;

use super::buckets::Buckets;
use super::records;
use super::KpiError;

pub async fn from_api(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let buckets = Buckets::for_query(q)?;
    // A job active at the first step may have finished right after it.
    let loaded = records::load(inst, q, buckets.first).await?;
    let sel = loaded.select(q);
    let n = buckets.count;
    let (pending, running) = match loaded.store {
        Some(store) => {
            let key = format!(
                "active|{:?}|{}|{}",
                q.filters, q.include_syncs, buckets.width
            );
            let slot = store.memo(&key);
            let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
            if !guard.is::<ActiveMemo>() {
                *guard = Box::new(ActiveMemo::default());
            }
            let memo = guard.downcast_mut::<ActiveMemo>().expect("the memo's type");
            memo.update(&loaded.records, &sel, buckets.width);
            cumulative(&memo.events, &buckets)
        }
        None => {
            let jobs = loaded.records.jobs().iter().filter(|j| sel.matches(j));
            cumulative(&all_events(jobs, buckets.width), &buckets)
        }
    };
    debug_assert_eq!(pending.len(), n);
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
        .with_field(state("pending", pending))
        .with_field(state("waiting", vec![None; n]))
        .with_field(state("running", running));
    Ok(vec![buckets.annotate(frame)])
}

/// The sweep's +1/-1 events, [pending, running], at absolute steps, sorted by step,
/// none zero. The step of a time `t` is the first multiple of the width at or after it
/// (`ceil(t / width)`): events before the range's first step count from it on, events
/// after its last never.
type Events = Vec<(i64, [i64; 2])>;

/// A job's events (step, state, +1/-1): pending from `created` until `started` (or until
/// it finished, if it never started), running from `started` until `finished`.
fn job_events(j: &Job, width: Micros) -> impl Iterator<Item = (i64, usize, i64)> {
    let at = |t: Micros| t.div_euclid(width) + i64::from(t.rem_euclid(width) != 0);
    let end = j.finished().map(at);
    let created = at(j.created);
    let events = match j.started() {
        Some(started) => {
            let s = at(started);
            [
                Some((created.min(s), 0, 1)),
                Some((s, 0, -1)),
                Some((end.map_or(s, |e| s.min(e)), 1, 1)),
                end.map(|e| (e, 1, -1)),
            ]
        }
        None => [
            Some((end.map_or(created, |e| created.min(e)), 0, 1)),
            end.map(|e| (e, 0, -1)),
            None,
            None,
        ],
    };
    events.into_iter().flatten()
}

/// The events of these jobs, summed per step.
fn all_events<'a>(jobs: impl Iterator<Item = &'a Job> + Clone, width: Micros) -> Events {
    let steps = jobs
        .clone()
        .flat_map(|j| job_events(j, width).map(|(s, _, _)| s));
    let (lo, hi) = steps.fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
    if lo > hi {
        return Events::new();
    }
    let span = (hi - lo) as u64 + 1;
    if span <= 1 << 22 {
        // Dense: one add per event, no map.
        let mut dense = vec![[0i64; 2]; span as usize];
        for j in jobs {
            for (s, state, d) in job_events(j, width) {
                dense[(s - lo) as usize][state] += d;
            }
        }
        return dense
            .into_iter()
            .enumerate()
            .filter(|(_, d)| *d != [0, 0])
            .map(|(i, d)| (lo + i as i64, d))
            .collect();
    }
    let mut events = Events::new();
    for j in jobs {
        add_events(&mut events, j, width, 1);
    }
    events
}

/// Adds a job's events (`sign` 1) or takes them back (-1).
fn add_events(events: &mut Events, j: &Job, width: Micros, sign: i64) {
    for (step, state, d) in job_events(j, width) {
        match events.binary_search_by_key(&step, |(s, _)| *s) {
            Ok(i) => {
                events[i].1[state] += d * sign;
                if events[i].1 == [0, 0] {
                    events.remove(i);
                }
            }
            Err(i) => {
                let mut e = [0, 0];
                e[state] = d * sign;
                events.insert(i, (step, e));
            }
        }
    }
}

/// The running sums of pending and running at each step of the buckets.
fn cumulative(events: &Events, buckets: &Buckets) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    let first = buckets.first.div_euclid(buckets.width);
    let mut acc = [0i64; 2];
    let mut it = events.iter().peekable();
    let mut pending = Vec::with_capacity(buckets.count);
    let mut running = Vec::with_capacity(buckets.count);
    for i in 0..buckets.count as i64 {
        while let Some((_, d)) = it.next_if(|(step, _)| *step <= first + i) {
            acc[0] += d[0];
            acc[1] += d[1];
        }
        pending.push(Some(acc[0] as f64));
        running.push(Some(acc[1] as f64));
    }
    (pending, running)
}

/// The events of every selected job held, kept between refreshes: a refresh takes back
/// the events of the jobs as they were and adds them as they are now (integers: exact),
/// so it costs the jobs that changed, not the history.
#[derive(Default)]
struct ActiveMemo {
    epoch: u64,
    version: u64,
    built: bool,
    events: Events,
}

impl ActiveMemo {
    fn update(&mut self, table: &JobTable, sel: &Selection, width: Micros) {
        let changes = (self.built && self.epoch == table.epoch())
            .then(|| table.changes_since(self.version))
            .flatten();
        match changes {
            Some(changes) => {
                for (old, new) in changes {
                    if let Some(j) = old.as_ref().filter(|j| sel.matches(j)) {
                        add_events(&mut self.events, j, width, -1);
                    }
                    if let Some(j) = new.as_ref().filter(|j| sel.matches(j)) {
                        add_events(&mut self.events, j, width, 1);
                    }
                }
            }
            None => {
                self.events = all_events(table.jobs().iter().filter(|j| sel.matches(j)), width);
            }
        }
        self.built = true;
        self.epoch = table.epoch();
        self.version = table.version();
    }
}
