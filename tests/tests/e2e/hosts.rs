//! The host KPIs (`host_outcomes`, `host_failures`, the jobs table's host counts) through the
//! plugin, every value compared with an oracle computed from the simulator's truth
//! (`/_sim/truth/host_summaries`, `/_sim/truth/hosts`, `/_sim/truth/jobs`), on a source with the
//! job cache and one without, which must agree; and what they cost AWX, cold, warm, and after
//! a restart or a saved setting with the job cache on disk.

use std::collections::{BTreeMap, HashMap};

use e2e::frames::{Cell, DecodedFrame};
use e2e::oracle::{
    self, assert_close, bucket_count, Filter, HostRow, TruthHost, TruthJob, TruthRun,
};
use e2e::{datasource, ms, Plugin, Sim, SimOptions, ADMIN_TOKEN, SIM_NOW};
use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// The common set-up and the simulator's hosts as they really are.
struct Env {
    base: e2e::CachedAndUncached,
    hosts: HashMap<i64, TruthHost>,
}

impl std::ops::Deref for Env {
    type Target = e2e::CachedAndUncached;
    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl Env {
    async fn new() -> Self {
        let base = e2e::CachedAndUncached::start().await;
        let hosts: Vec<TruthHost> = base.sim.get_json("/_sim/truth/hosts").await.unwrap();
        assert!(hosts.len() > 1000, "{} hosts", hosts.len());
        Env {
            base,
            hosts: hosts.into_iter().map(|h| (h.id, h)).collect(),
        }
    }

    /// The truth's runs that finished in [from, to), all hosts or the failed ones only.
    async fn runs(&self, from: i64, to: i64, failed_only: bool) -> HashMap<i64, TruthRun> {
        let t = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339()
                .replace('+', "%2B")
        };
        let runs: Vec<TruthRun> = self
            .sim
            .get_json(&format!(
                "/_sim/truth/host_summaries?from={}&to={}&failed_only={failed_only}",
                t(from),
                t(to)
            ))
            .await
            .unwrap();
        runs.into_iter().map(|r| (r.job, r)).collect()
    }

    async fn run_on(
        &self,
        ds: &DataSourceInstanceSettings,
        q: Value,
        from: i64,
        to: i64,
        interval: i64,
    ) -> Result<DecodedFrame, String> {
        ask(&self.plugin, ds, q, from, to, interval).await
    }

    /// The query on the cached source, then on the uncached one: both must agree, field by
    /// field and value by value.
    async fn run(&self, q: Value, from: i64, to: i64, interval: i64) -> DecodedFrame {
        let a = self
            .run_on(&self.cached, q.clone(), from, to, interval)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        let b = self
            .run_on(&self.uncached, q.clone(), from, to, interval)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        e2e::frames::assert_same_fields(&a, &b, &q.to_string());
        assert_eq!(a.notices(), b.notices(), "{q}: notices");
        assert!(
            a.executed_query().contains("job_host_summaries")
                || a.executed_query().contains("job host summaries"),
            "{q}: executedQueryString says what was asked: {}",
            a.executed_query()
        );
        a
    }

    fn jobs<'a>(&'a self, f: &'a Filter) -> impl Iterator<Item = &'a TruthJob> + 'a {
        self.truth.iter().filter(move |j| f.keeps(j))
    }

    /// Requests to AWX's job host summaries since the last reset.
    async fn summary_requests(&self) -> u64 {
        let stats = self.sim.stats().await.unwrap();
        stats["requests_by_path"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.contains("job_host_summaries"))
            .map(|(_, v)| v.as_u64().unwrap())
            .sum()
    }

    async fn reset_stats(&self) {
        self.sim.post("/_sim/stats/reset", json!({})).await.unwrap();
    }
}

/// One query's one frame from `plugin`, or its error.
async fn ask(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    q: Value,
    from: i64,
    to: i64,
    interval: i64,
) -> Result<DecodedFrame, String> {
    let mut frames = e2e::frames_of(plugin, ds, q, from, to, interval).await?;
    assert_eq!(frames.len(), 1, "one frame");
    Ok(frames.remove(0))
}

fn column<'f>(frame: &'f DecodedFrame, name: &str) -> &'f [Cell] {
    &frame
        .field(name)
        .unwrap_or_else(|| {
            panic!(
                "no field {name} in {:?}",
                frame.fields.iter().map(|f| &f.name).collect::<Vec<_>>()
            )
        })
        .values
}

fn num(c: &Cell) -> Option<f64> {
    c.f64()
}

fn bool_of(c: &Cell) -> Option<bool> {
    match c {
        Cell::Bool(b) => Some(*b),
        _ => None,
    }
}

