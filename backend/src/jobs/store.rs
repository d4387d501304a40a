//! The per-data-source cache of job records.
//!
//! It holds every job that finished at or after `coverage_from`, plus every job not yet
//! finished: exactly the jobs any KPI over a range starting at `coverage_from` can need.
//! Finished jobs never change in AWX, so a refresh asks AWX only for what was modified
//! since the last sync (one request), and checks with one `count` that nothing was
//! deleted behind its back (AWX's cleanup_jobs); a mismatch triggers a full re-fetch.
//! Panels that need the store at the same moment share one sync (the sync lock), and a
//! failed sync leaves the store as it was: errors are never cached.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use chrono::SecondsFormat;
use tokio::sync::watch;

use serde::{Deserialize, Serialize};

use super::changes::{Change, ChangeLog, TimeIndex, TimeKind};
use super::persist;
use super::record::{disk, micros, to_datetime, Interner, Job, Micros, RefKind};
use crate::awx::model::UnifiedJob;
use crate::awx::{ApiRequest, AwxClient, AwxError, Page, PAGE_SIZE};
use crate::plugin_config::PluginConfig;
use futures::{stream, StreamExt, TryStreamExt};

/// A refresh within this window reuses the last sync: one dashboard refresh, one sync.
pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// A cold fill reads the jobs finished this recently (and the open ones) in one list,
/// then the older ones newest first: "recently" leaves room for the plugin's clock and
/// AWX's to differ.
const RECENT_US: Micros = 10 * 60 * 1_000_000;
/// While a fill reads older pages, what arrived is applied this often.
const FILL_FLUSH_EVERY: Duration = Duration::from_millis(500);

/// How far a background fill got: pages of the older jobs read (in order) and their
/// number; `done` once it ended, with its error if it failed.
#[derive(Debug, Clone, Default)]
pub struct FillProgress {
    pub pages_read: usize,
    pub pages: usize,
    pub done: bool,
    pub error: Option<AwxError>,
}

/// What [`JobStore::ensure_within`] could do in the time it had.
#[derive(Debug)]
pub enum Ensured {
    /// The store covers the range (`None`: it cannot, fetch without it).
    Ready(Option<SyncReport>),
    /// A fill is still reading older jobs: the store holds every job finished at or
    /// after `covered_from` (and the open ones), not yet the whole range.
    Partial {
        covered_from: Micros,
        progress: FillProgress,
        executed: String,
    },
    /// The store covers the range as read from disk at a restart, and the refresh that
    /// brings in what AWX changed since its newest change seen (`as_of`) is still
    /// running: a dashboard is answered from it meanwhile.
    Behind { as_of: Micros },
}
/// Re-read jobs modified this long before the newest change seen: AWX stamps `modified`
/// when a save starts and commits later (a busy task manager holds its transaction for
/// seconds), so a `modified__gt` list can miss a save that commits after it ran.
/// Re-reading a few jobs is harmless (upsert).
const MODIFIED_OVERLAP_US: Micros = 60_000_000;
/// Ids per `id__in` request when open jobs are re-read: a request line well under 8 KiB.
const IDS_PER_REQUEST: usize = 200;
/// Generous per-job accounting (the struct, its slot in the table, its share of names).
pub const BYTES_PER_JOB: usize = 128;
pub const DEFAULT_BUDGET_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct JobTable {
    /// Sorted by id, ascending; the first `dead` were purged (dropped in bulk later, so
    /// that purging the oldest jobs does not move all the others every refresh).
    all: Vec<Job>,
    dead: usize,
    pub names: Interner,
    coverage_from: Option<Micros>,
    max_modified: Micros,
    synced_at: Option<Instant>,
    /// Chunks of ids changed since the last write to disk (see `jobs/persist.rs`), or
    /// every chunk.
    dirty_chunks: std::collections::BTreeSet<u64>,
    dirty_all: bool,
    /// What is written beside the jobs changed ([`BeforeCoverage`]).
    dirty_meta: bool,
    /// What AWX holds before the coverage, as last counted (kept on disk), and when AWX
    /// last confirmed it (or it was read from disk): every refresh does.
    before_coverage: Option<(BeforeCoverage, Instant)>,
    /// When open jobs and object names were last re-read: every `reconcile_seconds`
    /// ([`PluginConfig`]), a refresh also re-reads, by id, every job held as not finished
    /// (a save that committed later than [`MODIFIED_OVERLAP_US`] is caught here), and AWX's
    /// lists of templates, organizations, inventories, projects and instance groups (a
    /// renamed object with no new job shows its new name within that time).
    reconciled_at: Option<Instant>,
    /// Changes whenever the table changes other than by a logged sync (a new fill, an
    /// older range, an eviction): work kept from before is void.
    epoch: u64,
    /// The number of logged syncs that changed something.
    version: u64,
    log: ChangeLog,
    index: TimeIndex,
}

/// The jobs AWX holds, up to the highest id held, that finished before the coverage
/// (counted for a coverage that started at `coverage_from`). They are final and never
/// come back, so the count of everything AWX holds up to that id equals the jobs held
/// plus these until a job is deleted or purged: a refresh checks that with one count of
/// everything, whose first row is also AWX's oldest job, instead of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeforeCoverage {
    pub coverage_from: Micros,
    pub jobs: u64,
    /// When AWX's oldest job was created (`None`: AWX holds no job).
    #[serde(default)]
    pub oldest_created: Option<Micros>,
}

/// Epochs are unique across tables, so a table replaced by a new fill never matches.
static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

fn next_epoch() -> u64 {
    NEXT_EPOCH.fetch_add(1, Ordering::Relaxed)
}

impl JobTable {
    /// The jobs held, sorted by id (ascending).
    pub fn jobs(&self) -> &[Job] {
        &self.all[self.dead..]
    }

    /// Drops the purged jobs for good.
    fn compact(&mut self) {
        if self.dead > 0 {
            self.all.drain(..self.dead);
            self.dead = 0;
        }
    }

    /// See [`JobTable::version`]: results computed at the same epoch can be updated with
    /// [`JobTable::changes_since`].
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The changes made by the syncs after `version` (of this epoch), or `None` when they
    /// are no longer all known.
    pub fn changes_since(&self, version: u64) -> Option<impl Iterator<Item = &Change>> {
        self.log.since(version)
    }

    /// The jobs (in id order) whose `kind` time is in `[from, to)`, found through the
    /// time index (no full scan).
    pub fn jobs_between(
        &self,
        kind: TimeKind,
        from: Micros,
        to: Micros,
    ) -> impl Iterator<Item = &Job> {
        self.index.between(self.jobs(), kind, from, to)
    }

    /// The jobs (in id order) not in a final status.
    pub fn open_jobs(&self) -> impl Iterator<Item = &Job> {
        self.index.open(self.jobs())
    }

