//! `/_sim/*`: the truth, statistics, clock, faults and health endpoints (no auth, never under the
//! API prefix).

use crate::faults::Faults;
use crate::json::object;
use crate::model::*;
use crate::server::{lock, read, truth_jobs, write, AppState};
use crate::time::{iso, SEC};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

type St = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/truth/jobs", get(truth_jobs_h))
        .route("/_sim/truth/instances", get(truth_instances))
        .route("/_sim/stats", get(stats))
        .route("/_sim/stats/reset", post(stats_reset))
        .route("/_sim/advance", post(advance))
        .route(
            "/_sim/faults",
            get(faults_get).post(faults_set).delete(faults_clear),
        )
        .route("/_sim/info", get(info))
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
        .int("in_flight", st.in_flight.load(Ordering::SeqCst) as i64);
    });
    json(StatusCode::OK, body)
}

async fn stats_reset(State(st): St) -> Response {
    {
        let mut s = lock(&st.stats);
        s.total = 0;
        s.by_path.clear();
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