/// Every column of a `host_outcomes` frame against the oracle's rows, in order.
fn assert_host_rows(env: &Env, frame: &DecodedFrame, want: &[HostRow], all: bool, what: &str) {
    assert_eq!(frame.rows(), want.len(), "{what}: rows");
    let n = |v: u64| Some(v as f64);
    for (i, w) in want.iter().enumerate() {
        let at = format!("{what}: row {i} ({})", w.host);
        assert_eq!(
            column(frame, "host")[i].str(),
            Some(w.host.as_str()),
            "{at}"
        );
        assert_eq!(
            column(frame, "inventory")[i].str(),
            Some(w.inventory.as_str()),
            "{at} inventory"
        );
        assert_close(
            num(&column(frame, "failed")[i]),
            n(w.failed),
            &format!("{at} failed"),
        );
        assert_close(
            num(&column(frame, "unreachable")[i]),
            n(w.unreachable),
            &format!("{at} unreachable"),
        );
        let only_all = |v: u64| if all { n(v) } else { None };
        assert_close(
            num(&column(frame, "jobs")[i]),
            only_all(w.jobs),
            &format!("{at} jobs"),
        );
        assert_close(
            num(&column(frame, "changed")[i]),
            only_all(w.changed),
            &format!("{at} changed"),
        );
        assert_close(
            num(&column(frame, "ok")[i]),
            only_all(w.ok),
            &format!("{at} ok"),
        );
        let rate =
            (all && w.jobs > 0).then(|| (w.failed + w.unreachable) as f64 / w.jobs as f64 * 100.0);
        assert_close(
            num(&column(frame, "failure_rate")[i]),
            rate,
            &format!("{at} failure %"),
        );
        let lf = w.last_failure.as_ref();
        assert_eq!(
            column(frame, "last_failure")[i].time_ns(),
            lf.map(|l| oracle::us(l.0) * 1000),
            "{at} last failure"
        );
        assert_eq!(
            num(&column(frame, "last_failure_job")[i]),
            lf.map(|l| l.1 as f64),
            "{at} last failure job"
        );
        assert_eq!(
            column(frame, "last_failure_template")[i].str(),
            lf.and_then(|l| l.2.as_deref()),
            "{at} last failure template"
        );
        let h = &env.hosts[&w.host_id];
        assert_eq!(
            bool_of(&column(frame, "enabled")[i]),
            Some(h.enabled),
            "{at} enabled"
        );
        assert_eq!(
            bool_of(&column(frame, "has_active_failures")[i]),
            Some(h.has_active_failures),
            "{at} has_active_failures"
        );
        match lf {
            Some(l) => {
                let link = column(frame, "link")[i].str().unwrap();
                assert!(
                    link.starts_with(&env.sim.url)
                        && link.ends_with(&format!("/#/jobs/playbook/{}/output", l.1)),
                    "{at}: {link}"
                );
            }
            None => assert_eq!(column(frame, "link")[i], Cell::Null, "{at}"),
        }
        let host_link = column(frame, "host_link")[i].str().unwrap();
        assert!(
            host_link.ends_with(&format!("/#/hosts/{}/details", w.host_id)),
            "{at}: {host_link}"
        );
    }
    let links = &frame.field("host").unwrap().config.as_ref().unwrap()["links"];
    assert_eq!(links[0]["url"], "${__data.fields.host_link}");
    let links = &frame
        .field("last_failure_job")
        .unwrap()
        .config
        .as_ref()
        .unwrap()["links"];
    assert_eq!(links[0]["url"], "${__data.fields.link}");
}

/// Requests a cold source makes for the failed hosts of these jobs: one list each, one more
/// page per 200 failed hosts.
fn failed_list_requests(jobs: &[&TruthJob], runs: &HashMap<i64, TruthRun>) -> u64 {
    jobs.iter()
        .map(|j| {
            let bad = runs.get(&j.id).map_or(0, |r| r.hosts.len());
            bad.div_ceil(200).max(1) as u64
        })
        .sum()
}

