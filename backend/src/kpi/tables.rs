//! The table KPIs over job records: `jobs` (the jobs active in the range, newest
//! first) and `templates` (one row per template over the range).

use crate::frame::{Field, FieldConfig, Frame, Link, Values};
use crate::instances::Instance;
use crate::jobs::record::micros;
use crate::jobs::{Job, JobStore, JobTable, Ref, Selection, Sym, TimeKind};
use crate::query::{JobStatus, JobType, Query};

use super::records::{self, Loaded};
use super::template_stats::{self, Summary};
use super::{series, KpiError};

/// The AWX UI page of a job, as the contract gives it.
pub fn job_url(ui_base: &str, job_type: Option<JobType>, id: i64) -> String {
    let kind = match job_type {
        Some(JobType::Job) | None => "playbook",
        Some(JobType::WorkflowJob) => "workflow",
        Some(JobType::ProjectUpdate) => "project",
        Some(JobType::InventoryUpdate) => "inventory",
        Some(JobType::SystemJob) => "system",
        Some(JobType::AdHocCommand) => "command",
    };
    format!(
        "{}/#/jobs/{kind}/{id}/output",
        ui_base.trim_end_matches('/')
    )
}

fn template_url(ui_base: &str, job_type: Option<JobType>, id: Option<i64>) -> Option<String> {
    let id = id?;
    let path = match job_type? {
        JobType::Job => format!("templates/job_template/{id}/details"),
        JobType::WorkflowJob => format!("templates/workflow_job_template/{id}/details"),
        JobType::ProjectUpdate => format!("projects/{id}/details"),
        _ => return None,
    };
    Some(format!("{}/#/{path}", ui_base.trim_end_matches('/')))
}

fn link_config(title: &str) -> FieldConfig {
    FieldConfig {
        links: vec![Link {
            title: title.to_string(),
            url: "${__data.fields.link}".to_string(),
            target_blank: true,
        }],
        ..Default::default()
    }
}

fn time_field(name: &str, values: impl Iterator<Item = Option<i64>>) -> Field {
    Field::new(
        name,
        Values::Time(values.map(|t| t.map(|us| us * 1000)).collect()),
    )
}

fn sym_field(loaded: &Loaded<'_>, name: &str, rows: &[&Job], f: fn(&Job) -> Sym) -> Field {
    Field::new(
        name,
        Values::strings(rows.iter().map(|j| loaded.name(f(j)))),
    )
}

fn object_field(loaded: &Loaded<'_>, name: &str, rows: &[&Job], f: fn(&Job) -> Ref) -> Field {
    Field::new(
        name,
        Values::strings(rows.iter().map(|j| loaded.object(f(j)))),
    )
}

pub async fn jobs(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let from = micros(q.range.from);
    let to = micros(q.range.to);
    let scope = super::hosts::scope(q.host_summaries);
    // The records are not held while AWX is asked for the rows' hosts.
    let (frame, row_ids, wanted, awx_now) = {
        let loaded = records::load(inst, q, from).await?;
        let (frame, rows) = jobs_frame(inst, q, &loaded, from, to);
        let wanted = scope
            .map(|s| super::hosts::job_rows_with_hosts(rows.iter().copied(), s))
            .unwrap_or_default();
        let row_ids: Vec<i64> = rows.iter().map(|j| j.id).collect();
        (frame, row_ids, wanted, super::hosts::clock(&loaded))
    };
    let frame = match scope {
        Some(scope) => {
            super::hosts::with_job_host_columns(inst, frame, &row_ids, &wanted, scope, awx_now)
                .await?
        }
        None => frame,
    };
    Ok(vec![frame])
}

