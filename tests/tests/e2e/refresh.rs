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
            // Notices carry totals (e.g. "the newest 50 of N jobs").
            assert_eq!(a.notices(), b.notices(), "step {step}, {q}: notices");
            e2e::frames::assert_same_fields(&a, &b, &format!("step {step}, {q}"));
        }
    }
}

/// The changes a real AWX sees besides its workload, each followed by every KPI on a
/// cached and an uncached source, which must agree (and the cached source must not sit
/// on what it held before the change):
/// - renames of a template, an organization, an inventory and a project (live joins in
///   AWX: no job's `modified` moves), also filtered by the new name;
/// - a job deleted in the middle of history;
/// - a running job whose final save commits late (its `modified` older than what a
///   `modified__gt` poll already served);
/// - purges of the oldest jobs;
/// - a long idle, then more new jobs than the cache holds.
#[tokio::test]
async fn the_cache_follows_renames_deletions_late_commits_purges_and_floods() {
    let sim = Sim::with_history(4, 300).await.unwrap();
    // Reconcile every second (grafana.ini's reconcile_seconds), so that the test need not
    // wait 5 minutes for a rename of an object without new jobs.
    let plugin = Plugin::spawn_binary(
        &e2e::procs::bin_dir().join("gpx_awx"),
        &[("GF_PLUGIN_RECONCILE_SECONDS", "1")],
    )
    .await
    .unwrap();
    // 1 MiB: about 8,000 jobs, more than the history, fewer than the flood below.
    let cached = datasource(
        &sim.url,
        json!({"jobCacheMB": 1}),
        &[("token", ADMIN_TOKEN)],
    );
    let uncached = e2e::uncached_datasource(&sim.url);
    let truth = sim.truth_jobs().await.unwrap();
    let busiest = |field: fn(&e2e::oracle::TruthJob) -> Option<String>| {
        let mut n: std::collections::BTreeMap<String, usize> = Default::default();
        for j in &truth {
            if let Some(v) = field(j) {
                *n.entry(v).or_default() += 1;
            }
        }
        n.into_iter().max_by_key(|(_, c)| *c).unwrap().0
    };
    let template = busiest(|j| j.template_name.clone().filter(|_| j.job_type == "job"));
    let organization = busiest(|j| j.organization.clone());
    let inventory = busiest(|j| j.inventory.clone());
    let project = busiest(|j| j.project.clone());

    let now = ms(SIM_NOW);
    let compare = |step: &'static str, extra: Vec<Value>| {
        let plugin = &plugin;
        let (cached, uncached) = (&cached, &uncached);
        async move {
            let mut queries = vec![
                json!({"queryType": "job_status_counts"}),
                json!({"queryType": "job_throughput", "groupBy": "template"}),
                json!({"queryType": "failure_rate", "groupBy": "organization"}),
                json!({"queryType": "job_duration", "groupBy": "project", "stats": ["mean", "p95", "count"]}),
                json!({"queryType": "queue_wait", "groupBy": "inventory", "stats": ["max"]}),
                json!({"queryType": "active_jobs", "source": "api"}),
                json!({"queryType": "templates"}),
                json!({"queryType": "jobs", "limit": 300}),
                json!({"queryType": "annotations"}),
            ];
            queries.extend(extra);
            // Past the cache's freshness window: this refresh syncs (and reconciles).
            tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
            let (from, to) = (now - 3 * 86_400_000, now + 3_600_000);
            for q in &queries {
                let a = frame(plugin, cached, q, from, to, 3_600_000).await;
                let b = frame(plugin, uncached, q, from, to, 3_600_000).await;
                assert!(b.rows() > 0, "{step}, {q}: the uncached source found jobs");
                assert_eq!(a.notices(), b.notices(), "{step}, {q}: notices");
                e2e::frames::assert_same_fields(&a, &b, &format!("{step}, {q}"));
            }
        }
    };
    compare("before any change", vec![]).await;

    for (kind, old) in [
        ("template", &template),
        ("organization", &organization),
        ("inventory", &inventory),
        ("project", &project),
    ] {
        sim.post(
            "/_sim/rename",
            json!({"kind": kind, "name": old, "new_name": format!("{old} (renamed)")}),
        )
        .await
        .unwrap();
    }
    let renamed = |s: &str| format!("{s} (renamed)");
    compare(
        "after renames",
        vec![
            json!({"queryType": "job_throughput", "filters": {"template": [renamed(&template)]}}),
            json!({"queryType": "jobs", "filters": {"organization": [renamed(&organization)]}, "limit": 50}),
            json!({"queryType": "templates", "filters": {"project": [renamed(&project)]}}),
        ],
    )
    .await;
    // The cached source shows the new names (not only agrees with the uncached one).
    let t = frame(
        &plugin,
        &cached,
        &json!({"queryType": "job_throughput", "groupBy": "template"}),
        now - 3 * 86_400_000,
        now,
        3_600_000,
    )
    .await;
    let groups: Vec<&str> = t
        .fields
        .iter()
        .filter_map(|f| f.labels.get("template").map(String::as_str))
        .collect();
    assert!(groups.contains(&renamed(&template).as_str()), "{groups:?}");
    assert!(!groups.contains(&template.as_str()), "{groups:?}");

    let middle = truth
        .iter()
        .filter(|j| j.finished.is_some())
        .nth(truth.len() / 2)
        .unwrap()
        .id;
    sim.delete(&format!("/_sim/jobs/{middle}")).await.unwrap();
    compare("after a deletion in the middle", vec![]).await;

    // The cached source polls after five minutes of work, then a running job's final
    // save commits 90 s late: older than the newest `modified` already served, beyond the
    // overlap a poll re-reads, so only the reconcile's re-read of open jobs finds it.
    // (The compared range reaches an hour past the start, so it holds these minutes.)
    sim.post("/_sim/advance?seconds=300", json!({}))
        .await
        .unwrap();
    compare("after five minutes", vec![]).await;
    sim.post(
        "/_sim/late_commit",
        json!({"lag_seconds": 90, "status": "failed"}),
    )
    .await
    .unwrap();
    compare("after a late commit", vec![]).await;

    sim.post("/_sim/purge", json!({"oldest": 200}))
        .await
        .unwrap();
    compare("after a purge", vec![]).await;

    sim.post("/_sim/advance?seconds=7200", json!({}))
        .await
        .unwrap();
    sim.post(
        "/_sim/add_finished",
        json!({"count": 12000, "spread_seconds": 3600}),
    )
    .await
    .unwrap();
    // The clock moved 300 s before the late commit, and two hours now.
    let now = now + 300_000 + 7_200_000;
    let (from, to) = (now - 2 * 3_600_000, now + 60_000);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    for q in [
        json!({"queryType": "job_status_counts"}),
        json!({"queryType": "job_throughput"}),
    ] {
        let a = frame(&plugin, &cached, &q, from, to, 600_000).await;
        let b = frame(&plugin, &uncached, &q, from, to, 600_000).await;
        e2e::frames::assert_same_fields(&a, &b, &format!("after a flood, {q}"));
        let total: f64 = b
            .fields
            .iter()
            .skip(1)
            .flat_map(|f| f.values.iter().filter_map(|c| c.f64()))
            .sum();
        assert!(
            total >= 12_000.0,
            "after a flood, {q}: {total} jobs counted"
        );
    }
}

