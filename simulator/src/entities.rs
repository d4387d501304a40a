//! The small lists (organizations, inventories, hosts, projects, templates, schedules, instances,
//! instance groups, users) as pre-rendered rows with their filterable values.

use crate::engine::Sim;
use crate::filter::{Kind, Row, RowSchema, Typed};
use crate::jobs::next_run;
use crate::json::{object, Obj};
use crate::model::*;
use crate::time::{Micros, NONE_TS};

fn t_str(s: &str) -> Typed {
    Typed::Str(s.to_string())
}
fn t_int(v: i64) -> Typed {
    Typed::Int(v)
}
fn t_ts(t: Micros) -> Typed {
    if t == NONE_TS {
        Typed::Null
    } else {
        Typed::Time(t)
    }
}
fn t_opt(v: Option<i64>) -> Typed {
    v.map(Typed::Int).unwrap_or(Typed::Null)
}

/// What the jobs say about each template (index = ujt index).
#[derive(Clone, Debug, Default)]
pub struct TemplateStats {
    /// newest job (current or last)
    pub newest: Option<(u32, Status)>,
    /// the last finished job: id, finished, status
    pub last: Option<(u32, Micros, Status)>,
    /// up to 10 newest jobs: id, status, finished, canceled_on, type
    pub recent: Vec<(u32, Status, Micros, Micros, JobType)>,
}

pub fn template_stats(sim: &Sim) -> Vec<TemplateStats> {
    let n = sim.world.ujts.len();
    let mut st = vec![TemplateStats::default(); n];
    let mut complete = 0usize;
    for j in sim.jobs.iter().rev() {
        let Some(s) = st.get_mut(j.ujt as usize) else {
            continue;
        };
        let was_complete = s.recent.len() >= 10 && s.last.is_some();
        if s.newest.is_none() {
            s.newest = Some((j.id, j.status));
        }
        if s.last.is_none() && j.status.is_final() {
            s.last = Some((j.id, j.finished, j.status));
        }
        if s.recent.len() < 10 {
            s.recent
                .push((j.id, j.status, j.finished, j.canceled_on(), j.jtype));
        }
        if !was_complete && s.recent.len() >= 10 && s.last.is_some() {
            complete += 1;
            if complete == n {
                break;
            }
        }
    }
    st
}

fn org_summary(o: &mut Obj, sim: &Sim, org: u8) {
    if let Some(org) = sim.world.orgs.get(org as usize) {
        o.obj("organization", |x| {
            x.int("id", org.id as i64)
                .str("name", &org.name)
                .str("description", &org.description);
        });
    }
}

fn caps(o: &mut Obj, extra: &[&str]) {
    o.obj("user_capabilities", |x| {
        x.bool("edit", true).bool("delete", true);
        for e in extra {
            x.bool(e, true);
        }
    });
}

pub fn organizations(sim: &Sim, api: &str) -> (RowSchema, Vec<Row>) {
    let w = &sim.world;
    let schema = RowSchema::new(
        "Organization",
        vec![
            ("id", Kind::Int),
            ("name", Kind::Str),
            ("description", Kind::Str),
            ("created", Kind::Time),
            ("modified", Kind::Time),
        ],
        vec!["name", "description"],
    );
    let rows = w
        .orgs
        .iter()
        .enumerate()
        .map(|(k, org)| {
            let created = w.boot - 400 * crate::time::DAY + k as i64 * 3_600_000_123;
            let modified = org.modified.unwrap_or(created);
            let json = object(|o| {
                let url = format!("{api}organizations/{}/", org.id);
                o.int("id", org.id as i64)
                    .str("type", "organization")
                    .str("url", &url);
                o.obj("related", |r| {
                    for rel in [
                        "inventories",
                        "job_templates",
                        "workflow_job_templates",
                        "projects",
                        "users",
                        "teams",
                        "instance_groups",
                    ] {
                        r.str(rel, &format!("{url}{rel}/"));
                    }
                });
                o.obj("summary_fields", |s| {
                    s.obj("related_field_counts", |c| {
                        let ujts = |kind: UjtKind| {
                            w.ujts
                                .iter()
                                .filter(|u| u.kind == kind && u.org == k as u8)
                                .count() as i64
                        };
                        c.int(
                            "inventories",
                            w.inventories.iter().filter(|i| i.org == k as u8).count() as i64,
                        )
                        .int("teams", if k == 0 { 0 } else { 1 })
                        .int("users", 2)
                        .int("job_templates", ujts(UjtKind::JobTemplate))
                        .int("admins", 1)
                        .int("projects", ujts(UjtKind::Project));
                    });
                    caps(s, &[]);
                });
                o.ts("created", created)
                    .ts("modified", modified)
                    .str("name", &org.name)
                    .str("description", &org.description)
                    .int("max_hosts", 0)
                    .null("custom_virtualenv")
                    .null("default_environment");
            });
            Row {
                json,
                vals: vec![
                    t_int(org.id as i64),
                    t_str(&org.name),
                    t_str(&org.description),
                    Typed::Time(created),
                    Typed::Time(modified),
                ],
                type_name: "organization",
            }
        })
        .collect();
    (schema, rows)
}

