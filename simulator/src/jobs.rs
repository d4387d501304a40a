//! Unified jobs over the API: the filter schema, AWX's serializers (list and detail, per type) and
//! the flat truth records.

use crate::filter::{related_model_name, Kind, Schema, Val};
use crate::json::{Arr, Obj};
use crate::model::*;
use crate::time::Micros;
use crate::world::World;

/// Which list the request is on: `unified_jobs/` or one job type's list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobModel {
    Unified,
    Typed(JobType),
}

impl JobModel {
    pub fn name(self) -> &'static str {
        match self {
            JobModel::Unified => "UnifiedJob",
            JobModel::Typed(t) => t.model(),
        }
    }
}

/// A filterable job field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JF {
    Id,
    Type,
    Created,
    Modified,
    Name,
    Description,
    Ujt,
    UjtName,
    UjtDescription,
    LaunchType,
    Status,
    Failed,
    Started,
    Finished,
    CanceledOn,
    Elapsed,
    JobExplanation,
    ExecutionNode,
    ControllerNode,
    WorkUnitId,
    Org,
    OrgName,
    OrgDescription,
    Ig,
    IgName,
    IgIsContainer,
    Ee,
    EeName,
    CreatedBy,
    CreatedByUsername,
    Schedule,
    ScheduleName,
    Inventory,
    InventoryName,
    InventoryOrg,
    InventoryOrgName,
    Project,
    ProjectName,
    /// job_template / workflow_job_template / inventory_source / system_job_template FK (= ujt for that type)
    TypedTemplate,
    TypedTemplateName,
    Playbook,
    JobTypeField,
    Forks,
    Limit,
    Verbosity,
    ScmBranch,
    ModuleName,
    Source,
    SourceWorkflowJob,
}

/// A resolved field, possibly only defined for one job type (`job__inventory`).
#[derive(Clone, Copy, Debug)]
pub struct FieldRef {
    pub f: JF,
    pub only: Option<JobType>,
}

pub struct JobSchema<'w> {
    pub world: &'w World,
    pub now: Micros,
    pub model: JobModel,
}

fn fk(rest: &[&str], rel: &str, id: JF, subs: &[(&str, JF, Kind)]) -> Result<(JF, Kind), String> {
    match rest {
        [] => Ok((id, Kind::Fk)),
        ["id"] | ["pk"] => Ok((id, Kind::Fk)),
        [x] => subs
            .iter()
            .find(|s| s.0 == *x)
            .map(|s| (s.1, s.2))
            .ok_or_else(|| format!("{} has no field named '{x}'", related_model_name(rel))),
        [x, y, ..] => {
            if let Some(s) = subs.iter().find(|s| s.0 == *x) {
                if s.2 == Kind::Fk && rel == "inventory" && *x == "organization" {
                    return match *y {
                        "name" => Ok((JF::InventoryOrgName, Kind::Str)),
                        "id" => Ok((JF::InventoryOrg, Kind::Fk)),
                        other => Err(format!("Organization has no field named '{other}'")),
                    };
                }
                Err(format!("No related model for field {y}."))
            } else {
                Err(format!(
                    "{} has no field named '{x}'",
                    related_model_name(rel)
                ))
            }
        }
    }
}

const NAME_SUBS: &[(&str, JF, Kind)] = &[];

fn base_field(seg: &str, rest: &[&str]) -> Option<Result<(JF, Kind), String>> {
    let scalar = |f: JF, k: Kind| -> Result<(JF, Kind), String> {
        match rest.first() {
            None => Ok((f, k)),
            Some(x) => Err(format!("No related model for field {x}.")),
        }
    };
    let r = match seg {
        "id" | "pk" => scalar(JF::Id, Kind::Int),
        "type" => scalar(JF::Type, Kind::Type),
        "created" => scalar(JF::Created, Kind::Time),
        "modified" => scalar(JF::Modified, Kind::Time),
        "name" => scalar(JF::Name, Kind::Str),
        "description" => scalar(JF::Description, Kind::Str),
        "launch_type" => scalar(JF::LaunchType, Kind::Str),
        "status" => scalar(JF::Status, Kind::Str),
        "failed" => scalar(JF::Failed, Kind::Bool),
        "started" => scalar(JF::Started, Kind::Time),
        "finished" => scalar(JF::Finished, Kind::Time),
        "canceled_on" => scalar(JF::CanceledOn, Kind::Time),
        "elapsed" => scalar(JF::Elapsed, Kind::Float),
        "job_explanation" => scalar(JF::JobExplanation, Kind::Str),
        "execution_node" => scalar(JF::ExecutionNode, Kind::Str),
        "controller_node" => scalar(JF::ControllerNode, Kind::Str),
        "work_unit_id" => scalar(JF::WorkUnitId, Kind::Str),
        "unified_job_template" => fk(
            rest,
            seg,
            JF::Ujt,
            &[
                ("name", JF::UjtName, Kind::Str),
                ("description", JF::UjtDescription, Kind::Str),
            ],
        ),
        "organization" => fk(
            rest,
            seg,
            JF::Org,
            &[
                ("name", JF::OrgName, Kind::Str),
                ("description", JF::OrgDescription, Kind::Str),
            ],
        ),
        "instance_group" => fk(
            rest,
            seg,
            JF::Ig,
            &[
                ("name", JF::IgName, Kind::Str),
                ("is_container_group", JF::IgIsContainer, Kind::Bool),
            ],
        ),
        "execution_environment" => fk(rest, seg, JF::Ee, &[("name", JF::EeName, Kind::Str)]),
        "created_by" => fk(
            rest,
            seg,
            JF::CreatedBy,
            &[("username", JF::CreatedByUsername, Kind::Str)],
        ),
        "schedule" => fk(
            rest,
            seg,
            JF::Schedule,
            &[("name", JF::ScheduleName, Kind::Str)],
        ),
        _ => return None,
    };
    Some(r)
}

