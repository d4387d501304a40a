//! Host outcomes per job: AWX's job host summaries (`jobs/{id}/job_host_summaries/`), one
//! list per job, kept per data source next to the job records.
//!
//! AWX has no list of summaries across jobs, so each job costs a request (more for a run on
//! over 200 hosts). A finished job's summaries never change once AWX's callback receiver has
//! written them, so they are kept, keyed by job id, and a refresh fetches only the jobs it has
//! not seen. The receiver writes them shortly after the job ends (it works through the run's
//! events in the background), so a list fetched while AWX's own clock is less than
//! [`SETTLE_US`] past the job's end may still be incomplete: it is used for a few seconds
//! ([`UNSETTLED_REUSE`]) and then fetched again. Errors are never kept; a job AWX no longer
//! has (deleted or purged) gives an empty list that is not kept either.
//!
//! What is held is bounded: the store has its own budget in bytes (entries of the oldest jobs
//! go first), and a query that needs more than the budget is answered anyway, its extra lists
//! used once.
//!
//! With the job records' copy on disk (`jobs/persist.rs`), the settled lists and the host
//! directory are kept in the same file, so that a restart or a saved setting reads none of
//! them from AWX again (on a real AWX each costs a request of its own). The file is read once,
//! at the store's first use; afterwards each load hands what it changed to the file's writer
//! thread. Unsettled lists are never written: they are re-read seconds later anyway.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use super::persist::{self, DiskCache, HostsSnapshot, HostsWrite};
use super::record::Micros;
use crate::awx::model::JobHostSummary;
use crate::awx::{ApiRequest, AwxClient, AwxError};

/// How far past a job's end AWX's clock must be before its summaries are taken as final.
pub const SETTLE_US: Micros = 120_000_000;
/// How long a list that may still grow is used before it is fetched again: one dashboard
/// refresh shares it.
pub const UNSETTLED_REUSE: Duration = Duration::from_secs(10);
/// The most host results (hosts × runs) one query may load: 2 million at 24 bytes each.
pub const MAX_HOST_RUNS: usize = 2_000_000;
/// Accounted bytes per job held (the entry, its map slot) and per host result.
const BYTES_PER_JOB: usize = 96;
const BYTES_PER_RUN: usize = std::mem::size_of::<HostRun>();
/// Accounted bytes per host in the directory, besides its name.
const BYTES_PER_HOST: usize = 64;

/// Which hosts a job's list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Only the hosts that failed or were unreachable (`?failed=true`): what failed and
    /// errored jobs are read for by default.
    Failed,
    /// Every host of the run.
    All,
}

/// A host's state in one run, its worst as AWX's `host_status_counts` counts it:
/// unreachable over failed over changed over ok (a host that only skipped counts as ok).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Ok,
    Changed,
    Failed,
    Unreachable,
}

impl Outcome {
    pub fn is_bad(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Unreachable)
    }
}

/// One host in one run: an index into the store's host directory and the task counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostRun {
    pub host: u32,
    pub ok: u32,
    pub changed: u32,
    pub failures: u32,
    pub dark: u32,
    pub skipped: u32,
}

impl HostRun {
    pub fn outcome(&self) -> Outcome {
        if self.dark > 0 {
            Outcome::Unreachable
        } else if self.failures > 0 {
            Outcome::Failed
        } else if self.changed > 0 {
            Outcome::Changed
        } else {
            Outcome::Ok
        }
    }
}

/// One job's hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobHosts {
    pub scope: Scope,
    pub runs: Box<[HostRun]>,
}

impl JobHosts {
    /// The runs a query of `scope` sees: a list of every host serves a query for the
    /// failed ones, which then sees exactly what `?failed=true` would have listed.
    pub fn runs_for(&self, scope: Scope) -> impl Iterator<Item = &HostRun> {
        self.runs
            .iter()
            .filter(move |r| scope == Scope::All || r.outcome().is_bad())
    }
}

/// A host as the summaries name it: AWX's id (none once the host is deleted) and the
/// newest name seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    pub id: Option<i64>,
    pub name: Arc<str>,
}

/// A job whose hosts a query needs, and when it finished (AWX's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub job: i64,
    pub finished: Micros,
}

/// What [`HostStore::load`] found.
#[derive(Debug, Default)]
pub struct HostsLoaded {
    pub jobs: HashMap<i64, Arc<JobHosts>>,
    /// The directory entries of every host in `jobs`.
    pub hosts: HashMap<u32, HostInfo>,
    /// Jobs answered from what was held.
    pub held: usize,
    /// The lists fetched from AWX for this query (one per job; a job's extra pages aside).
    pub fetched: Vec<String>,
}

#[derive(Debug)]
struct Entry {
    hosts: Arc<JobHosts>,
    /// When the job finished, as its record said when its list was read: an entry serves
    /// that job only (see [`Entry::serves`]).
    finished: Micros,
    settled: bool,
    fetched_at: Instant,
}

