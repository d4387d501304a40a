//! `/api/v2/metrics/`: the main (database) metrics as prometheus_client 0.20 prints them, then the
//! hand-written subsystem metrics per control node, including AWX's duplicated
//! `subsystem_metrics_*` families (issue #15179). Values are computed from the simulated jobs and
//! instances at the instant of the request.

use crate::engine::{Sim, BATCH_BUCKETS};
use crate::json::{push_str_escaped, Obj};
use crate::model::*;
use crate::pyfloat::{go_string, repr};
use crate::time::SEC;
use std::fmt::Write as _;

#[derive(Clone, Debug)]
pub enum Value {
    /// main metrics: a float printed with prometheus_client's floatToGoString
    Gauge(f64),
    /// subsystem integer, printed without a decimal point
    Int(i64),
    /// subsystem float, printed the Python way
    Float(f64),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Gauge(v) => go_string(*v),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => repr(*f),
        }
    }
    fn as_f64(&self) -> f64 {
        match self {
            Value::Gauge(v) | Value::Float(v) => *v,
            Value::Int(i) => *i as f64,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Sample {
    /// `_bucket`, `_count`, `_sum` or empty
    pub suffix: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub typ: &'static str,
    pub samples: Vec<Sample>,
    pub subsystem: bool,
}

fn fam(name: &'static str, help: &'static str, samples: Vec<Sample>) -> Family {
    Family {
        name,
        help,
        typ: "gauge",
        samples,
        subsystem: false,
    }
}

fn one(v: f64) -> Vec<Sample> {
    vec![Sample {
        suffix: "",
        labels: vec![],
        value: Value::Gauge(v),
    }]
}

fn s(labels: Vec<(&'static str, String)>, v: f64) -> Sample {
    Sample {
        suffix: "",
        labels,
        value: Value::Gauge(v),
    }
}

/// Which parts of the output a request asked for (`subsystemonly`, `dbonly`, `node`, `metric`).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub subsystem_only: bool,
    pub db_only: bool,
    pub nodes: Vec<String>,
    pub metrics: Vec<String>,
}

fn py_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

pub fn main_families(sim: &Sim) -> Vec<Family> {
    let w = &sim.world;
    let mut status = [0u64; 8];
    let n_inst = w.instances.len();
    let mut by_node_lt = vec![[0u64; 9]; n_inst];
    let mut by_node_status = vec![[0u64; 8]; n_inst];
    for j in &sim.jobs {
        if j.is_sync() {
            continue;
        }
        status[j.status as usize] += 1;
        if j.exec_node != NONE8 {
            by_node_lt[j.exec_node as usize][j.launch_type as usize] += 1;
            by_node_status[j.exec_node as usize][j.status as usize] += 1;
        }
    }
    let mut out = Vec::new();
    out.push(fam(
        "awx_system_info",
        "AWX System Information",
        vec![s(
            vec![
                ("external_logger_enabled", "False".into()),
                ("external_logger_type", "None".into()),
                ("insights_analytics", "False".into()),
                ("install_uuid", w.install_uuid.clone()),
                ("license_expiry", "0".into()),
                ("license_type", "open".into()),
                ("pendo_tracking", "off".into()),
                ("tower_url_base", w.url_base.clone()),
                ("tower_version", w.version.into()),
            ],
            1.0,
        )],
    ));
    let count = |k: UjtKind| w.ujts.iter().filter(|u| u.kind == k).count() as f64;
    out.push(fam(
        "awx_organizations_total",
        "Number of organizations",
        one(w.orgs.len() as f64),
    ));
    out.push(fam(
        "awx_users_total",
        "Number of users",
        one(w.users.len() as f64),
    ));
    out.push(fam(
        "awx_teams_total",
        "Number of teams",
        one(w.teams as f64),
    ));
    out.push(fam(
        "awx_inventories_total",
        "Number of inventories",
        one(w.inventories.len() as f64),
    ));
    out.push(fam(
        "awx_projects_total",
        "Number of projects",
        one(count(UjtKind::Project)),
    ));
    out.push(fam(
        "awx_job_templates_total",
        "Number of job templates",
        one(count(UjtKind::JobTemplate)),
    ));
    out.push(fam(
        "awx_workflow_job_templates_total",
        "Number of workflow job templates",
        one(count(UjtKind::WorkflowJobTemplate)),
    ));
    let active = w
        .hosts
        .iter()
        .filter(|h| h.enabled_at(sim.now))
        .map(|h| h.name.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    out.push(fam(
        "awx_hosts_total",
        "Number of hosts",
        vec![
            s(vec![("type", "all".into())], w.hosts.len() as f64),
            s(vec![("type", "active".into())], active as f64),
        ],
    ));
    out.push(fam(
        "awx_schedules_total",
        "Number of schedules",
        one(w.schedules.len() as f64),
    ));
    out.push(fam(
        "awx_sessions_total",
        "Number of sessions",
        vec![
            s(vec![("type", "all".into())], 3.0),
            s(vec![("type", "user".into())], 2.0),
            s(vec![("type", "anonymous".into())], 1.0),
        ],
    ));
    let st = |x: Status| status[x as usize] as f64;
    out.push(fam(
        "awx_running_jobs_total",
        "Number of running jobs on the system",
        one(st(Status::Running) + st(Status::Waiting)),
    ));
    out.push(fam(
        "awx_pending_jobs_total",
        "Number of pending jobs on the system",
        one(st(Status::Pending)),
    ));
    out.push(fam(
        "awx_status_total",
        "Status of Job launched",
        [
            Status::Pending,
            Status::Waiting,
            Status::Running,
            Status::Successful,
            Status::Failed,
            Status::Error,
            Status::Canceled,
        ]
        .iter()
        .map(|x| s(vec![("status", x.as_str().into())], st(*x)))
        .collect(),
    ));
    let tm: Vec<(usize, &Instance)> = w
        .instances
        .iter()
        .enumerate()
        .filter(|(_, i)| i.in_task_manager())
        .collect();
    let hl = |i: &Instance| {
        vec![
            ("hostname", i.hostname.clone()),
            ("instance_uuid", i.uuid.clone()),
        ]
    };
    let hln = |i: &Instance| {
        vec![
            ("hostname", i.hostname.clone()),
            ("instance_uuid", i.uuid.clone()),
            ("node_type", i.node_type.as_str().to_string()),
        ]
    };
    out.push(fam(
        "awx_instance_capacity",
        "Capacity of each node in the system",
        tm.iter()
            .map(|(_, i)| s(hln(i), i.capacity as f64))
            .collect(),
    ));
    out.push(fam(
        "awx_instance_cpu",
        "CPU cores on each node in the system",
        tm.iter().map(|(_, i)| s(hl(i), i.cpu)).collect(),
    ));
    out.push(fam(
        "awx_instance_memory",
        "RAM (Kb) on each node in the system",
        tm.iter().map(|(_, i)| s(hl(i), i.memory as f64)).collect(),
    ));
    out.push(fam(
        "awx_instance_info",
        "Info about each node in the system",
        tm.iter()
            .map(|(_, i)| {
                s(
                    vec![
                        ("enabled", py_bool(i.enabled)),
                        ("hostname", i.hostname.clone()),
                        ("instance_uuid", i.uuid.clone()),
                        ("managed_by_policy", "True".into()),
                        ("node_type", i.node_type.as_str().into()),
                        ("version", w.version.into()),
                    ],
                    1.0,
                )
            })
            .collect(),
    ));
    let mut lt = Vec::new();
    let mut ns = Vec::new();
    for (i, inst) in w.instances.iter().enumerate() {
        for l in LaunchType::ALL {
            let c = by_node_lt[i][l as usize];
            if c > 0 {
                lt.push(s(
                    vec![
                        ("launch_type", l.as_str().into()),
                        ("node", inst.hostname.clone()),
                    ],
                    c as f64,
                ));
            }
        }
        for x in [
            Status::Successful,
            Status::Failed,
            Status::Error,
            Status::Canceled,
            Status::Running,
            Status::Waiting,
            Status::Pending,
            Status::New,
        ] {
            let c = by_node_status[i][x as usize];
            if c > 0 {
                ns.push(s(
                    vec![
                        ("node", inst.hostname.clone()),
                        ("status", x.as_str().into()),
                    ],
                    c as f64,
                ));
            }
        }
    }
    out.push(fam(
        "awx_instance_launch_type_total",
        "Type of Job launched",
        lt,
    ));
    out.push(fam(
        "awx_instance_status_total",
        "Status of Job launched",
        ns,
    ));
    out.push(fam(
        "awx_instance_consumed_capacity",
        "Consumed capacity of each node in the system",
        tm.iter()
            .map(|(k, i)| s(hln(i), sim.consumed[*k] as f64))
            .collect(),
    ));
    out.push(fam(
        "awx_instance_remaining_capacity",
        "Remaining capacity of each node in the system",
        tm.iter()
            .map(|(k, i)| s(hln(i), (i.capacity - sim.consumed[*k]) as f64))
            .collect(),
    ));
    out.push(fam(
        "awx_license_instance_total",
        "Total number of managed hosts provided by your license",
        one(0.0),
    ));
    out.push(fam(
        "awx_license_instance_free",
        "Number of remaining managed hosts provided by your license",
        one(0.0),
    ));
    let running = st(Status::Running) + st(Status::Waiting);
    out.push(fam(
        "awx_database_connections_total",
        "Number of connections to database",
        one(12.0 + (running / 4.0).floor().min(40.0)),
    ));
    out
}

/// A deterministic small "timing" value that moves every 15 s of simulated time.
fn jitter(sim: &Sim, node: usize, k: u64, scale: f64) -> f64 {
    let tick = (sim.now / (15 * SEC)) as u64;
    let mut x = tick.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (node as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ k.wrapping_mul(0x1656_67B1_9E37_79F9);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    let u = (x % 1_000_000) as f64 / 1_000_000.0;
    ((scale * (0.5 + u)) * 10_000.0).round() / 10_000.0
}

pub fn subsystem_families(sim: &Sim) -> Vec<Family> {
    let w = &sim.world;
    let nodes: Vec<(usize, &str)> = w
        .instances
        .iter()
        .enumerate()
        .filter(|(_, i)| i.node_type.can_control() && i.in_task_manager())
        .map(|(k, i)| (k, i.hostname.as_str()))
        .take(2)
        .collect();
    let c = &sim.counters;
    let uptime = (sim.now - w.boot).max(0) / SEC;
    let history = (w.boot - w.episodes.history_start).max(0) / SEC;
    let base_calls = (uptime + history) / 20;
    let pending = sim
        .jobs
        .iter()
        .rev()
        .take(5000)
        .filter(|j| j.status == Status::Pending)
        .count() as i64;
    let ts = |n: usize| (c.last_tm / 1000) as f64 / 1000.0 + n as f64 * 0.137;
    type Gen<'a> = Box<dyn Fn(usize, usize) -> Value + 'a>;
    let f = |k: u64, scale: f64| -> Gen {
        Box::new(move |slot, _| Value::Float(jitter(sim, slot, k, scale)))
    };
    let int =
        |g: Box<dyn Fn(usize) -> i64>| -> Gen { Box::new(move |slot, _| Value::Int(g(slot))) };
    let dispatcher: Vec<(&'static str, &'static str, Gen)> = vec![
        ("task_manager_get_tasks_seconds", "Time spent in loading tasks from db", f(1, 0.01)),
        ("task_manager_start_task_seconds", "Time spent starting task", f(2, 0.02)),
        ("task_manager_process_running_tasks_seconds", "Time spent processing running tasks", f(3, 0.002)),
        ("task_manager_process_pending_tasks_seconds", "Time spent processing pending tasks", f(4, 0.004)),
        ("task_manager__schedule_seconds", "Time spent in running the entire _schedule", f(5, 0.04)),
        ("task_manager__schedule_calls", "Number of calls to _schedule, after lock is acquired", int(Box::new(move |n| base_calls + c.tm_calls[n.min(1)] as i64))),
        ("task_manager_recorded_timestamp", "Unix timestamp when metrics were last recorded", Box::new(move |n, _| Value::Float(ts(n)))),
        ("task_manager_tasks_started", "Number of tasks started", int(Box::new(move |_| c.tasks_started as i64))),
        ("task_manager_running_processed", "Number of running tasks processed", int(Box::new(move |_| c.running_processed as i64))),
        ("task_manager_pending_processed", "Number of pending tasks processed", int(Box::new(move |_| c.pending_processed as i64))),
        ("task_manager_tasks_blocked", "Number of tasks blocked from running", int(Box::new(move |_| c.tasks_blocked as i64))),
        ("task_manager_commit_seconds", "Time spent in db transaction, including on_commit calls", f(6, 0.002)),
        ("dependency_manager_get_tasks_seconds", "Time spent loading pending tasks from db", f(7, 0.004)),
        ("dependency_manager_generate_dependencies_seconds", "Time spent generating dependencies for pending tasks", f(8, 0.001)),
        ("dependency_manager__schedule_seconds", "Time spent in running the entire _schedule", f(9, 0.009)),
        ("dependency_manager__schedule_calls", "Number of calls to _schedule, after lock is acquired", int(Box::new(move |n| base_calls - 19 + c.tm_calls[n.min(1)] as i64))),
        ("dependency_manager_recorded_timestamp", "Unix timestamp when metrics were last recorded", Box::new(move |n, _| Value::Float(ts(n) + 0.333))),
        ("dependency_manager_pending_processed", "Number of pending tasks processed", int(Box::new(move |_| pending))),
        ("workflow_manager__schedule_seconds", "Time spent in running the entire _schedule", f(10, 0.007)),
        ("workflow_manager__schedule_calls", "Number of calls to _schedule, after lock is acquired", int(Box::new(move |n| base_calls - 21 + c.tm_calls[n.min(1)] as i64 + c.wf_calls[n.min(1)] as i64))),
        ("workflow_manager_recorded_timestamp", "Unix timestamp when metrics were last recorded", Box::new(move |n, _| Value::Float(ts(n) + 0.666))),
        ("workflow_manager_spawn_workflow_graph_jobs_seconds", "Time spent spawning workflow tasks", f(11, 0.001)),
        ("workflow_manager_get_tasks_seconds", "Time spent loading workflow tasks from db", f(12, 0.001)),
        ("dispatcher_pool_scale_up_events", "Number of times local dispatcher scaled up a worker since startup", int(Box::new(move |n| 3 + (uptime / 3600) + n as i64))),
        ("dispatcher_pool_active_task_count", "Number of active tasks in the worker pool when last task was submitted", int(Box::new(move |_| (c.running_processed as i64).min(8)))),
        ("dispatcher_pool_max_worker_count", "Highest number of workers in worker pool in last collection interval, about 20s", int(Box::new(move |_| 4 + (c.running_processed as i64).min(12)))),
        ("dispatcher_availability", "Fraction of time (in last collection interval) dispatcher was able to receive messages", Box::new(|_, _| Value::Float(1.0))),
    ];
    let common = |k: u64| -> Vec<(&'static str, &'static str, Gen)> {
        vec![
            (
                "subsystem_metrics_pipe_execute_seconds",
                "Time spent saving metrics to redis",
                Box::new(move |n, _| {
                    Value::Float(
                        (((base_calls as f64) * 0.00021 + jitter(sim, n, k, 0.1)) * 1000.0).round()
                            / 1000.0,
                    )
                }),
            ),
            (
                "subsystem_metrics_pipe_execute_calls",
                "Number of calls to pipe_execute",
                int(Box::new(move |n| base_calls * 3 + k as i64 * 7 + n as i64)),
            ),
            (
                "subsystem_metrics_send_metrics_seconds",
                "Time spent sending metrics to other nodes",
                f(k + 1, 0.3),
            ),
        ]
    };
    let callback: Vec<(&'static str, &'static str, Gen)> = vec![
        (
            "callback_receiver_events_queue_size_redis",
            "Current number of events in redis queue",
            int(Box::new(move |_| (c.running_processed as i64 * 3) % 50)),
        ),
        (
            "callback_receiver_events_popped_redis",
            "Number of events popped from redis",
            int(Box::new(move |n| c.events_inserted[n.min(1)] as i64)),
        ),
        (
            "callback_receiver_events_in_memory",
            "Current number of events in memory (in transfer from redis to db)",
            int(Box::new(|_| 0)),
        ),
        (
            "callback_receiver_batch_events_errors",
            "Number of times batch insertion failed",
            int(Box::new(|_| 0)),
        ),
        (
            "callback_receiver_events_insert_db_seconds",
            "Total time spent saving events to database",
            Box::new(move |n, _| {
                Value::Float(
                    (c.events_inserted[n.min(1)] as f64 * 0.00082 * 1000.0).round() / 1000.0,
                )
            }),
        ),
        (
            "callback_receiver_events_insert_db",
            "Number of events batch inserted into database",
            int(Box::new(move |n| c.events_inserted[n.min(1)] as i64)),
        ),
        (
            "callback_receiver_events_broadcast",
            "Number of events broadcast to other control plane nodes",
            int(Box::new(move |n| c.events_inserted[n.min(1)] as i64)),
        ),
    ];
    let mut out = Vec::new();
    let push_block = |defs: Vec<(&'static str, &'static str, Gen)>, out: &mut Vec<Family>| {
        for (name, help, g) in defs {
            let samples = nodes
                .iter()
                .enumerate()
                .map(|(slot, (_, host))| Sample {
                    suffix: "",
                    labels: vec![("node", host.to_string())],
                    value: g(slot, 0),
                })
                .collect();
            out.push(Family {
                name,
                help,
                typ: "gauge",
                samples,
                subsystem: true,
            });
        }
    };
    push_block(dispatcher, &mut out);
    push_block(common(20), &mut out);
    push_block(callback, &mut out);
    let mut hist = Vec::new();
    for (slot, (_, host)) in nodes.iter().enumerate() {
        let b = &c.batch_buckets[slot.min(1)];
        for (k, le) in BATCH_BUCKETS
            .iter()
            .map(|x| x.to_string())
            .chain(std::iter::once("+Inf".to_string()))
            .enumerate()
        {
            hist.push(Sample {
                suffix: "_bucket",
                labels: vec![("le", le), ("node", host.to_string())],
                value: Value::Int(b[k] as i64),
            });
        }
        hist.push(Sample {
            suffix: "_count",
            labels: vec![("node", host.to_string())],
            value: Value::Int(c.batches[slot.min(1)] as i64),
        });
        hist.push(Sample {
            suffix: "_sum",
            labels: vec![("node", host.to_string())],
            value: Value::Int(c.events_inserted[slot.min(1)] as i64),
        });
    }
    out.push(Family {
        name: "callback_receiver_batch_events_insert_db",
        help: "Number of events batch inserted into database",
        typ: "histogram",
        samples: hist,
        subsystem: true,
    });
    let avg: Gen = f(40, 0.0008);
    let samples = nodes
        .iter()
        .enumerate()
        .map(|(slot, (_, host))| Sample {
            suffix: "",
            labels: vec![("node", host.to_string())],
            value: avg(slot, 0),
        })
        .collect();
    out.push(Family {
        name: "callback_receiver_event_processing_avg_seconds",
        help: "Average processing time per event per callback receiver batch",
        typ: "gauge",
        samples,
        subsystem: true,
    });
    push_block(common(30), &mut out);
    out
}

pub fn families(sim: &Sim, sel: &Selection) -> Vec<Family> {
    let mut out = Vec::new();
    if !sel.subsystem_only {
        out.extend(main_families(sim));
    }
    if !sel.db_only {
        for mut f in subsystem_families(sim) {
            if !sel.metrics.is_empty() && !sel.metrics.iter().any(|m| m == f.name) {
                continue;
            }
            if !sel.nodes.is_empty() {
                f.samples.retain(|s| {
                    s.labels
                        .iter()
                        .any(|(k, v)| *k == "node" && sel.nodes.contains(v))
                });
            }
            out.push(f);
        }
    }
    out
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
}

pub fn render_text(fams: &[Family]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for f in fams {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.typ);
        for s in &f.samples {
            out.push_str(f.name);
            out.push_str(s.suffix);
            if !s.labels.is_empty() {
                out.push('{');
                for (k, (n, v)) in s.labels.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{n}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            out.push(' ');
            out.push_str(&s.value.text());
            out.push('\n');
        }
    }
    out
}

/// `?format=json`: AWX parses its own text output into a dict keyed by family name, so a
/// duplicated family keeps its first position with the last block's samples.
pub fn render_json(fams: &[Family]) -> String {
    let mut entries: Vec<(&'static str, String)> = Vec::new();
    for f in fams {
        let mut body = String::new();
        let mut o = Obj::new(&mut body);
        o.str("help_text", f.help)
            .str("type", f.typ)
            .arr("samples", |a| {
                for s in &f.samples {
                    a.obj(|x| {
                        x.obj("labels", |l| {
                            for (k, v) in &s.labels {
                                l.str(k, v);
                            }
                        });
                        x.float("value", s.value.as_f64());
                        match s.suffix {
                            "_bucket" => {
                                x.str("sample_type", "bucket");
                            }
                            "_count" => {
                                x.str("sample_type", "count");
                            }
                            "_sum" => {
                                x.str("sample_type", "sum");
                            }
                            _ => {}
                        }
                    });
                }
            });
        o.end();
        match entries.iter_mut().find(|e| e.0 == f.name) {
            Some(e) => e.1 = body,
            None => entries.push((f.name, body)),
        }
    }
    let mut out = String::from("{");
    for (k, (name, body)) in entries.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        push_str_escaped(&mut out, name);
        out.push(':');
        out.push_str(body);
    }
    out.push('}');
    out
}

/// Whether a metrics/ switch such as `dbonly=1` is on.
pub fn flag(params: &[(String, String)], k: &str) -> bool {
    params
        .iter()
        .any(|(n, v)| n == k && !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false"))
}