pub fn inventories(sim: &Sim, api: &str) -> (RowSchema, Vec<Row>) {
    let w = &sim.world;
    let schema = RowSchema::new(
        "Inventory",
        vec![
            ("id", Kind::Int),
            ("name", Kind::Str),
            ("description", Kind::Str),
            ("organization", Kind::Fk),
            ("organization__name", Kind::Str),
            ("kind", Kind::Str),
            ("total_hosts", Kind::Int),
            ("has_inventory_sources", Kind::Bool),
            ("created", Kind::Time),
            ("modified", Kind::Time),
        ],
        vec!["name", "description"],
    );
    let rows = w
        .inventories
        .iter()
        .enumerate()
        .map(|(k, inv)| {
            let sources = w
                .ujts
                .iter()
                .filter(|u| u.kind == UjtKind::InventorySource && u.inventory == k as u16)
                .count() as i64;
            let org = w.orgs.get(inv.org as usize);
            let created = w.boot - 300 * crate::time::DAY + k as i64 * 7_200_000_321;
            let modified = inv.modified.unwrap_or(created);
            let json = object(|o| {
                let url = format!("{api}inventories/{}/", inv.id);
                o.int("id", inv.id as i64)
                    .str("type", "inventory")
                    .str("url", &url);
                o.obj("related", |r| {
                    for rel in [
                        "hosts",
                        "groups",
                        "inventory_sources",
                        "job_templates",
                        "ad_hoc_commands",
                    ] {
                        r.str(rel, &format!("{url}{rel}/"));
                    }
                    if let Some(org) = org {
                        r.str("organization", &format!("{api}organizations/{}/", org.id));
                    }
                });
                o.obj("summary_fields", |s| {
                    org_summary(s, sim, inv.org);
                    caps(s, &["copy", "adhoc"]);
                });
                o.ts("created", created)
                    .ts("modified", modified)
                    .str("name", &inv.name)
                    .str("description", &inv.description)
                    .opt_int("organization", org.map(|o| o.id as i64))
                    .str("kind", inv.kind)
                    .null("host_filter")
                    .str("variables", "")
                    .bool("has_active_failures", false)
                    .int("total_hosts", inv.host_count as i64)
                    .int("hosts_with_active_failures", 0)
                    .int("total_groups", inv.group_count as i64)
                    .bool("has_inventory_sources", sources > 0)
                    .int("total_inventory_sources", sources)
                    .int("inventory_sources_with_failures", 0)
                    .bool("pending_deletion", false)
                    .bool("prevent_instance_group_fallback", false);
            });
            Row {
                json,
                vals: vec![
                    t_int(inv.id as i64),
                    t_str(&inv.name),
                    t_str(&inv.description),
                    t_opt(org.map(|o| o.id as i64)),
                    org.map(|o| t_str(&o.name)).unwrap_or(Typed::Null),
                    t_str(inv.kind),
                    t_int(inv.host_count as i64),
                    Typed::Bool(sources > 0),
                    Typed::Time(created),
                    Typed::Time(modified),
                ],
                type_name: "inventory",
            }
        })
        .collect();
    (schema, rows)
}

/// `groups/`: AWX 24.6.1's GroupSerializer; each host of a grouped inventory is in one group.
pub fn groups(sim: &Sim, api: &str) -> (RowSchema, Vec<Row>) {
    let w = &sim.world;
    let schema = RowSchema::new(
        "Group",
        vec![
            ("id", Kind::Int),
            ("name", Kind::Str),
            ("description", Kind::Str),
            ("inventory", Kind::Fk),
            ("inventory__name", Kind::Str),
            ("created", Kind::Time),
            ("modified", Kind::Time),
        ],
        vec!["name", "description"],
    );
    let rows = w
        .groups
        .iter()
        .map(|g| {
            let inv = &w.inventories[g.inventory as usize];
            let created = w.boot - 250 * crate::time::DAY + g.id as i64 * 60_000_017;
            let json = object(|o| {
                let url = format!("{api}groups/{}/", g.id);
                o.int("id", g.id as i64)
                    .str("type", "group")
                    .str("url", &url);
                o.obj("related", |r| {
                    for rel in [
                        "variable_data",
                        "hosts",
                        "potential_children",
                        "children",
                        "all_hosts",
                        "job_events",
                        "job_host_summaries",
                        "activity_stream",
                        "inventory_sources",
                        "ad_hoc_commands",
                    ] {
                        r.str(rel, &format!("{url}{rel}/"));
                    }
                    r.str("inventory", &format!("{api}inventories/{}/", inv.id));
                });
                o.obj("summary_fields", |s| {
                    crate::jobs::inventory_summary(s, w, g.inventory);
                    caps(s, &["copy"]);
                });
                o.ts("created", created)
                    .ts("modified", created)
                    .str("name", &g.name)
                    .str("description", "")
                    .int("inventory", inv.id as i64)
                    .str("variables", "");
            });
            Row {
                json,
                vals: vec![
                    t_int(g.id as i64),
                    t_str(&g.name),
                    t_str(""),
                    t_int(inv.id as i64),
                    t_str(&inv.name),
                    Typed::Time(created),
                    Typed::Time(created),
                ],
                type_name: "group",
            }
        })
        .collect();
    (schema, rows)
}

