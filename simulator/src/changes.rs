//! Changes a real AWX sees besides its own workload, applied on demand through `/_sim/*` so that
//! tests can put a client through them: renames (AWX's summary_fields names are live joins, so a
//! rename shows on every existing job without touching the job's `modified`), a job deleted in the
//! middle of history, a save that commits late (its `modified` older than what a `modified__gt`
//! poll already saw), many finished jobs arriving at once after a quiet spell, and purges
//! (cleanup_jobs deletes the oldest finished jobs).

use crate::engine::Sim;
use crate::model::*;
use crate::time::{Micros, NONE_TS, SEC};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Why a change was refused (the admin endpoint's status follows the variant).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    /// 400
    #[error("{0}")]
    Invalid(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 409: the object exists but is in a state that forbids the change
    #[error("{0}")]
    Conflict(String),
}

/// What a rename applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameKind {
    Organization,
    Inventory,
    Project,
    /// any unified job template but a project
    Template,
    Typed(UjtKind),
}

impl RenameKind {
    pub fn parse(s: &str) -> Option<RenameKind> {
        Some(match s {
            "organization" => RenameKind::Organization,
            "inventory" => RenameKind::Inventory,
            "project" => RenameKind::Project,
            "template" => RenameKind::Template,
            "job_template" => RenameKind::Typed(UjtKind::JobTemplate),
            "workflow_job_template" => RenameKind::Typed(UjtKind::WorkflowJobTemplate),
            "inventory_source" => RenameKind::Typed(UjtKind::InventorySource),
            "system_job_template" => RenameKind::Typed(UjtKind::SystemJobTemplate),
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "organization, inventory, project, template, job_template, workflow_job_template, inventory_source, system_job_template";

    fn takes(self, k: UjtKind) -> bool {
        match self {
            RenameKind::Project => k == UjtKind::Project,
            RenameKind::Template => k != UjtKind::Project,
            RenameKind::Typed(t) => k == t,
            RenameKind::Organization | RenameKind::Inventory => false,
        }
    }
}

/// An object picked by id or by its current name.
#[derive(Clone, Debug)]
pub enum Pick {
    Id(u32),
    Name(String),
}

impl Pick {
    fn is(&self, id: u32, name: &str) -> bool {
        match self {
            Pick::Id(i) => *i == id,
            Pick::Name(n) => n == name,
        }
    }
}

impl std::fmt::Display for Pick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pick::Id(i) => write!(f, "id {i}"),
            Pick::Name(n) => write!(f, "name {n:?}"),
        }
    }
}

/// A rename that was applied.
#[derive(Clone, Debug)]
pub struct Renamed {
    pub kind: &'static str,
    pub id: u32,
    pub old_name: String,
    pub new_name: String,
}

/// AWX's name fields are `CharField(max_length=512)`.
const MAX_NAME: usize = 512;

/// Finished jobs added by [`Sim::add_finished`].
#[derive(Clone, Debug)]
pub struct Added {
    pub first_id: u32,
    pub last_id: u32,
    pub from: Micros,
    pub to: Micros,
}