#[tokio::test]
async fn the_first_refresh_after_a_fill_on_a_quiet_awx_reads_only_what_changed() {
    // Nothing open and nothing finished in the last 10 minutes: the fill's list of recent
    // jobs is empty, and the first refresh must still ask only for what changed since the
    // jobs it read, not for every job AWX ever changed.
    let sim = Sim::with_history(3, 20).await.unwrap();
    let now = ms(SIM_NOW);
    let recent = sim
        .api_json("/api/v2/unified_jobs/?or__finished__gte=2026-11-20T11:50:00Z&or__finished__isnull=true&page_size=1")
        .await
        .unwrap();
    assert_eq!(recent["count"], 0, "a quiet AWX");
    let plugin = Plugin::spawn().await.unwrap();
    let cached = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let uncached = e2e::uncached_datasource(&sim.url);
    let q = json!({"queryType": "job_throughput", "groupBy": "template"});
    let (from, to) = (now - 2 * 24 * 3_600_000, now);
    frame(&plugin, &cached, &q, from, to, 3_600_000).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let before = sim.stats().await.unwrap()["requests_total"]
        .as_u64()
        .unwrap();
    let a = frame(&plugin, &cached, &q, from, to, 3_600_000).await;
    let requests = sim.stats().await.unwrap()["requests_total"]
        .as_u64()
        .unwrap()
        - before;
    assert!(
        requests <= 2,
        "the first refresh cost {requests} AWX requests"
    );
    assert!(
        a.executed_query().contains("modified__gt=2026-11-"),
        "{}",
        a.executed_query()
    );
    let b = frame(&plugin, &uncached, &q, from, to, 3_600_000).await;
    e2e::frames::assert_same_fields(&a, &b, "after the first refresh");
}