    /// Applies one sync's changes (jobs changed or new), logging what each replaced.
    fn apply(&mut self, mut changed: Vec<Job>) {
        sort_by_id(&mut changed);
        let mut log: Vec<Change> = Vec::new();
        for new in &changed {
            let live = self.jobs();
            let old = live
                .binary_search_by_key(&new.id, |j| j.id)
                .ok()
                .map(|i| live[i]);
            if old != Some(*new) {
                log.push((old, Some(*new)));
            }
        }
        let ids: Vec<i64> = log.iter().filter_map(|(_, n)| n.map(|j| j.id)).collect();
        self.upsert(changed);
        self.index.update(&self.all[self.dead..], ids);
        self.log_sync(log);
    }

    /// Drops the jobs with an id below `lowest` (purged in AWX), logging them.
    fn purge_below(&mut self, lowest: i64) -> usize {
        let n = self.jobs().partition_point(|j| j.id < lowest);
        if n == 0 {
            return 0;
        }
        let gone: Vec<Job> = self.jobs()[..n].to_vec();
        self.dirty_chunks
            .extend(gone.iter().map(|j| persist::chunk_of(j.id)));
        self.dead += n;
        // Moving every job costs a pass over the table: only once an eighth is dead.
        if self.dead * 8 > self.all.len() {
            self.compact();
        }
        self.index
            .update(&self.all[self.dead..], gone.iter().map(|j| j.id));
        self.log_sync(gone.into_iter().map(|j| (Some(j), None)).collect());
        n
    }

    fn log_sync(&mut self, changes: Vec<Change>) {
        if !changes.is_empty() {
            self.version += 1;
            self.log.push(self.version, changes);
        }
    }

    /// Takes the names of a sync. If an object was renamed, work kept between refreshes
    /// (which holds names and groups) is void: a new epoch.
    fn set_names(&mut self, names: Interner) {
        let renamed = names.renames() != self.names.renames();
        self.names = names;
        if renamed {
            self.epoch = next_epoch();
            self.version = 0;
            self.log = ChangeLog::default();
        }
    }

    /// After a change that is not logged: a new epoch, the index rebuilt (and every
    /// chunk to be written again).
    fn reindex(&mut self) {
        self.dirty_all = true;
        self.epoch = next_epoch();
        self.version = 0;
        self.log = ChangeLog::default();
        self.index = TimeIndex::build(&self.all[self.dead..]);
    }

    pub fn coverage_from(&self) -> Option<Micros> {
        self.coverage_from
    }

    /// When the oldest job AWX holds was created (`Some(None)`: AWX holds none), if a
    /// sync read it less than `max_age` ago.
    pub fn awx_oldest(&self, max_age: Duration) -> Option<Option<Micros>> {
        self.before_coverage
            .filter(|(_, at)| at.elapsed() < max_age)
            .map(|(b, _)| b.oldest_created)
    }

    /// The coverage now starts at `from`, and `jobs` jobs (final, all below the highest id
    /// held) moved from before it into the table (negative) or out of it: what AWX holds
    /// before the coverage follows without asking AWX again.
    fn move_coverage(&mut self, from: Micros, jobs: i64) {
        if let Some((b, read_at)) = self
            .before_coverage
            .filter(|(b, _)| self.coverage_from == Some(b.coverage_from))
        {
            let moved = BeforeCoverage {
                coverage_from: from,
                jobs: b.jobs.saturating_add_signed(jobs),
                ..b
            };
            self.before_coverage = Some((moved, read_at));
            self.dirty_meta = true;
        }
        self.coverage_from = Some(from);
    }