fn typed_field(t: JobType, seg: &str, rest: &[&str]) -> Option<Result<(JF, Kind), String>> {
    let scalar = |f: JF, k: Kind| -> Result<(JF, Kind), String> {
        match rest.first() {
            None => Ok((f, k)),
            Some(x) => Err(format!("No related model for field {x}.")),
        }
    };
    let inv = || {
        fk(
            rest,
            "inventory",
            JF::Inventory,
            &[
                ("name", JF::InventoryName, Kind::Str),
                ("organization", JF::InventoryOrg, Kind::Fk),
            ],
        )
    };
    let proj = || {
        fk(
            rest,
            "project",
            JF::Project,
            &[("name", JF::ProjectName, Kind::Str)],
        )
    };
    let tmpl = |rel: &str| {
        fk(
            rest,
            rel,
            JF::TypedTemplate,
            &[("name", JF::TypedTemplateName, Kind::Str)],
        )
    };
    let _ = NAME_SUBS;
    let r = match (t, seg) {
        (JobType::Job, "inventory")
        | (JobType::WorkflowJob, "inventory")
        | (JobType::InventoryUpdate, "inventory")
        | (JobType::AdHocCommand, "inventory") => inv(),
        (JobType::Job, "project") | (JobType::ProjectUpdate, "project") => proj(),
        (JobType::Job, "job_template") => tmpl("job_template"),
        (JobType::WorkflowJob, "workflow_job_template") => tmpl("workflow_job_template"),
        (JobType::InventoryUpdate, "inventory_source") => tmpl("inventory_source"),
        (JobType::SystemJob, "system_job_template") => tmpl("system_job_template"),
        (JobType::Job, "playbook") => scalar(JF::Playbook, Kind::Str),
        (
            JobType::Job | JobType::ProjectUpdate | JobType::SystemJob | JobType::AdHocCommand,
            "job_type",
        ) => scalar(JF::JobTypeField, Kind::Str),
        (JobType::Job | JobType::AdHocCommand, "forks") => scalar(JF::Forks, Kind::Int),
        (JobType::Job | JobType::AdHocCommand | JobType::WorkflowJob, "limit") => {
            scalar(JF::Limit, Kind::Str)
        }
        (JobType::Job | JobType::AdHocCommand | JobType::InventoryUpdate, "verbosity") => {
            scalar(JF::Verbosity, Kind::Int)
        }
        (JobType::Job | JobType::ProjectUpdate | JobType::WorkflowJob, "scm_branch") => {
            scalar(JF::ScmBranch, Kind::Str)
        }
        (JobType::AdHocCommand, "module_name") => scalar(JF::ModuleName, Kind::Str),
        (JobType::InventoryUpdate, "source") => scalar(JF::Source, Kind::Str),
        _ => return None,
    };
    Some(r)
}

impl<'w> JobSchema<'w> {
    pub fn resolve_ref(&self, path: &str) -> Result<(FieldRef, Kind), String> {
        let segs: Vec<&str> = path.split("__").collect();
        let (seg, rest) = (segs[0], &segs[1..]);
        if let Some(r) = base_field(seg, rest) {
            return r.map(|(f, k)| (FieldRef { f, only: None }, k));
        }
        match self.model {
            JobModel::Typed(t) => {
                if let Some(r) = typed_field(t, seg, rest) {
                    return r.map(|(f, k)| (FieldRef { f, only: Some(t) }, k));
                }
            }
            JobModel::Unified => {
                let sub = match seg {
                    "job" => Some(JobType::Job),
                    "workflowjob" => Some(JobType::WorkflowJob),
                    "projectupdate" => Some(JobType::ProjectUpdate),
                    "inventoryupdate" => Some(JobType::InventoryUpdate),
                    "systemjob" => Some(JobType::SystemJob),
                    "adhoccommand" => Some(JobType::AdHocCommand),
                    _ => None,
                };
                if let Some(t) = sub {
                    let Some((s2, rest2)) = rest.split_first() else {
                        return Ok((
                            FieldRef {
                                f: JF::Id,
                                only: Some(t),
                            },
                            Kind::Fk,
                        ));
                    };
                    if *s2 == "id" && rest2.is_empty() {
                        return Ok((
                            FieldRef {
                                f: JF::Id,
                                only: Some(t),
                            },
                            Kind::Int,
                        ));
                    }
                    if let Some(r) = base_field(s2, rest2).or_else(|| typed_field(t, s2, rest2)) {
                        return r.map(|(f, k)| (FieldRef { f, only: Some(t) }, k));
                    }
                    return Err(format!("{} has no field named '{s2}'", t.model()));
                }
            }
        }
        Err(format!("{} has no field named '{seg}'", self.model.name()))
    }

