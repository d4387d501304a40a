//! What a playbook run leaves per host: AWX's job host summaries (`jobs/{id}/job_host_summaries/`,
//! `hosts/{id}/job_host_summaries/`, `job_host_summaries/{id}/`), the job's `host_status_counts`
//! and the hosts' `last_job`, `last_job_host_summary` and `has_active_failures`. All are derived
//! from one deterministic function of (job, host), so they always agree with each other.
//!
//! AWX writes the summaries from the run's `playbook_on_stats` event, which only a run that
//! reaches its end emits: successful and failed jobs have them, jobs that never started, were
//! canceled or errored have none (and `host_status_counts` stays null).
//! There is no top-level list (`job_host_summaries/` is 404 in AWX 24.6.1).

use crate::engine::Sim;
use crate::filter::{Kind, Row, RowSchema, Typed};
use crate::json::object;
use crate::model::*;
use crate::time::{Micros, NONE_TS};
use crate::world::World;

/// Summary ids are `job id * STRIDE + host position`: unique without storing anything, and
/// ordered like AWX's (summaries are created per job, after the job's).
pub const STRIDE: i64 = 1000;

/// Whether the job has host summaries.
pub fn has_results(j: &Job) -> bool {
    j.jtype == JobType::Job
        && j.started != NONE_TS
        && matches!(j.status, Status::Successful | Status::Failed)
}

/// One host's counters in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostResult {
    pub ok: i64,
    pub changed: i64,
    pub skipped: i64,
    pub failures: i64,
    pub dark: i64,
    pub ignored: i64,
    pub rescued: i64,
}

impl HostResult {
    /// AWX's `JobHostSummary.failed`: a failed or unreachable task.
    pub fn failed(&self) -> bool {
        self.failures > 0 || self.dark > 0
    }
    /// The host's state in `host_status_counts`: its worst (dark > failures > changed > ok >
    /// skipped, the order in which `create_host_status_counts` overwrites).
    pub fn state(&self) -> &'static str {
        if self.dark > 0 {
            "dark"
        } else if self.failures > 0 {
            "failures"
        } else if self.changed > 0 {
            "changed"
        } else if self.ok > 0 {
            "ok"
        } else {
            "skipped"
        }
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64: a stable hash, so a summary is the same on every request
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// How many hosts (the first ones of the inventory) fail in a failed run.
pub fn failing_hosts(host_count: u32) -> usize {
    (host_count as usize / 5).max(1)
}

/// The counters of host number `pos` of the job's inventory.
pub fn host_result(j: &Job, host_count: u32, pos: usize) -> HostResult {
    let h = mix(((j.id as u64) << 16) ^ pos as u64);
    let mut r = HostResult {
        ok: 2 + (h % 17) as i64,
        changed: ((h >> 8) % 4) as i64,
        skipped: ((h >> 16) % 3) as i64,
        failures: 0,
        dark: 0,
        ignored: 0,
        rescued: 0,
    };
    if j.status == Status::Failed && pos < failing_hosts(host_count) {
        // every third failing host is unreachable rather than failed
        if pos % 3 == 2 {
            r = HostResult {
                ok: 0,
                changed: 0,
                skipped: 0,
                dark: 1,
                ..r
            };
        } else {
            r.failures = 1;
        }
    }
    r
}

fn inventory_of<'w>(w: &'w World, j: &Job) -> Option<&'w Inventory> {
    w.inventories.get(j.inventory as usize)
}

/// `host_status_counts` of a job with results, in a fixed key order, zero counts left out.
pub fn status_counts(w: &World, j: &Job) -> Vec<(&'static str, i64)> {
    let n = inventory_of(w, j).map(|i| i.host_count).unwrap_or(0);
    let mut counts = [
        ("ok", 0i64),
        ("changed", 0),
        ("failures", 0),
        ("dark", 0),
        ("skipped", 0),
    ];
    for pos in 0..n as usize {
        let s = host_result(j, n, pos).state();
        if let Some(c) = counts.iter_mut().find(|c| c.0 == s) {
            c.1 += 1;
        }
    }
    counts.into_iter().filter(|c| c.1 > 0).collect()
}

pub fn summary_id(job_id: u32, pos: usize) -> i64 {
    job_id as i64 * STRIDE + pos as i64
}

fn created_at(j: &Job, pos: usize) -> Micros {
    // written by the callback receiver shortly after the job ends, host by host
    j.finished + 5_000 + pos as i64 * 1_000
}

/// The filterable fields of a job host summary, in the order of [`Row::vals`].
fn schema() -> RowSchema {
    RowSchema::new(
        "JobHostSummary",
        vec![
            ("id", Kind::Int),
            ("job", Kind::Fk),
            ("host", Kind::Fk),
            ("host__name", Kind::Str),
            ("host_name", Kind::Str),
            ("changed", Kind::Int),
            ("dark", Kind::Int),
            ("failures", Kind::Int),
            ("ok", Kind::Int),
            ("processed", Kind::Int),
            ("skipped", Kind::Int),
            ("failed", Kind::Bool),
            ("ignored", Kind::Int),
            ("rescued", Kind::Int),
            ("created", Kind::Time),
            ("modified", Kind::Time),
        ],
        vec![],
    )
}