pub fn hosts(sim: &Sim, api: &str) -> (RowSchema, Vec<Row>) {
    use crate::host_results::{host_states, summary_id};
    let w = &sim.world;
    let states = host_states(sim);
    let schema = RowSchema::new(
        "Host",
        vec![
            ("id", Kind::Int),
            ("name", Kind::Str),
            ("description", Kind::Str),
            ("inventory", Kind::Fk),
            ("inventory__name", Kind::Str),
            ("enabled", Kind::Bool),
            ("has_active_failures", Kind::Bool),
            ("last_job", Kind::Fk),
            ("last_job_host_summary", Kind::Fk),
            ("last_job_host_summary__failed", Kind::Bool),
            ("created", Kind::Time),
            ("modified", Kind::Time),
        ],
        vec!["name", "description"],
    );
    let rows = w
        .hosts
        .iter()
        .zip(&states)
        .map(|(h, st)| {
            let inv = &w.inventories[h.inventory as usize];
            let pos = h.id as usize - 1 - inv.first_host;
            let lj = st.last_job;
            // has_active_failures is last_job_host_summary.failed
            let failed = st.failed;
            let enabled = h.enabled_at(sim.now);
            let summary = lj.map(|j| summary_id(j.id, pos));
            let created = w.boot - 200 * crate::time::DAY + h.id as i64 * 1_000_003;
            let modified = lj.and_then(|j| j.finished_opt()).unwrap_or(created);
            let group = w.groups.get(h.group as usize);
            let json = object(|o| {
                let url = format!("{api}hosts/{}/", h.id);
                o.int("id", h.id as i64)
                    .str("type", "host")
                    .str("url", &url);
                // link order of AWX 24.6.1's HostSerializer (hosts_list.json)
                o.obj("related", |r| {
                    for k in [
                        "variable_data",
                        "groups",
                        "all_groups",
                        "job_events",
                        "job_host_summaries",
                        "activity_stream",
                        "inventory_sources",
                        "smart_inventories",
                        "ad_hoc_commands",
                        "ad_hoc_command_events",
                        "ansible_facts",
                    ] {
                        r.str(k, &format!("{url}{k}/"));
                    }
                    r.str("inventory", &format!("{api}inventories/{}/", inv.id));
                    if let Some(j) = lj {
                        r.str("last_job", &format!("{api}jobs/{}/", j.id));
                    }
                    if let Some(id) = summary {
                        r.str(
                            "last_job_host_summary",
                            &format!("{api}job_host_summaries/{id}/"),
                        );
                    }
                });
                o.obj("summary_fields", |s| {
                    crate::jobs::inventory_summary(s, w, h.inventory);
                    if let Some(j) = lj {
                        s.obj("last_job", |x| {
                            x.int("id", j.id as i64)
                                .str("name", w.job_name(j))
                                .str("description", w.job_description(j))
                                .ts("finished", j.finished)
                                .str("status", j.status.as_str())
                                .bool("failed", j.failed());
                        });
                    }
                    if let Some(id) = summary {
                        s.obj("last_job_host_summary", |x| {
                            x.int("id", id).bool("failed", failed);
                        });
                    }
                    caps(s, &[]);
                    s.obj("groups", |g| {
                        g.int("count", group.is_some() as i64).arr("results", |a| {
                            if let Some(gr) = group {
                                a.obj(|x| {
                                    x.int("id", gr.id as i64).str("name", &gr.name);
                                });
                            }
                        });
                    });
                    s.arr("recent_jobs", |a| {
                        for j in &st.recent {
                            a.obj(|x| {
                                x.int("id", j.id as i64)
                                    .str(
                                        "name",
                                        w.ujts
                                            .get(j.ujt as usize)
                                            .map(|u| u.name.as_str())
                                            .unwrap_or(""),
                                    )
                                    .str("type", "job")
                                    .str("status", j.status.as_str())
                                    .ts("finished", j.finished);
                            });
                        }
                    });
                });
                o.ts("created", created)
                    .ts("modified", modified)
                    .str("name", &h.name)
                    .str("description", "")
                    .int("inventory", inv.id as i64)
                    .bool("enabled", enabled)
                    .str("instance_id", "")
                    .str("variables", "")
                    .bool("has_active_failures", failed)
                    .bool("has_inventory_sources", false)
                    .opt_int("last_job", lj.map(|j| j.id as i64))
                    .opt_int("last_job_host_summary", summary)
                    .null("ansible_facts_modified");
            });
            Row {
                json,
                vals: vec![
                    t_int(h.id as i64),
                    t_str(&h.name),
                    t_str(""),
                    t_int(inv.id as i64),
                    t_str(&inv.name),
                    Typed::Bool(enabled),
                    Typed::Bool(failed),
                    t_opt(lj.map(|j| j.id as i64)),
                    t_opt(summary),
                    if lj.is_some() {
                        Typed::Bool(failed)
                    } else {
                        Typed::Null
                    },
                    Typed::Time(created),
                    Typed::Time(modified),
                ],
                type_name: "host",
            }
        })
        .collect();
    (schema, rows)
}

