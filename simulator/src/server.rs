//! HTTP side: the accept loop (so a fault can drop a connection), the capacity model, faults,
//! request statistics, authentication, and the routing of the API.

use crate::admin;
use crate::config::Config;
use crate::engine::Sim;
use crate::entities;
use crate::error::{ApiError, SimError};
use crate::faults::{Draw, Faults};
use crate::filter::{parse_query, Query, Row, RowSchema};
use crate::jobs::{render_job, JobModel, JobSchema};
use crate::json::{object, Obj};
use crate::list_cache::{self, ListCache, Selection};
use crate::metrics;
use crate::model::*;
use crate::time::{iso, Micros, DAY, HOUR, SEC};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify, Semaphore};
use tower::ServiceExt;

/// The simulated clock.
pub struct Clock {
    pub base_sim: Micros,
    pub base_real: Instant,
    pub offset: Micros,
    pub frozen: bool,
}

impl Clock {
    pub fn now(&self) -> Micros {
        let real = if self.frozen {
            0
        } else {
            self.base_real.elapsed().as_micros() as i64
        };
        self.base_sim + self.offset + real
    }
}

#[derive(Default)]
pub struct Stats {
    pub total: u64,
    pub by_path: BTreeMap<String, u64>,
    /// AWX's server time the cost model charged, unscaled (microseconds)
    pub awx_micros: u64,
}

pub struct AppState {
    pub cfg: Config,
    pub sim: RwLock<Sim>,
    pub clock: Mutex<Clock>,
    pub faults: Mutex<(Faults, ChaCha8Rng)>,
    pub stats: Mutex<Stats>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub request_seq: AtomicU64,
    pub workers: Option<Semaphore>,
    /// the last few job-list selections, for later pages of the same list
    pub list_cache: ListCache,
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
pub fn read(s: &RwLock<Sim>) -> std::sync::RwLockReadGuard<'_, Sim> {
    s.read().unwrap_or_else(|e| e.into_inner())
}
/// The only way to change the state; moves its version, so the list cache forgets what it
/// selected before.
pub fn write(s: &RwLock<Sim>) -> std::sync::RwLockWriteGuard<'_, Sim> {
    let mut sim = s.write().unwrap_or_else(|e| e.into_inner());
    sim.version = sim.version.wrapping_add(1);
    sim
}

impl AppState {
    /// Brings the workload up to the clock's now.
    pub fn catch_up(&self) {
        let now = lock(&self.clock).now();
        let mut sim = write(&self.sim);
        if now > sim.now {
            sim.run_until(now);
        }
    }
}

/// Per-connection control: a fault can ask the connection task to drop the connection.
#[derive(Clone, Default)]
pub struct ConnCtl {
    pub drop: Arc<Notify>,
}

/// A running simulator.
pub struct RunningSim {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    state: Arc<AppState>,
}

impl RunningSim {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }
    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

pub fn parse_now(cfg: &Config) -> Result<Micros, SimError> {
    match &cfg.now {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_micros())
            .map_err(|e| SimError::Config(format!("--now {s:?}: {e}"))),
        None => Ok(chrono::Utc::now().timestamp_micros()),
    }
}

/// Builds the state: the world and the generated history.
pub fn build_state(cfg: Config) -> Result<Arc<AppState>, SimError> {
    if !(cfg.jobs_per_day > 0.0 && cfg.jobs_per_day.is_finite()) {
        return Err(SimError::Config("--jobs-per-day must be positive".into()));
    }
    let faults = cfg.faults();
    faults.validate().map_err(SimError::Config)?;
    if !(cfg.cost_scale.is_finite() && cfg.cost_scale > 0.0) {
        return Err(SimError::Config(
            "--cost-scale must be a positive number".into(),
        ));
    }
    let now = parse_now(&cfg)?;
    let world = crate::world::build(&crate::world::WorldParams {
        seed: cfg.seed,
        now,
        days: cfg.days,
        jobs_per_day: cfg.jobs_per_day,
        users: &cfg.users,
    });
    let span = cfg.days.max(1) as i64 * DAY;
    let retain = match cfg.retain_days {
        Some(d) if d > 0.0 => (d * DAY as f64) as Micros,
        _ => span,
    };
    let start = world.episodes.history_start;
    let mut sim = Sim::new(world, cfg.seed, start, retain);
    let t = Instant::now();
    sim.run_until(now);
    tracing::info!(
        jobs = sim.jobs.len(),
        elapsed_ms = t.elapsed().as_millis() as u64,
        "history generated"
    );
    let workers = cfg.workers.filter(|w| *w > 0).map(Semaphore::new);
    let frng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(cfg.seed ^ 0xfa17);
    Ok(Arc::new(AppState {
        sim: RwLock::new(sim),
        clock: Mutex::new(Clock {
            base_sim: now,
            base_real: Instant::now(),
            offset: 0,
            frozen: cfg.frozen,
        }),
        faults: Mutex::new((faults, frng)),
        stats: Mutex::new(Stats::default()),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        request_seq: AtomicU64::new(0),
        workers,
        list_cache: ListCache::default(),
        cfg,
    }))
}