    pub fn value<'a>(&'a self, j: &'a Job, r: FieldRef) -> Val<'a> {
        if let Some(t) = r.only {
            if j.jtype != t {
                return Val::Null;
            }
        }
        let w = self.world;
        let ujt = w.ujts.get(j.ujt as usize);
        let opt_ts = |t: Micros| {
            if t == crate::time::NONE_TS {
                Val::Null
            } else {
                Val::Time(t)
            }
        };
        match r.f {
            JF::Id => Val::Int(j.id as i64),
            JF::Type => Val::Str(j.jtype.as_str()),
            JF::Created => Val::Time(j.created),
            JF::Modified => Val::Time(j.modified),
            JF::Name => Val::Str(w.job_name(j)),
            JF::Description => Val::Str(w.job_description(j)),
            JF::Ujt => ujt.map(|u| Val::Int(u.id as i64)).unwrap_or(Val::Null),
            JF::UjtName => ujt.map(|u| Val::Str(&u.name)).unwrap_or(Val::Null),
            JF::UjtDescription => ujt.map(|u| Val::Str(&u.description)).unwrap_or(Val::Null),
            JF::LaunchType => Val::Str(j.launch_type.as_str()),
            JF::Status => Val::Str(j.status.as_str()),
            JF::Failed => Val::Bool(j.failed()),
            JF::Started => opt_ts(j.started),
            JF::Finished => opt_ts(j.finished),
            JF::CanceledOn => opt_ts(j.canceled_on()),
            JF::Elapsed => Val::Float(j.elapsed(self.now)),
            JF::JobExplanation => Val::Str(job_explanation(j)),
            JF::ExecutionNode => Val::Str(if j.exec_node == NONE8 {
                ""
            } else {
                w.instance_name(j.exec_node)
            }),
            JF::ControllerNode => Val::Str(if j.controller_node == NONE8 {
                ""
            } else {
                w.instance_name(j.controller_node)
            }),
            JF::WorkUnitId => Val::Null,
            JF::Org => w
                .orgs
                .get(j.org as usize)
                .map(|o| Val::Int(o.id as i64))
                .unwrap_or(Val::Null),
            JF::OrgName => w.org_name(j.org).map(Val::Str).unwrap_or(Val::Null),
            JF::OrgDescription => w
                .orgs
                .get(j.org as usize)
                .map(|o| Val::Str(&o.description))
                .unwrap_or(Val::Null),
            JF::Ig => w
                .instance_groups
                .get(j.instance_group as usize)
                .map(|g| Val::Int(g.id as i64))
                .unwrap_or(Val::Null),
            JF::IgName => w
                .ig_name(j.instance_group)
                .map(Val::Str)
                .unwrap_or(Val::Null),
            JF::IgIsContainer => w
                .instance_groups
                .get(j.instance_group as usize)
                .map(|g| Val::Bool(g.is_container_group))
                .unwrap_or(Val::Null),
            JF::Ee => ee_of(j).map(|e| Val::Int(e.0)).unwrap_or(Val::Null),
            JF::EeName => ee_of(j).map(|e| Val::Str(e.1)).unwrap_or(Val::Null),
            JF::CreatedBy => w
                .users
                .get(j.created_by as usize)
                .map(|u| Val::Int(u.id as i64))
                .unwrap_or(Val::Null),
            JF::CreatedByUsername => w
                .users
                .get(j.created_by as usize)
                .map(|u| Val::Str(&u.username))
                .unwrap_or(Val::Null),
            JF::Schedule => w
                .schedules
                .get(j.schedule as usize)
                .map(|s| Val::Int(s.id as i64))
                .unwrap_or(Val::Null),
            JF::ScheduleName => w
                .schedules
                .get(j.schedule as usize)
                .map(|s| Val::Str(&s.name))
                .unwrap_or(Val::Null),
            JF::Inventory => w
                .inventories
                .get(j.inventory as usize)
                .map(|i| Val::Int(i.id as i64))
                .unwrap_or(Val::Null),
            JF::InventoryName => w
                .inventory_name(j.inventory)
                .map(Val::Str)
                .unwrap_or(Val::Null),
            JF::InventoryOrg => w
                .inventories
                .get(j.inventory as usize)
                .and_then(|i| w.orgs.get(i.org as usize))
                .map(|o| Val::Int(o.id as i64))
                .unwrap_or(Val::Null),
            JF::InventoryOrgName => w
                .inventories
                .get(j.inventory as usize)
                .and_then(|i| w.org_name(i.org))
                .map(Val::Str)
                .unwrap_or(Val::Null),
            JF::Project => w
                .ujts
                .get(j.project as usize)
                .map(|p| Val::Int(p.id as i64))
                .unwrap_or(Val::Null),
            JF::ProjectName => w
                .ujts
                .get(j.project as usize)
                .map(|p| Val::Str(&p.name))
                .unwrap_or(Val::Null),
            JF::TypedTemplate => ujt.map(|u| Val::Int(u.id as i64)).unwrap_or(Val::Null),
            JF::TypedTemplateName => ujt.map(|u| Val::Str(&u.name)).unwrap_or(Val::Null),
            JF::Playbook => ujt.map(|u| Val::Str(u.playbook)).unwrap_or(Val::Null),
            JF::JobTypeField => Val::Str(job_type_field(w, j)),
            JF::Forks => Val::Int(0),
            JF::Limit => Val::Str(""),
            JF::Verbosity => Val::Int(0),
            JF::ScmBranch => Val::Str(""),
            JF::ModuleName => Val::Str(w.job_name(j)),
            JF::Source => ujt.map(|u| Val::Str(u.source)).unwrap_or(Val::Null),
            JF::SourceWorkflowJob => {
                if j.source_wf == 0 {
                    Val::Null
                } else {
                    Val::Int(j.source_wf as i64)
                }
            }
        }
    }
}

