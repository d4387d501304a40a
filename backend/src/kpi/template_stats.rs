//! The `templates` table's numbers per template over a range: runs and outcomes, the
//! mean and p95 of durations, the mean queue wait, the latest run and the newest job's
//! template fields.
//!
//! With the data source's cache, the aggregates of the jobs that finished in the range's
//! whole hours are kept between refreshes (durations kept sorted) and updated with the
//! jobs that changed and the hours that entered or left the range; the partial hours at
//! the range's edges are computed afresh. Means are exact sums (fixed point), so they do
//! not depend on the order jobs were added or taken back; p95 is the order statistic of
//! the union of the kept and the edge durations. Kept or fresh, the numbers are the same.

use std::cmp::Ordering;

use super::records::{IntMap, Loaded};
use super::stats;
use crate::jobs::{Job, JobStore, JobTable, Micros, Ref, Selection, TimeKind};
use crate::query::{JobStatus, JobType, Query};

/// An exact sum of seconds in fixed point (2^-52 s): the same mean however the values
/// were added and taken back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ExactSum(i128);

const SCALE: f64 = 4_503_599_627_370_496.0; // 2^52

impl ExactSum {
    fn fixed(x: f64) -> i128 {
        (x * SCALE).round() as i128
    }
    fn add(&mut self, x: f64) {
        self.0 += Self::fixed(x);
    }
    fn sub(&mut self, x: f64) {
        self.0 -= Self::fixed(x);
    }
    fn mean(self, n: u64) -> Option<f64> {
        (n > 0).then(|| self.0 as f64 / SCALE / n as f64)
    }
}

/// One template's jobs in a set, but their durations.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    runs: u64,
    successful: u64,
    failures: u64,
    canceled: u64,
    durations: u64,
    duration_sum: ExactSum,
    waits: u64,
    wait_sum: ExactSum,
    /// (finished, id, status) of the latest run; among equal times the highest id.
    last: Option<(Micros, i64, Option<JobStatus>)>,
    /// (id, type, organization) of the newest job.
    newest: Option<(i64, Option<JobType>, Ref)>,
}

impl Counts {
    /// Adds a job; returns its duration, if it has one, for the caller to keep.
    fn add(&mut self, j: &Job, finished: Micros) -> Option<f64> {
        self.runs += 1;
        match j.status {
            Some(JobStatus::Successful) => self.successful += 1,
            Some(JobStatus::Failed | JobStatus::Error) => self.failures += 1,
            Some(JobStatus::Canceled) => self.canceled += 1,
            _ => {}
        }
        if let Some(w) = j.queue_wait() {
            self.waits += 1;
            self.wait_sum.add(w);
        }
        if self
            .last
            .is_none_or(|(f, id, _)| (finished, j.id) > (f, id))
        {
            self.last = Some((finished, j.id, j.status));
        }
        if self.newest.is_none_or(|(id, ..)| j.id > id) {
            self.newest = Some((j.id, j.job_type, j.organization));
        }
        let d = j.duration()?;
        self.durations += 1;
        self.duration_sum.add(d);
        Some(d)
    }

    /// Takes back a job added before (its duration is taken back by the caller). False
    /// when it was the latest run or the newest job: the numbers must be rebuilt.
    fn remove(&mut self, j: &Job, finished: Micros) -> bool {
        let dec = |x: &mut u64| *x = x.saturating_sub(1);
        dec(&mut self.runs);
        match j.status {
            Some(JobStatus::Successful) => dec(&mut self.successful),
            Some(JobStatus::Failed | JobStatus::Error) => dec(&mut self.failures),
            Some(JobStatus::Canceled) => dec(&mut self.canceled),
            _ => {}
        }
        if let Some(d) = j.duration() {
            dec(&mut self.durations);
            self.duration_sum.sub(d);
        }
        if let Some(w) = j.queue_wait() {
            dec(&mut self.waits);
            self.wait_sum.sub(w);
        }
        self.runs == 0
            || (self
                .last
                .is_none_or(|(f, id, _)| (f, id) != (finished, j.id))
                && self.newest.is_none_or(|(id, ..)| id != j.id))
    }

    /// Adds another set's numbers.
    fn absorb(&mut self, o: &Counts) {
        self.runs += o.runs;
        self.successful += o.successful;
        self.failures += o.failures;
        self.canceled += o.canceled;
        self.durations += o.durations;
        self.duration_sum.0 += o.duration_sum.0;
        self.waits += o.waits;
        self.wait_sum.0 += o.wait_sum.0;
        if let Some((f, id, s)) = o.last {
            if self.last.is_none_or(|(f0, id0, _)| (f, id) > (f0, id0)) {
                self.last = Some((f, id, s));
            }
        }
        if let Some(n) = o.newest {
            if self.newest.is_none_or(|(id0, ..)| n.0 > id0) {
                self.newest = Some(n);
            }
        }
    }
}