pub fn router(state: Arc<AppState>) -> axum::Router {
    admin::routes().fallback(api_entry).with_state(state)
}

/// Starts the simulator: generates the history, binds, serves.
pub async fn start(cfg: Config) -> Result<RunningSim, SimError> {
    let listen = cfg.listen.clone();
    let frozen = cfg.frozen;
    let tick = cfg.tick_ms.max(10);
    let state = tokio::task::spawn_blocking(move || build_state(cfg))
        .await
        .map_err(|e| SimError::Config(e.to_string()))??;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| SimError::Bind {
            addr: listen.clone(),
            source: e,
        })?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let app = router(state.clone());
    if !frozen {
        let st = state.clone();
        let mut rx2 = rx.clone();
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(Duration::from_millis(tick));
            loop {
                tokio::select! {
                    _ = iv.tick() => {
                        let st = st.clone();
                        let _ = tokio::task::spawn_blocking(move || st.catch_up()).await;
                    }
                    _ = rx2.changed() => break,
                }
            }
        });
    }
    let task = tokio::spawn(accept_loop(listener, app, rx));
    Ok(RunningSim {
        addr,
        shutdown: tx,
        task,
        state,
    })
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut sd = shutdown.clone();
        tokio::spawn(async move {
            let ctl = ConnCtl::default();
            let ctl2 = ctl.clone();
            let svc = tower::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ctl2.clone());
                let app = app.clone();
                async move { app.oneshot(req.map(Body::new)).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(
                    TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(svc),
                );
            tokio::select! {
                r = conn => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = ctl.drop.notified() => tracing::debug!("fault: connection dropped"),
                _ = sd.changed() => {}
            }
        });
    }
}

struct InFlight<'a>(&'a AppState);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An API answer before faults and common headers are applied.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
    pub location: Option<String>,
    /// records in a list answer (what the cost model charges per row)
    pub rows: Option<usize>,
}

impl Answer {
    fn json(body: String) -> Answer {
        Answer {
            status: StatusCode::OK,
            content_type: "application/json",
            body,
            location: None,
            rows: None,
        }
    }
}

fn draw_faults(st: &AppState, path: &str, page2: bool) -> Draw {
    let mut g = lock(&st.faults);
    let (f, rng) = &mut *g;
    if !f.applies(path) || !f.is_active() {
        return Draw::default();
    }
    let mut roll = |p: f64| p > 0.0 && rng.gen::<f64>() < p;
    Draw {
        latency_ms: f.latency_ms,
        drop: roll(f.drop_rate),
        error: if roll(f.error_rate) {
            Some(f.error_status)
        } else {
            None
        },
        truncate: roll(f.truncate_rate),
        invalid_json: roll(f.invalid_json_rate),
        slow_page_ms: if page2 { f.slow_page_ms } else { 0 },
        endless: f.endless_pages,
    }
}

async fn api_entry(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let method = req.method().clone();
    let headers = req.headers().clone();
    let ctl = req.extensions().get::<ConnCtl>().cloned();
    drop(req);
    tracing::debug!(%method, path, query = query.as_deref().unwrap_or(""), "request");

    {
        let mut s = lock(&st.stats);
        s.total += 1;
        *s.by_path.entry(path.clone()).or_insert(0) += 1;
    }
    let n = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    st.max_in_flight.fetch_max(n, Ordering::SeqCst);
    let _guard = InFlight(&st);
    let _permit = match &st.workers {
        Some(s) => s.acquire().await.ok(),
        None => None,
    };
    let began = Instant::now();
    let params = parse_query(query.as_deref());
    let page2 = params
        .iter()
        .any(|(k, v)| k == "page" && v.trim().parse::<u64>().map(|p| p >= 2).unwrap_or(false));
    let draw = draw_faults(&st, &path, page2);
    if draw.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(draw.latency_ms)).await;
    }
    if draw.drop {
        if let Some(ctl) = ctl {
            ctl.drop.notify_one();
            std::future::pending::<()>().await;
        }
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from_stream(futures::stream::once(async {
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::other("dropped"))
            })))
            .unwrap_or_default();
    }
    let (answer, authed) = if let Some(code) = draw.error {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match code {
            502 => "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n".to_string(),
            503 => "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n".to_string(),
            _ => "{\"detail\":\"A server error occurred.\"}".to_string(),
        };
        (
            Answer {
                status,
                content_type: if code == 502 || code == 503 {
                    "text/html"
                } else {
                    "application/json"
                },
                body,
                location: None,
                rows: None,
            },
            false,
        )
    } else {
        // list scans can take tens of ms at 1M jobs: keep them off the async workers
        let (st2, method2, path2, query2, params2, endless) = (
            st.clone(),
            method.clone(),
            path.clone(),
            query.clone(),
            params.clone(),
            draw.endless,
        );
        let res = tokio::task::spawn_blocking(move || {
            dispatch(
                &st2,
                &method2,
                &path2,
                query2.as_deref(),
                &params2,
                &headers,
                endless,
            )
        })
        .await
        .unwrap_or_else(|e| {
            Err((
                ApiError::Body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    serde_json::json!({ "detail": format!("A server error occurred: {e}") })
                        .to_string(),
                ),
                false,
            ))
        });
        match res {
            Ok((a, authed)) => (a, authed),
            Err((e, authed)) => {
                let (content_type, body) = e.render();
                (
                    Answer {
                        status: e.status(),
                        content_type,
                        body,
                        location: None,
                        rows: None,
                    },
                    authed,
                )
            }
        }
    };
    if draw.slow_page_ms > 0 {
        tokio::time::sleep(Duration::from_millis(draw.slow_page_ms)).await;
    }
    // the request holds its worker for AWX's time: the flat latency or the modelled cost,
    // whichever is longer
    let awx = st.cfg.cost_model.seconds(
        crate::cost::Endpoint::of(&path, &params),
        answer.status,
        answer.rows,
    );
    lock(&st.stats).awx_micros += (awx * 1e6) as u64;
    let min = Duration::from_millis(st.cfg.latency_ms)
        .max(Duration::from_secs_f64(awx * st.cfg.cost_scale));
    let spent = began.elapsed();
    if spent < min {
        tokio::time::sleep(min - spent).await;
    }
    finish(&st, answer, authed, &draw, began)
}

