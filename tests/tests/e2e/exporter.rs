//! `awx-kpi export` end to end: a real Prometheus scrapes the simulator's metrics and the
//! exporter every second and remote-writes everything to a VictoriaMetrics (the query API
//! of its cluster version: the scale-out set-up of docs/EXPORTER.md). The simulator's
//! clock is frozen and moved in steps (`/_sim/advance`), so jobs start and finish during
//! the exporter's life and every state is held still long enough to be scraped. Each of
//! the setup guide's expressions is evaluated by both engines, through their HTTP API and
//! through the data source, at the exporter's last scrape, and compared with an oracle
//! computed from the simulator's ground truth (`/_sim/truth/jobs`, `/_sim/truth/instances`)
//! alone; then a purge (counters never fall) and an exporter restart (a counter reset that
//! rate() and increase() handle).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use e2e::frames::{Cell, DecodedFrame};
use e2e::oracle::{assert_close, is_final, TruthJob};
use e2e::procs::{free_port, Exporter, VictoriaMetrics};
use e2e::{datasource, query, request, Plugin, Prometheus, Sim, SimOptions, ADMIN_TOKEN, SIM_NOW};
use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use serde::Deserialize;
use serde_json::{json, Value};

type Labels = BTreeMap<String, String>;

/// Ground truth: the jobs the exporter counts, as labels.
fn job_labels(j: &TruthJob) -> Labels {
    let none = || "(none)".to_string();
    Labels::from([
        ("status".into(), j.status.clone()),
        (
            "job_template_name".into(),
            j.template_name.clone().unwrap_or_else(none),
        ),
        (
            "organization".into(),
            j.organization.clone().unwrap_or_else(none),
        ),
        ("job_type".into(), j.job_type.clone()),
        ("launch_type".into(), j.launch_type.clone()),
    ])
}

/// What one exporter life counted, from the truth before it started and every truth
/// seen during it (a purged job stays: counters never fall).
#[derive(Default)]
struct Life {
    before: HashMap<i64, TruthJob>,
    seen: BTreeMap<i64, TruthJob>,
}

impl Life {
    fn new(before: &[TruthJob]) -> Self {
        Life {
            before: before.iter().map(|j| (j.id, j.clone())).collect(),
            seen: BTreeMap::new(),
        }
    }

    fn observe(&mut self, truth: &[TruthJob]) {
        for j in truth {
            self.seen.insert(j.id, j.clone());
        }
    }

    /// Jobs that reached a final status during the life (implicit syncs left out).
    fn finished(&self) -> impl Iterator<Item = &TruthJob> {
        self.seen.values().filter(move |j| {
            j.launch_type != "sync"
                && is_final(&j.status)
                && self.before.get(&j.id).is_none_or(|b| !is_final(&b.status))
        })
    }

    /// Jobs that started during the life (implicit syncs left out).
    fn started(&self) -> impl Iterator<Item = &TruthJob> {
        self.seen.values().filter(move |j| {
            j.launch_type != "sync"
                && j.started.is_some()
                && self.before.get(&j.id).is_none_or(|b| b.started.is_none())
        })
    }

    /// awx_jobs_total per label set.
    fn counts(&self) -> BTreeMap<Labels, f64> {
        let mut out = BTreeMap::new();
        for j in self.finished() {
            *out.entry(job_labels(j)).or_insert(0.0) += 1.0;
        }
        out
    }
}

#[derive(Debug, Deserialize)]
struct TruthInstance {
    in_metrics: bool,
    capacity: f64,
    consumed_capacity: f64,
}

/// One answer of an engine's HTTP API: labels (without the target's) and value(s).
#[derive(Debug, Clone)]
struct Sample {
    labels: Labels,
    values: Vec<(f64, f64)>,
}

struct Engine {
    name: &'static str,
    url: String,
    http: reqwest::Client,
}