/// Job templates, workflow job templates, projects, inventory sources or system job
/// templates; `None`: all of them, as AWX's `unified_job_templates/` lists them.
pub fn templates(
    sim: &Sim,
    api: &str,
    only: Option<UjtKind>,
    stats: &[TemplateStats],
) -> (RowSchema, Vec<Row>) {
    let w = &sim.world;
    let model = match only {
        None => "UnifiedJobTemplate",
        Some(UjtKind::JobTemplate) => "JobTemplate",
        Some(UjtKind::WorkflowJobTemplate) => "WorkflowJobTemplate",
        Some(UjtKind::Project) => "Project",
        Some(UjtKind::InventorySource) => "InventorySource",
        Some(UjtKind::SystemJobTemplate) => "SystemJobTemplate",
    };
    let schema = RowSchema::new(
        model,
        vec![
            ("id", Kind::Int),
            ("name", Kind::Str),
            ("description", Kind::Str),
            ("organization", Kind::Fk),
            ("organization__name", Kind::Str),
            ("inventory", Kind::Fk),
            ("inventory__name", Kind::Str),
            ("project", Kind::Fk),
            ("project__name", Kind::Str),
            ("playbook", Kind::Str),
            ("status", Kind::Str),
            ("last_job_run", Kind::Time),
            ("last_job_failed", Kind::Bool),
            ("next_job_run", Kind::Time),
            ("created", Kind::Time),
            ("modified", Kind::Time),
        ],
        vec!["name", "description"],
    );
    let now = sim.now;
    let rows = w
        .ujts
        .iter()
        .enumerate()
        .filter(|(_, u)| only.is_none_or(|k| u.kind == k))
        .map(|(k, u)| {
            let kind = u.kind;
            let st = &stats[k];
            let status = match st.newest {
                Some((_, s)) => s.as_str(),
                None if kind == UjtKind::Project => "ok",
                None => "never updated",
            };
            let last_run = st.last.map(|l| l.1).unwrap_or(NONE_TS);
            let last_failed = st.last.map(|l| l.2.is_failed()).unwrap_or(false);
            let next = w
                .schedules
                .iter()
                .filter(|s| s.ujt == k as u16 && s.enabled)
                .map(|s| next_run(s, now))
                .min()
                .unwrap_or(NONE_TS);
            let org = w.orgs.get(u.org as usize);
            let inv = w.inventories.get(u.inventory as usize);
            let proj = if kind == UjtKind::Project {
                None
            } else {
                w.ujts.get(u.project as usize)
            };
            let url = format!("{api}{}/{}/", kind.collection(), u.id);
            let json = object(|o| {
                o.int("id", u.id as i64)
                    .str("type", kind.type_name())
                    .str("url", &url);
                o.obj("related", |r| {
                    if let Some(org) = org {
                        r.str("organization", &format!("{api}organizations/{}/", org.id));
                    }
                    if let Some(i) = inv {
                        r.str("inventory", &format!("{api}inventories/{}/", i.id));
                    }
                    if let Some(p) = proj {
                        r.str("project", &format!("{api}projects/{}/", p.id));
                    }
                    if let Some((id, _, _)) = st.last {
                        r.str(
                            "last_job",
                            &format!("{api}{}/{}/", kind.job_type().collection(), id),
                        );
                    }
                    r.str("schedules", &format!("{url}schedules/"))
                        .str("launch", &format!("{url}launch/"));
                    let jobs_rel = match kind {
                        UjtKind::Project => "project_updates",
                        UjtKind::InventorySource => "inventory_updates",
                        UjtKind::WorkflowJobTemplate => "workflow_jobs",
                        _ => "jobs",
                    };
                    r.str(jobs_rel, &format!("{url}{jobs_rel}/"));
                });
                o.obj("summary_fields", |s| {
                    org_summary(s, sim, u.org);
                    if let Some(i) = inv {
                        s.obj("inventory", |x| {
                            x.int("id", i.id as i64)
                                .str("name", &i.name)
                                .str("description", &i.description)
                                .int("total_hosts", i.host_count as i64)
                                .int(
                                    "organization_id",
                                    w.orgs.get(i.org as usize).map(|o| o.id as i64).unwrap_or(0),
                                )
                                .str("kind", "");
                        });
                    }
                    if let Some(p) = proj {
                        s.obj("project", |x| {
                            x.int("id", p.id as i64)
                                .str("name", &p.name)
                                .str("description", &p.description)
                                .str("status", "successful")
                                .str("scm_type", "git")
                                .bool("allow_override", false);
                        });
                    }
                    if let Some((id, fin, status)) = st.last {
                        s.obj("last_job", |x| {
                            x.int("id", id as i64)
                                .str("name", &u.job_name)
                                .str("description", &u.description)
                                .ts("finished", fin)
                                .str("status", status.as_str())
                                .bool("failed", status.is_failed());
                            if kind == UjtKind::JobTemplate {
                                x.bool("license_error", false);
                            }
                            x.ts(
                                "canceled_on",
                                if status == Status::Canceled {
                                    fin
                                } else {
                                    NONE_TS
                                },
                            );
                        });
                    }
                    caps(s, &["start", "schedule", "copy"]);
                    if kind == UjtKind::JobTemplate || kind == UjtKind::WorkflowJobTemplate {
                        s.obj("labels", |x| {
                            x.int("count", 0).arr("results", |_| {});
                        });
                        s.arr("recent_jobs", |a| {
                            for (id, status, fin, canceled, t) in &st.recent {
                                a.obj(|x| {
                                    x.int("id", *id as i64)
                                        .str("status", status.as_str())
                                        .ts("finished", *fin)
                                        .ts("canceled_on", *canceled)
                                        .str("type", t.as_str());
                                });
                            }
                        });
                    }
                });
                o.ts("created", u.created)
                    .ts("modified", u.modified.unwrap_or(u.created))
                    .str("name", &u.name)
                    .str("description", &u.description);
                match kind {
                    UjtKind::JobTemplate => {
                        o.str("job_type", "run")
                            .opt_int("inventory", inv.map(|i| i.id as i64))
                            .opt_int("project", proj.map(|p| p.id as i64))
                            .str("playbook", u.playbook)
                            .str("scm_branch", "")
                            .int("forks", 0)
                            .str("limit", "")
                            .int("verbosity", 0)
                            .str("extra_vars", "")
                            .str("job_tags", "")
                            .bool("force_handlers", false)
                            .str("skip_tags", "")
                            .str("start_at_task", "")
                            .int("timeout", 0)
                            .bool("use_fact_cache", false)
                            .opt_int("organization", org.map(|o| o.id as i64))
                            .ts("last_job_run", last_run)
                            .bool("last_job_failed", last_failed)
                            .ts("next_job_run", next)
                            .str("status", status)
                            .null("execution_environment")
                            .str("host_config_key", "")
                            .bool("ask_scm_branch_on_launch", false)
                            .bool("ask_diff_mode_on_launch", false)
                            .bool("ask_variables_on_launch", false)
                            .bool("ask_limit_on_launch", false)
                            .bool("ask_inventory_on_launch", false)
                            .bool("ask_credential_on_launch", false)
                            .bool("survey_enabled", false)
                            .bool("become_enabled", false)
                            .bool("diff_mode", false)
                            .bool("allow_simultaneous", false)
                            .null("custom_virtualenv")
                            .int("job_slice_count", 1)
                            .str("webhook_service", u.webhook_service)
                            .null("webhook_credential")
                            .bool("prevent_instance_group_fallback", false);
                    }
                    UjtKind::WorkflowJobTemplate => {
                        o.ts("last_job_run", last_run)
                            .bool("last_job_failed", last_failed)
                            .ts("next_job_run", next)
                            .str("status", status)
                            .str("extra_vars", "")
                            .opt_int("organization", org.map(|o| o.id as i64))
                            .bool("survey_enabled", false)
                            .bool("allow_simultaneous", false)
                            .bool("ask_variables_on_launch", false)
                            .null("inventory")
                            .null("limit")
                            .null("scm_branch")
                            .str("webhook_service", "")
                            .null("webhook_credential");
                    }
                    UjtKind::Project => {
                        o.str(
                            "local_path",
                            &format!("_{}__{}", u.id, u.name.to_lowercase().replace(' ', "_")),
                        )
                        .str("scm_type", "git")
                        .str("scm_url", u.scm_url)
                        .str("scm_branch", "")
                        .str("scm_refspec", "")
                        .bool("scm_clean", false)
                        .bool("scm_track_submodules", false)
                        .bool("scm_delete_on_update", false)
                        .null("credential")
                        .int("timeout", 0)
                        .str("scm_revision", "2fecdad0f8913a92e94daa3bafa15c5cdbedd821")
                        .ts("last_job_run", last_run)
                        .bool("last_job_failed", last_failed)
                        .ts("next_job_run", next)
                        .str(
                            "status",
                            if status == "successful" {
                                "successful"
                            } else {
                                status
                            },
                        )
                        .opt_int("organization", org.map(|o| o.id as i64))
                        .bool("scm_update_on_launch", true)
                        .int("scm_update_cache_timeout", 0)
                        .bool("allow_override", false)
                        .null("custom_virtualenv")
                        .null("default_environment")
                        .null("signature_validation_credential")
                        .bool("last_update_failed", last_failed)
                        .ts("last_updated", last_run);
                    }
                    UjtKind::InventorySource => {
                        o.str("source", u.source)
                            .str("source_path", "")
                            .str("source_vars", "")
                            .null("credential")
                            .str("enabled_var", "")
                            .str("enabled_value", "")
                            .str("host_filter", "")
                            .bool("overwrite", true)
                            .bool("overwrite_vars", false)
                            .int("timeout", 0)
                            .int("verbosity", 1)
                            .ts("last_job_run", last_run)
                            .bool("last_job_failed", last_failed)
                            .ts("next_job_run", next)
                            .str(
                                "status",
                                if st.newest.is_none() {
                                    "never updated"
                                } else {
                                    status
                                },
                            )
                            .opt_int("inventory", inv.map(|i| i.id as i64))
                            .bool("update_on_launch", u.id % 2 == 0)
                            .int("update_cache_timeout", 0)
                            .null("source_project")
                            .bool("last_update_failed", last_failed)
                            .ts("last_updated", last_run);
                    }
                    UjtKind::SystemJobTemplate => {
                        o.ts("last_job_run", last_run)
                            .bool("last_job_failed", last_failed)
                            .ts("next_job_run", next)
                            .str("status", status)
                            .null("execution_environment")
                            .str("job_type", u.system_job_type);
                    }
                }
            });
            Row {
                json,
                vals: vec![
                    t_int(u.id as i64),
                    t_str(&u.name),
                    t_str(&u.description),
                    t_opt(org.map(|o| o.id as i64)),
                    org.map(|o| t_str(&o.name)).unwrap_or(Typed::Null),
                    t_opt(inv.map(|i| i.id as i64)),
                    inv.map(|i| t_str(&i.name)).unwrap_or(Typed::Null),
                    t_opt(proj.map(|p| p.id as i64)),
                    proj.map(|p| t_str(&p.name)).unwrap_or(Typed::Null),
                    t_str(u.playbook),
                    t_str(status),
                    t_ts(last_run),
                    Typed::Bool(last_failed),
                    t_ts(next),
                    Typed::Time(u.created),
                    Typed::Time(u.modified.unwrap_or(u.created)),
                ],
                type_name: kind.type_name(),
            }
        })
        .collect();
    (schema, rows)
}

