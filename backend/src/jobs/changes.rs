//! What lets the KPIs reuse their work from one refresh to the next, so that a warm
//! refresh costs what changed rather than the size of the history:
//!
//! - [`ChangeLog`]: per incremental sync, the jobs it changed, as (old, new) records
//!   (a purged job is `(old, None)`), kept for a bounded number of syncs;
//! - [`TimeIndex`]: the jobs whose created, started or finished time falls in a range,
//!   found without a full scan. AWX assigns ids in creation order and a job runs for
//!   minutes, so the jobs of one segment of ids are close in time: the index keeps, per
//!   segment of [`SEGMENT_IDS`] ids, the span of each time, and a range visits only the
//!   segments whose span meets it.

use std::collections::VecDeque;

use super::record::{Job, Micros};

/// The times a job is bucketed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeKind {
    Created,
    Started,
    Finished,
}

impl TimeKind {
    pub fn of(self, j: &Job) -> Option<Micros> {
        match self {
            TimeKind::Created => Some(j.created),
            TimeKind::Started => j.started(),
            TimeKind::Finished => j.finished(),
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

const KINDS: [TimeKind; 3] = [TimeKind::Created, TimeKind::Started, TimeKind::Finished];

/// One change: the job as it was (if it was held) and as it is (if it still is).
pub type Change = (Option<Job>, Option<Job>);

/// Syncs and records kept: a KPI that last computed before the oldest sync kept
/// recomputes everything (as after a restart).
const MAX_LOG_SYNCS: usize = 256;
const MAX_LOG_RECORDS: usize = 50_000;

#[derive(Debug, Default, Clone)]
pub struct ChangeLog {
    entries: VecDeque<(u64, Vec<Change>)>,
    records: usize,
    /// The highest version whose changes were dropped (0: none).
    dropped_through: u64,
}

impl ChangeLog {
    pub fn push(&mut self, version: u64, changes: Vec<Change>) {
        self.records += changes.len();
        self.entries.push_back((version, changes));
        while self.entries.len() > MAX_LOG_SYNCS
            || (self.records > MAX_LOG_RECORDS && self.entries.len() > 1)
        {
            if let Some((v, c)) = self.entries.pop_front() {
                self.records -= c.len();
                self.dropped_through = v;
            }
        }
    }

    /// Every change made after `version`, or `None` if some were dropped.
    pub fn since(&self, version: u64) -> Option<impl Iterator<Item = &Change>> {
        (version >= self.dropped_through).then(|| {
            self.entries
                .iter()
                .filter(move |(v, _)| *v > version)
                .flat_map(|(_, c)| c.iter())
        })
    }
}

/// Ids per segment of the time index.
pub const SEGMENT_IDS: i64 = 1024;

/// An inclusive span of times; empty when `lo > hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    lo: Micros,
    hi: Micros,
}

impl Span {
    const EMPTY: Span = Span {
        lo: Micros::MAX,
        hi: Micros::MIN,
    };

    fn add(&mut self, t: Micros) {
        self.lo = self.lo.min(t);
        self.hi = self.hi.max(t);
    }

    /// Meets `[from, to)`.
    fn meets(&self, from: Micros, to: Micros) -> bool {
        self.lo < to && self.hi >= from
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    spans: [Span; 3],
    /// Jobs not in a final status (their number; they are few).
    open: u32,
}

impl Segment {
    const EMPTY: Segment = Segment {
        spans: [Span::EMPTY; 3],
        open: 0,
    };

    fn of(jobs: &[Job]) -> Segment {
        let mut s = Segment::EMPTY;
        for j in jobs {
            for k in KINDS {
                if let Some(t) = k.of(j) {
                    s.spans[k.slot()].add(t);
                }
            }
            if !j.is_final() {
                s.open += 1;
            }
        }
        s
    }
}

/// Time spans per segment of ids, over a slice of jobs sorted by id.
#[derive(Debug, Default, Clone)]
pub struct TimeIndex {
    /// The segment number (`id / SEGMENT_IDS`) of `segments[0]`.
    first: i64,
    segments: Vec<Segment>,
}

fn segment_of(id: i64) -> i64 {
    id.div_euclid(SEGMENT_IDS)
}

/// The jobs of segment `seg` in `jobs` (sorted by id).
fn segment_jobs(jobs: &[Job], seg: i64) -> &[Job] {
    let lo = jobs.partition_point(|j| j.id < seg * SEGMENT_IDS);
    let hi = jobs.partition_point(|j| j.id < (seg + 1) * SEGMENT_IDS);
    &jobs[lo..hi]
}

impl TimeIndex {
    pub fn build(jobs: &[Job]) -> Self {
        let (Some(a), Some(b)) = (jobs.first(), jobs.last()) else {
            return Self::default();
        };
        let first = segment_of(a.id);
        let mut segments = vec![Segment::EMPTY; (segment_of(b.id) - first + 1) as usize];
        let mut rest = jobs;
        while let Some(j) = rest.first() {
            let seg = segment_of(j.id);
            let n = rest.partition_point(|x| segment_of(x.id) == seg);
            segments[(seg - first) as usize] = Segment::of(&rest[..n]);
            rest = &rest[n..];
        }
        TimeIndex { first, segments }
    }

    /// Brings the segments of these ids up to date with `jobs` (after jobs with these
    /// ids were added, changed or removed).
    pub fn update(&mut self, jobs: &[Job], ids: impl IntoIterator<Item = i64>) {
        let mut segs: Vec<i64> = ids.into_iter().map(segment_of).collect();
        segs.sort_unstable();
        segs.dedup();
        for seg in segs {
            if self.segments.is_empty() {
                self.first = seg;
            }
            if seg < self.first {
                let more = (self.first - seg) as usize;
                self.segments
                    .splice(0..0, std::iter::repeat_n(Segment::EMPTY, more));
                self.first = seg;
            }
            let i = (seg - self.first) as usize;
            if i >= self.segments.len() {
                self.segments.resize(i + 1, Segment::EMPTY);
            }
            self.segments[i] = Segment::of(segment_jobs(jobs, seg));
        }
        // Segments emptied at the front (purged jobs) are dropped.
        let empty = self
            .segments
            .iter()
            .take_while(|s| **s == Segment::EMPTY)
            .count();
        if empty > 0 {
            self.segments.drain(..empty);
            self.first += empty as i64;
        }
    }

    /// The jobs (in id order) whose `kind` time is in `[from, to)`.
    pub fn between<'a>(
        &'a self,
        jobs: &'a [Job],
        kind: TimeKind,
        from: Micros,
        to: Micros,
    ) -> impl Iterator<Item = &'a Job> + 'a {
        self.segments
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.spans[kind.slot()].meets(from, to))
            .flat_map(move |(i, _)| segment_jobs(jobs, self.first + i as i64))
            .filter(move |j| kind.of(j).is_some_and(|t| from <= t && t < to))
    }

    /// The jobs (in id order) not in a final status.
    pub fn open<'a>(&'a self, jobs: &'a [Job]) -> impl Iterator<Item = &'a Job> + 'a {
        self.segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.open > 0)
            .flat_map(move |(i, _)| segment_jobs(jobs, self.first + i as i64))
            .filter(|j| !j.is_final())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::awx::model::UnifiedJob;
    use crate::jobs::Interner;