#[tokio::test]
async fn host_outcomes_match_the_truth_cached_and_uncached_and_cost_what_changed() {
    let env = Env::new().await;
    let (from, to) = (env.now - 7 * DAY, env.now);
    let runs = env.runs(from, to, true).await;
    let f = Filter::default();
    let jobs: Vec<&TruthJob> = env
        .jobs(&f)
        .filter(|j| oracle::reads_hosts(j, false, from * 1000, to * 1000))
        .collect();
    let want = oracle::host_outcomes(&jobs, &runs, false, &|_| None, &[]);
    assert!(
        want.len() > 30,
        "the range has failed hosts: {}",
        want.len()
    );
    assert!(
        want[0].failed + want[0].unreachable >= 3,
        "some host fails again and again: {:?}",
        want[0]
    );
    assert!(want.iter().any(|r| r.unreachable > 0) && want.iter().any(|r| r.failed > 0));

    // Cold: one list per failed or errored playbook run (and a page per 200 failed hosts).
    env.reset_stats().await;
    let frame = env
        .run(
            json!({"queryType": "host_outcomes", "limit": 10000}),
            from,
            to,
            HOUR,
        )
        .await;
    assert_host_rows(&env, &frame, &want, false, "host_outcomes");
    let cold = failed_list_requests(&jobs, &runs);
    // the cached source fetched them once, the uncached source once more
    assert_eq!(env.summary_requests().await, 2 * cold, "cold cost");
    assert!(frame.notices().is_empty(), "{:?}", frame.notices());

    // Warm: nothing more from AWX for the cached source; the uncached pays again.
    env.reset_stats().await;
    let again = env
        .run_on(
            &env.cached,
            json!({"queryType": "host_outcomes", "limit": 10000}),
            from,
            to,
            HOUR,
        )
        .await
        .unwrap();
    assert_eq!(again.fields.len(), frame.fields.len());
    for (a, b) in again.fields.iter().zip(&frame.fields) {
        assert_eq!(a.values, b.values, "warm {}", a.name);
    }
    // Lists fetched less than 2 minutes (by AWX's clock: the newest `modified`) after their
    // job ended may still grow: they are used for 10 s, then read again.
    let awx_now = env.truth.iter().filter_map(|j| j.modified).max().unwrap();
    let young: Vec<&TruthJob> = jobs
        .iter()
        .copied()
        .filter(|j| (awx_now - j.finished.unwrap()).num_seconds() < 120)
        .collect();
    let warm = env.summary_requests().await;
    if young.is_empty() {
        assert_eq!(warm, 0, "a warm refresh reads no host lists");
        assert!(
            again
                .executed_query()
                .contains(&format!("{} held, 0 fetched", jobs.len())),
            "{}",
            again.executed_query()
        );
    } else {
        assert!(warm <= failed_list_requests(&young, &runs), "{warm}");
    }

    // Worst first with a limit, and the truncation said.
    let frame = env
        .run(
            json!({"queryType": "host_outcomes", "limit": 5}),
            from,
            to,
            HOUR,
        )
        .await;
    assert_host_rows(&env, &frame, &want[..5], false, "limit 5");
    assert!(
        frame
            .notices()
            .iter()
            .any(|n| n.contains(&format!("worst 5 of {}", want.len()))),
        "{:?}",
        frame.notices()
    );
}

