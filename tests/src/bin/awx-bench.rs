//! awx-bench: the plugin against the naive baseline and the physical limit, with AWX
//! (the simulator) as the scarce resource: `--workers 4 --latency-ms 30`.
//!
//! Run it with `scripts/bench.sh` (release build). What it measures, in one run:
//! - cold: the overview dashboard's job-record panels over 30 days (100k jobs), one
//!   QueryData per panel, all at once, against a fresh plugin; vs the limit (every
//!   page needed fetched once, W at a time) and vs a generic JSON data source (each
//!   panel pages through AWX on its own);
//! - warm: the same dashboard after 30 s of new jobs, at 10k, 100k and 1M jobs;
//! - memory: RSS per cached job after the cold fill at 1M;
//! - prometheus: the plugin's capacity/active_jobs vs the same PromQL sent directly, over
//!   a week of the simulator's metrics backfilled into Prometheus (7 days, a day, an hour);
//! - hosts: the AWX requests of the overview's Hosts row and the Jobs table's host counts,
//!   cold and on warm refreshes, and of `hostSummaries: all` over a day (`hosts.rs`);
//! - frames: Arrow encoding of a 10,000-row jobs table and a 1,000-bucket series;
//! - calibrated: AWX as slow as a real 24.6.1 (`--cost-model real-awx-24.6.1`, W = 4, sped
//!   up by `--cost-scale`): the overview at 100k jobs (first panel, every panel complete,
//!   vs every unified_jobs page once), then a restart and a saved setting with the
//!   persistent cache at 1M jobs (AWX requests, modelled AWX seconds, first answer).
//!
//! The last line is machine-readable: `BENCH key=value ...`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use awx_datasource::frame::{self, Field, FieldConfig, Frame, FrameType, Link, Values};
use awx_datasource::prometheus::client::parse_response;
use e2e::procs::workspace_dir;
use e2e::{datasource, ms, query, request, Plugin, Prometheus, Sim, SimOptions, ADMIN_TOKEN};
use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use serde_json::{json, Value};

// A directory beside the binary's file: cargo takes any .rs file in src/bin/ for a binary.
#[path = "awx-bench/hosts.rs"]
mod hosts;

const SIM_NOW: &str = "2026-11-20T12:00:00Z";
const DAY_MS: i64 = 86_400_000;
const RANGE_MS: i64 = 30 * DAY_MS;
/// Grafana's interval for 30 days at ~1000 points (43 min rounded to 1 h).
const INTERVAL_MS: i64 = 3_600_000;
const WORKERS: usize = 4;
const LATENCY_MS: u64 = 30;
const PAGE: u64 = 200;

/// Query types answered from job records.
const JOB_RECORD_TYPES: &[&str] = &[
    "job_status_counts",
    "job_throughput",
    "failure_rate",
    "job_duration",
    "queue_wait",
    "active_jobs",
    "templates",
    "jobs",
];

struct Args {
    cold_runs: usize,
    warm_runs: usize,
    skip_cold: bool,
    skip_baseline: bool,
    skip_prom: bool,
    /// The host outcomes' requests (the Hosts row, cold and warm); `None`: skipped.
    hosts_per_day: Option<u32>,
    prom_iterations: usize,
    skip_calibrated: bool,
    /// The calibrated model's `--cost-scale` for the 100k overview.
    cost_scale: f64,
    /// Jobs per day of the restart scenario (1M jobs; 100k with --quick).
    restart_per_day: u32,
    /// Warm-refresh sizes: (name, jobs per day).
    scales: Vec<(&'static str, u32)>,
}

const SCALES: &[(&str, u32)] = &[("10k", 334), ("100k", 3334), ("1m", 33_334)];

impl Args {
    fn parse() -> Result<Self> {
        let mut a = Args {
            cold_runs: 3,
            warm_runs: 7,
            skip_cold: false,
            skip_baseline: false,
            skip_prom: false,
            hosts_per_day: Some(3334),
            prom_iterations: 300,
            skip_calibrated: false,
            cost_scale: 0.05,
            restart_per_day: 33_334,
            scales: SCALES.to_vec(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--quick" => {
                    a.cold_runs = 1;
                    a.warm_runs = 3;
                    a.scales.retain(|(n, _)| *n != "1m");
                    a.restart_per_day = 3334;
                }
                "--cold-runs" => a.cold_runs = it.next().context("--cold-runs N")?.parse()?,
                "--warm-runs" => a.warm_runs = it.next().context("--warm-runs N")?.parse()?,
                "--no-1m" => {
                    a.scales.retain(|(n, _)| *n != "1m");
                    a.restart_per_day = 3334;
                }
                "--no-calibrated" => a.skip_calibrated = true,
                "--cost-scale" => a.cost_scale = it.next().context("--cost-scale F")?.parse()?,
                "--scales" => {
                    let list = it.next().context("--scales 10k,100k,1m")?;
                    a.scales = SCALES
                        .iter()
                        .copied()
                        .filter(|(n, _)| list.split(',').any(|x| x == *n))
                        .collect();
                }
                "--no-cold" => a.skip_cold = true,
                "--prom-iterations" => {
                    a.prom_iterations = it.next().context("--prom-iterations N")?.parse()?
                }
                "--no-baseline" => a.skip_baseline = true,
                "--no-hosts" => a.hosts_per_day = None,
                "--hosts" => {
                    let per_day = it.next().context("--hosts JOBS_PER_DAY")?.parse()?;
                    a.hosts_per_day = Some(per_day);
                }
                "--no-prometheus" => a.skip_prom = true,
                "-h" | "--help" => {
                    println!(
                        "awx-bench [--quick] [--cold-runs N] [--warm-runs N] [--scales 10k,100k,1m] [--no-1m] [--no-cold] [--no-baseline] [--no-prometheus] [--hosts JOBS_PER_DAY] [--no-hosts] [--no-calibrated] [--cost-scale F]"
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other} (see --help)"),
            }
        }
        Ok(a)
    }
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

// ---------------------------------------------------------------- processes

/// Children of this process named `comm`.
fn children_named(comm: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let (Some(l), Some(r)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[l + 1..r];
        let ppid = stat[r + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        if name == comm && ppid == Some(me) {
            out.push(pid);
        }
    }
    out
}

fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| anyhow!("no VmRSS for {pid}"))?;
    Ok(kb * 1024)
}

/// User + system CPU seconds of a process.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    let Some(r) = stat.rfind(')') else {
        return f64::NAN;
    };
    let f: Vec<&str> = stat[r + 2..].split_whitespace().collect();
    // After ")": state(0) ppid(1) ... utime(11) stime(12), in clock ticks (100 Hz).
    let t = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

/// A plugin process with its pid.
struct Bench {
    plugin: Plugin,
    pid: u32,
    /// The data source the plugin has cached (same uid and version: same instance).
    ds: Option<DataSourceInstanceSettings>,
}

async fn spawn_plugin() -> Result<Bench> {
    spawn_plugin_env(&[]).await
}

async fn spawn_plugin_env(env: &[(&str, &str)]) -> Result<Bench> {
    let before = children_named("gpx_awx");
    let path = e2e::procs::bin_dir().join("gpx_awx");
    let mut env = env.to_vec();
    // Quiet by default (its log is read only on failure); AWX_BENCH_RUST_LOG to see more.
    let log = std::env::var("AWX_BENCH_RUST_LOG").unwrap_or_else(|_| "warn".into());
    env.push(("RUST_LOG", &log));
    let plugin = Plugin::spawn_binary(&path, &env).await?;
    let pid = children_named("gpx_awx")
        .into_iter()
        .find(|p| !before.contains(p))
        .context("the plugin's pid")?;
    Ok(Bench {
        plugin,
        pid,
        ds: None,
    })
}

async fn start_sim(jobs_per_day: u32, capacity_model: bool) -> Result<Sim> {
    let mut extra = Vec::new();
    if capacity_model {
        extra = vec![
            "--workers".to_string(),
            WORKERS.to_string(),
            "--latency-ms".to_string(),
            LATENCY_MS.to_string(),
        ];
    }
    start_sim_with(jobs_per_day, extra).await
}

async fn start_sim_with(jobs_per_day: u32, extra: Vec<String>) -> Result<Sim> {
    Sim::start(SimOptions {
        days: 30,
        jobs_per_day,
        seed: 7,
        now: SIM_NOW.to_string(),
        frozen: true,
        extra,
    })
    .await
}

