//! `/_sim/*`: the truth, statistics, clock, faults and health endpoints (no auth, never under the
//! API prefix).

use crate::changes::{ChangeError, Pick, RenameKind};
use crate::faults::Faults;
use crate::json::object;
use crate::model::*;
use crate::server::{lock, read, truth_jobs, write, AppState};
use crate::time::{iso, SEC};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

type St = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/truth/jobs", get(truth_jobs_h))
        .route("/_sim/truth/instances", get(truth_instances))
        .route("/_sim/truth/host_summaries", get(truth_host_summaries))
        .route("/_sim/truth/hosts", get(truth_hosts))
        .route("/_sim/stats", get(stats))
        .route("/_sim/stats/reset", post(stats_reset))
        .route("/_sim/advance", post(advance))
        .route(
            "/_sim/faults",
            get(faults_get).post(faults_set).delete(faults_clear),
        )
        .route("/_sim/info", get(info))
        .route("/_sim/rename", post(rename))
        .route("/_sim/jobs/:id", axum::routing::delete(delete_job))
        .route("/_sim/late_commit", post(late_commit))
        .route("/_sim/add_finished", post(add_finished))
        .route("/_sim/purge", post(purge))
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn bad(msg: String) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({ "detail": msg }).to_string(),
    )
}

async fn health() -> Response {
    json(StatusCode::OK, "{\"status\":\"ok\"}".into())
}

async fn truth_jobs_h(State(st): St) -> Response {
    let sim = read(&st.sim);
    json(StatusCode::OK, truth_jobs(&sim))
}

/// `?from=&to=` (RFC 3339, jobs finished in [from, to); default all) and `failed_only=true`.
async fn truth_host_summaries(State(st): St, Query(q): Query<HashMap<String, String>>) -> Response {
    let time = |k: &str, default: i64| match q.get(k) {
        None => Ok(default),
        Some(v) => crate::time::parse_datetime(v)
            .ok_or_else(|| format!("{k}: `{v}` is not an RFC 3339 time")),
    };
    let (from, to) = match (time("from", i64::MIN + 1), time("to", i64::MAX)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let failed_only = match q.get("failed_only").map(|s| s.as_str()) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return bad(format!("failed_only: `{other}`; use true or false")),
    };
    let st2 = st.clone();
    let res = tokio::task::spawn_blocking(move || {
        let sim = read(&st2.sim);
        crate::host_results::truth_summaries(&sim, from, to, failed_only)
    })
    .await;
    match res {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({ "detail": e.to_string() }).to_string(),
        ),
    }
}

async fn truth_hosts(State(st): St) -> Response {
    let sim = read(&st.sim);
    json(StatusCode::OK, crate::host_results::truth_hosts(&sim))
}

async fn truth_instances(State(st): St) -> Response {
    let sim = read(&st.sim);
    let counts = crate::entities::instance_job_counts(&sim);
    let w = &sim.world;
    let mut out = String::new();
    let mut a = crate::json::Arr::new(&mut out);
    for (k, i) in w.instances.iter().enumerate() {
        let (cap, con) = sim.instance_usage(k);
        a.obj(|o| {
            o.int("id", i.id as i64)
                .str("hostname", &i.hostname)
                .str("uuid", &i.uuid)
                .str("node_type", i.node_type.as_str())
                .str("node_state", i.node_state)
                .bool("enabled", i.enabled)
                .bool("in_metrics", i.in_task_manager())
                .int("capacity", cap)
                .int("consumed_capacity", con)
                .int("remaining_capacity", cap - con)
                .float("cpu", i.cpu)
                .int("memory", i.memory)
                .int("jobs_running", counts[k].0)
                .int("jobs_total", counts[k].1)
                .arr("instance_groups", |g| {
                    for ig in w
                        .instance_groups
                        .iter()
                        .filter(|g| g.instances.contains(&(k as u8)))
                    {
                        g.str(&ig.name);
                    }
                });
        });
    }
    a.end();
    json(StatusCode::OK, out)
}