    fn job(id: i64, created_s: i64, finished_s: Option<i64>) -> Job {
        let iso = |s: i64| {
            chrono::DateTime::from_timestamp(1_790_000_000 + s, 0)
                .unwrap()
                .to_rfc3339()
        };
        let raw: UnifiedJob = serde_json::from_value(serde_json::json!({
            "id": id,
            "type": "job",
            "status": if finished_s.is_some() { "successful" } else { "running" },
            "created": iso(created_s),
            "started": iso(created_s + 1),
            "finished": finished_s.map(iso),
        }))
        .unwrap();
        Job::from_api(&raw, &mut Interner::default()).unwrap()
    }

    fn brute(jobs: &[Job], kind: TimeKind, from: Micros, to: Micros) -> Vec<i64> {
        jobs.iter()
            .filter(|j| kind.of(j).is_some_and(|t| from <= t && t < to))
            .map(|j| j.id)
            .collect()
    }

    #[test]
    fn the_index_finds_exactly_the_jobs_in_a_time_range() {
        // Ids in creation order, some long-running, some still running.
        let mut jobs: Vec<Job> = (0..5000)
            .map(|i| {
                let finished = match i % 97 {
                    0 => None,
                    1 => Some(i * 10 + 50_000),
                    _ => Some(i * 10 + 60),
                };
                job(i * 3, i * 10, finished)
            })
            .collect();
        let mut index = TimeIndex::build(&jobs);
        let us = |s: i64| (1_790_000_000 + s) * 1_000_000;
        let check = |jobs: &[Job], index: &TimeIndex| {
            for (a, b) in [(0, 100), (5_000, 9_000), (40_000, 70_000), (-10, 0)] {
                for kind in KINDS {
                    let got: Vec<i64> = index
                        .between(jobs, kind, us(a), us(b))
                        .map(|j| j.id)
                        .collect();
                    assert_eq!(got, brute(jobs, kind, us(a), us(b)), "{kind:?} {a}..{b}");
                }
            }
            let open: Vec<i64> = index.open(jobs).map(|j| j.id).collect();
            let want: Vec<i64> = jobs
                .iter()
                .filter(|j| !j.is_final())
                .map(|j| j.id)
                .collect();
            assert_eq!(open, want);
        };
        check(&jobs, &index);
        // Purge the oldest, change one, add new ones: updated segments agree again.
        let purged: Vec<i64> = jobs.drain(..1500).map(|j| j.id).collect();
        let changed = jobs[100].id;
        jobs[100] = job(changed, 0, Some(99_999));
        jobs.push(job(20_000, 60_000, None));
        index.update(&jobs, purged.into_iter().chain([changed, 20_000]));
        check(&jobs, &index);
        assert_eq!(index.first, segment_of(jobs[0].id));
    }

    #[test]
    fn the_log_says_when_it_no_longer_reaches_back() {
        let mut log = ChangeLog::default();
        for v in 1..=(MAX_LOG_SYNCS as u64 + 10) {
            log.push(v, vec![(None, None)]);
        }
        assert!(log.since(5).is_none());
        assert_eq!(log.since(MAX_LOG_SYNCS as u64).unwrap().count(), 10);
        assert_eq!(log.since(MAX_LOG_SYNCS as u64 + 10).unwrap().count(), 0);
    }
}