impl Entry {
    /// Whether this list answers for `w`'s hosts as `scope` needs them. Ids identify a job
    /// only within one AWX database: the end time must match too, so that a list kept (on
    /// disk, across restarts) for a job of an AWX reinstalled at the same address never
    /// answers for the new job that took its id.
    fn serves(&self, w: &Wanted, scope: Scope) -> bool {
        self.finished == w.finished
            && self.hosts.scope >= scope
            && (self.settled || self.fetched_at.elapsed() < UNSETTLED_REUSE)
    }

    fn bytes(&self) -> usize {
        accounted_job(self.hosts.runs.len())
    }
}

/// Accounted bytes of a job's entry of `runs` host results.
pub(super) fn accounted_job(runs: usize) -> usize {
    BYTES_PER_JOB + runs * BYTES_PER_RUN
}

/// Accounted bytes of a host in the directory.
pub(super) fn accounted_host(name: &str) -> usize {
    BYTES_PER_HOST + name.len()
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<i64, Entry>,
    bytes: usize,
    directory: Vec<HostInfo>,
    index: HashMap<HostKey, u32>,
    /// What the disk copy lacks; `None` without one (nothing is tracked then).
    disk: Option<DiskDelta>,
    /// Entries read from disk and not yet checked against the job records (see
    /// [`HostStore::forget_gone`]): the next check looks at every entry.
    unchecked: bool,
}

/// What changed since the last write to disk. Jobs are listed, not their entries: a write
/// takes each one's entry as it is then (settled: written; otherwise or gone: removed).
#[derive(Debug, Default)]
struct DiskDelta {
    /// Jobs whose settled entry was added, replaced or dropped.
    jobs: BTreeSet<i64>,
    /// Chunks of the directory ([`persist::HOST_DIR_BITS`]) with a host added or renamed.
    directory: BTreeSet<u32>,
    /// Everything is to be written anew: the file's copy was not read (yet, or it could not
    /// be), so none of it may stay beside what this store writes.
    all: bool,
    /// The file holds entries of jobs below this id that the read left out (over the
    /// budget): they are removed.
    below: Option<i64>,
}

/// AWX's host id, or the name of a host that no longer exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HostKey {
    Id(i64),
    Gone(Arc<str>),
}