#[tokio::test]
async fn host_outcomes_grouped_filtered_and_with_every_host() {
    let env = Env::new().await;
    let (from, to) = (env.now - 5 * DAY, env.now);
    let runs = env.runs(from, to, true).await;
    let select = |f: &Filter, all: bool| -> Vec<&TruthJob> {
        env.truth
            .iter()
            .filter(|j| f.keeps(j) && oracle::reads_hosts(j, all, from * 1000, to * 1000))
            .collect()
    };

    // In which templates: one row per host and template.
    let jobs = select(&Filter::default(), false);
    let want = oracle::host_outcomes(&jobs, &runs, false, &|j| j.template_name.clone(), &[]);
    let frame = env
        .run(
            json!({"queryType": "host_outcomes", "groupBy": "template", "limit": 10000}),
            from,
            to,
            HOUR,
        )
        .await;
    assert_host_rows(&env, &frame, &want, false, "by template");
    let templates: Vec<Option<&str>> = column(&frame, "template").iter().map(Cell::str).collect();
    assert_eq!(
        templates,
        want.iter().map(|r| r.group.as_deref()).collect::<Vec<_>>()
    );
    let mut templates_per_host: BTreeMap<i64, usize> = BTreeMap::new();
    for r in &want {
        *templates_per_host.entry(r.host_id).or_default() += 1;
    }
    assert!(
        templates_per_host.values().any(|&n| n >= 2),
        "a host fails in several templates"
    );

    // Filters as the job KPIs have them, and hosts by name or id.
    let inv = want[0].inventory.clone();
    let f = Filter {
        inventory: vec![inv.clone()],
        ..Default::default()
    };
    let jobs = select(&f, false);
    let want_inv = oracle::host_outcomes(&jobs, &runs, false, &|_| None, &[]);
    assert!(want_inv.len() >= 2, "{want_inv:?}");
    let frame = env
        .run(
            json!({"queryType": "host_outcomes", "filters": {"inventory": [inv]}, "limit": 10000}),
            from,
            to,
            HOUR,
        )
        .await;
    assert_host_rows(&env, &frame, &want_inv, false, "inventory filter");
    let picked = vec![want_inv[0].host.clone(), want_inv[1].host_id.to_string()];
    let want_hosts = oracle::host_outcomes(&jobs, &runs, false, &|_| None, &picked);
    assert_eq!(want_hosts.len(), 2);
    let frame = env
        .run(
            json!({"queryType": "host_outcomes", "filters": {"inventory": [want_inv[0].inventory], "host": picked}}),
            from,
            to,
            HOUR,
        )
        .await;
    assert_host_rows(&env, &frame, &want_hosts, false, "host filter");

    // Every host of every run: jobs, changed, ok and the failure rate, over half a day.
    let (from, to) = (env.now - 12 * HOUR, env.now);
    let runs = env.runs(from, to, false).await;
    let jobs: Vec<&TruthJob> = env
        .truth
        .iter()
        .filter(|j| oracle::reads_hosts(j, true, from * 1000, to * 1000))
        .collect();
    let want = oracle::host_outcomes(&jobs, &runs, true, &|_| None, &[]);
    assert!(want.len() > 1000, "every host that ran: {}", want.len());
    assert!(want
        .iter()
        .any(|r| r.changed > 0 && r.ok > 0 && r.failed + r.unreachable > 0));
    env.reset_stats().await;
    let frame = env
        .run(
            json!({"queryType": "host_outcomes", "hostSummaries": "all", "limit": 10000}),
            from,
            to,
            HOUR,
        )
        .await;
    assert_host_rows(&env, &frame, &want, true, "all hosts");
    // one list per playbook run, a page per 200 hosts, for each source
    let pages: u64 = jobs
        .iter()
        .map(|j| {
            runs.get(&j.id)
                .map_or(0, |r| r.hosts.len())
                .div_ceil(200)
                .max(1) as u64
        })
        .sum();
    assert_eq!(
        env.summary_requests().await,
        2 * pages,
        "cost of hostSummaries all"
    );
}

