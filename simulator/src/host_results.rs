//! What a playbook run leaves per host: AWX's job host summaries (`jobs/{id}/job_host_summaries/`,
//! `hosts/{id}/job_host_summaries/`, `groups/{id}/job_host_summaries/`,
//! `job_host_summaries/{id}/`), the job's `host_status_counts` and the hosts' `last_job`,
//! `last_job_host_summary` and `has_active_failures`. All are derived from one deterministic
//! function of (job, host), so they always agree with each other and with the job's status.
//!
//! AWX writes the summaries from the run's `playbook_on_stats` event, which only a run that
//! reaches its end emits: successful and failed jobs have them, jobs that never started, were
//! canceled or errored have none (and `host_status_counts` stays null). A run covers the hosts
//! of its inventory that are enabled when it starts (AWX leaves disabled hosts out).
//! A successful run has no failed or unreachable host; a failed run has at least one: a
//! flaky host more often than not, a few others at random, and now and then (one failed run in
//! twelve) most of the inventory at once, a broken playbook.
//! There is no top-level list (`job_host_summaries/` is 404 in AWX 24.6.1).

use crate::engine::Sim;
use crate::filter::{Kind, Row, RowSchema, Typed};
use crate::json::object;
use crate::model::*;
use crate::time::{Micros, NONE_TS};
use crate::world::World;

/// Summary ids are `job id * STRIDE + host position`: unique without storing anything, and
/// ordered like AWX's (summaries are created per job, after the job's). Larger than the
/// largest inventory.
pub const STRIDE: i64 = 10_000;

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

/// splitmix64: a stable hash, so a summary is the same on every request.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn inventory_of<'w>(w: &'w World, j: &Job) -> Option<&'w Inventory> {
    w.inventories.get(j.inventory as usize)
}

fn host_at<'w>(w: &'w World, inv: &Inventory, pos: usize) -> Option<&'w Host> {
    w.hosts.get(inv.first_host + pos)
}

/// Whether host `pos` of the job's inventory was in the run: enabled when the job started.
pub fn ran(w: &World, j: &Job, inv: &Inventory, pos: usize) -> bool {
    pos < inv.host_count as usize && host_at(w, inv, pos).is_some_and(|h| h.enabled_at(j.started))
}

/// The positions of the hosts a run covered, ascending.
pub fn run_positions<'a>(
    w: &'a World,
    j: &'a Job,
    inv: &'a Inventory,
) -> impl DoubleEndedIterator<Item = usize> + 'a {
    (0..inv.host_count as usize).filter(move |&p| ran(w, j, inv, p))
}

/// One failed run in twelve fails on most of the inventory at once (a broken playbook).
pub fn mass_failure(j: &Job) -> bool {
    j.status == Status::Failed && mix(j.id as u64 ^ 0x3A55_0000).is_multiple_of(12)
}

/// The host that surely fails in a failed run, so that every failed run has one: a flaky host
/// six times in ten, else any host of the run.
fn designated(w: &World, j: &Job, inv: &Inventory) -> Option<usize> {
    let h = mix(j.id as u64 ^ 0xDE51_0000);
    if !inv.flaky.is_empty() && h % 10 < 6 {
        let k = (h >> 8) as usize % inv.flaky.len();
        for off in 0..inv.flaky.len() {
            let pos = inv.flaky[(k + off) % inv.flaky.len()];
            if ran(w, j, inv, pos) {
                return Some(pos);
            }
        }
    }
    let n = inv.host_count as usize;
    if n == 0 {
        return None;
    }
    let start = (h >> 16) as usize % n;
    (0..n)
        .map(|off| (start + off) % n)
        .find(|&pos| ran(w, j, inv, pos))
}

