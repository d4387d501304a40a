//! Warm refreshes: a data source whose job-record cache is kept warm (incremental syncs,
//! KPIs that reuse their per-bucket work) answers exactly what a data source without the
//! cache answers, refresh after refresh, while AWX's clock moves: new jobs, jobs that
//! start and finish, jobs purged at the old end (the simulator keeps --days of history).

use e2e::frames::DecodedFrame;
use e2e::{datasource, ms, query, request, Plugin, Sim, ADMIN_TOKEN, SIM_NOW};
use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use serde_json::{json, Value};

async fn frame(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    q: &Value,
    from: i64,
    to: i64,
    interval: i64,
) -> DecodedFrame {
    let resp = plugin
        .data()
        .query_data(request(ds, vec![query("A", q.clone(), from, to, interval)]))
        .await
        .unwrap()
        .into_inner();
    let r = &resp.responses["A"];
    assert!(r.error.is_empty(), "{q}: {}", r.error);
    e2e::decode(&r.frames[0]).unwrap()
}

#[tokio::test]
async fn warm_refreshes_answer_what_an_uncached_source_answers() {
    let sim = Sim::with_history(3, 1500).await.unwrap();
    let plugin = Plugin::spawn().await.unwrap();
    let warm = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let uncached = e2e::uncached_datasource(&sim.url);
    let queries = [
        json!({"queryType": "job_status_counts"}),
        json!({"queryType": "job_throughput"}),
        json!({"queryType": "job_throughput", "groupBy": "template"}),
        json!({"queryType": "failure_rate"}),
        json!({"queryType": "failure_rate", "groupBy": "executionNode"}),
        json!({"queryType": "job_duration", "stats": ["mean", "p50", "p95", "max", "count"]}),
        json!({"queryType": "job_duration", "groupBy": "template", "stats": ["p95"]}),
        json!({"queryType": "queue_wait", "groupBy": "status"}),
        json!({"queryType": "queue_wait", "filters": {"jobType": ["job"]}, "includeSyncs": true}),
        json!({"queryType": "active_jobs", "source": "api"}),
        json!({"queryType": "templates"}),
        json!({"queryType": "jobs", "limit": 50}),
    ];
    // Advances of a minute, an hour and 30 s: jobs start, finish, appear and are purged.
    let mut now = ms(SIM_NOW);
    for (step, advance_s) in [0, 60, 3600, 30, 30, 7200, 30].into_iter().enumerate() {
        if advance_s > 0 {
            sim.post(&format!("/_sim/advance?seconds={advance_s}"), json!({}))
                .await
                .unwrap();
            now += advance_s * 1000;
        }
        // Past the cache's freshness window: this refresh syncs.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        // Two days, starting inside a bucket (as Grafana's now-2d does).
        let (from, to) = (now - 2 * 86_400_000 + 1_234, now);
        for q in &queries {
            let interval = 3_600_000;
            let a = frame(&plugin, &warm, q, from, to, interval).await;
            let b = frame(&plugin, &uncached, q, from, to, interval).await;
            assert_eq!(a.fields.len(), b.fields.len(), "step {step}, {q}: fields");
            // Notices carry totals (e.g. "the newest 50 of N jobs").
            assert_eq!(a.notices(), b.notices(), "step {step}, {q}: notices");
            for (x, y) in a.fields.iter().zip(&b.fields) {
                assert_eq!(
                    (&x.name, &x.labels),
                    (&y.name, &y.labels),
                    "step {step}, {q}"
                );
                assert_eq!(
                    x.values, y.values,
                    "step {step}, {q}: field {} {:?} differs between the warm cache and no cache",
                    x.name, x.labels
                );
            }
        }
    }
}