#[tokio::test]
async fn host_failures_series_match_the_truth_and_are_alertable() {
    let env = Env::new().await;
    let (from, to) = (env.now - 3 * DAY, env.now);
    let runs = env.runs(from, to, true).await;
    let jobs: Vec<&TruthJob> = env
        .truth
        .iter()
        .filter(|j| oracle::reads_hosts(j, false, from * 1000, to * 1000))
        .collect();
    let n = bucket_count(from, to, HOUR);
    type Pick = fn(&TruthJob, &oracle::TruthHostRun) -> String;
    let cases: [(&str, Option<&str>, Pick); 4] = [
        ("none", None, |_, _| String::new()),
        ("host", Some("host"), |_, h| h.name.clone()),
        ("template", Some("template"), |j, _| {
            j.template_name.clone().unwrap_or_default()
        }),
        ("inventory", Some("inventory"), |j, _| {
            j.inventory.clone().unwrap_or_default()
        }),
    ];
    for (by, label, pick) in cases {
        let mut want = oracle::host_failures(&jobs, &runs, &pick, (from, to, HOUR));
        if by == "none" && want.is_empty() {
            want.insert(String::new(), vec![(0.0, 0.0); n]);
        }
        let total: f64 = want.values().flatten().map(|(a, b)| a + b).sum();
        assert!(total > 10.0, "{by}: the range has failed hosts ({total})");
        let frame = env
            .run(
                json!({"queryType": "host_failures", "groupBy": by}),
                from,
                to,
                HOUR,
            )
            .await;
        e2e::frames::assert_alertable(&frame);
        assert_eq!(frame.meta["type"], "timeseries-wide");
        let time = frame.field("time").unwrap();
        assert!(!time.nullable, "{by}: time not nullable");
        assert_eq!(time.values.len(), n);
        assert_eq!(
            frame.fields.len(),
            1 + 2 * want.len(),
            "{by}: two fields per group"
        );
        for (g, series) in &want {
            for (k, outcome) in ["failed", "unreachable"].into_iter().enumerate() {
                let mut labels = vec![("outcome", outcome)];
                if let Some(l) = label {
                    labels.push((l, g.as_str()));
                }
                let field = frame
                    .field_with_labels(outcome, &labels)
                    .unwrap_or_else(|| panic!("{by}: no {outcome} {labels:?}"));
                assert_eq!(field.labels.len(), labels.len(), "{by}: {:?}", field.labels);
                let got: Vec<Option<f64>> = field.values.iter().map(Cell::f64).collect();
                for (i, (g_, w)) in got.iter().zip(series).enumerate() {
                    let w = if k == 0 { w.0 } else { w.1 };
                    assert_close(*g_, Some(w), &format!("{by} {outcome} {g} bucket {i}"));
                }
            }
        }
    }

    // The unreachable hosts alone (what an alert rule watches): one field per host that failed
    // or was unreachable, zero where it was only failed.
    let per_host = oracle::host_failures(&jobs, &runs, &|_, h| h.name.clone(), (from, to, HOUR));
    let frame = env
        .run(
            json!({"queryType": "host_failures", "groupBy": "host", "outcomes": ["unreachable"]}),
            from,
            to,
            HOUR,
        )
        .await;
    e2e::frames::assert_alertable(&frame);
    assert_eq!(frame.fields.len(), 1 + per_host.len());
    for (host, series) in &per_host {
        let got: Vec<Option<f64>> = frame
            .field_with_labels("unreachable", &[("host", host.as_str())])
            .unwrap_or_else(|| panic!("no unreachable series of {host}"))
            .values
            .iter()
            .map(Cell::f64)
            .collect();
        assert_eq!(
            got,
            series.iter().map(|v| Some(v.1)).collect::<Vec<_>>(),
            "{host}"
        );
    }
    assert!(frame.field("failed").is_none());

    // An alert on one host: its own series, picked by name.
    let (worst, series) = per_host
        .iter()
        .max_by(|a, b| {
            let s = |v: &Vec<(f64, f64)>| v.iter().map(|(x, y)| x + y).sum::<f64>();
            s(a.1).total_cmp(&s(b.1))
        })
        .unwrap();
    let frame = env
        .run(
            json!({"queryType": "host_failures", "groupBy": "host", "filters": {"host": [worst]}}),
            from,
            to,
            HOUR,
        )
        .await;
    assert_eq!(
        frame.fields.len(),
        3,
        "time, failed, unreachable of one host"
    );
    let got: Vec<Option<f64>> = frame
        .field_with_labels("unreachable", &[("host", worst.as_str())])
        .unwrap()
        .values
        .iter()
        .map(Cell::f64)
        .collect();
    let want: Vec<Option<f64>> = series.iter().map(|v| Some(v.1)).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn the_jobs_table_shows_host_counts_where_loaded() {
    let env = Env::new().await;
    let check = |frame: &DecodedFrame, runs: &HashMap<i64, TruthRun>, all: bool, what: &str| {
        let by_id: HashMap<i64, &TruthJob> = env.truth.iter().map(|j| (j.id, j)).collect();
        let mut seen = [0usize; 4];
        for (i, id) in column(frame, "id").iter().enumerate() {
            let j = by_id[&(id.f64().unwrap() as i64)];
            let read = j.job_type == "job"
                && j.finished.is_some()
                && if all {
                    oracle::is_final(&j.status) && j.started.is_some()
                } else {
                    j.status == "failed" || j.status == "error"
                };
            let mut counts: BTreeMap<&str, f64> = BTreeMap::new();
            for h in runs.get(&j.id).map(|r| &r.hosts[..]).unwrap_or(&[]) {
                *counts.entry(h.outcome()).or_default() += 1.0;
            }
            for (k, (field, outcome)) in [
                ("hosts_ok", "ok"),
                ("hosts_changed", "changed"),
                ("hosts_failed", "failed"),
                ("hosts_unreachable", "unreachable"),
            ]
            .into_iter()
            .enumerate()
            {
                let want =
                    (read && (all || k >= 2)).then(|| counts.get(outcome).copied().unwrap_or(0.0));
                assert_close(
                    num(&column(frame, field)[i]),
                    want,
                    &format!("{what}: job {} {field}", j.id),
                );
                if want.is_some_and(|w| w > 0.0) {
                    seen[k] += 1;
                }
            }
        }
        seen
    };

    // Failed hosts of failed jobs (the default when asked for): 2 days of failures.
    let (from, to) = (env.now - 2 * DAY, env.now);
    let runs = env.runs(from - 30 * DAY, to, true).await;
    let frame = env
        .run(
            json!({"queryType": "jobs", "hostSummaries": "failed", "filters": {"status": ["failed", "error"]}, "limit": 500}),
            from,
            to,
            HOUR,
        )
        .await;
    let seen = check(&frame, &runs, false, "failed");
    assert!(
        seen[2] > 5 && seen[3] > 2,
        "failed and unreachable hosts shown: {seen:?}"
    );

    // Every host of the newest playbook runs.
    let (from, to) = (env.now - 6 * HOUR, env.now);
    let runs = env.runs(from, to, false).await;
    let frame = env
        .run(
            json!({"queryType": "jobs", "hostSummaries": "all", "filters": {"jobType": ["job"]}, "limit": 60}),
            from,
            to,
            HOUR,
        )
        .await;
    let seen = check(&frame, &runs, true, "all");
    assert!(
        seen[0] > 10 && seen[1] > 10,
        "ok and changed hosts shown: {seen:?}"
    );

    // Not asked: no host columns, no host lists.
    env.reset_stats().await;
    let frame = env
        .run_on(
            &env.uncached,
            json!({"queryType": "jobs", "limit": 50}),
            from,
            to,
            HOUR,
        )
        .await
        .unwrap();
    assert!(frame.field("hosts_failed").is_none());
    assert_eq!(env.summary_requests().await, 0);
}

#[tokio::test]
async fn host_queries_refuse_what_they_cannot_answer() {
    let env = Env::new().await;
    let (from, to) = (env.now - DAY, env.now);
    for (q, field) in [
        (
            json!({"queryType": "host_outcomes", "hostSummaries": "none"}),
            "hostSummaries",
        ),
        (
            json!({"queryType": "host_failures", "hostSummaries": "some"}),
            "hostSummaries",
        ),
        (
            json!({"queryType": "job_throughput", "groupBy": "host"}),
            "groupBy",
        ),
        (
            json!({"queryType": "jobs", "filters": {"host": ["x"]}}),
            "filters.host",
        ),
        (
            json!({"queryType": "host_outcomes", "source": "prometheus"}),
            "prometheus",
        ),
    ] {
        let e = env
            .run_on(&env.cached, q.clone(), from, to, HOUR)
            .await
            .expect_err(&q.to_string());
        assert!(e.contains(field), "{q}: {e}");
    }
}

/// AWX's requests since the last reset: in all, and those of one kind (paths containing
/// `part`).
async fn requests(sim: &Sim, part: &str) -> (u64, u64) {
    let stats = sim.stats().await.unwrap();
    let of: u64 = stats["requests_by_path"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.contains(part))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    (stats["requests_total"].as_u64().unwrap(), of)
}

/// A plugin as Grafana starts it with a cache directory (grafana.ini's `cache_dir`).
async fn spawn_with_cache(dir: &std::path::Path) -> Plugin {
    let dir = dir.to_str().unwrap();
    Plugin::spawn_binary(
        &e2e::procs::bin_dir().join("gpx_awx"),
        &[("GF_PLUGIN_CACHE_DIR", dir)],
    )
    .await
    .unwrap()
}

/// Waits until the cache file stopped changing: the writer thread committed what it was
/// handed (a host write changes the file's modification time, if not always its size).
async fn written(dir: &std::path::Path) {
    let state = || {
        std::fs::read_dir(dir).ok().map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| (m.len(), m.modified().ok()))
                .collect::<Vec<_>>()
        })
    };
    let mut last = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = state();
        if now.as_ref().is_some_and(|s| !s.is_empty()) && now == last {
            return;
        }
        last = now;
    }
    panic!("the cache file kept changing");
}