/// One template's jobs in a set.
#[derive(Debug, Default, Clone)]
struct Agg {
    c: Counts,
    durations: Vec<f64>,
}

impl Agg {
    fn add(&mut self, j: &Job, finished: Micros) {
        self.durations.extend(self.c.add(j, finished));
    }
}

/// One row of the table, before ordering.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub runs: u64,
    pub successful: u64,
    pub failures: u64,
    pub canceled: u64,
    pub job_type: Option<JobType>,
    pub organization: Ref,
    pub mean_duration: Option<f64>,
    pub p95_duration: Option<f64>,
    pub mean_wait: Option<f64>,
    pub last_finished: Option<Micros>,
    pub last_status: Option<JobStatus>,
}

impl Summary {
    fn of(c: &Counts, p95: Option<f64>) -> Summary {
        let newest = c.newest.unwrap_or((0, None, Ref::NONE));
        Summary {
            runs: c.runs,
            successful: c.successful,
            failures: c.failures,
            canceled: c.canceled,
            job_type: newest.1,
            organization: newest.2,
            mean_duration: c.duration_sum.mean(c.durations),
            p95_duration: p95,
            mean_wait: c.wait_sum.mean(c.waits),
            last_finished: c.last.map(|l| l.0),
            last_status: c.last.and_then(|l| l.2),
        }
    }
}

fn counted(sel: &Selection, j: &Job) -> bool {
    j.template != Ref::NONE && sel.matches(j)
}

/// The numbers of every template with a selected job that finished in `[from, to)`.
pub fn summaries(
    loaded: &Loaded<'_>,
    q: &Query,
    sel: &Selection,
    from: Micros,
    to: Micros,
) -> Vec<(Ref, Summary)> {
    match loaded.store {
        Some(store) => kept(store, &loaded.records, q, sel, from, to),
        None => fresh(loaded.records.jobs().iter(), sel, from, to),
    }
}

/// One pass over the jobs.
fn fresh<'a>(
    jobs: impl Iterator<Item = &'a Job>,
    sel: &Selection,
    from: Micros,
    to: Micros,
) -> Vec<(Ref, Summary)> {
    let mut by: IntMap<Ref, Agg> = IntMap::default();
    for j in jobs {
        if let Some(f) = j.finished().filter(|f| from <= *f && *f < to) {
            if counted(sel, j) {
                by.entry(j.template).or_default().add(j, f);
            }
        }
    }
    by.into_iter()
        .map(|(s, mut a)| {
            let p95 = stats::quantile_unsorted(&mut a.durations, 0.95);
            (s, Summary::of(&a.c, p95))
        })
        .collect()
}

const HOUR: Micros = 3_600_000_000;

/// What is kept: the aggregates (durations sorted) of the jobs that finished in `whole`.
struct Kept {
    epoch: u64,
    version: u64,
    whole: (Micros, Micros),
    by: IntMap<Ref, Agg>,
}

/// Durations to take back and to add, per template, applied in bulk.
#[derive(Default)]
struct Pending {
    add: Vec<f64>,
    remove: Vec<f64>,
}

impl Kept {
    fn build(table: &JobTable, sel: &Selection, whole: (Micros, Micros)) -> Kept {
        let mut by: IntMap<Ref, Agg> = IntMap::default();
        for j in table.jobs_between(TimeKind::Finished, whole.0, whole.1) {
            if counted(sel, j) {
                by.entry(j.template)
                    .or_default()
                    .add(j, j.finished().unwrap_or_default());
            }
        }
        for a in by.values_mut() {
            stats::sort(&mut a.durations);
        }
        Kept {
            epoch: table.epoch(),
            version: table.version(),
            whole,
            by,
        }
    }

    fn add(&mut self, pending: &mut IntMap<Ref, Pending>, j: &Job, f: Micros) {
        let a = self.by.entry(j.template).or_default();
        if let Some(d) = a.c.add(j, f) {
            pending.entry(j.template).or_default().add.push(d);
        }
    }

    /// False when the numbers must be rebuilt.
    fn remove(&mut self, pending: &mut IntMap<Ref, Pending>, j: &Job, f: Micros) -> bool {
        let Some(a) = self.by.get_mut(&j.template) else {
            return false;
        };
        if let Some(d) = j.duration() {
            pending.entry(j.template).or_default().remove.push(d);
        }
        a.c.remove(j, f)
    }