    /// What a sync just counted (a change is written to disk with the next sync's jobs).
    fn set_before_coverage(&mut self, b: BeforeCoverage) {
        self.dirty_meta |= self.before_coverage.is_none_or(|(old, _)| old != b);
        self.before_coverage = Some((b, Instant::now()));
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

    /// Inserts or replaces jobs by id (the newest `modified` wins), keeping `jobs`
    /// sorted. A refresh's jobs are mostly held already (replaced where they are) or new
    /// (appended after the last held): neither moves the others, so a refresh costs what
    /// it brings, not the table's size. Jobs that fall between those held (an older range,
    /// a late commit) are inserted one by one when few, else merged in one pass.
    fn upsert(&mut self, mut new: Vec<Job>) {
        if new.is_empty() {
            return;
        }
        sort_by_id(&mut new);
        for j in &new {
            self.max_modified = self.max_modified.max(j.modified);
            self.dirty_chunks.insert(persist::chunk_of(j.id));
        }
        if self.jobs().is_empty() {
            self.all = new;
            self.dead = 0;
            return;
        }
        let dead = self.dead;
        let mut missing = Vec::new();
        for job in new {
            match self.jobs().binary_search_by_key(&job.id, |j| j.id) {
                Ok(i) => self.all[dead + i] = job,
                Err(_) => missing.push(job),
            }
        }
        let last = self.jobs().last().map_or(i64::MIN, |j| j.id);
        let after = missing.split_off(missing.partition_point(|j| j.id < last));
        if missing.len() <= 64 {
            for job in missing {
                let i = self.jobs().partition_point(|j| j.id < job.id);
                self.all.insert(dead + i, job);
            }
        } else {
            self.compact();
            let old = std::mem::take(&mut self.all);
            let mut merged = Vec::with_capacity(old.len() + missing.len() + after.len());
            let mut missing = missing.into_iter().peekable();
            for job in old {
                while let Some(n) = missing.next_if(|n| n.id < job.id) {
                    merged.push(n);
                }
                merged.push(job);
            }
            merged.extend(missing);
            self.all = merged;
        }
        self.all.extend(after);
    }

    /// A table of these rows, covering `[from, now]` (for tests: the plugin converts
    /// page by page, see [`fetch_records`]).
    pub fn from_rows(batch: &[UnifiedJob], from: Micros) -> Self {
        let mut names = Interner::default();
        let jobs = batch
            .iter()
            .filter_map(|raw| Job::from_api(raw, &mut names))
            .collect();
        Self::with_jobs(jobs, names, from)
    }

    /// A table of these jobs (their names in `names`), covering `[from, now]`.
    pub fn with_jobs(jobs: Vec<Job>, names: Interner, from: Micros) -> Self {
        let mut t = JobTable {
            coverage_from: Some(from),
            names,
            ..Default::default()
        };
        t.upsert(jobs);
        t.reindex();
        t
    }

    /// Jobs held with an id up to `max_id` (every job held is in the coverage).
    fn count_up_to(&self, max_id: i64) -> u64 {
        self.jobs().partition_point(|j| j.id <= max_id) as u64
    }

    /// Drops the oldest finished jobs until at most `max_jobs` remain, moving the
    /// coverage start forward so that it stays truthful.
    fn evict_to(&mut self, max_jobs: usize) {
        if self.jobs().len() <= max_jobs {
            return;
        }
        self.compact();
        let mut finished: Vec<Micros> = self.all.iter().filter_map(Job::finished).collect();
        // Open jobs are never evicted: with more of them than the budget, every finished
        // job goes (the coverage then starts after the last of them).
        let drop = (self.all.len() - max_jobs).min(finished.len());
        if drop == 0 {
            return;
        }
        let (_, cut, _) = finished.select_nth_unstable(drop - 1);
        let cut = *cut + 1;
        let held = self.all.len();
        self.all.retain(|j| j.finished().is_none_or(|f| f >= cut));
        let evicted = (held - self.all.len()) as i64;
        self.move_coverage(self.coverage_from.map_or(cut, |c| c.max(cut)), evicted);
        self.reindex();
    }

    pub fn memory_bytes(&self) -> usize {
        self.all.capacity() * std::mem::size_of::<Job>() + self.names.len() * 64
    }
}

/// Sorts by id, keeping one job per id: the one modified last.
fn sort_by_id(jobs: &mut Vec<Job>) {
    if jobs.windows(2).all(|w| w[0].id < w[1].id) {
        return;
    }
    // Unstable: no scratch buffer the size of a cold fill.
    jobs.sort_unstable_by(|a, b| a.id.cmp(&b.id).then(b.modified.cmp(&a.modified)));
    jobs.dedup_by_key(|j| j.id);
}

/// The first row of a one-row page: its id is all the count check needs.
#[derive(Deserialize)]
struct JobId {
    id: i64,
}

/// The first row of a one-row page of everything AWX holds, by id: its oldest job.
#[derive(Deserialize)]
struct Oldest {
    #[serde(default)]
    created: Option<chrono::DateTime<chrono::Utc>>,
}

/// Everything AWX holds up to `max_id`, oldest first, one row: its count and AWX's
/// oldest job.
fn everything_up_to(max_id: i64) -> ApiRequest {
    ApiRequest::new("unified_jobs/")
        .param("id__lte", max_id.to_string())
        .param("order_by", "id")
        .param("page_size", "1")
}

fn count_of<T>(page: &Page<T>, awx: &AwxClient, req: &ApiRequest) -> Result<u64, AwxError> {
    page.count.ok_or_else(|| AwxError::InvalidResponse {
        path: awx.display(req),
        reason: "the list has no `count`".into(),
    })
}

/// A row of a list of named objects (templates, organizations, ...).
#[derive(Deserialize)]
struct NamedRow {
    id: i64,
    #[serde(default)]
    name: String,
}

/// At most this many objects of one kind are read for their names.
const MAX_OBJECTS: usize = 100_000;

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
    /// What KPIs keep between refreshes (see [`JobStore::memo`]).
    memos: Mutex<HashMap<String, Memo>>,
    /// The persistent copy, if the plugin has a cache directory.
    disk: Option<persist::DiskCache>,
    /// The names as last written to disk ([`disk::names_mark`]).
    disk_names: Mutex<(usize, usize, u64)>,
    /// Whether the disk copy was read into the (empty) table yet: once per store.
    /// Panels of one dashboard arrive together: all of them wait for the one read, none
    /// takes the store for empty meanwhile (and starts a cold fill).
    disk_loaded: tokio::sync::OnceCell<()>,
    /// The background fill, while one runs (see [`JobStore::ensure_within`]).
    filling: Mutex<Option<watch::Receiver<FillProgress>>>,
    /// The host summaries of the jobs held (`jobs/hosts.rs`), created at first use.
    hosts: std::sync::OnceLock<Arc<super::hosts::HostStore>>,
}

/// One KPI's kept work; its owner checks the table's epoch and version before use.
pub type Memo = Arc<Mutex<Box<dyn Any + Send>>>;

/// Memos kept per data source (each is small: per-bucket results, not jobs).
const MAX_MEMOS: usize = 256;

impl JobStore {
    pub fn new(budget_bytes: usize) -> Self {
        Self::with_disk(budget_bytes, None)
    }

    /// A store that starts from, and keeps writing to, a persistent copy on disk.
    pub fn with_disk(budget_bytes: usize, disk: Option<persist::DiskCache>) -> Self {
        Self {
            table: RwLock::new(JobTable::default()),
            sync: tokio::sync::Mutex::new(None),
            max_jobs: (budget_bytes / BYTES_PER_JOB).max(1),
            memos: Mutex::new(HashMap::new()),
            disk,
            disk_names: Mutex::new((0, 0, 0)),
            disk_loaded: tokio::sync::OnceCell::new(),
            filling: Mutex::new(None),
            hosts: std::sync::OnceLock::new(),
        }
    }

    /// Makes this store's handle on its file the one that writes (see
    /// [`persist::DiskCache::claim`]).
    pub fn claim_disk(&self) {
        if let Some(disk) = &self.disk {
            disk.claim();
        }
    }

    /// The data source's host summaries, kept beside its job records for the store's
    /// life (not among the KPIs' memos, which may be cleared), with `budget_bytes`, and in
    /// the same file on disk.
    pub fn hosts(&self, budget_bytes: usize) -> Arc<super::hosts::HostStore> {
        self.hosts
            .get_or_init(|| {
                let disk = self.disk.clone();
                Arc::new(super::hosts::HostStore::with_disk(budget_bytes, disk))
            })
            .clone()
    }

    /// [`JobStore::ensure`] for a dashboard: a cold store starts filling in the
    /// background, newest jobs first, and this waits at most `wait` for the range to be
    /// covered; then it answers [`Ensured::Partial`] with what is covered so far, and the
    /// fill goes on for the next refresh. A store just read from disk waits at most
    /// `behind_after` (if given) for its first refresh, then answers
    /// [`Ensured::Behind`] while the refresh goes on. Otherwise, as `ensure`.
    pub async fn ensure_within(
        self: &Arc<Self>,
        awx: &Arc<AwxClient>,
        from: Micros,
        wait: Duration,
        behind_after: Option<Duration>,
    ) -> Result<Ensured, AwxError> {
        self.load_from_disk().await;
        let deadline = Instant::now() + wait;
        let rx = {
            let mut filling = self.filling.lock().unwrap_or_else(|p| p.into_inner());
            let running = filling.as_ref().filter(|rx| !rx.borrow().done).cloned();
            match running {
                Some(rx) => Some(rx),
                None if self.read().coverage_from.is_none() => {
                    let (tx, rx) = watch::channel(FillProgress::default());
                    *filling = Some(rx.clone());
                    let (store, awx) = (self.clone(), awx.clone());
                    tokio::spawn(async move {
                        let report = {
                            let _sync = store.sync.lock().await;
                            store
                                .cold_fill(&awx, from, SyncReport::default(), Some(&tx))
                                .await
                        };
                        if report.is_ok() {
                            store.persist();
                        }
                        tx.send_modify(|p| {
                            p.done = true;
                            p.error = report.err();
                        });
                    });
                    Some(rx)
                }
                None => None,
            }
        };
        let Some(mut rx) = rx else {
            return self.ensure_or_behind(awx, from, behind_after).await;
        };
        loop {
            let progress = rx.borrow_and_update().clone();
            if let Some(e) = progress.error {
                return Err(e);
            }
            if progress.done {
                return Ok(Ensured::Ready(self.ensure(awx, from).await?));
            }
            let covered_from = self.read().coverage_from;
            if covered_from.is_some_and(|c| c <= from) {
                // Covered while the fill reads older jobs: exact, as fresh as the fill.
                return Ok(Ensured::Ready(Some(SyncReport {
                    from_cache: true,
                    ..Default::default()
                })));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, rx.changed()).await.is_err() {
                return Ok(Ensured::Partial {
                    covered_from: covered_from.unwrap_or(i64::MAX),
                    progress,
                    executed: awx.display(&coverage_request(from)),
                });
            }
        }
    }

