//! The persistent job cache (`cache_dir` in grafana.ini, `GF_PLUGIN_CACHE_DIR` for the
//! plugin): a restart and a saved setting cost a warm refresh (two AWX requests), not a
//! cold fill; a `kill -9` in the middle of a write never corrupts it; answers equal an
//! uncached source's; the files are readable by their owner only.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use e2e::procs::{bin_dir, TempDir};
use e2e::{datasource, ms, query, request, Plugin, Sim, ADMIN_TOKEN, SIM_NOW};
use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;

async fn answer(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    q: &Value,
) -> Vec<e2e::DecodedField> {
    let now = ms(SIM_NOW);
    let resp = plugin
        .data()
        .query_data(request(
            ds,
            // From before the simulator's history (3 days): the answer says so, which
            // needs AWX's oldest job; a restart must not ask AWX for it once per panel.
            vec![query("A", q.clone(), now - 4 * 24 * HOUR, now, HOUR)],
        ))
        .await
        .unwrap()
        .into_inner();
    let r = &resp.responses["A"];
    assert!(r.error.is_empty(), "{q}: {}", r.error);
    e2e::decode(&r.frames[0]).unwrap().fields
}

async fn api_requests(sim: &Sim) -> u64 {
    sim.stats().await.unwrap()["requests_total"]
        .as_u64()
        .unwrap()
}

/// A restarted plugin read its cache from disk and cost AWX a warm refresh at most.
fn assert_warm_restart(plugin: &Plugin, awx_requests: u64) {
    assert!(
        awx_requests <= 2,
        "a restart cost {awx_requests} AWX requests"
    );
    assert!(
        plugin.stderr().contains("job cache read from disk"),
        "{}",
        plugin.stderr()
    );
}

/// The cache directory inside a test's temporary directory: the plugin creates it.
fn cache_dir(dir: &TempDir) -> std::path::PathBuf {
    dir.0.join("cache")
}

async fn spawn(dir: &TempDir) -> Plugin {
    let dir = cache_dir(dir).to_str().unwrap().to_string();
    Plugin::spawn_binary(&bin_dir().join("gpx_awx"), &[("GF_PLUGIN_CACHE_DIR", &dir)])
        .await
        .unwrap()
}

/// Waits until the cache directory holds a database that stopped growing (the writer
/// thread wrote the fill).
async fn written(dir: &TempDir) {
    let mut last = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(entries) = std::fs::read_dir(cache_dir(dir)) else {
            continue;
        };
        let size: u64 = entries
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        if size > 0 && size == last {
            return;
        }
        last = size;
    }
    panic!("the cache file kept changing");
}

