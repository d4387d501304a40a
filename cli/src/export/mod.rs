//! `awx-kpi export`: the metrics AWX lacks, served on /metrics for Prometheus (or any
//! scraper of its formats), computed by the data source's own engine: the job store
//! (the plugin's job-record cache) keeps AWX's jobs in sync, two small requests per
//! refresh, and every scrape turns what changed into counters and histograms.
//!
//! Each scrape costs AWX the store's warm refresh (two requests sent together: what was
//! modified, and a one-row count that detects purges), plus one `instances/` page for
//! `awx_capacity`; every 5 minutes the store also reconciles (open jobs by id and the
//! names of objects). See docs/EXPORTER.md.

pub mod metrics;
pub mod tally;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;
use serde::Deserialize;
use thiserror::Error;

use awx_datasource::awx::model::Instance as AwxInstance;
use awx_datasource::awx::{ApiRequest, AwxError, Page};
use awx_datasource::instances::Instance;
use awx_datasource::jobs::record::micros;
use awx_datasource::jobs::{JobStore, JobTable, Micros};
use awx_datasource::query::JobStatus;

use crate::connect::{ConnArgs, ConnectError};
use metrics::{Format, Metrics, Options};
use tally::Tally;

/// The job store's budget when `--job-cache-mb` is not given: the plugin's default. The
/// exporter holds the jobs finished since it started plus every open job.
pub const DEFAULT_CACHE_MB: u64 = 256;

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Address and port to serve /metrics on (0.0.0.0:9781 to be reached from other hosts;
    /// port 0 picks a free port, printed on the first line).
    #[arg(long, default_value = "127.0.0.1:9781")]
    pub listen: SocketAddr,
    /// At most this many distinct template names become job_template_name labels; jobs of
    /// templates seen later count under job_template_name="(other)".
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_templates: u64,
    /// Also count implicit project syncs (launch_type=sync), which AWX's own metrics and
    /// the data source leave out.
    #[arg(long)]
    pub include_syncs: bool,
    /// How long a label set seen for the first time stays at 0 before it counts (and at
    /// least one scrape): rate() and increase() ignore the value a series starts with.
    /// Keep it above the scrape interval when several Prometheus servers scrape the exporter.
    #[arg(long, default_value = "60s", value_parser = parse_hold)]
    pub new_series_hold: Duration,
}

fn parse_hold(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let number = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !number.is_empty() && number.bytes().all(|b| b == b'0') {
        return Ok(Duration::ZERO);
    }
    crate::timespec::parse_interval(t)
        .map(|ms| Duration::from_millis(ms as u64))
        .map_err(|e| format!("{e} (or 0s for one scrape only)"))
}

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("{0}")]
    Awx(#[from] AwxError),
    #[error("AWX holds more open and recently finished jobs than the job cache may hold; raise --job-cache-mb (now {0} MiB)")]
    Budget(u64),
}

/// The newest job's `created`: AWX's own clock, whatever this host's says.
#[derive(Deserialize)]
struct Created {
    created: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug)]
struct Scrape {
    tally: Option<Tally>,
    /// The coverage asked of the store at the first sync (set once).
    from: Option<Micros>,
    metrics: Metrics,
}