    /// `ensure`; but a store read from disk and not synced since covers the range as it
    /// was at the last sync before the restart, and its first refresh reads AWX's changes
    /// since, which takes AWX seconds after a long downtime (a real AWX serves about 80
    /// jobs a second from unified_jobs/). That refresh runs on in its own task; this
    /// answers from the disk copy if it takes longer than `behind_after`. Not after a
    /// failed sync: then the failure is the answer.
    async fn ensure_or_behind(
        self: &Arc<Self>,
        awx: &Arc<AwxClient>,
        from: Micros,
        behind_after: Option<Duration>,
    ) -> Result<Ensured, AwxError> {
        let as_of = {
            let t = self.read();
            (t.synced_at.is_none() && t.covers(from)).then_some(t.max_modified)
        };
        let failed = self.sync.try_lock().is_ok_and(|f| f.is_some());
        let (Some(after), Some(as_of), false) = (behind_after, as_of, failed) else {
            return Ok(Ensured::Ready(self.ensure(awx, from).await?));
        };
        let (store, awx) = (self.clone(), awx.clone());
        let mut sync = tokio::spawn(async move { store.ensure(&awx, from).await });
        match tokio::time::timeout(after, &mut sync).await {
            Ok(Ok(synced)) => Ok(Ensured::Ready(synced?)),
            // A panic belongs to the query that waits (it is caught per query).
            Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Ok(Err(_)) | Err(_) => Ok(Ensured::Behind { as_of }),
        }
    }

    /// The memo kept under `key` (a KPI and everything its answer depends on but the
    /// range), created empty (`()`) on first use.
    pub fn memo(&self, key: &str) -> Memo {
        let mut memos = self.memos.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = memos.get(key) {
            return m.clone();
        }
        if memos.len() >= MAX_MEMOS {
            memos.clear();
        }
        let m: Memo = Arc::new(Mutex::new(Box::new(())));
        memos.insert(key.to_string(), m.clone());
        m
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
        self.load_from_disk().await;
        let result = self.ensure_locked(awx, from).await;
        *last_failure = result.as_ref().err().map(|e| (Instant::now(), e.clone()));
        if result.is_ok() {
            self.persist();
        }
        result
    }

    /// The first time, an empty store takes the table last written to disk: a warm
    /// refresh instead of a cold fill. Names read back are taken as current as the
    /// reconcile keeps them (the next reconcile is a full interval away), so that a
    /// restart costs the two requests of a refresh.
    pub async fn load_from_disk(&self) {
        if self.disk.is_some() {
            self.disk_loaded.get_or_init(|| self.read_disk()).await;
        }
    }

    async fn read_disk(&self) {
        let Some(disk) = &self.disk else { return };
        if self.read().coverage_from.is_some() {
            return;
        }
        let started = Instant::now();
        let reader = disk.clone();
        let Ok(Some(s)) = tokio::task::spawn_blocking(move || reader.load()).await else {
            return;
        };
        let jobs = s.jobs.len();
        *self.disk_names.lock().unwrap_or_else(|p| p.into_inner()) = disk::names_mark(&s.names);
        let mut t = JobTable::with_jobs(s.jobs, s.names, s.coverage_from);
        t.max_modified = t.max_modified.max(s.max_modified);
        t.before_coverage = s.before_coverage.map(|b| (b, Instant::now()));
        t.reconciled_at = Some(Instant::now());
        // What was just read is what the disk holds.
        t.dirty_all = false;
        t.dirty_chunks.clear();
        *self.write() = t;
        tracing::info!(
            jobs,
            file = %disk.file().display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "job cache read from disk"
        );
    }