// ---------------------------------------------------------------- AWX side

/// An authenticated client for the simulator's API, as a generic client would be.
fn awx_http() -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {ADMIN_TOKEN}").parse().expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .pool_max_idle_per_host(64)
        .build()
        .expect("client")
}

fn iso_ms(t: i64) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .expect("time")
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// API requests served so far per path (the simulator's own counters).
async fn api_requests_by_path(sim: &Sim) -> Result<BTreeMap<String, u64>> {
    let s = sim.stats().await?;
    let paths = s["requests_by_path"]
        .as_object()
        .ok_or_else(|| anyhow!("no requests_by_path in /_sim/stats: {s}"))?;
    Ok(paths
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
        .collect())
}

/// API requests served so far (the simulator's own counter).
async fn api_requests(sim: &Sim) -> Result<u64> {
    let s = sim.stats().await?;
    s["requests_total"]
        .as_u64()
        .ok_or_else(|| anyhow!("no requests_total in /_sim/stats: {s}"))
}

#[derive(serde::Deserialize)]
struct PageHead {
    count: Option<u64>,
    next: Option<String>,
}

/// The coverage list the dashboard needs: finished at or after `from`, or not finished.
fn coverage_query(from_ms: i64) -> String {
    format!(
        "or__finished__gte={}&or__finished__isnull=true&order_by=id&page_size={PAGE}",
        iso_ms(from_ms)
    )
}

async fn get_page(http: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let resp = http.get(url).send().await?;
    if !resp.status().is_success() {
        bail!("GET {url}: HTTP {}", resp.status());
    }
    Ok(resp.bytes().await?.to_vec())
}

/// Jobs in the coverage (one request, outside any measured window).
async fn coverage_count(sim: &Sim, from_ms: i64) -> Result<u64> {
    let url = format!(
        "{}/api/v2/unified_jobs/?{}",
        sim.url,
        coverage_query(from_ms).replace("page_size=200", "page_size=1")
    );
    let body = get_page(&awx_http(), &url).await?;
    let head: PageHead = serde_json::from_slice(&body)?;
    head.count.context("count")
}

