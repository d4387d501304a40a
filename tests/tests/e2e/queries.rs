//! Every job-record query type through the plugin, its values compared with an oracle
//! computed from the simulator's ground truth (`/_sim/truth/jobs`). Each query runs on
//! two data sources, one with the job-record cache and one without, and both must give
//! the same values.

use std::collections::{BTreeMap, BTreeSet};

use e2e::frames::{Cell, DecodedFrame};
use e2e::oracle::{self, assert_close, bucket, bucket_count, Filter, TruthJob};
use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// The common set-up; the checks below are its methods.
struct Env(e2e::CachedAndUncached);

impl std::ops::Deref for Env {
    type Target = e2e::CachedAndUncached;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Env {
    async fn new() -> Self {
        Env(e2e::CachedAndUncached::start().await)
    }

    async fn run_on(
        &self,
        ds: &DataSourceInstanceSettings,
        q: Value,
        from: i64,
        to: i64,
        interval: i64,
    ) -> Result<Vec<DecodedFrame>, String> {
        e2e::frames_of(&self.plugin, ds, q, from, to, interval).await
    }

    /// Runs the query with and without the cache; asserts both agree; returns one frame.
    async fn run(&self, q: Value, from: i64, to: i64, interval: i64) -> DecodedFrame {
        let a = self
            .run_on(&self.cached, q.clone(), from, to, interval)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        let b = self
            .run_on(&self.uncached, q.clone(), from, to, interval)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(a.len(), 1, "{q}: one frame");
        assert_eq!(a.len(), b.len());
        let (fa, fb) = (&a[0], &b[0]);
        e2e::frames::assert_same_fields(fa, fb, &q.to_string());
        assert!(
            !fa.executed_query().is_empty(),
            "{q}: executedQueryString set"
        );
        // Every numeric KPI must be alertable; tables and annotations are not asked to be.
        let numeric = [
            "job_status_counts",
            "job_throughput",
            "failure_rate",
            "job_duration",
            "queue_wait",
            "active_jobs",
            "capacity",
        ];
        if numeric.contains(&q["queryType"].as_str().unwrap_or_default()) {
            e2e::frames::assert_alertable(fa);
        }
        a.into_iter().next().unwrap()
    }

    fn jobs<'a>(&'a self, f: &'a Filter) -> impl Iterator<Item = &'a TruthJob> + 'a {
        self.truth.iter().filter(move |j| f.keeps(j))
    }
}

fn values(frame: &DecodedFrame, name: &str, labels: &[(&str, &str)]) -> Vec<Option<f64>> {
    frame
        .field_with_labels(name, labels)
        .unwrap_or_else(|| {
            panic!(
                "no field {name} {labels:?} in {:?}",
                frame
                    .fields
                    .iter()
                    .map(|f| (&f.name, &f.labels))
                    .collect::<Vec<_>>()
            )
        })
        .values
        .iter()
        .map(Cell::f64)
        .collect()
}

fn assert_series(got: &[Option<f64>], want: &[Option<f64>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: bucket count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_close(*g, *w, &format!("{what} bucket {i}"));
    }
}

fn assert_time_field(frame: &DecodedFrame, from: i64, to: i64, w: i64) {
    let t = frame.field("time").expect("time field");
    assert_eq!(t.values.len(), bucket_count(from, to, w));
    let first = from.div_euclid(w) * w;
    for (i, c) in t.values.iter().enumerate() {
        assert_eq!(
            c.time_ns(),
            Some((first + i as i64 * w) * 1_000_000),
            "bucket start {i}"
        );
    }
    assert_eq!(frame.meta["type"], "timeseries-wide");
}