/// Each query (and the start of its range) up to `to`, all at once as a dashboard's panels
/// arrive, each answer required.
async fn answers(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    queries: &[(Value, i64)],
    to: i64,
) -> Vec<DecodedFrame> {
    let frames = futures::future::join_all(
        queries
            .iter()
            .map(|(q, from)| ask(plugin, ds, q.clone(), *from, to, HOUR)),
    )
    .await;
    let each = frames.into_iter().zip(queries);
    each.map(|(f, (q, _))| f.unwrap_or_else(|e| panic!("{q}: {e}")))
        .collect()
}

#[tokio::test]
async fn a_restart_and_a_saved_setting_read_no_host_list_again() {
    let env = Env::new().await;
    let dir = e2e::procs::TempDir::new("awx-hosts-persist").unwrap();
    let cache = dir.0.join("cache");
    // Ranges that end 10 minutes before AWX's clock: every list in them is settled (read
    // 2 minutes or more after its job ended, by that clock), and only settled lists are
    // kept; a younger one is read again seconds later anyway, restart or not.
    let to = env.now - 10 * 60_000;
    let awx_now = env.truth.iter().filter_map(|j| j.modified).max().unwrap();
    for j in &env.truth {
        if let Some(f) = j.finished.filter(|f| f.timestamp_millis() < to) {
            assert!(
                (awx_now - f).num_seconds() >= 120,
                "job {} is settled",
                j.id
            );
        }
    }
    let queries = [
        (
            json!({"queryType": "host_failures", "groupBy": "host"}),
            to - 3 * DAY,
        ),
        (
            json!({"queryType": "jobs", "hostSummaries": "failed", "filters": {"status": ["failed", "error"]}, "limit": 500}),
            to - 2 * DAY,
        ),
        // These also read the current state of the hosts they show (`hosts/?id__in=`),
        // never kept: enabled, has_active_failures.
        (
            json!({"queryType": "host_outcomes", "limit": 10000}),
            to - 7 * DAY,
        ),
        (
            json!({"queryType": "host_outcomes", "hostSummaries": "all", "limit": 10000}),
            to - 6 * HOUR,
        ),
    ];
    let mut want = Vec::new();
    for (q, from) in &queries {
        want.push(
            env.run_on(&env.uncached, q.clone(), *from, to, HOUR)
                .await
                .unwrap_or_else(|e| panic!("{q}: {e}")),
        );
    }
    // The oracle for the worst-hosts tables (the others are held to the uncached source,
    // which the other tests hold to the oracle).
    let oracle_rows = |from: i64, all: bool| {
        let env = &env;
        async move {
            let runs = env.runs(from, to, !all).await;
            let jobs: Vec<&TruthJob> = env
                .truth
                .iter()
                .filter(|j| oracle::reads_hosts(j, all, from * 1000, to * 1000))
                .collect();
            oracle::host_outcomes(&jobs, &runs, all, &|_| None, &[])
        }
    };
    let failed_rows = oracle_rows(queries[2].1, false).await;
    let all_rows = oracle_rows(queries[3].1, true).await;
    assert!(failed_rows.len() > 30 && all_rows.len() > 1000);
    let check = |frames: &[DecodedFrame], what: &str| {
        // Answered from the disk copy while the restart's refresh runs (a busy machine):
        // said, and the same numbers with AWX frozen.
        let notices = |f: &DecodedFrame| {
            let mut n = f.notices();
            n.retain(|n| !n.contains("job cache kept on disk"));
            n
        };
        for ((q, _), (got, want)) in queries.iter().zip(frames.iter().zip(&want)) {
            let at = format!("{what}: {q}");
            e2e::frames::assert_same_fields(got, want, &at);
            assert_eq!(notices(got), notices(want), "{at}: notices");
        }
        assert_host_rows(&env, &frames[2], &failed_rows, false, what);
        assert_host_rows(&env, &frames[3], &all_rows, true, what);
    };
    let ds = datasource(&env.sim.url, json!({}), &[("token", ADMIN_TOKEN)]);

    // Cold, with the cache directory: every list read once.
    env.reset_stats().await;
    let mut plugin = spawn_with_cache(&cache).await;
    // The widest range first, so that the job records cover it from their first fill: a
    // later, wider range extends them backwards, and the refresh after that (here: the
    // restart's) counts AWX's jobs before the new coverage once more, a third request that
    // is the job records' and not what this test is about.
    let mut frames = answers(&plugin, &ds, &queries[2..3], to).await;
    frames.splice(0..0, answers(&plugin, &ds, &queries[..2], to).await);
    frames.extend(answers(&plugin, &ds, &queries[3..], to).await);
    check(&frames, "cold");
    let (cold_total, cold_lists) = requests(&env.sim, "job_host_summaries").await;
    assert!(cold_lists > 100, "{cold_lists} host lists read cold");
    written(&cache).await;
    plugin.terminate().unwrap();

    // A restart on the same directory: the job records cost their refresh (two requests),
    // the host lists nothing. The worst-hosts tables also read the current state of the
    // hosts they show (`hosts/?id__in=`, 200 at a time: enabled, has_active_failures), never
    // kept.
    env.reset_stats().await;
    let plugin = spawn_with_cache(&cache).await;
    let frames = answers(&plugin, &ds, &queries, to).await;
    check(&frames, "after a restart");
    let (total, lists) = requests(&env.sim, "job_host_summaries").await;
    let (_, states) = requests(&env.sim, "/hosts/").await;
    eprintln!(
        "host lists: cold {cold_lists} of {cold_total} requests; after a restart {lists} of \
         {total} ({states} of them hosts/ for the hosts' current state)"
    );
    assert_eq!(lists, 0, "no host list read again");
    let shown = |f: &DecodedFrame| f.rows().div_ceil(200) as u64;
    assert_eq!(
        states,
        shown(&frames[2]) + shown(&frames[3]),
        "hosts/ requests"
    );
    assert!(total - states <= 2, "{total} requests after a restart");
    assert!(
        plugin
            .stderr()
            .contains("job host summaries read from disk"),
        "{}",
        plugin.stderr()
    );

    // A saved setting (Grafana bumps lastUpdated): a new instance on the same file.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let mut saved = ds.clone();
    saved.last_updated_ms += 1;
    env.reset_stats().await;
    let frames = answers(&plugin, &saved, &queries, to).await;
    check(&frames, "after a saved setting");
    let (total, lists) = requests(&env.sim, "job_host_summaries").await;
    let (_, states) = requests(&env.sim, "/hosts/").await;
    assert_eq!(lists, 0, "no host list read again after a saved setting");
    assert!(
        total - states <= 2,
        "{total} requests after a saved setting"
    );
}

