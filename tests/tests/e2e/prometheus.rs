//! The Prometheus source: a real Prometheus (Debian's package) scraping the simulator's
//! /api/v2/metrics/ with a bearer token; the plugin's answers compared with the
//! simulator's truth (the simulator is frozen, so every scrape sees the same state).

use std::collections::BTreeMap;
use std::time::Duration;

use e2e::frames::{Cell, DecodedFrame};
use e2e::oracle::assert_close;
use e2e::{datasource, query, request, Plugin, Prometheus, Sim, SimOptions, ADMIN_TOKEN};
use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use serde_json::{json, Value};

struct PromEnv {
    sim: Sim,
    prom: Prometheus,
    plugin: Plugin,
    ds: DataSourceInstanceSettings,
}

impl PromEnv {
    async fn new() -> Self {
        let sim = Sim::start(SimOptions::default()).await.unwrap();
        let prom = Prometheus::start(sim.url.trim_start_matches("http://"), ADMIN_TOKEN, "1s")
            .await
            .unwrap();
        let plugin = Plugin::spawn().await.unwrap();
        let ds = datasource(
            &sim.url,
            json!({"prometheusUrl": prom.url, "prometheusSelector": "job=\"awx\""}),
            &[("token", ADMIN_TOKEN)],
        );
        let env = PromEnv {
            sim,
            prom,
            plugin,
            ds,
        };
        env.wait_for_scrapes(3).await;
        env
    }