fn finish(st: &AppState, a: Answer, authed: bool, draw: &Draw, began: Instant) -> Response {
    let full_len = a.body.len();
    let mut body = a.body;
    if draw.invalid_json && a.status.is_success() {
        let cut = floor_char(&body, body.len() / 2);
        body.truncate(cut);
        body.push_str("\n<!-- upstream connection reset -->");
    }
    let mut resp = if draw.truncate && a.status.is_success() {
        let cut = floor_char(&body, body.len() / 2);
        let half = bytes::Bytes::from(body[..cut].to_string());
        use futures::StreamExt;
        let stream = futures::stream::iter(vec![Ok::<bytes::Bytes, std::io::Error>(half)]).chain(
            futures::stream::once(async {
                // let the headers and the first half reach the client before the connection is cut
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::other("truncated by fault injection"))
            }),
        );
        let mut r = Response::new(Body::from_stream(stream));
        if let Ok(v) = HeaderValue::from_str(&full_len.to_string()) {
            r.headers_mut().insert(header::CONTENT_LENGTH, v);
        }
        r
    } else {
        Response::new(Body::from(body))
    };
    *resp.status_mut() = a.status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    if let Some(loc) = a.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(header::LOCATION, loc);
    }
    if a.status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(crate::error::WWW_AUTHENTICATE),
        );
    }
    let (node, version) = {
        let sim = read(&st.sim);
        (
            sim.world.instance_name(sim.world.active_node).to_string(),
            sim.world.version,
        )
    };
    if let Ok(v) = HeaderValue::from_str(&node) {
        h.insert("x-api-node", v);
    }
    h.insert("x-api-product-name", HeaderValue::from_static("AWX"));
    if authed {
        h.insert("x-api-product-version", HeaderValue::from_static(version));
    }
    let secs = format!("{:.3}s", began.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&secs) {
        h.insert("x-api-time", v.clone());
        h.insert("x-api-total-time", v);
    }
    let seq = st.request_seq.fetch_add(1, Ordering::SeqCst);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{:032x}",
        (seq as u128 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
    )) {
        h.insert("x-api-request-id", v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization, Cookie"),
    );
    h.insert(
        header::ALLOW,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    resp
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The authenticated user (index into World::users), or an error for bad Basic credentials.
fn authenticate(st: &AppState, sim: &Sim, headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
    let Some(h) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let h = h.trim();
    let (scheme, cred) = h.split_once(' ').unwrap_or((h, ""));
    let cred = cred.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        let revoked = lock(&st.faults).0.revoked_tokens.iter().any(|t| t == cred);
        if revoked || cred.is_empty() {
            return Ok(None);
        }
        return Ok(sim
            .world
            .users
            .iter()
            .position(|u| u.token.as_deref() == Some(cred)));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        // AWX 24.6.1 answers a wrong password (and any header it cannot use) exactly like a
        // missing one: the same 401 "credentials were not provided" (auth_probes.txt)
        let decoded = base64_decode(cred).and_then(|b| String::from_utf8(b).ok());
        let Some(decoded) = decoded.filter(|_| !cred.is_empty() && !cred.contains(' ')) else {
            return Ok(None);
        };
        let (user, pass) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
        return Ok(sim
            .world
            .users
            .iter()
            .position(|u| u.username == user && u.password == pass));
    }
    Ok(None)
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

type Dispatched = Result<(Answer, bool), (ApiError, bool)>;

fn dispatch(
    st: &AppState,
    method: &Method,
    path: &str,
    raw_query: Option<&str>,
    params: &[(String, String)],
    headers: &HeaderMap,
    endless: bool,
) -> Dispatched {
    let roots = st.cfg.api_prefix.roots();
    let sim = read(&st.sim);
    let now = sim.now;
    if path == "/api" || path == "/api/" {
        if path == "/api" {
            return Ok((redirect(path, raw_query), false));
        }
        return Ok((Answer::json(api_root(roots)), false));
    }
    let Some((root, rest)) = roots.iter().find_map(|r| {
        path.strip_prefix(r)
            .map(|rest| (*r, rest))
            .or_else(|| (path == r.trim_end_matches('/')).then_some((*r, "")))
    }) else {
        return Err((no_such_path(path), false));
    };
    // An API root joined to a URL that already ends in one (/api/v2/api/v2/ping/) matches
    // none of AWX's routes: its 404 handler answers, before any authentication.
    if rest.starts_with("api/") || rest == "api" {
        return Err((no_such_path(path), false));
    }
    let segs: Vec<&str> = rest
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if !crate::routes::routed(&segs) {
        return Err((no_such_path(path), false));
    }
    if !path.ends_with('/') {
        return Ok((redirect(path, raw_query), false));
    }
    let is_get = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if segs.is_empty() {
        return Ok((Answer::json(v2_root(root)), false));
    }
    if segs == ["ping"] {
        if !is_get {
            return Err((ApiError::MethodNotAllowed(method.to_string()), false));
        }
        return Ok((Answer::json(ping(&sim)), false));
    }
    let user = authenticate(st, &sim, headers).map_err(|e| (e, false))?;
    let authed = user.is_some();
    let role = user.and_then(|u| sim.world.users.get(u)).map(|u| u.role);
    let e = |err: ApiError| (err, authed);
    if segs == ["metrics"] {
        let refused = if !st.cfg.allow_anonymous_metrics && role.is_none() {
            Some(ApiError::NotAuthenticated)
        } else if !st.cfg.allow_anonymous_metrics && role == Some(Role::User) {
            Some(ApiError::Forbidden)
        } else if !is_get {
            Some(ApiError::MethodNotAllowed(method.to_string()))
        } else {
            None
        };
        if let Some(err) = refused {
            return Ok((metrics_refusal(&err), authed));
        }
        // the subsystem metrics live in Redis; the database metrics do not
        if lock(&st.faults).0.redis_down && !metrics::flag(params, "dbonly") {
            return Err(e(ApiError::ServerErrorPage));
        }
        return Ok((metrics_answer(&sim, params, headers), authed));
    }
    if user.is_none() {
        return Err(e(ApiError::NotAuthenticated));
    }
    if !is_get {
        return Err(e(ApiError::MethodNotAllowed(method.to_string())));
    }
    let user_idx = user.unwrap_or(0);
    let ctx = ListCtx {
        path,
        raw_query,
        params,
        endless,
        rows: std::cell::Cell::new(None),
    };
    let body = match segs.as_slice() {
        ["me"] => {
            let u = &sim.world.users[user_idx];
            let created = sim.world.boot - 500 * DAY + u.id as i64 * 86_400_000_017;
            let rows = vec![Row {
                json: entities::user_json(u, root, created),
                vals: vec![],
                type_name: "user",
            }];
            let schema = RowSchema::new("User", vec![], vec![]);
            list_rows(&schema, rows, &ctx).map_err(e)?
        }
        ["config"] => config_json(&sim, role),
        ["dashboard"] => entities::dashboard(&sim, root),
        ["dashboard", "graphs", "jobs"] => dashboard_graph(&sim, params).map_err(e)?,
        ["unified_jobs"] => {
            list_jobs(&sim, &st.list_cache, JobModel::Unified, &ctx, root, now).map_err(e)?
        }
        [coll] if JobType::from_collection(coll).is_some() => {
            let t = JobType::from_collection(coll).ok_or_else(|| e(ApiError::NotFound))?;
            list_jobs(&sim, &st.list_cache, JobModel::Typed(t), &ctx, root, now).map_err(e)?
        }
        [parent @ ("jobs" | "hosts" | "groups"), id, "job_host_summaries"] => {
            let id: u32 = id.parse().map_err(|_| e(ApiError::NotFound))?;
            let found = match *parent {
                "jobs" => crate::host_results::for_job(&sim, id, root),
                "hosts" => crate::host_results::for_host(&sim, id, root),
                _ => crate::host_results::for_group(&sim, id, root),
            };
            let (schema, rows) = found.ok_or_else(|| e(ApiError::NotFound))?;
            list_rows_in(&schema, rows, &ctx, true).map_err(e)?
        }
        ["job_host_summaries", id] => {
            let id: i64 = id.parse().map_err(|_| e(ApiError::NotFound))?;
            crate::host_results::detail(&sim, id, root).ok_or_else(|| e(ApiError::NotFound))?
        }
        [coll, id] if JobType::from_collection(coll).is_some() => {
            let t = JobType::from_collection(coll).ok_or_else(|| e(ApiError::NotFound))?;
            let id: u32 = id.parse().map_err(|_| e(ApiError::NotFound))?;
            let idx = sim
                .index_of(id)
                .filter(|i| sim.jobs[*i].jtype == t)
                .ok_or_else(|| e(ApiError::NotFound))?;
            let mut out = String::new();
            render_job(
                &mut out,
                &sim.world,
                &sim.jobs[idx],
                now,
                root,
                true,
                &|wid| sim.index_of(wid).map(|i| sim.jobs[i].clone()),
            );
            out
        }
        [coll] => {
            let (schema, rows) =
                small_list(&sim, coll, root).ok_or_else(|| e(ApiError::NotFound))?;
            list_rows(&schema, rows, &ctx).map_err(e)?
        }
        [coll, id] => {
            let (_, rows) = small_list(&sim, coll, root).ok_or_else(|| e(ApiError::NotFound))?;
            let id: i64 = id.parse().map_err(|_| e(ApiError::NotFound))?;
            rows.into_iter()
                .find(|r| matches!(r.vals.first(), Some(crate::filter::Typed::Int(x)) if *x == id))
                .map(|r| r.json)
                .ok_or_else(|| e(ApiError::NotFound))?
        }
        _ => return Err(e(ApiError::NotFound)),
    };
    let mut answer = Answer::json(body);
    answer.rows = ctx.rows.get();
    Ok((answer, authed))
}

/// A path that no route of AWX matches. Under /api/ AWX's handle_404 renders its message
/// through DRF with no authentication classes (so never a 401); elsewhere DRF's "Not found.".
fn no_such_path(path: &str) -> ApiError {
    if path.starts_with("/api/") {
        ApiError::Body(
            StatusCode::NOT_FOUND,
            r#"{"detail":"The requested resource could not be found."}"#.to_string(),
        )
    } else {
        ApiError::NotFound
    }
}

fn redirect(path: &str, raw_query: Option<&str>) -> Answer {
    let mut loc = format!("{path}/");
    if let Some(q) = raw_query {
        loc.push('?');
        loc.push_str(q);
    }
    Answer {
        status: StatusCode::MOVED_PERMANENTLY,
        content_type: "text/html; charset=utf-8",
        body: String::new(),
        location: Some(loc),
        rows: None,
    }
}

fn small_list(sim: &Sim, coll: &str, api: &str) -> Option<(RowSchema, Vec<Row>)> {
    let tkind = match coll {
        "job_templates" => Some(UjtKind::JobTemplate),
        "workflow_job_templates" => Some(UjtKind::WorkflowJobTemplate),
        "projects" => Some(UjtKind::Project),
        "inventory_sources" => Some(UjtKind::InventorySource),
        "system_job_templates" => Some(UjtKind::SystemJobTemplate),
        _ => None,
    };
    if tkind.is_some() || coll == "unified_job_templates" {
        let stats = entities::template_stats(sim);
        return Some(entities::templates(sim, api, tkind, &stats));
    }
    Some(match coll {
        "organizations" => entities::organizations(sim, api),
        "inventories" => entities::inventories(sim, api),
        "hosts" => entities::hosts(sim, api),
        "groups" => entities::groups(sim, api),
        "instances" => entities::instances(sim, api),
        "instance_groups" => entities::instance_groups(sim, api),
        "schedules" => entities::schedules(sim, api),
        "users" => entities::users(sim, api),
        _ => return None,
    })
}

pub struct ListCtx<'a> {
    pub path: &'a str,
    pub raw_query: Option<&'a str>,
    pub params: &'a [(String, String)],
    pub endless: bool,
    /// set by the page renderer: how many records the page holds
    pub rows: std::cell::Cell<Option<usize>>,
}

pub const PAGE_SIZE: usize = 25;
pub const MAX_PAGE_SIZE: usize = 200;

struct PageReq {
    page: usize,
    size: usize,
    capped: bool,
    count_disabled: bool,
}

fn page_req(params: &[(String, String)]) -> Result<PageReq, ApiError> {
    let get = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let (size, capped) = match get("page_size").and_then(|v| v.trim().parse::<i64>().ok()) {
        Some(n) if n > MAX_PAGE_SIZE as i64 => (MAX_PAGE_SIZE, true),
        Some(n) if n > 0 => (n as usize, false),
        _ => (PAGE_SIZE, false),
    };
    let page = match get("page") {
        None => 1,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(p) if p >= 1 => p as usize,
            _ => return Err(ApiError::InvalidPage),
        },
    };
    let count_disabled = get("count_disabled")
        .map(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false"))
        .unwrap_or(false);
    Ok(PageReq {
        page,
        size,
        capped,
        count_disabled,
    })
}

/// DRF's `replace_query_param` (AWX caps page_size first): sorted keys, `quote_plus` encoding.
pub fn page_link(path: &str, raw_query: Option<&str>, page: usize, capped: bool) -> String {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in parse_query(raw_query) {
        map.entry(k).or_default().push(v);
    }
    if capped {
        map.insert("page_size".into(), vec![MAX_PAGE_SIZE.to_string()]);
    }
    map.insert("page".into(), vec![page.to_string()]);
    let mut q = String::new();
    for (k, vs) in &map {
        for v in vs {
            if !q.is_empty() {
                q.push('&');
            }
            quote_plus(&mut q, k);
            q.push('=');
            quote_plus(&mut q, v);
        }
    }
    format!("{path}?{q}")
}

/// Python's `urllib.parse.quote_plus` (what `urlencode` uses): unreserved bytes stay, space is `+`.
fn quote_plus(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
            }
        }
    }
}

