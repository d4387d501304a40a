//! The per-data-source cache of job records.
//!
//! It holds every job that finished at or after `coverage_from`, plus every job not yet
//! finished: exactly the jobs any KPI over a range starting at `coverage_from` can need.
//! Finished jobs never change in AWX, so a refresh asks AWX only for what was modified
//! since the last sync (one request), and checks with one `count` that nothing was
//! deleted behind its back (AWX's cleanup_jobs); a mismatch triggers a full re-fetch.
//! Panels that need the store at the same moment share one sync (the sync lock), and a
//! failed sync leaves the store as it was: errors are never cached.

use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use chrono::SecondsFormat;

use super::record::{to_datetime, Interner, Job, Micros};
use crate::awx::model::UnifiedJob;
use crate::awx::{ApiRequest, AwxClient, AwxError};

/// A refresh within this window reuses the last sync: one dashboard refresh, one sync.
pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// Re-read jobs modified this long before the newest change seen: AWX commits are not
/// ordered by `modified`, and re-reading a few jobs is harmless (upsert).
const MODIFIED_OVERLAP_US: Micros = 10_000_000;
/// Generous per-job accounting (the struct, its slot in the table, its share of names).
pub const BYTES_PER_JOB: usize = 128;
pub const DEFAULT_BUDGET_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct JobTable {
    /// Sorted by id, ascending.
    pub jobs: Vec<Job>,
    pub names: Interner,
    coverage_from: Option<Micros>,
    max_modified: Micros,
    synced_at: Option<Instant>,
}

impl JobTable {
    pub fn coverage_from(&self) -> Option<Micros> {
        self.coverage_from
    }

    fn covers(&self, from: Micros) -> bool {
        self.coverage_from.is_some_and(|c| c <= from)
    }

    fn in_coverage(&self, job: &Job) -> bool {
        match (self.coverage_from, job.finished()) {
            (None, _) => false,
            (_, None) => true,
            (Some(c), Some(f)) => f >= c,
        }
    }

    /// Inserts or replaces jobs by id, keeping `jobs` sorted.
    fn upsert(&mut self, batch: &[UnifiedJob]) {
        for raw in batch {
            let Some(job) = Job::from_api(raw, &mut self.names) else {
                continue;
            };
            self.max_modified = self.max_modified.max(job.modified);
            match self.jobs.last() {
                Some(last) if last.id < job.id => self.jobs.push(job),
                None => self.jobs.push(job),
                _ => match self.jobs.binary_search_by_key(&job.id, |j| j.id) {
                    Ok(i) => self.jobs[i] = job,
                    Err(i) => self.jobs.insert(i, job),
                },
            }
        }
    }

    /// A table of these rows, covering `[from, now]`.
    pub fn from_rows(batch: &[UnifiedJob], from: Micros) -> Self {
        Self::rebuild(batch, from)
    }

    fn rebuild(batch: &[UnifiedJob], from: Micros) -> Self {
        let mut t = JobTable {
            coverage_from: Some(from),
            ..Default::default()
        };
        t.jobs.reserve(batch.len());
        t.upsert(batch);
        t
    }

    /// Drops the oldest finished jobs until at most `max_jobs` remain, moving the
    /// coverage start forward so that it stays truthful.
    fn evict_to(&mut self, max_jobs: usize) {
        if self.jobs.len() <= max_jobs {
            return;
        }
        let mut finished: Vec<Micros> = self.jobs.iter().filter_map(Job::finished).collect();
        let excess = self.jobs.len() - max_jobs;
        if excess > finished.len() {
            return;
        }
        let (_, cut, _) = finished.select_nth_unstable(excess);
        let cut = *cut + 1;
        self.jobs.retain(|j| j.finished().is_none_or(|f| f >= cut));
        self.coverage_from = Some(self.coverage_from.map_or(cut, |c| c.max(cut)));
    }

    pub fn memory_bytes(&self) -> usize {
        self.jobs.capacity() * std::mem::size_of::<Job>() + self.names.len() * 64
    }
}

/// What a sync did, for the query inspector and the benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// AWX requests shown in executedQueryString (first page of each list).
    pub requests: Vec<String>,
    pub fetched: usize,
    pub from_cache: bool,
}

#[derive(Debug)]
pub struct JobStore {
    table: RwLock<JobTable>,
    /// Held while syncing; holds the failure of the last sync if it failed, so that the
    /// panels queued behind a failed sync share its error instead of each trying again
    /// (one refresh, one failure, one timeout). A later request always tries anew.
    sync: tokio::sync::Mutex<Option<(Instant, AwxError)>>,
    max_jobs: usize,
}