    async fn wait_for_scrapes(&self, n: u32) {
        let http = reqwest::Client::new();
        for _ in 0..200 {
            let v: Value = http
                .get(format!("{}/api/v1/query", self.prom.url))
                .query(&[("query", "count_over_time(awx_system_info[1m])")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let count = v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0);
            if count >= n as f64 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("Prometheus did not scrape the simulator {n} times");
    }

    async fn run(&self, q: Value) -> Result<DecodedFrame, String> {
        let now = chrono::Utc::now().timestamp_millis();
        let frames = e2e::frames_of(&self.plugin, &self.ds, q, now - 60_000, now, 1000).await?;
        let frame = frames.into_iter().next().expect("a frame");
        if frame.meta["type"].is_string() {
            e2e::frames::assert_alertable(&frame);
        }
        Ok(frame)
    }
}

fn last(frame: &DecodedFrame, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    frame
        .field_with_labels(name, labels)
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
        .values
        .iter()
        .rev()
        .find_map(Cell::f64)
}

#[tokio::test]
async fn prometheus_kpis_match_the_simulator() {
    let env = PromEnv::new().await;
    let truth = env.sim.truth_jobs().await.unwrap();
    let stored = |status: &str| {
        truth
            .iter()
            .filter(|j| j.launch_type != "sync" && j.status == status)
            .count() as f64
    };

    // job_status_counts from awx_status_total: jobs stored, per status, with the notice.
    let frame = env
        .run(json!({"queryType": "job_status_counts", "source": "prometheus"}))
        .await
        .unwrap();
    assert!(
        frame
            .executed_query()
            .contains("awx_status_total{job=\"awx\"}"),
        "{}",
        frame.executed_query()
    );
    assert!(
        frame.notices().iter().any(|n| n.contains("stored")),
        "{:?}",
        frame.notices()
    );
    let statuses: Vec<String> = frame
        .field("status")
        .unwrap()
        .values
        .iter()
        .map(|c| c.str().unwrap().into())
        .collect();
    let counts = &frame.field("count").unwrap().values;
    for (s, c) in statuses.iter().zip(counts) {
        let want = (s != "new").then(|| stored(s));
        assert_close(c.f64(), want, &format!("awx_status_total {s}"));
    }

    // active_jobs: pending, and running = running + waiting (AWX's definition).
    let frame = env.run(json!({"queryType": "active_jobs"})).await.unwrap();
    assert!(
        frame.executed_query().contains("awx_pending_jobs_total"),
        "auto picks Prometheus"
    );
    assert_close(
        last(&frame, "pending", &[]),
        Some(stored("pending")),
        "pending",
    );
    assert_close(
        last(&frame, "running", &[]),
        Some(stored("running") + stored("waiting")),
        "running",
    );

    // capacity per ready instance and in total.
    let instances: Vec<Value> = env.sim.get_json("/_sim/truth/instances").await.unwrap();
    let frame = env.run(json!({"queryType": "capacity"})).await.unwrap();
    assert_eq!(frame.meta["type"], "timeseries-wide");
    let mut total = (0.0, 0.0);
    for i in instances.iter().filter(|i| i["in_metrics"] == true) {
        let host = i["hostname"].as_str().unwrap();
        let cap = i["capacity"].as_f64().unwrap();
        let used = i["consumed_capacity"].as_f64().unwrap();
        assert_close(
            last(&frame, "capacity", &[("hostname", host)]),
            Some(cap),
            &format!("{host} capacity"),
        );
        assert_close(
            last(&frame, "consumed", &[("hostname", host)]),
            Some(used),
            &format!("{host} consumed"),
        );
        total.0 += cap;
        total.1 += used;
    }
    assert_close(
        last(&frame, "capacity", &[("hostname", "total")]),
        Some(total.0),
        "total capacity",
    );
    assert_close(
        last(&frame, "used", &[("hostname", "total")]),
        Some(total.1 / total.0 * 100.0),
        "used %",
    );
    let hidden: Vec<&str> = instances
        .iter()
        .filter(|i| i["in_metrics"] == false)
        .map(|i| i["hostname"].as_str().unwrap())
        .collect();
    for h in hidden {
        assert!(
            frame
                .field_with_labels("capacity", &[("hostname", h)])
                .is_none(),
            "{h} is not in AWX's metrics"
        );
    }

    // The executionNode filter picks instances by hostname.
    let one = instances.iter().find(|i| i["in_metrics"] == true).unwrap()["hostname"]
        .as_str()
        .unwrap();
    let frame = env
        .run(json!({"queryType": "capacity", "filters": {"executionNode": [one]}}))
        .await
        .unwrap();
    let hosts: std::collections::BTreeSet<&str> = frame
        .fields
        .iter()
        .filter_map(|f| f.labels.get("hostname").map(String::as_str))
        .collect();
    assert_eq!(hosts, [one, "total"].into_iter().collect());

    // system from the gauges.
    let frame = env
        .run(json!({"queryType": "system", "source": "prometheus"}))
        .await
        .unwrap();
    assert_eq!(
        frame.field("version").unwrap().values[0].str(),
        Some("24.6.1")
    );
    let orgs: BTreeMap<String, usize> =
        truth
            .iter()
            .filter_map(|j| j.organization.clone())
            .fold(BTreeMap::new(), |mut m, o| {
                *m.entry(o).or_default() += 1;
                m
            });
    assert!(
        frame.field("organizations").unwrap().values[0]
            .f64()
            .unwrap()
            >= orgs.len() as f64
    );

    // Raw PromQL: instant, with labels as columns.
    let frame = env
        .run(json!({"queryType": "promql", "expr": "sum by (status) (awx_status_total{job=\"awx\"})", "instant": true}))
        .await
        .unwrap();
    assert_eq!(frame.meta["type"], "numeric-long");
    let st = frame.field("status").unwrap();
    let val = frame.field("value").unwrap();
    for (s, v) in st.values.iter().zip(&val.values) {
        assert_close(v.f64(), Some(stored(s.str().unwrap())), "promql instant");
    }
    // Range, with the macros expanded and the legend as display name.
    let frame = env
        .run(json!({"queryType": "promql", "expr": "max_over_time(awx_pending_jobs_total{job=\"awx\"}[$__rate_interval])", "legendFormat": "pending on {{instance}}"}))
        .await
        .unwrap();
    assert!(
        frame.executed_query().contains("[60s]"),
        "{}",
        frame.executed_query()
    );
    let f = &frame.fields[1];
    assert!(f.config.as_ref().unwrap()["displayNameFromDS"]
        .as_str()
        .unwrap()
        .starts_with("pending on 127.0.0.1:"));
    assert_eq!(f.labels["job"], "awx");

    // The duplicated subsystem_metrics_* families (AWX bug #15179) do not break the scrape.
    let frame = env
        .run(json!({"queryType": "promql", "expr": "up{job=\"awx\"}", "instant": true}))
        .await
        .unwrap();
    assert_eq!(frame.field("value").unwrap().values[0].f64(), Some(1.0));
    let frame = env.run(json!({"queryType": "promql", "expr": "count(subsystem_metrics_pipe_execute_calls)", "instant": true})).await.unwrap();
    assert!(frame.field("value").unwrap().values[0].f64().unwrap() >= 1.0);

    // Bad PromQL: Prometheus's own message, with its position, for this query only.
    let err = env
        .run(json!({"queryType": "promql", "expr": "sum(awx_status_total"}))
        .await
        .unwrap_err();
    assert!(
        err.contains("bad_data") && err.contains("parse error"),
        "{err}"
    );

    // Filters that AWX's metrics cannot apply are refused, not ignored.
    let err = env
        .run(json!({"queryType": "job_status_counts", "source": "prometheus", "filters": {"template": ["x"]}}))
        .await
        .unwrap_err();
    assert!(err.contains("use source api"), "{err}");
}

#[tokio::test]
async fn prometheus_queries_without_prometheus_say_what_to_set() {
    let sim = Sim::with_history(1, 50).await.unwrap();
    let plugin = Plugin::spawn().await.unwrap();
    let ds = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let now = e2e::ms(e2e::SIM_NOW);
    let queries = vec![
        query(
            "prom",
            json!({"queryType": "promql", "expr": "up"}),
            now - 3_600_000,
            now,
            60_000,
        ),
        query(
            "cap",
            json!({"queryType": "capacity", "source": "prometheus"}),
            now - 3_600_000,
            now,
            60_000,
        ),
        query(
            "auto",
            json!({"queryType": "active_jobs"}),
            now - 3_600_000,
            now,
            60_000,
        ),
        query(
            "wrong",
            // job_duration has a Prometheus source now (awx-kpi export's metrics); the
            // templates table still has none.
            json!({"queryType": "templates", "source": "prometheus"}),
            now - 3_600_000,
            now,
            60_000,
        ),
    ];
    let resp = plugin
        .data()
        .query_data(request(&ds, queries))
        .await
        .unwrap()
        .into_inner();
    for id in ["prom", "cap"] {
        assert!(
            resp.responses[id].error.contains("Prometheus URL"),
            "{}",
            resp.responses[id].error
        );
    }
    let auto = &resp.responses["auto"];
    assert_eq!(auto.error, "", "auto falls back to the API");
    let frame = e2e::decode(&auto.frames[0]).unwrap();
    assert!(
        frame.executed_query().contains("unified_jobs"),
        "{}",
        frame.executed_query()
    );
    assert!(
        resp.responses["wrong"].error.contains("use source api"),
        "{}",
        resp.responses["wrong"].error
    );
}
