//! The dev environment's files, checked against their formats and used for real: the
//! provisioned data source (health OK against the simulator and a Prometheus scraping it
//! with the project's own scrape template), every dashboard panel's queries (valid per
//! the contract and returning data through the plugin), and docker-compose.yml.

use std::collections::BTreeMap;
use std::path::Path;

use e2e::procs::workspace_dir;
use e2e::{query, request, Plugin, Prometheus, Sim, SimOptions, ADMIN_TOKEN, SIM_NOW};
use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use serde_json::{json, Value};

const PLUGIN_ID: &str = "seed-awx-datasource";

fn read_yaml(rel: &str) -> serde_yaml_ng::Value {
    let text =
        std::fs::read_to_string(workspace_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

/// Grafana's provisioning expansion of `$VAR` and `${VAR}` in values.
fn expand(s: &str, env: &BTreeMap<&str, String>) -> String {
    let mut out = s.to_string();
    for (k, v) in env {
        out = out
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("${k}"), v);
    }
    assert!(!out.contains('$'), "unexpanded variable in `{s}`");
    out
}

fn to_json(v: &serde_yaml_ng::Value, env: &BTreeMap<&str, String>) -> Value {
    match v {
        serde_yaml_ng::Value::String(s) => Value::String(expand(s, env)),
        serde_yaml_ng::Value::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().expect("string keys").to_string(),
                        to_json(v, env),
                    )
                })
                .collect(),
        ),
        other => serde_json::to_value(other).expect("yaml scalar"),
    }
}

/// The provisioned AWX data source as Grafana would hand it to the plugin.
fn provisioned_datasource(env: &BTreeMap<&str, String>) -> DataSourceInstanceSettings {
    let file = read_yaml("provisioning/datasources/awx.yml");
    assert_eq!(file["apiVersion"].as_u64(), Some(1));
    let ds = file["datasources"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|d| d["type"].as_str() == Some(PLUGIN_ID))
        .expect("an AWX data source is provisioned");
    assert_eq!(
        ds["uid"].as_str(),
        Some("awx"),
        "dashboards refer to uid awx"
    );
    assert_eq!(ds["access"].as_str(), Some("proxy"));
    let json_data = to_json(&ds["jsonData"], env);
    let known = [
        "apiPath",
        "authType",
        "username",
        "uiUrl",
        "tlsSkipVerify",
        "timeoutSeconds",
        "maxConcurrency",
        "prometheusUrl",
        "prometheusAuthType",
        "prometheusUsername",
        "prometheusSelector",
        "defaultSource",
        "jobCacheMB",
    ];
    for k in json_data.as_object().unwrap().keys() {
        assert!(
            known.contains(&k.as_str()),
            "jsonData.{k} is not a setting of the contract"
        );
    }
    let secure = to_json(&ds["secureJsonData"], env);
    let secure: Vec<(String, String)> = secure
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            assert!(
                [
                    "token",
                    "password",
                    "prometheusPassword",
                    "prometheusToken",
                    "tlsCaCert"
                ]
                .contains(&k.as_str()),
                "secureJsonData.{k}"
            );
            (k.clone(), v.as_str().unwrap().to_string())
        })
        .collect();
    let secure: Vec<(&str, &str)> = secure
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let url = expand(ds["url"].as_str().unwrap(), env);
    e2e::datasource(&url, json_data, &secure)
}

/// Every query a dashboard sends: panel targets (nested rows included) and annotations.
fn dashboard_queries(d: &Value) -> Vec<(String, Value)> {
    fn walk(panels: &[Value], out: &mut Vec<(String, Value)>) {
        for p in panels {
            if let Some(inner) = p["panels"].as_array() {
                walk(inner, out);
            }
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push((p["title"].as_str().unwrap_or("?").to_string(), t.clone()));
            }
        }
    }
    let mut out = Vec::new();
    walk(d["panels"].as_array().expect("panels"), &mut out);
    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if a["datasource"]["type"] == PLUGIN_ID {
            out.push((format!("annotation {}", a["name"]), a["target"].clone()));
        }
    }
    out
}

