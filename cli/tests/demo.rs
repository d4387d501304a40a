//! The demo against the embedded simulator: every KPI printed a non-empty table, and the
//! numbers agree with each other where the contract says they must.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use awx_datasource::frame::{Field, Frame, Values};
use awx_kpi::demo::{run_demo, DemoArgs, DEMO_QUERIES};
use awx_kpi::render;

const STATUSES: [&str; 8] = [
    "new",
    "pending",
    "waiting",
    "running",
    "successful",
    "failed",
    "error",
    "canceled",
];

fn field<'a>(frame: &'a Frame, name: &str) -> &'a Field {
    frame
        .fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{}: no field {name}", frame.name))
}

fn numbers(f: &Field) -> Vec<Option<f64>> {
    match &f.values {
        Values::F64(v) => v.clone(),
        Values::I64(v) => v.iter().map(|x| x.map(|x| x as f64)).collect(),
        other => panic!("{}: not numbers: {other:?}", f.name),
    }
}

fn sum(f: &Field) -> f64 {
    numbers(f).iter().flatten().sum()
}

fn strings(f: &Field) -> Vec<Option<String>> {
    match &f.values {
        Values::Str(v) => v.clone(),
        other => panic!("{}: not strings: {other:?}", f.name),
    }
}

fn times(f: &Field) -> Vec<i64> {
    match &f.values {
        Values::Time(v) => v.iter().map(|t| t.expect("no null times")).collect(),
        other => panic!("{}: not times: {other:?}", f.name),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_every_kpi_from_the_simulator() {
    let started = Instant::now();
    let mut out = Vec::new();
    let items = run_demo(&DemoArgs::default(), &mut out).await.unwrap();
    let elapsed = started.elapsed();
    let text = String::from_utf8(out).unwrap();
    assert!(
        elapsed < Duration::from_secs(20),
        "the demo took {elapsed:?}"
    );

    // Every KPI of the brief, in order, each under its command line.
    let types: Vec<&str> = items.iter().map(|i| i.query_type.as_str()).collect();
    assert_eq!(types, DEMO_QUERIES.iter().map(|q| q[0]).collect::<Vec<_>>());
    assert_eq!(types.len(), 13);
    let mut frames: HashMap<&str, &Frame> = HashMap::new();
    for item in &items {
        assert!(
            text.contains(&format!("$ {}\n", item.command)),
            "{}",
            item.command
        );
        match &item.result {
            Ok(fs) => {
                assert_eq!(fs.len(), 1, "{}: one frame", item.command);
                let f = &fs[0];
                assert!(f.rows() > 0, "{}: empty table", item.command);
                assert!(!f.fields.is_empty());
                assert!(
                    f.meta
                        .executed_query_string
                        .as_deref()
                        .unwrap_or("")
                        .contains("/api/v2/"),
                    "{}: executedQueryString {:?}",
                    item.command,
                    f.meta.executed_query_string
                );
                let footer = format!(
                    "({} row{})\n",
                    f.rows(),
                    if f.rows() == 1 { "" } else { "s" }
                );
                assert!(text.contains(&footer), "{}: {footer}", item.command);
                frames.insert(item.query_type.as_str(), f);
            }
            Err(e) => panic!("{}: {e}", item.command),
        }
    }
    assert!(text.contains("13 queries, 0 failed"), "{text}");
    assert!(text.starts_with(
        "awx-kpi demo: a simulated AWX (awx-sim, seed 1, 14 days x 300 jobs/day) at http://127.0.0.1:"
    ));

    // job_status_counts: the 8 statuses, in lifecycle order, in the frame and on screen.
    let counts = frames["job_status_counts"];
    let statuses: Vec<String> = strings(field(counts, "status"))
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(statuses, STATUSES);
    let count: HashMap<&str, f64> = STATUSES
        .iter()
        .copied()
        .zip(
            numbers(field(counts, "count"))
                .into_iter()
                .map(Option::unwrap),
        )
        .collect();
    for s in STATUSES {
        let line = format!("| {s:<10} | {:>5} |", count[s]);
        assert!(text.contains(&line), "missing `{line}`");
    }
    assert!(count["successful"] > 1000.0, "{count:?}");
    assert!(count["failed"] > 0.0, "{count:?}");

    // 7 daily buckets, from now-7d, in every time series.
    let day = 86_400_000_000_000i64;
    let t0 = 1_727_136_000_000_000_000i64; // 2024-09-24T00:00:00Z
    for kpi in [
        "job_throughput",
        "failure_rate",
        "job_duration",
        "queue_wait",
        "active_jobs",
    ] {
        let t = times(field(frames[kpi], "time"));
        assert_eq!(t, (0..7).map(|i| t0 + i * day).collect::<Vec<_>>(), "{kpi}");
    }
    assert!(text.contains("| 2024-09-24T00:00:00Z |") && text.contains("| 2024-09-30T00:00:00Z |"));

    // job_throughput per final status adds up to the status counts over the same range.
    let tp = frames["job_throughput"];
    for s in ["successful", "failed", "error", "canceled"] {
        let f = tp
            .fields
            .iter()
            .find(|f| f.labels.get("status").map(String::as_str) == Some(s))
            .unwrap_or_else(|| panic!("no jobs{{status={s}}}"));
        assert_eq!(sum(f), count[s], "throughput of {s}");
        assert!(text.contains(&format!(" {} |", render::header(f))));
        assert!(render::header(f).contains(&format!("status={s}")));
    }

    // failure_rate = (failed + error) / (successful + failed + error), per bucket and in total.
    let fr = frames["failure_rate"];
    let failures = numbers(field(fr, "failures"));
    let finished = numbers(field(fr, "finished"));
    let rate = numbers(field(fr, "failure_rate"));
    assert_eq!(sum(field(fr, "failures")), count["failed"] + count["error"]);
    assert_eq!(
        sum(field(fr, "finished")),
        count["successful"] + count["failed"] + count["error"]
    );
    for i in 0..7 {
        let want = failures[i].unwrap() / finished[i].unwrap() * 100.0;
        assert!((rate[i].unwrap() - want).abs() < 1e-9, "bucket {i}");
    }
    let rate_field = field(fr, "failure_rate");
    assert!(render::header(rate_field).ends_with(" (%)"));
    assert!(text.contains(&format!("| {} |", render::header(rate_field))));

    // job_duration by template: one p95 field per template, labelled.
    let jd = frames["job_duration"];
    assert!(jd.fields.len() > 10, "{} fields", jd.fields.len());
    for f in &jd.fields[1..] {
        assert_eq!(f.name, "p95");
        assert!(f.labels.contains_key("template"), "{:?}", f.labels);
    }
    let deploy = jd
        .fields
        .iter()
        .find(|f| f.labels.get("template").map(String::as_str) == Some("Deploy Web App"))
        .expect("a p95 field for Deploy Web App");
    let header = render::header(deploy);
    assert!(
        header.starts_with("p95{")
            && header.contains("template=Deploy Web App")
            && header.ends_with("} (s)"),
        "{header}"
    );
    assert!(text.contains(&format!(" {header} |")), "{header}");

    // queue_wait: the asked statistics, never negative, max >= p95.
    let qw = frames["queue_wait"];
    let names: Vec<&str> = qw.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["time", "mean", "p95", "max"]);
    let p95 = numbers(field(qw, "p95"));
    let max = numbers(field(qw, "max"));
    for i in 0..7 {
        assert!(p95[i].unwrap() >= 0.0 && max[i].unwrap() >= p95[i].unwrap());
    }

    // active_jobs (api): pending and running counts, never negative.
    let aj = frames["active_jobs"];
    for name in ["pending", "running"] {
        assert!(numbers(field(aj, name)).iter().flatten().all(|v| *v >= 0.0));
    }

    // capacity (api): one point per instance and measure, and a total that adds them up.
    let cap = frames["capacity"];
    let capacity: Vec<(&str, f64)> = cap
        .fields
        .iter()
        .filter(|f| f.name == "capacity")
        .map(|f| (f.labels["hostname"].as_str(), sum(f)))
        .collect();
    let (total, hosts) = capacity.split_last().expect("capacity fields");
    assert_eq!(total.0, "total");
    assert_eq!(total.1, hosts.iter().map(|(_, c)| c).sum::<f64>());

    // instances: every instance of capacity, and more (the hop node).
    let inst_hosts = strings(field(frames["instances"], "hostname"));
    for (h, _) in hosts {
        assert!(inst_hosts.contains(&Some(h.to_string())), "{h:?}");
    }
    assert!(inst_hosts.len() >= hosts.len());

    // templates: runs = successful + failed + canceled, and no more runs than finished jobs.
    let tt = frames["templates"];
    let runs = numbers(field(tt, "runs"));
    let ok = numbers(field(tt, "successful"));
    let bad = numbers(field(tt, "failed"));
    let canceled = numbers(field(tt, "canceled"));
    for i in 0..tt.rows() {
        assert_eq!(
            runs[i].unwrap(),
            ok[i].unwrap() + bad[i].unwrap() + canceled[i].unwrap()
        );
    }
    let total_final = count["successful"] + count["failed"] + count["error"] + count["canceled"];
    assert!(sum(field(tt, "runs")) <= total_final);
    assert!(strings(field(tt, "template")).contains(&Some("Deploy Web App".into())));

    // jobs: the newest 10, newest first.
    let jobs = frames["jobs"];
    assert_eq!(jobs.rows(), 10);
    let ids = numbers(field(jobs, "id"));
    assert!(
        ids.windows(2).all(|w| w[0].unwrap() > w[1].unwrap()),
        "{ids:?}"
    );

    // annotations: 5 failures (failed or error) with a start and an end.
    let an = frames["annotations"];
    assert_eq!(an.rows(), 5);
    for title in strings(field(an, "title")) {
        let title = title.unwrap();
        assert!(
            title.ends_with(" failed") || title.ends_with(" error"),
            "{title}"
        );
    }

    // system: one row; its template count is the number of templates the lookup lists.
    let sys = frames["system"];
    assert_eq!(sys.rows(), 1);
    assert_eq!(strings(field(sys, "version"))[0].as_deref(), Some("24.6.1"));
    let lk = frames["lookup"];
    assert_eq!(sum(field(sys, "templates")), lk.rows() as f64);
    let texts = strings(field(lk, "text"));
    assert!(texts.contains(&Some("Deploy Web App".into())), "{texts:?}");
    assert!(text.contains("| Deploy Web App "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_only_the_query_types_asked_for() {
    let mut out = Vec::new();
    let args = DemoArgs {
        query_types: vec!["jobs".into(), "instances".into()],
        ..DemoArgs::default()
    };
    let items = run_demo(&args, &mut out).await.unwrap();
    let types: Vec<&str> = items.iter().map(|i| i.query_type.as_str()).collect();
    assert_eq!(types, ["instances", "jobs"]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("$ awx-kpi query jobs --limit 10 --from now-7d --to now\njobs\n"));
    assert!(text.contains("2 queries, 0 failed"), "{text}");

    let bad = DemoArgs {
        query_types: vec!["promql".into()],
        ..DemoArgs::default()
    };
    let e = run_demo(&bad, &mut Vec::new()).await.unwrap_err();
    assert!(
        e.to_string().starts_with(
            "`promql` is not one of the demo's query types: job_status_counts, job_throughput"
        ),
        "{e}"
    );
}