/// Renders one page of `total` records whose JSON is produced by `render(i, out)` for i in the page.
fn page_body(
    ctx: &ListCtx,
    total: usize,
    render: &mut dyn FnMut(usize, &mut String),
) -> Result<String, ApiError> {
    let pr = page_req(ctx.params)?;
    let start = (pr.page - 1).saturating_mul(pr.size);
    let pages = if total == 0 {
        1
    } else {
        total.div_ceil(pr.size)
    };
    let past_end = pr.page > pages;
    if past_end && !ctx.endless && !pr.count_disabled {
        return Err(ApiError::InvalidPage);
    }
    let end = (start + pr.size).min(total);
    ctx.rows.set(Some(if past_end {
        0
    } else {
        end.saturating_sub(start)
    }));
    let mut results = String::from("[");
    if !past_end {
        for (k, i) in (start..end).enumerate() {
            if k > 0 {
                results.push(',');
            }
            render(i, &mut results);
        }
    }
    results.push(']');
    if pr.count_disabled {
        return Ok(format!("{{\"results\":{results}}}"));
    }
    let next = if pr.page < pages || ctx.endless {
        Some(page_link(ctx.path, ctx.raw_query, pr.page + 1, pr.capped))
    } else {
        None
    };
    let prev = if pr.page > 1 {
        Some(page_link(ctx.path, ctx.raw_query, pr.page - 1, pr.capped))
    } else {
        None
    };
    Ok(object(|o| {
        o.int("count", total as i64)
            .opt_str("next", next.as_deref())
            .opt_str("previous", prev.as_deref())
            .raw("results", &results);
    }))
}

