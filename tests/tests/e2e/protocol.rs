//! The protocol itself: handshake, gRPC health, per-query errors, frames, shutdown.

use e2e::{datasource, query, request, Plugin, ADMIN_TOKEN};
use grafana_plugin_sdk::pluginv2::CallResourceRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[tokio::test]
async fn handshake_health_service_and_clean_shutdown() {
    let mut plugin = Plugin::spawn().await.unwrap();
    let mut health = HealthClient::new(plugin.channel());
    for service in ["", "plugin"] {
        let resp = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resp.status, 1, "service `{service}` must be SERVING");
    }
    let status = plugin.terminate().unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(
        plugin.stdout_after_handshake(),
        "",
        "stdout carries only the handshake"
    );
    let stderr = plugin.stderr();
    for line in stderr.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stderr line is not hclog JSON ({e}): {line}"));
        assert!(
            v.get("@level").is_some() && v.get("@message").is_some(),
            "{line}"
        );
    }
    assert!(stderr.contains("plugin stopped"), "{stderr}");
}

#[tokio::test]
async fn grafana_stops_the_plugin_through_go_plugins_controller() {
    use awx_datasource::plugin::wire::{grpc_controller_client::GRPCControllerClient, Empty};
    let mut plugin = Plugin::spawn().await.unwrap();
    // go-plugin's Kill(): Shutdown, close the connection, then 2 s before SIGKILL.
    let started = std::time::Instant::now();
    GRPCControllerClient::new(plugin.channel())
        .shutdown(Empty {})
        .await
        .expect("Shutdown is served");
    let status = plugin
        .wait_exit(std::time::Duration::from_millis(1_900))
        .expect("exits before Grafana's 2 s are over");
    assert!(status.success(), "exit status {status:?}");
    eprintln!("stopped {:?} after Shutdown", started.elapsed());
    let stderr = plugin.stderr();
    let started_line = stderr
        .lines()
        .find(|l| l.contains("AWX data source plugin started"))
        .unwrap_or_else(|| panic!("a startup line: {stderr}"));
    let v: serde_json::Value = serde_json::from_str(started_line).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{started_line}");
    assert_eq!(v["@level"], "info");
    assert!(stderr.contains("plugin stopped"), "{stderr}");
}