impl<'w> Schema for JobSchema<'w> {
    type Field = FieldRef;
    type Rec = Job;
    fn model(&self) -> &str {
        self.model.name()
    }
    fn resolve(&self, path: &str) -> Result<(FieldRef, Kind), String> {
        self.resolve_ref(path)
    }
    fn get<'a>(&'a self, rec: &'a Job, f: FieldRef) -> Val<'a> {
        self.value(rec, f)
    }
    fn search_fields(&self) -> Vec<FieldRef> {
        vec![
            FieldRef {
                f: JF::Description,
                only: None,
            },
            FieldRef {
                f: JF::Name,
                only: None,
            },
            FieldRef {
                f: JF::Playbook,
                only: Some(JobType::Job),
            },
        ]
    }
    fn type_name<'a>(&'a self, rec: &'a Job) -> &'a str {
        rec.jtype.as_str()
    }
}

fn job_explanation(j: &Job) -> &'static str {
    if j.status == Status::Canceled && j.started == crate::time::NONE_TS {
        "Job canceled before it started."
    } else if j.status == Status::Failed && j.started == crate::time::NONE_TS {
        "Previous Task Failed"
    } else {
        ""
    }
}

fn job_type_field(w: &World, j: &Job) -> &'static str {
    match j.jtype {
        JobType::Job | JobType::AdHocCommand => "run",
        JobType::ProjectUpdate => {
            if j.is_sync() {
                "run"
            } else {
                "check"
            }
        }
        JobType::SystemJob => w
            .ujts
            .get(j.ujt as usize)
            .map(|u| u.system_job_type)
            .unwrap_or(""),
        _ => "",
    }
}

/// (id, name, image) of the job's execution environment.
/// Pending jobs (and jobs canceled before they left pending) have none yet: AWX resolves the
/// execution environment when the job is started.
fn ee_of(j: &Job) -> Option<(i64, &'static str, &'static str)> {
    let assigned = j.started != crate::time::NONE_TS
        || j.status == Status::Waiting
        || j.status == Status::Running;
    if !assigned {
        return None;
    }
    match j.jtype {
        JobType::WorkflowJob => None,
        JobType::ProjectUpdate | JobType::SystemJob => Some((
            2,
            "Control Plane Execution Environment",
            "quay.io/ansible/awx-ee:24.6.1",
        )),
        _ => Some((1, "AWX EE (latest)", "quay.io/ansible/awx-ee:latest")),
    }
}

fn launched_by(o: &mut Obj, w: &World, lb: LaunchedBy, api: &str) {
    match lb {
        LaunchedBy::Unknown => {}
        LaunchedBy::User(u) => {
            if let Some(u) = w.users.get(u as usize) {
                o.int("id", u.id as i64)
                    .str("name", &u.username)
                    .str("type", "user")
                    .str("url", &format!("{api}users/{}/", u.id));
            }
        }
        LaunchedBy::Schedule(s) => {
            if let Some(s) = w.schedules.get(s as usize) {
                o.int("id", s.id as i64)
                    .str("name", &s.name)
                    .str("type", "schedule")
                    .str("url", &format!("{api}schedules/{}/", s.id));
            }
        }
        LaunchedBy::Dependency => {
            o.null("id")
                .str("name", "Generated by AWX")
                .str("type", "Dependency")
                .null("url");
        }
        LaunchedBy::JobTemplate(t) => {
            if let Some(u) = w.ujts.get(t as usize) {
                o.int("id", u.id as i64)
                    .str("name", &u.name)
                    .str("type", "job_template")
                    .str("url", &format!("{api}job_templates/{}/", u.id));
            }
        }
        LaunchedBy::Project(p) => {
            if let Some(u) = w.ujts.get(p as usize) {
                o.int("id", u.id as i64)
                    .str("name", &u.name)
                    .str("type", "project")
                    .str("url", &format!("{api}projects/{}/", u.id));
            }
        }
    }
}

/// `summary_fields.inventory` (jobs, hosts).
pub fn inventory_summary(o: &mut Obj, w: &World, inv: u16) {
    let Some(i) = w.inventories.get(inv as usize) else {
        return;
    };
    let sources = w
        .ujts
        .iter()
        .filter(|u| u.kind == UjtKind::InventorySource && u.inventory == inv)
        .count() as i64;
    o.obj("inventory", |s| {
        s.int("id", i.id as i64)
            .str("name", &i.name)
            .str("description", &i.description)
            .bool("has_active_failures", false)
            .int("total_hosts", i.host_count as i64)
            .int("hosts_with_active_failures", 0)
            .int("total_groups", i.group_count as i64)
            .bool("has_inventory_sources", sources > 0)
            .int("total_inventory_sources", sources)
            .int("inventory_sources_with_failures", 0)
            .int(
                "organization_id",
                w.orgs.get(i.org as usize).map(|o| o.id as i64).unwrap_or(0),
            )
            .str("kind", i.kind);
    });
}

