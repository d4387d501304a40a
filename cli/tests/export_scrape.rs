//! `awx-kpi export`'s scrapes against the simulator: what was counted, in both formats, and
//! what a scrape costs AWX. (A file of its own: the counting test shortens the cache's
//! reconcile period for its process, which would change the cost measured here.)

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use awx_kpi::connect::ConnArgs;
use awx_kpi::export::metrics::Format;
use awx_kpi::export::{exporter, ExportArgs};

const NOW: &str = "2024-10-01T00:00:00Z";

#[derive(Debug, Deserialize)]
struct Truth {
    id: i64,
    status: String,
    launch_type: String,
}

fn is_final(status: &str) -> bool {
    matches!(status, "successful" | "failed" | "error" | "canceled")
}

/// The sum of a family's samples in the Prometheus text format.
fn total(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")) || l.starts_with(&format!("{family} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_serves_what_was_counted_in_both_formats_for_three_requests() {
    let sim = awx_sim::start(awx_sim::Config {
        days: 1,
        jobs_per_day: 6000.0,
        seed: 17,
        ..awx_sim::Config::for_tests(NOW)
    })
    .await
    .expect("the simulator starts");
    let http = reqwest::Client::new();
    let truth = || async {
        http.get(format!("{}/_sim/truth/jobs", sim.url()))
            .send()
            .await
            .unwrap()
            .json::<Vec<Truth>>()
            .await
            .unwrap()
    };
    let conn = ConnArgs {
        url: Some(sim.url()),
        token: Some("sim-admin-token".into()),
        ..Default::default()
    };
    let args = ExportArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_templates: 200,
        include_syncs: false,
        new_series_hold: Duration::ZERO,
    };
    // The job cache's size left to the exporter's default.
    let ex = exporter(&conn, &args, false).unwrap();
    let base = truth().await;
    ex.sync().await;
    let r = http
        .post(format!("{}/_sim/advance?seconds=600", sim.url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let after = truth().await;
    let before: HashMap<i64, &Truth> = base.iter().map(|t| (t.id, t)).collect();
    let want = after
        .iter()
        .filter(|t| t.launch_type != "sync" && is_final(&t.status))
        .filter(|t| before.get(&t.id).is_none_or(|b| !is_final(&b.status)))
        .count();
    assert!(want > 10, "the oracle found {want} jobs");
    // The first scrape after the change shows the new series at 0, the next their counts.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let first = ex.scrape(Format::PrometheusText).await.unwrap();
    let second = ex.scrape(Format::PrometheusText).await.unwrap();
    let om = ex.scrape(Format::OpenMetrics).await.unwrap();
    assert!(total(&first, "awx_jobs_total") < want as f64, "{first}");
    assert_eq!(total(&second, "awx_jobs_total"), want as f64, "{second}");
    assert_eq!(total(&om, "awx_jobs_total"), want as f64, "{om}");
    let running = after
        .iter()
        .filter(|t| t.launch_type != "sync" && matches!(t.status.as_str(), "running" | "waiting"))
        .count();
    assert_eq!(
        total(&second, "awx_running_jobs"),
        running as f64,
        "{second}"
    );
    assert_eq!(total(&second, "awx_exporter_sync_errors_total"), 0.0);
    assert!(second.contains("awx_exporter_last_sync_timestamp_seconds "));
    assert!(total(&second, "awx_capacity") > 0.0, "{second}");
    // A scrape past the cache's 2 s freshness: its warm refresh (2 requests) and instances/.
    let requests = total(&om, "awx_exporter_awx_requests_total");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let next = ex.scrape(Format::PrometheusText).await.unwrap();
    assert_eq!(
        total(&next, "awx_exporter_awx_requests_total") - requests,
        3.0,
        "{next}"
    );
    // Within the 2 s, scrapes share the jobs' sync: instances/ only.
    let again = ex.scrape(Format::PrometheusText).await.unwrap();
    assert_eq!(
        total(&again, "awx_exporter_awx_requests_total") - requests,
        4.0
    );
}
