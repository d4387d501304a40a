//! Getting the job records a KPI needs: from the data source's cache when it can hold
//! the range, otherwise fetched for this query alone, with the query's filters pushed
//! down to AWX. Either way the same selection is applied afterwards, so the cache never
//! changes an answer.

use std::ops::Deref;
use std::sync::RwLockReadGuard;

use crate::instances::Instance;
use crate::jobs::record::micros;
use std::time::Duration;

use crate::frame::Severity;
use crate::jobs::store::{coverage_request, fetch_records, iso, Ensured, SyncReport};
use crate::jobs::{Interner, Job, JobStore, JobTable, Micros, Ref, Selection, Sym};
use crate::query::{Filters, GroupBy, Query};

use super::{notices, KpiError};

/// How long a dashboard's query waits for a cache that is being filled before it answers
/// from what is read (with a notice); an alert rule's waits longer, then fails.
pub const DASHBOARD_WAIT: Duration = Duration::from_secs(10);
pub const ALERT_WAIT: Duration = Duration::from_secs(25);
/// How long a dashboard's query waits for the first refresh of a cache read from disk
/// at a restart before it answers from the disk copy (with a notice); an alert rule's
/// waits for the refresh.
pub const BEHIND_AFTER: Duration = Duration::from_millis(300);

/// The upper bound of jobs a query may fetch without the cache.
pub const MAX_UNCACHED_JOBS: usize = 1_000_000;

pub enum Records<'a> {
    Cached(RwLockReadGuard<'a, JobTable>),
    Fetched(Box<JobTable>),
}

impl Deref for Records<'_> {
    type Target = JobTable;
    fn deref(&self) -> &JobTable {
        match self {
            Records::Cached(g) => g,
            Records::Fetched(t) => t,
        }
    }
}

pub struct Loaded<'a> {
    pub records: Records<'a>,
    /// What was asked of AWX, for meta.executedQueryString.
    pub executed: String,
    /// The data source's cache when the records come from it: KPIs keep work there
    /// between refreshes ([`JobStore::memo`]).
    pub store: Option<&'a JobStore>,
}

impl Loaded<'_> {
    pub fn select(&self, q: &Query) -> Selection {
        Selection::compile(&q.filters, q.include_syncs, &self.records.names)
    }

    /// The selected jobs.
    pub fn jobs<'s>(&'s self, sel: &'s Selection) -> impl Iterator<Item = &'s Job> + 's {
        self.records.jobs().iter().filter(move |j| sel.matches(j))
    }

    pub fn name(&self, sym: Sym) -> Option<&str> {
        self.records.names.resolve(sym)
    }

    /// The current name of an object a job belongs to.
    pub fn object(&self, r: Ref) -> Option<&str> {
        let names = &self.records.names;
        names.resolve(names.name_of(r))
    }
}

/// The jobs that any KPI over `[from, to)` may need: finished at or after `from`, or
/// not finished (and, when fetched for this query alone, created before `to`).
pub async fn load<'a>(inst: &'a Instance, q: &Query, from: Micros) -> Result<Loaded<'a>, KpiError> {
    if let Some(store) = &inst.jobs {
        let wait = if q.from_alert {
            ALERT_WAIT
        } else {
            DASHBOARD_WAIT
        };
        let behind_after = (!q.from_alert).then_some(BEHIND_AFTER);
        let ensured = store.ensure_within(&inst.awx, from, wait, behind_after);
        let report = match ensured.await? {
            Ensured::Ready(report) => report,
            Ensured::Behind { as_of } => {
                notices::raise(
                    Severity::Info,
                    format!(
                        "Answered from the job cache kept on disk while AWX's changes since {} (the newest it holds) are read; the next refresh shows them.",
                        iso(as_of)
                    ),
                );
                return Ok(Loaded {
                    records: Records::Cached(store.read()),
                    executed: format!(
                        "(job-record cache read from disk, catching up)\n{}",
                        inst.awx.display(&coverage_request(from))
                    ),
                    store: Some(store.as_ref()),
                });
            }
            Ensured::Partial {
                covered_from,
                progress,
                ..
            } if q.from_alert => {
                return Err(KpiError::StillLoading {
                    covered_from: iso(covered_from),
                    pages_read: progress.pages_read,
                    pages: progress.pages,
                })
            }
            Ensured::Partial {
                covered_from,
                progress,
                executed,
            } => {
                notices::raise(
                    Severity::Warning,
                    format!(
                        "AWX's job history is being read for the first time, newest first: this answer counts the jobs that finished since {} ({} of {} pages of older jobs read so far). Refresh for more; the reading goes on in the background.",
                        iso(covered_from),
                        progress.pages_read,
                        progress.pages
                    ),
                );
                return Ok(Loaded {
                    records: Records::Cached(store.read()),
                    executed,
                    // Nothing kept from a partial table.
                    store: None,
                });
            }
        };
        if let Some(report) = report {
            let executed = if report.from_cache {
                format!(
                    "(job-record cache, synced within the last {} s)\n{}",
                    crate::jobs::store::FRESH_FOR.as_secs(),
                    inst.awx.display(&coverage_request(from))
                )
            } else {
                report.requests.join("\n")
            };
            return Ok(Loaded {
                records: Records::Cached(store.read()),
                executed,
                store: Some(store.as_ref()),
            });
        }
    }
    let to = micros(q.range.to);
    let mut req = coverage_request(from).param("created__lt", iso(to));
    for (k, v) in pushdown(&q.filters, q.include_syncs) {
        req = req.param(&k, v);
    }
    let shown = inst.awx.display(
        &req.clone()
            .param("page_size", crate::awx::PAGE_SIZE.to_string()),
    );
    // Page by page into records, as the cache fills: a page's JSON is dropped once
    // converted (a million jobs as parsed JSON would be about a gigabyte).
    let mut report = SyncReport::default();
    let fetched = fetch_records(
        &inst.awx,
        &req,
        MAX_UNCACHED_JOBS,
        Interner::default(),
        &mut report,
    );
    let Some((jobs, names)) = fetched.await? else {
        return Err(KpiError::TooManyJobs {
            limit: MAX_UNCACHED_JOBS,
        });
    };
    let table = JobTable::with_jobs(jobs, names, from);
    Ok(Loaded {
        records: Records::Fetched(Box::new(table)),
        executed: shown,
        store: None,
    })
}