/// Renders one job as AWX does. `detail` adds the fields the list serializer leaves out.
pub fn render_job(
    out: &mut String,
    w: &World,
    j: &Job,
    now: Micros,
    api: &str,
    detail: bool,
    wf_lookup: &dyn Fn(u32) -> Option<Job>,
) {
    let ujt = w.ujts.get(j.ujt as usize);
    let coll = j.jtype.collection();
    let url = format!("{api}{coll}/{}/", j.id);
    let org = w.orgs.get(j.org as usize);
    let ee = ee_of(j);
    let ig = w.instance_groups.get(j.instance_group as usize);
    let created_by = w.users.get(j.created_by as usize);
    let project = w.ujts.get(j.project as usize);
    let inv = w.inventories.get(j.inventory as usize);
    let name = w.job_name(j);
    let description = w.job_description(j);
    let exec_node = if j.exec_node == NONE8 {
        ""
    } else {
        w.instance_name(j.exec_node)
    };
    let ctrl_node = if j.controller_node == NONE8 {
        ""
    } else {
        w.instance_name(j.controller_node)
    };
    let src_wf = if j.source_wf != 0 {
        wf_lookup(j.source_wf)
    } else {
        None
    };
    let work_unit = if j.started != crate::time::NONE_TS && j.jtype != JobType::WorkflowJob {
        Some(work_unit_id(j.id))
    } else {
        None
    };

    let mut o = Obj::new(out);
    o.int("id", j.id as i64)
        .str("type", j.jtype.as_str())
        .str("url", &url);
    // link order as AWX 24.6.1 writes them (samples/real-awx-24.6.1/unified_*.json); workflow
    // jobs and project updates link no organization
    o.obj("related", |r| {
        if let Some(u) = created_by {
            r.str("created_by", &format!("{api}users/{}/", u.id));
        }
        let sched = w.schedules.get(j.schedule as usize);
        let ujt_link = |r: &mut Obj| {
            if let Some(u) = ujt {
                r.str(
                    "unified_job_template",
                    &format!("{api}{}/{}/", u.kind.collection(), u.id),
                );
            }
            if let Some(s) = sched {
                r.str("schedule", &format!("{api}schedules/{}/", s.id));
            }
        };
        let common_tail = |r: &mut Obj| {
            if let Some(e) = ee {
                r.str(
                    "execution_environment",
                    &format!("{api}execution_environments/{}/", e.0),
                );
            }
            if j.source_wf != 0 {
                r.str(
                    "source_workflow_job",
                    &format!("{api}workflow_jobs/{}/", j.source_wf),
                );
            }
        };
        match j.jtype {
            JobType::Job => {
                r.str("labels", &format!("{url}labels/"));
                if let Some(i) = inv {
                    r.str("inventory", &format!("{api}inventories/{}/", i.id));
                }
                if let Some(p) = project {
                    r.str("project", &format!("{api}projects/{}/", p.id));
                }
                if let Some(o) = org {
                    r.str("organization", &format!("{api}organizations/{}/", o.id));
                }
                r.str("credentials", &format!("{url}credentials/"));
                ujt_link(r);
                common_tail(r);
                r.str("stdout", &format!("{url}stdout/"))
                    .str("job_events", &format!("{url}job_events/"))
                    .str("job_host_summaries", &format!("{url}job_host_summaries/"))
                    .str("activity_stream", &format!("{url}activity_stream/"))
                    .str("notifications", &format!("{url}notifications/"))
                    .str("create_schedule", &format!("{url}create_schedule/"));
                if let Some(u) = ujt {
                    r.str("job_template", &format!("{api}job_templates/{}/", u.id));
                }
                r.str("cancel", &format!("{url}cancel/"))
                    .str("relaunch", &format!("{url}relaunch/"));
            }
            JobType::WorkflowJob => {
                ujt_link(r);
                common_tail(r);
                if let Some(u) = ujt {
                    r.str(
                        "workflow_job_template",
                        &format!("{api}workflow_job_templates/{}/", u.id),
                    );
                }
                r.str("notifications", &format!("{url}notifications/"))
                    .str("workflow_nodes", &format!("{url}workflow_nodes/"))
                    .str("labels", &format!("{url}labels/"))
                    .str("activity_stream", &format!("{url}activity_stream/"))
                    .str("relaunch", &format!("{url}relaunch/"))
                    .str("cancel", &format!("{url}cancel/"));
            }
            JobType::ProjectUpdate => {
                ujt_link(r);
                common_tail(r);
                r.str("stdout", &format!("{url}stdout/"));
                if let Some(p) = project {
                    r.str("project", &format!("{api}projects/{}/", p.id));
                }
                r.str("cancel", &format!("{url}cancel/"))
                    .str(
                        "scm_inventory_updates",
                        &format!("{url}scm_inventory_updates/"),
                    )
                    .str("notifications", &format!("{url}notifications/"))
                    .str("events", &format!("{url}events/"));
            }
            JobType::InventoryUpdate => {
                if let Some(i) = inv {
                    r.str("inventory", &format!("{api}inventories/{}/", i.id));
                }
                if let Some(o) = org {
                    r.str("organization", &format!("{api}organizations/{}/", o.id));
                }
                ujt_link(r);
                common_tail(r);
                r.str("stdout", &format!("{url}stdout/"));
                if let Some(u) = ujt {
                    r.str(
                        "inventory_source",
                        &format!("{api}inventory_sources/{}/", u.id),
                    );
                }
                r.str("cancel", &format!("{url}cancel/"))
                    .str("notifications", &format!("{url}notifications/"))
                    .str("events", &format!("{url}events/"));
            }
            JobType::SystemJob => {
                ujt_link(r);
                common_tail(r);
                r.str("stdout", &format!("{url}stdout/"));
                if let Some(u) = ujt {
                    r.str(
                        "system_job_template",
                        &format!("{api}system_job_templates/{}/", u.id),
                    );
                }
                r.str("cancel", &format!("{url}cancel/"))
                    .str("notifications", &format!("{url}notifications/"))
                    .str("events", &format!("{url}events/"));
            }
            JobType::AdHocCommand => {
                if let Some(i) = inv {
                    r.str("inventory", &format!("{api}inventories/{}/", i.id));
                }
                common_tail(r);
                r.str("stdout", &format!("{url}stdout/"))
                    .str("events", &format!("{url}events/"))
                    .str("activity_stream", &format!("{url}activity_stream/"))
                    .str("notifications", &format!("{url}notifications/"))
                    .str("cancel", &format!("{url}cancel/"))
                    .str("relaunch", &format!("{url}relaunch/"));
            }
        }
    });
    o.obj("summary_fields", |s| {
        if let Some(org) = org {
            s.obj("organization", |x| {
                x.int("id", org.id as i64)
                    .str("name", &org.name)
                    .str("description", &org.description);
            });
        }
        if j.jtype != JobType::ProjectUpdate && j.jtype != JobType::SystemJob {
            inventory_summary(s, w, j.inventory);
        }
        if let Some(e) = ee {
            s.obj("execution_environment", |x| {
                x.int("id", e.0)
                    .str("name", e.1)
                    .str("description", "")
                    .str("image", e.2);
            });
        }
        if let Some(p) = project {
            s.obj("project", |x| {
                x.int("id", p.id as i64)
                    .str("name", &p.name)
                    .str("description", &p.description)
                    .str("status", "successful")
                    .str("scm_type", "git")
                    .bool("allow_override", false);
            });
        }
        if let Some(u) = ujt {
            match j.jtype {
                JobType::Job => {
                    s.obj("job_template", |x| {
                        x.int("id", u.id as i64)
                            .str("name", &u.name)
                            .str("description", &u.description);
                    });
                }
                JobType::WorkflowJob => {
                    s.obj("workflow_job_template", |x| {
                        x.int("id", u.id as i64)
                            .str("name", &u.name)
                            .str("description", &u.description);
                    });
                }
                _ => {}
            }
            // AWX's SUMMARIZABLE_FK_FIELDS order: schedule before unified_job_template
            if let Some(sc) = w.schedules.get(j.schedule as usize) {
                s.obj("schedule", |x| {
                    x.int("id", sc.id as i64)
                        .str("name", &sc.name)
                        .str("description", "")
                        .ts("next_run", next_run(sc, now));
                });
            }
            s.obj("unified_job_template", |x| {
                x.int("id", u.id as i64)
                    .str("name", &u.name)
                    .str("description", &u.description)
                    .str("unified_job_type", u.kind.job_type().as_str());
            });
            if j.jtype == JobType::InventoryUpdate {
                s.obj("inventory_source", |x| {
                    x.int("id", u.id as i64)
                        .str("name", &u.name)
                        .str("source", u.source)
                        .ts("last_updated", j.finished)
                        .str("status", j.status.as_str());
                });
            }
        }
        if let Some(g) = ig {
            s.obj("instance_group", |x| {
                x.int("id", g.id as i64)
                    .str("name", &g.name)
                    .bool("is_container_group", g.is_container_group);
            });
        }
        if let Some(u) = created_by {
            s.obj("created_by", |x| {
                x.int("id", u.id as i64)
                    .str("username", &u.username)
                    .str("first_name", &u.first_name)
                    .str("last_name", &u.last_name);
            });
        }
        s.obj("user_capabilities", |x| {
            x.bool("delete", true)
                .bool("start", j.jtype != JobType::SystemJob);
        });
        if j.jtype == JobType::Job || j.jtype == JobType::WorkflowJob {
            s.obj("labels", |x| {
                x.int("count", 0).arr("results", |_| {});
            });
        }
        if let Some(wf) = &src_wf {
            s.obj("source_workflow_job", |x| {
                x.int("id", wf.id as i64)
                    .str("name", w.job_name(wf))
                    .str("description", w.job_description(wf))
                    .str("status", wf.status.as_str())
                    .bool("failed", wf.failed())
                    .float("elapsed", wf.elapsed(now));
            });
        }
        if matches!(j.jtype, JobType::Job | JobType::InventoryUpdate) {
            s.arr("credentials", |a| {
                if j.jtype == JobType::Job {
                    a.obj(|x| {
                        x.int("id", 1)
                            .str("name", "Demo Credential")
                            .str("description", "")
                            .str("kind", "ssh")
                            .bool("cloud", false);
                    });
                }
            });
        }
    });
    o.ts("created", j.created)
        .ts("modified", j.modified)
        .str("name", name)
        .str("description", description);
    // AWX's detail serializers put the options mixin's fields (JobOptions, ProjectOptions) before
    // the unified ones; the list serializers after (samples/real-awx-24.6.1/detail_*.json)
    let options_first = detail && matches!(j.jtype, JobType::Job | JobType::ProjectUpdate);
    let fields = TypeFields {
        w,
        j,
        ujt,
        project,
        inv,
        org,
        ig,
        name,
    };
    if options_first {
        fields.options(&mut o);
    }
    match ujt {
        Some(u) => o.int("unified_job_template", u.id as i64),
        None => o.null("unified_job_template"),
    };
    o.str("launch_type", j.launch_type.as_str())
        .str("status", j.status.as_str());
    if j.jtype != JobType::WorkflowJob {
        o.opt_int("execution_environment", ee.map(|e| e.0));
    }
    o.bool("failed", j.failed())
        .ts("started", j.started)
        .ts("finished", j.finished)
        .ts("canceled_on", j.canceled_on())
        .float("elapsed", j.elapsed(now));
    if detail {
        o.str("job_args", "")
            .str(
                "job_cwd",
                if j.jtype == JobType::WorkflowJob {
                    ""
                } else {
                    "/runner/project"
                },
            )
            .raw("job_env", "{}");
    }
    o.str("job_explanation", job_explanation(j));
    if j.jtype != JobType::WorkflowJob {
        o.str("execution_node", exec_node);
        if j.jtype != JobType::ProjectUpdate {
            o.str("controller_node", ctrl_node);
        }
    }
    if detail {
        o.str("result_traceback", "");
        if j.jtype != JobType::WorkflowJob {
            o.bool("event_processing_finished", j.status.is_final());
        }
    }
    o.obj("launched_by", |x| launched_by(x, w, j.launched_by, api));
    o.opt_str("work_unit_id", work_unit.as_deref());
    if !options_first {
        fields.options(&mut o);
    }
    fields.rest(&mut o);
    if detail {
        match j.jtype {
            JobType::Job => {
                host_status_counts(&mut o, w, j);
                playbook_counts(&mut o, j);
                o.null("custom_virtualenv");
            }
            JobType::ProjectUpdate => {
                host_status_counts(&mut o, w, j);
                playbook_counts(&mut o, j);
            }
            _ => {}
        }
    }
    o.end();
}