/// What the frontend sends for a variable set to All: the `$var` entry removed (an
/// empty list means all); a variable with a single value: that value.
fn interpolate(target: &Value, vars: &BTreeMap<String, Option<String>>) -> Value {
    match target {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter_map(|i| match i.as_str().and_then(|s| s.strip_prefix('$')) {
                    Some(name) => vars
                        .get(name)
                        .expect("known variable")
                        .clone()
                        .map(Value::String),
                    None => Some(interpolate(i, vars)),
                })
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), interpolate(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The offered value that most jobs carry (as template, organization, ...), else the first.
fn busiest(truth: &[e2e::oracle::TruthJob], offered: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for j in truth {
        for v in [&j.template_name, &j.organization, &j.inventory, &j.project]
            .into_iter()
            .flatten()
        {
            *counts.entry(v.as_str()).or_default() += 1;
        }
    }
    offered
        .iter()
        .max_by_key(|v| counts.get(v.as_str()).copied().unwrap_or(0))
        .cloned()
        .unwrap_or_default()
}

fn is_prometheus(t: &Value) -> bool {
    t["source"] == "prometheus"
        || t["queryType"] == "promql"
        || (t["queryType"] == "active_jobs" && t["source"] != "api")
}

#[tokio::test]
async fn provisioned_datasource_and_every_dashboard_panel_return_data() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let prom = Prometheus::start_provisioned(&sim.url, ADMIN_TOKEN, "1s")
        .await
        .unwrap();
    let plugin = Plugin::spawn().await.unwrap();
    let env: BTreeMap<&str, String> = [
        ("AWX_URL", sim.url.clone()),
        ("AWX_TOKEN", ADMIN_TOKEN.to_string()),
        ("AWX_API_PATH", "/api/v2/".to_string()),
        ("AWX_UI_URL", String::new()),
        ("AWX_TLS_SKIP_VERIFY", "false".to_string()),
        ("PROMETHEUS_URL", prom.url.clone()),
    ]
    .into_iter()
    .collect();
    let ds = provisioned_datasource(&env);
    let truth = sim.truth_jobs().await.unwrap();

    // Health OK, Prometheus included, once it has scraped with the rendered config.
    let mut last = String::new();
    for _ in 0..100 {
        let h = plugin.check_health(&ds).await.unwrap();
        if h.status == 1 {
            last.clear();
            break;
        }
        last = h.message;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        last.is_empty(),
        "provisioned data source never healthy: {last}"
    );

    let dir = workspace_dir().join("dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the overview and drill-down dashboards");
    let sim_now = e2e::ms(SIM_NOW);
    let mut checked = 0;
    for path in &files {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            d["uid"].as_str().is_some_and(|u| !u.is_empty()),
            "{name}: uid"
        );

        // Variables: query variables are lookups through the plugin; All = empty.
        let mut vars: BTreeMap<String, Option<String>> = BTreeMap::new();
        for v in d["templating"]["list"].as_array().into_iter().flatten() {
            let vname = v["name"].as_str().unwrap().to_string();
            match v["type"].as_str() {
                Some("datasource") => {
                    assert_eq!(v["query"], PLUGIN_ID, "{name}: ${vname}");
                }
                Some("query") => {
                    let q = interpolate(&v["query"], &vars);
                    assert_eq!(q["queryType"], "lookup", "{name}: ${vname} is a lookup");
                    let resp = plugin
                        .data()
                        .query_data(request(
                            &ds,
                            vec![query(
                                "var",
                                q.clone(),
                                sim_now - 86_400_000,
                                sim_now,
                                60_000,
                            )],
                        ))
                        .await
                        .unwrap()
                        .into_inner();
                    let r = &resp.responses["var"];
                    assert_eq!(r.error, "", "{name}: ${vname}");
                    let frame = e2e::decode(&r.frames[0]).unwrap();
                    let values = &frame.field("value").expect("value field").values;
                    assert!(!values.is_empty(), "{name}: ${vname} has values");
                    // A single-value variable takes the busiest value, as a user would.
                    let offered: Vec<String> = values
                        .iter()
                        .map(|c| c.str().unwrap().to_string())
                        .collect();
                    let first = busiest(&truth, &offered);
                    // Multi-value variables with All run as All; single ones take a value.
                    let all = v["includeAll"].as_bool().unwrap_or(false);
                    vars.insert(vname, (!all).then_some(first));
                }
                // A text box holds what the user typed (or a link set): its default, empty
                // meaning every value, as the frontend drops empty entries.
                Some("textbox") => {
                    let typed = v["query"].as_str().unwrap_or_default();
                    vars.insert(vname, (!typed.is_empty()).then(|| typed.to_string()));
                }
                _ => {}
            }
        }

        for (title, target) in dashboard_queries(&d) {
            let ds_ref = &target["datasource"];
            assert!(
                ds_ref.is_null() || ds_ref["type"] == PLUGIN_ID || ds_ref["uid"] == "${ds}",
                "{name} / {title}: datasource"
            );
            let q = interpolate(&target, &vars);
            let has_value = |frame: &e2e::DecodedFrame| {
                frame.fields.iter().any(|f| {
                    f.values
                        .iter()
                        .any(|c| c.f64().is_some() || c.str().is_some_and(|s| !s.is_empty()))
                })
            };
            // Prometheus panels read the last minute; on a loaded machine a scrape can time
            // out and leave a gap, so give them a few more scrapes before judging.
            let attempts = if is_prometheus(&q) { 15 } else { 1 };
            let mut frame = None;
            for _ in 0..attempts {
                let (from, to, interval) = if is_prometheus(&q) {
                    let real_now = chrono::Utc::now().timestamp_millis();
                    (real_now - 60_000, real_now, 1_000)
                } else {
                    (sim_now - 7 * 86_400_000, sim_now, 3_600_000)
                };
                let resp = plugin
                    .data()
                    .query_data(request(
                        &ds,
                        vec![query("A", q.clone(), from, to, interval)],
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                let r = &resp.responses["A"];
                assert_eq!(r.error, "", "{name} / {title}: {q}");
                assert!(!r.frames.is_empty(), "{name} / {title}: frames");
                let decoded = e2e::decode(&r.frames[0]).unwrap();
                let done = has_value(&decoded);
                frame = Some(decoded);
                if done {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            let frame = frame.expect("at least one attempt");
            if title.starts_with("annotation") {
                // A template may well have no failures in the range.
                checked += 1;
                continue;
            }
            assert!(frame.rows() > 0, "{name} / {title}: rows");
            assert!(
                has_value(&frame),
                "{name} / {title}: some data (not all null) in {:?}",
                frame.fields.iter().map(|f| &f.name).collect::<Vec<_>>()
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} panel queries checked");
}

#[test]
fn docker_compose_and_provisioning_files_are_well_formed() {
    let compose = read_yaml("docker-compose.yml");
    let services = compose["services"].as_mapping().expect("services");
    for s in ["grafana", "prometheus", "awx-sim"] {
        assert!(services.contains_key(s), "service {s}");
    }
    let grafana = &compose["services"]["grafana"];
    let env = &grafana["environment"];
    assert_eq!(
        env["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"].as_str(),
        Some(PLUGIN_ID)
    );
    let mounts: Vec<&str> = grafana["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./provisioning:/etc/grafana/provisioning")),
        "{mounts:?}"
    );
    let prom_image = compose["services"]["prometheus"]["image"].as_str().unwrap();
    assert!(
        prom_image.contains(':') && !prom_image.ends_with(":latest"),
        "pinned: {prom_image}"
    );

    // The Dockerfile builds Grafana from a pinned image and runs the same build commands as
    // scripts/package.sh.
    let dockerfile = std::fs::read_to_string(workspace_dir().join("docker/Dockerfile")).unwrap();
    let grafana_image = dockerfile
        .lines()
        .find_map(|l| {
            l.strip_prefix("ARG GRAFANA_IMAGE=")
                .or_else(|| l.strip_prefix("FROM grafana/grafana"))
        })
        .expect("the Grafana image");
    assert!(
        grafana_image.contains("grafana/grafana:") && !grafana_image.ends_with(":latest"),
        "pinned: {grafana_image}"
    );
    let package = std::fs::read_to_string(workspace_dir().join("scripts/package.sh")).unwrap();
    for cmd in [
        "npm ci",
        "npm run build",
        "cargo build --release --locked -p gpx_awx --target",
    ] {
        assert!(package.contains(cmd), "package.sh runs `{cmd}`");
        assert!(
            dockerfile.contains(cmd),
            "docker/Dockerfile runs `{cmd}` like package.sh"
        );
    }

    let dashboards = read_yaml("provisioning/dashboards/awx.yml");
    let provider = &dashboards["providers"][0];
    assert_eq!(provider["type"].as_str(), Some("file"));
    assert!(provider["options"]["path"].as_str().is_some());

    // The plugin's own plugin.json includes every dashboard.
    let plugin_json: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_dir().join("frontend/src/plugin.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(plugin_json["id"], PLUGIN_ID);
    assert_eq!(plugin_json["executable"], "gpx_awx");
    for flag in ["backend", "alerting", "annotations", "metrics"] {
        assert_eq!(plugin_json[flag], json!(true), "plugin.json {flag}");
    }
    for inc in plugin_json["includes"].as_array().unwrap() {
        let p = inc["path"]
            .as_str()
            .unwrap()
            .trim_start_matches("dashboards/");
        assert!(
            Path::new(&workspace_dir().join("dashboards").join(p)).exists(),
            "included dashboard {p}"
        );
    }
}

#[test]
fn the_rendered_prometheus_config_passes_promtool() {
    let dir = e2e::procs::TempDir::new("awx-e2e-promtool").unwrap();
    let out = std::process::Command::new("sh")
        .arg(workspace_dir().join("provisioning/prometheus/render.sh"))
        .arg(dir.0.join("r"))
        .env("AWX_URL", "https://awx.example.com")
        .env("AWX_TOKEN", "t0ken")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = String::from_utf8(out.stdout).unwrap();
    let config = std::fs::read_to_string(cfg.trim()).unwrap();
    assert!(!config.contains("t0ken"), "the token lives in its own file");
    let check = std::process::Command::new("promtool")
        .args(["check", "config", cfg.trim()])
        .output()
        .expect("promtool (Debian's prometheus package)");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