/// The counters of host number `pos` of the job's inventory, `None` if the host was not in
/// the run.
pub fn host_result(w: &World, j: &Job, inv: &Inventory, pos: usize) -> Option<HostResult> {
    if !ran(w, j, inv, pos) {
        return None;
    }
    let host = host_at(w, inv, pos)?;
    let h = mix(((j.id as u64) << 20) ^ pos as u64);
    let mut r = HostResult {
        ok: 2 + (h % 17) as i64,
        changed: ((h >> 8) % 4) as i64,
        skipped: ((h >> 16) % 3) as i64,
        failures: 0,
        dark: 0,
        // an ignored error or a rescued block now and then, which fail nothing
        ignored: (h >> 24).is_multiple_of(29) as i64,
        rescued: (h >> 29).is_multiple_of(37) as i64,
    };
    if j.status != Status::Failed {
        return Some(r);
    }
    let n = inv.host_count.max(1) as u64;
    let roll = (h >> 40) % 10_000;
    let mass = mass_failure(j);
    let hit = designated(w, j, inv) == Some(pos)
        || match host.flaky {
            Flaky::No if mass => roll < 6_000,
            // about one and a half hosts per failed run besides the flaky ones
            Flaky::No => roll < (15_000 / n).min(5_000),
            Flaky::Fails | Flaky::Unreachable => roll < 7_000,
        };
    if !hit {
        return Some(r);
    }
    let k = (h >> 54) % 100;
    let unreachable = match host.flaky {
        Flaky::Unreachable => k < 85,
        Flaky::Fails => k < 5,
        Flaky::No if mass => k < 10,
        Flaky::No => k < 25,
    };
    if unreachable {
        // the tasks before the connection dropped went through
        r = HostResult {
            ok: ((h >> 33) % 3) as i64,
            changed: 0,
            skipped: 0,
            failures: 0,
            dark: 1,
            ignored: 0,
            rescued: 0,
        };
    } else {
        r.failures = 1 + ((h >> 36) % 2) as i64;
        r.rescued = 0;
    }
    Some(r)
}