/// `host_status_counts`: null until the run's stats arrive, then each host once, under its worst
/// state (`awx/main/models/events.py:create_host_status_counts`).
fn host_status_counts(o: &mut Obj, w: &World, j: &Job) {
    if !crate::host_results::has_results(j) {
        o.null("host_status_counts");
        return;
    }
    let counts = crate::host_results::status_counts(w, j);
    o.obj("host_status_counts", |x| {
        for (k, n) in counts {
            x.int(k, n);
        }
    });
}

fn playbook_counts(o: &mut Obj, j: &Job) {
    let ran = j.started != crate::time::NONE_TS;
    let (plays, tasks) = match (ran, j.jtype) {
        (false, _) => (0, 0),
        (true, JobType::ProjectUpdate) => (1, 12),
        (true, _) => (1, 6),
    };
    o.obj("playbook_counts", |x| {
        x.int("play_count", plays).int("task_count", tasks);
    });
}

/// What a job's type adds to the unified fields, in two parts: the options mixin's fields (which
/// the detail view puts first) and the rest.
struct TypeFields<'a> {
    w: &'a World,
    j: &'a Job,
    ujt: Option<&'a Ujt>,
    project: Option<&'a Ujt>,
    inv: Option<&'a Inventory>,
    org: Option<&'a Org>,
    ig: Option<&'a InstanceGroup>,
    name: &'a str,
}