    /// Applies the bulk duration changes; false when a duration to take back is missing.
    fn settle(&mut self, pending: IntMap<Ref, Pending>) -> bool {
        for (t, mut p) in pending {
            let Some(a) = self.by.get_mut(&t) else {
                return false;
            };
            stats::sort(&mut p.add);
            stats::sort(&mut p.remove);
            let mut kept = Vec::with_capacity(a.durations.len() + p.add.len());
            let mut gone = p.remove.iter().peekable();
            for d in a.durations.drain(..) {
                if gone
                    .next_if(|r| r.total_cmp(&d) == Ordering::Equal)
                    .is_none()
                {
                    kept.push(d);
                }
            }
            if gone.next().is_some() {
                return false;
            }
            a.durations = merge_sorted(kept, p.add);
        }
        self.by.retain(|_, a| a.c.runs > 0);
        true
    }

    /// Brings the aggregates to the table's version and to `whole`; false when they must
    /// be rebuilt instead.
    fn update(&mut self, table: &JobTable, sel: &Selection, whole: (Micros, Micros)) -> bool {
        if self.epoch != table.epoch() {
            return false;
        }
        let Some(changes) = table.changes_since(self.version) else {
            return false;
        };
        let (lo, hi) = self.whole;
        let inside = |j: &Job| j.finished().filter(|f| lo <= *f && *f < hi);
        let mut pending: IntMap<Ref, Pending> = IntMap::default();
        for (old, new) in changes {
            if let Some((j, f)) = old.as_ref().and_then(|j| Some((j, inside(j)?))) {
                if counted(sel, j) && !self.remove(&mut pending, j, f) {
                    return false;
                }
            }
            if let Some((j, f)) = new.as_ref().and_then(|j| Some((j, inside(j)?))) {
                if counted(sel, j) {
                    self.add(&mut pending, j, f);
                }
            }
        }
        // The hours that left the range, then those that entered it.
        let (nlo, nhi) = whole;
        let entering = (nhi - nlo) - (nhi.min(hi) - nlo.max(lo)).max(0);
        if entering * 2 > (nhi - nlo).max(1) {
            return false;
        }
        for (a, b) in [(lo, hi.min(nlo)), (lo.max(nhi), hi)] {
            if a < b {
                for j in table.jobs_between(TimeKind::Finished, a, b) {
                    if counted(sel, j)
                        && !self.remove(&mut pending, j, j.finished().unwrap_or_default())
                    {
                        return false;
                    }
                }
            }
        }
        for (a, b) in [(nlo, nhi.min(lo)), (nlo.max(hi), nhi)] {
            if a < b {
                for j in table.jobs_between(TimeKind::Finished, a, b) {
                    if counted(sel, j) {
                        self.add(&mut pending, j, j.finished().unwrap_or_default());
                    }
                }
            }
        }
        if !self.settle(pending) {
            return false;
        }
        self.version = table.version();
        self.whole = whole;
        true
    }
}

fn merge_sorted(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut b = b.into_iter().peekable();
    for x in a {
        while let Some(y) = b.next_if(|y| y.total_cmp(&x) == Ordering::Less) {
            out.push(y);
        }
        out.push(x);
    }
    out.extend(b);
    out
}