/// The physical limit, measured: the first page (for the count), then every other page
/// of the coverage exactly once, W at a time. Returns (wall, pages).
async fn measure_limit(sim: &Sim, from_ms: i64) -> Result<(Duration, u64)> {
    let http = awx_http();
    let base = format!(
        "{}/api/v2/unified_jobs/?{}",
        sim.url,
        coverage_query(from_ms)
    );
    let started = Instant::now();
    let first = get_page(&http, &base).await?;
    let count = serde_json::from_slice::<PageHead>(&first)?
        .count
        .context("count")?;
    let pages = count.div_ceil(PAGE).max(1);
    let next = Arc::new(AtomicUsize::new(2));
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let (http, base, next) = (http.clone(), base.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let p = next.fetch_add(1, Ordering::Relaxed) as u64;
                if p > pages {
                    return Ok::<(), anyhow::Error>(());
                }
                get_page(&http, &format!("{base}&page={p}")).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((started.elapsed(), pages))
}

/// What a generic JSON data source does for one panel: page through unified_jobs/
/// with the panel's time filter, one page after another, following `next`.
fn baseline_filter(query_type: &str, from_ms: i64, to_ms: i64) -> String {
    let field = match query_type {
        "queue_wait" => "started",
        "active_jobs" | "jobs" => "created",
        _ => "finished",
    };
    format!(
        "{field}__gte={}&{field}__lt={}",
        iso_ms(from_ms),
        iso_ms(to_ms)
    )
}

/// Returns (wall, requests).
async fn run_baseline(
    sim: &Sim,
    panels: &[Panel],
    from_ms: i64,
    to_ms: i64,
) -> Result<(Duration, u64)> {
    let http = awx_http();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in panels {
        let qt = p.query["queryType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut url = format!(
            "{}/api/v2/unified_jobs/?{}&page_size={PAGE}",
            sim.url,
            baseline_filter(&qt, from_ms, to_ms)
        );
        let (http, root) = (http.clone(), sim.url.clone());
        tasks.push(tokio::spawn(async move {
            let mut requests = 0u64;
            loop {
                let body = get_page(&http, &url).await?;
                requests += 1;
                match serde_json::from_slice::<PageHead>(&body)?.next {
                    Some(next) => url = format!("{root}{next}"),
                    None => return Ok::<u64, anyhow::Error>(requests),
                }
            }
        }));
    }
    let mut requests = 0;
    for t in tasks {
        requests += t.await??;
    }
    Ok((started.elapsed(), requests))
}

// ---------------------------------------------------------------- the dashboard

#[derive(Clone)]
struct Panel {
    title: String,
    query: Value,
}

/// Drops unresolved template variables (`All` = an empty filter, as the frontend sends).
fn resolve_variables(q: &mut Value) {
    if let Some(obj) = q.as_object_mut() {
        obj.remove("datasource");
        if let Some(filters) = obj.get_mut("filters").and_then(Value::as_object_mut) {
            for v in filters.values_mut() {
                if let Some(list) = v.as_array_mut() {
                    list.retain(|x| !x.as_str().is_some_and(|s| s.starts_with('$')));
                }
            }
            filters.retain(|_, v| !v.as_array().is_some_and(Vec::is_empty));
        }
    }
}

/// The overview dashboard's job-record panels, queries as stored in the JSON.
fn overview_panels() -> Result<Vec<Panel>> {
    let path = workspace_dir().join("dashboards/awx-overview.json");
    let d: Value = serde_json::from_slice(&std::fs::read(&path)?)
        .with_context(|| format!("{}", path.display()))?;
    let mut panels = Vec::new();
    let mut stack: Vec<&Value> = d["panels"].as_array().into_iter().flatten().collect();
    while let Some(p) = stack.pop() {
        // Panels inside collapsed rows.
        stack.extend(p["panels"].as_array().into_iter().flatten());
        for t in p["targets"].as_array().into_iter().flatten() {
            let qt = t["queryType"].as_str().unwrap_or_default();
            let source = t["source"].as_str().unwrap_or("auto");
            if !JOB_RECORD_TYPES.contains(&qt) || source == "prometheus" {
                continue;
            }
            let mut q = t.clone();
            resolve_variables(&mut q);
            // The Jobs table's host counts are the host outcomes' cost, measured on their own.
            if let Some(o) = q.as_object_mut() {
                o.remove("hostSummaries");
            }
            panels.push(Panel {
                title: p["title"].as_str().unwrap_or_default().to_string(),
                query: q,
            });
        }
    }
    panels.sort_by_key(|p| p.title.clone());
    if panels.is_empty() {
        bail!("no job-record panels in {}", path.display());
    }
    Ok(panels)
}

/// All panels at once, one QueryData each, as Grafana runs a dashboard. Returns the wall
/// time until the last panel answered.
async fn run_dashboard(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    panels: &[Panel],
    from_ms: i64,
    to_ms: i64,
) -> Result<Duration> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in panels {
        let mut client = plugin.data();
        let req = request(
            ds,
            vec![query("A", p.query.clone(), from_ms, to_ms, INTERVAL_MS)],
        );
        let title = p.title.clone();
        tasks.push(tokio::spawn(async move {
            let resp = client.query_data(req).await?.into_inner();
            let r = resp
                .responses
                .get("A")
                .ok_or_else(|| anyhow!("{title}: no response"))?;
            if !r.error.is_empty() {
                bail!("{title}: {}", r.error);
            }
            if r.frames.is_empty() {
                bail!("{title}: no frames");
            }
            if std::env::var_os("AWX_BENCH_SHOW_QUERIES").is_some() {
                let f = e2e::decode(&r.frames[0])?;
                eprintln!("[{title}] {}", f.executed_query().replace('\n', "\n    "));
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed())
}

fn bench_ds(sim: &Sim) -> DataSourceInstanceSettings {
    datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)])
}

struct Cold {
    wall: Vec<f64>,
    requests: Vec<u64>,
    plugin_cpu: Vec<f64>,
    bytes_per_job: Vec<f64>,
    /// The last run's AWX requests per path.
    by_path: BTreeMap<String, u64>,
    jobs: u64,
    pages: u64,
}

/// Fresh plugin, all panels at once, `runs` times; each run until no panel is partial
/// (a dashboard's query answers after 10 s from what is read: at 1M jobs, the dashboard
/// runs again until the history is read), its wall time until the last complete answer.
async fn cold_runs(sim: &Sim, panels: &[Panel], runs: usize) -> Result<(Cold, Option<Bench>)> {
    let to = ms(SIM_NOW);
    let from = to - RANGE_MS;
    let first_bucket = from.div_euclid(INTERVAL_MS) * INTERVAL_MS;
    let jobs = coverage_count(sim, first_bucket).await?;
    let mut c = Cold {
        wall: Vec::new(),
        requests: Vec::new(),
        plugin_cpu: Vec::new(),
        bytes_per_job: Vec::new(),
        by_path: BTreeMap::new(),
        jobs,
        pages: jobs.div_ceil(PAGE),
    };
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        let mut b = spawn_plugin().await?;
        let ds = bench_ds(sim);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss0 = rss_bytes(b.pid)?;
        let cpu0 = cpu_seconds(b.pid);
        let r0 = api_requests(sim).await?;
        let p0 = api_requests_by_path(sim).await?;
        let limit = Duration::from_secs(1800);
        let (_, wall, rounds, _) = until_complete(&b.plugin, &ds, panels, from, to, limit).await?;
        if rounds > 1 {
            println!("  (cold: {rounds} dashboard runs until no panel was partial)");
        }
        let r1 = api_requests(sim).await?;
        let p1 = api_requests_by_path(sim).await?;
        c.by_path = p1
            .into_iter()
            .map(|(k, n)| {
                let before = p0.get(&k).copied().unwrap_or(0);
                (k, n.saturating_sub(before))
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        c.wall.push(wall);
        c.requests.push(r1 - r0);
        c.plugin_cpu.push(cpu_seconds(b.pid) - cpu0);
        let rss1 = rss_bytes(b.pid)?;
        c.bytes_per_job
            .push(rss1.saturating_sub(rss0) as f64 / jobs as f64);
        b.ds = Some(ds);
        last = Some(b);
    }
    Ok((c, last))
}

struct Warm {
    wall_ms: Vec<f64>,
    requests: Vec<u64>,
}

/// After a cold fill: advance 30 s, wait for the cache's freshness window, run the
/// dashboard over the moved range.
async fn warm_runs(sim: &Sim, b: &Bench, panels: &[Panel], runs: usize) -> Result<Warm> {
    let ds = b.ds.as_ref().context("a data source")?;
    let mut w = Warm {
        wall_ms: Vec::new(),
        requests: Vec::new(),
    };
    let mut now = ms(SIM_NOW);
    for _ in 0..runs {
        sim.post("/_sim/advance?seconds=30", json!({})).await?;
        now += 30_000;
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        let r0 = api_requests(sim).await?;
        let wall = run_dashboard(&b.plugin, ds, panels, now - RANGE_MS, now).await?;
        let r1 = api_requests(sim).await?;
        w.wall_ms.push(secs(wall) * 1e3);
        w.requests.push(r1 - r0);
    }
    let log = b.plugin.stderr();
    for line in log.lines().filter(|l| {
        l.contains("re-fetching") || l.contains("filling it anew") || l.contains("\"warn\"")
    }) {
        eprintln!("  plugin: {line}");
    }
    Ok(w)
}

/// A fresh sim and plugin at this size: cold fill once, then warm refreshes.
/// Returns (warm, jobs cached, bytes per job, cold wall).
async fn at_scale(
    jobs_per_day: u32,
    panels: &[Panel],
    runs: usize,
) -> Result<(Warm, u64, f64, f64)> {
    // AWX's cleanup_jobs keeps 90 days by default and runs on a (weekly) schedule: over
    // the warm runs' minute nothing is purged. The simulator's own default purges the
    // 30-day history's oldest jobs on every clock step, and a refresh after a purge
    // costs a third request (the coverage counted on its own, docs/ARCHITECTURE.md).
    let extra = [
        "--workers",
        &WORKERS.to_string(),
        "--latency-ms",
        &LATENCY_MS.to_string(),
        "--retain-days",
        "90",
    ];
    let sim = start_sim_with(jobs_per_day, extra.map(str::to_string).to_vec()).await?;
    let (cold, b) = cold_runs(&sim, panels, 1).await?;
    let b = b.context("plugin")?;
    // For profilers attaching to the plugin during the warm runs.
    eprintln!("awx-bench: warm runs start, plugin pid {}", b.pid);
    let warm = warm_runs(&sim, &b, panels, runs).await?;
    Ok((warm, cold.jobs, cold.bytes_per_job[0], cold.wall[0]))
}

// ---------------------------------------------------------------- Prometheus

/// Medians (ms) of one window, per query type: (type, plugin, direct).
struct PromWindow {
    name: &'static str,
    /// The prefix of its keys on the BENCH line.
    key: &'static str,
    per_type: Vec<(String, f64, f64)>,
    /// Per query type: the plugin's parsing of Prometheus's answers (ms).
    parse_ms: Vec<(String, f64)>,
    /// The plugin process's CPU time for both panels (ms), from /proc.
    plugin_cpu_ms: f64,
    frame_bytes: Vec<(String, usize)>,
}

struct PromResult {
    windows: Vec<PromWindow>,
    /// A query answered without any request: the gRPC round trip, parsing, encoding.
    floor_ms: f64,
    /// PromQL `1` (instant): the plugin's answer and the bare request, for the fixed cost
    /// of one request made through the plugin.
    one_request: (f64, f64),
}

/// (description, BENCH key, span, Grafana's interval): the first is judged.
const PROM_WINDOWS: &[(&str, &str, i64, i64)] = &[
    (
        "last 7 days at 10 min (the overview's default)",
        "prom",
        7 * DAY_MS,
        600_000,
    ),
    ("last 24 hours at 2 min", "prom_24h", DAY_MS, 120_000),
    ("last hour at 15 s", "prom_1h", 3_600_000, 15_000),
];

fn prom_step(from_ms: i64, to_ms: i64, interval_ms: i64, max_points: i64) -> i64 {
    let range_s = ((to_ms - from_ms) / 1000).max(1);
    let mut step = (interval_ms / 1000).max(1);
    if range_s / step > max_points {
        step = (range_s + max_points - 1) / max_points;
    }
    step
}

fn answer_bytes(resp: &grafana_plugin_sdk::pluginv2::QueryDataResponse) -> usize {
    resp.responses
        .values()
        .flat_map(|r| r.frames.iter())
        .map(Vec::len)
        .sum()
}

/// Prometheus's scrape interval (the provisioned default) and the history it holds.
const SCRAPE_S: i64 = 15;
const HISTORY_S: i64 = 7 * 86_400;

/// The families the plugin's built-in Prometheus queries read (the others would only
/// lengthen the recording: they do not enter these queries).
const PLUGIN_FAMILIES: &[&str] = &[
    "awx_hosts_total",
    "awx_instance_capacity",
    "awx_instance_consumed_capacity",
    "awx_instance_info",
    "awx_instance_remaining_capacity",
    "awx_job_templates_total",
    "awx_organizations_total",
    "awx_pending_jobs_total",
    "awx_running_jobs_total",
    "awx_status_total",
    "awx_system_info",
    "awx_workflow_job_templates_total",
];

/// A week of AWX's metrics as Prometheus would have scraped them: the simulator, frozen
/// a week ago, advanced one scrape interval at a time and its /api/v2/metrics/ read after
/// each step (its live workload, episodes and capacity as they unfold). Writes
/// OpenMetrics text for promtool to `out`: one family at a time, each series' samples in
/// time order, with the `job` and `instance` labels a scrape of `instance` adds. The
/// duplicated families of AWX's output are kept once, as Prometheus keeps them.
async fn record_history(
    sim: &Sim,
    start_s: i64,
    steps: i64,
    instance: &str,
    out: &std::path::Path,
) -> Result<()> {
    use std::io::Write;
    // Per family, per series: (step, value), steps in order.
    type Samples = Vec<(u32, f64)>;
    let mut families: BTreeMap<String, BTreeMap<String, Samples>> = BTreeMap::new();
    let extra = format!("job=\"awx\",instance=\"{instance}\"");
    for k in 1..=steps {
        sim.post(&format!("/_sim/advance?seconds={SCRAPE_S}"), json!({}))
            .await?;
        let text = sim
            .http
            .get(format!("{}/api/v2/metrics/", sim.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let step = u32::try_from(k)?;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let name = line.split(['{', ' ']).next().unwrap_or(line);
            if !PLUGIN_FAMILIES.contains(&name) {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .with_context(|| format!("metrics line without a value: {line}"))?;
            let value: f64 = value
                .parse()
                .with_context(|| format!("metrics value: {line}"))?;
            let key = match series.rsplit_once('}') {
                Some((head, _)) if head.ends_with('{') => format!("{head}{extra}}}"),
                Some((head, _)) => format!("{head},{extra}}}"),
                None => format!("{series}{{{extra}}}"),
            };
            let samples = families
                .entry(name.to_string())
                .or_default()
                .entry(key)
                .or_default();
            if samples.last().is_none_or(|(last, _)| *last < step) {
                samples.push((step, value));
            }
        }
    }
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    for (name, series) in &families {
        // Types do not matter to PromQL; gauge lets AWX's `_total` gauges keep their names.
        writeln!(w, "# TYPE {name} gauge")?;
        for (key, samples) in series {
            for (step, v) in samples {
                // OpenMetrics spells infinities +Inf and -Inf (Rust prints inf).
                let v = match *v {
                    x if x == f64::INFINITY => "+Inf".to_string(),
                    x if x == f64::NEG_INFINITY => "-Inf".to_string(),
                    x => x.to_string(),
                };
                writeln!(w, "{key} {v} {}", start_s + i64::from(*step) * SCRAPE_S)?;
            }
        }
    }
    writeln!(w, "# EOF")?;
    w.flush()?;
    Ok(())
}

/// A simulator and a Prometheus holding a week of its history (recorded, backfilled with
/// promtool) and scraping it live every 15 s from then on.
async fn prometheus_with_history() -> Result<(Sim, Prometheus)> {
    let now_s = chrono::Utc::now().timestamp();
    let steps = HISTORY_S / SCRAPE_S + 60;
    let start_s = now_s - steps * SCRAPE_S;
    let start = chrono::DateTime::from_timestamp(start_s, 0)
        .context("start time")?
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sim = Sim::start(SimOptions {
        days: 30,
        jobs_per_day: 300,
        seed: 7,
        now: start,
        frozen: true,
        extra: Vec::new(),
    })
    .await?;
    let hostport = sim.url.trim_start_matches("http://").to_string();
    let dir = e2e::procs::TempDir::new("awx-bench-history")?;
    let file = dir.0.join("history.om");
    let started = Instant::now();
    record_history(&sim, start_s, steps, &hostport, &file).await?;
    eprintln!(
        "awx-bench: recorded {steps} scrapes ({:.0} MB of OpenMetrics) in {:.1} s",
        std::fs::metadata(&file)?.len() as f64 / 1e6,
        secs(started.elapsed())
    );
    let started = Instant::now();
    let prom = Prometheus::start_with_history(
        &hostport,
        ADMIN_TOKEN,
        &format!("{SCRAPE_S}s"),
        Some(&file),
    )
    .await?;
    eprintln!(
        "awx-bench: promtool and Prometheus ready in {:.1} s",
        secs(started.elapsed())
    );
    Ok((sim, prom))
}

/// The plugin's capacity and active_jobs (source prometheus) against the same PromQL
/// (taken from the frames' executedQueryString) sent directly to Prometheus's
/// /api/v1/query_range with the same start, end and step, concurrently as the plugin
/// sends them, each answer received whole (not parsed: Prometheus's own time). The
/// windows are what dashboards ask for, over a Prometheus holding a week of history:
/// the overview's default (7 days), a day, an hour.
async fn prometheus_bench(iterations: usize) -> Result<PromResult> {
    let (sim, prom) = prometheus_with_history().await?;
    let b = spawn_plugin().await?;
    let ds = datasource(
        &sim.url,
        json!({"prometheusUrl": prom.url, "prometheusSelector": "job=\"awx\""}),
        &[("token", ADMIN_TOKEN)],
    );
    let http = reqwest::Client::new();
    // Grafana's gRPC client (grpc-go) grows its flow-control windows with the bandwidth-delay
    // product; tonic's stay at 64 KiB, which would add window round trips to large frames.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", b.plugin.addr))?
        .initial_stream_window_size(Some(8 << 20))
        .initial_connection_window_size(Some(16 << 20))
        .tcp_nodelay(true)
        .connect()
        .await?;
    let data_client = || {
        grafana_plugin_sdk::pluginv2::data_client::DataClient::new(channel.clone())
            .max_decoding_message_size(64 << 20)
    };
    // The backfilled week is loaded and the live scrape has begun.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut ready = true;
        for expr in [
            "count_over_time(awx_system_info[1h] offset 6d)",
            "count_over_time(awx_system_info[1m])",
        ] {
            let v: Value = http
                .get(format!("{}/api/v1/query", prom.url))
                .query(&[("query", expr)])
                .send()
                .await?
                .json()
                .await?;
            let n = v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0);
            ready &= n >= 1.0;
        }
        if ready {
            break;
        }
        if Instant::now() > deadline {
            bail!("Prometheus did not load the backfilled week or scrape the simulator");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let queries = [
        json!({"queryType": "capacity", "source": "prometheus"}),
        json!({"queryType": "active_jobs", "source": "prometheus"}),
    ];
    let mut windows = Vec::new();
    for (name, key, span_ms, interval) in PROM_WINDOWS {
        let (span_ms, interval) = (*span_ms, *interval);
        let mut per_type: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        let mut frame_bytes = Vec::new();
        let mut exprs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // The last answers Prometheus sent, per panel.
        let mut answers: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        let cpu_before = cpu_seconds(b.pid);
        for i in 0..iterations + 3 {
            let to = chrono::Utc::now().timestamp_millis();
            let from = to - span_ms;
            for q in &queries {
                let qt = q["queryType"].as_str().unwrap_or_default().to_string();
                let plugin = async {
                    let started = Instant::now();
                    let resp = data_client()
                        .query_data(request(
                            &ds,
                            vec![query("A", q.clone(), from, to, interval)],
                        ))
                        .await?
                        .into_inner();
                    let t = secs(started.elapsed()) * 1e3;
                    let r = &resp.responses["A"];
                    if !r.error.is_empty() {
                        bail!("{q}: {}", r.error);
                    }
                    Ok((t, resp))
                };
                if i == 0 {
                    // The PromQL the plugin sends, from its executedQueryString.
                    let (_, resp) = plugin.await?;
                    frame_bytes.push((qt.clone(), answer_bytes(&resp)));
                    let frame = e2e::decode(&resp.responses["A"].frames[0])?;
                    let e = frame.executed_query().lines().map(str::to_string).collect();
                    exprs.insert(qt, e);
                    continue;
                }
                let step = prom_step(from, to, interval, 1000);
                let start = (from / 1000).div_euclid(step) * step;
                let end = (to / 1000).div_euclid(step) * step;
                // Prometheus's own time: each answer received whole (not parsed), the
                // requests concurrent in one task, as the plugin sends them.
                let url = format!("{}/api/v1/query_range", prom.url);
                let (start, end, step) = (start.to_string(), end.to_string(), step.to_string());
                let fetch = |e: &str| {
                    let req = http.get(&url).query(&[
                        ("query", e),
                        ("start", start.as_str()),
                        ("end", end.as_str()),
                        ("step", step.as_str()),
                    ]);
                    async move {
                        let body = req.send().await?.bytes().await?;
                        if !body.starts_with(br#"{"status":"success""#) {
                            bail!("prometheus: {}", String::from_utf8_lossy(&body));
                        }
                        Ok::<_, anyhow::Error>(body)
                    }
                };
                let direct = async {
                    let started = Instant::now();
                    let got = match exprs[&qt].as_slice() {
                        [a] => vec![fetch(a).await?],
                        [a, b] => {
                            let (a, b) = tokio::try_join!(fetch(a), fetch(b))?;
                            vec![a, b]
                        }
                        [a, b, c] => {
                            let (a, b, c) = tokio::try_join!(fetch(a), fetch(b), fetch(c))?;
                            vec![a, b, c]
                        }
                        other => bail!("{qt}: {} expressions", other.len()),
                    };
                    Ok::<_, anyhow::Error>((secs(started.elapsed()) * 1e3, got))
                };
                // Each first on every other iteration: neither gains from going second.
                let (plugin_t, (direct_t, got)) = if i % 2 == 0 {
                    let p = plugin.await?.0;
                    (p, direct.await?)
                } else {
                    let d = direct.await?;
                    (plugin.await?.0, d)
                };
                answers.insert(qt.clone(), got.iter().map(|b| b.to_vec()).collect());
                if i >= 3 {
                    let e = per_type.entry(qt).or_default();
                    e.0.push(plugin_t);
                    e.1.push(direct_t);
                }
            }
        }
        // The plugin's CPU for both panels (the first pass included: it is one more of each).
        let plugin_cpu_ms = (cpu_seconds(b.pid) - cpu_before) * 1e3 / (iterations + 3) as f64;
        // What reading those answers costs the plugin, measured in-process with its own
        // parser: part of what it adds to Prometheus's time.
        let mut parse_ms = Vec::new();
        for (qt, bodies) in &answers {
            let mut runs = Vec::new();
            for _ in 0..50 {
                let started = Instant::now();
                for b in bodies {
                    parse_response(200, b).map_err(|e| anyhow!("{qt}: {e}"))?;
                }
                runs.push(secs(started.elapsed()) * 1e3);
            }
            parse_ms.push((qt.clone(), median(&runs)));
        }
        windows.push(PromWindow {
            name,
            key,
            parse_ms,
            plugin_cpu_ms,
            per_type: per_type
                .into_iter()
                .map(|(t, (p, d))| (t, median(&p), median(&d)))
                .collect(),
            frame_bytes,
        });
    }
    let mut floor = Vec::new();
    for _ in 0..iterations.max(10) {
        let now = chrono::Utc::now().timestamp_millis();
        let q = json!({"queryType": "lookup", "lookup": "status"});
        let started = Instant::now();
        data_client()
            .query_data(request(&ds, vec![query("A", q, now - 60_000, now, 1000)]))
            .await?;
        floor.push(secs(started.elapsed()) * 1e3);
    }
    // One request of nothing: the plugin's promql `1` (instant) against the same GET.
    let (mut one_plugin, mut one_direct) = (Vec::new(), Vec::new());
    for _ in 0..iterations.max(10) {
        let now = chrono::Utc::now().timestamp_millis();
        let q = json!({"queryType": "promql", "expr": "1", "instant": true});
        let started = Instant::now();
        let resp = data_client()
            .query_data(request(&ds, vec![query("A", q, now - 60_000, now, 1000)]))
            .await?
            .into_inner();
        one_plugin.push(secs(started.elapsed()) * 1e3);
        if !resp.responses["A"].error.is_empty() {
            bail!("promql 1: {}", resp.responses["A"].error);
        }
        let started = Instant::now();
        http.get(format!("{}/api/v1/query", prom.url))
            .query(&[("query", "1"), ("time", &format!("{}", now / 1000))])
            .send()
            .await?
            .bytes()
            .await?;
        one_direct.push(secs(started.elapsed()) * 1e3);
    }
    Ok(PromResult {
        windows,
        floor_ms: median(&floor),
        one_request: (median(&one_plugin), median(&one_direct)),
    })
}

// ---------------------------------------------------------------- frames

fn jobs_table(rows: usize) -> Frame {
    let s = |f: &dyn Fn(usize) -> String| Values::Str((0..rows).map(|i| Some(f(i))).collect());
    let t = |off: i64| {
        Values::Time(
            (0..rows)
                .map(|i| Some(1_780_000_000_000_000_000 + i as i64 * 60_000_000_000 + off))
                .collect(),
        )
    };
    let link = FieldConfig {
        links: vec![Link {
            title: "Open in AWX".into(),
            url: "${__data.fields.link}".into(),
            target_blank: true,
        }],
        ..Default::default()
    };
    Frame::new("jobs")
        .with_executed_query("/api/v2/unified_jobs/?or__finished__gte=...")
        .with_visualisation("table")
        .with_field(
            Field::new(
                "id",
                Values::I64((0..rows).map(|i| Some(i as i64)).collect()),
            )
            .with_config(link),
        )
        .with_field(Field::new("name", s(&|i| format!("Deploy web {}", i % 40))))
        .with_field(Field::new("type", s(&|_| "job".into())))
        .with_field(Field::new(
            "status",
            s(&|i| ["successful", "failed"][i % 2].into()),
        ))
        .with_field(Field::new(
            "template",
            s(&|i| format!("Deploy web {}", i % 40)),
        ))
        .with_field(Field::new("organization", s(&|i| format!("Org {}", i % 3))))
        .with_field(Field::new(
            "inventory",
            s(&|i| format!("Inventory {}", i % 7)),
        ))
        .with_field(Field::new("project", s(&|i| format!("Project {}", i % 5))))
        .with_field(Field::new("launched_by", s(&|i| format!("user{}", i % 9))))
        .with_field(Field::new("launch_type", s(&|_| "scheduled".into())))
        .with_field(Field::new("created", t(0)))
        .with_field(Field::new("started", t(2_000_000_000)))
        .with_field(Field::new("finished", t(92_000_000_000)))
        .with_field(
            Field::new(
                "elapsed",
                Values::F64((0..rows).map(|i| Some(90.0 + i as f64 * 0.001)).collect()),
            )
            .with_unit("s"),
        )
        .with_field(
            Field::new(
                "queue_wait",
                Values::F64((0..rows).map(|i| Some(2.0 + i as f64 * 0.001)).collect()),
            )
            .with_unit("s"),
        )
        .with_field(Field::new(
            "execution_node",
            s(&|i| format!("awx-exec-{}", i % 4)),
        ))
        .with_field(Field::new("instance_group", s(&|_| "default".into())))
        .with_field(Field::new(
            "link",
            s(&|i| format!("https://awx.example.com/#/jobs/playbook/{i}/output")),
        ))
}

fn series(buckets: usize) -> Frame {
    let mut f = Frame::new("job_throughput")
        .with_type(FrameType::TimeSeriesWide)
        .with_executed_query("/api/v2/unified_jobs/?...")
        .with_field(Field::new(
            "time",
            Values::Time(
                (0..buckets)
                    .map(|i| Some(1_780_000_000_000_000_000 + i as i64 * 3_600_000_000_000))
                    .collect(),
            ),
        ));
    for status in ["successful", "failed", "error", "canceled"] {
        f = f.with_field(
            Field::new(
                "jobs",
                Values::F64((0..buckets).map(|i| Some((i % 17) as f64)).collect()),
            )
            .with_labels(BTreeMap::from([("status".into(), status.into())]))
            .with_unit("short"),
        );
    }
    f
}

/// Median microseconds to encode, and the encoded size.
fn encode_us(f: &Frame, iterations: usize) -> Result<(f64, usize)> {
    let mut times = Vec::with_capacity(iterations);
    let mut size = 0;
    for _ in 0..iterations {
        let started = Instant::now();
        let bytes = frame::encode(f, "A")?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        size = bytes.len();
    }
    Ok((median(&times), size))
}

// ---------------------------------------------------------------- main

/// Cold at 100k: the limit, the plugin, the baseline. Pushes its figures to `kv`.
async fn cold_section(args: &Args, panels: &[Panel], kv: &mut Vec<(String, String)>) -> Result<()> {
    println!("\n== cold dashboard, 100k jobs (--days 30 --jobs-per-day 3334)");
    let sim = start_sim(3334, true).await?;
    let to = ms(SIM_NOW);
    let from = to - RANGE_MS;
    let first_bucket = from.div_euclid(INTERVAL_MS) * INTERVAL_MS;
    let mut limits = Vec::new();
    let mut pages = 0;
    for _ in 0..args.cold_runs.max(1) {
        let (wall, p) = measure_limit(&sim, first_bucket).await?;
        limits.push(secs(wall));
        pages = p;
    }
    let limit = median(&limits);
    let limit_formula = (pages.div_ceil(WORKERS as u64) + 1) as f64 * LATENCY_MS as f64 / 1e3;
    let (cold, last) = {
        let (c, b) = cold_runs(&sim, panels, args.cold_runs).await?;
        (c, b)
    };
    drop(last);
    let cold_wall = median(&cold.wall);
    let cold_req = median(&cold.requests.iter().map(|x| *x as f64).collect::<Vec<_>>());
    println!(
        "jobs in the coverage: {} -> pages needed: {} (measured pages: {pages})",
        cold.jobs, cold.pages
    );
    println!(
        "limit: measured {:.3} s (runs {:?}); formula ceil(pages/W) x L + L = {limit_formula:.3} s",
        limit,
        limits.iter().map(|x| f2(*x)).collect::<Vec<_>>()
    );
    println!(
        "plugin cold: {cold_wall:.3} s median (runs {:?}), AWX requests {:?}, plugin CPU {:?} s",
        cold.wall.iter().map(|x| f2(*x)).collect::<Vec<_>>(),
        cold.requests,
        cold.plugin_cpu.iter().map(|x| f2(*x)).collect::<Vec<_>>()
    );
    println!("  AWX requests per path: {:?}", cold.by_path);
    let cold_vs_limit = cold_wall / limit;
    let requests_vs_pages = cold_req / cold.pages as f64;
    println!("cold / limit = {cold_vs_limit:.2} (target <= 1.25); requests / pages = {requests_vs_pages:.3} (target <= 1.05)");
    kv.push(("cold_s".into(), format!("{cold_wall:.3}")));
    kv.push(("limit_s".into(), format!("{limit:.3}")));
    kv.push(("cold_vs_limit".into(), f2(cold_vs_limit)));
    kv.push(("cold_requests".into(), format!("{cold_req:.0}")));
    kv.push(("pages_needed".into(), cold.pages.to_string()));
    kv.push((
        "requests_vs_pages".into(),
        format!("{requests_vs_pages:.3}"),
    ));

    if !args.skip_baseline {
        let r0 = api_requests(&sim).await?;
        let (bw, breq) = run_baseline(&sim, panels, from, to).await?;
        let r1 = api_requests(&sim).await?;
        println!(
            "baseline (generic JSON data source, each panel pages on its own): {:.3} s, {breq} requests (simulator counted {})",
            secs(bw),
            r1 - r0
        );
        let speed = cold_wall / secs(bw);
        let req_ratio = breq as f64 / cold_req;
        println!(
            "plugin / baseline wall = {speed:.3} ({:.1}x faster, target >= 6x); baseline / plugin requests = {req_ratio:.1}x (target >= 8x)",
            1.0 / speed
        );
        kv.push(("baseline_s".into(), format!("{:.3}", secs(bw))));
        kv.push(("cold_vs_baseline".into(), format!("{speed:.3}")));
        kv.push(("baseline_requests_ratio".into(), format!("{req_ratio:.1}")));
    }
    kv.push((
        "bytes_per_job_100k".into(),
        format!("{:.0}", median(&cold.bytes_per_job)),
    ));
    drop(sim);

    Ok(())
}

// ---------------------------------------------------------------- calibrated AWX

/// The simulator's cost model calibrated on a real AWX 24.6.1, W requests served at once.
fn calibrated_args(scale: f64) -> Vec<String> {
    [
        "--cost-model",
        "real-awx-24.6.1",
        "--cost-scale",
        &scale.to_string(),
        "--workers",
        &WORKERS.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

/// What AWX served: API requests and the cost model's AWX time (unscaled seconds).
#[derive(Clone, Copy, Default)]
struct Usage {
    requests: u64,
    awx_s: f64,
}

impl std::ops::Sub for Usage {
    type Output = Usage;
    fn sub(self, o: Usage) -> Usage {
        Usage {
            requests: self.requests - o.requests,
            awx_s: self.awx_s - o.awx_s,
        }
    }
}

async fn usage(url: &str) -> Result<Usage> {
    let s: Value = reqwest::get(format!("{url}/_sim/stats"))
        .await?
        .json()
        .await?;
    Ok(Usage {
        requests: s["requests_total"].as_u64().context("requests_total")?,
        awx_s: s["awx_seconds"].as_f64().context("awx_seconds")?,
    })
}

async fn requests_by_path_at(url: &str) -> Result<BTreeMap<String, u64>> {
    let s: Value = reqwest::get(format!("{url}/_sim/stats"))
        .await?
        .json()
        .await?;
    Ok(s["requests_by_path"]
        .as_object()
        .context("requests_by_path")?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
        .collect())
}

fn path_delta(a: &BTreeMap<String, u64>, b: BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    b.into_iter()
        .map(|(k, n)| (k.clone(), n - a.get(&k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// A simulator on a port of our choosing: the restart scenario fills the plugin's
/// persistent cache from a fast simulator and restarts against a calibrated one holding
/// the same history (same seed, clock and size: the same data, byte for byte) at the
/// same URL, which names the cache file.
struct PortSim {
    child: std::process::Child,
    url: String,
}

impl PortSim {
    async fn start(port: u16, jobs_per_day: u32, extra: &[String]) -> Result<Self> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(e2e::procs::bin_dir().join("awx-sim"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--api-prefix",
                "both",
            ])
            .args(["--seed", "7", "--days", "30", "--frozen", "--now", SIM_NOW])
            .args(["--jobs-per-day", &jobs_per_day.to_string()])
            // AWX's cleanup_jobs keeps 90 days, on a schedule (see `at_scale`).
            .args(["--retain-days", "90"])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(sim_log())
            .spawn()
            .context("spawn awx-sim")?;
        let stdout = child.stdout.take().context("stdout")?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        })
        .await??;
        if !line.contains(&format!(":{port}")) {
            let _ = child.kill();
            bail!("awx-sim printed `{line}`");
        }
        Ok(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    async fn advance(&self, seconds: u64) -> Result<()> {
        reqwest::Client::new()
            .post(format!("{}/_sim/advance?seconds={seconds}", self.url))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

impl Drop for PortSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One panel's answer: when it came (seconds from `started`), whether it was partial
/// (the notice of a history still being read), and whether it came from the disk copy
/// while a restart's first refresh was still reading AWX's changes.
struct Answer {
    title: String,
    at: f64,
    partial: bool,
    behind: bool,
}

/// All panels at once, each timed from `started` as it answers.
async fn run_dashboard_timed(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    panels: &[Panel],
    from_ms: i64,
    to_ms: i64,
    started: Instant,
) -> Result<Vec<Answer>> {
    let mut tasks = Vec::new();
    for p in panels {
        let mut client = plugin.data();
        let req = request(
            ds,
            vec![query("A", p.query.clone(), from_ms, to_ms, INTERVAL_MS)],
        );
        let title = p.title.clone();
        tasks.push(tokio::spawn(async move {
            let resp = client.query_data(req).await?.into_inner();
            let at = secs(started.elapsed());
            let r = resp
                .responses
                .get("A")
                .ok_or_else(|| anyhow!("{title}: no response"))?;
            if !r.error.is_empty() {
                bail!("{title}: {}", r.error);
            }
            let f = e2e::decode(r.frames.first().context("no frames")?)?;
            if std::env::var_os("AWX_BENCH_SHOW_QUERIES").is_some() {
                eprintln!("[{title}] {}", f.executed_query().replace('\n', "\n    "));
            }
            let partial = f
                .notices()
                .iter()
                .any(|n| n.contains("being read for the first time"));
            let behind = f
                .notices()
                .iter()
                .any(|n| n.contains("job cache kept on disk"));
            Ok(Answer {
                title,
                at,
                partial,
                behind,
            })
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

/// Dashboards run one after another (a refresh as soon as the last one answered) until
/// no panel is partial. Returns (first panel answered, every panel complete, rounds,
/// the first round's answers).
async fn until_complete(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    panels: &[Panel],
    from_ms: i64,
    to_ms: i64,
    limit: Duration,
) -> Result<(f64, f64, usize, Vec<Answer>)> {
    let started = Instant::now();
    let mut first_round = None;
    for round in 1.. {
        let answers = run_dashboard_timed(plugin, ds, panels, from_ms, to_ms, started).await?;
        let done = answers.iter().all(|a| !a.partial);
        let last = answers.iter().map(|a| a.at).fold(0.0, f64::max);
        let first_round = first_round.get_or_insert(answers);
        if done {
            let first = first_round.iter().map(|a| a.at).fold(f64::MAX, f64::min);
            return Ok((first, last, round, std::mem::take(first_round)));
        }
        if started.elapsed() > limit {
            bail!("the dashboard was still partial after {limit:?}");
        }
    }
    unreachable!()
}

/// The 30-day overview at 100k jobs on the calibrated model: the first panel answered,
/// every panel complete, against every unified_jobs page of the range fetched once.
async fn calibrated_overview(
    args: &Args,
    panels: &[Panel],
    kv: &mut Vec<(String, String)>,
) -> Result<()> {
    let f = args.cost_scale;
    println!(
        "\n== calibrated AWX (--cost-model real-awx-24.6.1 --cost-scale {f} --workers {WORKERS}): overview, 30 days, 100k jobs"
    );
    let sim = start_sim_with(3334, calibrated_args(f)).await?;
    let to = ms(SIM_NOW);
    let from = to - RANGE_MS;
    let first_bucket = from.div_euclid(INTERVAL_MS) * INTERVAL_MS;
    let u0 = usage(&sim.url).await?;
    let (limit_wall, pages) = measure_limit(&sim, first_bucket).await?;
    let limit = usage(&sim.url).await? - u0;
    let limit_wall = secs(limit_wall);
    println!(
        "every unified_jobs page once (the coverage, {pages} pages, {WORKERS} at a time): {limit_wall:.2} s, {} requests, {:.1} s of AWX time",
        limit.requests, limit.awx_s
    );
    let b = spawn_plugin().await?;
    let ds = bench_ds(&sim);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let u0 = usage(&sim.url).await?;
    let p0 = requests_by_path_at(&sim.url).await?;
    let cpu0 = cpu_seconds(b.pid);
    let (first, complete, rounds, answers) = until_complete(
        &b.plugin,
        &ds,
        panels,
        from,
        to,
        Duration::from_secs_f64(limit_wall * 3.0 + 120.0),
    )
    .await?;
    let used = usage(&sim.url).await? - u0;
    let by_path = path_delta(&p0, requests_by_path_at(&sim.url).await?);
    let cpu = cpu_seconds(b.pid) - cpu0;
    for a in &answers {
        println!(
            "  first round: {} at {:.2} s{}",
            a.title,
            a.at,
            if a.partial { " (partial)" } else { "" }
        );
    }
    let first_scaled = first / f;
    let ratio = complete / limit_wall;
    let awx_ratio = used.awx_s / limit.awx_s;
    println!(
        "first panel answered: {first:.2} s = {first_scaled:.2} s at AWX's own speed (/{f}; target <= 5)"
    );
    println!(
        "every panel complete: {complete:.2} s ({rounds} dashboard runs), {complete:.2} / {limit_wall:.2} = {ratio:.2} of every page once (target <= 0.5)"
    );
    println!(
        "AWX: {} requests, {:.1} s of AWX time ({awx_ratio:.2} of every page once); the plugin's CPU {cpu:.2} s",
        used.requests, used.awx_s
    );
    println!("  AWX requests per path: {by_path:?}");
    kv.push(("cal_first_s".into(), format!("{first_scaled:.2}")));
    kv.push(("cal_complete_vs_limit".into(), f2(ratio)));
    kv.push(("cal_awx_vs_limit".into(), f2(awx_ratio)));
    kv.push(("cal_requests".into(), used.requests.to_string()));
    kv.push(("cal_awx_s".into(), format!("{:.1}", used.awx_s)));
    kv.push(("cal_limit_awx_s".into(), format!("{:.1}", limit.awx_s)));
    Ok(())
}

/// Waits until the cache directory holds at least `min_bytes` in files that stopped
/// growing (the writer thread committed the fill: before, the file holds only what redb
/// creates, and stays that size while the transaction is built).
async fn cache_written(dir: &std::path::Path, min_bytes: u64) -> Result<()> {
    let (mut last, mut stable) = (0, 0);
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let size: u64 = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        stable = if size >= min_bytes && size == last {
            stable + 1
        } else {
            0
        };
        if stable >= 3 {
            return Ok(());
        }
        last = size;
    }
    bail!("the cache in {} kept changing", dir.display())
}

/// A restart (a new plugin process on the same cache directory) and a saved setting (the
/// same data source, lastUpdated + 1) with the persistent cache, on AWX at its own speed:
/// AWX requests, modelled AWX seconds, the first and the last panel's answer.
async fn restart_section(
    args: &Args,
    panels: &[Panel],
    kv: &mut Vec<(String, String)>,
) -> Result<()> {
    let per_day = args.restart_per_day;
    println!(
        "\n== restart and saved setting with the persistent cache ({per_day} jobs a day, 30 days; AWX: --cost-model real-awx-24.6.1 --cost-scale 1 --workers {WORKERS})"
    );
    let port = e2e::procs::free_port()?;
    let dir = e2e::procs::TempDir::new("awx-bench-cache")?;
    let cache = dir.0.join("cache");
    let cache_env = cache.to_str().context("cache dir")?.to_string();
    let env = [("GF_PLUGIN_CACHE_DIR", cache_env.as_str())];
    let to = ms(SIM_NOW);
    let from = to - RANGE_MS;
    let jobs;
    {
        // The cache filled once, from a fast simulator of the same history.
        let fast = PortSim::start(port, per_day, &[]).await?;
        let mut b = spawn_plugin_env(&env).await?;
        let ds = datasource(&fast.url, json!({}), &[("token", ADMIN_TOKEN)]);
        let started = Instant::now();
        until_complete(&b.plugin, &ds, panels, from, to, Duration::from_secs(900)).await?;
        jobs = coverage_count_at(&fast.url, from).await?;
        // Each job takes 83 bytes on disk (`record::disk`).
        if let Err(e) = cache_written(&cache, jobs * 83).await {
            eprintln!("{}", b.plugin.stderr());
            return Err(e);
        }
        let rss = rss_bytes(b.pid)?;
        println!(
            "filled from a fast simulator in {:.1} s ({jobs} jobs in the range, plugin RSS {} MB), cache on disk {} MB",
            secs(started.elapsed()),
            rss >> 20,
            dir_size(&cache) >> 20
        );
        b.plugin.terminate()?;
    }
    let sim = PortSim::start(port, per_day, &calibrated_args(1.0)).await?;
    // The restart takes a few seconds: AWX moved on meanwhile.
    sim.advance(10).await?;
    let now = to + 10_000;
    let ds = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let b = spawn_plugin_env(&env).await?;
    let mut scenario = |name: &str, (answers, exact): (Vec<Answer>, f64), used: Usage| {
        let first = answers.iter().map(|a| a.at).fold(f64::MAX, f64::min);
        let last = answers.iter().map(|a| a.at).fold(0.0, f64::max);
        let partial = answers.iter().filter(|a| a.partial).count();
        let behind = answers.iter().filter(|a| a.behind).count();
        println!(
            "{name}: first answer {:.0} ms, every panel {:.0} ms, {partial} partial, {behind} from the disk copy (every panel exact at {:.0} ms); AWX {} requests, {:.2} s of AWX time (target: <= 2 requests, first answer < 1 s)",
            first * 1e3,
            last * 1e3,
            exact * 1e3,
            used.requests,
            used.awx_s
        );
        kv.push((format!("{name}_requests"), used.requests.to_string()));
        kv.push((format!("{name}_first_ms"), format!("{:.0}", first * 1e3)));
        kv.push((format!("{name}_all_ms"), format!("{:.0}", last * 1e3)));
        kv.push((format!("{name}_exact_ms"), format!("{:.0}", exact * 1e3)));
        kv.push((format!("{name}_awx_s"), format!("{:.2}", used.awx_s)));
    };
    let u0 = usage(&sim.url).await?;
    let p0 = requests_by_path_at(&sim.url).await?;
    let answers = until_exact(&b.plugin, &ds, panels, now - RANGE_MS, now).await?;
    let used = usage(&sim.url).await? - u0;
    println!(
        "  AWX requests per path: {:?}",
        path_delta(&p0, requests_by_path_at(&sim.url).await?)
    );
    scenario("restart", answers, used);

    // A saved setting: Grafana bumps lastUpdated, the plugin builds a new instance.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    sim.advance(10).await?;
    let now = now + 10_000;
    let mut saved = ds.clone();
    saved.last_updated_ms += 1;
    let u0 = usage(&sim.url).await?;
    let p0 = requests_by_path_at(&sim.url).await?;
    let answers = until_exact(&b.plugin, &saved, panels, now - RANGE_MS, now).await?;
    let used = usage(&sim.url).await? - u0;
    println!(
        "  AWX requests per path: {:?}",
        path_delta(&p0, requests_by_path_at(&sim.url).await?)
    );
    scenario("save", answers, used);
    kv.push(("restart_jobs".into(), jobs.to_string()));
    Ok(())
}

/// The dashboard's first run after a restart, then runs again until no panel is answered
/// from the disk copy: the first run's answers, and when every panel was exact.
async fn until_exact(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    panels: &[Panel],
    from_ms: i64,
    to_ms: i64,
) -> Result<(Vec<Answer>, f64)> {
    let started = Instant::now();
    let first = run_dashboard_timed(plugin, ds, panels, from_ms, to_ms, started).await?;
    let mut answers = &first;
    let mut again;
    while answers.iter().any(|a| a.behind) {
        if started.elapsed() > Duration::from_secs(120) {
            bail!("still answered from the disk copy after 120 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        again = run_dashboard_timed(plugin, ds, panels, from_ms, to_ms, started).await?;
        answers = &again;
    }
    let exact = answers.iter().map(|a| a.at).fold(0.0, f64::max);
    Ok((first, exact))
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

async fn coverage_count_at(url: &str, from_ms: i64) -> Result<u64> {
    let first_bucket = from_ms.div_euclid(INTERVAL_MS) * INTERVAL_MS;
    let u = format!(
        "{url}/api/v2/unified_jobs/?{}",
        coverage_query(first_bucket).replace("page_size=200", "page_size=1")
    );
    let head: PageHead = serde_json::from_slice(&get_page(&awx_http(), &u).await?)?;
    head.count.context("count")
}

/// Where the restart scenario's simulators log: `AWX_BENCH_SIM_LOG=FILE` appends their
/// stderr there (with `RUST_LOG=awx_sim=debug`, every request they served), to find out
/// which requests a restart costs.
fn sim_log() -> std::process::Stdio {
    std::env::var_os("AWX_BENCH_SIM_LOG")
        .and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        })
        .map_or_else(std::process::Stdio::null, std::process::Stdio::from)
}

fn ensure_bin_dir() {
    if std::env::var_os("AWX_E2E_BIN_DIR").is_none() {
        // Beside this binary (target/release), as scripts/bench.sh builds them.
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
        {
            std::env::set_var("AWX_E2E_BIN_DIR", dir);
        }
    }
}

fn f2(x: f64) -> String {
    format!("{x:.2}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    ensure_bin_dir();
    let args = Args::parse()?;
    let panels = overview_panels()?;
    let mut kv: Vec<(String, String)> = Vec::new();
    println!("awx-bench: AWX simulator with --workers {WORKERS} --latency-ms {LATENCY_MS}; plugin and simulator from {}", e2e::procs::bin_dir().display());
    println!(
        "dashboard: {} job-record panels of dashboards/awx-overview.json, 30 days, interval 1h, variables All",
        panels.len()
    );
    for p in &panels {
        println!(
            "  - {} ({})",
            p.title,
            p.query["queryType"].as_str().unwrap_or("")
        );
    }

    // Frames first (no processes running).
    let (enc_table, table_size) = encode_us(&jobs_table(10_000), 30)?;
    let (enc_series, series_size) = encode_us(&series(1_000), 200)?;
    println!("\n== frames");
    println!("encode 10,000-row jobs table: {enc_table:.0} µs ({table_size} bytes)");
    println!(
        "encode 1,000-bucket series (time + 4 fields): {enc_series:.0} µs ({series_size} bytes)"
    );

    if !args.skip_cold {
        cold_section(&args, &panels, &mut kv).await?;
    }

    if !args.skip_calibrated {
        calibrated_overview(&args, &panels, &mut kv).await?;
        restart_section(&args, &panels, &mut kv).await?;
    }

    // Warm at 10k, 100k, 1M.
    if !args.scales.is_empty() {
        println!("\n== warm refresh (30 s of new jobs, > 2 s after the last sync)");
    }
    let mut warm_max_requests = 0;
    let mut warm_medians = Vec::new();
    let mut bytes_per_job = f64::NAN;
    let mut bytes_scale = "";
    for &(name, per_day) in &args.scales {
        let (w, jobs, bpj, cold_s) = at_scale(per_day, &panels, args.warm_runs).await?;
        let med = median(&w.wall_ms);
        let maxr = w.requests.iter().copied().max().unwrap_or(0);
        warm_max_requests = warm_max_requests.max(maxr);
        warm_medians.push(med);
        println!(
            "{name}: {jobs} jobs cached (cold fill {cold_s:.2} s, {bpj:.0} bytes/job RSS); warm median {med:.1} ms (runs {:?}), AWX requests per refresh {:?}",
            w.wall_ms.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>(),
            w.requests
        );
        kv.push((format!("warm_{name}_ms"), format!("{med:.1}")));
        // The largest size run.
        bytes_per_job = bpj;
        bytes_scale = name;
    }
    if !args.scales.is_empty() {
        kv.insert(0, ("warm_requests".into(), warm_max_requests.to_string()));
        let warm_worst = warm_medians.iter().copied().fold(0.0, f64::max);
        kv.insert(1, ("warm_median_ms".into(), format!("{warm_worst:.1}")));
        println!(
            "memory: {bytes_per_job:.0} bytes per cached job ({bytes_scale}; target <= 128 at 1m)"
        );
        kv.push(("bytes_per_job".into(), format!("{bytes_per_job:.0}")));
    }

    if let Some(per_day) = args.hosts_per_day {
        let h = hosts::host_cost(per_day, 3).await?;
        h.print();
        kv.extend(h.bench_keys());
    }

    if !args.skip_prom {
        println!("\n== Prometheus path (capacity and active_jobs, source prometheus)");
        match prometheus_bench(args.prom_iterations).await {
            Ok(p) => {
                for (k, w) in p.windows.iter().enumerate() {
                    // The two panels' times: the sums of their medians.
                    let plugin: f64 = w.per_type.iter().map(|(_, p, _)| p).sum();
                    let direct: f64 = w.per_type.iter().map(|(_, _, d)| d).sum();
                    let ratio = plugin / direct;
                    println!(
                        "{}: plugin {plugin:.2} ms, Prometheus directly {direct:.2} ms (both panels, sums of medians): ratio {ratio:.2}{}",
                        w.name,
                        if k == 0 { " (target <= 1.2)" } else { "" }
                    );
                    println!(
                        "  the plugin's CPU for both panels: {:.2} ms (it adds {:.2} ms)",
                        w.plugin_cpu_ms,
                        plugin - direct
                    );
                    for (t, pm, dm) in &w.per_type {
                        let bytes = w
                            .frame_bytes
                            .iter()
                            .find(|(x, _)| x == t)
                            .map_or(0, |(_, b)| *b);
                        let parse = w
                            .parse_ms
                            .iter()
                            .find(|(x, _)| x == t)
                            .map_or(f64::NAN, |(_, p)| *p);
                        println!(
                            "  {t}: plugin {pm:.2} ms, directly {dm:.2} ms (+{:.2} ms, of which parsing the answers {parse:.2} ms); frames {bytes} bytes",
                            pm - dm
                        );
                    }
                    let key = w.key;
                    kv.push((format!("{key}_plugin_ms"), f2(plugin)));
                    kv.push((format!("{key}_direct_ms"), f2(direct)));
                    kv.push((format!("{key}_ratio"), f2(ratio)));
                    kv.push((format!("{key}_plugin_cpu_ms"), f2(w.plugin_cpu_ms)));
                }
                println!(
                    "fixed costs: a query answered without any request {:.3} ms; PromQL `1` through the plugin {:.3} ms, directly {:.3} ms",
                    p.floor_ms, p.one_request.0, p.one_request.1
                );
                kv.push(("plugin_floor_ms".into(), format!("{:.3}", p.floor_ms)));
            }
            Err(e) => {
                println!("skipped: {e:#}");
                kv.push(("prom_ratio".into(), "NA".into()));
            }
        }
    }
    kv.push(("encode_10k_us".into(), format!("{enc_table:.0}")));
    kv.push(("encode_1k_series_us".into(), format!("{enc_series:.0}")));

    // Order: the headline ratios first.
    let order = [
        "cold_vs_limit",
        "requests_vs_pages",
        "cold_vs_baseline",
        "baseline_requests_ratio",
        "warm_requests",
        "warm_median_ms",
        "bytes_per_job",
        "prom_ratio",
        "encode_10k_us",
        "encode_1k_series_us",
        "cal_first_s",
        "cal_complete_vs_limit",
        "cal_awx_vs_limit",
        "restart_requests",
        "restart_first_ms",
        "save_requests",
        "save_first_ms",
    ];
    let mut line: Vec<String> = Vec::new();
    for k in order {
        if let Some((_, v)) = kv.iter().find(|(key, _)| key == k) {
            line.push(format!("{k}={v}"));
        }
    }
    for (k, v) in &kv {
        if !order.contains(&k.as_str()) {
            line.push(format!("{k}={v}"));
        }
    }
    println!("\nBENCH {}", line.join(" "));
    Ok(())
}