/// The jobs table over the loaded records, and its rows.
fn jobs_frame<'l>(
    inst: &Instance,
    q: &Query,
    loaded: &'l Loaded<'_>,
    from: i64,
    to: i64,
) -> (Frame, Vec<&'l Job>) {
    let sel = loaded.select(q);
    // Active in the range: created before its end, not finished before its start.
    let active =
        |j: &Job| sel.matches(j) && j.created < to && j.finished().is_none_or(|f| f >= from);
    // The records are sorted by id: newest first is the walk from the end, no sort.
    let mut rows: Vec<&Job> = Vec::with_capacity(q.limit.min(1024));
    let total = match loaded.store {
        Some(store) => {
            for j in loaded.records.jobs().iter().rev() {
                if rows.len() == q.limit {
                    break;
                }
                if active(j) {
                    rows.push(j);
                }
            }
            active_total(store, loaded, q, &sel, from, to)
        }
        None => {
            let mut total = 0;
            for j in loaded.records.jobs().iter().rev() {
                if active(j) {
                    total += 1;
                    if rows.len() < q.limit {
                        rows.push(j);
                    }
                }
            }
            total
        }
    };
    let ui = inst.settings.awx.ui_url.as_str();
    let mut frame = Frame::new("jobs")
        .with_executed_query(&loaded.executed)
        .with_visualisation("table")
        .with_field(
            Field::new("id", Values::I64(rows.iter().map(|j| Some(j.id)).collect()))
                .with_config(link_config("Open in AWX")),
        )
        .with_field(sym_field(loaded, "name", &rows, |j| j.name))
        .with_field(Field::new(
            "type",
            Values::strings(rows.iter().map(|j| j.job_type.map(JobType::as_str))),
        ))
        .with_field(Field::new(
            "status",
            Values::strings(rows.iter().map(|j| j.status.map(JobStatus::as_str))),
        ))
        .with_field(object_field(loaded, "template", &rows, |j| j.template))
        .with_field(object_field(loaded, "organization", &rows, |j| {
            j.organization
        }))
        .with_field(object_field(loaded, "inventory", &rows, |j| j.inventory))
        .with_field(object_field(loaded, "project", &rows, |j| j.project))
        .with_field(sym_field(loaded, "launched_by", &rows, |j| j.launched_by))
        .with_field(Field::new(
            "launch_type",
            Values::strings(rows.iter().map(|j| j.launch_type.map(|l| l.as_str()))),
        ))
        .with_field(time_field("created", rows.iter().map(|j| Some(j.created))))
        .with_field(time_field("started", rows.iter().map(|j| j.started())))
        .with_field(time_field("finished", rows.iter().map(|j| j.finished())))
        .with_field(
            Field::new(
                "elapsed",
                Values::F64(rows.iter().map(|j| j.duration()).collect()),
            )
            .with_unit("s"),
        )
        .with_field(
            Field::new(
                "queue_wait",
                Values::F64(rows.iter().map(|j| j.queue_wait()).collect()),
            )
            .with_unit("s"),
        )
        .with_field(sym_field(loaded, "execution_node", &rows, |j| {
            j.execution_node
        }))
        .with_field(object_field(loaded, "instance_group", &rows, |j| {
            j.instance_group
        }))
        .with_field(Field::new(
            "link",
            Values::strings(rows.iter().map(|j| Some(job_url(ui, j.job_type, j.id)))),
        ));
    if total > rows.len() {
        frame = frame.with_notice(
            crate::frame::Severity::Info,
            format!("Showing the newest {} of {total} jobs; raise `limit` (at most 10000) or narrow the filters.", rows.len()),
        );
    }
    (frame, rows)
}

/// How many selected jobs held are active in `[from, to)`, without visiting them all:
/// every job held finished at or after the coverage start, or has not finished, so the
/// active ones are all the selected jobs (kept count) but those that finished before
/// `from` (kept per-hour counts, see [`series::count_finished`]) and those created at
/// or after `to` (the newest, through the time index).
fn active_total(
    store: &JobStore,
    loaded: &Loaded<'_>,
    q: &Query,
    sel: &Selection,
    from: i64,
    to: i64,
) -> usize {
    let table: &JobTable = &loaded.records;
    let selected = selected_count(store, table, q, sel);
    let finished_before = match table.coverage_from() {
        Some(c) if c < from => series::count_finished(loaded, q, sel.clone(), c, from),
        _ => 0,
    };
    let created_after = table
        .jobs_between(TimeKind::Created, to, i64::MAX)
        .filter(|j| sel.matches(j) && j.finished().is_none_or(|f| f >= from))
        .count();
    selected.saturating_sub(finished_before + created_after)
}

/// The number of selected jobs held, kept between refreshes and updated with the jobs
/// that changed.
struct CountMemo {
    epoch: u64,
    version: u64,
    count: usize,
}

fn selected_count(store: &JobStore, table: &JobTable, q: &Query, sel: &Selection) -> usize {
    let slot = store.memo(&format!("selected|{:?}|{}", q.filters, q.include_syncs));
    let mut memo = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = memo.downcast_mut::<CountMemo>() {
        if m.epoch == table.epoch() {
            if let Some(changes) = table.changes_since(m.version) {
                let mut count = m.count as i64;
                for (old, new) in changes {
                    count -= i64::from(old.as_ref().is_some_and(|j| sel.matches(j)));
                    count += i64::from(new.as_ref().is_some_and(|j| sel.matches(j)));
                }
                m.count = count.max(0) as usize;
                m.version = table.version();
                return m.count;
            }
        }
    }
    let count = table.jobs().iter().filter(|j| sel.matches(j)).count();
    *memo = Box::new(CountMemo {
        epoch: table.epoch(),
        version: table.version(),
        count,
    });
    count
}