impl State {
    fn host(&mut self, s: &JobHostSummary) -> u32 {
        // The live name (summary_fields.host) over the name at the time of the run.
        let name = s
            .summary_fields
            .host
            .as_ref()
            .map(|h| h.name.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(&s.host_name);
        let name = truncated(name);
        let key = match s.host {
            Some(id) => HostKey::Id(id),
            None => HostKey::Gone(Arc::from(name)),
        };
        if let Some(&i) = self.index.get(&key) {
            let entry = &mut self.directory[i as usize];
            if &*entry.name != name {
                entry.name = Arc::from(name);
                self.mark_host(i);
            }
            return i;
        }
        let i = self.directory.len() as u32;
        self.bytes += accounted_host(name);
        self.directory.push(HostInfo {
            id: s.host,
            name: Arc::from(name),
        });
        self.index.insert(key, i);
        self.mark_host(i);
        i
    }

    fn mark_host(&mut self, i: u32) {
        if let Some(d) = &mut self.disk {
            d.directory.insert(i >> persist::HOST_DIR_BITS);
        }
    }

    /// Only settled entries are on disk: others need no write when they come or go.
    fn mark_job(&mut self, job: i64, settled: bool) {
        if let (Some(d), true) = (&mut self.disk, settled) {
            d.jobs.insert(job);
        }
    }

    fn convert(&mut self, scope: Scope, rows: &[JobHostSummary]) -> JobHosts {
        let mut runs: Vec<HostRun> = rows
            .iter()
            .map(|s| HostRun {
                host: self.host(s),
                ok: s.ok,
                changed: s.changed,
                failures: s.failures,
                dark: s.dark,
                skipped: s.skipped,
            })
            // `?failed=true` is AWX's filter: keep its promise even if a row says otherwise
            .filter(|r| scope == Scope::All || r.outcome().is_bad())
            .collect();
        // A host listed twice (a page boundary moving under concurrent paging) counts once.
        runs.sort_by_key(|r| r.host);
        runs.dedup_by_key(|r| r.host);
        JobHosts {
            scope,
            runs: runs.into_boxed_slice(),
        }
    }

    fn insert(&mut self, job: i64, entry: Entry, budget: usize) {
        self.bytes += entry.bytes();
        self.mark_job(job, entry.settled);
        if let Some(old) = self.entries.insert(job, entry) {
            self.bytes -= old.bytes();
            self.mark_job(job, old.settled);
        }
        // Oldest jobs first: they are the least likely to be asked for again.
        while self.bytes > budget {
            let Some((old_job, old)) = self.entries.pop_first() else {
                break;
            };
            self.bytes -= old.bytes();
            self.mark_job(old_job, old.settled);
        }
    }

    fn remove(&mut self, job: i64) {
        if let Some(old) = self.entries.remove(&job) {
            self.bytes -= old.bytes();
            self.mark_job(job, old.settled);
        }
    }

    /// The store as the file held it (settled entries within the budget, read newest
    /// first), or `None` if its directory is not one this store could have written.
    fn from_disk(s: HostsSnapshot) -> Option<State> {
        let mut st = State {
            disk: Some(DiskDelta {
                jobs: s.damaged.into_iter().collect(),
                below: s.left_below,
                ..Default::default()
            }),
            unchecked: true,
            ..Default::default()
        };
        for info in s.directory {
            let key = match info.id {
                Some(id) => HostKey::Id(id),
                None => HostKey::Gone(info.name.clone()),
            };
            let i = st.directory.len() as u32;
            if st.index.insert(key, i).is_some() {
                return None; // a host twice: not a directory `host` builds
            }
            st.bytes += accounted_host(&info.name);
            st.directory.push(info);
        }
        let now = Instant::now();
        for (job, finished, hosts) in s.jobs {
            let entry = Entry {
                hosts: Arc::new(hosts),
                finished,
                settled: true,
                fetched_at: now,
            };
            st.bytes += entry.bytes();
            st.entries.insert(job, entry);
        }
        Some(st)
    }

    /// What to hand to the disk writer, if anything changed since the last write.
    fn take_write(&mut self) -> Option<HostsWrite> {
        let d = self.disk.as_mut()?;
        if !d.all && d.jobs.is_empty() && d.directory.is_empty() && d.below.is_none() {
            return None;
        }
        let d = std::mem::take(d);
        let held = |e: &Entry| e.settled.then(|| (e.finished, e.hosts.clone()));
        let jobs = if d.all {
            self.entries
                .iter()
                .filter_map(|(job, e)| Some((*job, Some(held(e)?))))
                .collect()
        } else {
            d.jobs
                .into_iter()
                .map(|job| (job, self.entries.get(&job).and_then(held)))
                .collect()
        };
        let chunk = 1usize << persist::HOST_DIR_BITS;
        let chunks: Vec<u32> = if d.all {
            (0..self.directory.len().div_ceil(chunk) as u32).collect()
        } else {
            d.directory.into_iter().collect()
        };
        let directory = chunks
            .into_iter()
            .map(|c| {
                let lo = (c as usize * chunk).min(self.directory.len());
                let hi = (lo + chunk).min(self.directory.len());
                (c, self.directory[lo..hi].to_vec())
            })
            .collect();
        Some(HostsWrite {
            all: d.all,
            below: d.below,
            jobs,
            directory,
            hosts: self.directory.len(),
        })
    }
}

/// Host names are AWX's (at most 512 characters); anything longer is cut, so one
/// malformed row cannot hold much memory.
fn truncated(s: &str) -> &str {
    match s.char_indices().nth(512) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The per-data-source store of job host summaries.
#[derive(Debug)]
pub struct HostStore {
    state: Mutex<State>,
    /// Held while loading: panels of one refresh that need the same jobs wait for the first
    /// and then find them held, instead of each asking AWX.
    loading: tokio::sync::Mutex<()>,
    budget_bytes: usize,
    /// The job records' copy on disk, if they have one: the settled lists are kept there too.
    disk: Option<DiskCache>,
    /// Whether the disk copy was read yet: once, at the first load; the panels that arrive
    /// with it wait for it rather than ask AWX for lists the file holds.
    disk_loaded: tokio::sync::OnceCell<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum HostsError {
    #[error(transparent)]
    Awx(#[from] AwxError),
    #[error("the jobs of this range ran on more than {limit} hosts in all; narrow the time range or the filters, or load only the failed hosts (hostSummaries: failed)")]
    TooMany { limit: usize },
}

impl HostStore {
    pub fn new(budget_bytes: usize) -> Self {
        Self::with_disk(budget_bytes, None)
    }

    /// A store that starts from, and keeps writing to, the job records' copy on disk.
    pub fn with_disk(budget_bytes: usize, disk: Option<DiskCache>) -> Self {
        let state = State {
            // Until the file is read, nothing of it may be built on.
            disk: disk.is_some().then(|| DiskDelta {
                all: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        Self {
            state: Mutex::new(state),
            loading: tokio::sync::Mutex::new(()),
            budget_bytes,
            disk,
            disk_loaded: tokio::sync::OnceCell::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes held, as accounted against the budget.
    pub fn memory_bytes(&self) -> usize {
        self.state().bytes
    }

    /// Jobs held.
    pub fn len(&self) -> usize {
        self.state().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hosts of every `wanted` job, as `scope` needs them, from what is held or from AWX
    /// (at most `maxConcurrency` requests at once, through the client's permits).
    /// `awx_now` is AWX's own clock as the job records show it (their newest `modified`):
    /// lists fetched less than [`SETTLE_US`] after a job's end by that clock may be
    /// incomplete and are not kept for long.
    pub async fn load(
        &self,
        awx: &AwxClient,
        wanted: &[Wanted],
        scope: Scope,
        awx_now: Micros,
    ) -> Result<HostsLoaded, HostsError> {
        if self.disk.is_some() {
            self.disk_loaded.get_or_init(|| self.read_disk()).await;
        }
        let _loading = self.loading.lock().await;
        let loaded = self.load_locked(awx, wanted, scope, awx_now).await;
        // Each list is whole as it is kept: what was read is written even if a later one
        // failed.
        self.persist();
        loaded
    }

    async fn load_locked(
        &self,
        awx: &AwxClient,
        wanted: &[Wanted],
        scope: Scope,
        awx_now: Micros,
    ) -> Result<HostsLoaded, HostsError> {
        let mut out = HostsLoaded::default();
        let mut runs_total = 0usize;
        let mut missing = Vec::new();
        {
            let st = self.state();
            for w in wanted {
                match st.entries.get(&w.job) {
                    Some(e) if e.serves(w, scope) => {
                        runs_total += e.hosts.runs.len();
                        out.jobs.insert(w.job, e.hosts.clone());
                    }
                    _ => missing.push(*w),
                }
            }
        }
        out.held = out.jobs.len();
        if runs_total > MAX_HOST_RUNS {
            return Err(HostsError::TooMany {
                limit: MAX_HOST_RUNS,
            });
        }
        let fetches = stream::iter(missing)
            .map(|w| async move {
                let req = request(w.job, scope);
                let rows = awx
                    .list_unless_over::<JobHostSummary>(&req, MAX_HOST_RUNS + 1)
                    .await;
                (w, req, rows)
            })
            .buffer_unordered(awx.settings().max_concurrency.max(1));
        futures::pin_mut!(fetches);
        while let Some((w, req, rows)) = fetches.next().await {
            out.fetched.push(awx.display(&req));
            let (rows, gone) = match rows {
                Ok(Some(rows)) => (rows, false),
                Ok(None) => {
                    return Err(HostsError::TooMany {
                        limit: MAX_HOST_RUNS,
                    })
                }
                // The job is gone from AWX (deleted, or purged since the records were read):
                // it has no hosts any more, and nothing is kept for it.
                Err(AwxError::ApiPathNotFound { .. }) => (Vec::new(), true),
                Err(e) => return Err(e.into()),
            };
            runs_total += rows.len();
            if runs_total > MAX_HOST_RUNS {
                return Err(HostsError::TooMany {
                    limit: MAX_HOST_RUNS,
                });
            }
            let mut st = self.state();
            let hosts = Arc::new(st.convert(scope, &rows));
            if !gone {
                let entry = Entry {
                    hosts: hosts.clone(),
                    finished: w.finished,
                    settled: awx_now >= w.finished.saturating_add(SETTLE_US),
                    fetched_at: Instant::now(),
                };
                st.insert(w.job, entry, self.budget_bytes);
            }
            out.jobs.insert(w.job, hosts);
        }
        let st = self.state();
        for jh in out.jobs.values() {
            for r in jh.runs.iter() {
                if let Some(info) = st.directory.get(r.host as usize) {
                    out.hosts.entry(r.host).or_insert_with(|| info.clone());
                }
            }
        }
        Ok(out)
    }

    /// The first time, what the file holds: the settled entries within the budget (newest
    /// first, as eviction would leave them) and the directory. Read on the writer thread,
    /// after every write handed to it before: what this store then writes builds on exactly
    /// what it read. Anything unreadable starts without it (the first write replaces it).
    async fn read_disk(&self) {
        let Some(disk) = &self.disk else { return };
        let started = Instant::now();
        let snapshot = disk.read_hosts(self.budget_bytes).await;
        let mut st = self.state();
        // Nothing is loaded before the read; should it be, what the file holds is not taken.
        let empty = st.entries.is_empty() && st.directory.is_empty();
        if let Some(fresh) = snapshot.and_then(State::from_disk).filter(|_| empty) {
            *st = fresh;
            tracing::info!(
                jobs = st.entries.len(),
                hosts = st.directory.len(),
                file = %disk.file().display(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "job host summaries read from disk"
            );
        }
    }

    /// Hands what changed since the last write to the disk writer, without waiting for the
    /// disk. Nothing before the file was read: the writes are relative to what it holds.
    pub fn persist(&self) {
        let Some(disk) = &self.disk else { return };
        if !self.disk_loaded.initialized() {
            return;
        }
        let w = self.state().take_write();
        if let Some(w) = w {
            disk.send_hosts(w);
        }
    }

    /// Drops the hosts of jobs AWX no longer has (purged by cleanup_jobs, or deleted), so
    /// that the file does not keep them: the job records hold every job that finished at or
    /// after `coverage_from`, so an entry of a job that finished since then and that they do
    /// not hold (`held` gives a held job's end) is of a job that is gone. Only the entries in
    /// the records' `chunks` of ids that the sync changed are looked at; every entry when
    /// `chunks` is `None` (a new table) or the entries were just read from the file. Entries
    /// of older jobs stay: one-off fetches beyond the records' coverage use them. Written by
    /// the next [`HostStore::persist`].
    pub fn forget_gone(
        &self,
        chunks: Option<&[u64]>,
        coverage_from: Micros,
        held: impl Fn(i64) -> Option<Micros>,
    ) {
        let mut st = self.state();
        let gone = |(job, e): (&i64, &Entry)| {
            (e.finished >= coverage_from && held(*job) != Some(e.finished)).then_some(*job)
        };
        let gone: Vec<i64> = match chunks.filter(|_| !st.unchecked) {
            None => st.entries.iter().filter_map(gone).collect(),
            Some(chunks) => chunks
                .iter()
                .flat_map(|&c| {
                    let lo = (c << persist::CHUNK_BITS) as i64;
                    let hi = ((c + 1) << persist::CHUNK_BITS) as i64;
                    st.entries.range(lo..hi)
                })
                .filter_map(gone)
                .collect(),
        };
        if self.disk_loaded.initialized() {
            st.unchecked = false;
        }
        for job in gone {
            st.remove(job);
        }
    }
}

/// The list of one job's hosts, as `scope` needs it.
pub fn request(job: i64, scope: Scope) -> ApiRequest {
    let req = ApiRequest::new(format!("jobs/{job}/job_host_summaries/"));
    match scope {
        Scope::Failed => req.param("failed", "true"),
        Scope::All => req,
    }
}

/// The disk form of a job's hosts (the persistent cache, `jobs/persist.rs`, keyed by job
/// id): fixed-size little-endian records as [`record::disk`] has for jobs, a header (the
/// scope, +1; the job's end) and then per host result its directory index and five counts.
/// The directory itself is JSON, (AWX id, name) per host. [`record::disk::FORMAT`] changes
/// with any of it.
///
/// [`record::disk`]: super::record::disk
/// [`record::disk::FORMAT`]: super::record::disk::FORMAT
pub mod disk {
    use super::*;

    pub const HEADER_BYTES: usize = 1 + 8;
    pub const RUN_BYTES: usize = 6 * 4;

    const SCOPES: [Scope; 2] = [Scope::Failed, Scope::All];

    pub fn write(finished: Micros, hosts: &JobHosts, out: &mut Vec<u8>) {
        out.reserve(HEADER_BYTES + hosts.runs.len() * RUN_BYTES);
        let scope = SCOPES.iter().position(|s| *s == hosts.scope).unwrap_or(0);
        out.push(scope as u8 + 1);
        out.extend_from_slice(&finished.to_le_bytes());
        for r in hosts.runs.iter() {
            for v in [r.host, r.ok, r.changed, r.failures, r.dark, r.skipped] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    /// A job's end and hosts from [`write`]'s bytes; `None` unless they are what `write`
    /// gives for a directory of `directory_len` hosts (a damaged or foreign value): whole
    /// records, a known scope, hosts in the directory, each once and in order, and only
    /// failed or unreachable ones in a failed-only list.
    pub fn read(bytes: &[u8], directory_len: usize) -> Option<(Micros, JobHosts)> {
        let (header, runs) = bytes.split_at_checked(HEADER_BYTES)?;
        if !runs.len().is_multiple_of(RUN_BYTES) {
            return None;
        }
        let scope = *SCOPES.get((header[0] as usize).checked_sub(1)?)?;
        let finished = Micros::from_le_bytes(header[1..].try_into().ok()?);
        let mut out: Vec<HostRun> = Vec::with_capacity(runs.len() / RUN_BYTES);
        for r in runs.chunks_exact(RUN_BYTES) {
            let u32_at =
                |k: usize| u32::from_le_bytes(r[k * 4..k * 4 + 4].try_into().unwrap_or_default());
            let run = HostRun {
                host: u32_at(0),
                ok: u32_at(1),
                changed: u32_at(2),
                failures: u32_at(3),
                dark: u32_at(4),
                skipped: u32_at(5),
            };
            let in_order = out.last().is_none_or(|last| last.host < run.host);
            let kept = scope == Scope::All || run.outcome().is_bad();
            if run.host as usize >= directory_len || !in_order || !kept {
                return None;
            }
            out.push(run);
        }
        Some((
            finished,
            JobHosts {
                scope,
                runs: out.into_boxed_slice(),
            },
        ))
    }

    pub fn write_directory(hosts: &[HostInfo]) -> Vec<u8> {
        let rows: Vec<(Option<i64>, &str)> =
            hosts.iter().map(|h| (h.id, h.name.as_ref())).collect();
        serde_json::to_vec(&rows).unwrap_or_default()
    }

    /// Names longer than a directory holds are cut as [`State::host`] cuts them.
    pub fn read_directory(bytes: &[u8]) -> Option<Vec<HostInfo>> {
        let rows: Vec<(Option<i64>, String)> = serde_json::from_slice(bytes).ok()?;
        Some(
            rows.into_iter()
                .map(|(id, name)| HostInfo {
                    id,
                    name: Arc::from(truncated(&name)),
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::awx::model::{HostSummaryFields, NamedRef};

    fn summary(
        host: Option<i64>,
        name: &str,
        ok: u32,
        changed: u32,
        failures: u32,
        dark: u32,
    ) -> JobHostSummary {
        JobHostSummary {
            host,
            host_name: name.into(),
            summary_fields: HostSummaryFields {
                host: host.map(|id| NamedRef {
                    id: Some(id),
                    name: name.into(),
                }),
            },
            ok,
            changed,
            failures,
            dark,
            skipped: 0,
        }
    }

    #[test]
    fn a_host_result_takes_24_bytes() {
        // docs/ARCHITECTURE.md states it; the budget accounts it.
        assert_eq!(std::mem::size_of::<HostRun>(), 24);
    }

    #[test]
    fn outcomes_are_the_worst_state_as_awx_counts_them() {
        let r = |ok, changed, failures, dark| HostRun {
            host: 0,
            ok,
            changed,
            failures,
            dark,
            skipped: 1,
        };
        assert_eq!(r(3, 1, 1, 1).outcome(), Outcome::Unreachable);
        assert_eq!(r(3, 1, 2, 0).outcome(), Outcome::Failed);
        assert_eq!(r(3, 1, 0, 0).outcome(), Outcome::Changed);
        assert_eq!(r(3, 0, 0, 0).outcome(), Outcome::Ok);
        assert_eq!(
            r(0, 0, 0, 0).outcome(),
            Outcome::Ok,
            "only skipped counts as ok"
        );
    }

    #[test]
    fn a_full_list_serves_a_failed_query_with_the_failed_hosts_only() {
        let mut st = State::default();
        let all = st.convert(
            Scope::All,
            &[
                summary(Some(1), "a", 3, 0, 0, 0),
                summary(Some(2), "b", 3, 1, 1, 0),
                summary(Some(3), "c", 0, 0, 0, 1),
                summary(Some(1), "a", 3, 0, 0, 0),
            ],
        );
        assert_eq!(all.runs.len(), 3, "a host listed twice counts once");
        let bad: Vec<Outcome> = all.runs_for(Scope::Failed).map(|r| r.outcome()).collect();
        assert_eq!(bad, vec![Outcome::Failed, Outcome::Unreachable]);
        // a failed-only list keeps only failed hosts, whatever AWX sent
        let failed = st.convert(
            Scope::Failed,
            &[
                summary(Some(1), "a", 3, 0, 0, 0),
                summary(Some(4), "d", 0, 0, 1, 0),
            ],
        );
        assert_eq!(failed.runs.len(), 1);
        assert_eq!(st.directory.len(), 4);
    }

    #[test]
    fn hosts_are_keyed_by_id_with_their_newest_name_and_deleted_ones_by_name() {
        let mut st = State::default();
        let a = st.host(&summary(Some(7), "old-name", 1, 0, 0, 0));
        let b = st.host(&summary(Some(7), "new-name", 1, 0, 0, 0));
        assert_eq!(a, b);
        assert_eq!(&*st.directory[a as usize].name, "new-name");
        let g1 = st.host(&summary(None, "gone", 1, 0, 0, 0));
        let g2 = st.host(&summary(None, "gone", 1, 0, 0, 0));
        let g3 = st.host(&summary(None, "other", 1, 0, 0, 0));
        assert_eq!(g1, g2);
        assert_ne!(g1, g3);
        assert_eq!(st.directory[g1 as usize].id, None);
        let long = "x".repeat(2000);
        let l = st.host(&summary(Some(8), &long, 1, 0, 0, 0));
        assert_eq!(st.directory[l as usize].name.len(), 512);
    }

    #[test]
    fn the_budget_evicts_the_oldest_jobs() {
        let mut st = State::default();
        let rows: Vec<JobHostSummary> =
            (0..10).map(|i| summary(Some(i), "h", 1, 0, 1, 0)).collect();
        let one = {
            let jh = st.convert(Scope::Failed, &rows);
            BYTES_PER_JOB + jh.runs.len() * BYTES_PER_RUN
        };
        let budget = st.bytes + 3 * one;
        for job in [5, 1, 9, 3] {
            let hosts = Arc::new(st.convert(Scope::Failed, &rows));
            st.insert(
                job,
                Entry {
                    hosts,
                    finished: job,
                    settled: true,
                    fetched_at: Instant::now(),
                },
                budget,
            );
        }
        let held: Vec<i64> = st.entries.keys().copied().collect();
        assert_eq!(held, vec![3, 5, 9]);
        assert!(st.bytes <= budget);
    }

    #[test]
    fn unsettled_or_narrower_lists_are_fetched_again() {
        let hosts = Arc::new(JobHosts {
            scope: Scope::Failed,
            runs: Box::new([]),
        });
        let long_ago = Instant::now()
            .checked_sub(UNSETTLED_REUSE + Duration::from_secs(1))
            .expect("the monotonic clock is past its first seconds");
        let w = Wanted {
            job: 7,
            finished: 1_000,
        };
        let settled = Entry {
            hosts: hosts.clone(),
            finished: w.finished,
            settled: true,
            fetched_at: long_ago,
        };
        assert!(settled.serves(&w, Scope::Failed));
        assert!(
            !settled.serves(&w, Scope::All),
            "a failed-only list cannot give ok and changed"
        );
        let other = Wanted {
            finished: 2_000,
            ..w
        };
        assert!(
            !settled.serves(&other, Scope::Failed),
            "another job under the same id (an AWX reinstalled at the same address)"
        );
        let young = Entry {
            hosts: hosts.clone(),
            finished: w.finished,
            settled: false,
            fetched_at: Instant::now(),
        };
        assert!(young.serves(&w, Scope::Failed));
        let stale = Entry {
            hosts,
            finished: w.finished,
            settled: false,
            fetched_at: long_ago,
        };
        assert!(!stale.serves(&w, Scope::Failed));
    }

    /// A state that tracks what the disk lacks, as a store with a file has after its read.
    fn on_disk() -> State {
        State {
            disk: Some(DiskDelta::default()),
            ..Default::default()
        }
    }

    fn keep(st: &mut State, job: i64, scope: Scope, rows: &[JobHostSummary], settled: bool) {
        let hosts = Arc::new(st.convert(scope, rows));
        let entry = Entry {
            hosts,
            finished: job * 1_000,
            settled,
            fetched_at: Instant::now(),
        };
        st.insert(job, entry, usize::MAX);
    }

    #[test]
    fn the_disk_form_round_trips_and_refuses_damaged_bytes() {
        let mut st = State::default();
        let all = st.convert(
            Scope::All,
            &[
                summary(Some(1), "web-1", 3, 1, 0, 0),
                summary(Some(2), "web-2", 3, 0, 2, 0),
                summary(None, "gone", 0, 0, 0, 1),
            ],
        );
        let failed = st.convert(Scope::Failed, &[summary(Some(2), "web-2", 3, 0, 2, 0)]);
        let n = st.directory.len();
        for (jh, finished) in [(&all, 1_790_000_000_123_456), (&failed, -5)] {
            let mut bytes = Vec::new();
            disk::write(finished, jh, &mut bytes);
            assert_eq!(
                bytes.len(),
                disk::HEADER_BYTES + jh.runs.len() * disk::RUN_BYTES
            );
            assert_eq!(disk::read(&bytes, n), Some((finished, jh.clone())));
        }
        let dir = disk::read_directory(&disk::write_directory(&st.directory)).unwrap();
        assert_eq!(dir, st.directory);

        let mut good = Vec::new();
        disk::write(7, &all, &mut good);
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            b
        };
        let run = |k: usize| disk::HEADER_BYTES + k * disk::RUN_BYTES;
        let damaged = [
            ("empty", Vec::new()),
            ("a header only, cut", good[..4].to_vec()),
            ("a cut record", good[..good.len() - 1].to_vec()),
            ("no scope", with(&|b| b[0] = 0)),
            ("an unknown scope", with(&|b| b[0] = 3)),
            ("a host beyond the directory", with(&|b| b[run(2)] = 9)),
            ("hosts out of order", with(&|b| b[run(1)] = 0)),
            (
                "an ok host in a failed-only list",
                with(&|b| b[0] = 1), // the first host of `all` is changed, not failed
            ),
        ];
        for (what, bytes) in damaged {
            assert_eq!(disk::read(&bytes, n), None, "{what}");
        }
        assert_eq!(
            disk::read(&good, 2),
            None,
            "a directory shorter than the file's"
        );
        assert!(disk::read_directory(b"{}").is_none());
        assert!(disk::read_directory(b"[[1, 2]]").is_none());
        // A name longer than AWX's is cut as on the way in.
        let long = format!("[[3, \"{}\"]]", "x".repeat(600));
        assert_eq!(
            disk::read_directory(long.as_bytes()).unwrap()[0].name.len(),
            512
        );
    }

    #[test]
    fn only_what_changed_is_written_and_only_settled_lists() {
        let mut st = on_disk();
        let rows = [
            summary(Some(1), "a", 1, 0, 1, 0),
            summary(Some(2), "b", 0, 0, 0, 1),
        ];
        keep(&mut st, 10, Scope::Failed, &rows, true);
        keep(&mut st, 11, Scope::Failed, &rows, false);
        let w = st.take_write().unwrap();
        assert!(!w.all);
        let jobs: Vec<(i64, bool)> = w.jobs.iter().map(|(j, h)| (*j, h.is_some())).collect();
        assert_eq!(jobs, [(10, true)], "an unsettled list is never written");
        assert_eq!(w.directory.len(), 1);
        assert_eq!(w.directory[0].1.len(), 2);
        assert_eq!(w.hosts, 2);
        assert!(st.take_write().is_none(), "nothing changed since");

        // A rename rewrites its chunk of the directory, not the jobs.
        st.host(&summary(Some(1), "a-renamed", 1, 0, 1, 0));
        let w = st.take_write().unwrap();
        assert!(w.jobs.is_empty());
        assert_eq!(&*w.directory[0].1[0].name, "a-renamed");

        // Evicted by the budget: removed from disk too.
        let budget = st.bytes - 1;
        let hosts =
            Arc::new(st.convert(Scope::Failed, &[summary(Some(1), "a-renamed", 1, 0, 1, 0)]));
        let entry = Entry {
            hosts,
            finished: 12_000,
            settled: true,
            fetched_at: Instant::now(),
        };
        st.insert(12, entry, budget);
        let w = st.take_write().unwrap();
        let jobs: Vec<(i64, bool)> = w.jobs.iter().map(|(j, h)| (*j, h.is_some())).collect();
        assert_eq!(jobs, [(10, false), (12, true)]);
        assert!(w.directory.is_empty());

        // Without a file nothing is tracked.
        let mut st = State::default();
        keep(&mut st, 10, Scope::Failed, &rows, true);
        assert!(st.take_write().is_none());
    }

    #[test]
    fn a_directory_that_names_a_host_twice_is_not_taken() {
        let dir = |names: [(Option<i64>, &str); 2]| HostsSnapshot {
            directory: names
                .into_iter()
                .map(|(id, n)| HostInfo {
                    id,
                    name: Arc::from(n),
                })
                .collect(),
            ..Default::default()
        };
        assert!(State::from_disk(dir([(Some(1), "a"), (Some(2), "a")])).is_some());
        assert!(State::from_disk(dir([(None, "a"), (Some(2), "a")])).is_some());
        assert!(State::from_disk(dir([(Some(1), "a"), (Some(1), "b")])).is_none());
        assert!(State::from_disk(dir([(None, "a"), (None, "a")])).is_none());
    }

    #[test]
    fn the_hosts_of_jobs_gone_from_awx_are_forgotten() {
        let store = HostStore::new(usize::MAX);
        let rows = [summary(Some(1), "a", 1, 0, 1, 0)];
        {
            let mut st = store.state();
            *st = on_disk();
            // Entry of job `j` finished at j * 1000.
            for job in [5, 4096 + 1, 4096 + 2, 4096 + 3, 2 * 4096] {
                keep(&mut st, job, Scope::Failed, &rows, true);
            }
            st.take_write();
        }
        // The records hold 4097 and 8192, and 4099 with another end (another job under
        // its id); 4098 is gone; 5 finished before the coverage (a one-off fetch's).
        let held = |id: i64| match id {
            4097 | 8192 => Some(id * 1_000),
            4099 => Some(1),
            _ => None,
        };
        let coverage_from = 1_000_000;
        store.forget_gone(Some(&[2]), coverage_from, held);
        assert_eq!(
            store.len(),
            5,
            "only the chunks a sync changed are looked at"
        );
        store.forget_gone(Some(&[1]), coverage_from, held);
        let ids: Vec<i64> = store.state().entries.keys().copied().collect();
        assert_eq!(ids, [5, 4097, 8192]);
        let w = store.state().take_write().unwrap();
        let gone: Vec<(i64, bool)> = w.jobs.iter().map(|(j, h)| (*j, h.is_some())).collect();
        assert_eq!(gone, [(4098, false), (4099, false)], "removed from disk");
        // Entries read from disk are all looked at, whatever chunks changed.
        store.state().unchecked = true;
        store.forget_gone(Some(&[]), coverage_from, |_| None);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn requests_ask_awx_to_filter_failed_hosts() {
        assert_eq!(
            request(42, Scope::Failed).display("/api/v2/"),
            "/api/v2/jobs/42/job_host_summaries/?failed=true"
        );
        assert_eq!(
            request(42, Scope::All).display("/api/v2/"),
            "/api/v2/jobs/42/job_host_summaries/"
        );
    }
}