async fn stats(State(st): St) -> Response {
    let s = lock(&st.stats);
    let body = object(|o| {
        o.int("requests_total", s.total as i64);
        o.obj("requests_by_path", |p| {
            for (k, v) in &s.by_path {
                p.int(k, *v as i64);
            }
        });
        o.int(
            "max_in_flight",
            st.max_in_flight.load(Ordering::SeqCst) as i64,
        )
        .int("in_flight", st.in_flight.load(Ordering::SeqCst) as i64)
        .float("awx_seconds", s.awx_micros as f64 / 1e6);
    });
    json(StatusCode::OK, body)
}

async fn stats_reset(State(st): St) -> Response {
    {
        let mut s = lock(&st.stats);
        s.total = 0;
        s.by_path.clear();
        s.awx_micros = 0;
    }
    st.max_in_flight
        .store(st.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    json(StatusCode::OK, "{\"reset\":true}".into())
}

async fn advance(State(st): St, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(secs) = q
        .get("seconds")
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 366.0 * 86_400.0)
    else {
        return bad("seconds must be a number between 0 and 31622400".into());
    };
    let st2 = st.clone();
    let res = tokio::task::spawn_blocking(move || {
        {
            let mut c = lock(&st2.clock);
            c.offset += (secs * SEC as f64) as i64;
        }
        st2.catch_up();
        let sim = read(&st2.sim);
        object(|o| {
            o.str("now", &iso(sim.now))
                .int("jobs", sim.jobs.len() as i64)
                .float("advanced_seconds", secs);
        })
    })
    .await;
    match res {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({ "detail": e.to_string() }).to_string(),
        ),
    }
}

async fn faults_get(State(st): St) -> Response {
    let f = lock(&st.faults).0.clone();
    json(
        StatusCode::OK,
        serde_json::to_string(&f).unwrap_or_default(),
    )
}

async fn faults_set(State(st): St, body: axum::body::Bytes) -> Response {
    let f: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return bad(format!("invalid faults: {e}")),
    };
    let mut f = f;
    if f.error_status == 0 {
        f.error_status = 500;
    }
    if let Err(e) = f.validate() {
        return bad(e);
    }
    let body = serde_json::to_string(&f).unwrap_or_default();
    {
        let mut g = lock(&st.faults);
        g.0 = f;
        g.1 = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(st.cfg.seed ^ 0xfa17);
    }
    json(StatusCode::OK, body)
}

async fn faults_clear(State(st): St) -> Response {
    lock(&st.faults).0 = Faults {
        error_status: 500,
        ..Faults::default()
    };
    json(StatusCode::OK, "{}".into())
}

async fn info(State(st): St) -> Response {
    let sim = read(&st.sim);
    let w = &sim.world;
    let ep = &w.episodes;
    let body = object(|o| {
        o.str("now", &iso(sim.now))
            .int("seed", st.cfg.seed as i64)
            .bool("frozen", lock(&st.clock).frozen)
            .int("jobs", sim.jobs.len() as i64)
            .str("version", w.version);
        o.obj("cost_model", |c| {
            c.str(
                "model",
                match st.cfg.cost_model {
                    crate::cost::CostModel::None => "none",
                    crate::cost::CostModel::RealAwx2461 => "real-awx-24.6.1",
                },
            )
            .float("scale", st.cfg.cost_scale)
            .opt_int("workers", st.cfg.workers.map(|w| w as i64))
            .int("latency_ms", st.cfg.latency_ms as i64);
        });
        o.obj("episodes", |e| {
            e.obj("failure_spike", |x| {
                x.str("template", w.ujt_name(ep.spike_template))
                    .str("start", &iso(ep.spike_start))
                    .str("end", &iso(ep.spike_end))
                    .float("failure_rate", ep.spike_fail_rate);
            });
            e.obj("queue_buildup", |x| {
                x.str("start", &iso(ep.queue_start))
                    .str("end", &iso(ep.queue_end))
                    .float("launch_multiplier", ep.queue_burst)
                    .str("heavy_template", w.ujt_name(ep.queue_heavy_template))
                    .str("instance_out", w.instance_name(ep.queue_outage_instance));
            });
            e.obj("slowdown", |x| {
                x.str("template", w.ujt_name(ep.slow_template))
                    .str("from", &iso(ep.history_start))
                    .float("growth_over_history", ep.slow_growth);
            });
        });
        o.arr("templates", |a| {
            for u in &w.ujts {
                a.obj(|x| {
                    x.int("id", u.id as i64)
                        .str("name", &u.name)
                        .str("type", u.kind.type_name())
                        .opt_str("organization", w.org_name(u.org));
                });
            }
        });
        o.arr("users", |a| {
            for u in &w.users {
                a.obj(|x| {
                    x.str("username", &u.username)
                        .str(
                            "role",
                            match u.role {
                                Role::Superuser => "superuser",
                                Role::Auditor => "auditor",
                                Role::User => "user",
                            },
                        )
                        .opt_str("token", u.token.as_deref());
                });
            }
        });
    });
    drop(sim);
    let _ = write;
    json(StatusCode::OK, body)
}