#[tokio::test]
async fn every_failed_query_says_who_is_to_blame() {
    use awx_datasource::plugin::wire::data_client::DataClient;
    let plugin = Plugin::spawn().await.unwrap();
    let closed = format!("http://127.0.0.1:{}", e2e::procs::free_port().unwrap());
    let ds = datasource(
        &closed,
        serde_json::json!({"timeoutSeconds": 2}),
        &[("token", ADMIN_TOKEN)],
    );
    let q = |id: &str, json: serde_json::Value| query(id, json, 0, 3_600_000, 60_000);
    let resp = DataClient::new(plugin.channel())
        .query_data(request(
            &ds,
            vec![
                q(
                    "ok",
                    serde_json::json!({"queryType": "lookup", "lookup": "status"}),
                ),
                q("bad", serde_json::json!({"queryType": "no_such_type"})),
                q("down", serde_json::json!({"queryType": "jobs"})),
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    let ok = &resp.responses["ok"];
    assert_eq!((ok.status, ok.error_source.as_str()), (200, ""));
    let bad = &resp.responses["bad"];
    assert_eq!((bad.status, bad.error_source.as_str()), (400, "downstream"));
    let down = &resp.responses["down"];
    assert_eq!(
        (down.status, down.error_source.as_str()),
        (502, "downstream"),
        "{}",
        down.error
    );
    // Operators see each failure in the log, at warn, with its status and source.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let stderr = plugin.stderr();
    let logged: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["@message"] == "query failed")
        .collect();
    assert_eq!(logged.len(), 2, "{stderr}");
    for v in &logged {
        assert_eq!(v["@level"], "warn");
        assert_eq!(v["error_source"], "downstream");
        assert!(!v.to_string().contains(ADMIN_TOKEN), "{v}");
    }
}

#[tokio::test]
async fn invalid_queries_fail_alone_with_a_message_naming_the_field() {
    let plugin = Plugin::spawn().await.unwrap();
    // No AWX is needed for these: the valid query is a fixed lookup.
    let ds = datasource(
        "http://127.0.0.1:9",
        serde_json::json!({}),
        &[("token", ADMIN_TOKEN)],
    );
    let (from, to) = (0, 3_600_000);
    let queries = vec![
        query(
            "ok",
            serde_json::json!({"queryType":"lookup","lookup":"status"}),
            from,
            to,
            60_000,
        ),
        query(
            "type",
            serde_json::json!({"queryType":"job_count"}),
            from,
            to,
            60_000,
        ),
        query(
            "filter",
            serde_json::json!({"queryType":"jobs","filters":{"status":["runing"]}}),
            from,
            to,
            60_000,
        ),
        query(
            "shape",
            serde_json::json!({"queryType":"jobs","filters":"failed"}),
            from,
            to,
            60_000,
        ),
        query(
            "limit",
            serde_json::json!({"queryType":"jobs","limit":-3}),
            from,
            to,
            60_000,
        ),
    ];
    let mut data = plugin.data();
    let resp = data
        .query_data(request(&ds, queries))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.responses.len(), 5);

    let ok = &resp.responses["ok"];
    assert_eq!(ok.error, "");
    let frame = e2e::decode(&ok.frames[0]).unwrap();
    assert_eq!(frame.ref_id, "ok");
    let values: Vec<_> = frame
        .field("value")
        .unwrap()
        .values
        .iter()
        .map(|c| c.str().unwrap().to_string())
        .collect();
    assert_eq!(
        values,
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

    let e = &resp.responses["type"];
    assert_eq!(e.status, 400);
    assert!(
        e.error.contains("queryType")
            && e.error.contains("job_throughput")
            && e.error.contains("job_count"),
        "{}",
        e.error
    );
    let e = &resp.responses["filter"];
    assert!(
        e.error.contains("filters.status") && e.error.contains("running"),
        "{}",
        e.error
    );
    let e = &resp.responses["shape"];
    assert!(
        e.error.contains("filters") && e.error.contains("object"),
        "{}",
        e.error
    );
    let e = &resp.responses["limit"];
    assert!(
        e.error.contains("limit") && e.error.contains("10000"),
        "{}",
        e.error
    );
}

#[tokio::test]
async fn bad_settings_fail_every_query_with_the_fix() {
    let plugin = Plugin::spawn().await.unwrap();
    let ds = datasource(
        "awx.example.com",
        serde_json::json!({"apiPath": "api/v2"}),
        &[("token", "x")],
    );
    let resp = plugin
        .data()
        .query_data(request(
            &ds,
            vec![query(
                "A",
                serde_json::json!({"queryType":"jobs"}),
                0,
                1000,
                1000,
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    let e = &resp.responses["A"];
    assert_eq!(e.status, 400);
    assert!(e.error.contains("URL"), "{}", e.error);
}

#[tokio::test]
async fn unknown_resources_get_a_clear_404() {
    let plugin = Plugin::spawn().await.unwrap();
    let ds = datasource(
        "http://127.0.0.1:9",
        serde_json::json!({}),
        &[("token", ADMIN_TOKEN)],
    );
    let mut client = plugin.resource();
    for (path, want) in [("nope", "lookup/<kind>"), ("lookup/colour", "organization")] {
        let mut stream = client
            .call_resource(CallResourceRequest {
                plugin_context: Some(e2e::context(&ds)),
                path: path.into(),
                method: "GET".into(),
                url: format!("/{path}"),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let resp = stream.message().await.unwrap().unwrap();
        assert_eq!(resp.code, 404);
        let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert!(body["error"].as_str().unwrap().contains(want), "{body}");
    }
}

#[tokio::test]
async fn the_packaged_binary_handshakes_fast_and_answers_health() {
    // dist/gpx_awx_linux_amd64 is the static release build (scripts/package.sh, run by CI
    // before the tests); without it, the debug build is held to a looser bound.
    let packaged = e2e::procs::workspace_dir().join("dist/gpx_awx_linux_amd64");
    let (binary, bound) = if packaged.exists() {
        (packaged, std::time::Duration::from_millis(100))
    } else {
        (
            e2e::procs::bin_dir().join("gpx_awx"),
            std::time::Duration::from_millis(500),
        )
    };
    let mut times = Vec::new();
    for _ in 0..5 {
        let plugin = Plugin::spawn_binary(&binary, &[]).await.unwrap();
        times.push(plugin.handshake);
    }
    times.sort();
    let median = times[2];
    eprintln!("handshake median {median:?} for {}", binary.display());
    assert!(median < bound, "handshake median {median:?} >= {bound:?}");

    // Health against an unreachable URL: an ERROR naming the check, quickly.
    let plugin = Plugin::spawn_binary(&binary, &[]).await.unwrap();
    let closed = format!("http://127.0.0.1:{}", e2e::procs::free_port().unwrap());
    let ds = datasource(
        &closed,
        serde_json::json!({"timeoutSeconds": 2}),
        &[("token", ADMIN_TOKEN)],
    );
    let resp = plugin.check_health(&ds).await.unwrap();
    assert_eq!(resp.status, 2);
    assert!(
        resp.message.contains("Failed: AWX reachable"),
        "{}",
        resp.message
    );
}