impl Sim {
    /// Renames an organization, inventory or template (projects are templates of their updates).
    /// Names are unique where AWX makes them unique: organizations everywhere, inventories and
    /// templates (of one kind) within their organization. The object's `modified` is now; the
    /// jobs keep theirs, and keep their own `name` (AWX copies it at launch), while every
    /// `summary_fields` name that points at the object changes.
    pub fn rename(
        &mut self,
        kind: RenameKind,
        pick: &Pick,
        new_name: &str,
    ) -> Result<Renamed, ChangeError> {
        if new_name.trim().is_empty() || new_name.chars().count() > MAX_NAME {
            return Err(ChangeError::Invalid(format!(
                "new_name must be 1 to {MAX_NAME} characters, not blank"
            )));
        }
        let now = self.now;
        let w = &mut self.world;
        let taken = |same: bool, other: &str| same && other == new_name;
        match kind {
            RenameKind::Organization => {
                let i = w
                    .orgs
                    .iter()
                    .position(|o| pick.is(o.id, &o.name))
                    .ok_or_else(|| ChangeError::NotFound(format!("no organization with {pick}")))?;
                if w.orgs
                    .iter()
                    .enumerate()
                    .any(|(k, o)| taken(k != i, &o.name))
                {
                    return Err(ChangeError::Conflict(format!(
                        "an organization is already named {new_name:?}"
                    )));
                }
                let o = &mut w.orgs[i];
                let old = std::mem::replace(&mut o.name, new_name.to_string());
                o.modified = Some(now);
                Ok(Renamed {
                    kind: "organization",
                    id: o.id,
                    old_name: old,
                    new_name: new_name.to_string(),
                })
            }
            RenameKind::Inventory => {
                let i = w
                    .inventories
                    .iter()
                    .position(|v| pick.is(v.id, &v.name))
                    .ok_or_else(|| ChangeError::NotFound(format!("no inventory with {pick}")))?;
                let org = w.inventories[i].org;
                if w.inventories
                    .iter()
                    .enumerate()
                    .any(|(k, v)| taken(k != i && v.org == org, &v.name))
                {
                    return Err(ChangeError::Conflict(format!(
                        "an inventory of the same organization is already named {new_name:?}"
                    )));
                }
                let v = &mut w.inventories[i];
                let old = std::mem::replace(&mut v.name, new_name.to_string());
                v.modified = Some(now);
                let id = v.id;
                // inventory updates are named "<inventory> - <source>" at launch
                for u in w.ujts.iter_mut() {
                    if u.kind == UjtKind::InventorySource && u.inventory as usize == i {
                        let job_name = format!("{new_name} - {}", u.name);
                        set_job_name(u, job_name, now);
                    }
                }
                Ok(Renamed {
                    kind: "inventory",
                    id,
                    old_name: old,
                    new_name: new_name.to_string(),
                })
            }
            _ => {
                let i = w
                    .ujts
                    .iter()
                    .position(|u| kind.takes(u.kind) && pick.is(u.id, &u.name))
                    .ok_or_else(|| {
                        ChangeError::NotFound(format!(
                            "no {} with {pick}",
                            match kind {
                                RenameKind::Project => "project",
                                RenameKind::Typed(k) => k.type_name(),
                                _ => "template",
                            }
                        ))
                    })?;
                let (k0, org) = (w.ujts[i].kind, w.ujts[i].org);
                if w.ujts
                    .iter()
                    .enumerate()
                    .any(|(k, u)| taken(k != i && u.kind == k0 && u.org == org, &u.name))
                {
                    return Err(ChangeError::Conflict(format!(
                        "a {} of the same organization is already named {new_name:?}",
                        k0.type_name()
                    )));
                }
                let job_name = if k0 == UjtKind::InventorySource {
                    let inv = w.ujts[i].inventory;
                    format!("{} - {new_name}", w.inventory_name(inv).unwrap_or(""))
                } else {
                    new_name.to_string()
                };
                let u = &mut w.ujts[i];
                let old = std::mem::replace(&mut u.name, new_name.to_string());
                u.modified = Some(now);
                set_job_name(u, job_name, now);
                Ok(Renamed {
                    kind: k0.type_name(),
                    id: u.id,
                    old_name: old,
                    new_name: new_name.to_string(),
                })
            }
        }
    }

    /// Deletes one finished job (AWX refuses to delete a job that has not finished). A deleted
    /// workflow job takes its nodes along: its children lose their `source_workflow_job`.
    pub fn delete_job(&mut self, id: u32) -> Result<Job, ChangeError> {
        let i = self
            .index_of(id)
            .ok_or_else(|| ChangeError::NotFound(format!("no job with id {id}")))?;
        if !self.jobs[i].status.is_final() {
            return Err(ChangeError::Conflict(format!(
                "job {id} is {}: only finished jobs can be deleted",
                self.jobs[i].status.as_str()
            )));
        }
        let gone = self
            .jobs
            .remove(i)
            .ok_or_else(|| ChangeError::NotFound(format!("no job with id {id}")))?;
        if gone.jtype == JobType::WorkflowJob {
            for j in self.jobs.iter_mut().filter(|j| j.source_wf == id) {
                j.source_wf = 0;
            }
        }
        Ok(gone)
    }