fn same(a: &[e2e::DecodedField], b: &[e2e::DecodedField], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: fields");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (&x.name, &x.labels, &x.values),
            (&y.name, &y.labels, &y.values),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_restart_and_a_saved_setting_cost_a_warm_refresh() {
    let sim = Sim::with_history(3, 2000).await.unwrap();
    let dir = TempDir::new("awx-persist").unwrap();
    let queries = [
        json!({"queryType": "job_throughput", "groupBy": "template"}),
        json!({"queryType": "templates"}),
        json!({"queryType": "job_status_counts"}),
    ];
    let uncached_plugin = Plugin::spawn().await.unwrap();
    let uncached = e2e::uncached_datasource(&sim.url);
    let mut want = Vec::new();
    for q in &queries {
        want.push(answer(&uncached_plugin, &uncached, q).await);
    }

    let ds = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let mut plugin = spawn(&dir).await;
    let before = api_requests(&sim).await;
    // A day first: the others then extend the cached range back (what AWX holds before
    // it, counted with the first range and kept on disk, must follow).
    let now = ms(SIM_NOW);
    let day = query("A", queries[0].clone(), now - 24 * HOUR, now, HOUR);
    let resp = plugin.data().query_data(request(&ds, vec![day])).await;
    assert!(resp.unwrap().into_inner().responses["A"].error.is_empty());
    for (q, w) in queries.iter().zip(&want) {
        same(&answer(&plugin, &ds, q).await, w, "cold");
    }
    let cold = api_requests(&sim).await - before;
    assert!(cold > 10, "a cold fill reads every page: {cold} requests");
    written(&dir).await;
    // Readable by Grafana's user only.
    let meta = std::fs::metadata(cache_dir(&dir)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let files: Vec<_> = std::fs::read_dir(cache_dir(&dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // No secret in the file's name.
    assert!(!files[0].to_string_lossy().contains(ADMIN_TOKEN));
    plugin.terminate().unwrap();

    // A restart: the table comes from disk; one refresh (two requests) brings it up to date.
    let plugin = spawn(&dir).await;
    let before = api_requests(&sim).await;
    let started = std::time::Instant::now();
    let first = answer(&plugin, &ds, &queries[0]).await;
    eprintln!("first answer after a restart in {:?}", started.elapsed());
    same(&first, &want[0], "after a restart");
    for (q, w) in queries.iter().zip(&want).skip(1) {
        same(&answer(&plugin, &ds, q).await, w, "after a restart");
    }
    let warm = api_requests(&sim).await - before;
    assert_warm_restart(&plugin, warm);

    // A saved setting (Grafana bumps lastUpdated): a new instance, the same file.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut saved = ds.clone();
    saved.last_updated_ms += 1;
    let before = api_requests(&sim).await;
    for (q, w) in queries.iter().zip(&want) {
        same(
            &answer(&plugin, &saved, q).await,
            w,
            "after a saved setting",
        );
    }
    let warm = api_requests(&sim).await - before;
    assert!(warm <= 2, "a saved setting cost {warm} AWX requests");
}

#[tokio::test]
async fn kill_9_in_the_middle_of_writes_never_corrupts_the_cache() {
    let sim = Sim::with_history(3, 3000).await.unwrap();
    let dir = TempDir::new("awx-persist-kill").unwrap();
    let ds = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let q = json!({"queryType": "job_duration", "groupBy": "template", "stats": ["mean", "p95", "count"]});
    let uncached_plugin = Plugin::spawn().await.unwrap();
    let want = answer(&uncached_plugin, &e2e::uncached_datasource(&sim.url), &q).await;
    // Kill the plugin at moments spread over its cold fill and its writes, while the
    // simulated AWX moves on (each kill finds a different mix of written and unwritten).
    for (round, wait_ms) in [150u64, 400, 700, 1000, 60].into_iter().enumerate() {
        let plugin = spawn(&dir).await;
        let pid = plugin.pid().to_string();
        let (_, _) = tokio::join!(
            async {
                let _ = plugin
                    .data()
                    .query_data(request(
                        &ds,
                        vec![query(
                            "A",
                            q.clone(),
                            ms(SIM_NOW) - 2 * 24 * HOUR,
                            ms(SIM_NOW),
                            HOUR,
                        )],
                    ))
                    .await;
            },
            async {
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                std::process::Command::new("kill")
                    .args(["-9", &pid])
                    .status()
                    .unwrap();
            }
        );
        eprintln!("round {round}: killed after {wait_ms} ms");
    }
    let plugin = spawn(&dir).await;
    same(&answer(&plugin, &ds, &q).await, &want, "after kill -9");
}

/// Every number of an answer, added up (a throughput's: the jobs finished in the range).
fn total(fields: &[e2e::DecodedField]) -> f64 {
    let values = fields.iter().flat_map(|f| &f.values);
    values.filter_map(|c| c.f64()).sum()
}

#[tokio::test]
async fn a_restart_on_a_slow_awx_answers_from_disk_at_once_and_alerts_wait_for_awx() {
    let sim = Sim::with_history(3, 1000).await.unwrap();
    let dir = TempDir::new("awx-persist-behind").unwrap();
    let ds = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let q = json!({"queryType": "job_throughput"});
    let mut plugin = spawn(&dir).await;
    let (_, before) = ask(&plugin, &ds, &q, false).await;
    let before = before.fields;
    written(&dir).await;
    plugin.terminate().unwrap();

    // While the plugin is down, AWX finishes 20 more jobs, and then answers slowly.
    sim.post(
        "/_sim/add_finished",
        json!({"count": 20, "spread_seconds": 600}),
    )
    .await
    .unwrap();
    let uncached_plugin = Plugin::spawn().await.unwrap();
    let uncached = e2e::uncached_datasource(&sim.url);
    let want = ask(&uncached_plugin, &uncached, &q, false).await.1.fields;
    assert_eq!(total(&want), total(&before) + 20.0, "the oracle moved");
    const LATENCY_MS: u64 = 3000;
    sim.post("/_sim/faults", json!({"latency_ms": LATENCY_MS}))
        .await
        .unwrap();

    let plugin = spawn(&dir).await;
    let started = std::time::Instant::now();
    let (dashboard, alert) = tokio::join!(ask(&plugin, &ds, &q, false), async {
        // An alert rule's query never takes the disk copy for AWX's answer.
        tokio::time::sleep(Duration::from_millis(50)).await;
        ask(&plugin, &ds, &q, true).await
    });
    let (at, dashboard) = dashboard;
    assert!(
        at < Duration::from_millis(LATENCY_MS),
        "the dashboard waited {at:?} for AWX"
    );
    assert!(started.elapsed() >= Duration::from_millis(LATENCY_MS));
    assert!(
        dashboard
            .notices()
            .iter()
            .any(|n| n.contains("job cache kept on disk")),
        "{:?}",
        dashboard.notices()
    );
    same(&dashboard.fields, &before, "from disk");
    let (_, alert) = alert;
    let from_disk = |f: &e2e::DecodedFrame| {
        f.notices()
            .iter()
            .any(|n| n.contains("job cache kept on disk"))
    };
    assert!(!from_disk(&alert), "{:?}", alert.notices());
    same(&alert.fields, &want, "an alert after a restart");

    // The refresh ended: dashboards are exact again.
    let (_, now) = ask(&plugin, &ds, &q, false).await;
    assert!(!from_disk(&now), "{:?}", now.notices());
    same(&now.fields, &want, "after the refresh");
}

/// A query as a dashboard or an alert rule sends it, and when its answer came.
async fn ask(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    q: &Value,
    alert: bool,
) -> (Duration, e2e::DecodedFrame) {
    let started = std::time::Instant::now();
    let now = ms(SIM_NOW);
    // To a minute after AWX's clock: the jobs it finishes now are in.
    let mut req = request(
        ds,
        vec![query(
            "A",
            q.clone(),
            now - 4 * 24 * HOUR,
            now + 60_000,
            HOUR,
        )],
    );
    if alert {
        req.headers.insert("FromAlert".into(), "true".into());
    }
    let resp = plugin.data().query_data(req).await.unwrap().into_inner();
    let r = &resp.responses["A"];
    assert!(r.error.is_empty(), "{q}: {}", r.error);
    (started.elapsed(), e2e::decode(&r.frames[0]).unwrap())
}

#[tokio::test]
async fn a_dashboards_panels_arriving_together_still_leave_their_cache_on_disk() {
    let sim = Sim::with_history(3, 1000).await.unwrap();
    let dir = TempDir::new("awx-persist-together").unwrap();
    let ds = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let q = json!({"queryType": "job_throughput", "groupBy": "template"});
    let mut plugin = spawn(&dir).await;
    // The panels' first queries build the data source's instance at the same moment; all
    // but one are dropped, and the one kept must be the one that writes the file.
    let panels = (0..12).map(|_| answer(&plugin, &ds, &q));
    let answers = futures::future::join_all(panels).await;
    written(&dir).await;
    plugin.terminate().unwrap();

    let plugin = spawn(&dir).await;
    let before = api_requests(&sim).await;
    same(
        &answer(&plugin, &ds, &q).await,
        &answers[0],
        "after a restart",
    );
    let warm = api_requests(&sim).await - before;
    assert_warm_restart(&plugin, warm);
}