impl Engine {
    fn new(name: &'static str, url: &str) -> Self {
        Engine {
            name,
            url: url.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// An instant query at `time` (Unix seconds as the engine wrote them, or "now").
    async fn query(&self, expr: &str, time: &str) -> Vec<Sample> {
        let mut params = vec![("query", expr.to_string())];
        if time != "now" {
            params.push(("time", time.to_string()));
        }
        let v: Value = self
            .http
            .get(format!("{}/api/v1/query", self.url))
            .query(&params)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["status"], "success", "{}: {expr}: {v}", self.name);
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        result
            .iter()
            .map(|r| {
                let mut labels: Labels = serde_json::from_value(r["metric"].clone()).unwrap();
                for target in ["job", "instance", "__name__"] {
                    labels.remove(target);
                }
                let point = |p: &Value| {
                    (
                        p[0].as_f64().unwrap(),
                        p[1].as_str().unwrap().parse::<f64>().unwrap(),
                    )
                };
                let values = match r.get("values") {
                    Some(vs) => vs.as_array().unwrap().iter().map(point).collect(),
                    None => vec![point(&r["value"])],
                };
                Sample { labels, values }
            })
            .collect()
    }

    async fn scalar(&self, expr: &str, time: &str) -> Option<f64> {
        self.query(expr, time).await.first().map(|s| s.values[0].1)
    }

    /// The timestamp (as the engine writes it) of the exporter's last scrape.
    async fn last_exporter_scrape(&self) -> String {
        let v: Value = self
            .http
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", "timestamp(awx_exporter_start_time_seconds)")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Waits up to 30 s for `check` to hold, then fails with `what`.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match check().await {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

struct Stack {
    sim: Sim,
    prom: Prometheus,
    vm: VictoriaMetrics,
    plugin: Plugin,
    exporter: Exporter,
    listen: String,
}

impl Stack {
    async fn new() -> Self {
        let sim = Sim::start(SimOptions {
            days: 1,
            jobs_per_day: 8000,
            seed: 23,
            ..SimOptions::default()
        })
        .await
        .unwrap();
        let listen = format!("127.0.0.1:{}", free_port().unwrap());
        let exporter = start_exporter(&sim, &listen).await;
        let vm = VictoriaMetrics::start(&[]).await.unwrap();
        let config = format!(
            r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: awx
    metrics_path: /api/v2/metrics/
    authorization:
      type: Bearer
      credentials: {ADMIN_TOKEN}
    static_configs:
      - targets: ['{sim}']
  - job_name: awx-kpi
    static_configs:
      - targets: ['{listen}']
    relabel_configs:
      - target_label: job
        replacement: awx
remote_write:
  - url: {vm}/api/v1/write
    queue_config:
      batch_send_deadline: 200ms
      min_backoff: 50ms
"#,
            sim = sim.url.trim_start_matches("http://"),
            vm = vm.url,
        );
        let prom = Prometheus::start_with_yaml(&config).await.unwrap();
        let plugin = Plugin::spawn().await.unwrap();
        Stack {
            sim,
            prom,
            vm,
            plugin,
            exporter,
            listen,
        }
    }

    fn engines(&self) -> [Engine; 2] {
        [
            Engine::new("Prometheus", &self.prom.url),
            Engine::new("VictoriaMetrics", &self.vm.url),
        ]
    }

    fn datasource(&self, engine: &Engine) -> DataSourceInstanceSettings {
        datasource(
            &self.sim.url,
            json!({"prometheusUrl": engine.url, "prometheusSelector": "job=\"awx\""}),
            &[("token", ADMIN_TOKEN)],
        )
    }

    async fn advance(&self, seconds: u32) {
        self.sim
            .post(&format!("/_sim/advance?seconds={seconds}"), json!({}))
            .await
            .unwrap();
    }

    /// Waits until Prometheus's newest sample of every counter is the oracle's.
    async fn settle(&self, life: &Life) {
        let want = life.counts();
        let prom = Engine::new("Prometheus", &self.prom.url);
        eventually("the exporter's counters reach the oracle's", || async {
            let got: BTreeMap<Labels, f64> = prom
                .query("awx_jobs_total", "now")
                .await
                .into_iter()
                .map(|s| (s.labels, s.values[0].1))
                .filter(|(_, v)| *v > 0.0)
                .collect();
            if got == want {
                Ok(())
            } else {
                Err(format!("got {} series, want {}", got.len(), want.len()))
            }
        })
        .await;
    }

    /// A time at which both engines hold the exporter's last scrape, after the simulator's
    /// state was scraped too (it is frozen between steps).
    async fn evaluation_time(&self) -> String {
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let [prom, vm] = self.engines();
        let t = prom.last_exporter_scrape().await;
        assert!(!t.is_empty(), "Prometheus has scraped the exporter");
        // Remote write sends a scrape in several batches: wait until every series of the
        // exporter's counters and histograms has its sample at `t` in VictoriaMetrics.
        let last_at_t = |samples: Vec<Sample>| {
            let at_t = samples
                .iter()
                .filter(|s| {
                    s.values
                        .last()
                        .is_some_and(|v| (v.0 * 1000.0).round() as i64 == ms_of(&t))
                })
                .count();
            (samples.len(), at_t)
        };
        let selector =
            "{__name__=~\"awx_jobs_total|awx_job_elapsed_seconds_.*|awx_job_wait_seconds_.*\"}[5m]";
        // (After a restart, series of the first life that did not come back end earlier.)
        let (series, at_t) = last_at_t(prom.query(selector, &t).await);
        assert!(at_t > 0, "Prometheus: series scraped at {t}");
        eventually("VictoriaMetrics holds what Prometheus wrote", || async {
            let got = last_at_t(vm.query(selector, &t).await);
            if got == (series, at_t) {
                Ok(())
            } else {
                Err(format!("{got:?}, want ({series}, {at_t}) at {t}"))
            }
        })
        .await;
        t
    }

    /// An expression through the data source (`promql`, instant), as label sets.
    async fn through_plugin(
        &self,
        ds: &DataSourceInstanceSettings,
        expr: &str,
        at_ms: i64,
    ) -> BTreeMap<Labels, f64> {
        let frame = self
            .run(
                ds,
                json!({"queryType": "promql", "expr": expr, "instant": true}),
                at_ms - 60_000,
                at_ms,
                1000,
            )
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        let value = frame.field("value").expect("a value column");
        let mut out = BTreeMap::new();
        for row in 0..frame.rows() {
            let mut labels = Labels::new();
            for f in &frame.fields {
                if f.name != "value" && !["job", "instance", "__name__"].contains(&f.name.as_str())
                {
                    if let Some(s) = f.values[row].str() {
                        labels.insert(f.name.clone(), s.to_string());
                    }
                }
            }
            if let Some(v) = value.values[row].f64() {
                out.insert(labels, v);
            }
        }
        out
    }

    async fn run(
        &self,
        ds: &DataSourceInstanceSettings,
        q: Value,
        from_ms: i64,
        to_ms: i64,
        interval_ms: i64,
    ) -> Result<DecodedFrame, String> {
        let frames = e2e::frames_of(&self.plugin, ds, q, from_ms, to_ms, interval_ms).await?;
        Ok(frames.into_iter().next().expect("a frame"))
    }
}

async fn start_exporter(sim: &Sim, listen: &str) -> Exporter {
    // New series show 0 for 3 s (three scrapes): a scrape that times out on a loaded
    // machine does not lose a series' start.
    Exporter::start(&sim.url, ADMIN_TOKEN, listen, &["--new-series-hold", "3s"])
        .await
        .unwrap()
}

fn ms_of(t: &str) -> i64 {
    (t.parse::<f64>().unwrap() * 1000.0).round() as i64
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

fn assert_same(got: &BTreeMap<Labels, f64>, want: &BTreeMap<Labels, f64>, what: &str) {
    assert!(
        !want.is_empty(),
        "{what}: the oracle found nothing to compare"
    );
    let keys = |m: &BTreeMap<Labels, f64>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(got), keys(want), "{what}: the series");
    for (k, w) in want {
        assert!(close(got[k], *w), "{what} {k:?}: got {}, want {w}", got[k]);
    }
}

fn by_labels(samples: Vec<Sample>) -> BTreeMap<Labels, f64> {
    samples
        .into_iter()
        .map(|s| (s.labels, s.values[0].1))
        .collect()
}

/// Prometheus's histogram_quantile over cumulative bucket counts (its documented linear
/// interpolation; upper bound of the last finite bucket for the +Inf bucket).
fn bucket_quantile(q: f64, bounds: &[f64], values: &[f64]) -> Option<f64> {
    let mut buckets: Vec<(f64, f64)> = bounds
        .iter()
        .map(|b| (*b, values.iter().filter(|v| *v <= b).count() as f64))
        .collect();
    buckets.push((f64::INFINITY, values.len() as f64));
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    let rank = q * total;
    let b = buckets[..buckets.len() - 1]
        .iter()
        .position(|(_, c)| *c >= rank)
        .unwrap_or(buckets.len() - 1);
    if b == buckets.len() - 1 {
        return Some(buckets[b - 1].0);
    }
    let (start, below) = if b > 0 { buckets[b - 1] } else { (0.0, 0.0) };
    let (end, count) = buckets[b];
    Some(start + (end - start) * ((rank - below) / (count - below)))
}

const ELAPSED_BOUNDS: [f64; 15] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
    28800.0, 86400.0,
];

#[tokio::test]
async fn the_guides_expressions_on_prometheus_and_victoriametrics() {
    let started = Instant::now();
    let mut stack = Stack::new().await;
    let [prom, _] = stack.engines();
    let truth = stack.sim.truth_jobs().await.unwrap();
    let mut life = Life::new(&truth);
    eventually(
        "Prometheus scrapes the simulator and the exporter",
        || async {
            let up = prom.query("up", "now").await;
            if up.len() == 2 && up.iter().all(|s| s.values[0].1 == 1.0) {
                Ok(())
            } else {
                Err(format!("{up:?}"))
            }
        },
    )
    .await;

    // Jobs launch, run and end during the exporter's life.
    for _ in 0..4 {
        stack.advance(300).await;
        life.observe(&stack.sim.truth_jobs().await.unwrap());
        stack.settle(&life).await;
    }
    // AWX's cleanup_jobs purges every finished job: AWX's own gauge falls, the counters do not.
    let stored = "sum(awx_status_total{status=\"successful\"})";
    let before = prom.scalar(stored, "now").await.unwrap();
    stack
        .sim
        .post("/_sim/purge", json!({"older_than_days": 0}))
        .await
        .unwrap();
    eventually("AWX's awx_status_total falls after the purge", || async {
        match prom.scalar(stored, "now").await {
            Some(v) if v < before / 2.0 => Ok(()),
            other => Err(format!("{other:?} (before: {before})")),
        }
    })
    .await;
    for _ in 0..2 {
        stack.advance(300).await;
        life.observe(&stack.sim.truth_jobs().await.unwrap());
        stack.settle(&life).await;
    }
    let t1 = stack.evaluation_time().await;
    let t1_ms = ms_of(&t1);
    let counts = life.counts();
    let status_of = |s: &str| -> BTreeMap<Labels, f64> {
        counts
            .iter()
            .filter(|(k, _)| k["status"] == s)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    assert!(
        counts.values().sum::<f64>() > 50.0 && !status_of("failed").is_empty(),
        "the oracle needs jobs to judge: {counts:?}"
    );

    // The oracle of each expression.
    let now = stack.sim.truth_jobs().await.unwrap();
    let active = |states: &[&str]| {
        now.iter()
            .filter(|j| j.launch_type != "sync" && states.contains(&j.status.as_str()))
            .count() as f64
    };
    let instances: Vec<TruthInstance> = stack.sim.get_json("/_sim/truth/instances").await.unwrap();
    let shown = instances.iter().filter(|i| i.in_metrics);
    let (consumed, capacity) = shown.fold((0.0, 0.0), |(c, t), i| {
        (c + i.consumed_capacity, t + i.capacity)
    });
    let mut elapsed_sum: BTreeMap<Labels, f64> = BTreeMap::new();
    let mut elapsed_count: BTreeMap<Labels, f64> = BTreeMap::new();
    for j in life.finished().filter(|j| j.started.is_some()) {
        let k = Labels::from([(
            "job_template_name".into(),
            j.template_name.clone().unwrap_or_else(|| "(none)".into()),
        )]);
        *elapsed_sum.entry(k.clone()).or_default() += j.elapsed.unwrap();
        *elapsed_count.entry(k).or_default() += 1.0;
    }
    let average: BTreeMap<Labels, f64> = elapsed_sum
        .iter()
        .map(|(k, s)| (k.clone(), s / elapsed_count[k]))
        .collect();
    let scalar = |v: f64| BTreeMap::from([(Labels::new(), v)]);
    let running = scalar(active(&["running", "waiting"]));
    let pending = scalar(active(&["pending"]));
    let used = scalar(consumed / capacity * 100.0);
    assert!(consumed > 0.0 && running[&Labels::new()] > 0.0);

    for engine in stack.engines() {
        // rate(): Prometheus's extrapolation stops at a series' first sample when it is 0
        // (the exporter shows every new series at 0 first) and at the last sample (the
        // evaluation time), so it is the increase over the 5 minutes; VictoriaMetrics's
        // rate does not extrapolate: the increase over the span of the samples.
        let rate = |status: &str, raw: &[Sample]| -> BTreeMap<Labels, f64> {
            // In whole milliseconds: seconds since 1970 as floats lose the last digits.
            let first: HashMap<&Labels, i64> = raw
                .iter()
                .map(|s| (&s.labels, (s.values[0].0 * 1000.0).round() as i64))
                .collect();
            status_of(status)
                .into_iter()
                .map(|(k, n)| {
                    let span = match engine.name {
                        "Prometheus" => 300.0,
                        _ => (t1_ms - first[&k]) as f64 / 1000.0,
                    };
                    (k, n / span)
                })
                .collect()
        };
        let raw = engine.query("awx_jobs_total[5m]", &t1).await;
        for s in &raw {
            assert_eq!(
                s.values.first().map(|v| v.1),
                Some(0.0),
                "{}: {:?} starts at 0",
                engine.name,
                s.labels
            );
            assert!(
                s.values.windows(2).all(|w| w[0].1 <= w[1].1),
                "{}: {:?} never falls, the purge included: {:?}",
                engine.name,
                s.labels,
                s.values
            );
        }
        let expressions: Vec<(&str, BTreeMap<Labels, f64>)> = vec![
            ("awx_running_jobs", running.clone()),
            ("awx_pending_jobs", pending.clone()),
            (
                "rate(awx_jobs_total{status=\"successful\"}[5m])",
                rate("successful", &raw),
            ),
            (
                "rate(awx_jobs_total{status=\"failed\"}[5m])",
                rate("failed", &raw),
            ),
            (
                "sum by (job_template_name) (awx_job_elapsed_seconds_sum)",
                elapsed_sum.clone(),
            ),
            (
                "sum by (job_template_name) (awx_job_elapsed_seconds_count)",
                elapsed_count.clone(),
            ),
            (
                "(sum(awx_capacity) / sum(awx_instance_capacity)) * 100",
                used.clone(),
            ),
            // The duration panel divides the two: the average over the exporter's life.
            (
                "sum by (job_template_name) (awx_job_elapsed_seconds_sum) / sum by (job_template_name) (awx_job_elapsed_seconds_count)",
                average.clone(),
            ),
        ];
        let ds = stack.datasource(&engine);
        for (expr, want) in &expressions {
            let what = format!("{} {expr}", engine.name);
            let mut got = by_labels(engine.query(expr, &t1).await);
            if expr.starts_with("rate(") {
                // Series of the other statuses hold the labels too; an empty rate is 0 jobs.
                got.retain(|_, v| *v > 0.0);
            }
            assert_same(&got, want, &format!("{what} (HTTP API)"));
            let mut through = stack.through_plugin(&ds, expr, t1_ms).await;
            if expr.starts_with("rate(") {
                through.retain(|_, v| *v > 0.0);
            }
            assert_same(&through, want, &format!("{what} (data source)"));
        }
        // The guide's dashboard (dashboards/prometheus/): its panels are these expressions,
        // written as the guide writes them, on a Prometheus data source.
        let path = e2e::procs::workspace_dir().join("dashboards/prometheus/awx-exporter.json");
        let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut panels: Vec<&str> = Vec::new();
        for p in dash["panels"].as_array().unwrap() {
            assert_eq!(p["datasource"]["type"], "prometheus", "{}", p["title"]);
            for t in p["targets"].as_array().unwrap() {
                panels.push(t["expr"].as_str().unwrap());
            }
        }
        let guide: Vec<&str> = expressions.iter().map(|(e, _)| *e).collect();
        assert_eq!(
            panels,
            [guide[0], guide[1], guide[2], guide[3], guide[7], guide[6]],
            "the dashboard's panels"
        );
        let resets = by_labels(engine.query("resets(awx_jobs_total[5m])", &t1).await);
        assert!(
            resets.values().all(|r| *r == 0.0),
            "{}: {resets:?}",
            engine.name
        );

        job_kpis(&stack, &engine, &life, t1_ms).await;
    }

    restart(&mut stack, life).await;
    eprintln!("exporter e2e took {:?}", started.elapsed());
}

/// The job KPIs through the data source with source prometheus, over one bucket that ends
/// at the exporter's last scrape and starts before it started: the same frames as the
/// API's, with the oracle's values.
async fn job_kpis(stack: &Stack, engine: &Engine, life: &Life, t_ms: i64) {
    let ds = stack.datasource(engine);
    let from = t_ms - 300_000;
    // One bucket whatever the clock: an interval of `t_ms` puts [0, t_ms) in one bucket,
    // clipped to the range.
    let one = |q: Value| stack.run(&ds, q, from, t_ms, t_ms);
    let finished: Vec<&TruthJob> = life.finished().collect();
    let count = |s: &[&str]| {
        finished
            .iter()
            .filter(|j| s.contains(&j.status.as_str()))
            .count() as f64
    };
    let value = |f: &DecodedFrame, name: &str, labels: &[(&str, &str)]| {
        let field = f
            .field_with_labels(name, labels)
            .unwrap_or_else(|| panic!("{}: no {name} {labels:?} in {:?}", engine.name, f.fields));
        assert_eq!(field.values.len(), 1);
        field.values[0].f64()
    };
    let what = |kpi: &str| format!("{} {kpi}", engine.name);

    let f = one(json!({"queryType": "job_throughput", "source": "prometheus"}))
        .await
        .unwrap();
    assert_eq!(f.name, "job_throughput");
    for s in ["successful", "failed", "error", "canceled"] {
        assert_close(
            value(&f, "jobs", &[("status", s)]),
            Some(count(&[s])),
            &what(&format!("job_throughput {s}")),
        );
    }
    assert!(
        f.executed_query()
            .contains("increase(awx_jobs_total{job=\"awx\",launch_type!=\"sync\"}[300000ms])"),
        "{}",
        f.executed_query()
    );

    let f = one(json!({"queryType": "failure_rate", "source": "prometheus"}))
        .await
        .unwrap();
    let failures = count(&["failed", "error"]);
    let done = count(&["successful", "failed", "error"]);
    assert_close(
        value(&f, "failures", &[("measure", "failures")]),
        Some(failures),
        &what("failures"),
    );
    assert_close(
        value(&f, "finished", &[("measure", "finished")]),
        Some(done),
        &what("finished"),
    );
    assert_close(
        value(&f, "failure_rate", &[("measure", "failure_rate")]),
        Some(failures / done * 100.0),
        &what("failure_rate"),
    );

    // Per template, with the API's labels.
    let f =
        one(json!({"queryType": "failure_rate", "source": "prometheus", "groupBy": "template"}))
            .await
            .unwrap();
    let mut per_template: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for j in &finished {
        let e = per_template
            .entry(j.template_name.clone().unwrap_or_else(|| "(none)".into()))
            .or_default();
        if matches!(j.status.as_str(), "failed" | "error") {
            e.0 += 1.0;
        }
        if j.status != "canceled" {
            e.1 += 1.0;
        }
    }
    for (t, (fail, fin)) in &per_template {
        assert_close(
            value(&f, "finished", &[("measure", "finished"), ("template", t)]),
            Some(*fin),
            &what(&format!("finished {t}")),
        );
        assert_close(
            value(&f, "failures", &[("measure", "failures"), ("template", t)]),
            Some(*fail),
            &what(&format!("failures {t}")),
        );
    }

    let f = one(json!({"queryType": "job_duration", "source": "prometheus", "stats": ["mean", "p50", "p95", "count"]}))
        .await
        .unwrap();
    let durations: Vec<f64> = finished
        .iter()
        .filter_map(|j| e2e::oracle::duration(j))
        .collect();
    let n = durations.len() as f64;
    assert_close(
        value(&f, "count", &[("stat", "count")]),
        Some(n),
        &what("duration count"),
    );
    assert_close(
        value(&f, "mean", &[("stat", "mean")]),
        Some(durations.iter().sum::<f64>() / n),
        &what("duration mean"),
    );
    for (stat, q) in [("p50", 0.5), ("p95", 0.95)] {
        assert_close(
            value(&f, stat, &[("stat", stat)]),
            bucket_quantile(q, &ELAPSED_BOUNDS, &durations),
            &what(&format!("duration {stat}")),
        );
    }

    let f =
        one(json!({"queryType": "queue_wait", "source": "prometheus", "stats": ["mean", "count"]}))
            .await
            .unwrap();
    let waits: Vec<f64> = life.started().filter_map(e2e::oracle::wait).collect();
    assert_close(
        value(&f, "count", &[("stat", "count")]),
        Some(waits.len() as f64),
        &what("wait count"),
    );
    assert_close(
        value(&f, "mean", &[("stat", "mean")]),
        Some(waits.iter().sum::<f64>() / waits.len() as f64),
        &what("wait mean"),
    );

    // `auto` over a range that starts before the oldest job AWX holds: the exporter's
    // metrics, saying so; the last day's bucket holds the life's jobs.
    let since_2020 = e2e::ms("2020-01-01T00:00:00Z");
    let day = 86_400_000;
    let f = stack
        .run(
            &ds,
            json!({"queryType": "job_throughput"}),
            since_2020,
            t_ms,
            day,
        )
        .await
        .unwrap();
    assert!(
        f.executed_query()
            .starts_with("auto: prometheus (the range starts before "),
        "{}",
        f.executed_query()
    );
    let failed = f
        .field_with_labels("jobs", &[("status", "failed")])
        .unwrap();
    assert_close(
        failed.values.last().and_then(Cell::f64),
        Some(count(&["failed"])),
        &what("auto, last bucket"),
    );
    assert_eq!(
        failed.values.first().and_then(Cell::f64),
        None,
        "no exporter in 2020: null, not 0"
    );
    // The same range from the API: AWX's retention told.
    let f = stack
        .run(
            &ds,
            json!({"queryType": "job_throughput", "source": "api"}),
            since_2020,
            t_ms,
            day,
        )
        .await
        .unwrap();
    assert!(
        f.notices()
            .iter()
            .any(|n| n.contains("AWX holds no job created before")),
        "{:?}",
        f.notices()
    );
    // A range AWX holds whole (the last 10 minutes of the simulator's clock, 30 minutes
    // past SIM_NOW by now): the API, saying why.
    let sim_now = e2e::ms(SIM_NOW) + 30 * 60_000;
    let f = stack
        .run(
            &ds,
            json!({"queryType": "job_throughput"}),
            sim_now - 600_000,
            sim_now,
            60_000,
        )
        .await
        .unwrap();
    assert!(
        f.executed_query()
            .starts_with("auto: api (AWX still holds every job of the range"),
        "{}",
        f.executed_query()
    );
    // Alerting's resolution (one-minute buckets over two weeks: 20,160 of them), beyond what
    // one Prometheus range query returns (11,000 points): asked in parts, every bucket there.
    let mut q = query(
        "A",
        json!({"queryType": "job_throughput", "source": "prometheus", "maxDataPoints": 50_000}),
        t_ms - 14 * day,
        t_ms,
        60_000,
    );
    q.max_data_points = 50_000;
    let resp = stack
        .plugin
        .data()
        .query_data(request(&ds, vec![q]))
        .await
        .unwrap()
        .into_inner();
    let r = &resp.responses["A"];
    assert_eq!(r.error, "", "{}", engine.name);
    let f = e2e::decode(&r.frames[0]).unwrap();
    let failed = f
        .field_with_labels("jobs", &[("status", "failed")])
        .unwrap();
    assert!(failed.values.len() >= 20_160, "{}", failed.values.len());
    let counted: usize = failed.values.iter().filter(|c| c.f64().is_some()).count();
    assert!(
        counted > 0,
        "{}: buckets of the exporter's life",
        engine.name
    );
    assert!(
        failed.values[..10_000].iter().all(|c| c.f64().is_none()),
        "before the exporter: null"
    );

    // What the exporter's labels cannot answer is refused with the fix.
    let e =
        one(json!({"queryType": "job_duration", "source": "prometheus", "groupBy": "inventory"}))
            .await
            .unwrap_err();
    assert!(e.contains("use source api to group by inventory"), "{e}");
    let e = one(json!({"queryType": "job_duration", "source": "prometheus", "stats": ["max"]}))
        .await
        .unwrap_err();
    assert!(e.contains("`max` needs every job's value"), "{e}");
}

/// An exporter restart is a counter reset: increase() and rate() over both lives add up.
async fn restart(stack: &mut Stack, life1: Life) {
    let prom = Engine::new("Prometheus", &stack.prom.url);
    let first_start = prom.scalar("awx_exporter_start_time_seconds", "now").await;
    assert!(
        stack.exporter.stop().unwrap().success(),
        "a graceful stop on SIGTERM"
    );
    let life2_start = stack.sim.truth_jobs().await.unwrap();
    let mut life2 = Life::new(&life2_start);
    stack.exporter = start_exporter(&stack.sim, &stack.listen).await;
    eventually("Prometheus scrapes the restarted exporter", || async {
        match prom.scalar("awx_exporter_start_time_seconds", "now").await {
            s if s.is_some() && s != first_start => Ok(()),
            s => Err(format!("{s:?}")),
        }
    })
    .await;
    for _ in 0..2 {
        stack.advance(300).await;
        life2.observe(&stack.sim.truth_jobs().await.unwrap());
        stack.settle(&life2).await;
    }
    let t2 = stack.evaluation_time().await;
    let (one, two) = (life1.counts(), life2.counts());
    assert!(
        two.keys().any(|k| one.contains_key(k)),
        "label sets counted in both lives, to see a reset"
    );
    let both = |k: &Labels| one.get(k).copied().unwrap_or(0.0) + two.get(k).copied().unwrap_or(0.0);
    for engine in stack.engines() {
        let raw = engine.query("awx_jobs_total[5m]", &t2).await;
        let increase = by_labels(engine.query("increase(awx_jobs_total[5m])", &t2).await);
        let rate = by_labels(engine.query("rate(awx_jobs_total[5m])", &t2).await);
        let resets = by_labels(engine.query("resets(awx_jobs_total[5m])", &t2).await);
        let t2_s = t2.parse::<f64>().unwrap();
        let mut checked = 0;
        for s in &raw {
            let k = &s.labels;
            let alive = s.values.last().is_some_and(|v| (v.0 - t2_s).abs() < 1e-3);
            let want = both(k);
            if !alive && engine.name == "Prometheus" {
                // Not scraped since the restart: Prometheus extrapolates its end.
                assert!(
                    increase[k] >= want,
                    "{} {k:?}: {} < {want}",
                    engine.name,
                    increase[k]
                );
                continue;
            }
            let what = format!("{} after a restart, {k:?}", engine.name);
            assert!(
                close(increase[k], want),
                "{what}: increase {}, want {want}",
                increase[k]
            );
            if alive {
                let span = match engine.name {
                    "Prometheus" => 300.0,
                    _ => (ms_of(&t2) - (s.values[0].0 * 1000.0).round() as i64) as f64 / 1000.0,
                };
                assert!(
                    close(rate[k], want / span),
                    "{what}: rate {}, want {}",
                    rate[k],
                    want / span
                );
                if one.get(k).is_some_and(|n| *n > 0.0) {
                    assert_eq!(resets[k], 1.0, "{what}: one reset");
                }
                checked += 1;
            }
        }
        assert!(
            checked > 5,
            "{}: {checked} series checked across the restart",
            engine.name
        );
    }
}