    /// A running job's final save that commits `lag` after it read the clock: the job ends now
    /// with `finished` = `modified` = now - lag, older than changes already visible. `id` None
    /// picks the oldest running job that is not a workflow job.
    pub fn commit_late(
        &mut self,
        id: Option<u32>,
        lag: Micros,
        outcome: Status,
    ) -> Result<u32, ChangeError> {
        if !outcome.is_final() {
            return Err(ChangeError::Invalid(
                "status must be successful, failed, error or canceled".into(),
            ));
        }
        if lag <= 0 {
            return Err(ChangeError::Invalid("lag_seconds must be positive".into()));
        }
        let id = match id {
            Some(id) => id,
            None => self
                .jobs
                .iter()
                .find(|j| j.status == Status::Running && j.jtype != JobType::WorkflowJob)
                .map(|j| j.id)
                .ok_or_else(|| {
                    ChangeError::Conflict("no job is running: advance the clock first".into())
                })?,
        };
        let i = self
            .index_of(id)
            .ok_or_else(|| ChangeError::NotFound(format!("no job with id {id}")))?;
        let j = &self.jobs[i];
        if j.status != Status::Running || j.jtype == JobType::WorkflowJob {
            return Err(ChangeError::Conflict(format!(
                "job {id} is a {} {}: a late commit ends a running job that is not a workflow job",
                j.status.as_str(),
                j.jtype.as_str()
            )));
        }
        let at = self.now - lag;
        let last_save = j.started.max(j.modified);
        if at <= last_save {
            return Err(ChangeError::Invalid(format!(
                "lag_seconds must be less than {:.3}, the time since job {id} was last saved",
                (self.now - last_save) as f64 / SEC as f64
            )));
        }
        self.finish_at(id, outcome, at);
        Ok(id)
    }

    /// Adds `count` finished runs of job templates, created within the last `spread` (after the
    /// newest job, so ids keep growing with `created`), all finished by now: what a client finds
    /// after a long quiet spell. `template` None takes the job templates in turn.
    pub fn add_finished(
        &mut self,
        count: usize,
        spread: Micros,
        template: Option<&Pick>,
    ) -> Result<Added, ChangeError> {
        const MAX: usize = 2_000_000;
        if count == 0 || count > MAX {
            return Err(ChangeError::Invalid(format!(
                "count must be between 1 and {MAX}"
            )));
        }
        if spread <= 0 {
            return Err(ChangeError::Invalid(
                "spread_seconds must be positive".into(),
            ));
        }
        let w = &self.world;
        let templates: Vec<u16> = w
            .ujts
            .iter()
            .enumerate()
            .filter(|(_, u)| u.kind == UjtKind::JobTemplate)
            .filter(|(_, u)| template.map(|p| p.is(u.id, &u.name)).unwrap_or(true))
            .map(|(i, _)| i as u16)
            .collect();
        if templates.is_empty() {
            return Err(ChangeError::NotFound(match template {
                Some(p) => format!("no job template with {p}"),
                None => "no job template".into(),
            }));
        }
        let now = self.now;
        let newest = self.jobs.back().map(|j| j.created).unwrap_or(NONE_TS);
        let from = (now - spread).max(newest.saturating_add(1));
        if now - from < count as i64 {
            return Err(ChangeError::Invalid(format!(
                "no room for {count} jobs between the newest job and now: raise spread_seconds or advance the clock"
            )));
        }
        // its own generator: the workload's random stream stays as it would have been
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(
            (self.next_id as u64) << 32 ^ count as u64 ^ 0x0b0a_57ed,
        );
        let step = (now - from) / count as i64;
        let first_id = self.next_id;
        for k in 0..count {
            let u = templates[k % templates.len()];
            let job = finished_run(&self.world, &mut rng, u, k, from + k as i64 * step, now);
            let mut job = job;
            job.id = self.next_id;
            self.next_id += 1;
            self.jobs.push_back(job);
        }
        Ok(Added {
            first_id,
            last_id: self.next_id - 1,
            from,
            to: now,
        })
    }