/// One summary as AWX's JobHostSummarySerializer writes it (job_host_summaries.json).
fn row(w: &World, j: &Job, inv: &Inventory, pos: usize, api: &str, now: Micros) -> Option<Row> {
    let host = w.hosts.get(inv.first_host + pos)?;
    let r = host_result(j, inv.host_count, pos);
    let id = summary_id(j.id, pos);
    let created = created_at(j, pos);
    let modified = created + 14;
    let ujt = w.ujts.get(j.ujt as usize);
    let json = object(|o| {
        o.int("id", id)
            .str("type", "job_host_summary")
            .str("url", &format!("{api}job_host_summaries/{id}/"));
        o.obj("related", |x| {
            x.str("job", &format!("{api}jobs/{}/", j.id))
                .str("host", &format!("{api}hosts/{}/", host.id));
        });
        o.obj("summary_fields", |s| {
            s.obj("host", |x| {
                x.int("id", host.id as i64)
                    .str("name", &host.name)
                    .str("description", "");
            });
            s.obj("job", |x| {
                x.int("id", j.id as i64)
                    .str("name", w.job_name(j))
                    .str("description", w.job_description(j))
                    .str("status", j.status.as_str())
                    .bool("failed", j.failed())
                    .float("elapsed", j.elapsed(now))
                    .str("type", "job")
                    .opt_int("job_template_id", ujt.map(|u| u.id as i64))
                    .opt_str("job_template_name", ujt.map(|u| u.name.as_str()));
            });
        });
        o.ts("created", created)
            .ts("modified", modified)
            .int("job", j.id as i64)
            .int("host", host.id as i64)
            .null("constructed_host")
            .str("host_name", &host.name)
            .int("changed", r.changed)
            .int("dark", r.dark)
            .int("failures", r.failures)
            .int("ok", r.ok)
            .int("processed", 1)
            .int("skipped", r.skipped)
            .bool("failed", r.failed())
            .int("ignored", r.ignored)
            .int("rescued", r.rescued);
    });
    Some(Row {
        json,
        vals: vec![
            Typed::Int(id),
            Typed::Int(j.id as i64),
            Typed::Int(host.id as i64),
            Typed::Str(host.name.clone()),
            Typed::Str(host.name.clone()),
            Typed::Int(r.changed),
            Typed::Int(r.dark),
            Typed::Int(r.failures),
            Typed::Int(r.ok),
            Typed::Int(1),
            Typed::Int(r.skipped),
            Typed::Bool(r.failed()),
            Typed::Int(r.ignored),
            Typed::Int(r.rescued),
            Typed::Time(created),
            Typed::Time(modified),
        ],
        type_name: "job_host_summary",
    })
}

/// `jobs/{id}/job_host_summaries/`: None when there is no such job (404); rows newest id first,
/// AWX's default order for summaries.
pub fn for_job(sim: &Sim, job_id: u32, api: &str) -> Option<(RowSchema, Vec<Row>)> {
    let j = sim
        .index_of(job_id)
        .map(|i| &sim.jobs[i])
        .filter(|j| j.jtype == JobType::Job)?;
    let mut rows = Vec::new();
    if has_results(j) {
        if let Some(inv) = inventory_of(&sim.world, j) {
            for pos in (0..inv.host_count as usize).rev() {
                rows.extend(row(&sim.world, j, inv, pos, api, sim.now));
            }
        }
    }
    Some((schema(), rows))
}

/// `hosts/{id}/job_host_summaries/`: every run on the host's inventory, newest first.
pub fn for_host(sim: &Sim, host_id: u32, api: &str) -> Option<(RowSchema, Vec<Row>)> {
    let w = &sim.world;
    let idx = (host_id as usize).checked_sub(1)?;
    let host = w.hosts.get(idx).filter(|h| h.id == host_id)?;
    let inv = w.inventories.get(host.inventory as usize)?;
    let pos = idx.checked_sub(inv.first_host)?;
    let rows = sim
        .jobs
        .iter()
        .rev()
        .filter(|j| j.inventory == host.inventory && has_results(j))
        .filter_map(|j| row(w, j, inv, pos, api, sim.now))
        .collect();
    Some((schema(), rows))
}

/// `job_host_summaries/{id}/`: the detail view (the only top-level form AWX has).
pub fn detail(sim: &Sim, id: i64, api: &str) -> Option<String> {
    let (job_id, pos) = (u32::try_from(id / STRIDE).ok()?, (id % STRIDE) as usize);
    let j = sim.index_of(job_id).map(|i| &sim.jobs[i])?;
    if !has_results(j) {
        return None;
    }
    let inv = inventory_of(&sim.world, j)?;
    if pos >= inv.host_count as usize {
        return None;
    }
    row(&sim.world, j, inv, pos, api, sim.now).map(|r| r.json)
}

/// The newest run with results on each inventory (index = inventory index): what AWX's hosts
/// point at as `last_job`.
pub fn last_runs(sim: &Sim) -> Vec<Option<&Job>> {
    let w = &sim.world;
    let mut last: Vec<Option<&Job>> = vec![None; w.inventories.len()];
    let mut found = 0;
    for j in sim.jobs.iter().rev() {
        if !has_results(j) {
            continue;
        }
        if let Some(slot) = last.get_mut(j.inventory as usize) {
            if slot.is_none() {
                *slot = Some(j);
                found += 1;
                if found == w.inventories.len() {
                    break;
                }
            }
        }
    }
    last
}

/// Up to `n` newest runs with results on an inventory (a host's `recent_jobs`).
pub fn recent_runs(sim: &Sim, inventory: u16, n: usize) -> Vec<&Job> {
    sim.jobs
        .iter()
        .rev()
        .filter(|j| j.inventory == inventory && has_results(j))
        .take(n)
        .collect()
}