fn list_rows(schema: &RowSchema, rows: Vec<Row>, ctx: &ListCtx) -> Result<String, ApiError> {
    list_rows_in(schema, rows, ctx, false)
}

/// A small list whose rows come sorted by id, descending when `newest_first` (the default order
/// of AWX's job host summaries) and ascending otherwise.
fn list_rows_in(
    schema: &RowSchema,
    rows: Vec<Row>,
    ctx: &ListCtx,
    newest_first: bool,
) -> Result<String, ApiError> {
    let q = Query::parse(schema, ctx.params)?;
    let mut sel: Vec<&Row> = rows.iter().filter(|r| q.matches(schema, *r)).collect();
    let default_order = q.order.is_empty();
    if newest_first && !default_order && (q.order_is_id || q.order_is_neg_id) {
        if q.order_is_id {
            sel.reverse();
        }
    } else if !q.order_is_id || newest_first && !default_order {
        if q.order_is_neg_id {
            sel.reverse();
        } else {
            // stable: ties keep the id order of the input
            sel.sort_by(|a, b| q.compare(schema, a, b));
        }
    }
    page_body(ctx, sel.len(), &mut |i, out| out.push_str(&sel[i].json))
}

/// A job list. The selection (filters, then order) of a list is kept in `cache` for its later
/// pages (see `list_cache.rs`); the page itself is rendered for every request.
fn list_jobs(
    sim: &Sim,
    cache: &ListCache,
    model: JobModel,
    ctx: &ListCtx,
    api: &str,
    now: Micros,
) -> Result<String, ApiError> {
    let schema = JobSchema {
        world: &sim.world,
        now,
        model,
    };
    let q = Query::parse(&schema, ctx.params)?;
    let pr = page_req(ctx.params)?;
    let jobs = &sim.jobs;
    let key = list_cache::Key::new(sim.version, now, ctx.path, ctx.params);
    let mut sel = match cache.get(&key) {
        Some(sel) => sel,
        None => {
            let only = match model {
                JobModel::Typed(t) => Some(t),
                JobModel::Unified => None,
            };
            let mut idx: Vec<u32> = jobs
                .iter()
                .enumerate()
                .filter(|(_, j)| {
                    only.map(|t| j.jtype == t).unwrap_or(true) && q.matches(&schema, *j)
                })
                .map(|(i, _)| i as u32)
                .collect();
            let sorted = if q.order_is_id {
                idx.len()
            } else if q.order_is_neg_id {
                idx.reverse();
                idx.len()
            } else {
                // Only the records up to the requested page need a full sort.
                let need = pr.page.saturating_mul(pr.size);
                sort_prefix(&schema, &q, jobs, &mut idx, need)
            };
            let sel = Arc::new(Selection { idx, sorted });
            cache.put(key.clone(), sel.clone());
            sel
        }
    };
    let need = pr.page.saturating_mul(pr.size).min(sel.idx.len());
    if sel.sorted < need {
        // a later page than the selection was sorted for: sort the rest, once for all pages
        // (the unsorted records all come after the sorted ones)
        let mut idx = sel.idx.clone();
        sort_prefix(&schema, &q, jobs, &mut idx[sel.sorted..], usize::MAX);
        let sorted = idx.len();
        sel = Arc::new(Selection { idx, sorted });
        cache.put(key, sel.clone());
    }
    let idx = &sel.idx;
    let lookup = |wid: u32| sim.index_of(wid).map(|i| sim.jobs[i].clone());
    page_body(ctx, idx.len(), &mut |i, out| {
        render_job(
            out,
            &sim.world,
            &jobs[idx[i] as usize],
            now,
            api,
            false,
            &lookup,
        )
    })
}