impl TypeFields<'_> {
    fn options(&self, o: &mut Obj) {
        let (w, j, u) = (self.w, self.j, self.ujt);
        let inv_id = self.inv.map(|i| i.id as i64);
        match j.jtype {
            JobType::Job => {
                o.str("job_type", "run")
                    .opt_int("inventory", inv_id)
                    .opt_int("project", self.project.map(|p| p.id as i64))
                    .str("playbook", u.map(|u| u.playbook).unwrap_or(""))
                    .str("scm_branch", "")
                    .int("forks", 0)
                    .str("limit", "")
                    .int("verbosity", 0)
                    .str("extra_vars", "{}")
                    .str("job_tags", "")
                    .bool("force_handlers", false)
                    .str("skip_tags", "")
                    .str("start_at_task", "")
                    .int("timeout", 0)
                    .bool("use_fact_cache", false)
                    .opt_int("organization", self.org.map(|o| o.id as i64));
            }
            JobType::WorkflowJob => {
                o.opt_int("workflow_job_template", u.map(|u| u.id as i64))
                    .str("extra_vars", "{}")
                    .bool("allow_simultaneous", false)
                    .null("job_template")
                    .bool("is_sliced_job", false)
                    .null("inventory")
                    .null("limit")
                    .null("scm_branch")
                    .str("webhook_service", "")
                    .null("webhook_credential")
                    .str("webhook_guid", "")
                    .null("skip_tags")
                    .null("job_tags");
            }
            JobType::ProjectUpdate => {
                let p = self.project;
                o.str(
                    "local_path",
                    &p.map(|p| format!("_{}__{}", p.id, p.name.to_lowercase().replace(' ', "_")))
                        .unwrap_or_default(),
                )
                .str("scm_type", "git")
                .str("scm_url", p.map(|p| p.scm_url).unwrap_or(""))
                .str("scm_branch", "")
                .str("scm_refspec", "")
                .bool("scm_clean", false)
                .bool("scm_track_submodules", false)
                .bool("scm_delete_on_update", false)
                .null("credential")
                .int("timeout", 0)
                .str(
                    "scm_revision",
                    if j.status == Status::Successful {
                        "2fecdad0f8913a92e94daa3bafa15c5cdbedd821"
                    } else {
                        ""
                    },
                );
            }
            JobType::InventoryUpdate => {
                o.str("source", u.map(|u| u.source).unwrap_or(""))
                    .str(
                        "source_path",
                        if u.map(|u| u.source) == Some("scm") {
                            "envs/staging/inventory"
                        } else {
                            ""
                        },
                    )
                    .str("source_vars", "---")
                    .null("credential")
                    .str("enabled_var", "")
                    .str("enabled_value", "")
                    .str("host_filter", "")
                    .bool("overwrite", true)
                    .bool("overwrite_vars", false)
                    .null("custom_virtualenv")
                    .int("timeout", 0)
                    .int("verbosity", 1)
                    .opt_int("inventory", inv_id)
                    .opt_int("inventory_source", u.map(|u| u.id as i64))
                    .bool("license_error", false)
                    .bool("org_host_limit_error", false)
                    .null("source_project_update")
                    .opt_int("instance_group", self.ig.map(|g| g.id as i64))
                    .str("scm_revision", "");
            }
            JobType::SystemJob => {
                o.opt_int("system_job_template", u.map(|u| u.id as i64))
                    .str("job_type", job_type_field(w, j))
                    .str("extra_vars", "{\"days\": \"90\"}")
                    .str("result_stdout", "");
            }
            JobType::AdHocCommand => {
                o.str("job_type", "run")
                    .opt_int("inventory", inv_id)
                    .str("limit", "all")
                    .int("credential", 1)
                    .str("module_name", self.name)
                    .str(
                        "module_args",
                        if self.name == "shell" || self.name == "command" {
                            "uptime"
                        } else {
                            ""
                        },
                    )
                    .int("forks", 0)
                    .int("verbosity", 0)
                    .str("extra_vars", "")
                    .bool("become_enabled", false)
                    .bool("diff_mode", false);
            }
        }
    }

    fn rest(&self, o: &mut Obj) {
        let (w, j, u) = (self.w, self.j, self.ujt);
        match j.jtype {
            JobType::Job => {
                o.opt_int("job_template", u.map(|u| u.id as i64))
                    .arr("passwords_needed_to_start", |_| {})
                    .bool("allow_simultaneous", false)
                    .raw("artifacts", "{}")
                    .str(
                        "scm_revision",
                        if j.started != crate::time::NONE_TS {
                            "2fecdad0f8913a92e94daa3bafa15c5cdbedd821"
                        } else {
                            ""
                        },
                    )
                    .opt_int("instance_group", self.ig.map(|g| g.id as i64))
                    .bool("diff_mode", false)
                    .int("job_slice_number", 0)
                    .int("job_slice_count", 1)
                    .str(
                        "webhook_service",
                        if j.launch_type == LaunchType::Webhook {
                            u.map(|u| u.webhook_service).unwrap_or("")
                        } else {
                            ""
                        },
                    )
                    .null("webhook_credential")
                    .str("webhook_guid", "");
            }
            JobType::ProjectUpdate => {
                o.opt_int("project", self.project.map(|p| p.id as i64))
                    .str("job_type", job_type_field(w, j))
                    .str("job_tags", "update_git,install_roles,install_collections");
            }
            _ => {}
        }
    }
}