#[tokio::test]
async fn status_counts_throughput_and_failure_rate_match_the_truth() {
    let env = Env::new().await;
    let (from, to, w) = (env.now - 7 * DAY, env.now, HOUR);
    let f = Filter::default();

    // job_status_counts: active now + final in range.
    let frame = env
        .run(json!({"queryType": "job_status_counts"}), from, to, w)
        .await;
    assert_eq!(frame.meta["type"], "numeric-long");
    let statuses: Vec<_> = frame
        .field("status")
        .unwrap()
        .values
        .iter()
        .map(|c| c.str().unwrap().to_string())
        .collect();
    assert_eq!(
        statuses,
        [
            "new",
            "pending",
            "waiting",
            "running",
            "successful",
            "failed",
            "error",
            "canceled"
        ]
    );
    let counts = values(&frame, "count", &[]);
    for (i, s) in statuses.iter().enumerate() {
        let want = env
            .jobs(&f)
            .filter(|j| &j.status == s)
            .filter(|j| {
                !oracle::is_final(s)
                    || j.finished
                        .is_some_and(|t| bucket(t, from, to, to - from).is_some())
            })
            .count();
        assert_close(counts[i], Some(want as f64), &format!("count of {s}"));
    }
    let active: f64 = counts[..4].iter().map(|c| c.unwrap()).sum();
    assert!(active > 0.0, "the frozen simulator has active jobs now");
    // Cold, the counts come from AWX's `count` (one-row pages), not from paging.
    assert!(
        frame.executed_query().contains("page_size=1"),
        "{}",
        frame.executed_query()
    );
    let cold_counts = counts.clone();

    // job_throughput, by status.
    let frame = env
        .run(json!({"queryType": "job_throughput"}), from, to, w)
        .await;
    assert_time_field(&frame, from, to, w);
    let n = bucket_count(from, to, w);
    for s in ["successful", "failed", "error", "canceled"] {
        let mut want = vec![Some(0.0); n];
        for j in env.jobs(&f).filter(|j| j.status == s) {
            if let Some(i) = j.finished.and_then(|t| bucket(t, from, to, w)) {
                *want[i].as_mut().unwrap() += 1.0;
            }
        }
        assert_series(
            &values(&frame, "jobs", &[("status", s)]),
            &want,
            &format!("throughput {s}"),
        );
    }
    let labelled = frame
        .field_with_labels("jobs", &[("status", "failed")])
        .unwrap();
    assert_eq!(
        labelled.config.as_ref().unwrap()["unit"],
        "short",
        "labels and config together"
    );

    // job_throughput grouped by template.
    let frame = env
        .run(
            json!({"queryType": "job_throughput", "groupBy": "template"}),
            from,
            to,
            w,
        )
        .await;
    let mut per_template: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for j in env.jobs(&f).filter(|j| oracle::is_final(&j.status)) {
        if let Some(i) = j.finished.and_then(|t| bucket(t, from, to, w)) {
            let v = per_template
                .entry(j.template_name.clone().unwrap_or_else(|| "(none)".into()))
                .or_insert_with(|| vec![Some(0.0); n]);
            *v[i].as_mut().unwrap() += 1.0;
        }
    }
    assert_eq!(
        frame.fields.len(),
        per_template.len() + 1,
        "one field per template"
    );
    for (t, want) in &per_template {
        assert_series(
            &values(&frame, "jobs", &[("template", t)]),
            want,
            &format!("throughput of {t}"),
        );
    }

    // failure_rate.
    let frame = env
        .run(json!({"queryType": "failure_rate"}), from, to, w)
        .await;
    let (mut failures, mut finished) = (vec![0.0; n], vec![0.0; n]);
    for j in env.jobs(&f) {
        if let Some(i) = j.finished.and_then(|t| bucket(t, from, to, w)) {
            match j.status.as_str() {
                "failed" | "error" => {
                    failures[i] += 1.0;
                    finished[i] += 1.0;
                }
                "successful" => finished[i] += 1.0,
                _ => {}
            }
        }
    }
    let rate: Vec<Option<f64>> = failures
        .iter()
        .zip(&finished)
        .map(|(a, b)| (*b > 0.0).then(|| a / b * 100.0))
        .collect();
    assert_series(&values(&frame, "failure_rate", &[]), &rate, "failure rate");
    assert_series(
        &values(&frame, "failures", &[]),
        &failures.iter().map(|x| Some(*x)).collect::<Vec<_>>(),
        "failures",
    );
    assert_series(
        &values(&frame, "finished", &[]),
        &finished.iter().map(|x| Some(*x)).collect::<Vec<_>>(),
        "finished",
    );
    assert_eq!(
        frame
            .field("failure_rate")
            .unwrap()
            .config
            .as_ref()
            .unwrap()["unit"],
        "percent"
    );

    // Warm, the same counts come from the job-record cache.
    let warm = env
        .run_on(
            &env.cached,
            json!({"queryType": "job_status_counts"}),
            from,
            to,
            w,
        )
        .await
        .unwrap();
    // Not the eight per-status counts (a refresh's own one-row count check may show,
    // when more than 2 s passed since the last sync on a busy machine).
    assert!(
        !warm[0].executed_query().contains("status=successful"),
        "{}",
        warm[0].executed_query()
    );
    assert_eq!(values(&warm[0], "count", &[]), cold_counts);
}