    /// Hands what the last sync changed to the disk writer (chunks of jobs, and the
    /// names if they changed), without waiting for the disk.
    fn persist(&self) {
        let Some(disk) = &self.disk else { return };
        let mut t = self.write();
        if !t.dirty_all && t.dirty_chunks.is_empty() && !t.dirty_meta {
            return;
        }
        let Some(coverage_from) = t.coverage_from else {
            return;
        };
        let chunks: Vec<u64> = if t.dirty_all {
            let mut all: Vec<u64> = t.jobs().iter().map(|j| persist::chunk_of(j.id)).collect();
            all.dedup();
            all
        } else {
            t.dirty_chunks.iter().copied().collect()
        };
        // The host summaries of jobs AWX no longer has go with them, on disk too.
        let hosts = self.hosts.get().cloned();
        if let Some(hosts) = &hosts {
            let held = t.jobs();
            hosts.forget_gone(
                (!t.dirty_all).then_some(chunks.as_slice()),
                coverage_from,
                |id| {
                    let i = held.binary_search_by_key(&id, |j| j.id).ok()?;
                    held[i].finished()
                },
            );
        }
        let chunks = chunks
            .into_iter()
            .map(|c| {
                let lo = (c << persist::CHUNK_BITS) as i64;
                let hi = ((c + 1) << persist::CHUNK_BITS) as i64;
                let jobs = t.jobs();
                let a = jobs.partition_point(|j| j.id < lo);
                let b = jobs.partition_point(|j| j.id < hi);
                let mut bytes = Vec::with_capacity((b - a) * disk::JOB_BYTES);
                for j in &jobs[a..b] {
                    disk::write_job(j, &mut bytes);
                }
                (c, bytes)
            })
            .collect();
        let mark = disk::names_mark(&t.names);
        let mut written = self.disk_names.lock().unwrap_or_else(|p| p.into_inner());
        let names = (t.dirty_all || *written != mark).then(|| disk::write_names(&t.names));
        *written = mark;
        let w = persist::Write {
            all: t.dirty_all,
            chunks,
            names,
            coverage_from,
            max_modified: t.max_modified,
            before_coverage: t.before_coverage.map(|(b, _)| b),
        };
        t.dirty_all = false;
        t.dirty_chunks.clear();
        t.dirty_meta = false;
        drop(t);
        disk.send(w);
        if let Some(hosts) = hosts {
            hosts.persist();
        }
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
                t.jobs().last().map_or(0, |j| j.id),
            )
        };
        let mut report = SyncReport::default();
        match coverage {
            Some(c) if c <= from && fresh => {
                report.from_cache = true;
                return Ok(Some(report));
            }
            None => return self.cold_fill(awx, from, report, None).await,
            Some(c) if c > from => {
                // Extend backwards: only jobs finished in [from, c) are missing, and
                // those are final.
                let req = ApiRequest::new("unified_jobs/")
                    .param("finished__gte", iso(from))
                    .param("finished__lt", iso(c))
                    .param("order_by", "id");
                let (room, names) = {
                    let t = self.read();
                    (
                        self.max_jobs.saturating_sub(t.jobs().len()),
                        t.names.clone(),
                    )
                };
                let Some((jobs, names)) =
                    fetch_records(awx, &req, room, names, &mut report).await?
                else {
                    return Ok(None);
                };
                let mut t = self.write();
                t.set_names(names);
                t.move_coverage(from, -(jobs.len() as i64));
                t.upsert(jobs);
                t.reindex();
            }
            Some(_) => {}
        }
        if !fresh && !self.refresh(awx, max_modified, max_id, &mut report).await? {
            // More changed than the cache may hold (after a long idle, say): no delta can
            // bring it up to date. Start again from nothing rather than stay stale.
            tracing::info!("more jobs changed than the cache holds; filling it anew");
            *self.write() = JobTable::default();
            let from = coverage.map_or(from, |c| c.min(from));
            return self.cold_fill(awx, from, report, None).await;
        }
        let mut t = self.write();
        t.evict_to(self.max_jobs);
        let covered = t.covers(from);
        t.synced_at = Some(Instant::now());
        Ok(covered.then_some(report))
    }

    /// Every job finished at or after `from`, or not finished, in a new table, newest
    /// first, so that recent ranges can be answered long before old ones are read: the
    /// open and recent jobs (finished in the last [`RECENT`]) in one list, then the older
    /// ones by `-finished` in pages of a set that no longer changes (finished before the
    /// fill began), fetched concurrently and applied in order, the covered range growing
    /// back in time as they arrive (published to `progress`). `None` if they are more
    /// than the cache may hold (the recent part stays).
    async fn cold_fill(
        &self,
        awx: &AwxClient,
        from: Micros,
        mut report: SyncReport,
        progress: Option<&watch::Sender<FillProgress>>,
    ) -> Result<Option<SyncReport>, AwxError> {
        let recent_from = (chrono::Utc::now().timestamp_micros() - RECENT_US).max(from);
        let req = coverage_request(recent_from);
        let fetched = fetch_records(awx, &req, self.max_jobs, Interner::default(), &mut report);
        let Some((jobs, names)) = fetched.await? else {
            return Ok(None);
        };
        // Changes during the fill happen to these jobs; the first refresh after it reads
        // what was modified since they were read.
        // None on a quiet AWX (nothing open, nothing finished recently): then the newest
        // change of the older jobs read, which all finished before the fill began.
        let seen_modified = jobs.iter().map(|j| j.modified).max();
        let newest_id = jobs.iter().map(|j| j.id).max();
        let mut t = JobTable::with_jobs(jobs, names, recent_from);
        let now = Instant::now();
        t.synced_at = Some(now);
        // Every job's summary just gave the current names, and every open job is fresh.
        t.reconciled_at = Some(now);
        let room = self.max_jobs.saturating_sub(t.jobs().len());
        *self.write() = t;
        let publish = |pages: (usize, usize)| {
            if let Some(tx) = progress {
                tx.send_modify(|p| (p.pages_read, p.pages) = pages);
            }
        };
        publish((0, 0));
        // Meanwhile, what AWX holds before the range: the first refresh then costs two
        // requests, not three (see `refresh`). Without it, that refresh counts it.
        let everything = newest_id.map(everything_up_to);
        let counted = async {
            let req = everything.as_ref()?;
            awx.get::<Page<Oldest>>(req).await.ok()
        };
        let older = async {
            if recent_from > from {
                let filled = self
                    .fill_older(awx, from, recent_from, room, progress, &mut report)
                    .await?;
                report.fetched += self.read().jobs().len();
                return Ok(filled);
            }
            Ok::<_, AwxError>(true)
        };
        let (filled, mut counted) = tokio::join!(older, counted);
        if !filled? {
            return Ok(None);
        }
        // A quiet AWX had no recent job to count up to: count up to the newest held now.
        let mut newest_id = newest_id;
        let mut everything = everything;
        if newest_id.is_none() {
            newest_id = self.read().jobs().last().map(|j| j.id);
            everything = newest_id.map(everything_up_to);
            if let Some(req) = &everything {
                counted = awx.get::<Page<Oldest>>(req).await.ok();
            }
        }
        let mut t = self.write();
        t.coverage_from = Some(from);
        if let Some(seen) = seen_modified {
            t.max_modified = seen;
        }
        if let (Some(id), Some(page)) = (newest_id, counted) {
            if let Some(n) = page.count {
                let held = t.count_up_to(id);
                t.set_before_coverage(BeforeCoverage {
                    coverage_from: from,
                    jobs: n.saturating_sub(held),
                    oldest_created: page.results.first().and_then(|j| j.created).map(micros),
                });
            }
        }
        if let Some(req) = &everything {
            report.requests.push(awx.display(req));
        }
        t.reindex();
        Ok(Some(report))
    }

    /// The jobs finished in `[from, to)`, newest first, into the table as they arrive (the
    /// covered range growing back from `to`, published to `progress`); `false` if they are
    /// more than `room`. The first page of unified_jobs/ gives their number, as it always
    /// did; the rest come from wherever AWX serves them for less ([`plan_older`]): the
    /// list of each kind of job when that is cheaper (a playbook run costs AWX less than
    /// half as much through jobs/ as through unified_jobs/) and their counts add up to
    /// unified_jobs/'s, else the rest of unified_jobs/.
    async fn fill_older(
        &self,
        awx: &AwxClient,
        from: Micros,
        to: Micros,
        room: usize,
        progress: Option<&watch::Sender<FillProgress>>,
        report: &mut SyncReport,
    ) -> Result<bool, AwxError> {
        let older = |path: &str| {
            ApiRequest::new(path)
                .param("finished__gte", iso(from))
                .param("order_by", "-finished,-id")
                .param("page_size", crate::awx::PAGE_SIZE.to_string())
        };
        let unified = older("unified_jobs/").param("finished__lt", iso(to));
        report.requests.push(awx.display(&unified));
        let first: Page<UnifiedJob> = awx.get(&unified).await?;
        let count = first.count.map_or(usize::MAX, |c| c as usize);
        if first.count.is_some() && count > room {
            return Ok(false);
        }
        let page_rows = first.results.len();
        let finished: Vec<Micros> = first
            .results
            .iter()
            .filter_map(|r| r.finished.map(micros))
            .collect();
        let newest_only = |oldest: Micros| finished.iter().filter(|&&f| f > oldest).count();
        let mut fill = OlderFill::default();
        fill.lists.push(OlderList {
            pages: first
                .count
                .map_or(usize::MAX, |c| (c as usize).div_ceil(PAGE_SIZE)),
            next: 1,
            ..Default::default()
        });
        fill.receive(self, 0, 1, first.results);
        fill.flush_now_and_then(self, progress);
        let oldest = fill.lists[0].oldest;
        let (Some(oldest), Some(_)) = (oldest, first.count) else {
            // No rows, or an AWX that does not count: the rest of the list by `next`.
            if first.next.is_some() {
                awx.for_each_numbered_page(&unified, room, |page, rows, _| {
                    if page > 1 {
                        fill.receive(self, 0, page, rows);
                        fill.flush_now_and_then(self, progress);
                    }
                })
                .await?;
            }
            fill.flush(self);
            return Ok(true);
        };
        let mut schedule: Vec<(usize, usize)> = (2..=fill.lists[0].pages).map(|p| (0, p)).collect();
        let mut requests: Vec<ApiRequest> = vec![unified];
        let typed = plan_older(
            awx,
            &older,
            oldest,
            count.saturating_sub(page_rows),
            count.saturating_sub(newest_only(oldest)),
            report,
        );
        if let Some(typed) = typed.await {
            fill.lists[0].pages = 1;
            schedule.clear();
            for (req, n) in typed {
                let pages = n.div_ceil(PAGE_SIZE);
                requests.push(req);
                fill.lists.push(OlderList {
                    pages,
                    next: 1,
                    ..Default::default()
                });
                let list = fill.lists.len() - 1;
                schedule.extend((1..=pages).map(|p| (list, p)));
            }
            // Each list advances by the same share of its pages: the covered range grows
            // back evenly instead of waiting for the longest list.
            let pages: Vec<usize> = fill.lists.iter().map(|l| l.pages.max(1)).collect();
            schedule.sort_by(|a, b| {
                ((a.1 - 1) * pages[b.0])
                    .cmp(&((b.1 - 1) * pages[a.0]))
                    .then(a.0.cmp(&b.0))
            });
        }
        fill.publish(progress);
        let mut rest = stream::iter(schedule)
            .map(|(list, page)| {
                let req = requests[list].clone().param("page", page.to_string());
                async move {
                    match awx.get::<Page<UnifiedJob>>(&req).await {
                        Ok(p) => Ok((list, page, p.results)),
                        // The list shrank while we read it (jobs purged): nothing more here.
                        Err(AwxError::NotFound { .. }) => Ok((list, page, Vec::new())),
                        Err(e) => Err(e),
                    }
                }
            })
            .buffer_unordered(awx.settings().max_concurrency.max(1));
        while let Some((list, page, rows)) = rest.try_next().await? {
            fill.receive(self, list, page, rows);
            fill.flush_now_and_then(self, progress);
        }
        fill.flush(self);
        Ok(true)
    }

    /// Two requests, sent together: what changed since the last sync, and the count of
    /// everything AWX holds up to the highest id held ([`BeforeCoverage`]). Only when
    /// that count differs from what is held plus what AWX holds before the coverage (a
    /// deletion, a purge, or not counted yet), a third: the count of the coverage alone,
    /// with its lowest id, so that the oldest jobs purged by AWX's cleanup_jobs are
    /// dropped without re-fetching anything.
    /// Every `reconcile_seconds`, also the open jobs by id and the names of objects.
    /// `false` when the changes are more than the cache may hold: nothing was applied.
    async fn refresh(
        &self,
        awx: &AwxClient,
        max_modified: Micros,
        max_id: i64,
        report: &mut SyncReport,
    ) -> Result<bool, AwxError> {
        let delta = ApiRequest::new("unified_jobs/")
            .param("modified__gt", iso(max_modified - MODIFIED_OVERLAP_US))
            .param("order_by", "id");
        let (coverage, names, reconcile) = {
            let t = self.read();
            let due = t
                .reconciled_at
                .is_none_or(|r| r.elapsed() >= PluginConfig::get().reconcile_every);
            let open: Vec<i64> = if due {
                t.open_jobs().map(|j| j.id).collect()
            } else {
                Vec::new()
            };
            (t.coverage_from, t.names.clone(), due.then_some(open))
        };
        // Deleted jobs never show up as modified: compare counts of what we hold.
        let check = coverage.map(|_| everything_up_to(max_id));
        let checked = async {
            match &check {
                Some(req) => awx.get::<Page<Oldest>>(req).await.map(Some),
                None => Ok(None),
            }
        };
        let changes = async {
            let Some((mut changed, mut names)) =
                fetch_records(awx, &delta, self.max_jobs, names, report).await?
            else {
                return Ok(None);
            };
            if let Some(open) = &reconcile {
                // One request after another: a reconciling refresh costs a few requests
                // more, not several at once on top of the panels' own.
                for ids in open.chunks(IDS_PER_REQUEST) {
                    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                    let req = ApiRequest::new("unified_jobs/")
                        .param("id__in", ids.join(","))
                        .param("order_by", "id");
                    let fetched = fetch_records(awx, &req, ids.len(), names, report).await?;
                    let Some((jobs, n)) = fetched else {
                        return Ok(None);
                    };
                    names = n;
                    changed.extend(jobs);
                }
                for kind in RefKind::ALL {
                    let req = ApiRequest::new(kind.list_path()).param("order_by", "id");
                    report.requests.push(awx.display(&req));
                    awx.for_each_page(&req, MAX_OBJECTS, |rows: Vec<NamedRow>, _| {
                        for r in rows {
                            names.name_object(kind, r.id, &r.name);
                        }
                    })
                    .await?;
                }
            }
            Ok::<_, AwxError>(Some((changed, names)))
        };
        let (changed, checked) = tokio::join!(changes, checked);
        let Some((changed, names)) = changed? else {
            return Ok(false);
        };
        {
            let mut t = self.write();
            t.set_names(names);
            // A job changed long ago (finished before the coverage) is of no use here.
            let changed = changed.into_iter().filter(|j| t.in_coverage(j)).collect();
            t.apply(changed);
            if reconcile.is_some() {
                t.reconciled_at = Some(Instant::now());
            }
        }
        let (Some(coverage), Some(check), Some(page)) = (coverage, check, checked?) else {
            return Ok(true);
        };
        report.requests.push(awx.display(&check));
        let everything = count_of(&page, awx, &check)?;
        let oldest_created = page.results.first().and_then(|j| j.created).map(micros);
        {
            let mut t = self.write();
            let held = t.count_up_to(max_id);
            if let Some((b, _)) = t
                .before_coverage
                .filter(|(b, _)| b.coverage_from == coverage && held + b.jobs == everything)
            {
                t.set_before_coverage(BeforeCoverage {
                    oldest_created,
                    ..b
                });
                return Ok(true);
            }
        }
        let check = coverage_request(coverage)
            .param("id__lte", max_id.to_string())
            .param("page_size", "1");
        report.requests.push(awx.display(&check));
        let page: Page<JobId> = awx.get(&check).await?;
        let remote = count_of(&page, awx, &check)?;
        let before_coverage = BeforeCoverage {
            coverage_from: coverage,
            jobs: everything.saturating_sub(remote),
            oldest_created,
        };
        let mut local = self.read().count_up_to(max_id);
        if remote < local {
            // Every job held below the lowest id AWX still lists is gone (purged).
            let lowest = page.results.first().map_or(max_id + 1, |j| j.id);
            let mut t = self.write();
            let purged = t.purge_below(lowest);
            tracing::debug!(purged, "jobs purged in AWX dropped");
            local = t.count_up_to(max_id);
        }
        if remote != local {
            tracing::info!(
                remote,
                local,
                "jobs were deleted in AWX; re-fetching the cache"
            );
            let req = coverage_request(coverage);
            let fetched =
                fetch_records(awx, &req, self.max_jobs, Interner::default(), report).await?;
            let Some((jobs, names)) = fetched else {
                return Ok(false);
            };
            *self.write() = JobTable::with_jobs(jobs, names, coverage);
        }
        self.write().set_before_coverage(before_coverage);
        Ok(true)
    }
}

