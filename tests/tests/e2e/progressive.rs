//! Progressive answers on an AWX as slow as a real one (the simulator's cost model,
//! calibrated on AWX 24.6.1, sped up): a cold dashboard gets an answer within the
//! dashboard wait, with a notice saying how far back it reaches; the recent range is
//! exact at once; alert queries are never partial; and once the reading has finished,
//! answers equal an uncached source's on the same history.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use e2e::{datasource, ms, query, Plugin, Sim, SimOptions, ADMIN_TOKEN, SIM_NOW};
use grafana_plugin_sdk::pluginv2::{DataSourceInstanceSettings, QueryDataRequest};
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

async fn ask(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    q: &Value,
    from: i64,
    alert: bool,
) -> Result<e2e::DecodedFrame, (i32, String)> {
    let mut headers = HashMap::new();
    if alert {
        headers.insert("FromAlert".to_string(), "true".to_string());
    }
    let req = QueryDataRequest {
        plugin_context: Some(e2e::context(ds)),
        headers,
        queries: vec![query("A", q.clone(), from, ms(SIM_NOW), HOUR)],
    };
    let resp = plugin.data().query_data(req).await.unwrap().into_inner();
    let r = &resp.responses["A"];
    if !r.error.is_empty() {
        return Err((r.status, r.error.clone()));
    }
    Ok(e2e::decode(&r.frames[0]).unwrap())
}

fn values(f: &e2e::DecodedFrame) -> Vec<(String, Vec<e2e::frames::Cell>)> {
    f.fields
        .iter()
        .map(|x| (format!("{}{:?}", x.name, x.labels), x.values.clone()))
        .collect()
}

#[tokio::test]
async fn a_cold_dashboard_on_a_slow_awx_answers_progressively_and_alerts_never_partially() {
    let history = |extra: Vec<String>| SimOptions {
        days: 10,
        jobs_per_day: 2500,
        extra,
        ..SimOptions::default()
    };
    // The same history twice (same seed): slow as AWX (1 worker, a fifth of real time:
    // about half a second a page), and fast, for the reference answers.
    let slow = Sim::start(history(
        [
            "--cost-model",
            "real-awx-24.6.1",
            "--cost-scale",
            "0.2",
            "--workers",
            "1",
        ]
        .map(String::from)
        .to_vec(),
    ))
    .await
    .unwrap();
    let fast = Sim::start(history(Vec::new())).await.unwrap();
    let plugin = Plugin::spawn().await.unwrap();
    let ds = datasource(&slow.url, json!({}), &[("token", ADMIN_TOKEN)]);
    let reference = e2e::uncached_datasource(&fast.url);
    let week = json!({"queryType": "job_throughput"});
    let from = ms(SIM_NOW) - 7 * DAY;

    let started = Instant::now();
    let first = ask(&plugin, &ds, &week, from, false).await.unwrap();
    let took = started.elapsed();
    eprintln!("first answer in {took:?}");
    assert!(
        took < Duration::from_secs(15),
        "the first answer took {took:?}"
    );
    let notice = first
        .notices()
        .into_iter()
        .find(|n| n.contains("being read for the first time"))
        .unwrap_or_else(|| panic!("a partial answer says so: {:?}", first.notices()));
    assert!(notice.contains("pages of older jobs read"), "{notice}");

    // The last hour is already covered: exact, no notice.
    let hour = ask(&plugin, &ds, &week, ms(SIM_NOW) - HOUR, false)
        .await
        .unwrap();
    let want = ask(&plugin, &reference, &week, ms(SIM_NOW) - HOUR, false)
        .await
        .unwrap();
    assert!(hour.notices().is_empty(), "{:?}", hour.notices());
    assert_eq!(values(&hour), values(&want), "the last hour while filling");

    // An alert over the week: the full answer or a clear error, never a partial one.
    let complete = ask(&plugin, &reference, &week, from, false).await.unwrap();
    match ask(&plugin, &ds, &week, from, true).await {
        Ok(f) => {
            assert!(f.notices().is_empty(), "{:?}", f.notices());
            assert_eq!(
                values(&f),
                values(&complete),
                "an alert's answer is complete"
            );
        }
        Err((status, e)) => {
            assert_eq!(status, 503);
            assert!(e.contains("only from complete data"), "{e}");
        }
    }

    // Refreshes converge: the reading goes on in the background until the week is in.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let f = ask(&plugin, &ds, &week, from, false).await.unwrap();
        if f.notices().is_empty() {
            assert_eq!(values(&f), values(&complete), "once read, exact");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still partial: {:?}",
            f.notices()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