#[tokio::test]
async fn durations_and_queue_waits_match_the_truth() {
    let env = Env::new().await;
    let (from, to, w) = (env.now - 5 * DAY, env.now, 6 * HOUR);
    let n = bucket_count(from, to, w);
    let f = Filter::default();
    let stats = ["mean", "min", "max", "p50", "p90", "p95", "p99", "count"];
    let stat = |s: &str, v: &[f64]| -> Option<f64> {
        match s {
            "mean" => oracle::mean(v),
            "min" => oracle::percentile(v, 0.0),
            "max" => oracle::percentile(v, 1.0),
            "p50" => oracle::percentile(v, 0.5),
            "p90" => oracle::percentile(v, 0.9),
            "p95" => oracle::percentile(v, 0.95),
            "p99" => oracle::percentile(v, 0.99),
            _ => Some(v.len() as f64),
        }
    };
    for (qt, time_of, value_of) in [
        (
            "job_duration",
            (|j: &TruthJob| j.finished) as fn(&TruthJob) -> _,
            oracle::duration as fn(&TruthJob) -> Option<f64>,
        ),
        ("queue_wait", |j: &TruthJob| j.started, oracle::wait),
    ] {
        let frame = env
            .run(json!({"queryType": qt, "stats": stats}), from, to, w)
            .await;
        assert_time_field(&frame, from, to, w);
        let mut samples = vec![Vec::new(); n];
        for j in env.jobs(&f) {
            if let (Some(i), Some(v)) =
                (time_of(j).and_then(|t| bucket(t, from, to, w)), value_of(j))
            {
                samples[i].push(v);
            }
        }
        assert!(samples.iter().any(|s| !s.is_empty()), "{qt}: some samples");
        for s in stats {
            let want: Vec<Option<f64>> = samples.iter().map(|v| stat(s, v)).collect();
            assert_series(&values(&frame, s, &[]), &want, &format!("{qt} {s}"));
        }
        assert_eq!(
            frame.field("p95").unwrap().config.as_ref().unwrap()["unit"],
            "s"
        );

        // Grouped by template: default stats mean and p95, labels per template.
        let frame = env
            .run(json!({"queryType": qt, "groupBy": "template"}), from, to, w)
            .await;
        let mut per: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
        for j in env.jobs(&f) {
            if let (Some(i), Some(v)) =
                (time_of(j).and_then(|t| bucket(t, from, to, w)), value_of(j))
            {
                per.entry(j.template_name.clone().unwrap_or_else(|| "(none)".into()))
                    .or_insert_with(|| vec![Vec::new(); n])[i]
                    .push(v);
            }
        }
        assert_eq!(
            frame.fields.len(),
            1 + 2 * per.len(),
            "{qt}: mean and p95 per template"
        );
        for (t, samples) in &per {
            for s in ["mean", "p95"] {
                let want: Vec<Option<f64>> = samples.iter().map(|v| stat(s, v)).collect();
                assert_series(
                    &values(&frame, s, &[("template", t)]),
                    &want,
                    &format!("{qt} {s} of {t}"),
                );
            }
        }
    }
}