/// AWX 24.6.1's server time (seconds) per list request and per row returned, by list, as
/// measured (docs/BENCHMARKS.md; the simulator's cost model is calibrated on the same
/// figures): what [`plan_older`] weighs. The typed lists other than jobs/ and
/// workflow_jobs/ were not measured; they join no more tables than jobs/ and are taken
/// to cost as much.
const COST_REQUEST_S: f64 = 0.0604;
const COST_COUNT_S: f64 = 0.073;
const COST_ROW_UNIFIED_S: f64 = 0.01265;
const COST_ROW_JOBS_S: f64 = 0.00554;
const COST_ROW_WORKFLOW_JOBS_S: f64 = 0.01222;

/// The lists of each kind of job that unified_jobs/ unites, with their cost per row. Their
/// rows are unified_jobs/'s rows: AWX's UnifiedJobListSerializer hands each row to the
/// same per-kind list serializer that these lists use.
const TYPED_LISTS: [(&str, f64); 6] = [
    ("jobs/", COST_ROW_JOBS_S),
    ("workflow_jobs/", COST_ROW_WORKFLOW_JOBS_S),
    ("project_updates/", COST_ROW_JOBS_S),
    ("inventory_updates/", COST_ROW_JOBS_S),
    ("system_jobs/", COST_ROW_JOBS_S),
    ("ad_hoc_commands/", COST_ROW_JOBS_S),
];

