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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

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
    settled: bool,
    fetched_at: Instant,
}

impl Entry {
    fn serves(&self, scope: Scope) -> bool {
        self.hosts.scope >= scope && (self.settled || self.fetched_at.elapsed() < UNSETTLED_REUSE)
    }

    fn bytes(&self) -> usize {
        BYTES_PER_JOB + self.hosts.runs.len() * BYTES_PER_RUN
    }
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<i64, Entry>,
    bytes: usize,
    directory: Vec<HostInfo>,
    index: HashMap<HostKey, u32>,
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
            }
            return i;
        }
        let i = self.directory.len() as u32;
        self.bytes += BYTES_PER_HOST + name.len();
        self.directory.push(HostInfo {
            id: s.host,
            name: Arc::from(name),
        });
        self.index.insert(key, i);
        i
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
        if let Some(old) = self.entries.insert(job, entry) {
            self.bytes -= old.bytes();
        }
        // Oldest jobs first: they are the least likely to be asked for again.
        while self.bytes > budget {
            let Some((_, old)) = self.entries.pop_first() else {
                break;
            };
            self.bytes -= old.bytes();
        }
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
        Self {
            state: Mutex::new(State::default()),
            loading: tokio::sync::Mutex::new(()),
            budget_bytes,
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
        let _loading = self.loading.lock().await;
        let mut out = HostsLoaded::default();
        let mut runs_total = 0usize;
        let mut missing = Vec::new();
        {
            let st = self.state();
            for w in wanted {
                match st.entries.get(&w.job) {
                    Some(e) if e.serves(scope) => {
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
}

/// The list of one job's hosts, as `scope` needs it.
pub fn request(job: i64, scope: Scope) -> ApiRequest {
    let req = ApiRequest::new(format!("jobs/{job}/job_host_summaries/"));
    match scope {
        Scope::Failed => req.param("failed", "true"),
        Scope::All => req,
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
        let settled = Entry {
            hosts: hosts.clone(),
            settled: true,
            fetched_at: long_ago,
        };
        assert!(settled.serves(Scope::Failed));
        assert!(
            !settled.serves(Scope::All),
            "a failed-only list cannot give ok and changed"
        );
        let young = Entry {
            hosts: hosts.clone(),
            settled: false,
            fetched_at: Instant::now(),
        };
        assert!(young.serves(Scope::Failed));
        let stale = Entry {
            hosts,
            settled: false,
            fetched_at: long_ago,
        };
        assert!(!stale.serves(Scope::Failed));
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