fn change_error(e: ChangeError) -> Response {
    let status = match e {
        ChangeError::Invalid(_) => StatusCode::BAD_REQUEST,
        ChangeError::NotFound(_) => StatusCode::NOT_FOUND,
        ChangeError::Conflict(_) => StatusCode::CONFLICT,
    };
    json(
        status,
        serde_json::json!({ "detail": e.to_string() }).to_string(),
    )
}

/// Parses a JSON body; serde's message (unknown keys included) says what to fix.
fn body_of<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ChangeError> {
    serde_json::from_slice(body).map_err(|e| ChangeError::Invalid(format!("invalid body: {e}")))
}

/// Brings the workload up to the clock, then applies `f` to the state under the write lock, off
/// the async workers (a purge or a large insert walks every job).
async fn change<F>(st: Arc<AppState>, f: F) -> Response
where
    F: FnOnce(&mut crate::engine::Sim) -> Result<String, ChangeError> + Send + 'static,
{
    let res = tokio::task::spawn_blocking(move || {
        st.catch_up();
        let mut sim = write(&st.sim);
        f(&mut sim)
    })
    .await;
    match res {
        Ok(Ok(body)) => json(StatusCode::OK, body),
        Ok(Err(e)) => change_error(e),
        Err(e) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({ "detail": e.to_string() }).to_string(),
        ),
    }
}

/// `{"id": 3}` or `{"name": "Deploy Web App"}` picks an object.
#[derive(Deserialize)]
#[serde(untagged)]
enum PickIn {
    Id(u32),
    Name(String),
}

impl From<PickIn> for Pick {
    fn from(p: PickIn) -> Pick {
        match p {
            PickIn::Id(i) => Pick::Id(i),
            PickIn::Name(n) => Pick::Name(n),
        }
    }
}