#[tokio::test]
async fn active_jobs_are_reconstructed_from_records() {
    let env = Env::new().await;
    let (from, to, w) = (env.now - 2 * DAY, env.now, 30 * 60_000);
    let frame = env
        .run(
            json!({"queryType": "active_jobs", "source": "api"}),
            from,
            to,
            w,
        )
        .await;
    assert_time_field(&frame, from, to, w);
    let f = Filter::default();
    let first = from.div_euclid(w) * w;
    let n = bucket_count(from, to, w);
    let mut pending = vec![Some(0.0); n];
    let mut running = vec![Some(0.0); n];
    for (i, (p, r)) in pending.iter_mut().zip(running.iter_mut()).enumerate() {
        let t = (first + i as i64 * w) * 1000; // µs
        for j in env.jobs(&f) {
            let created = oracle::us(j.created);
            let started = j.started.map(oracle::us);
            let finished = j.finished.map(oracle::us);
            let pending_until = started.or(finished);
            if created <= t && pending_until.is_none_or(|e| t < e) {
                *p.as_mut().unwrap() += 1.0;
            }
            if started.is_some_and(|s| s <= t) && finished.is_none_or(|e| t < e) {
                *r.as_mut().unwrap() += 1.0;
            }
        }
    }
    assert_series(&values(&frame, "pending", &[]), &pending, "pending");
    assert_series(&values(&frame, "running", &[]), &running, "running");
    assert!(
        frame
            .field("waiting")
            .unwrap()
            .values
            .iter()
            .all(|c| *c == Cell::Null),
        "waiting unknown from records"
    );
}

#[tokio::test]
async fn capacity_from_the_api_is_an_alertable_point_per_instance_and_measure() {
    let env = Env::new().await;
    let list = env
        .sim
        .api_json("/api/v2/instances/?page_size=200")
        .await
        .unwrap();
    let rows: Vec<&Value> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["node_type"] != "hop")
        .collect();
    assert!(rows.len() >= 2, "the simulator has instances: {list}");
    let frame = env
        .run(
            json!({"queryType": "capacity", "source": "api"}),
            env.now - HOUR,
            env.now,
            60_000,
        )
        .await;
    assert_eq!(frame.meta["type"], "numeric-wide");
    assert_eq!(frame.rows(), 1);
    assert_eq!(frame.fields.len(), (rows.len() + 1) * 4);
    let one = |name: &str, host: &str| -> f64 {
        let f = frame
            .field_with_labels(name, &[("hostname", host), ("measure", name)])
            .unwrap_or_else(|| panic!("{name} of {host}"));
        f.values[0].f64().unwrap()
    };
    let (mut cap, mut used) = (0.0, 0.0);
    for r in &rows {
        let host = r["hostname"].as_str().unwrap();
        let c = r["capacity"].as_f64().unwrap();
        let u = r["consumed_capacity"].as_f64().unwrap();
        assert_eq!(one("capacity", host), c, "{host}");
        assert_eq!(one("consumed", host), u, "{host}");
        assert_eq!(one("remaining", host), (c - u).max(0.0), "{host}");
        if c > 0.0 {
            assert_close(Some(one("used", host)), Some(u / c * 100.0), host);
        }
        cap += c;
        used += u;
    }
    assert!(cap > 0.0);
    assert_eq!(one("capacity", "total"), cap);
    assert_close(
        Some(one("used", "total")),
        Some(used / cap * 100.0),
        "total",
    );
}