/// Puts the first `need` of the jobs at positions `idx` in the query's order (ties by id), or
/// all of them when that is about as cheap: selects the first `need` (the others stay after
/// them, unsorted), then sorts those. Returns how many are in order.
fn sort_prefix(
    schema: &JobSchema,
    q: &Query<crate::jobs::FieldRef>,
    jobs: &std::collections::VecDeque<Job>,
    idx: &mut [u32],
    need: usize,
) -> usize {
    let need = need.min(idx.len());
    let (f0, _, desc0) = q.order[0];
    let mut keyed: Vec<(crate::filter::Val, u32)> = idx
        .iter()
        .map(|&i| (schema.value(&jobs[i as usize], f0), i))
        .collect();
    let cmp = |a: &(crate::filter::Val, u32), b: &(crate::filter::Val, u32)| {
        let o = crate::filter::order_vals(a.0, b.0);
        let o = if desc0 { o.reverse() } else { o };
        o.then_with(|| q.compare_from(schema, &jobs[a.1 as usize], &jobs[b.1 as usize], 1))
            .then(a.1.cmp(&b.1))
    };
    let sorted = if need > 0 && need < keyed.len() / 2 {
        keyed.select_nth_unstable_by(need - 1, cmp);
        keyed[..need].sort_unstable_by(cmp);
        need
    } else {
        keyed.sort_unstable_by(cmp);
        keyed.len()
    };
    for (slot, (_, i)) in idx.iter_mut().zip(keyed.iter()) {
        *slot = *i;
    }
    sorted
}