/// The overview's host panels (the Jobs table with its host counts, the Hosts row) as
/// stored, the dashboard's variables left out as "All".
fn overview_host_panels() -> Vec<Value> {
    let path = e2e::procs::workspace_dir().join("dashboards/awx-overview.json");
    let d: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = d["panels"].as_array().into_iter().flatten().collect();
    while let Some(p) = stack.pop() {
        stack.extend(p["panels"].as_array().into_iter().flatten());
        for t in p["targets"].as_array().into_iter().flatten() {
            let qt = t["queryType"].as_str().unwrap_or_default();
            if qt.starts_with("host_")
                || (qt == "jobs" && t["hostSummaries"].as_str().is_some_and(|h| h != "none"))
            {
                let mut q = t.clone();
                q.as_object_mut().unwrap().remove("datasource");
                if let Some(filters) = q["filters"].as_object_mut() {
                    filters.retain(|_, v| {
                        !v.as_array()
                            .unwrap()
                            .iter()
                            .all(|x| x.as_str().is_some_and(|s| s.starts_with('$')))
                    });
                }
                out.push(q);
            }
        }
    }
    assert_eq!(out.len(), 4, "{out:?}");
    out
}

/// docs/BENCHMARKS.md's host outcomes across a restart: the overview's host panels over
/// 30 days at 3,334 jobs a day (100,000 jobs), all at once as Grafana sends them, against
/// the simulator serving 4 requests at once at 30 ms each; refreshed until no panel is
/// partial and no list is read, then the plugin restarted on its cache directory. Prints
/// AWX's requests by kind. Run it by name with `--ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement for docs/BENCHMARKS.md (about a minute), not a test"]
async fn probe_the_overviews_host_panels_across_a_restart() {
    let sim = Sim::start(SimOptions {
        days: 30,
        jobs_per_day: 3334,
        extra: ["--workers", "4", "--latency-ms", "30"]
            .map(String::from)
            .to_vec(),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let panels = overview_host_panels();
    let dir = e2e::procs::TempDir::new("awx-hosts-probe").unwrap();
    let cache = dir.0.join("cache");
    let ds = datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let now = ms(SIM_NOW);
    let kinds = async || {
        let stats = sim.stats().await.unwrap();
        let mut by = BTreeMap::<&str, u64>::new();
        for (path, n) in stats["requests_by_path"].as_object().unwrap() {
            let kind = if path.contains("/job_host_summaries/") {
                "host lists"
            } else if path.ends_with("/hosts/") {
                "hosts/"
            } else {
                "job records and other"
            };
            *by.entry(kind).or_default() += n.as_u64().unwrap();
        }
        sim.post("/_sim/stats/reset", json!({})).await.unwrap();
        by
    };
    let dashboard = async |plugin: &Plugin| {
        let started = std::time::Instant::now();
        let answers = futures::future::join_all(
            panels
                .iter()
                .map(|q| ask(plugin, &ds, q.clone(), now - 30 * DAY, now, HOUR)),
        )
        .await;
        let partial = answers.iter().any(|a| {
            a.as_ref()
                .unwrap_or_else(|e| panic!("{e}"))
                .notices()
                .iter()
                .any(|n| n.contains("being read for the first time"))
        });
        (started.elapsed(), partial)
    };

    let mut plugin = spawn_with_cache(&cache).await;
    kinds().await;
    for run in 0.. {
        let (took, partial) = dashboard(&plugin).await;
        let by = kinds().await;
        eprintln!(
            "run {run}: {by:?} in {took:?}{}",
            if partial { ", partial" } else { "" }
        );
        if !partial && by.get("host lists").is_none_or(|&n| n == 0) {
            break;
        }
        assert!(run < 20, "the dashboard never completed");
        tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    }
    written(&cache).await;
    plugin.terminate().unwrap();
    kinds().await;
    let plugin = spawn_with_cache(&cache).await;
    let (took, partial) = dashboard(&plugin).await;
    eprintln!(
        "after a restart: {:?} in {took:?} (partial: {partial})",
        kinds().await
    );
}
