//! The host KPIs, from AWX's job host summaries: `host_outcomes` (one row per host over the
//! range, worst first), `host_failures` (failed and unreachable hosts per bucket, alertable),
//! and the jobs table's per-job host counts.
//!
//! The jobs come from the job records as for every other KPI (same filters); their hosts from
//! the data source's [`HostStore`] (`jobs/hosts.rs`), kept next to the job records, or, with
//! the job cache off, fetched for the query alone. Either way the same lists are read and the
//! same answer given.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::awx::model::Host;
use crate::awx::ApiRequest;
use crate::frame::{Field, FieldConfig, Frame, FrameType, Link, Severity, Values};
use crate::instances::Instance;
use crate::jobs::hosts::{HostInfo, HostStore, HostsError, HostsLoaded, Outcome, Scope, Wanted};
use crate::jobs::record::micros;
use crate::jobs::{Job, Micros};
use crate::query::{GroupBy, HostOutcome, HostSummaries, JobStatus, JobType, Query, QueryError};

use super::buckets::Buckets;
use super::records::{self, group_label, Loaded};
use super::tables::job_url;
use super::KpiError;

/// Ids per `hosts/?id__in=` request: a request line well under 8 KiB.
const IDS_PER_REQUEST: usize = 200;
/// Fetched lists named in executedQueryString; the rest are counted.
const SHOWN_REQUESTS: usize = 5;

pub fn scope(h: HostSummaries) -> Option<Scope> {
    match h {
        HostSummaries::None => None,
        HostSummaries::Failed => Some(Scope::Failed),
        HostSummaries::All => Some(Scope::All),
    }
}

/// Whether a job has host summaries that `scope` reads: a playbook run that ended, and
/// for the failed hosts only, one that failed or errored (the only jobs with failed or
/// unreachable hosts).
fn has_hosts(j: &Job, scope: Scope) -> bool {
    j.job_type == Some(JobType::Job)
        && match scope {
            Scope::Failed => matches!(j.status, Some(JobStatus::Failed | JobStatus::Error)),
            Scope::All => j.is_final() && j.started().is_some(),
        }
}

/// The data source's host store (kept with its job records), or, with the job cache off,
/// one for this query alone.
fn store(inst: &Instance) -> Arc<HostStore> {
    // A quarter of the job cache's budget, on top of it.
    let budget = inst.settings.job_cache_bytes / 4;
    let Some(jobs) = inst.jobs.as_ref() else {
        return Arc::new(HostStore::new(usize::MAX));
    };
    jobs.hosts(budget)
}

/// AWX's clock as its job records show it: their newest `modified`.
fn awx_now(loaded: &Loaded<'_>) -> Micros {
    loaded
        .records
        .jobs()
        .iter()
        .map(|j| j.modified)
        .max()
        .unwrap_or(Micros::MIN)
}

/// Loads the hosts of `wanted`, and says what was asked (for executedQueryString).
async fn load(
    inst: &Instance,
    wanted: &[Wanted],
    scope: Scope,
    awx_now: Micros,
) -> Result<(HostsLoaded, String), KpiError> {
    let loaded = store(inst)
        .load(&inst.awx, wanted, scope, awx_now)
        .await
        .map_err(|e| match e {
            HostsError::Awx(e) => KpiError::Awx(e),
            e @ HostsError::TooMany { .. } => {
                KpiError::Query(QueryError::new("hostSummaries", e.to_string()))
            }
        })?;
    let mut shown = format!(
        "(job host summaries of {} jobs: {} held, {} fetched{})",
        wanted.len(),
        loaded.held,
        loaded.fetched.len(),
        match scope {
            Scope::Failed => ", failed hosts only",
            Scope::All => "",
        }
    );
    let mut fetched = loaded.fetched.clone();
    fetched.sort();
    for r in fetched.iter().take(SHOWN_REQUESTS) {
        shown.push('\n');
        shown.push_str(r);
        shown.push_str(&format!(
            "{}page_size={}",
            if r.contains('?') { '&' } else { '?' },
            crate::awx::PAGE_SIZE
        ));
    }
    if fetched.len() > SHOWN_REQUESTS {
        shown.push_str(&format!(
            "\n... and {} more of the same",
            fetched.len() - SHOWN_REQUESTS
        ));
    }
    Ok((loaded, shown))
}