/// metrics/ refuses in its plain-text renderer: a Python repr of the error, as text/plain.
fn metrics_refusal(err: &ApiError) -> Answer {
    Answer {
        status: err.status(),
        content_type: "text/plain; charset=utf-8",
        body: err.python_repr(),
        location: None,
        rows: None,
    }
}

fn metrics_answer(sim: &Sim, params: &[(String, String)], headers: &HeaderMap) -> Answer {
    let flag = |k: &str| metrics::flag(params, k);
    let sel = metrics::Selection {
        subsystem_only: flag("subsystemonly"),
        db_only: flag("dbonly"),
        nodes: params
            .iter()
            .filter(|(k, _)| k == "node")
            .map(|(_, v)| v.clone())
            .collect(),
        metrics: params
            .iter()
            .filter(|(k, _)| k == "metric")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let format = params
        .iter()
        .rev()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str());
    let accept_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(|a| a.starts_with("application/json"))
        .unwrap_or(false);
    let json = match format {
        Some("json") => true,
        Some(_) => false,
        None => accept_json,
    };
    let fams = metrics::families(sim, &sel);
    if json {
        Answer::json(metrics::render_json(&fams))
    } else {
        Answer {
            status: StatusCode::OK,
            content_type: "text/plain; charset=utf-8",
            body: metrics::render_text(&fams),
            location: None,
            rows: None,
        }
    }
}

fn api_root(roots: &[&str]) -> String {
    object(|o| {
        o.str("description", "AWX REST API")
            .str("current_version", roots[0])
            .obj("available_versions", |v| {
                v.str("v2", roots[0]);
            });
        o.str("oauth2", "/api/o/")
            .str("custom_logo", "")
            .str("custom_login_info", "")
            .bool("login_redirect_override", false);
    })
}

fn v2_root(root: &str) -> String {
    object(|o| {
        for k in [
            "ping",
            "instances",
            "instance_groups",
            "config",
            "settings",
            "me",
            "dashboard",
            "organizations",
            "users",
            "projects",
            "teams",
            "credentials",
            "inventory",
            "inventory_sources",
            "groups",
            "hosts",
            "job_templates",
            "jobs",
            "ad_hoc_commands",
            "system_job_templates",
            "system_jobs",
            "schedules",
            "unified_job_templates",
            "unified_jobs",
            "activity_stream",
            "workflow_job_templates",
            "workflow_jobs",
            "metrics",
            "project_updates",
            "inventory_updates",
        ] {
            let target = if k == "inventory" { "inventories" } else { k };
            o.str(k, &format!("{root}{target}/"));
        }
    })
}

fn ping(sim: &Sim) -> String {
    let w = &sim.world;
    object(|o| {
        o.bool(
            "ha",
            w.instances
                .iter()
                .filter(|i| i.node_type.can_control())
                .count()
                > 1,
        )
        .str("version", w.version)
        .str("active_node", w.instance_name(w.active_node))
        .str("install_uuid", &w.install_uuid);
        o.arr("instances", |a| {
            for i in w.instances.iter().filter(|i| i.node_type != NodeType::Hop) {
                let hb = if i.node_state == "ready" {
                    sim.now - sim.now.rem_euclid(60 * SEC) + 4321
                } else {
                    w.boot - 3 * HOUR
                };
                a.obj(|x| {
                    x.str("node", &i.hostname)
                        .str("node_type", i.node_type.as_str())
                        .str("uuid", &i.uuid)
                        .ts("heartbeat", hb)
                        .int("capacity", i.capacity)
                        .str("version", w.version);
                });
            }
        });
        o.arr("instance_groups", |a| {
            for g in &w.instance_groups {
                let (cap, _) = entities::group_capacity(sim, g);
                a.obj(|x| {
                    x.str("name", &g.name)
                        .int("capacity", cap)
                        .arr("instances", |ia| {
                            for &i in &g.instances {
                                ia.str(w.instance_name(i));
                            }
                        });
                });
            }
        });
    })
}