pub fn schedules(sim: &Sim, api: &str) -> (RowSchema, Vec<Row>) {
    let w = &sim.world;
    let schema = RowSchema::new(
        "Schedule",
        vec![
            ("id", Kind::Int),
            ("name", Kind::Str),
            ("description", Kind::Str),
            ("enabled", Kind::Bool),
            ("unified_job_template", Kind::Fk),
            ("unified_job_template__name", Kind::Str),
            ("next_run", Kind::Time),
        ],
        vec!["name", "description"],
    );
    let rows = w
        .schedules
        .iter()
        .map(|s| {
            let u = &w.ujts[s.ujt as usize];
            let next = next_run(s, sim.now);
            let dtstart = w.episodes.history_start - 30 * crate::time::DAY
                + s.phase.rem_euclid(s.interval.max(1));
            let rrule = format!(
                "DTSTART;TZID=UTC:{} RRULE:FREQ=MINUTELY;INTERVAL={}",
                crate::time::iso(dtstart)
                    .replace(['-', ':'], "")
                    .trim_end_matches('Z')
                    .split('.')
                    .next()
                    .unwrap_or(""),
                (s.interval / crate::time::MIN).max(1)
            );
            let json = object(|o| {
                o.int("id", s.id as i64)
                    .str("type", "schedule")
                    .str("url", &format!("{api}schedules/{}/", s.id));
                o.obj("related", |r| {
                    r.str(
                        "unified_job_template",
                        &format!("{api}{}/{}/", u.kind.collection(), u.id),
                    );
                });
                o.obj("summary_fields", |x| {
                    x.obj("unified_job_template", |t| {
                        t.int("id", u.id as i64)
                            .str("name", &u.name)
                            .str("description", &u.description)
                            .str("unified_job_type", u.kind.job_type().as_str());
                    });
                    caps(x, &[]);
                });
                o.ts("created", dtstart)
                    .ts("modified", dtstart)
                    .str("name", &s.name)
                    .str("description", "")
                    .str("rrule", &rrule)
                    .int("unified_job_template", u.id as i64)
                    .bool("enabled", s.enabled)
                    .ts("dtstart", dtstart)
                    .null("dtend")
                    .ts("next_run", next)
                    .str("timezone", "UTC")
                    .str("until", "");
            });
            Row {
                json,
                vals: vec![
                    t_int(s.id as i64),
                    t_str(&s.name),
                    t_str(""),
                    Typed::Bool(s.enabled),
                    t_int(u.id as i64),
                    t_str(&u.name),
                    t_ts(next),
                ],
                type_name: "schedule",
            }
        })
        .collect();
    (schema, rows)
}

