//! Load: 50 concurrent clients refreshing dashboard panels (throughput, failure rate,
//! durations per template, the jobs table, status counts) against one plugin process and
//! one data source for `AWX_LOAD_SECONDS` (default 60). No query may fail; p50/p99
//! latencies and the plugin's RSS are printed; RSS must not grow by more than 20 %
//! between the first and the last window (20 s each, or a third of a shorter run) after a
//! warm-up. Run with `--nocapture` to see the figures.

use std::time::{Duration, Instant};

use e2e::{datasource, ms, query, request, Plugin, Sim, SimOptions, ADMIN_TOKEN, SIM_NOW};
use serde_json::{json, Value};

use crate::faults::{outcomes, DAY, HOUR};

const CLIENTS: usize = 50;

fn panels(now: i64) -> Vec<(&'static str, Value, i64, i64, i64)> {
    vec![
        (
            "job_throughput",
            json!({"queryType": "job_throughput"}),
            now - 7 * DAY,
            now,
            HOUR,
        ),
        (
            "failure_rate",
            json!({"queryType": "failure_rate"}),
            now - 7 * DAY,
            now,
            HOUR,
        ),
        (
            "job_duration by template",
            json!({"queryType": "job_duration", "groupBy": "template"}),
            now - 7 * DAY,
            now,
            6 * HOUR,
        ),
        (
            "jobs table",
            json!({"queryType": "jobs", "limit": 100}),
            now - DAY,
            now,
            HOUR,
        ),
        (
            "job_status_counts",
            json!({"queryType": "job_status_counts"}),
            now - DAY,
            now,
            HOUR,
        ),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[derive(Default)]
struct ClientLog {
    /// (panel index, latency, error if any)
    samples: Vec<(usize, Duration, Option<String>)>,
}

async fn client(
    plugin_data: grafana_plugin_sdk::pluginv2::data_client::DataClient<tonic::transport::Channel>,
    ds: grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
    now: i64,
    id: usize,
    until: Instant,
) -> ClientLog {
    let mut data = plugin_data;
    let panels = panels(now);
    let mut log = ClientLog::default();
    let mut n = id;
    while Instant::now() < until {
        let i = n % panels.len();
        n += 1;
        let (_, q, from, to, w) = &panels[i];
        let started = Instant::now();
        let resp = data
            .query_data(request(&ds, vec![query("A", q.clone(), *from, *to, *w)]))
            .await;
        let took = started.elapsed();
        let error = match resp {
            Err(e) => Some(format!("gRPC: {e}")),
            Ok(r) => {
                let r = r.into_inner();
                match r.responses.get("A") {
                    Some(a) if a.error.is_empty() && !a.frames.is_empty() => None,
                    Some(a) => Some(a.error.clone()),
                    None => Some("no response".into()),
                }
            }
        };
        log.samples.push((i, took, error));
    }
    log
}

/// Runs the clients until `until`, sampling the plugin's RSS every second meanwhile.
async fn run_load(
    plugin: &Plugin,
    ds: &grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
    now: i64,
    until: Instant,
) -> (Vec<ClientLog>, Vec<(Duration, u64)>) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|id| tokio::spawn(client(plugin.data(), ds.clone(), now, id, until)))
        .collect();
    let mut rss = Vec::new();
    while Instant::now() < until {
        if let Some(kib) = plugin.rss_kib() {
            rss.push((started.elapsed(), kib));
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let mut logs = Vec::new();
    for t in tasks {
        logs.push(t.await.expect("client task"));
    }
    (logs, rss)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_refreshing_dashboards() {
    let seconds: u64 = std::env::var("AWX_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
        .max(3);
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let mut plugin = Plugin::spawn().await.unwrap();
    let now = ms(SIM_NOW);
    let ds = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);

    // Warm-up: every panel once, then a few seconds of the same load, not measured.
    let warm = (seconds / 6).clamp(1, 5);
    let (logs, _) = run_load(
        &plugin,
        &ds,
        now,
        Instant::now() + Duration::from_secs(warm),
    )
    .await;
    let warm_errors: Vec<_> = logs
        .iter()
        .flat_map(|l| l.samples.iter().filter_map(|s| s.2.clone()))
        .collect();
    assert!(
        warm_errors.is_empty(),
        "errors while warming up: {warm_errors:?}"
    );

    let started = Instant::now();
    let (logs, rss) = run_load(&plugin, &ds, now, started + Duration::from_secs(seconds)).await;
    let elapsed = started.elapsed();
    assert!(plugin.is_running(), "the plugin died under load");

    let names: Vec<&str> = panels(now).iter().map(|p| p.0).collect();
    let mut all: Vec<Duration> = Vec::new();
    let mut per: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    let mut errors = Vec::new();
    for l in &logs {
        for (i, took, error) in &l.samples {
            all.push(*took);
            per[*i].push(*took);
            if let Some(e) = error {
                errors.push(format!("{}: {e}", names[*i]));
            }
        }
    }
    all.sort();
    let mut report = vec![format!(
        "load: {CLIENTS} clients, {:.1} s: {} queries ({:.0}/s), {} errors; latency p50 {:?}, p99 {:?}, max {:?}",
        elapsed.as_secs_f64(),
        all.len(),
        all.len() as f64 / elapsed.as_secs_f64(),
        errors.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or_default(),
    )];
    for (name, v) in names.iter().zip(per.iter_mut()) {
        v.sort();
        report.push(format!(
            "  {name}: {} queries, p50 {:?}, p99 {:?}",
            v.len(),
            percentile(v, 0.5),
            percentile(v, 0.99)
        ));
    }
    // RSS: the first and the last window of the measured run.
    let window = Duration::from_secs((seconds / 3).clamp(1, 20));
    let end = rss.last().map(|r| r.0).unwrap_or_default();
    let mean = |sel: Vec<u64>| sel.iter().sum::<u64>() as f64 / sel.len().max(1) as f64;
    let first = mean(rss.iter().filter(|r| r.0 < window).map(|r| r.1).collect());
    let last = mean(
        rss.iter()
            .filter(|r| r.0 + window > end)
            .map(|r| r.1)
            .collect(),
    );
    let peak = rss.iter().map(|r| r.1).max().unwrap_or_default();
    report.push(format!(
        "  RSS (VmRSS of pid {}): first {window:?} mean {:.1} MiB, last {window:?} mean {:.1} MiB, peak {:.1} MiB, growth {:+.1} %",
        plugin.pid(),
        first / 1024.0,
        last / 1024.0,
        peak as f64 / 1024.0,
        (last / first - 1.0) * 100.0
    ));
    eprintln!("{}", report.join("\n"));

    assert!(
        errors.is_empty(),
        "{} of {} queries failed under load, e.g. {:?}",
        errors.len(),
        all.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(all.len() >= CLIENTS, "every client got answers");
    assert!(rss.len() >= 2, "RSS sampled");
    assert!(
        last <= first * 1.2,
        "RSS grew from {first} KiB to {last} KiB (more than 20 %)"
    );

    // Under load the answers were the cache's: they still equal an uncached source's.
    let uncached = e2e::uncached_datasource(&sim.url);
    let qs: Vec<_> = panels(now)
        .into_iter()
        .enumerate()
        .map(|(i, (_, q, from, to, w))| query(&format!("p{i}"), q, from, to, w))
        .collect();
    let ids: Vec<String> = (0..qs.len()).map(|i| format!("p{i}")).collect();
    let mut got = Vec::new();
    for source in [&ds, &uncached] {
        let resp = plugin
            .data()
            .query_data(request(source, qs.clone()))
            .await
            .unwrap()
            .into_inner();
        got.push(outcomes(&resp, &ids));
    }
    for (i, (a, b)) in got[0].iter().zip(&got[1]).enumerate() {
        assert!(
            a.is_ok() && a == b,
            "{}: cached and uncached differ after the load",
            names[i]
        );
    }
}
