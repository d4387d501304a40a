//! CheckHealth ("Save & test") against the simulator, each failing check named.

use e2e::{datasource, Plugin, Prometheus, Sim, ADMIN_TOKEN, VIEWER_TOKEN};
use grafana_plugin_sdk::pluginv2::CheckHealthResponse;
use serde_json::{json, Value};

async fn check(
    plugin: &Plugin,
    ds: grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
) -> (CheckHealthResponse, Value) {
    let resp = plugin.check_health(&ds).await.unwrap();
    let details: Value = if resp.json_details.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&resp.json_details).unwrap()
    };
    (resp, details)
}

fn check_status<'a>(details: &'a Value, name: &str) -> &'a str {
    details["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {details}"))["status"]
        .as_str()
        .unwrap()
}

const OK: i32 = 1;
const ERROR: i32 = 2;

#[tokio::test]
async fn health_ok_then_each_failing_check_named() {
    let sim = Sim::with_history(1, 50).await.unwrap();
    let plugin = Plugin::spawn().await.unwrap();

    // Everything fine, no Prometheus configured.
    let (resp, details) = check(
        &plugin,
        datasource(&sim.url, json!({}), &[("token", ADMIN_TOKEN)]),
    )
    .await;
    assert_eq!(resp.status, OK, "{}", resp.message);
    assert!(
        resp.message.contains("24.6.1"),
        "version reported: {}",
        resp.message
    );
    assert!(
        resp.message.contains("admin") && resp.message.contains("superuser"),
        "{}",
        resp.message
    );
    assert_eq!(check_status(&details, "AWX reachable"), "ok");
    assert_eq!(check_status(&details, "AWX credentials"), "ok");
    assert_eq!(check_status(&details, "Prometheus reachable"), "skipped");

    // A plain user is accepted, and said to be one.
    let (resp, _) = check(
        &plugin,
        datasource(&sim.url, json!({}), &[("token", VIEWER_TOKEN)]),
    )
    .await;
    assert_eq!(resp.status, OK, "{}", resp.message);
    assert!(resp.message.contains("viewer"), "{}", resp.message);

    // Bad token.
    let (resp, details) = check(
        &plugin,
        datasource(&sim.url, json!({}), &[("token", "wrong-token")]),
    )
    .await;
    assert_eq!(resp.status, ERROR);
    assert_eq!(check_status(&details, "AWX reachable"), "ok");
    assert_eq!(check_status(&details, "AWX credentials"), "error");
    assert!(
        resp.message.contains("Failed: AWX credentials") && resp.message.contains("token"),
        "{}",
        resp.message
    );

    // Basic auth, right and wrong.
    let basic = |pw: &str| {
        datasource(
            &sim.url,
            json!({"authType": "basic", "username": "admin"}),
            &[("password", pw)],
        )
    };
    assert_eq!(check(&plugin, basic("password")).await.0.status, OK);
    assert_eq!(check(&plugin, basic("nope")).await.0.status, ERROR);

    // Wrong API path.
    let (resp, details) = check(
        &plugin,
        datasource(
            &sim.url,
            json!({"apiPath": "/api/v1/"}),
            &[("token", ADMIN_TOKEN)],
        ),
    )
    .await;
    assert_eq!(resp.status, ERROR);
    assert_eq!(check_status(&details, "AWX reachable"), "error");
    assert!(resp.message.contains("API path"), "{}", resp.message);

    // The AAP gateway path works when AWX serves it.
    let (resp, _) = check(
        &plugin,
        datasource(
            &sim.url,
            json!({"apiPath": "/api/controller/v2/"}),
            &[("token", ADMIN_TOKEN)],
        ),
    )
    .await;
    assert_eq!(resp.status, OK, "{}", resp.message);

    // Unreachable URL: a closed port.
    let closed = format!("http://127.0.0.1:{}", e2e::procs::free_port().unwrap());
    let (resp, details) = check(
        &plugin,
        datasource(
            &closed,
            json!({"timeoutSeconds": 2}),
            &[("token", ADMIN_TOKEN)],
        ),
    )
    .await;
    assert_eq!(resp.status, ERROR);
    assert_eq!(check_status(&details, "AWX reachable"), "error");
    assert_eq!(check_status(&details, "AWX credentials"), "skipped");
    assert!(
        resp.message.contains("cannot reach AWX"),
        "{}",
        resp.message
    );

    // Prometheus configured but down.
    let (resp, details) = check(
        &plugin,
        datasource(
            &sim.url,
            json!({"prometheusUrl": closed}),
            &[("token", ADMIN_TOKEN)],
        ),
    )
    .await;
    assert_eq!(resp.status, ERROR);
    assert_eq!(check_status(&details, "AWX credentials"), "ok");
    assert_eq!(check_status(&details, "Prometheus reachable"), "error");
    assert!(
        resp.message.contains("Failed: Prometheus reachable"),
        "{}",
        resp.message
    );

    // No secret anywhere in what the plugin logged.
    let stderr = plugin.stderr();
    for secret in [ADMIN_TOKEN, VIEWER_TOKEN, "wrong-token", "password"] {
        assert!(!stderr.contains(secret), "`{secret}` leaked into stderr");
    }
}

#[tokio::test]
async fn health_with_prometheus_scraping_the_simulator() {
    let sim = Sim::with_history(1, 50).await.unwrap();
    let hostport = sim.url.trim_start_matches("http://").to_string();
    let prom = Prometheus::start(&hostport, ADMIN_TOKEN, "1s")
        .await
        .unwrap();
    let plugin = Plugin::spawn().await.unwrap();
    let ds = |selector: &str| {
        datasource(
            &sim.url,
            json!({"prometheusUrl": prom.url, "prometheusSelector": selector}),
            &[("token", ADMIN_TOKEN)],
        )
    };
    // Wait for the first scrapes.
    let mut last = None;
    for _ in 0..100 {
        let (resp, details) = check(&plugin, ds("job=\"awx\"")).await;
        if resp.status == OK {
            assert_eq!(check_status(&details, "AWX metrics in Prometheus"), "ok");
            assert!(resp.message.contains("awx_system_info"), "{}", resp.message);
            last = None;
            break;
        }
        last = Some(resp.message);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(last.is_none(), "never healthy: {last:?}");
    // A selector that matches nothing says what to fix.
    let (resp, details) = check(&plugin, ds("job=\"other\"")).await;
    assert_eq!(resp.status, ERROR);
    assert_eq!(check_status(&details, "Prometheus reachable"), "ok");
    assert_eq!(check_status(&details, "AWX metrics in Prometheus"), "error");
    assert!(resp.message.contains("selector"), "{}", resp.message);
}
