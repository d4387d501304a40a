//! The built `awx-kpi` binary against an embedded simulator: flags and environment
//! variables, output, exit codes, and the token never printed.

use std::process::Output;

use awx_kpi::demo::SIM_TOKEN;

const NOW: &str = "2024-10-01T00:00:00Z";

async fn awx_kpi(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_awx-kpi"));
    cmd.args(args);
    for var in [
        "AWX_URL",
        "AWX_TOKEN",
        "AWX_USERNAME",
        "AWX_PASSWORD",
        "AWX_API_PATH",
        "PROMETHEUS_URL",
        "PROMETHEUS_SELECTOR",
        "PROMETHEUS_TOKEN",
        "AWX_TLS_SKIP_VERIFY",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().await.expect("awx-kpi runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

async fn sim() -> awx_sim::RunningSim {
    awx_sim::start(awx_sim::Config {
        days: 8,
        jobs_per_day: 200.0,
        ..awx_sim::Config::for_tests(NOW)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_reads_the_connection_from_the_environment_and_filters_from_flags() {
    let sim = sim().await;
    let url = sim.url();
    let env = [("AWX_URL", url.as_str()), ("AWX_TOKEN", SIM_TOKEN)];
    let range = ["--from", "2024-09-24T00:00:00Z", "--to", NOW];

    let all = awx_kpi(
        &[&["query", "job_status_counts"][..], &range].concat(),
        &env,
    )
    .await;
    assert_eq!(all.status.code(), Some(0), "{}", text(&all.stderr));
    let failed = awx_kpi(
        &[
            &[
                "query",
                "job_status_counts",
                "--filter",
                "status=failed,error",
            ][..],
            &range,
            &["--format", "csv"],
        ]
        .concat(),
        &env,
    )
    .await;
    assert_eq!(failed.status.code(), Some(0), "{}", text(&failed.stderr));

    // The unfiltered table has the 8 statuses; the filtered CSV keeps them, with only
    // failed and error counted (the others null: empty cells), as in the unfiltered table.
    let all = text(&all.stdout);
    assert!(all.starts_with("job_status_counts\n  query: "), "{all}");
    let count_of = |status: &str| -> u64 {
        let line = all
            .lines()
            .find(|l| l.starts_with(&format!("| {status} ")))
            .unwrap_or_else(|| panic!("no {status} row in\n{all}"));
        line.trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let csv = text(&failed.stdout);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("status,count"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 8, "{csv}");
    let statuses: Vec<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
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
    for row in rows {
        let (status, n) = row.split_once(',').unwrap();
        if status == "failed" || status == "error" {
            assert_eq!(n.parse::<u64>().unwrap(), count_of(status), "{status}");
        } else {
            assert_eq!(n, "", "{status}");
        }
    }
    assert!(count_of("failed") > 0);

    // The query JSON a panel would send, then a series with labelled columns.
    let out = awx_kpi(
        &[
            &[
                "query",
                "job_throughput",
                "--interval",
                "1d",
                "--show-query",
            ][..],
            &range,
        ]
        .concat(),
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = text(&out.stdout);
    assert!(out.contains("\"intervalMs\": 86400000"), "{out}");
    assert!(out.contains("\"queryType\": \"job_throughput\""), "{out}");
    assert!(
        out.contains("| time                 | jobs{status=successful} |"),
        "{out}"
    );
    assert!(out.contains("(7 rows)"), "{out}");
    assert!(!out.contains(SIM_TOKEN));

    // A bad query fails alone with the plugin's message and exit code 1.
    let bad = awx_kpi(&["query", "job_duration", "--stats", "p42"], &env).await;
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        text(&bad.stderr),
        "error: invalid query: stats: `p42` is not a statistic; use any of: mean, min, max, p50, p90, p95, p99, count\n"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_each_check_and_missing_settings_say_what_to_set() {
    let sim = sim().await;
    let url = sim.url();

    let ok = awx_kpi(&["check", "--url", &url, "--token", SIM_TOKEN], &[]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let out = text(&ok.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with(&format!(
            "OK       AWX reachable         AWX 24.6.1 at {url}/api/v2/ (active node awx-control-1"
        )),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "OK       AWX credentials       signed in as admin (superuser)"
    );
    assert_eq!(
        lines[2],
        "SKIPPED  Prometheus reachable  no Prometheus URL configured: the Prometheus-backed query types are unavailable"
    );
    assert_eq!(lines[3], "Data source is working");
    assert!(!out.contains(SIM_TOKEN));

    let revoked = awx_kpi(&["check", "--url", &url, "--token", "not-a-token"], &[]).await;
    assert_eq!(revoked.status.code(), Some(1));
    let out = text(&revoked.stdout);
    assert!(
        out.contains("ERROR    AWX credentials       AWX rejected the credentials (401)"),
        "{out}"
    );
    assert!(out.ends_with("Data source is NOT working: fix the checks marked ERROR\n"));
    assert!(!out.contains("not-a-token") && !text(&revoked.stderr).contains("not-a-token"));

    let basic = awx_kpi(
        &["check", "--format", "json"],
        &[
            ("AWX_URL", &url),
            ("AWX_USERNAME", "admin"),
            ("AWX_PASSWORD", "password"),
        ],
    )
    .await;
    assert_eq!(basic.status.code(), Some(0), "{}", text(&basic.stderr));
    let v: serde_json::Value = serde_json::from_slice(&basic.stdout).unwrap();
    assert_eq!(v["ok"], serde_json::json!(true));
    assert_eq!(v["checks"][1]["status"], serde_json::json!("ok"));

    let no_url = awx_kpi(&["query", "jobs"], &[("AWX_TOKEN", SIM_TOKEN)]).await;
    assert_eq!(no_url.status.code(), Some(2));
    assert_eq!(
        text(&no_url.stderr),
        "error: data source settings: The AWX URL is empty: set the data source URL to your AWX base URL, e.g. https://awx.example.com\n  hint: pass --url or set AWX_URL\n"
    );
    let no_token = awx_kpi(&["check"], &[("AWX_URL", &url)]).await;
    assert_eq!(no_token.status.code(), Some(2));
    assert!(text(&no_token.stderr).starts_with("error: data source settings: No AWX token is set"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_serves_metrics_until_sigterm_and_refuses_what_it_cannot_do() {
    use tokio::io::AsyncBufReadExt;

    let sim = sim().await;
    let url = sim.url();
    let env = [("AWX_URL", url.as_str()), ("AWX_TOKEN", SIM_TOKEN)];

    // Settings it cannot work with, each with what to fix and exit code 2.
    let no_cache = awx_kpi(&["export", "--job-cache-mb", "0"], &env).await;
    assert_eq!(no_cache.status.code(), Some(2));
    assert_eq!(
        text(&no_cache.stderr),
        "error: awx-kpi export needs the job cache: --job-cache-mb must be at least 1\n  hint: leave --job-cache-mb out for the default of 256 MiB\n"
    );
    let hold = awx_kpi(&["export", "--new-series-hold", "soon"], &env).await;
    assert_eq!(hold.status.code(), Some(2));
    assert!(
        text(&hold.stderr).contains("`soon` is not an interval: write a number and a unit, e.g. 30s, 5m, 1h or 1d (or 0s for one scrape only)"),
        "{}",
        text(&hold.stderr)
    );
    let cap = awx_kpi(&["export", "--max-templates", "0"], &env).await;
    assert_eq!(cap.status.code(), Some(2));
    assert!(
        text(&cap.stderr).contains("--max-templates"),
        "{}",
        text(&cap.stderr)
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let busy = awx_kpi(&["export", "--listen", &addr], &env).await;
    assert_eq!(busy.status.code(), Some(2));
    assert!(
        text(&busy.stderr).starts_with(&format!("error: cannot listen on {addr}: ")),
        "{}",
        text(&busy.stderr)
    );
    assert!(text(&busy.stderr).contains("hint: choose another --listen address or port"));

    // A server: one line on stdout, /metrics in the text format, a clean stop on SIGTERM.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_awx-kpi"))
        .args(["export", "--listen", "127.0.0.1:0"])
        .envs(env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().unwrap();
    let metrics = line
        .split_whitespace()
        .find(|w| w.ends_with("/metrics"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert_eq!(
        line,
        format!("awx-kpi export: serving {metrics} for {url}/api/v2/")
    );
    let resp = reqwest::get(&metrics).await.unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = resp.text().await.unwrap();
    assert!(body.contains("# TYPE awx_running_jobs gauge"), "{body}");
    assert!(body.contains("awx_exporter_sync_errors_total 0"), "{body}");
    assert!(!body.contains(SIM_TOKEN));
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        lines.next_line().await.unwrap().is_none(),
        "one line on stdout"
    );
    let log = text(&out.stderr);
    assert!(log.contains("baseline taken"), "{log}");
    assert!(!log.contains(SIM_TOKEN));
    sim.shutdown().await;
}