#[tokio::test]
async fn jobs_templates_and_annotations_tables_match_the_truth() {
    let env = Env::new().await;
    let (from, to) = (env.now - 3 * DAY, env.now);
    let f = Filter::default();
    let active = |j: &&TruthJob| {
        oracle::us(j.created) < to * 1000 && j.finished.is_none_or(|t| oracle::us(t) >= from * 1000)
    };

    // jobs: newest first, limited.
    let frame = env
        .run(json!({"queryType": "jobs", "limit": 250}), from, to, HOUR)
        .await;
    let mut want: Vec<&TruthJob> = env.jobs(&f).filter(active).collect();
    want.sort_by_key(|j| std::cmp::Reverse(j.id));
    let total = want.len();
    want.truncate(250);
    let ids: Vec<i64> = frame
        .field("id")
        .unwrap()
        .values
        .iter()
        .map(|c| c.f64().unwrap() as i64)
        .collect();
    assert_eq!(ids, want.iter().map(|j| j.id).collect::<Vec<_>>());
    assert!(
        total > 250 && frame.notices().iter().any(|n| n.contains("250")),
        "truncation is said"
    );
    let names = frame.field("template").unwrap();
    for (cell, j) in names.values.iter().zip(&want) {
        assert_eq!(
            cell.str(),
            j.template_name.as_deref(),
            "template of job {}",
            j.id
        );
    }
    for (cell, j) in frame.field("queue_wait").unwrap().values.iter().zip(&want) {
        assert_close(
            cell.f64(),
            oracle::wait(j),
            &format!("wait of job {}", j.id),
        );
    }
    let link = frame.field("link").unwrap().values[0]
        .str()
        .unwrap()
        .to_string();
    assert!(
        link.starts_with(&env.sim.url)
            && link.contains("/#/jobs/")
            && link.ends_with(&format!("/{}/output", want[0].id)),
        "{link}"
    );
    let id_links = &frame.field("id").unwrap().config.as_ref().unwrap()["links"];
    assert_eq!(id_links[0]["url"], "${__data.fields.link}");

    // templates: runs, failures, durations per template over the range.
    let frame = env
        .run(
            json!({"queryType": "templates", "limit": 1000}),
            from,
            to,
            HOUR,
        )
        .await;
    let mut per: BTreeMap<String, (f64, f64, f64, Vec<f64>)> = BTreeMap::new();
    for j in env.jobs(&f) {
        let Some(t) = j
            .finished
            .filter(|t| bucket(*t, from, to, to - from).is_some())
        else {
            continue;
        };
        let _ = t;
        let Some(name) = j.template_name.clone() else {
            continue;
        };
        let e = per.entry(name).or_default();
        e.0 += 1.0;
        match j.status.as_str() {
            "successful" => e.1 += 1.0,
            "failed" | "error" => e.2 += 1.0,
            _ => {}
        }
        e.3.extend(oracle::duration(j));
    }
    let rows: Vec<String> = frame
        .field("template")
        .unwrap()
        .values
        .iter()
        .map(|c| c.str().unwrap().to_string())
        .collect();
    assert_eq!(
        rows.iter().cloned().collect::<BTreeSet<_>>(),
        per.keys().cloned().collect::<BTreeSet<_>>()
    );
    for (i, name) in rows.iter().enumerate() {
        let (runs, ok, failed, durations) = &per[name];
        let cell = |field: &str| frame.field(field).unwrap().values[i].f64();
        assert_close(cell("runs"), Some(*runs), &format!("{name} runs"));
        assert_close(cell("failed"), Some(*failed), &format!("{name} failed"));
        let rate = (ok + failed > 0.0).then(|| failed / (ok + failed) * 100.0);
        assert_close(cell("failure_rate"), rate, &format!("{name} failure %"));
        assert_close(
            cell("p95_duration"),
            oracle::percentile(durations, 0.95),
            &format!("{name} p95"),
        );
        assert_close(
            cell("mean_duration"),
            oracle::mean(durations),
            &format!("{name} mean"),
        );
    }

    // annotations: failed and error jobs by default.
    let frame = env
        .run(
            json!({"queryType": "annotations", "limit": 10000}),
            from,
            to,
            HOUR,
        )
        .await;
    let want: BTreeSet<i64> = env
        .jobs(&f)
        .filter(|j| j.status == "failed" || j.status == "error")
        .filter(|j| {
            oracle::us(j.started.unwrap_or(j.created)) < to * 1000
                && j.finished.is_none_or(|t| oracle::us(t) >= from * 1000)
        })
        .map(|j| j.id)
        .collect();
    let titles: BTreeSet<i64> = frame
        .field("title")
        .unwrap()
        .values
        .iter()
        .map(|c| {
            let t = c.str().unwrap();
            t.split('#')
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(titles, want);
    assert!(frame.field("timeEnd").is_some() && frame.field("tags").is_some());
}

#[tokio::test]
async fn every_filter_narrows_like_the_oracle() {
    let env = Env::new().await;
    let (from, to) = (env.now - 7 * DAY, env.now);
    let some = |pick: fn(&TruthJob) -> Option<String>| -> String {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for j in &env.truth {
            if let Some(v) = pick(j).filter(|v| !v.is_empty()) {
                *counts.entry(v).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .expect("a value")
            .0
    };
    let template = some(|j| j.template_name.clone());
    let org = some(|j| j.organization.clone());
    let inv = some(|j| j.inventory.clone());
    let proj = some(|j| j.project.clone());
    let node = some(|j| j.execution_node.clone());
    let ig = some(|j| j.instance_group.clone());
    let by = some(|j| j.launched_by.clone());
    let word: String = template.split_whitespace().next().unwrap().to_lowercase();
    let cases: Vec<(Value, Filter)> = vec![
        (
            json!({"status": ["failed", "error"]}),
            Filter {
                status: vec!["failed".into(), "error".into()],
                ..Default::default()
            },
        ),
        (
            json!({"template": [template.clone()]}),
            Filter {
                template: vec![template.clone()],
                ..Default::default()
            },
        ),
        (
            json!({"organization": [org.clone()]}),
            Filter {
                organization: vec![org.clone()],
                ..Default::default()
            },
        ),
        (
            json!({"inventory": [inv.clone()]}),
            Filter {
                inventory: vec![inv.clone()],
                ..Default::default()
            },
        ),
        (
            json!({"project": [proj.clone()]}),
            Filter {
                project: vec![proj.clone()],
                ..Default::default()
            },
        ),
        (
            json!({"jobType": ["workflow_job", "project_update"]}),
            Filter {
                job_type: vec!["workflow_job".into(), "project_update".into()],
                ..Default::default()
            },
        ),
        (
            json!({"launchType": ["scheduled"]}),
            Filter {
                launch_type: vec!["scheduled".into()],
                ..Default::default()
            },
        ),
        (
            json!({"launchType": ["sync"]}),
            Filter {
                launch_type: vec!["sync".into()],
                ..Default::default()
            },
        ),
        (
            json!({"executionNode": [node.clone()]}),
            Filter {
                execution_node: vec![node.clone()],
                ..Default::default()
            },
        ),
        (
            json!({"instanceGroup": [ig.clone()]}),
            Filter {
                instance_group: vec![ig.clone()],
                ..Default::default()
            },
        ),
        (
            json!({"launchedBy": [by.clone()]}),
            Filter {
                launched_by: vec![by.clone()],
                ..Default::default()
            },
        ),
        (
            json!({"name": [word.clone()]}),
            Filter {
                name: Some(word.clone()),
                ..Default::default()
            },
        ),
        (
            json!({"template": [template.clone(), "no such template"], "status": ["successful"]}),
            Filter {
                template: vec![template.clone()],
                status: vec!["successful".into()],
                ..Default::default()
            },
        ),
    ];
    for (filters, f) in cases {
        // The jobs table counts everything active in the range.
        let frame = env
            .run(
                json!({"queryType": "jobs", "filters": filters, "limit": 10000}),
                from,
                to,
                HOUR,
            )
            .await;
        let want = env
            .jobs(&f)
            .filter(|j| {
                oracle::us(j.created) < to * 1000
                    && j.finished.is_none_or(|t| oracle::us(t) >= from * 1000)
            })
            .count();
        assert!(want > 0, "{filters}: the oracle finds jobs");
        assert_eq!(frame.rows(), want, "{filters}: jobs");
    }
    // includeSyncs adds the implicit project syncs.
    let with = env
        .run(
            json!({"queryType": "jobs", "includeSyncs": true, "limit": 10000}),
            from,
            to,
            HOUR,
        )
        .await;
    let without = env
        .run(json!({"queryType": "jobs", "limit": 10000}), from, to, HOUR)
        .await;
    let syncs = env
        .truth
        .iter()
        .filter(|j| {
            j.launch_type == "sync"
                && oracle::us(j.created) < to * 1000
                && j.finished.is_none_or(|t| oracle::us(t) >= from * 1000)
        })
        .count();
    assert!(syncs > 0);
    assert_eq!(with.rows() - without.rows(), syncs);
}

#[tokio::test]
async fn edge_ranges_empty_one_job_running_and_beyond_history() {
    let env = Env::new().await;
    let f = Filter::default();
    // Beyond the retained history: nothing finished, every bucket present with zeros.
    let (from, to, w) = (env.now - 400 * DAY, env.now - 300 * DAY, DAY);
    let frame = env
        .run(json!({"queryType": "job_throughput"}), from, to, w)
        .await;
    assert_eq!(frame.rows(), bucket_count(from, to, w));
    assert!(values(&frame, "jobs", &[("status", "successful")])
        .iter()
        .all(|v| *v == Some(0.0)));
    let frame = env
        .run(json!({"queryType": "job_duration"}), from, to, w)
        .await;
    assert!(
        values(&frame, "mean", &[]).iter().all(Option::is_none),
        "no samples: nulls, not zeros"
    );

    // A range holding exactly one finished job.
    let mut finished: Vec<&TruthJob> = env
        .jobs(&f)
        .filter(|j| j.finished.is_some() && j.started.is_some())
        .collect();
    finished.sort_by_key(|j| j.finished);
    let pair = finished
        .windows(2)
        .find(|p| (p[1].finished.unwrap() - p[0].finished.unwrap()).num_milliseconds() > 2)
        .expect("two jobs apart");
    let one = pair[0];
    let from = one.finished.unwrap().timestamp_millis();
    let to = from + 1;
    let frame = env
        .run(
            json!({"queryType": "job_duration", "stats": ["count", "mean", "p99"]}),
            from,
            to,
            1000,
        )
        .await;
    assert_eq!(values(&frame, "count", &[]), vec![Some(1.0)]);
    assert_close(
        values(&frame, "mean", &[])[0],
        oracle::duration(one),
        "the one job's duration",
    );
    assert_close(
        values(&frame, "p99", &[])[0],
        oracle::duration(one),
        "p99 of one job",
    );

    // Jobs still running now appear in the jobs table with no finish time.
    let frame = env
        .run(
            json!({"queryType": "jobs", "filters": {"status": ["running"]}}),
            env.now - HOUR,
            env.now,
            60_000,
        )
        .await;
    let running = env.jobs(&f).filter(|j| j.status == "running").count();
    assert!(
        running > 0,
        "the simulator has running jobs at its frozen now"
    );
    assert_eq!(frame.rows(), running);
    assert!(frame
        .field("finished")
        .unwrap()
        .values
        .iter()
        .all(|c| *c == Cell::Null));
    assert!(
        frame
            .field("elapsed")
            .unwrap()
            .values
            .iter()
            .all(|c| *c == Cell::Null),
        "no duration before finishing"
    );
}