impl JobStore {
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            table: RwLock::new(JobTable::default()),
            sync: tokio::sync::Mutex::new(None),
            max_jobs: (budget_bytes / BYTES_PER_JOB).max(1),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, JobTable> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, JobTable> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the store cover `[from, now]` and be fresh. Returns `Ok(None)` when the
    /// range does not fit the memory budget: the caller then fetches without the cache.
    pub async fn ensure(
        &self,
        awx: &AwxClient,
        from: Micros,
    ) -> Result<Option<SyncReport>, AwxError> {
        let asked = Instant::now();
        let mut last_failure = self.sync.lock().await;
        if let Some((at, e)) = last_failure.as_ref() {
            if *at >= asked {
                // The sync this query waited for failed: the same answer, now.
                return Err(e.clone());
            }
        }
        let result = self.ensure_locked(awx, from).await;
        *last_failure = result.as_ref().err().map(|e| (Instant::now(), e.clone()));
        result
    }

    /// `ensure` with the sync lock held.
    async fn ensure_locked(
        &self,
        awx: &AwxClient,
        from: Micros,
    ) -> Result<Option<SyncReport>, AwxError> {
        let (coverage, fresh, max_modified, max_id) = {
            let t = self.read();
            (
                t.coverage_from,
                t.synced_at.is_some_and(|s| s.elapsed() < FRESH_FOR),
                t.max_modified,
                t.jobs.last().map_or(0, |j| j.id),
            )
        };
        let mut report = SyncReport::default();
        match coverage {
            Some(c) if c <= from && fresh => {
                report.from_cache = true;
                return Ok(Some(report));
            }
            None => {
                let req = coverage_request(from);
                let jobs = fetch(awx, &req, self.max_jobs, &mut report).await?;
                let Some(jobs) = jobs else { return Ok(None) };
                let mut t = JobTable::rebuild(&jobs, from);
                t.synced_at = Some(Instant::now());
                *self.write() = t;
                return Ok(Some(report));
            }
            Some(c) if c > from => {
                // Extend backwards: only jobs finished in [from, c) are missing, and
                // those are final.
                let req = ApiRequest::new("unified_jobs/")
                    .param("finished__gte", iso(from))
                    .param("finished__lt", iso(c))
                    .param("order_by", "id");
                let room = self.max_jobs.saturating_sub(self.read().jobs.len());
                let Some(jobs) = fetch(awx, &req, room, &mut report).await? else {
                    return Ok(None);
                };
                let mut t = self.write();
                t.upsert(&jobs);
                t.coverage_from = Some(from);
            }
            Some(_) => {}
        }
        if !fresh {
            self.refresh(awx, max_modified, max_id, &mut report).await?;
        }
        let mut t = self.write();
        t.evict_to(self.max_jobs);
        let covered = t.covers(from);
        t.synced_at = Some(Instant::now());
        Ok(covered.then_some(report))
    }

    async fn refresh(
        &self,
        awx: &AwxClient,
        max_modified: Micros,
        max_id: i64,
        report: &mut SyncReport,
    ) -> Result<(), AwxError> {
        let delta = ApiRequest::new("unified_jobs/")
            .param("modified__gt", iso(max_modified - MODIFIED_OVERLAP_US))
            .param("order_by", "id");
        let Some(changed) = fetch(awx, &delta, self.max_jobs, report).await? else {
            return Ok(());
        };
        let coverage = {
            let mut t = self.write();
            t.upsert(&changed);
            t.coverage_from
        };
        let Some(coverage) = coverage else {
            return Ok(());
        };
        // Deleted jobs never show up as modified: compare counts of what we hold.
        let check = coverage_request(coverage).param("id__lte", max_id.to_string());
        report
            .requests
            .push(awx.display(&check.clone().param("page_size", "1")));
        let remote = awx.count(&check).await?;
        let local = {
            let t = self.read();
            t.jobs
                .iter()
                .filter(|j| j.id <= max_id && t.in_coverage(j))
                .count() as u64
        };
        if remote != local {
            tracing::info!(
                remote,
                local,
                "jobs were deleted in AWX; re-fetching the cache"
            );
            let req = coverage_request(coverage);
            if let Some(jobs) = fetch(awx, &req, self.max_jobs, report).await? {
                *self.write() = JobTable::rebuild(&jobs, coverage);
            }
        }
        Ok(())
    }
}

/// Every job finished at or after `from`, or not finished.
pub fn coverage_request(from: Micros) -> ApiRequest {
    ApiRequest::new("unified_jobs/")
        .param("or__finished__gte", iso(from))
        .param("or__finished__isnull", "true")
        .param("order_by", "id")
}

/// Fetches a whole list, or `None` if it has more than `max_items` rows.
async fn fetch(
    awx: &AwxClient,
    req: &ApiRequest,
    max_items: usize,
    report: &mut SyncReport,
) -> Result<Option<Vec<UnifiedJob>>, AwxError> {
    report.requests.push(
        awx.display(
            &req.clone()
                .param("page_size", crate::awx::PAGE_SIZE.to_string()),
        ),
    );
    let jobs: Option<Vec<UnifiedJob>> = awx.list_unless_over(req, max_items).await?;
    report.fetched += jobs.as_ref().map_or(0, Vec::len);
    Ok(jobs)
}

/// AWX accepts ISO 8601 with microseconds and `Z`.
pub fn iso(us: Micros) -> String {
    to_datetime(us)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}