/// Per instance: (jobs_running = running+waiting on this execution node, jobs_total).
pub fn instance_job_counts(sim: &Sim) -> Vec<(i64, i64)> {
    let mut c = vec![(0i64, 0i64); sim.world.instances.len()];
    for j in &sim.jobs {
        if let Some(x) = c.get_mut(j.exec_node as usize) {
            x.1 += 1;
            if matches!(j.status, Status::Running | Status::Waiting) {
                x.0 += 1;
            }
        }
    }
    c
}

fn pct_remaining(cap: i64, consumed: i64) -> f64 {
    if cap <= 0 || consumed >= cap {
        0.0
    } else {
        (((cap - consumed) as f64 / cap as f64) * 10_000.0).round() / 100.0
    }
}

pub fn instances(sim: &Sim, api: &str) -> (RowSchema, Vec<Row>) {
    let w = &sim.world;
    let counts = instance_job_counts(sim);
    let schema = RowSchema::new(
        "Instance",
        vec![
            ("id", Kind::Int),
            ("hostname", Kind::Str),
            ("node_type", Kind::Str),
            ("node_state", Kind::Str),
            ("enabled", Kind::Bool),
            ("capacity", Kind::Int),
            ("uuid", Kind::Str),
            ("created", Kind::Time),
            ("modified", Kind::Time),
        ],
        vec!["hostname"],
    );
    let rows = w
        .instances
        .iter()
        .enumerate()
        .map(|(k, i)| {
            let consumed = sim.consumed[k];
            let (running, total) = counts[k];
            let groups: Vec<&InstanceGroup> = w
                .instance_groups
                .iter()
                .filter(|g| g.instances.contains(&(k as u8)))
                .collect();
            let last_seen = if i.node_state == "ready" {
                sim.now - (sim.now.rem_euclid(60 * crate::time::SEC)) + 1_234
            } else {
                w.boot - 3 * crate::time::HOUR
            };
            let json = object(|o| {
                let url = format!("{api}instances/{}/", i.id);
                o.int("id", i.id as i64)
                    .str("hostname", &i.hostname)
                    .str("type", "instance")
                    .str("url", &url);
                // nodes the installer registers (control plane) are `managed`: not editable, no
                // listener, no health check link (samples/real-awx-24.6.1/instances.json)
                let managed = i.node_type.can_control();
                o.obj("related", |r| {
                    r.str("receptor_addresses", &format!("{url}receptor_addresses/"))
                        .str("jobs", &format!("{url}jobs/"))
                        .str("peers", &format!("{url}peers/"))
                        .str("instance_groups", &format!("{url}instance_groups/"));
                    if !managed {
                        r.str("health_check", &format!("{url}health_check/"));
                    }
                });
                o.obj("summary_fields", |s| {
                    s.obj("user_capabilities", |c| {
                        c.bool("edit", !managed);
                    });
                });
                o.str("uuid", &i.uuid)
                    .ts("created", i.created)
                    .ts("modified", i.created)
                    .ts("last_seen", last_seen)
                    .ts("health_check_started", NONE_TS)
                    .bool("health_check_pending", false)
                    .ts("last_health_check", last_seen)
                    .str("errors", i.errors)
                    .str("capacity_adjustment", "1.00")
                    .str(
                        "version",
                        if i.node_type == NodeType::Hop {
                            ""
                        } else {
                            w.version
                        },
                    )
                    .int("capacity", i.capacity)
                    .int("consumed_capacity", consumed)
                    .float(
                        "percent_capacity_remaining",
                        pct_remaining(i.capacity, consumed),
                    )
                    .int("jobs_running", running)
                    .int("jobs_total", total)
                    .str("cpu", &format!("{:.1}", i.cpu))
                    .int("memory", i.memory)
                    .int("cpu_capacity", i.cpu_capacity)
                    .int("mem_capacity", i.mem_capacity)
                    .bool("enabled", i.enabled)
                    .bool("managed_by_policy", true)
                    .str("node_type", i.node_type.as_str())
                    .str("node_state", i.node_state)
                    .bool("managed", managed)
                    .str("ip_address", &i.ip_address)
                    .arr("peers", |a| {
                        if i.node_type == NodeType::Execution {
                            a.str("awx-hop-1");
                        }
                    })
                    .arr("reverse_peers", |_| {})
                    .opt_int("listener_port", (!managed).then_some(27199))
                    .bool("peers_from_control_nodes", i.node_type == NodeType::Hop)
                    .str("protocol", "tcp");
                let _ = &groups;
            });
            Row {
                json,
                vals: vec![
                    t_int(i.id as i64),
                    t_str(&i.hostname),
                    t_str(i.node_type.as_str()),
                    t_str(i.node_state),
                    Typed::Bool(i.enabled),
                    t_int(i.capacity),
                    t_str(&i.uuid),
                    Typed::Time(i.created),
                    Typed::Time(i.created),
                ],
                type_name: "instance",
            }
        })
        .collect();
    (schema, rows)
}