/// `host_status_counts` of a job with results, in a fixed key order, zero counts left out.
pub fn status_counts(w: &World, j: &Job) -> Vec<(&'static str, i64)> {
    let mut counts = [
        ("ok", 0i64),
        ("changed", 0),
        ("failures", 0),
        ("dark", 0),
        ("skipped", 0),
    ];
    if let Some(inv) = inventory_of(w, j) {
        for pos in 0..inv.host_count as usize {
            if let Some(r) = host_result(w, j, inv, pos) {
                let s = r.state();
                if let Some(c) = counts.iter_mut().find(|c| c.0 == s) {
                    c.1 += 1;
                }
            }
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

/// One summary as AWX's JobHostSummarySerializer writes it (job_host_summaries.json); `None`
/// when the host was not in the run.
fn row(w: &World, j: &Job, inv: &Inventory, pos: usize, api: &str, now: Micros) -> Option<Row> {
    let host = host_at(w, inv, pos)?;
    let r = host_result(w, j, inv, pos)?;
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

/// `hosts/{id}/job_host_summaries/`: every run the host was in, newest first.
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

/// `groups/{id}/job_host_summaries/`: every run of every host of the group (AWX's
/// `Group.job_host_summaries`, over the group's hosts), newest first.
pub fn for_group(sim: &Sim, group_id: u32, api: &str) -> Option<(RowSchema, Vec<Row>)> {
    let w = &sim.world;
    let gi = (group_id as usize).checked_sub(1)?;
    let group = w.groups.get(gi).filter(|g| g.id == group_id)?;
    let inv = w.inventories.get(group.inventory as usize)?;
    let members: Vec<usize> = (0..inv.host_count as usize)
        .rev()
        .filter(|&p| host_at(w, inv, p).is_some_and(|h| h.group as usize == gi))
        .collect();
    let mut rows = Vec::new();
    for j in sim
        .jobs
        .iter()
        .rev()
        .filter(|j| j.inventory == group.inventory && has_results(j))
    {
        for &pos in &members {
            rows.extend(row(w, j, inv, pos, api, sim.now));
        }
    }
    Some((schema(), rows))
}

/// `job_host_summaries/{id}/`: the detail view (the only top-level form AWX has).
pub fn detail(sim: &Sim, id: i64, api: &str) -> Option<String> {
    if id < 0 {
        return None;
    }
    let (job_id, pos) = (u32::try_from(id / STRIDE).ok()?, (id % STRIDE) as usize);
    let j = sim.index_of(job_id).map(|i| &sim.jobs[i])?;
    if !has_results(j) {
        return None;
    }
    let inv = inventory_of(&sim.world, j)?;
    row(&sim.world, j, inv, pos, api, sim.now).map(|r| r.json)
}

/// The newest run with results on each inventory (index = inventory index).
fn last_runs(sim: &Sim) -> Vec<Option<&Job>> {
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

/// What AWX's hosts/ shows of a host's runs: its newest run (`last_job`), whether it failed
/// there (`has_active_failures`) and up to five newest runs (`summary_fields.recent_jobs`).
pub struct HostState<'s> {
    pub last_job: Option<&'s Job>,
    pub failed: bool,
    pub recent: Vec<&'s Job>,
}

/// [`HostState`] of every host (index = host index).
pub fn host_states(sim: &Sim) -> Vec<HostState<'_>> {
    let w = &sim.world;
    let last = last_runs(sim);
    let recent_of_inventory: Vec<Vec<&Job>> = (0..w.inventories.len())
        .map(|i| {
            sim.jobs
                .iter()
                .rev()
                .filter(|j| j.inventory as usize == i && has_results(j))
                .take(5)
                .collect()
        })
        .collect();
    w.hosts
        .iter()
        .enumerate()
        .map(|(idx, h)| {
            let Some(inv) = w.inventories.get(h.inventory as usize) else {
                return HostState {
                    last_job: None,
                    failed: false,
                    recent: Vec::new(),
                };
            };
            let pos = idx - inv.first_host;
            let (last_job, recent) = if h.disabled_at == i64::MIN {
                // never enabled: never in a run
                (None, Vec::new())
            } else if last[h.inventory as usize].is_some_and(|j| ran(w, j, inv, pos)) {
                (
                    last[h.inventory as usize],
                    recent_of_inventory[h.inventory as usize].clone(),
                )
            } else {
                // disabled since some runs: its own newest ones
                let mine: Vec<&Job> = sim
                    .jobs
                    .iter()
                    .rev()
                    .filter(|j| j.inventory == h.inventory && has_results(j))
                    .filter(|j| ran(w, j, inv, pos))
                    .take(5)
                    .collect();
                (mine.first().copied(), mine)
            };
            let failed = last_job
                .and_then(|j| host_result(w, j, inv, pos))
                .is_some_and(|r| r.failed());
            HostState {
                last_job,
                failed,
                recent,
            }
        })
        .collect()
}

/// `/_sim/truth/host_summaries`: every run with results that finished in `[from, to)`, oldest
/// first, with each host's counters (`failed_only`: only the hosts that failed or were
/// unreachable). Built from the model, not from the API's rows.
pub fn truth_summaries(sim: &Sim, from: Micros, to: Micros, failed_only: bool) -> String {
    let w = &sim.world;
    let mut out = String::new();
    let mut a = crate::json::Arr::new(&mut out);
    for j in sim
        .jobs
        .iter()
        .filter(|j| has_results(j) && j.finished >= from && j.finished < to)
    {
        let Some(inv) = inventory_of(w, j) else {
            continue;
        };
        a.obj(|o| {
            o.int("job", j.id as i64)
                .str("status", j.status.as_str())
                .ts("finished", j.finished)
                .opt_str(
                    "template",
                    w.ujts.get(j.ujt as usize).map(|u| u.name.as_str()),
                )
                .str("inventory", &inv.name)
                .arr("hosts", |hs| {
                    for pos in 0..inv.host_count as usize {
                        let Some(r) = host_result(w, j, inv, pos) else {
                            continue;
                        };
                        if failed_only && !r.failed() {
                            continue;
                        }
                        let Some(host) = host_at(w, inv, pos) else {
                            continue;
                        };
                        hs.obj(|x| {
                            x.int("host", host.id as i64)
                                .str("name", &host.name)
                                .int("ok", r.ok)
                                .int("changed", r.changed)
                                .int("failures", r.failures)
                                .int("dark", r.dark)
                                .int("skipped", r.skipped)
                                .int("ignored", r.ignored)
                                .int("rescued", r.rescued)
                                .bool("failed", r.failed());
                        });
                    }
                });
        });
    }
    a.end();
    out
}

/// `/_sim/truth/hosts`: every host with its current state, its last run and whether it
/// failed there, found by walking the runs newest first (not through [`host_states`]).
pub fn truth_hosts(sim: &Sim) -> String {
    let w = &sim.world;
    let mut out = String::new();
    let mut a = crate::json::Arr::new(&mut out);
    for (idx, h) in w.hosts.iter().enumerate() {
        let Some(inv) = w.inventories.get(h.inventory as usize) else {
            continue;
        };
        let pos = idx - inv.first_host;
        let last = sim
            .jobs
            .iter()
            .rev()
            .filter(|j| j.inventory == h.inventory && has_results(j))
            .find_map(|j| host_result(w, j, inv, pos).map(|r| (j, r)));
        a.obj(|o| {
            o.int("id", h.id as i64)
                .str("name", &h.name)
                .str("inventory", &inv.name)
                .bool("enabled", h.enabled_at(sim.now))
                .str("flaky", h.flaky.as_str())
                .opt_str(
                    "group",
                    w.groups.get(h.group as usize).map(|g| g.name.as_str()),
                )
                .opt_int("last_job", last.map(|(j, _)| j.id as i64))
                .bool("has_active_failures", last.is_some_and(|(_, r)| r.failed()));
        });
    }
    a.end();
    out
}