/// A job whose hosts a KPI counts, with what the KPI shows of it (copied out of the records,
/// which are not held while AWX is asked).
struct Target {
    id: i64,
    finished: Micros,
    template: Option<String>,
    inventory: Option<String>,
    group: Option<String>,
}

struct Collected {
    targets: Vec<Target>,
    executed: String,
    awx_now: Micros,
}

/// The selected jobs with hosts that finished in `[from, to)`, oldest first.
async fn collect(
    inst: &Instance,
    q: &Query,
    scope: Scope,
    from: Micros,
    to: Micros,
) -> Result<Collected, KpiError> {
    let loaded = records::load(inst, q, from).await?;
    let sel = loaded.select(q);
    let targets = loaded
        .jobs(&sel)
        .filter(|j| has_hosts(j, scope) && j.finished().is_some_and(|f| f >= from && f < to))
        .map(|j| Target {
            id: j.id,
            finished: j.finished().unwrap_or(from),
            template: loaded.object(j.template).map(str::to_string),
            inventory: loaded.object(j.inventory).map(str::to_string),
            group: records::group_of(&loaded, q.group_by, j),
        })
        .collect();
    Ok(Collected {
        targets,
        executed: loaded.executed.clone(),
        awx_now: awx_now(&loaded),
    })
}

fn wanted(targets: &[Target]) -> Vec<Wanted> {
    targets
        .iter()
        .map(|t| Wanted {
            job: t.id,
            finished: t.finished,
        })
        .collect()
}

/// Whether a host passes `filters.host` (names or AWX ids).
fn host_matches(filter: &[String], h: &HostInfo) -> bool {
    filter.is_empty()
        || filter
            .iter()
            .any(|v| *v == *h.name || h.id.is_some_and(|id| v.parse::<i64>() == Ok(id)))
}

/// One row of `host_outcomes`: a host (under a group), over the range.
#[derive(Default)]
struct Tally {
    jobs: u64,
    failed: u64,
    unreachable: u64,
    changed: u64,
    ok: u64,
    /// The newest run the host failed in: (finished, job id, index of the target).
    last_failure: Option<(Micros, i64, usize)>,
    /// The newest run the host was in, for its inventory.
    last_run: Option<(Micros, i64, usize)>,
}