/// capacity, consumed of an instance group as AWX reports them (sum over its task-manager instances).
pub fn group_capacity(sim: &Sim, g: &InstanceGroup) -> (i64, i64) {
    let mut cap = 0;
    let mut con = 0;
    for &i in &g.instances {
        let inst = &sim.world.instances[i as usize];
        if inst.in_task_manager() {
            cap += inst.capacity;
            con += sim.consumed[i as usize];
        }
    }
    (cap, con)
}

pub fn instance_groups(sim: &Sim, api: &str) -> (RowSchema, Vec<Row>) {
    let w = &sim.world;
    let mut counts = vec![(0i64, 0i64); w.instance_groups.len()];
    for j in &sim.jobs {
        if let Some(x) = counts.get_mut(j.instance_group as usize) {
            x.1 += 1;
            if matches!(j.status, Status::Running | Status::Waiting) {
                x.0 += 1;
            }
        }
    }
    let schema = RowSchema::new(
        "InstanceGroup",
        vec![
            ("id", Kind::Int),
            ("name", Kind::Str),
            ("is_container_group", Kind::Bool),
            ("created", Kind::Time),
            ("modified", Kind::Time),
        ],
        vec!["name"],
    );
    let rows = w
        .instance_groups
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let (cap, con) = group_capacity(sim, g);
            let (running, total) = counts[k];
            let json = object(|o| {
                let url = format!("{api}instance_groups/{}/", g.id);
                o.int("id", g.id as i64)
                    .str("type", "instance_group")
                    .str("url", &url);
                o.obj("related", |r| {
                    r.str("jobs", &format!("{url}jobs/"))
                        .str("instances", &format!("{url}instances/"))
                        .str("access_list", &format!("{url}access_list/"))
                        .str("object_roles", &format!("{url}object_roles/"));
                });
                o.str("name", &g.name)
                    .ts("created", g.created)
                    .ts("modified", g.created)
                    .int("capacity", cap)
                    .int("consumed_capacity", con)
                    .float("percent_capacity_remaining", pct_remaining(cap, con))
                    .int("jobs_running", running)
                    .int("max_concurrent_jobs", g.max_concurrent_jobs as i64)
                    .int("max_forks", g.max_forks as i64)
                    .int("jobs_total", total)
                    .int("instances", g.instances.len() as i64)
                    .bool("is_container_group", g.is_container_group);
                if g.is_container_group {
                    o.int("credential", 2);
                } else {
                    o.null("credential");
                }
                o.int(
                    "policy_instance_percentage",
                    g.policy_instance_percentage as i64,
                )
                .int("policy_instance_minimum", g.policy_instance_minimum as i64)
                .arr("policy_instance_list", |_| {})
                .str("pod_spec_override", "")
                .obj("summary_fields", |s| {
                    s.obj("object_roles", |r| {
                        let base = 3 * k as i64;
                        for (n, (role, name, desc)) in [
                            (
                                "admin_role",
                                "Admin",
                                "Can manage all aspects of the instance group",
                            ),
                            (
                                "use_role",
                                "Use",
                                "Can use the instance group in a job template",
                            ),
                            (
                                "read_role",
                                "Read",
                                "May view settings for the instance group",
                            ),
                        ]
                        .into_iter()
                        .enumerate()
                        {
                            r.obj(role, |x| {
                                x.str("description", desc)
                                    .str("name", name)
                                    .int("id", base + n as i64 + 1);
                            });
                        }
                    });
                    s.obj("user_capabilities", |c| {
                        c.bool("edit", true)
                            .bool("delete", g.name != "controlplane" && g.name != "default");
                    });
                });
            });
            Row {
                json,
                vals: vec![
                    t_int(g.id as i64),
                    t_str(&g.name),
                    Typed::Bool(g.is_container_group),
                    Typed::Time(g.created),
                    Typed::Time(g.created),
                ],
                type_name: "instance_group",
            }
        })
        .collect();
    (schema, rows)
}

pub fn user_json(w_user: &User, api: &str, created: Micros) -> String {
    object(|o| {
        o.int("id", w_user.id as i64)
            .str("type", "user")
            .str("url", &format!("{api}users/{}/", w_user.id));
        o.obj("related", |r| {
            for rel in [
                "teams",
                "organizations",
                "admin_of_organizations",
                "projects",
                "credentials",
                "roles",
                "activity_stream",
                "access_list",
                "tokens",
                "authorized_tokens",
                "personal_tokens",
            ] {
                r.str(rel, &format!("{api}users/{}/{rel}/", w_user.id));
            }
        });
        o.obj("summary_fields", |s| {
            s.obj("user_capabilities", |c| {
                c.bool("edit", true).bool("delete", false);
            });
        });
        o.ts("created", created)
            .ts("modified", created)
            .str("username", &w_user.username)
            .str("first_name", &w_user.first_name)
            .str("last_name", &w_user.last_name)
            .str("email", &w_user.email)
            .bool("is_superuser", w_user.role == Role::Superuser)
            .bool("is_system_auditor", w_user.role == Role::Auditor)
            .str("password", "$encrypted$")
            .ts("last_login", created + 17_123_456)
            .null("ldap_dn")
            .null("external_account");
    })
}