/// The last `templates` answer of one query shape, for an identical query over the same
/// range and records (a dashboard shows the same table twice; it is computed once).
struct TemplatesMemo {
    epoch: u64,
    version: u64,
    from: i64,
    to: i64,
    frame: Frame,
}

pub async fn templates(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let from = micros(q.range.from);
    let to = micros(q.range.to);
    let loaded = records::load(inst, q, from).await?;
    let Some(store) = loaded.store else {
        return Ok(vec![templates_frame(inst, q, &loaded, from, to)]);
    };
    let key = format!("templates|{:?}|{}|{}", q.filters, q.include_syncs, q.limit);
    let slot = store.memo(&key);
    // Held while computing: an identical query at the same moment waits, then reuses.
    let mut memo = slot.lock().unwrap_or_else(|p| p.into_inner());
    let (epoch, version) = (loaded.records.epoch(), loaded.records.version());
    if let Some(m) = memo.downcast_ref::<TemplatesMemo>() {
        if (m.epoch, m.version, m.from, m.to) == (epoch, version, from, to) {
            let mut frame = m.frame.clone();
            frame.meta.executed_query_string = Some(loaded.executed.clone());
            return Ok(vec![frame]);
        }
    }
    let frame = templates_frame(inst, q, &loaded, from, to);
    *memo = Box::new(TemplatesMemo {
        epoch,
        version,
        from,
        to,
        frame: frame.clone(),
    });
    Ok(vec![frame])
}

fn templates_frame(inst: &Instance, q: &Query, loaded: &Loaded<'_>, from: i64, to: i64) -> Frame {
    let sel = loaded.select(q);
    let mut rows = template_stats::summaries(loaded, q, &sel, from, to);
    // Most runs first; ties by name for a stable order.
    rows.sort_by(|a, b| {
        b.1.runs
            .cmp(&a.1.runs)
            .then_with(|| loaded.object(a.0).cmp(&loaded.object(b.0)))
    });
    let total = rows.len();
    rows.truncate(q.limit);
    let ui = inst.settings.awx.ui_url.as_str();
    let num =
        |f: &dyn Fn(&Summary) -> Option<f64>| Values::F64(rows.iter().map(|(_, r)| f(r)).collect());
    let mut frame = Frame::new("templates")
        .with_executed_query(&loaded.executed)
        .with_visualisation("table")
        .with_field(
            Field::new(
                "template",
                Values::strings(rows.iter().map(|(t, _)| loaded.object(*t))),
            )
            .with_config(link_config("Open template in AWX")),
        )
        .with_field(Field::new(
            "type",
            Values::strings(rows.iter().map(|(_, r)| r.job_type.map(JobType::as_str))),
        ))
        .with_field(Field::new(
            "organization",
            Values::strings(rows.iter().map(|(_, r)| loaded.object(r.organization))),
        ))
        .with_field(Field::new("runs", num(&|r| Some(r.runs as f64))).with_unit("short"))
        .with_field(
            Field::new("successful", num(&|r| Some(r.successful as f64))).with_unit("short"),
        )
        .with_field(Field::new("failed", num(&|r| Some(r.failures as f64))).with_unit("short"))
        .with_field(Field::new("canceled", num(&|r| Some(r.canceled as f64))).with_unit("short"))
        .with_field(
            Field::new(
                "failure_rate",
                num(&|r| {
                    let finished = r.successful + r.failures;
                    (finished > 0).then(|| r.failures as f64 / finished as f64 * 100.0)
                }),
            )
            .with_unit("percent"),
        )
        .with_field(Field::new("mean_duration", num(&|r| r.mean_duration)).with_unit("s"))
        .with_field(Field::new("p95_duration", num(&|r| r.p95_duration)).with_unit("s"))
        .with_field(Field::new("mean_queue_wait", num(&|r| r.mean_wait)).with_unit("s"))
        .with_field(Field::new(
            "last_run",
            Values::Time(
                rows.iter()
                    .map(|(_, r)| r.last_finished.map(|t| t * 1000))
                    .collect(),
            ),
        ))
        .with_field(Field::new(
            "last_status",
            Values::strings(
                rows.iter()
                    .map(|(_, r)| r.last_status.map(JobStatus::as_str)),
            ),
        ))
        .with_field(Field::new(
            "link",
            Values::strings(
                rows.iter()
                    .map(|(t, r)| template_url(ui, r.job_type, loaded.records.names.id_of(*t))),
            ),
        ));
    if total > rows.len() {
        frame = frame.with_notice(
            crate::frame::Severity::Info,
            format!(
                "Showing {} of {total} templates; raise `limit`.",
                rows.len()
            ),
        );
    }
    frame
}