/// Whether the rest of a cold fill's older jobs costs AWX less from the typed lists than
/// from the `rest` rows of unified_jobs/ still to read (its first page read, the oldest
/// job on it finished at `oldest`): the typed lists are counted (one-row pages, sent
/// together) and used only if their counts add up to `expected`, the jobs of the range
/// finished at or before `oldest` (no kind of job this plugin does not know of), and
/// their pages cost less than unified_jobs/'s, counts included. Returns each typed
/// list's request (finished at or before `oldest`: jobs of the first page that finished
/// at that very instant are read again, harmlessly) and its size.
async fn plan_older(
    awx: &AwxClient,
    older: &(dyn Fn(&str) -> ApiRequest + Sync),
    oldest: Micros,
    rest: usize,
    expected: usize,
    report: &mut SyncReport,
) -> Option<Vec<(ApiRequest, usize)>> {
    let pages = |n: usize| n.div_ceil(PAGE_SIZE) as f64;
    let unified_cost = pages(rest) * COST_REQUEST_S + rest as f64 * COST_ROW_UNIFIED_S;
    let counts_cost = TYPED_LISTS.len() as f64 * COST_COUNT_S;
    // The best the typed lists could do: not worth even counting them otherwise.
    let floor = counts_cost + expected as f64 * COST_ROW_JOBS_S + pages(expected) * COST_REQUEST_S;
    if rest == 0 || floor >= unified_cost {
        return None;
    }
    let reqs: Vec<ApiRequest> = TYPED_LISTS
        .iter()
        .map(|(path, _)| older(path).param("finished__lte", iso(oldest)))
        .collect();
    let counts = futures::future::try_join_all(reqs.iter().map(|r| awx.count(r)))
        .await
        .ok()?;
    report.requests.extend(reqs.iter().map(|r| awx.display(r)));
    let typed: u64 = counts.iter().sum();
    if typed != expected as u64 {
        tracing::debug!(
            typed,
            expected,
            "the typed lists do not add up to unified_jobs/"
        );
        return None;
    }
    let typed_cost: f64 = counts_cost
        + TYPED_LISTS
            .iter()
            .zip(&counts)
            .map(|((_, row), &n)| pages(n as usize) * COST_REQUEST_S + n as f64 * row)
            .sum::<f64>();
    if typed_cost >= unified_cost {
        return None;
    }
    Some(
        reqs.into_iter()
            .zip(counts.into_iter().map(|n| n as usize))
            .collect(),
    )
}

/// One list of a cold fill's older jobs, applied in page order.
#[derive(Default)]
struct OlderList {
    pages: usize,
    /// The next page to apply (1-based).
    next: usize,
    pending: std::collections::BTreeMap<usize, Vec<Job>>,
    /// The oldest `finished` of the pages applied.
    oldest: Option<Micros>,
}

/// The older jobs of a cold fill, from one list or several read side by side, each
/// newest first: the jobs of each list are applied in its page order, so every job that
/// finished after the oldest applied of every unfinished list is held.
#[derive(Default)]
struct OlderFill {
    lists: Vec<OlderList>,
    ready: Vec<Job>,
    flushed: Option<Instant>,
}

impl OlderFill {
    fn receive(&mut self, store: &JobStore, list: usize, page: usize, rows: Vec<UnifiedJob>) {
        let jobs: Vec<Job> = {
            let mut t = store.write();
            rows.iter()
                .filter_map(|r| Job::from_api(r, &mut t.names))
                .collect()
        };
        let l = &mut self.lists[list];
        l.pending.insert(page, jobs);
        while let Some(jobs) = l.pending.remove(&l.next) {
            l.next += 1;
            l.oldest = jobs.iter().filter_map(Job::finished).min().or(l.oldest);
            self.ready.extend(jobs);
        }
    }

    /// The start of the covered range: after the oldest job applied of every list not yet
    /// read to its end (a list not yet begun reads from the first list's oldest on).
    fn covered_from(&self) -> Option<Micros> {
        let base = self.lists.first().and_then(|l| l.oldest);
        self.lists
            .iter()
            .filter(|l| l.next <= l.pages)
            .filter_map(|l| l.oldest.or(base))
            .max()
            .map(|f| f + 1)
    }