    /// AWX's cleanup_jobs: deletes finished jobs created before `now - older_than` or, with
    /// `oldest`, that many finished jobs, oldest first. Returns how many went.
    pub fn purge_jobs(
        &mut self,
        older_than: Option<Micros>,
        oldest: Option<usize>,
    ) -> Result<usize, ChangeError> {
        let before = self.jobs.len();
        match (older_than, oldest) {
            (Some(age), None) if age >= 0 => {
                let cutoff = self.now - age;
                self.jobs
                    .retain(|j| j.created >= cutoff || !j.status.is_final());
            }
            (None, Some(n)) => {
                let mut left = n;
                self.jobs.retain(|j| {
                    if left > 0 && j.status.is_final() {
                        left -= 1;
                        false
                    } else {
                        true
                    }
                });
            }
            _ => {
                return Err(ChangeError::Invalid(
                    "give exactly one of older_than_days (>= 0) and oldest".into(),
                ))
            }
        }
        let gone = before - self.jobs.len();
        if gone > 0 {
            // deleted workflow jobs take their nodes along
            let mut kept_wf = std::collections::HashSet::new();
            for j in self.jobs.iter().filter(|j| j.jtype == JobType::WorkflowJob) {
                kept_wf.insert(j.id);
            }
            for j in self.jobs.iter_mut() {
                if j.source_wf != 0 && !kept_wf.contains(&j.source_wf) {
                    j.source_wf = 0;
                }
            }
        }
        Ok(gone)
    }
}

/// The template's name changes for jobs launched from now on; earlier jobs keep theirs.
fn set_job_name(u: &mut Ujt, job_name: String, now: Micros) {
    if u.job_name != job_name {
        let old = std::mem::replace(&mut u.job_name, job_name);
        u.former_job_names.push((now, old));
    }
}

/// One finished run of job template `u`, created at `created`, done by `now`.
fn finished_run(
    w: &crate::world::World,
    rng: &mut ChaCha8Rng,
    u: u16,
    k: usize,
    created: Micros,
    now: Micros,
) -> Job {
    let t = &w.ujts[u as usize];
    let b = &t.behavior;
    let ig = if t.instance_group == NONE8 {
        w.default_ig
    } else {
        t.instance_group
    };
    let group = &w.instance_groups[ig as usize];
    let pick = |cands: Vec<u8>| -> u8 {
        if cands.is_empty() {
            NONE8
        } else {
            cands[k % cands.len()]
        }
    };
    let usable = |i: &u8| w.instances[*i as usize].in_task_manager();
    let exec = if group.is_container_group {
        NONE8
    } else {
        pick(
            group
                .instances
                .iter()
                .copied()
                .filter(usable)
                .filter(|i| w.instances[*i as usize].node_type.can_execute())
                .collect(),
        )
    };
    let ctrl = if exec != NONE8 && w.instances[exec as usize].node_type.can_control() {
        exec
    } else {
        pick(
            w.instance_groups[w.controlplane_ig as usize]
                .instances
                .iter()
                .copied()
                .filter(usable)
                .collect(),
        )
    };
    let x: f64 = rng.gen();
    let status = if x < b.cancel_rate {
        Status::Canceled
    } else if x < b.cancel_rate + b.error_rate {
        Status::Error
    } else if x < b.cancel_rate + b.error_rate + b.fail_rate {
        Status::Failed
    } else {
        Status::Successful
    };
    let started = (created + rng.gen_range(SEC / 2..3 * SEC)).min(now);
    let run = (b.median_secs.max(0.5) * rng.gen_range(0.5..1.5) * SEC as f64) as Micros;
    let finished = (started + run).min(now);
    let user = w.launchers[k % w.launchers.len()];
    Job {
        id: 0,
        source_wf: 0,
        created,
        modified: finished,
        started,
        finished,
        ujt: u,
        inventory: t.inventory,
        project: t.project,
        schedule: NONE16,
        impact: t.impact,
        jtype: JobType::Job,
        status,
        launch_type: LaunchType::Manual,
        org: t.org,
        exec_node: exec,
        controller_node: ctrl,
        instance_group: ig,
        created_by: user,
        module: 0,
        launched_by: LaunchedBy::User(user),
    }
}