#[derive(Debug)]
pub struct Exporter {
    inst: Instance,
    cache_mb: u64,
    state: tokio::sync::Mutex<Scrape>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Exporter {
    /// The exporter for an AWX. `inst` must have a job store (`jobCacheMB` > 0).
    pub fn new(inst: Instance, cache_mb: u64, opts: Options) -> Self {
        Exporter {
            inst,
            cache_mb,
            state: tokio::sync::Mutex::new(Scrape {
                tally: None,
                from: None,
                metrics: Metrics::new(opts, unix_now()),
            }),
        }
    }

    fn store(&self) -> &JobStore {
        self.inst
            .jobs
            .as_ref()
            .expect("the exporter is built with a job store")
    }

    /// Where the store's coverage starts at the first sync: the newest job's creation
    /// (no later than this host's clock), so that everything finishing afterwards is in
    /// it whatever AWX's clock says; an AWX without jobs costs nothing to cover whole.
    async fn first_from(&self) -> Result<Micros, AwxError> {
        let req = ApiRequest::new("unified_jobs/")
            .param("order_by", "-id")
            .param("page_size", "1");
        let page: Page<Created> = self.inst.awx.get(&req).await?;
        let local = micros(chrono::Utc::now());
        Ok(match page.results.first().and_then(|j| j.created) {
            Some(created) => micros(created).min(local),
            None => 0,
        })
    }

    /// One sync of the jobs: the baseline the first time, then what happened since.
    async fn sync_jobs(&self, st: &mut Scrape, now: Instant) -> Result<(), ExportError> {
        let store = self.store();
        let coverage = store.read().coverage_from();
        let from = match (st.from, coverage) {
            // Eviction (the budget) may have moved the coverage forward: follow it, never
            // asking for the older range again.
            (Some(_), Some(c)) => c,
            (Some(f), None) => f,
            (None, _) => {
                let f = self.first_from().await?;
                st.from = Some(f);
                f
            }
        };
        if store.ensure(&self.inst.awx, from).await?.is_none() {
            return Err(ExportError::Budget(self.cache_mb));
        }
        let table = store.read();
        match st.tally.as_mut() {
            None => {
                st.tally = Some(Tally::baseline(&table));
                tracing::info!(
                    jobs = table.jobs().len(),
                    "baseline taken: counting the jobs that finish from now on"
                );
            }
            Some(tally) => {
                let events = tally.update(&table);
                st.metrics.record(&events, &table.names, now);
            }
        }
        let (running, pending) = queue(&table, &st.metrics);
        let mut g = st.metrics.gauges();
        g.running = Some(running);
        g.pending = Some(pending);
        Ok(())
    }

    /// Consumed capacity of the instances AWX's own metrics list.
    async fn sync_capacity(&self) -> Result<Vec<(String, String, f64)>, AwxError> {
        let req = ApiRequest::new("instances/").param("order_by", "hostname");
        let rows: Vec<AwxInstance> = self.inst.awx.list_all(&req, Some(2_000)).await?;
        Ok(rows
            .into_iter()
            // AWX's metrics (TaskManagerInstances) list ready, enabled, non-hop instances.
            .filter(|i| i.node_state == "ready" && i.enabled && i.node_type != "hop")
            .map(|i| (i.hostname, i.node_type, i.consumed_capacity as f64))
            .collect())
    }

    /// Reads AWX: jobs (the store) and instances. Each failure is logged and counted;
    /// the metrics it would have given are left out until a read succeeds.
    pub async fn sync(&self) {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        let jobs = self.sync_jobs(&mut st, now).await;
        if let Err(e) = &jobs {
            tracing::warn!(error = %e, "reading AWX's jobs failed");
            st.metrics.sync_failed();
            let mut g = st.metrics.gauges();
            g.running = None;
            g.pending = None;
        }
        let capacity = self.sync_capacity().await;
        if let Err(e) = &capacity {
            tracing::warn!(error = %e, "reading AWX's instances failed");
            st.metrics.sync_failed();
        }
        let ok = jobs.is_ok() && capacity.is_ok();
        st.metrics.requests_sent(self.inst.awx.requests_sent());
        let mut g = st.metrics.gauges();
        g.capacity = capacity.ok();
        if ok {
            g.last_sync = Some(unix_now());
        }
    }

    /// A scrape: sync, then the exposition in the format asked for.
    pub async fn scrape(&self, format: Format) -> Result<String, std::fmt::Error> {
        self.sync().await;
        let st = self.state.lock().await;
        st.metrics.encode(format)
    }
}

/// Jobs running (with waiting, as AWX's awx_running_jobs_total) and pending now.
fn queue(table: &JobTable, m: &Metrics) -> (u64, u64) {
    let (mut running, mut pending) = (0, 0);
    for j in table.open_jobs().filter(|j| m.counts(j)) {
        match j.status {
            Some(JobStatus::Running | JobStatus::Waiting) => running += 1,
            Some(JobStatus::Pending) => pending += 1,
            _ => {}
        }
    }
    (running, pending)
}

async fn metrics_handler(State(ex): State<Arc<Exporter>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    match ex.scrape(format).await {
        Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "awx-kpi export: the metrics could not be encoded\n",
        )
            .into_response(),
    }
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "awx-kpi export: the metrics are at /metrics (docs/EXPORTER.md)\n",
    )
}

/// The router: /metrics and a pointer to it at /.
pub fn router(ex: Arc<Exporter>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/", get(index))
        .with_state(ex)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,h2=warn,hyper=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Builds the exporter from the connection settings: the job store gets
/// `--job-cache-mb` MiB, or [`DEFAULT_CACHE_MB`] when the flag is not given.
pub fn exporter(
    conn: &ConnArgs,
    args: &ExportArgs,
    cache_mb_given: bool,
) -> Result<Exporter, ConnectError> {
    let mut conn = conn.clone();
    if !cache_mb_given {
        conn.job_cache_mb = DEFAULT_CACHE_MB;
    }
    if conn.job_cache_mb == 0 {
        return Err(ConnectError {
            message: "awx-kpi export needs the job cache: --job-cache-mb must be at least 1".into(),
            hint: Some("leave --job-cache-mb out for the default of 256 MiB"),
        });
    }
    let inst = conn.instance()?;
    Ok(Exporter::new(
        inst,
        conn.job_cache_mb,
        Options {
            include_syncs: args.include_syncs,
            hold: args.new_series_hold,
            max_templates: args.max_templates as usize,
        },
    ))
}

/// `awx-kpi export`: returns the process exit code.
pub async fn export_command(conn: &ConnArgs, args: &ExportArgs, cache_mb_given: bool) -> i32 {
    init_logging();
    let ex = match exporter(conn, args, cache_mb_given) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {}: {e}\n  hint: choose another --listen address or port",
                args.listen
            );
            return 2;
        }
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| args.listen.to_string(), |a| a.to_string());
    // The one line on stdout (tests and scripts read the port from it); logs go to stderr.
    println!(
        "awx-kpi export: serving http://{addr}/metrics for {}",
        ex.inst.settings.awx.api_root
    );
    // The baseline now, not at the first scrape: counting starts when the exporter does.
    ex.sync().await;
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping");
    };
    match axum::serve(listener, router(ex))
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: the metrics server stopped: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hold_takes_intervals_and_zero() {
        assert_eq!(parse_hold("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_hold("0"), Ok(Duration::ZERO));
        assert_eq!(parse_hold("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_hold("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_hold("soon")
            .unwrap_err()
            .contains("0s for one scrape"));
    }
}