fn config_json(sim: &Sim, role: Option<Role>) -> String {
    let w = &sim.world;
    object(|o| {
        o.str("time_zone", "UTC");
        o.obj("license_info", |l| {
            l.str("license_type", "open")
                .bool("valid_key", true)
                .str("subscription_name", "OPEN")
                .str("product_name", "AWX");
        });
        o.str("version", w.version)
            .str("eula", "")
            .str("analytics_status", "off")
            .obj("analytics_collectors", |_| {});
        o.arr("become_methods", |a| {
            for (k, v) in [
                ("sudo", "Sudo"),
                ("su", "Su"),
                ("pbrun", "Pbrun"),
                ("pfexec", "Pfexec"),
                ("dzdo", "DZDO"),
                ("pmrun", "Pmrun"),
                ("runas", "Runas"),
                ("enable", "Enable"),
                ("doas", "Doas"),
                ("ksu", "Ksu"),
                ("machinectl", "Machinectl"),
                ("sesu", "Sesu"),
            ] {
                a.arr(|p| {
                    p.str(k).str(v);
                });
            }
        });
        o.bool("ui_next", false);
        if matches!(role, Some(Role::Superuser | Role::Auditor)) {
            o.str("project_base_dir", "/var/lib/awx/projects")
                .arr("project_local_paths", |_| {})
                .arr("custom_virtualenvs", |_| {});
        }
    })
}

fn dashboard_graph(sim: &Sim, params: &[(String, String)]) -> Result<String, ApiError> {
    use chrono::{Datelike, Months, TimeZone, Utc};
    let get = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let period = get("period").unwrap_or("month");
    let job_type = get("job_type").unwrap_or("all");
    let end = sim.now;
    let end_dt = Utc
        .timestamp_micros(end)
        .single()
        .ok_or_else(|| ApiError::BadRequest("bad clock".into()))?;
    let start_dt = match period {
        "month" => end_dt.checked_sub_months(Months::new(1)).unwrap_or(end_dt),
        "two_weeks" => end_dt - chrono::Duration::weeks(2),
        "week" => end_dt - chrono::Duration::weeks(1),
        "day" => end_dt - chrono::Duration::days(1),
        other => {
            return Err(ApiError::Body(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": format!("Unknown period \"{other}\"") }).to_string(),
            ))
        }
    };
    let only = match job_type {
        "all" => None,
        "inv_sync" => Some(JobType::InventoryUpdate),
        "playbook_run" => Some(JobType::Job),
        "scm_update" => Some(JobType::ProjectUpdate),
        other => {
            return Err(ApiError::Body(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": format!("Unknown job type \"{other}\"") }).to_string(),
            ))
        }
    };
    let start = start_dt.timestamp_micros();
    let day0 = Utc
        .with_ymd_and_hms(start_dt.year(), start_dt.month(), start_dt.day(), 0, 0, 0)
        .single()
        .map(|d| d.timestamp_micros())
        .unwrap_or(start);
    let ndays = ((end - day0) / DAY + 1).max(0) as usize;
    let statuses = [
        Status::Successful,
        Status::Failed,
        Status::Canceled,
        Status::Error,
    ];
    let mut counts = vec![[0u64; 4]; ndays];
    for j in sim.jobs.iter().rev() {
        if j.finished == crate::time::NONE_TS || j.is_sync() || j.finished < start {
            continue;
        }
        if only.map(|t| t != j.jtype).unwrap_or(false) {
            continue;
        }
        let Some(s) = statuses.iter().position(|s| *s == j.status) else {
            continue;
        };
        let off = j.finished - day0;
        if period == "day" && off.rem_euclid(DAY) >= HOUR {
            continue; // AWX truncates by hour but steps by day
        }
        if let Some(c) = counts.get_mut((off / DAY) as usize) {
            c[s] += 1;
        }
    }
    Ok(object(|o| {
        o.obj("jobs", |jo| {
            for (k, s) in statuses.iter().enumerate() {
                jo.arr(s.as_str(), |a| {
                    for (d, c) in counts.iter().enumerate() {
                        a.arr(|p| {
                            p.float((day0 / SEC + d as i64 * 86_400) as f64)
                                .int(c[k] as i64);
                        });
                    }
                });
            }
        });
    }))
}

/// Used by the admin side: renders every job's truth record.
pub fn truth_jobs(sim: &Sim) -> String {
    let mut out = String::with_capacity(sim.jobs.len() * 420 + 2);
    let mut a = crate::json::Arr::new(&mut out);
    for j in &sim.jobs {
        crate::jobs::render_truth(&mut a, &sim.world, j, sim.now);
    }
    a.end();
    out
}

pub fn now_iso(sim: &Sim) -> String {
    iso(sim.now)
}

#[allow(dead_code)]
fn _assert_obj(_: &Obj) {}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.body).into_response();
        if let Ok(v) = HeaderValue::from_str(self.content_type) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    }
}