pub fn users(sim: &Sim, api: &str) -> (RowSchema, Vec<Row>) {
    let schema = RowSchema::new(
        "User",
        vec![
            ("id", Kind::Int),
            ("username", Kind::Str),
            ("first_name", Kind::Str),
            ("last_name", Kind::Str),
            ("email", Kind::Str),
            ("is_superuser", Kind::Bool),
        ],
        vec!["username", "first_name", "last_name", "email"],
    );
    let rows = sim
        .world
        .users
        .iter()
        .map(|u| {
            let created = sim.world.boot - 500 * crate::time::DAY + u.id as i64 * 86_400_000_017;
            Row {
                json: user_json(u, api, created),
                vals: vec![
                    t_int(u.id as i64),
                    t_str(&u.username),
                    t_str(&u.first_name),
                    t_str(&u.last_name),
                    t_str(&u.email),
                    Typed::Bool(u.role == Role::Superuser),
                ],
                type_name: "user",
            }
        })
        .collect();
    (schema, rows)
}

/// `dashboard/` (deprecated in AWX, still served): object counts with their list URLs, as AWX
/// 24.6.1 writes them (samples/real-awx-24.6.1/dashboard.json).
pub fn dashboard(sim: &Sim, api: &str) -> String {
    let w = &sim.world;
    let states = crate::host_results::host_states(sim);
    let stats = template_stats(sim);
    let hosts_failed = states.iter().filter(|s| s.failed).count() as i64;
    let inventories_failed = (0..w.inventories.len())
        .filter(|&k| {
            w.hosts
                .iter()
                .zip(&states)
                .any(|(h, s)| h.inventory as usize == k && s.failed)
        })
        .count() as i64;
    let kinds = |k: UjtKind| w.ujts.iter().enumerate().filter(move |(_, u)| u.kind == k);
    let last_failed = |i: usize| {
        stats
            .get(i)
            .and_then(|s| s.last)
            .map(|l| l.2.is_failed())
            .unwrap_or(false)
    };
    let projects = kinds(UjtKind::Project).count() as i64;
    let projects_failed = kinds(UjtKind::Project)
        .filter(|(i, _)| last_failed(*i))
        .count() as i64;
    let ec2 = kinds(UjtKind::InventorySource).filter(|(_, u)| u.source == "ec2");
    let ec2_total = ec2.clone().count() as i64;
    let ec2_failed = ec2.filter(|(i, _)| last_failed(*i)).count() as i64;
    let with_source = w
        .inventories
        .iter()
        .enumerate()
        .filter(|(k, _)| kinds(UjtKind::InventorySource).any(|(_, u)| u.inventory as usize == *k))
        .count() as i64;
    let groups = w.groups.len() as i64;
    object(|o| {
        o.obj("related", |r| {
            r.str("jobs_graph", &format!("{api}dashboard/graphs/jobs/"));
        });
        o.obj("inventories", |x| {
            x.str("url", &format!("{api}inventories/"))
                .int("total", w.inventories.len() as i64)
                .int("total_with_inventory_source", with_source)
                .int("job_failed", inventories_failed)
                .int("inventory_failed", 0);
        });
        o.obj("inventory_sources", |x| {
            x.obj("ec2", |e| {
                e.str("url", &format!("{api}inventory_sources/?source=ec2"))
                    .str(
                        "failures_url",
                        &format!("{api}inventory_sources/?source=ec2&status=failed"),
                    )
                    .str("label", "Amazon EC2")
                    .int("total", ec2_total)
                    .int("failed", ec2_failed);
            });
        });
        o.obj("groups", |x| {
            x.str("url", &format!("{api}groups/"))
                .int("total", groups)
                .int("inventory_failed", 0);
        });
        o.obj("hosts", |x| {
            x.str("url", &format!("{api}hosts/"))
                .str(
                    "failures_url",
                    &format!("{api}hosts/?last_job_host_summary__failed=True"),
                )
                .int("total", w.hosts.len() as i64)
                .int("failed", hosts_failed);
        });
        o.obj("projects", |x| {
            x.str("url", &format!("{api}projects/"))
                .str(
                    "failures_url",
                    &format!("{api}projects/?last_job_failed=True"),
                )
                .int("total", projects)
                .int("failed", projects_failed);
        });
        o.obj("scm_types", |x| {
            for (k, label) in [
                ("git", "Git"),
                ("svn", "Subversion"),
                ("archive", "Remote Archive"),
            ] {
                let (total, failed) = if k == "git" {
                    (projects, projects_failed)
                } else {
                    (0, 0)
                };
                x.obj(k, |e| {
                    e.str("url", &format!("{api}projects/?scm_type={k}"))
                        .str("label", label)
                        .str(
                            "failures_url",
                            &format!("{api}projects/?scm_type={k}&last_job_failed=True"),
                        )
                        .int("total", total)
                        .int("failed", failed);
                });
            }
        });
        for (k, total) in [
            ("users", w.users.len() as i64),
            ("organizations", w.orgs.len() as i64),
            ("teams", w.teams as i64),
            ("credentials", 2),
            ("job_templates", kinds(UjtKind::JobTemplate).count() as i64),
        ] {
            o.obj(k, |x| {
                x.str("url", &format!("{api}{k}/")).int("total", total);
            });
        }
    })
}