/// The longest value (percent-encoded) pushed down to AWX: a template variable set to
/// "All" can expand to thousands of names, and the proxies in front of AWX refuse request
/// lines over 8 KiB (nginx's default). Longer filters are applied by the plugin alone.
pub const MAX_PUSHDOWN_CHARS: usize = 1_500;

fn fits(v: &[String]) -> bool {
    let encoded: usize = v
        .iter()
        .map(|s| {
            url::form_urlencoded::byte_serialize(s.as_bytes())
                .map(str::len)
                .sum::<usize>()
                + 1
        })
        .sum();
    encoded <= MAX_PUSHDOWN_CHARS
}

/// Whether AWX can apply every one of these filters itself (see [`pushdown`]), so that
/// a `count` answers exactly.
pub fn fully_pushable(f: &Filters) -> bool {
    let joinable = |v: &[String]| v.iter().all(|s| !s.contains(',')) && fits(v);
    let one_kind = |v: &[String]| {
        v.iter().all(|s| s.parse::<u64>().is_ok()) || v.iter().all(|s| s.parse::<u64>().is_err())
    };
    f.inventory.is_empty()
        && f.project.is_empty()
        && f.instance_group.is_empty()
        && f.launched_by.is_empty()
        && f.name.len() <= 1
        && fits(&f.name)
        && joinable(&f.template)
        && one_kind(&f.template)
        && joinable(&f.organization)
        && joinable(&f.execution_node)
}

/// The filters AWX can apply itself. Values travel percent-encoded; list filters are
/// pushed down only when no value contains a comma (AWX splits `__in` lists on commas)
/// and they are not too long for a URL ([`MAX_PUSHDOWN_CHARS`]).
pub fn pushdown(f: &Filters, include_syncs: bool) -> Vec<(String, String)> {
    let mut p = Vec::new();
    let joinable = |v: &[String]| !v.is_empty() && v.iter().all(|s| !s.contains(',')) && fits(v);
    if !f.status.is_empty() {
        p.push((
            "status__in".into(),
            join(f.status.iter().map(|s| s.as_str())),
        ));
    }
    if !f.job_type.is_empty() {
        p.push(("type".into(), join(f.job_type.iter().map(|s| s.as_str()))));
    }
    if !f.launch_type.is_empty() {
        p.push((
            "launch_type__in".into(),
            join(f.launch_type.iter().map(|s| s.as_str())),
        ));
    } else if !include_syncs {
        p.push(("not__launch_type".into(), "sync".into()));
    }
    let all_ids = |v: &[String]| v.iter().all(|s| s.parse::<u64>().is_ok());
    if joinable(&f.template) {
        let key = if all_ids(&f.template) {
            "unified_job_template__in"
        } else if f.template.iter().all(|s| s.parse::<u64>().is_err()) {
            "unified_job_template__name__in"
        } else {
            ""
        };
        if !key.is_empty() {
            p.push((key.into(), f.template.join(",")));
        }
    }
    if joinable(&f.organization) {
        let key = if all_ids(&f.organization) {
            "organization__in"
        } else {
            "organization__name__in"
        };
        p.push((key.into(), f.organization.join(",")));
    }
    if joinable(&f.execution_node) {
        p.push(("execution_node__in".into(), f.execution_node.join(",")));
    }
    if f.name.len() == 1 && fits(&f.name) {
        p.push(("name__icontains".into(), f.name[0].clone()));
    }
    p
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(",")
}