pub async fn outcomes(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let scope = scope(q.host_summaries).unwrap_or(Scope::Failed);
    let (from, to) = (micros(q.range.from), micros(q.range.to));
    let c = collect(inst, q, scope, from, to).await?;
    let (hosts, shown) = load(inst, &wanted(&c.targets), scope, c.awx_now).await?;

    let mut tallies: HashMap<(u32, Option<&str>), Tally> = HashMap::new();
    for (k, t) in c.targets.iter().enumerate() {
        let Some(jh) = hosts.jobs.get(&t.id) else {
            continue;
        };
        for run in jh.runs_for(scope) {
            let Some(info) = hosts.hosts.get(&run.host) else {
                continue;
            };
            if !host_matches(&q.filters.host, info) {
                continue;
            }
            let tally = tallies.entry((run.host, t.group.as_deref())).or_default();
            tally.jobs += 1;
            let at = (t.finished, t.id, k);
            match run.outcome() {
                Outcome::Unreachable => tally.unreachable += 1,
                Outcome::Failed => tally.failed += 1,
                Outcome::Changed => tally.changed += 1,
                Outcome::Ok => tally.ok += 1,
            }
            if run.outcome().is_bad() && tally.last_failure.is_none_or(|l| at > l) {
                tally.last_failure = Some(at);
            }
            if tally.last_run.is_none_or(|l| at > l) {
                tally.last_run = Some(at);
            }
        }
    }
    let name = |h: u32| hosts.hosts.get(&h).map(|i| i.name.clone());
    let mut rows: Vec<((u32, Option<&str>), Tally)> = tallies.into_iter().collect();
    // Worst first: most failed runs, then the most recent failure; ties by name.
    rows.sort_by(|(ka, a), (kb, b)| {
        (b.failed + b.unreachable)
            .cmp(&(a.failed + a.unreachable))
            .then_with(|| {
                b.last_failure
                    .map(|l| l.0)
                    .cmp(&a.last_failure.map(|l| l.0))
            })
            .then_with(|| b.jobs.cmp(&a.jobs))
            .then_with(|| name(ka.0).cmp(&name(kb.0)))
            .then_with(|| ka.1.cmp(&kb.1))
            .then_with(|| {
                let id = |h: u32| hosts.hosts.get(&h).and_then(|i| i.id);
                id(ka.0).cmp(&id(kb.0))
            })
    });
    let total = rows.len();
    rows.truncate(q.limit);

    let ids: Vec<i64> = {
        let mut ids: Vec<i64> = rows
            .iter()
            .filter_map(|((h, _), _)| hosts.hosts.get(h).and_then(|i| i.id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let (now, hosts_shown) = current_hosts(inst, &ids).await?;

    let ui = inst.settings.awx.ui_url.as_str();
    let all = scope == Scope::All;
    let num =
        |f: &dyn Fn(&Tally) -> Option<f64>| Values::F64(rows.iter().map(|(_, t)| f(t)).collect());
    let target = |l: Option<(Micros, i64, usize)>| l.and_then(|(_, _, k)| c.targets.get(k));
    let host_of = |h: u32| -> (Option<String>, Option<&Host>) {
        let info = hosts.hosts.get(&h);
        let current = info.and_then(|i| i.id).and_then(|id| now.get(&id));
        let name = current
            .map(|c| c.name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| info.map(|i| i.name.to_string()));
        (name, current)
    };
    let mut frame = Frame::new("host_outcomes")
        .with_executed_query(format!("{}\n{shown}{hosts_shown}", c.executed))
        .with_visualisation("table")
        .with_field(
            Field::new(
                "host",
                Values::strings(rows.iter().map(|((h, _), _)| host_of(*h).0)),
            )
            .with_config(link_config("Open host in AWX", "host_link")),
        );
    let label = group_label(q.group_by);
    if q.group_by != GroupBy::None && q.group_by != GroupBy::Inventory {
        frame = frame.with_field(Field::new(
            label,
            Values::strings(rows.iter().map(|((_, g), _)| *g)),
        ));
    }
    frame = frame
        .with_field(Field::new(
            "inventory",
            Values::strings(
                rows.iter()
                    .map(|(_, t)| target(t.last_run).and_then(|t| t.inventory.clone())),
            ),
        ))
        .with_field(Field::new("jobs", num(&|t| all.then_some(t.jobs as f64))).with_unit("short"))
        .with_field(Field::new("failed", num(&|t| Some(t.failed as f64))).with_unit("short"))
        .with_field(
            Field::new("unreachable", num(&|t| Some(t.unreachable as f64))).with_unit("short"),
        )
        .with_field(
            Field::new("changed", num(&|t| all.then_some(t.changed as f64))).with_unit("short"),
        )
        .with_field(Field::new("ok", num(&|t| all.then_some(t.ok as f64))).with_unit("short"))
        .with_field(
            Field::new(
                "failure_rate",
                num(&|t| {
                    (all && t.jobs > 0)
                        .then(|| (t.failed + t.unreachable) as f64 / t.jobs as f64 * 100.0)
                }),
            )
            .with_unit("percent"),
        )
        .with_field(Field::new(
            "last_failure",
            Values::Time(
                rows.iter()
                    .map(|(_, t)| t.last_failure.map(|l| l.0 * 1000))
                    .collect(),
            ),
        ))
        .with_field(
            Field::new(
                "last_failure_job",
                Values::I64(
                    rows.iter()
                        .map(|(_, t)| t.last_failure.map(|l| l.1))
                        .collect(),
                ),
            )
            .with_config(link_config("Open the job in AWX", "link")),
        )
        .with_field(Field::new(
            "last_failure_template",
            Values::strings(
                rows.iter()
                    .map(|(_, t)| target(t.last_failure).and_then(|t| t.template.clone())),
            ),
        ))
        .with_field(Field::new(
            "enabled",
            Values::Bool(
                rows.iter()
                    .map(|((h, _), _)| host_of(*h).1.and_then(|c| c.enabled))
                    .collect(),
            ),
        ))
        .with_field(Field::new(
            "has_active_failures",
            Values::Bool(
                rows.iter()
                    .map(|((h, _), _)| host_of(*h).1.and_then(|c| c.has_active_failures))
                    .collect(),
            ),
        ))
        .with_field(Field::new(
            "link",
            Values::strings(
                rows.iter()
                    .map(|(_, t)| t.last_failure.map(|l| job_url(ui, Some(JobType::Job), l.1))),
            ),
        ))
        .with_field(Field::new(
            "host_link",
            Values::strings(rows.iter().map(|((h, _), _)| {
                hosts
                    .hosts
                    .get(h)
                    .and_then(|i| i.id)
                    .map(|id| host_url(ui, id))
            })),
        ));
    if total > rows.len() {
        frame = frame.with_notice(
            Severity::Info,
            format!(
                "Showing the worst {} of {total} hosts; raise `limit` (at most 10000) or narrow the filters.",
                rows.len()
            ),
        );
    }
    Ok(vec![frame])
}

/// The AWX UI page of a host.
pub fn host_url(ui_base: &str, id: i64) -> String {
    format!("{}/#/hosts/{id}/details", ui_base.trim_end_matches('/'))
}

fn link_config(title: &str, field: &str) -> FieldConfig {
    FieldConfig {
        links: vec![Link {
            title: title.to_string(),
            url: format!("${{__data.fields.{field}}}"),
            target_blank: true,
        }],
        ..Default::default()
    }
}

/// The current state of the hosts shown (`hosts/?id__in=`), by id; deleted hosts are absent.
async fn current_hosts(
    inst: &Instance,
    ids: &[i64],
) -> Result<(HashMap<i64, Host>, String), KpiError> {
    if ids.is_empty() {
        return Ok((HashMap::new(), String::new()));
    }
    let requests: Vec<ApiRequest> = ids
        .chunks(IDS_PER_REQUEST)
        .map(|chunk| {
            ApiRequest::new("hosts/").param(
                "id__in",
                chunk
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            )
        })
        .collect();
    let shown = format!(
        "\n{}{}",
        inst.awx.display(
            &requests[0]
                .clone()
                .param("page_size", crate::awx::PAGE_SIZE.to_string())
        ),
        if requests.len() > 1 {
            format!(" (and {} more)", requests.len() - 1)
        } else {
            String::new()
        }
    );
    let awx = &inst.awx;
    let pages: Vec<Vec<Host>> = stream::iter(requests)
        .map(|req| async move { awx.list_all::<Host>(&req, Some(IDS_PER_REQUEST)).await })
        .buffer_unordered(inst.settings.awx.max_concurrency.max(1))
        .try_collect()
        .await?;
    let wanted: std::collections::HashSet<i64> = ids.iter().copied().collect();
    let by_id = pages
        .into_iter()
        .flatten()
        .filter(|h| wanted.contains(&h.id))
        .map(|h| (h.id, h))
        .collect();
    Ok((by_id, shown))
}

pub async fn failures(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    // Only failed and unreachable hosts count here: the failed-only lists say it all.
    let scope = Scope::Failed;
    let buckets = Buckets::for_query(q)?;
    let c = collect(inst, q, scope, buckets.from, buckets.to).await?;
    let (hosts, shown) = load(inst, &wanted(&c.targets), scope, c.awx_now).await?;

    // Per group: (failed, unreachable) per bucket. Hosts group by name, as their labels do.
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for t in &c.targets {
        let (Some(jh), Some(b)) = (hosts.jobs.get(&t.id), buckets.index(t.finished)) else {
            continue;
        };
        for run in jh.runs_for(scope) {
            let Some(info) = hosts.hosts.get(&run.host) else {
                continue;
            };
            if !host_matches(&q.filters.host, info) {
                continue;
            }
            let key = if q.by_host {
                info.name.to_string()
            } else {
                t.group.clone().unwrap_or_default()
            };
            let series = groups
                .entry(key)
                .or_insert_with(|| vec![(0.0, 0.0); buckets.count]);
            match run.outcome() {
                Outcome::Unreachable => series[b].1 += 1.0,
                Outcome::Failed => series[b].0 += 1.0,
                Outcome::Changed | Outcome::Ok => {}
            }
        }
    }
    let grouped = q.by_host || q.group_by != GroupBy::None;
    if !grouped && groups.is_empty() {
        groups.insert(String::new(), vec![(0.0, 0.0); buckets.count]);
    }
    let label = if q.by_host {
        "host"
    } else {
        group_label(q.group_by)
    };
    let mut fields = Vec::new();
    for (g, series) in &groups {
        for (outcome, pick) in [
            (
                HostOutcome::Failed,
                (|v: &(f64, f64)| v.0) as fn(&(f64, f64)) -> f64,
            ),
            (HostOutcome::Unreachable, |v| v.1),
        ] {
            // A group is a host (or template, ...) with a failed or unreachable run in the
            // range: with one outcome asked, it still has its series, zero where it had none
            // of that outcome, so that an alert instance reads 0 rather than no data.
            if !q.outcomes.contains(&outcome) {
                continue;
            }
            let outcome = outcome.as_str();
            let mut labels = BTreeMap::from([("outcome".to_string(), outcome.to_string())]);
            let display = if grouped {
                labels.insert(label.to_string(), g.clone());
                format!("{outcome} {g}")
            } else {
                outcome.to_string()
            };
            let mut config = FieldConfig::unit("short");
            config.display_name_from_ds = Some(display);
            fields.push(
                Field::new(
                    outcome,
                    Values::F64(series.iter().map(|v| Some(pick(v))).collect()),
                )
                .with_labels(labels)
                .with_config(config),
            );
        }
    }
    let frame = Frame::new("host_failures")
        .with_type(FrameType::TimeSeriesWide)
        .with_executed_query(format!("{}\n{shown}", c.executed))
        .with_field(Field::new("time", buckets.time_values()))
        .with_fields(fields);
    Ok(vec![buckets.annotate(frame)])
}

/// The jobs table's rows whose hosts `scope` reads: (row, job id, finished).
pub fn job_rows_with_hosts<'a>(rows: impl Iterator<Item = &'a Job>, scope: Scope) -> Vec<Wanted> {
    rows.filter(|j| has_hosts(j, scope))
        .filter_map(|j| {
            Some(Wanted {
                job: j.id,
                finished: j.finished()?,
            })
        })
        .collect()
}

/// AWX's clock, for the jobs table (see [`HostStore::load`]).
pub fn clock(loaded: &Loaded<'_>) -> Micros {
    awx_now(loaded)
}

/// The jobs table's host columns: per row, how many hosts of the run ended ok, changed,
/// failed and unreachable (each host once, under its worst state); null where not loaded
/// (other job types, jobs `scope` does not read, and ok and changed of failed-only lists).
pub async fn with_job_host_columns(
    inst: &Instance,
    mut frame: Frame,
    row_ids: &[i64],
    wanted: &[Wanted],
    scope: Scope,
    awx_now: Micros,
) -> Result<Frame, KpiError> {
    let (hosts, shown) = load(inst, wanted, scope, awx_now).await?;
    let counts = |id: &i64| -> Option<[u64; 4]> {
        let jh = hosts.jobs.get(id)?;
        let mut c = [0u64; 4];
        for run in jh.runs_for(scope) {
            c[match run.outcome() {
                Outcome::Ok => 0,
                Outcome::Changed => 1,
                Outcome::Failed => 2,
                Outcome::Unreachable => 3,
            }] += 1;
        }
        Some(c)
    };
    let per_row: Vec<Option<[u64; 4]>> = row_ids.iter().map(counts).collect();
    let all = scope == Scope::All;
    for (k, name) in [
        "hosts_ok",
        "hosts_changed",
        "hosts_failed",
        "hosts_unreachable",
    ]
    .iter()
    .enumerate()
    {
        let shown_here = all || k >= 2;
        frame = frame.with_field(
            Field::new(
                *name,
                Values::F64(
                    per_row
                        .iter()
                        .map(|c| c.filter(|_| shown_here).map(|c| c[k] as f64))
                        .collect(),
                ),
            )
            .with_unit("short"),
        );
    }
    let executed = frame.meta.executed_query_string.take().unwrap_or_default();
    Ok(frame.with_executed_query(format!("{executed}\n{shown}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_links_point_at_awx_host_pages() {
        assert_eq!(
            host_url("https://awx.example.com/", 12),
            "https://awx.example.com/#/hosts/12/details"
        );
    }

    #[test]
    fn the_host_filter_takes_names_and_ids() {
        let h = HostInfo {
            id: Some(12),
            name: Arc::from("web-01"),
        };
        assert!(host_matches(&[], &h));
        assert!(host_matches(&["web-01".into()], &h));
        assert!(host_matches(&["12".into()], &h));
        assert!(!host_matches(&["web-02".into(), "13".into()], &h));
        let gone = HostInfo {
            id: None,
            name: Arc::from("12"),
        };
        assert!(
            host_matches(&["12".into()], &gone),
            "a deleted host by its name"
        );
    }
}