    fn flush(&mut self, store: &JobStore) {
        let mut t = store.write();
        t.upsert(std::mem::take(&mut self.ready));
        if let Some(c) = self.covered_from() {
            t.coverage_from = Some(c);
        }
        t.reindex();
        self.flushed = Some(Instant::now());
    }

    fn publish(&self, progress: Option<&watch::Sender<FillProgress>>) {
        if let Some(tx) = progress {
            let read = self.lists.iter().map(|l| l.next - 1).sum();
            // A list of unknown length (an AWX that does not count) counts what is read.
            let pages = self
                .lists
                .iter()
                .map(|l| {
                    if l.pages == usize::MAX {
                        l.next - 1
                    } else {
                        l.pages
                    }
                })
                .sum();
            tx.send_modify(|p| (p.pages_read, p.pages) = (read, pages));
        }
    }

    fn flush_now_and_then(
        &mut self,
        store: &JobStore,
        progress: Option<&watch::Sender<FillProgress>>,
    ) {
        if self.flushed.is_none_or(|f| f.elapsed() >= FILL_FLUSH_EVERY) {
            self.flush(store);
            self.publish(progress);
        }
    }
}

/// Every job finished at or after `from`, or not finished.
pub fn coverage_request(from: Micros) -> ApiRequest {
    ApiRequest::new("unified_jobs/")
        .param("or__finished__gte", iso(from))
        .param("or__finished__isnull", "true")
        .param("order_by", "id")
}

/// Fetches a whole list as job records, their names interned into `names` (a copy of
/// the table's, applied with the jobs), or `None` if it has more than `max_items` rows.
/// Each page is converted as it arrives: the parsed pages are never all held at once.
pub async fn fetch_records(
    awx: &AwxClient,
    req: &ApiRequest,
    max_items: usize,
    mut names: Interner,
    report: &mut SyncReport,
) -> Result<Option<(Vec<Job>, Interner)>, AwxError> {
    report.requests.push(
        awx.display(
            &req.clone()
                .param("page_size", crate::awx::PAGE_SIZE.to_string()),
        ),
    );
    let mut jobs: Vec<Job> = Vec::new();
    let complete = awx
        .for_each_page(req, max_items, |rows: Vec<UnifiedJob>, expected| {
            if jobs.capacity() == 0 {
                // The list's size, and a page of slack for jobs added meanwhile.
                jobs.reserve_exact(expected + crate::awx::PAGE_SIZE);
            }
            jobs.extend(rows.iter().filter_map(|r| Job::from_api(r, &mut names)));
        })
        .await?;
    if !complete {
        return Ok(None);
    }
    report.fetched += jobs.len();
    Ok(Some((jobs, names)))
}

/// AWX accepts ISO 8601 with microseconds and `Z`.
pub fn iso(us: Micros) -> String {
    to_datetime(us)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, modified_s: i64) -> UnifiedJob {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "type": "job",
            "name": format!("job {}", id % 3),
            "status": "successful",
            "created": "2026-11-01T00:00:00Z",
            "started": "2026-11-01T00:00:01Z",
            "finished": "2026-11-01T00:01:00Z",
            "modified": iso(1_790_000_000_000_000 + modified_s * 1_000_000),
        }))
        .unwrap()
    }

    fn ids(t: &JobTable) -> Vec<i64> {
        t.jobs().iter().map(|j| j.id).collect()
    }

    #[test]
    fn rows_in_any_order_give_one_sorted_job_per_id_the_newest() {
        let t = JobTable::from_rows(&[row(5, 1), row(2, 1), row(5, 9), row(3, 1), row(2, 0)], 0);
        assert_eq!(ids(&t), [2, 3, 5]);
        assert_eq!(t.jobs()[2].modified, 1_790_000_009_000_000);
        assert_eq!(t.jobs()[0].modified, 1_790_000_001_000_000);
    }

    fn open(id: i64) -> UnifiedJob {
        let mut j = row(id, 0);
        j.status = "running".into();
        j.finished = None;
        j
    }

    #[test]
    fn eviction_keeps_open_jobs_even_when_they_fill_the_budget() {
        // Found in review: as many open jobs as the budget holds panicked.
        let mut t = JobTable::from_rows(&[row(1, 0), row(2, 0), open(3), open(4), open(5)], 0);
        t.evict_to(3);
        assert_eq!(ids(&t), [3, 4, 5]);
        assert!(t.coverage_from().unwrap() > 0);
        let mut t = JobTable::from_rows(&[row(1, 0), open(2), open(3), open(4)], 0);
        t.evict_to(2);
        assert_eq!(ids(&t), [2, 3, 4]);
    }

    #[test]
    fn upserts_append_insert_and_merge() {
        let evens: Vec<UnifiedJob> = (0..200).map(|i| row(i * 2, 0)).collect();
        let mut t = JobTable::from_rows(&evens, 0);
        let mut names = t.names.clone();
        let convert = |rows: Vec<UnifiedJob>, names: &mut Interner| -> Vec<Job> {
            rows.iter()
                .filter_map(|r| Job::from_api(r, names))
                .collect()
        };
        // New jobs after every job held: appended.
        t.upsert(convert(vec![row(401, 1), row(403, 1)], &mut names));
        // A few changes: inserted or replaced in place.
        t.upsert(convert(vec![row(3, 1), row(4, 7)], &mut names));
        // Many older and changed jobs: merged.
        t.upsert(convert(
            (0..150).map(|i| row(i * 2 + 1, 2)).collect(),
            &mut names,
        ));
        t.upsert(convert(
            (0..100).map(|i| row(i * 4, 5)).collect(),
            &mut names,
        ));
        let want: Vec<i64> = (0..300)
            .chain((300..400).step_by(2))
            .chain([401, 403])
            .collect();
        assert_eq!(ids(&t), want);
        let modified = |id: i64| t.jobs().iter().find(|j| j.id == id).unwrap().modified;
        assert_eq!(modified(4), 1_790_000_005_000_000);
        assert_eq!(modified(3), 1_790_000_002_000_000);
        assert_eq!(modified(398), 1_790_000_000_000_000);
        assert_eq!(t.max_modified, 1_790_000_007_000_000);
        assert_eq!(t.count_up_to(10), 11);
        // A refresh of more than a few: held jobs changed in place, new ones after them.
        let changed = (300..400).step_by(2).map(|i| row(i, 9));
        t.upsert(convert(
            changed.chain([row(405, 9), row(407, 9)]).collect(),
            &mut names,
        ));
        let want: Vec<i64> = want.into_iter().chain([405, 407]).collect();
        assert_eq!(ids(&t), want);
        let modified = |id: i64| t.jobs().iter().find(|j| j.id == id).unwrap().modified;
        assert_eq!(modified(398), 1_790_000_009_000_000);
        assert_eq!(modified(401), 1_790_000_001_000_000);
    }
}