/// The label a job gets under a groupBy (`None` for groupBy none).
pub fn group_of(loaded: &Loaded<'_>, by: GroupBy, j: &Job) -> Option<String> {
    let sym = |s: Sym| loaded.name(s).unwrap_or("(none)").to_string();
    let obj = |r: Ref| loaded.object(r).unwrap_or("(none)").to_string();
    Some(match by {
        GroupBy::None => return None,
        GroupBy::Template => obj(j.template),
        GroupBy::Status => j.status.map_or("(unknown)", |s| s.as_str()).to_string(),
        GroupBy::Organization => obj(j.organization),
        GroupBy::Inventory => obj(j.inventory),
        GroupBy::Project => obj(j.project),
        GroupBy::JobType => j.job_type.map_or("(unknown)", |s| s.as_str()).to_string(),
        GroupBy::LaunchType => j
            .launch_type
            .map_or("(unknown)", |s| s.as_str())
            .to_string(),
        GroupBy::ExecutionNode => sym(j.execution_node),
        GroupBy::InstanceGroup => obj(j.instance_group),
        GroupBy::LaunchedBy => sym(j.launched_by),
    })
}

/// A job's group under a groupBy as a number, cheap to hash: jobs with equal keys have
/// equal [`group_of`] labels (the label is taken from any one of them). Objects group by
/// their current name, as their labels do: two templates of one name are one series.
pub fn group_key(by: GroupBy, j: &Job, names: &Interner) -> u64 {
    let sym = |s: Sym| u64::from(s.0);
    let obj = |r: Ref| u64::from(names.name_of(r).0);
    let tag = |v: Option<u8>| v.map_or(0, |v| u64::from(v) + 1);
    match by {
        GroupBy::None => 0,
        GroupBy::Template => obj(j.template),
        GroupBy::Status => tag(j.status.map(|s| s as u8)),
        GroupBy::Organization => obj(j.organization),
        GroupBy::Inventory => obj(j.inventory),
        GroupBy::Project => obj(j.project),
        GroupBy::JobType => tag(j.job_type.map(|t| t as u8)),
        GroupBy::LaunchType => tag(j.launch_type.map(|t| t as u8)),
        GroupBy::ExecutionNode => sym(j.execution_node),
        GroupBy::InstanceGroup => obj(j.instance_group),
        GroupBy::LaunchedBy => sym(j.launched_by),
    }
}

/// A hasher for keys that are already well spread small integers (symbols, ids):
/// one multiplication instead of SipHash, in the loops over every job.
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl std::hash::Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 ^= self.0 >> 29;
    }
}

pub type IntMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<IntHasher>>;

/// The label key of a groupBy in frames.
pub fn group_label(by: GroupBy) -> &'static str {
    match by {
        GroupBy::None => "",
        GroupBy::Template => "template",
        GroupBy::Status => "status",
        GroupBy::Organization => "organization",
        GroupBy::Inventory => "inventory",
        GroupBy::Project => "project",
        GroupBy::JobType => "job_type",
        GroupBy::LaunchType => "launch_type",
        GroupBy::ExecutionNode => "execution_node",
        GroupBy::InstanceGroup => "instance_group",
        GroupBy::LaunchedBy => "launched_by",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{JobStatus, LaunchType};

    #[test]
    fn pushdown_uses_awx_filters_and_never_splits_names() {
        let f = Filters {
            status: vec![JobStatus::Failed, JobStatus::Error],
            template: vec!["Deploy, web".into()],
            organization: vec!["Ops".into()],
            name: vec!["deploy".into()],
            ..Default::default()
        };
        let p = pushdown(&f, false);
        assert!(p.contains(&("status__in".into(), "failed,error".into())));
        assert!(p.contains(&("not__launch_type".into(), "sync".into())));
        assert!(p.contains(&("organization__name__in".into(), "Ops".into())));
        assert!(p.contains(&("name__icontains".into(), "deploy".into())));
        assert!(!p.iter().any(|(k, _)| k.starts_with("unified_job_template")));
        let p = pushdown(
            &Filters {
                template: vec!["12".into(), "14".into()],
                launch_type: vec![LaunchType::Sync],
                ..Default::default()
            },
            false,
        );
        assert!(p.contains(&("unified_job_template__in".into(), "12,14".into())));
        assert!(p.contains(&("launch_type__in".into(), "sync".into())));
    }

    #[test]
    fn filters_too_long_for_a_url_are_applied_locally() {
        let all: Vec<String> = (0..2000).map(|i| format!("Template {i}")).collect();
        let f = Filters {
            template: all,
            organization: vec!["Ops".into()],
            name: vec!["é".repeat(600)],
            ..Default::default()
        };
        let p = pushdown(&f, true);
        assert_eq!(p, vec![("organization__name__in".into(), "Ops".into())]);
        assert!(!fully_pushable(&f));
    }
}