fn pick_of(id: Option<u32>, name: Option<String>) -> Result<Pick, ChangeError> {
    match (id, name) {
        (Some(i), None) => Ok(Pick::Id(i)),
        (None, Some(n)) => Ok(Pick::Name(n)),
        _ => Err(ChangeError::Invalid(
            "give exactly one of id and name".into(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameIn {
    kind: String,
    id: Option<u32>,
    name: Option<String>,
    new_name: String,
}

async fn rename(State(st): St, body: axum::body::Bytes) -> Response {
    let parsed = body_of::<RenameIn>(&body).and_then(|r| {
        let kind = RenameKind::parse(&r.kind).ok_or_else(|| {
            ChangeError::Invalid(format!(
                "kind must be one of {}, not {:?}",
                RenameKind::NAMES,
                r.kind
            ))
        })?;
        Ok((kind, pick_of(r.id, r.name)?, r.new_name))
    });
    let (kind, pick, new_name) = match parsed {
        Ok(x) => x,
        Err(e) => return change_error(e),
    };
    change(st, move |sim| {
        let done = sim.rename(kind, &pick, &new_name)?;
        Ok(object(|o| {
            o.str("kind", done.kind)
                .int("id", done.id as i64)
                .str("old_name", &done.old_name)
                .str("new_name", &done.new_name)
                .str("now", &iso(sim.now));
        }))
    })
    .await
}

fn truth_of(sim: &crate::engine::Sim, j: &Job) -> String {
    let mut out = String::new();
    let mut a = crate::json::Arr::new(&mut out);
    crate::jobs::render_truth(&mut a, &sim.world, j, sim.now);
    a.end();
    // the one record, without the array brackets
    out[1..out.len() - 1].to_string()
}

async fn delete_job(State(st): St, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return bad(format!("job id must be a number, not {id:?}"));
    };
    change(st, move |sim| {
        let gone = sim.delete_job(id)?;
        Ok(format!("{{\"deleted\":{}}}", truth_of(sim, &gone)))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LateIn {
    id: Option<u32>,
    lag_seconds: f64,
    #[serde(default)]
    status: Option<String>,
}

fn late_args(r: LateIn) -> Result<(Option<u32>, i64, Status), ChangeError> {
    if !(r.lag_seconds.is_finite() && r.lag_seconds > 0.0 && r.lag_seconds < 366.0 * 86_400.0) {
        return Err(ChangeError::Invalid(
            "lag_seconds must be a positive number of seconds".into(),
        ));
    }
    let s = r.status.as_deref().unwrap_or("successful");
    let status = Status::ALL
        .iter()
        .find(|x| x.as_str() == s && x.is_final())
        .copied()
        .ok_or_else(|| {
            ChangeError::Invalid(format!(
                "status must be successful, failed, error or canceled, not {s:?}"
            ))
        })?;
    Ok((r.id, (r.lag_seconds * SEC as f64) as i64, status))
}

async fn late_commit(State(st): St, body: axum::body::Bytes) -> Response {
    let (id, lag, status) = match body_of::<LateIn>(&body).and_then(late_args) {
        Ok(x) => x,
        Err(e) => return change_error(e),
    };
    change(st, move |sim| {
        let id = sim.commit_late(id, lag, status)?;
        let j = sim
            .index_of(id)
            .map(|i| sim.jobs[i].clone())
            .ok_or_else(|| ChangeError::NotFound(format!("job {id} is gone")))?;
        Ok(truth_of(sim, &j))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddIn {
    count: usize,
    #[serde(default)]
    spread_seconds: Option<f64>,
    #[serde(default)]
    template: Option<PickIn>,
}

async fn add_finished(State(st): St, body: axum::body::Bytes) -> Response {
    let r: AddIn = match body_of(&body) {
        Ok(r) => r,
        Err(e) => return change_error(e),
    };
    let spread = r.spread_seconds.unwrap_or(3600.0);
    if !(spread.is_finite() && spread > 0.0 && spread <= 366.0 * 86_400.0) {
        return bad("spread_seconds must be a positive number of seconds up to a year".into());
    }
    let template: Option<Pick> = r.template.map(Pick::from);
    change(st, move |sim| {
        let added = sim.add_finished(r.count, (spread * SEC as f64) as i64, template.as_ref())?;
        Ok(object(|o| {
            o.int("first_id", added.first_id as i64)
                .int("last_id", added.last_id as i64)
                .int("count", (added.last_id - added.first_id + 1) as i64)
                .str("from", &iso(added.from))
                .str("to", &iso(added.to))
                .int("jobs", sim.jobs.len() as i64);
        }))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeIn {
    older_than_days: Option<f64>,
    oldest: Option<usize>,
}

async fn purge(State(st): St, body: axum::body::Bytes) -> Response {
    let r: PurgeIn = match body_of(&body) {
        Ok(r) => r,
        Err(e) => return change_error(e),
    };
    let older = match r.older_than_days {
        Some(d) if d.is_finite() && d >= 0.0 => Some((d * 86_400.0 * SEC as f64) as i64),
        Some(_) => return bad("older_than_days must be a number >= 0".into()),
        None => None,
    };
    change(st, move |sim| {
        let gone = sim.purge_jobs(older, r.oldest)?;
        Ok(object(|o| {
            o.int("deleted", gone as i64)
                .int("jobs", sim.jobs.len() as i64)
                .opt_int("oldest_id", sim.jobs.front().map(|j| j.id as i64));
        }))
    })
    .await
}