/// The k-th smallest (0-based) of the union of two sorted samples.
fn kth_of_two(a: &[f64], b: &[f64], k: usize) -> f64 {
    // Take `i` from `a` and `k + 1 - i` from `b`: the least `i` for which a[i] does not
    // come before the last one taken from `b`.
    let (mut lo, mut hi) = ((k + 1).saturating_sub(b.len()), (k + 1).min(a.len()));
    while lo < hi {
        let i = (lo + hi) / 2;
        let j = k + 1 - i;
        if j >= 1 && a[i].total_cmp(&b[j - 1]) == Ordering::Less {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let (i, j) = (lo, k + 1 - lo);
    match (
        i.checked_sub(1).map(|x| a[x]),
        j.checked_sub(1).map(|x| b[x]),
    ) {
        (Some(x), Some(y)) => x.max_by_total(y),
        (Some(x), None) => x,
        (None, Some(y)) => y,
        (None, None) => f64::NAN,
    }
}

trait MaxByTotal {
    fn max_by_total(self, other: Self) -> Self;
}

impl MaxByTotal for f64 {
    fn max_by_total(self, other: f64) -> f64 {
        if self.total_cmp(&other) == Ordering::Less {
            other
        } else {
            self
        }
    }
}

/// [`stats::quantile`] of the union of two sorted samples.
fn quantile_of_two(a: &[f64], b: &[f64], p: f64) -> Option<f64> {
    let n = a.len() + b.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let (x, y) = (kth_of_two(a, b, lo), kth_of_two(a, b, hi));
    Some(x + (h - lo as f64) * (y - x))
}

fn kept(
    store: &JobStore,
    table: &JobTable,
    q: &Query,
    sel: &Selection,
    from: Micros,
    to: Micros,
) -> Vec<(Ref, Summary)> {
    // The whole hours of the range; the partial ones at its edges are computed afresh.
    let wlo = from.div_euclid(HOUR) * HOUR + if from.rem_euclid(HOUR) == 0 { 0 } else { HOUR };
    let whi = to.div_euclid(HOUR) * HOUR;
    let whole = if wlo < whi { (wlo, whi) } else { (from, from) };
    let slot = store.memo(&format!(
        "template_stats|{:?}|{}",
        q.filters, q.include_syncs
    ));
    let mut memo = slot.lock().unwrap_or_else(|p| p.into_inner());
    let fits = memo
        .downcast_mut::<Kept>()
        .is_some_and(|k| k.update(table, sel, whole));
    if !fits {
        *memo = Box::new(Kept::build(table, sel, whole));
    }
    let kept = memo.downcast_ref::<Kept>().expect("the memo's type");
    let edges: Vec<&Job> = [(from, whole.0), (whole.1, to)]
        .into_iter()
        .filter(|(a, b)| a < b)
        .flat_map(|(a, b)| table.jobs_between(TimeKind::Finished, a, b))
        .collect();
    let mut edge: IntMap<Ref, Agg> = IntMap::default();
    for j in edges {
        if counted(sel, j) {
            edge.entry(j.template)
                .or_default()
                .add(j, j.finished().unwrap_or_default());
        }
    }
    let mut out = Vec::with_capacity(kept.by.len() + edge.len());
    for (t, k) in &kept.by {
        match edge.remove(t) {
            Some(mut e) => {
                stats::sort(&mut e.durations);
                let p95 = quantile_of_two(&k.durations, &e.durations, 0.95);
                let mut c = k.c;
                c.absorb(&e.c);
                out.push((*t, Summary::of(&c, p95)));
            }
            None => out.push((*t, Summary::of(&k.c, stats::quantile(&k.durations, 0.95)))),
        }
    }
    for (t, mut e) in edge {
        let p95 = stats::quantile_unsorted(&mut e.durations, 0.95);
        out.push((t, Summary::of(&e.c, p95)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics_of_two_sorted_samples_equal_those_of_their_union() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % 50) as f64 * 0.5
        };
        for (n, m) in [
            (0, 1),
            (1, 0),
            (1, 1),
            (3, 7),
            (64, 2),
            (2, 64),
            (100, 100),
            (257, 31),
        ] {
            let mut a: Vec<f64> = (0..n).map(|_| next()).collect();
            let mut b: Vec<f64> = (0..m).map(|_| next()).collect();
            stats::sort(&mut a);
            stats::sort(&mut b);
            let mut all = [a.clone(), b.clone()].concat();
            stats::sort(&mut all);
            for (k, want) in all.iter().enumerate() {
                assert_eq!(kth_of_two(&a, &b, k), *want, "n={n} m={m} k={k}");
            }
            for p in [0.0, 0.5, 0.95, 0.99, 1.0] {
                assert_eq!(quantile_of_two(&a, &b, p), stats::quantile(&all, p), "{p}");
                let mut unsorted = all.clone();
                unsorted.reverse();
                assert_eq!(
                    stats::quantile_unsorted(&mut unsorted, p),
                    stats::quantile(&all, p)
                );
            }
            assert_eq!(merge_sorted(a, b), all);
        }
    }

    #[test]
    fn exact_sums_do_not_depend_on_order() {
        let xs = [0.1, 7.809, 1e6 + 0.001, 0.3, 2.5e-3, 12345.678];
        let mut forward = ExactSum::default();
        xs.iter().for_each(|x| forward.add(*x));
        let mut backward = ExactSum::default();
        xs.iter().rev().for_each(|x| backward.add(*x));
        assert_eq!(forward, backward);
        let mut taken = forward;
        taken.sub(0.3);
        let mut without = ExactSum::default();
        xs.iter()
            .filter(|x| **x != 0.3)
            .for_each(|x| without.add(*x));
        assert_eq!(taken, without);
        let mean = forward.mean(xs.len() as u64).unwrap();
        let naive = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - naive).abs() <= 1e-12 * naive);
    }
}