/// Receptor work unit ids look like `a6ItbYrN`.
fn work_unit_id(id: u32) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995;
    (0..8)
        .map(|_| {
            let c = A[(x % 62) as usize] as char;
            x = x.rotate_right(7).wrapping_mul(31).wrapping_add(17);
            c
        })
        .collect()
}

pub fn next_run(s: &Schedule, now: Micros) -> Micros {
    if s.interval <= 0 {
        return crate::time::NONE_TS;
    }
    let base = now - (now - s.phase).rem_euclid(s.interval);
    base + s.interval
}

/// The flat truth record of a job (see README: `GET /_sim/truth/jobs`).
pub fn render_truth(a: &mut Arr, w: &World, j: &Job, now: Micros) {
    a.obj(|o| {
        let u = w.ujts.get(j.ujt as usize);
        o.int("id", j.id as i64)
            .str("type", j.jtype.as_str())
            .str("name", w.job_name(j))
            .str("status", j.status.as_str())
            .str("launch_type", j.launch_type.as_str())
            .ts("created", j.created)
            .ts("started", j.started)
            .ts("finished", j.finished)
            .ts("modified", j.modified)
            .float("elapsed", j.elapsed(now))
            .bool("failed", j.failed())
            .opt_int("template_id", u.map(|u| u.id as i64))
            .opt_str("template_name", u.map(|u| u.name.as_str()))
            .opt_str("template_type", u.map(|u| u.kind.type_name()))
            .opt_str("organization", w.org_name(j.org))
            .opt_str("inventory", w.inventory_name(j.inventory))
            .opt_str(
                "project",
                w.ujts.get(j.project as usize).map(|p| p.name.as_str()),
            )
            .str(
                "execution_node",
                if j.exec_node == NONE8 {
                    ""
                } else {
                    w.instance_name(j.exec_node)
                },
            )
            .opt_str("instance_group", w.ig_name(j.instance_group))
            .opt_str("launched_by", w.launched_by_name(j.launched_by))
            .opt_int(
                "source_workflow_job",
                if j.source_wf == 0 {
                    None
                } else {
                    Some(j.source_wf as i64)
                },
            );
    });
}
