//! Integration tests: start the simulator on a free port and talk HTTP to it.

use awx_sim::{Config, RunningSim};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const NOW: &str = "2024-10-05T00:00:00Z"; // a Saturday: the history (Wed..Fri) is weekdays
const ADMIN: &str = "sim-admin-token";

struct T {
    sim: RunningSim,
    http: reqwest::Client,
}

fn cfg(days: u32, per_day: f64) -> Config {
    Config {
        days,
        jobs_per_day: per_day,
        api_prefix: awx_sim::ApiPrefix::Both,
        ..Config::for_tests(NOW)
    }
}

async fn spawn(c: Config) -> T {
    let sim = awx_sim::start(c).await.expect("start");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    T { sim, http }
}

impl T {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.sim.url())
    }
    async fn get(&self, p: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(self.url(p))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("send");
        (r.status(), r.text().await.expect("body"))
    }
    async fn json(&self, p: &str) -> Value {
        let (s, b) = self.get(p).await;
        assert_eq!(s, StatusCode::OK, "GET {p}: {b}");
        serde_json::from_str(&b).expect("json")
    }
    async fn truth(&self) -> Vec<Value> {
        let r = self
            .http
            .get(self.url("/_sim/truth/jobs"))
            .send()
            .await
            .expect("send");
        r.json::<Vec<Value>>().await.expect("truth")
    }
    async fn metrics_text(&self) -> String {
        let (s, b) = self.get("/api/v2/metrics/").await;
        assert_eq!(s, StatusCode::OK);
        b
    }
    async fn advance(&self, secs: u64) -> Value {
        let r = self
            .http
            .post(self.url(&format!("/_sim/advance?seconds={secs}")))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.expect("json")
    }
    /// All jobs of a list, following `next`.
    async fn all(&self, first: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut next = Some(first.to_string());
        while let Some(p) = next {
            let page = self.json(&p).await;
            out.extend(page["results"].as_array().cloned().unwrap_or_default());
            next = page["next"].as_str().map(str::to_string);
        }
        out
    }
}

fn count(truth: &[Value], f: impl Fn(&Value) -> bool) -> u64 {
    truth.iter().filter(|j| f(j)).count() as u64
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|r| r.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// An AWX timestamp as microseconds (strings do not order: Python drops a zero fraction).
fn us(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp_micros()
}

fn us_str(s: &str) -> i64 {
    us(&Value::String(s.to_string()))
}

#[tokio::test]
async fn pagination_semantics() {
    let t = spawn(cfg(3, 400.0)).await;
    let truth = t.truth().await;
    let n = truth.len() as u64;
    assert!(n > 900, "expected a workload, got {n}");

    let p = t.json("/api/v2/unified_jobs/").await;
    assert_eq!(p["count"].as_u64(), Some(n));
    assert_eq!(p["results"].as_array().map(|a| a.len()), Some(25));
    assert_eq!(p["next"], "/api/v2/unified_jobs/?page=2");
    assert!(p["previous"].is_null());
    // default order: id ascending
    let ids: Vec<u64> = p["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(ids[0], truth[0]["id"].as_u64().unwrap());

    // page_size above 200 is capped and the links say 200; other params are kept, sorted
    let p = t
        .json("/api/v2/unified_jobs/?status=successful&page_size=500")
        .await;
    assert_eq!(p["results"].as_array().map(|a| a.len()), Some(200));
    assert_eq!(
        p["next"],
        "/api/v2/unified_jobs/?page=2&page_size=200&status=successful"
    );
    let p2 = t.json(p["next"].as_str().unwrap()).await;
    assert_eq!(
        p2["previous"],
        "/api/v2/unified_jobs/?page=1&page_size=200&status=successful"
    );

    // reserved characters are re-encoded as Python's urlencode does
    let p = t
        .json("/api/v2/unified_jobs/?name__icontains=a%2Cb%20c~*&page_size=1&order_by=-id")
        .await;
    assert!(p["next"].is_null() || p["next"] == "/api/v2/unified_jobs/?name__icontains=a%2Cb+c~%2A&order_by=-id&page=2&page_size=1");
    let p = t
        .json("/api/v2/unified_jobs/?name__icontains=e%20&page_size=1&order_by=-id")
        .await;
    assert_eq!(
        p["next"],
        "/api/v2/unified_jobs/?name__icontains=e+&order_by=-id&page=2&page_size=1"
    );

    // past the end
    let last = n.div_ceil(200);
    let (s, b) = t
        .get(&format!(
            "/api/v2/unified_jobs/?page_size=200&page={}",
            last + 1
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b, r#"{"detail":"Invalid page."}"#);
    let (s, _) = t.get("/api/v2/unified_jobs/?page=0").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let p = t
        .json(&format!("/api/v2/unified_jobs/?page_size=200&page={last}"))
        .await;
    assert!(p["next"].is_null());
    assert_eq!(
        p["results"].as_array().unwrap().len() as u64,
        n - (last - 1) * 200
    );

    // following next gives every job exactly once
    let all = t.all("/api/v2/unified_jobs/?page_size=200").await;
    assert_eq!(all.len() as u64, n);

    // count_disabled
    let p = t
        .json("/api/v2/unified_jobs/?count_disabled=1&page_size=5")
        .await;
    assert_eq!(
        p.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["results".to_string()])
    );
    assert_eq!(p["results"].as_array().unwrap().len(), 5);

    // a typed list only holds its type
    let p = t.json("/api/v2/workflow_jobs/?page_size=200").await;
    assert_eq!(
        p["count"].as_u64(),
        Some(count(&truth, |j| j["type"] == "workflow_job"))
    );
    assert!(p["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["type"] == "workflow_job" && j.get("execution_node").is_none()));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn ordering() {
    let t = spawn(cfg(3, 400.0)).await;
    let truth = t.truth().await;
    let max_id = truth
        .iter()
        .map(|j| j["id"].as_u64().unwrap())
        .max()
        .unwrap();
    let p = t
        .json("/api/v2/unified_jobs/?order_by=-id&page_size=3")
        .await;
    assert_eq!(p["results"][0]["id"].as_u64(), Some(max_id));
    assert_eq!(
        p["next"],
        "/api/v2/unified_jobs/?order_by=-id&page=2&page_size=3"
    );

    let all = t
        .all("/api/v2/unified_jobs/?order=-finished,id&page_size=200&finished__isnull=false")
        .await;
    let fin: Vec<i64> = all.iter().map(|j| us(&j["finished"])).collect();
    assert!(
        fin.windows(2).all(|w| w[0] >= w[1]),
        "not ordered by -finished"
    );
    assert_eq!(
        all.len() as u64,
        count(&truth, |j| !j["finished"].is_null())
    );

    let all = t
        .all("/api/v2/jobs/?order_by=unified_job_template__name,-id&page_size=200")
        .await;
    let keys: Vec<(String, i64)> = all
        .iter()
        .map(|j| {
            (
                j["summary_fields"]["unified_job_template"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                -j["id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]));

    let (s, b) = t.get("/api/v2/unified_jobs/?order_by=nope").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b, r#"{"detail":"UnifiedJob has no field named 'nope'"}"#);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn filters_match_the_truth() {
    let t = spawn(cfg(3, 400.0)).await;
    let truth = t.truth().await;
    let c = |path: &'static str| {
        let t = &t;
        async move {
            t.json(&format!(
                "{path}{}page_size=1",
                if path.contains('?') { "&" } else { "?" }
            ))
            .await["count"]
                .as_u64()
                .unwrap()
        }
    };
    let s = |j: &Value, k: &str| j[k].as_str().unwrap_or("").to_string();
    assert_eq!(
        c("/api/v2/unified_jobs/?status=failed").await,
        count(&truth, |j| j["status"] == "failed")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?status__in=failed,error").await,
        count(&truth, |j| j["status"] == "failed"
            || j["status"] == "error")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?not__launch_type=sync").await,
        count(&truth, |j| j["launch_type"] != "sync")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?launch_type=scheduled").await,
        count(&truth, |j| j["launch_type"] == "scheduled")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?failed=true").await,
        count(&truth, |j| j["failed"] == true)
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?failed=0").await,
        count(&truth, |j| j["failed"] == false)
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?execution_node=awx-exec-1").await,
        count(&truth, |j| j["execution_node"] == "awx-exec-1")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?execution_node=").await,
        count(&truth, |j| j["execution_node"] == "")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?instance_group__name=openshift").await,
        count(&truth, |j| j["instance_group"] == "openshift")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?instance_group__isnull=true").await,
        count(&truth, |j| j["instance_group"].is_null())
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?organization__name=Finance").await,
        count(&truth, |j| j["organization"] == "Finance")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?unified_job_template__name=Deploy%20Web%20App").await,
        count(&truth, |j| j["template_name"] == "Deploy Web App")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?unified_job_template__name__icontains=deploy").await,
        count(&truth, |j| s(j, "template_name")
            .to_lowercase()
            .contains("deploy"))
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?name__startswith=Rotate").await,
        count(&truth, |j| s(j, "name").starts_with("Rotate"))
    );
    // reserved characters in a value round-trip (decoded exactly once)
    assert_eq!(
        c("/api/v2/unified_jobs/?name=Deploy%20API%2C%20v2%2Fcanary%20%26%20blue").await,
        count(&truth, |j| j["name"] == "Deploy API, v2/canary & blue")
    );
    assert!(count(&truth, |j| j["name"] == "Deploy API, v2/canary & blue") > 0);
    assert_eq!(
        c("/api/v2/unified_jobs/?or__status=error&or__status=canceled").await,
        count(&truth, |j| j["status"] == "error"
            || j["status"] == "canceled")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?type=job,workflow_job").await,
        count(&truth, |j| j["type"] == "job"
            || j["type"] == "workflow_job")
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?search=backup").await,
        count(&truth, |j| s(j, "name").to_lowercase().contains("backup"))
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?finished__isnull=true").await,
        count(&truth, |j| j["finished"].is_null())
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?elapsed__gt=600").await,
        count(&truth, |j| j["elapsed"].as_f64().unwrap() > 600.0)
    );
    // datetimes with Z and with an offset
    let cut = "2024-10-04T00:00:00";
    let n = count(&truth, |j| s(j, "created").as_str() >= cut);
    assert_eq!(
        c("/api/v2/unified_jobs/?created__gte=2024-10-04T00:00:00Z").await,
        n
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?created__gte=2024-10-04T02:00:00%2B02:00").await,
        n
    );
    assert_eq!(
        c("/api/v2/unified_jobs/?created__lt=2024-10-04T00:00:00Z").await,
        truth.len() as u64 - n
    );
    let mid = truth[truth.len() / 2]["id"].as_u64().unwrap();
    assert_eq!(
        c(Box::leak(
            format!("/api/v2/unified_jobs/?id__gt={mid}").into_boxed_str()
        ))
        .await,
        count(&truth, |j| j["id"].as_u64().unwrap() > mid)
    );
    assert_eq!(
        c(Box::leak(
            format!("/api/v2/unified_jobs/?id__lte={mid}&not__type=job").into_boxed_str()
        ))
        .await,
        count(&truth, |j| j["id"].as_u64().unwrap() <= mid
            && j["type"] != "job")
    );
    // related job fields
    let prod = count(&truth, |j| {
        j["type"] == "job" && j["inventory"] == "Production"
    });
    assert!(prod > 0);
    assert_eq!(c("/api/v2/unified_jobs/?job__inventory=2").await, prod);
    assert_eq!(c("/api/v2/jobs/?inventory__name=Production").await, prod);
    let tid = truth
        .iter()
        .find(|j| j["template_name"] == "Backup Databases")
        .unwrap()["template_id"]
        .as_u64()
        .unwrap();
    assert_eq!(
        c(Box::leak(
            format!("/api/v2/unified_jobs/?unified_job_template={tid}").into_boxed_str()
        ))
        .await,
        count(&truth, |j| j["template_id"].as_u64() == Some(tid))
    );

    // errors as DAB reports them
    for (q, msg) in [
        ("bogus=1", "UnifiedJob has no field named 'bogus'"),
        ("status__foo=1", "No related model for field foo."),
        (
            "id=abc",
            "[\"\u{201c}abc\u{201d} value must be an integer.\"]",
        ),
        ("organization=abc", "Invalid organization id: abc"),
        (
            "unified_job_template__nope=1",
            "UnifiedJobTemplate has no field named 'nope'",
        ),
        ("id__in=", "cannot provide empty value for __in"),
        (
            "finished__isnull=maybe",
            "Unable to convert \"maybe\" to boolean",
        ),
    ] {
        let (st, body) = t.get(&format!("/api/v2/unified_jobs/?{q}")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{q}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["detail"], msg, "{q}");
    }
    let (st, body) = t.get("/api/v2/unified_jobs/?created__gt=yesterday").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid format"), "{body}");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn authentication_and_headers() {
    let t = spawn(cfg(1, 200.0)).await;
    let h = &t.http;
    let unauth = r#"{"detail":"Authentication credentials were not provided. To establish a login session, visit /api/login/."}"#;
    let r = h.get(t.url("/api/v2/me/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=api authorization_url=/api/o/authorize/"
    );
    assert!(r.headers().get("x-api-product-version").is_none());
    assert_eq!(r.headers()["x-api-product-name"], "AWX");
    assert_eq!(r.text().await.unwrap(), unauth);
    let r = h
        .get(t.url("/api/v2/me/"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.text().await.unwrap(), unauth);
    let r = h
        .get(t.url("/api/v2/me/"))
        .basic_auth("admin", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=api authorization_url=/api/o/authorize/"
    );
    // AWX 24.6.1 answers a wrong password like a missing header (auth_probes.txt)
    assert_eq!(r.text().await.unwrap(), unauth);
    let r = h
        .get(t.url("/api/v2/me/"))
        .basic_auth("auditor", Some("auditor-pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-api-product-version"], "24.6.1");
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["count"], 1);
    assert_eq!(me["results"][0]["username"], "auditor");
    assert_eq!(me["results"][0]["is_system_auditor"], true);
    assert_eq!(me["results"][0]["is_superuser"], false);
    // ping needs no auth
    let r = h.get(t.url("/api/v2/ping/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ping: Value = r.json().await.unwrap();
    assert_eq!(ping["version"], "24.6.1");
    assert!(ping["instances"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["node_type"] != "hop"));
    // metrics: plain user 403, auditor 200, anonymous 401
    let r = h
        .get(t.url("/api/v2/metrics/"))
        .bearer_auth("sim-viewer-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = h
        .get(t.url("/api/v2/metrics/"))
        .bearer_auth("sim-auditor-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = h.get(t.url("/api/v2/metrics/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = h
        .post(t.url("/api/v2/metrics/"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = h
        .post(t.url("/api/v2/unified_jobs/"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"detail":"Method \"POST\" not allowed."}"#
    );
    // unknown path, missing slash, controller prefix
    let (s, b) = t.get("/api/v2/nothing_here/").await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::NOT_FOUND,
            r#"{"detail":"The requested resource could not be found."}"#
        )
    );
    let (s, b) = t.get("/api/v2/jobs/999999999/").await;
    assert_eq!(
        (s, b.as_str()),
        (StatusCode::NOT_FOUND, r#"{"detail":"Not found."}"#)
    );
    let (s, _) = t.get("/api/v2/ping").await;
    assert_eq!(s, StatusCode::MOVED_PERMANENTLY);
    let (s, _) = t.get("/api/controller/v2/unified_jobs/?page_size=1").await;
    assert_eq!(s, StatusCode::OK);
    t.sim.shutdown().await;

    // anonymous metrics and configured users
    let mut c = cfg(1, 100.0);
    c.allow_anonymous_metrics = true;
    c.api_prefix = awx_sim::ApiPrefix::V2;
    c.users = vec!["ops:secret:user:ops-token".parse().unwrap()];
    let t = spawn(c).await;
    let r = t.http.get(t.url("/api/v2/metrics/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = t
        .http
        .get(t.url("/api/v2/me/"))
        .bearer_auth("ops-token")
        .send()
        .await
        .unwrap();
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["results"][0]["username"], "ops");
    let (s, _) = t.get("/api/controller/v2/ping/").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn metrics_format_and_values() {
    let t = spawn(cfg(3, 400.0)).await;
    t.advance(1).await; // a few jobs in flight
    let text = t.metrics_text().await;
    let truth = t.truth().await;
    let mut types: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for l in text.lines() {
        if let Some(r) = l.strip_prefix("# TYPE ") {
            let (n, ty) = r.split_once(' ').unwrap();
            types.entry(n).or_default().push(ty);
        }
    }
    for f in [
        "awx_system_info",
        "awx_organizations_total",
        "awx_users_total",
        "awx_teams_total",
        "awx_inventories_total",
        "awx_projects_total",
        "awx_job_templates_total",
        "awx_workflow_job_templates_total",
        "awx_hosts_total",
        "awx_schedules_total",
        "awx_sessions_total",
        "awx_running_jobs_total",
        "awx_pending_jobs_total",
        "awx_status_total",
        "awx_instance_capacity",
        "awx_instance_cpu",
        "awx_instance_memory",
        "awx_instance_info",
        "awx_instance_launch_type_total",
        "awx_instance_status_total",
        "awx_instance_consumed_capacity",
        "awx_instance_remaining_capacity",
        "awx_license_instance_total",
        "awx_license_instance_free",
        "awx_database_connections_total",
        "task_manager__schedule_calls",
        "dispatcher_availability",
        "callback_receiver_events_insert_db",
        "callback_receiver_event_processing_avg_seconds",
    ] {
        assert_eq!(
            types.get(f).map(|v| v.as_slice()),
            Some(&["gauge"][..]),
            "{f}"
        );
    }
    assert_eq!(
        types["callback_receiver_batch_events_insert_db"],
        vec!["histogram"]
    );
    for f in [
        "subsystem_metrics_pipe_execute_seconds",
        "subsystem_metrics_pipe_execute_calls",
        "subsystem_metrics_send_metrics_seconds",
    ] {
        assert_eq!(
            types[f],
            vec!["gauge", "gauge"],
            "{f} must appear twice (AWX #15179)"
        );
        assert_eq!(text.matches(&format!("# HELP {f} ")).count(), 2);
    }
    assert!(text.contains("tower_version=\"24.6.1\""));
    assert!(text.contains("# HELP awx_instance_memory RAM (Kb) on each node in the system\n"));
    assert!(text.contains(
        "callback_receiver_batch_events_insert_db_bucket{le=\"+Inf\",node=\"awx-control-1\"} "
    ));

    // awx_status_total = stored non-sync jobs per status
    for st in [
        "pending",
        "waiting",
        "running",
        "successful",
        "failed",
        "error",
        "canceled",
    ] {
        let want = count(&truth, |j| j["status"] == st && j["launch_type"] != "sync") as f64;
        assert_eq!(
            metric(&text, &format!("awx_status_total{{status=\"{st}\"}}")),
            Some(want),
            "{st}"
        );
    }
    assert!(!text.contains("status=\"new\""));
    let running = count(&truth, |j| {
        (j["status"] == "running" || j["status"] == "waiting") && j["launch_type"] != "sync"
    }) as f64;
    assert_eq!(metric(&text, "awx_running_jobs_total"), Some(running));
    let pending = count(&truth, |j| {
        j["status"] == "pending" && j["launch_type"] != "sync"
    }) as f64;
    assert_eq!(metric(&text, "awx_pending_jobs_total"), Some(pending));
    // only ready, enabled, non-hop instances
    for gone in ["awx-exec-4", "awx-exec-5", "awx-hop-1"] {
        assert!(
            !text.contains(&format!("awx_instance_capacity{{hostname=\"{gone}\"")),
            "{gone}"
        );
    }
    // per node launch types: no sync, no empty node
    let lt: f64 = text
        .lines()
        .filter(|l| l.starts_with("awx_instance_launch_type_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(
        lt,
        count(&truth, |j| j["launch_type"] != "sync"
            && j["execution_node"] != "") as f64
    );
    assert!(!text.contains("launch_type=\"sync\""));
    // consumed capacity matches the truth endpoint
    let inst: Vec<Value> = t
        .http
        .get(t.url("/_sim/truth/instances"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for i in inst.iter().filter(|i| i["in_metrics"] == true) {
        let h = i["hostname"].as_str().unwrap();
        let series = format!("awx_instance_consumed_capacity{{hostname=\"{h}\",instance_uuid=\"{}\",node_type=\"{}\"}}", i["uuid"].as_str().unwrap(), i["node_type"].as_str().unwrap());
        assert_eq!(
            metric(&text, &series),
            i["consumed_capacity"].as_f64(),
            "{h}"
        );
    }

    // ?format=json: duplicates collapse to the last block, keeping the first position
    let j = t.json("/api/v2/metrics/?format=json").await;
    assert_eq!(j["awx_status_total"]["type"], "gauge");
    assert_eq!(j["awx_status_total"]["help_text"], "Status of Job launched");
    assert_eq!(
        j["callback_receiver_batch_events_insert_db"]["samples"][0]["sample_type"],
        "bucket"
    );
    let last_calls = text
        .lines()
        .rfind(|l| l.starts_with("subsystem_metrics_pipe_execute_calls{node=\"awx-control-1\"}"))
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert_eq!(
        j["subsystem_metrics_pipe_execute_calls"]["samples"][0]["value"].as_f64(),
        Some(last_calls)
    );
    let (_, raw) = t.get("/api/v2/metrics/?format=json").await;
    let pos = |k: &str| raw.find(&format!("\"{k}\":")).unwrap();
    assert_eq!(
        raw.matches("\"subsystem_metrics_pipe_execute_calls\":")
            .count(),
        1
    );
    assert!(pos("dispatcher_availability") < pos("subsystem_metrics_pipe_execute_calls"));
    assert!(
        pos("subsystem_metrics_pipe_execute_calls")
            < pos("callback_receiver_events_queue_size_redis")
    );
    // subsystemonly / dbonly
    let (_, sub) = t.get("/api/v2/metrics/?subsystemonly=1").await;
    assert!(!sub.contains("awx_status_total") && sub.contains("task_manager__schedule_calls"));
    let (_, db) = t.get("/api/v2/metrics/?dbonly=1").await;
    assert!(db.contains("awx_status_total") && !db.contains("task_manager__schedule_calls"));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn deterministic_with_seed_and_now() {
    let a = spawn(cfg(2, 300.0)).await;
    let b = spawn(cfg(2, 300.0)).await;
    let ta = a
        .http
        .get(a.url("/_sim/truth/jobs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tb = b
        .http
        .get(b.url("/_sim/truth/jobs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ta.len() > 1000);
    assert_eq!(ta, tb);
    let pa = a
        .get("/api/v2/unified_jobs/?page_size=200&order_by=-id")
        .await
        .1;
    let pb = b
        .get("/api/v2/unified_jobs/?page_size=200&order_by=-id")
        .await
        .1;
    assert_eq!(pa, pb);
    // advancing in one step or in several gives the same state
    a.advance(3600).await;
    for _ in 0..4 {
        b.advance(900).await;
    }
    let ta = a
        .http
        .get(a.url("/_sim/truth/jobs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let tb = b
        .http
        .get(b.url("/_sim/truth/jobs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ta, tb);
    let mut c = cfg(2, 300.0);
    c.seed = 2;
    let c = spawn(c).await;
    let tc = c
        .http
        .get(c.url("/_sim/truth/jobs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(ta, tc);
    a.sim.shutdown().await;
    b.sim.shutdown().await;
    c.sim.shutdown().await;
}

#[tokio::test]
async fn purge_lowers_status_total() {
    // now is Saturday 00:00: the history is Wednesday..Friday (busy days); a quiet Saturday is
    // simulated while Wednesday is purged.
    let t = spawn(cfg(3, 600.0)).await;
    let before = metric(
        &t.metrics_text().await,
        "awx_status_total{status=\"successful\"}",
    )
    .unwrap();
    let res = t.advance(86_400).await;
    assert_eq!(res["now"], "2024-10-06T00:00:00Z");
    let text = t.metrics_text().await;
    let after = metric(&text, "awx_status_total{status=\"successful\"}").unwrap();
    assert!(after < before * 0.9, "expected a fall: {before} -> {after}");
    let truth = t.truth().await;
    assert!(truth
        .iter()
        .all(|j| us(&j["created"]) >= us_str("2024-10-03T00:00:00Z")));
    assert_eq!(
        after,
        count(&truth, |j| j["status"] == "successful"
            && j["launch_type"] != "sync") as f64
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn advance_moves_jobs_and_modified() {
    let t = spawn(cfg(2, 2000.0)).await;
    let truth = t.truth().await;
    let active: Vec<&Value> = truth
        .iter()
        .filter(|j| {
            matches!(
                j["status"].as_str(),
                Some("pending" | "waiting" | "running")
            )
        })
        .collect();
    assert!(!active.is_empty(), "some jobs are in flight at now");
    let max_id = truth
        .iter()
        .map(|j| j["id"].as_u64().unwrap())
        .max()
        .unwrap();
    let latest_mod = truth
        .iter()
        .map(|j| j["modified"].as_str().unwrap().to_string())
        .max()
        .unwrap();
    t.advance(7200).await;
    let after = t.truth().await;
    let by_id: BTreeMap<u64, &Value> = after
        .iter()
        .map(|j| (j["id"].as_u64().unwrap(), j))
        .collect();
    for j in &active {
        let id = j["id"].as_u64().unwrap();
        let now = by_id[&id];
        assert_ne!(now["status"], j["status"], "job {id} did not move");
        assert!(us(&now["modified"]) > us(&j["modified"]));
    }
    assert!(
        after.iter().any(|j| j["id"].as_u64().unwrap() > max_id),
        "new jobs were launched"
    );
    // incremental sync by modified__gt sees exactly the changed jobs
    let changed = count(&after, |j| us(&j["modified"]) > us_str(&latest_mod));
    let got = t
        .json(&format!(
            "/api/v2/unified_jobs/?modified__gt={latest_mod}&page_size=1"
        ))
        .await;
    assert_eq!(got["count"].as_u64(), Some(changed));
    assert!(changed as usize >= active.len());
    // a running job's elapsed is live
    let p = t
        .json("/api/v2/unified_jobs/?status=running&page_size=1")
        .await;
    if let Some(j) = p["results"].as_array().and_then(|a| a.first()) {
        let started = chrono::DateTime::parse_from_rfc3339(j["started"].as_str().unwrap()).unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2024-10-05T02:00:00Z").unwrap();
        let want = (now - started).num_microseconds().unwrap() as f64 / 1e6;
        assert!((j["elapsed"].as_f64().unwrap() - want).abs() < 0.01);
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn job_representation() {
    let t = spawn(cfg(3, 400.0)).await;
    let truth = t.truth().await;
    let page = t
        .json("/api/v2/unified_jobs/?page_size=200&order_by=-id")
        .await;
    for j in page["results"].as_array().unwrap() {
        for k in [
            "job_args",
            "job_cwd",
            "job_env",
            "result_traceback",
            "event_processing_finished",
        ] {
            assert!(j.get(k).is_none(), "list has {k}");
        }
        let failed = matches!(j["status"].as_str(), Some("failed" | "error" | "canceled"));
        assert_eq!(j["failed"], failed);
        assert!(j["elapsed"].is_f64());
        if j["started"].is_null() {
            assert_eq!(j["elapsed"].as_f64(), Some(0.0));
        }
        assert_eq!(
            j["summary_fields"].get("schedule").is_some(),
            j["launch_type"] == "scheduled"
        );
    }
    let child = truth
        .iter()
        .find(|j| !j["source_workflow_job"].is_null() && j["type"] == "job")
        .expect("a workflow child");
    let id = child["id"].as_u64().unwrap();
    let d = t.json(&format!("/api/v2/jobs/{id}/")).await;
    assert_eq!(d["launch_type"], "workflow");
    assert_eq!(
        d["summary_fields"]["source_workflow_job"]["id"],
        child["source_workflow_job"]
    );
    assert!(
        d.get("job_args").is_some()
            && d.get("event_processing_finished").is_some()
            && d.get("host_status_counts").is_some()
    );
    let ts = d["created"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts.len() == 27, "{ts}");
    let (s, _) = t.get(&format!("/api/v2/project_updates/{id}/")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let dep = truth.iter().find(|j| j["launch_type"] == "dependency");
    if let Some(dep) = dep {
        let d = t
            .json(&format!("/api/v2/inventory_updates/{}/", dep["id"]))
            .await;
        assert_eq!(d["launched_by"]["name"], "Generated by AWX");
        assert!(d["launched_by"]["id"].is_null());
    }
    // small lists
    let jt = t.json("/api/v2/job_templates/?page_size=200").await;
    assert!(jt["count"].as_u64().unwrap() >= 20);
    let ujt = t
        .json("/api/v2/unified_job_templates/?page_size=200&order_by=name")
        .await;
    assert_eq!(ujt["count"], 41);
    let names: Vec<&str> = ujt["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]));
    let ujt = t
        .json("/api/v2/unified_job_templates/?type=workflow_job_template")
        .await;
    assert_eq!(ujt["count"], 3);
    let ujt = t
        .json("/api/v2/unified_job_templates/?name__icontains=backup")
        .await;
    assert_eq!(ujt["count"], 2);
    let (s, b) = t.get("/api/v2/unified_job_templates/?nope=1").await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"detail":"UnifiedJobTemplate has no field named 'nope'"}"#
        )
    );
    let orgs = t.json("/api/v2/organizations/").await;
    assert!((3..=4).contains(&orgs["count"].as_u64().unwrap()));
    let ig = t
        .json("/api/v2/instance_groups/?is_container_group=true")
        .await;
    assert_eq!(ig["count"], 1);
    let inst = t.json("/api/v2/instances/?node_type=hop").await;
    assert_eq!(inst["results"][0]["hostname"], "awx-hop-1");
    let (s, b) = t.get("/api/v2/job_templates/?nope=1").await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"detail":"JobTemplate has no field named 'nope'"}"#
        )
    );
    let hosts = t
        .json("/api/v2/hosts/?last_job_host_summary__failed=true&page_size=1")
        .await;
    assert!(hosts["count"].as_u64().is_some());
    // dashboard graph: successful per day over the month equals the truth
    let g = t.json("/api/v2/dashboard/graphs/jobs/?period=week").await;
    let total: u64 = g["jobs"]["successful"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_u64().unwrap())
        .sum();
    assert_eq!(
        total,
        count(&truth, |j| j["status"] == "successful"
            && j["launch_type"] != "sync"
            && !j["finished"].is_null())
    );
    let (s, b) = t.get("/api/v2/dashboard/graphs/jobs/?period=year").await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":"Unknown period \"year\""}"#
        )
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn episodes_are_visible() {
    let t = spawn(Config {
        days: 30,
        jobs_per_day: 500.0,
        ..Config::for_tests("2024-10-01T12:00:00Z")
    })
    .await;
    let info: Value = t
        .http
        .get(t.url("/_sim/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let truth = t.truth().await;
    let ts = |j: &Value, k: &str| {
        j[k].as_str()
            .map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp())
    };
    let at = |k: &str, f: &str| {
        chrono::DateTime::parse_from_rfc3339(info["episodes"][k][f].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    // failure spike
    let (s0, s1) = (at("failure_spike", "start"), at("failure_spike", "end"));
    let spike = info["episodes"]["failure_spike"]["template"]
        .as_str()
        .unwrap();
    let rate = |inside: bool| {
        let js: Vec<&Value> = truth
            .iter()
            .filter(|j| {
                j["template_name"] == spike
                    && j["type"] == "job"
                    && ts(j, "started")
                        .map(|s| (s >= s0 && s < s1) == inside)
                        .unwrap_or(false)
            })
            .collect();
        js.iter().filter(|j| j["status"] == "failed").count() as f64 / js.len().max(1) as f64
    };
    assert!(
        rate(true) > 0.4 && rate(false) < 0.15,
        "spike {} vs {}",
        rate(true),
        rate(false)
    );
    // queue build-up: waits grow
    let (q0, q1) = (at("queue_buildup", "start"), at("queue_buildup", "end"));
    let wait = |inside: bool| {
        let w: Vec<i64> = truth
            .iter()
            .filter(|j| {
                j["type"] == "job"
                    && ts(j, "created")
                        .map(|c| (c >= q0 && c < q1) == inside)
                        .unwrap_or(false)
            })
            .filter_map(|j| Some(ts(j, "started")? - ts(j, "created")?))
            .collect();
        w.iter().sum::<i64>() as f64 / w.len().max(1) as f64
    };
    assert!(
        wait(true) > 10.0 * wait(false).max(1.0),
        "queue waits {} vs {}",
        wait(true),
        wait(false)
    );
    // slowdown
    let slow = info["episodes"]["slowdown"]["template"].as_str().unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2024-09-01T12:00:00Z")
        .unwrap()
        .timestamp();
    let mean = |from: i64, to: i64| {
        let v: Vec<f64> = truth
            .iter()
            .filter(|j| {
                j["template_name"] == slow
                    && j["type"] == "job"
                    && j["status"] == "successful"
                    && ts(j, "started")
                        .map(|s| s >= from && s < to)
                        .unwrap_or(false)
            })
            .map(|j| j["elapsed"].as_f64().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let first = mean(start, start + 5 * 86_400);
    let last = mean(start + 25 * 86_400, start + 30 * 86_400);
    assert!(last > first * 1.8, "slowdown {first} -> {last}");
    // job types and launch types all present
    for ty in [
        "job",
        "workflow_job",
        "project_update",
        "inventory_update",
        "system_job",
        "ad_hoc_command",
    ] {
        assert!(truth.iter().any(|j| j["type"] == ty), "{ty}");
    }
    for lt in [
        "manual",
        "relaunch",
        "scheduled",
        "workflow",
        "webhook",
        "sync",
        "dependency",
    ] {
        assert!(truth.iter().any(|j| j["launch_type"] == lt), "{lt}");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn faults_on_demand() {
    let t = spawn(cfg(1, 200.0)).await;
    let post = |body: Value| {
        let t = &t;
        async move {
            t.http
                .post(t.url("/_sim/faults"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        post(
            serde_json::json!({"error_rate": 1.0, "error_status": 503, "paths": ["unified_jobs"]})
        )
        .await,
        StatusCode::OK
    );
    let (s, _) = t.get("/api/v2/unified_jobs/").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = t.get("/api/v2/ping/").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        post(serde_json::json!({"drop_rate": 1.0})).await,
        StatusCode::OK
    );
    assert!(
        t.http.get(t.url("/api/v2/ping/")).send().await.is_err(),
        "connection dropped"
    );
    assert_eq!(
        post(serde_json::json!({"truncate_rate": 1.0})).await,
        StatusCode::OK
    );
    let r = t.http.get(t.url("/api/v2/ping/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.is_err(), "body cut short");
    assert_eq!(
        post(serde_json::json!({"invalid_json_rate": 1.0})).await,
        StatusCode::OK
    );
    let r = t.http.get(t.url("/api/v2/ping/")).send().await.unwrap();
    assert!(r.json::<Value>().await.is_err());
    assert_eq!(
        post(serde_json::json!({"endless_pages": true})).await,
        StatusCode::OK
    );
    let p = t.json("/api/v2/organizations/?page=7").await;
    assert_eq!(p["next"], "/api/v2/organizations/?page=8");
    assert_eq!(
        post(serde_json::json!({"revoked_tokens": [ADMIN]})).await,
        StatusCode::OK
    );
    let (s, _) = t.get("/api/v2/me/").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(serde_json::json!({"error_rate": 2.0})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(serde_json::json!({"bogus": 1})).await,
        StatusCode::BAD_REQUEST
    );
    let r = t.http.delete(t.url("/_sim/faults")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, _) = t.get("/api/v2/me/").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t.get("/api/v2/organizations/?page=7").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn capacity_model_and_stats() {
    let mut c = cfg(1, 100.0);
    c.workers = Some(1);
    c.latency_ms = 100;
    let t = spawn(c).await;
    t.http
        .post(t.url("/_sim/stats/reset"))
        .send()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let futs: Vec<_> = (0..4).map(|_| t.get("/api/v2/ping/")).collect();
    let res = futures::future::join_all(futs).await;
    assert!(res.iter().all(|(s, _)| *s == StatusCode::OK));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    t.get("/api/v2/unified_jobs/").await;
    let stats: Value = t
        .http
        .get(t.url("/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests_total"], 5);
    assert_eq!(stats["requests_by_path"]["/api/v2/ping/"], 4);
    assert_eq!(stats["requests_by_path"]["/api/v2/unified_jobs/"], 1);
    assert!(stats["max_in_flight"].as_u64().unwrap() >= 2);
    let r = t.http.get(t.url("/_sim/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    t.sim.shutdown().await;
}

/// The keys of a JSON object, in document order.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                let mut k = Vec::new();
                while let Some(key) = m.next_key::<String>()? {
                    m.next_value::<serde::de::IgnoredAny>()?;
                    k.push(key);
                }
                Ok(Keys(k))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(serde::Deserialize)]
struct KeyPage {
    results: Vec<Keys>,
}

const COMMON: &[&str] = &[
    "id",
    "type",
    "url",
    "related",
    "summary_fields",
    "created",
    "modified",
    "name",
    "description",
    "unified_job_template",
    "launch_type",
    "status",
    "execution_environment",
    "failed",
    "started",
    "finished",
    "canceled_on",
    "elapsed",
    "job_explanation",
    "execution_node",
];

/// Field order of the real AWX list samples (shared/reference/samples/real_unified_jobs_list_*.json).
#[tokio::test]
async fn list_fields_match_the_real_samples() {
    let t = spawn(cfg(3, 400.0)).await;
    let cases: [(&str, &[&str]); 3] = [
        (
            "/api/v2/unified_jobs/?type=project_update&page_size=1",
            &[
                "launched_by",
                "work_unit_id",
                "local_path",
                "scm_type",
                "scm_url",
                "scm_branch",
                "scm_refspec",
                "scm_clean",
                "scm_track_submodules",
                "scm_delete_on_update",
                "credential",
                "timeout",
                "scm_revision",
                "project",
                "job_type",
                "job_tags",
            ],
        ),
        (
            "/api/v2/unified_jobs/?type=inventory_update&page_size=1",
            &[
                "controller_node",
                "launched_by",
                "work_unit_id",
                "source",
                "source_path",
                "source_vars",
                "credential",
                "enabled_var",
                "enabled_value",
                "host_filter",
                "overwrite",
                "overwrite_vars",
                "custom_virtualenv",
                "timeout",
                "verbosity",
                "inventory",
                "inventory_source",
                "license_error",
                "org_host_limit_error",
                "source_project_update",
                "instance_group",
                "scm_revision",
            ],
        ),
        (
            "/api/v2/unified_jobs/?type=job&page_size=1",
            &[
                "controller_node",
                "launched_by",
                "work_unit_id",
                "job_type",
                "inventory",
                "project",
                "playbook",
                "scm_branch",
                "forks",
                "limit",
                "verbosity",
                "extra_vars",
                "job_tags",
                "force_handlers",
                "skip_tags",
                "start_at_task",
                "timeout",
                "use_fact_cache",
                "organization",
                "job_template",
                "passwords_needed_to_start",
                "allow_simultaneous",
                "artifacts",
                "scm_revision",
                "instance_group",
                "diff_mode",
                "job_slice_number",
                "job_slice_count",
                "webhook_service",
                "webhook_credential",
                "webhook_guid",
            ],
        ),
    ];
    for (path, tail) in cases {
        let (s, body) = t.get(path).await;
        assert_eq!(s, StatusCode::OK);
        let page: KeyPage = serde_json::from_str(&body).expect("page");
        let want: Vec<String> = COMMON
            .iter()
            .chain(tail.iter())
            .map(|s| s.to_string())
            .collect();
        assert_eq!(page.results[0].0, want, "{path}");
    }
    // a pending job has no execution environment and no instance group yet
    t.advance(30).await;
    let p = t.json("/api/v2/jobs/?status=pending&page_size=200").await;
    for j in p["results"].as_array().unwrap() {
        assert!(
            j["execution_environment"].is_null()
                && j["instance_group"].is_null()
                && j["started"].is_null()
        );
        assert!(j["summary_fields"].get("execution_environment").is_none());
        assert_eq!(j["controller_node"], "");
    }
    t.sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Facts measured on a real AWX 24.6.1 (shared/reference/awx-api-and-metrics.md section 8; the
// samples in tests/real-awx-24.6.1/ are copies of samples/real-awx-24.6.1/).

impl T {
    /// A GET with the given Authorization header (None: none).
    async fn raw(&self, p: &str, auth: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(self.url(p));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send().await.expect("send")
    }
    async fn count(&self, p: &str) -> u64 {
        let sep = if p.contains('?') { '&' } else { '?' };
        self.json(&format!("{p}{sep}page_size=1")).await["count"]
            .as_u64()
            .expect("count")
    }
    async fn post_json(&self, p: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(p))
            .json(&body)
            .send()
            .await
            .expect("send");
        let s = r.status();
        let text = r.text().await.expect("body");
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn ids(page: &Value) -> Vec<u64> {
    page["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|j| j["id"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn real_next_links() {
    let t = spawn(cfg(2, 400.0)).await;
    let n = t.truth().await.len() as u64;
    // a path without host, parameters sorted alphabetically (the real sample's next)
    let p = t
        .json("/api/v2/unified_jobs/?page_size=200&order_by=-id")
        .await;
    assert_eq!(
        p["next"],
        "/api/v2/unified_jobs/?order_by=-id&page=2&page_size=200"
    );
    let p = t.json("/api/v2/unified_jobs/?page_size=1").await;
    assert_eq!(p["next"], "/api/v2/unified_jobs/?page=2&page_size=1");
    // over 200: capped, and the cap is written into next
    let p = t
        .json("/api/v2/unified_jobs/?page_size=1000&order_by=id")
        .await;
    assert_eq!(p["results"].as_array().map(Vec::len), Some(200));
    assert_eq!(
        p["next"],
        "/api/v2/unified_jobs/?order_by=id&page=2&page_size=200"
    );
    // zero, negative or not a number: the default 25
    for q in ["page_size=0", "page_size=-5", "page_size=abc"] {
        let p = t.json(&format!("/api/v2/unified_jobs/?{q}")).await;
        assert_eq!(p["results"].as_array().map(Vec::len), Some(25), "{q}");
        assert_eq!(p["count"].as_u64(), Some(n), "{q}");
    }
    // past the end, page=0, page=abc: 404 Invalid page.
    let last = n.div_ceil(200);
    for q in [
        format!("page_size=200&page={}", last + 1),
        "page=0".to_string(),
        "page=abc".to_string(),
        "page=-1".to_string(),
    ] {
        let (s, b) = t.get(&format!("/api/v2/unified_jobs/?{q}")).await;
        assert_eq!(
            (s, b.as_str()),
            (StatusCode::NOT_FOUND, r#"{"detail":"Invalid page."}"#),
            "{q}"
        );
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_per_type_fields() {
    let t = spawn(cfg(2, 400.0)).await;
    let truth = t.truth().await;
    for (ty, no_org, no_controller) in [
        ("job", false, false),
        ("workflow_job", true, true),
        ("project_update", true, true),
        ("inventory_update", true, false),
    ] {
        let p = t
            .json(&format!(
                "/api/v2/unified_jobs/?type={ty}&page_size=50&order_by=-id"
            ))
            .await;
        let rows = p["results"].as_array().expect("rows");
        assert!(!rows.is_empty(), "{ty}");
        for j in rows {
            assert_eq!(j.get("organization").is_none(), no_org, "{ty} organization");
            assert_eq!(
                j.get("controller_node").is_none(),
                no_controller,
                "{ty} controller_node"
            );
            // the organization is still in summary_fields
            assert!(
                j["summary_fields"]["organization"]["name"].is_string(),
                "{ty}"
            );
        }
    }
    // organization= still matches the types that do not show the field
    let org = truth
        .iter()
        .find(|j| j["type"] == "workflow_job")
        .and_then(|j| j["organization"].as_str())
        .expect("a workflow job with an organization")
        .to_string();
    let orgs = t.json("/api/v2/organizations/?page_size=200").await;
    let org_id = orgs["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == org.as_str())
        .and_then(|o| o["id"].as_u64())
        .unwrap();
    let want = count(&truth, |j| {
        j["type"] == "workflow_job" && j["organization"] == org.as_str()
    });
    assert!(want > 0);
    assert_eq!(
        t.count(&format!(
            "/api/v2/unified_jobs/?type=workflow_job&organization={org_id}"
        ))
        .await,
        want
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_type_in_selects_nothing() {
    let t = spawn(cfg(2, 400.0)).await;
    let truth = t.truth().await;
    let both = count(&truth, |j| {
        j["type"] == "job" || j["type"] == "workflow_job"
    });
    assert!(both > 0);
    assert_eq!(
        t.count("/api/v2/unified_jobs/?type=job,workflow_job").await,
        both
    );
    // 200 with no rows, no error
    for q in ["type__in=job,workflow_job", "type__in=job"] {
        let (s, b) = t.get(&format!("/api/v2/unified_jobs/?{q}")).await;
        assert_eq!(s, StatusCode::OK, "{q}");
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["count"], 0, "{q}");
    }
    // its negation selects everything
    assert_eq!(
        t.count("/api/v2/unified_jobs/?not__type__in=job").await,
        truth.len() as u64
    );
    // the other type lookups work on the model name (underscores ignored)
    assert_eq!(
        t.count("/api/v2/unified_jobs/?type__exact=workflow_job")
            .await,
        count(&truth, |j| j["type"] == "workflow_job")
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_repeated_status_ands() {
    let t = spawn(cfg(2, 400.0)).await;
    let truth = t.truth().await;
    let either = count(&truth, |j| {
        j["status"] == "failed" || j["status"] == "error"
    });
    assert!(either > 0);
    assert_eq!(
        t.count("/api/v2/unified_jobs/?status=failed&status=error")
            .await,
        0,
        "repeated status= is an AND"
    );
    assert_eq!(
        t.count("/api/v2/unified_jobs/?status__in=failed,error")
            .await,
        either
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_order_by_finished_desc_puts_nulls_first() {
    let t = spawn(cfg(2, 400.0)).await;
    t.advance(30).await;
    let truth = t.truth().await;
    let open = count(&truth, |j| j["finished"].is_null());
    assert!(open > 0, "some unfinished jobs");
    let all = t
        .all("/api/v2/unified_jobs/?order_by=-finished&page_size=200")
        .await;
    assert_eq!(all.len(), truth.len());
    let k = open as usize;
    assert!(all[..k].iter().all(|j| j["finished"].is_null()));
    assert!(all[k..].iter().all(|j| !j["finished"].is_null()));
    let fin: Vec<i64> = all[k..].iter().map(|j| us(&j["finished"])).collect();
    assert!(fin.windows(2).all(|w| w[0] >= w[1]));
    // ascending: NULLs last
    let p = t
        .json(&format!(
            "/api/v2/unified_jobs/?order_by=finished&page_size=1&page={}",
            truth.len()
        ))
        .await;
    assert!(p["results"][0]["finished"].is_null());
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_error_bodies() {
    let t = spawn(cfg(1, 200.0)).await;
    // the bodies AWX 24.6.1 answered (filter_probes.txt)
    for (q, body) in [
        ("foo=bar", r#"{"detail":"UnifiedJob has no field named 'foo'"}"#),
        (
            "launched_by=1",
            r#"{"detail":"UnifiedJob has no field named 'launched_by'"}"#,
        ),
        ("finished__foo=1", r#"{"detail":"No related model for field foo."}"#),
        (
            "finished__gte=notadate",
            "{\"detail\":\"[\\\"\u{201c}notadate\u{201d} value has an invalid format. It must be in YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ] format.\\\"]\"}",
        ),
        (
            "finished__gte=2024-13-45",
            "{\"detail\":\"[\\\"\u{201c}2024-13-45\u{201d} value has the correct format (YYYY-MM-DD) but it is an invalid date.\\\"]\"}",
        ),
        (
            "finished__isnull=maybe",
            r#"{"detail":"Unable to convert \"maybe\" to boolean"}"#,
        ),
        (
            "id__gt=abc",
            "{\"detail\":\"[\\\"\u{201c}abc\u{201d} value must be an integer.\\\"]\"}",
        ),
        (
            "order_by=unknownfield",
            r#"{"detail":"UnifiedJob has no field named 'unknownfield'"}"#,
        ),
    ] {
        let (s, b) = t
            .get(&format!("/api/v2/unified_jobs/?{q}&page_size=1"))
            .await;
        assert_eq!((s, b.as_str()), (StatusCode::BAD_REQUEST, body), "{q}");
    }
    // an unencoded + arrives as a space: refused; encoded it works
    let (s, b) = t
        .get("/api/v2/unified_jobs/?finished__gte=2024-10-04T00:00:00+00:00")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("invalid format"), "{b}");
    let (s, _) = t
        .get("/api/v2/unified_jobs/?finished__gte=2024-10-04T00:00:00%2B00:00")
        .await;
    assert_eq!(s, StatusCode::OK);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_401_bodies() {
    let t = spawn(cfg(1, 100.0)).await;
    let unauth = r#"{"detail":"Authentication credentials were not provided. To establish a login session, visit /api/login/."}"#;
    // no header, a bad token, a malformed header, a wrong password, another scheme: the same 401
    for auth in [
        None,
        Some("Bearer not-a-token"),
        Some("Bearer"),
        Some("Basic YWRtaW46bm9wZQ=="), // admin:nope
        Some("Basic !!!"),
        Some("Token sim-admin-token"),
    ] {
        let r = t.raw("/api/v2/config/", auth).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer realm=api authorization_url=/api/o/authorize/",
            "{auth:?}"
        );
        assert_eq!(r.text().await.unwrap(), unauth, "{auth:?}");
    }
    // ping/ needs none; good Basic credentials work
    assert_eq!(t.raw("/api/v2/ping/", None).await.status(), StatusCode::OK);
    let r = t
        .raw("/api/v2/me/", Some("Basic YWRtaW46cGFzc3dvcmQ="))
        .await; // admin:password
    assert_eq!(r.status(), StatusCode::OK);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_metrics_errors_are_python_reprs() {
    let t = spawn(cfg(1, 100.0)).await;
    let r = t
        .raw("/api/v2/metrics/", Some("Bearer sim-viewer-token"))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        r.text().await.unwrap(),
        "{'detail': ErrorDetail(string='You do not have permission to perform this action.', code='permission_denied')}"
    );
    let r = t.raw("/api/v2/metrics/", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=api authorization_url=/api/o/authorize/"
    );
    assert_eq!(
        r.text().await.unwrap(),
        "{'detail': 'Authentication credentials were not provided. To establish a login session, visit /api/login/.'}"
    );
    let r = t
        .http
        .post(t.url("/api/v2/metrics/"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.text().await.unwrap(),
        "{'detail': ErrorDetail(string='Method \"POST\" not allowed.', code='method_not_allowed')}"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_metrics_without_redis() {
    let t = spawn(cfg(1, 100.0)).await;
    let (s, _) = t
        .post_json("/_sim/faults", serde_json::json!({"redis_down": true}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let want = std::fs::read_to_string(format!(
        "{}/tests/real-awx-24.6.1/metrics_without_redis.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("sample");
    // the sample: a status line, then the page, then the next probe's "== " line
    let page = want
        .split("== /api/v2/metrics/?dbonly=1")
        .next()
        .and_then(|x| x.split_once("text/html; charset=utf-8\n"))
        .and_then(|x| x.1.strip_suffix('\n')) // the probe's own line break
        .expect("page in sample");
    for q in ["", "?subsystemonly=1", "?format=json"] {
        let r = t
            .raw(
                &format!("/api/v2/metrics/{q}"),
                Some("Bearer sim-admin-token"),
            )
            .await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{q}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(r.text().await.unwrap(), page, "{q}");
    }
    // the database metrics, ping/ and the lists still answer
    let (s, b) = t.get("/api/v2/metrics/?dbonly=1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("awx_status_total"));
    assert_eq!(t.get("/api/v2/ping/").await.0, StatusCode::OK);
    assert_eq!(t.get("/api/v2/unified_jobs/").await.0, StatusCode::OK);
    let r = t.http.delete(t.url("/_sim/faults")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(t.get("/api/v2/metrics/").await.0, StatusCode::OK);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_job_host_summaries_and_hosts() {
    let t = spawn(cfg(2, 400.0)).await;
    // every host, by inventory name: (id, enabled now)
    let all_hosts = t.all("/api/v2/hosts/?page_size=200").await;
    let hosts_of = |name: &str| -> Vec<(u64, bool)> {
        all_hosts
            .iter()
            .filter(|h| h["summary_fields"]["inventory"]["name"] == name)
            .map(|h| (h["id"].as_u64().unwrap(), h["enabled"] == true))
            .collect()
    };
    let mut checked = [0, 0];
    for status in ["successful", "failed"] {
        let p = t
            .json(&format!(
                "/api/v2/jobs/?status={status}&started__isnull=false&order_by=-id&page_size=20"
            ))
            .await;
        for j in p["results"].as_array().unwrap() {
            let id = j["id"].as_u64().unwrap();
            let inv = hosts_of(j["summary_fields"]["inventory"]["name"].as_str().unwrap());
            let all = t
                .all(&format!(
                    "/api/v2/jobs/{id}/job_host_summaries/?page_size=200"
                ))
                .await;
            // one summary per host of the run: every host enabled now (hosts are only ever
            // disabled, never enabled again, so these were enabled when it ran), never a host
            // of another inventory, never one twice
            let ran: BTreeSet<u64> = all.iter().map(|s| s["host"].as_u64().unwrap()).collect();
            assert_eq!(ran.len(), all.len(), "job {id}: a host twice");
            for (h, enabled) in &inv {
                if *enabled {
                    assert!(ran.contains(h), "job {id}: enabled host {h} missing");
                }
            }
            assert!(
                ran.iter().all(|h| inv.iter().any(|(x, _)| x == h)),
                "job {id}: a host of another inventory"
            );
            let n = all.len() as u64;
            // the job's host_status_counts count each host once, under its worst state
            let d = t.json(&format!("/api/v2/jobs/{id}/")).await;
            let hsc = d["host_status_counts"].as_object().expect("counts");
            assert_eq!(hsc.values().filter_map(Value::as_u64).sum::<u64>(), n);
            let bad = all.iter().filter(|s| s["failed"] == true).count() as u64;
            let bad_counts = hsc.get("failures").and_then(Value::as_u64).unwrap_or(0)
                + hsc.get("dark").and_then(Value::as_u64).unwrap_or(0);
            assert_eq!(bad, bad_counts, "job {id}");
            assert_eq!(bad > 0, status == "failed", "job {id}");
            // the failed=true filter AWX's list has selects exactly those
            let failed_only = t
                .all(&format!(
                    "/api/v2/jobs/{id}/job_host_summaries/?failed=true&page_size=200"
                ))
                .await;
            assert_eq!(failed_only.len() as u64, bad, "job {id}");
            for s in &all {
                assert_eq!(s["job"].as_u64(), Some(id));
                assert_eq!(
                    s["failed"],
                    s["failures"].as_u64().unwrap() + s["dark"].as_u64().unwrap() > 0
                );
            }
            checked[(status == "failed") as usize] += 1;
        }
    }
    assert!(checked[0] > 0 && checked[1] > 0, "{checked:?}");
    // default order newest id first; next keeps the path (job_host_summaries.json)
    let j = t
        .json("/api/v2/jobs/?status=successful&order_by=-id&page_size=1")
        .await;
    let id = j["results"][0]["id"].as_u64().unwrap();
    let p = t
        .json(&format!(
            "/api/v2/jobs/{id}/job_host_summaries/?page_size=2"
        ))
        .await;
    let got = ids(&p);
    assert!(got[0] > got[1], "{got:?}");
    assert_eq!(
        p["next"],
        format!("/api/v2/jobs/{id}/job_host_summaries/?page=2&page_size=2")
    );
    let asc = t
        .json(&format!(
            "/api/v2/jobs/{id}/job_host_summaries/?page_size=2&order_by=id"
        ))
        .await;
    assert!(ids(&asc)[0] < ids(&asc)[1]);
    // the detail view exists, the top-level lists do not
    let one = t
        .json(&format!("/api/v2/job_host_summaries/{}/", got[0]))
        .await;
    assert_eq!(one["id"].as_u64(), Some(got[0]));
    // no route at all: AWX's own 404, before authentication (no token needed to get it)
    for path in [
        "/api/v2/job_host_summaries/",
        "/api/v2/job_events/",
        "/api/v2/job_events",
    ] {
        for auth in [Some("Bearer sim-admin-token"), None] {
            let r = t.raw(path, auth).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(
                r.text().await.unwrap(),
                r#"{"detail":"The requested resource could not be found."}"#,
                "{path}"
            );
        }
    }
    // a routed path to an object that does not exist: DRF's "Not found."
    let (s, b) = t.get("/api/v2/job_host_summaries/1/").await;
    assert_eq!(
        (s, b.as_str()),
        (StatusCode::NOT_FOUND, r#"{"detail":"Not found."}"#)
    );
    // a job that has not ended has no summaries (404 for a job that does not exist)
    t.advance(30).await;
    let p = t
        .json("/api/v2/jobs/?status=running&order_by=-id&page_size=1")
        .await;
    if let Some(id) = p["results"][0]["id"].as_u64() {
        let s = t
            .json(&format!("/api/v2/jobs/{id}/job_host_summaries/"))
            .await;
        assert_eq!(s["count"], 0);
        let d = t.json(&format!("/api/v2/jobs/{id}/")).await;
        assert!(d["host_status_counts"].is_null());
    }
    let (s, _) = t.get("/api/v2/jobs/999999999/job_host_summaries/").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // hosts: last_job_host_summary points at this host's summary of last_job, and
    // has_active_failures is that summary's failed flag
    let hosts = all_hosts;
    let mut with_last = 0;
    let mut failing = 0;
    for h in &hosts {
        let Some(sid) = h["last_job_host_summary"].as_u64() else {
            assert_eq!(h["has_active_failures"], false);
            continue;
        };
        with_last += 1;
        let s = t.json(&format!("/api/v2/job_host_summaries/{sid}/")).await;
        assert_eq!(s["host"], h["id"]);
        assert_eq!(s["job"], h["last_job"]);
        assert_eq!(s["failed"], h["has_active_failures"]);
        assert_eq!(
            h["summary_fields"]["last_job_host_summary"]["failed"],
            s["failed"]
        );
        failing += (h["has_active_failures"] == true) as u64;
    }
    assert!(with_last > 0);
    assert_eq!(
        t.count("/api/v2/hosts/?last_job_host_summary__failed=True")
            .await,
        failing
    );
    assert_eq!(
        t.count("/api/v2/hosts/?has_active_failures=true").await,
        failing
    );
    t.sim.shutdown().await;
}

/// Flaky hosts, partial and mass failures, inventories of tens to thousands of hosts, groups,
/// and the truth endpoints agreeing with the API.
#[tokio::test]
async fn host_outcomes_flaky_hosts_groups_and_truth() {
    let t = spawn(cfg(4, 400.0)).await;
    let get_truth = |p: String| {
        let t = &t;
        async move {
            let r = t.http.get(t.url(&p)).send().await.expect("send");
            assert_eq!(r.status(), StatusCode::OK, "{p}");
            r.json::<Vec<Value>>().await.expect("json")
        }
    };
    let runs = get_truth("/_sim/truth/host_summaries".into()).await;
    let hosts = get_truth("/_sim/truth/hosts".into()).await;
    assert!(runs.len() > 300, "{}", runs.len());
    // inventories of tens to thousands of hosts
    let inv = t.json("/api/v2/inventories/?page_size=200").await;
    let sizes: Vec<u64> = inv["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["total_hosts"].as_u64().unwrap())
        .collect();
    assert!(sizes.iter().any(|&n| n >= 1000), "{sizes:?}");
    assert!(sizes.iter().any(|&n| (10..100).contains(&n)), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<u64>(), hosts.len() as u64);

    // successful runs have no failed host, failed runs at least one; some failed runs fail a
    // few hosts of many, some most of them
    let mut partial = 0;
    let mut mass = 0;
    let mut fails: BTreeMap<u64, u64> = BTreeMap::new();
    for r in &runs {
        let hs = r["hosts"].as_array().unwrap();
        let bad = hs.iter().filter(|h| h["failed"] == true).count();
        match r["status"].as_str().unwrap() {
            "successful" => assert_eq!(bad, 0, "{}", r["job"]),
            "failed" => {
                assert!(bad > 0, "{}", r["job"]);
                if hs.len() >= 20 && bad * 10 < hs.len() {
                    partial += 1;
                }
                if hs.len() >= 20 && bad * 5 > hs.len() * 2 {
                    mass += 1;
                }
            }
            other => panic!("a {other} run has summaries"),
        }
        for h in hs.iter().filter(|h| h["failed"] == true) {
            *fails.entry(h["host"].as_u64().unwrap()).or_default() += 1;
        }
        // a host is counted once per run, failed exactly when it failed or was unreachable
        for h in hs {
            assert_eq!(
                h["failed"] == true,
                h["failures"].as_u64().unwrap() + h["dark"].as_u64().unwrap() > 0
            );
        }
    }
    assert!(partial > 5 && mass > 0, "partial {partial}, mass {mass}");
    // the hosts failing most often are the flaky ones
    let flaky: BTreeSet<u64> = hosts
        .iter()
        .filter(|h| h["flaky"] != "no")
        .map(|h| h["id"].as_u64().unwrap())
        .collect();
    assert!(flaky.len() >= 5, "{flaky:?}");
    let mut worst: Vec<(u64, u64)> = fails.iter().map(|(h, n)| (*n, *h)).collect();
    worst.sort_unstable_by(|a, b| b.cmp(a));
    let top: Vec<u64> = worst.iter().take(5).map(|(_, h)| *h).collect();
    assert!(
        top.iter().filter(|h| flaky.contains(h)).count() >= 4,
        "top failing {worst:?}, flaky {flaky:?}"
    );
    // unreachable-prone flaky hosts are mostly unreachable when they fail
    let dark_prone = hosts
        .iter()
        .find(|h| h["flaky"] == "unreachable" && fails.get(&h["id"].as_u64().unwrap()) > Some(&3))
        .expect("an unreachable-prone flaky host that failed");
    let id = dark_prone["id"].as_u64().unwrap();
    let (dark, failed) = runs
        .iter()
        .flat_map(|r| r["hosts"].as_array().unwrap())
        .filter(|h| h["host"].as_u64() == Some(id) && h["failed"] == true)
        .fold((0, 0), |(d, f), h| {
            (d + (h["dark"].as_u64() > Some(0)) as u64, f + 1)
        });
    assert!(dark * 2 > failed, "{dark} of {failed}");

    // the truth agrees with the API: a few failed runs, host by host
    let failed_runs: Vec<&Value> = runs.iter().filter(|r| r["status"] == "failed").collect();
    for r in failed_runs.iter().rev().take(6) {
        let id = r["job"].as_u64().unwrap();
        let api = t
            .all(&format!(
                "/api/v2/jobs/{id}/job_host_summaries/?page_size=200"
            ))
            .await;
        let hs = r["hosts"].as_array().unwrap();
        assert_eq!(api.len(), hs.len(), "job {id}");
        for h in hs {
            let a = api
                .iter()
                .find(|s| s["host"] == h["host"])
                .unwrap_or_else(|| panic!("job {id}: host {} missing", h["host"]));
            for k in [
                "ok", "changed", "failures", "dark", "skipped", "ignored", "rescued", "failed",
            ] {
                assert_eq!(a[k], h[k], "job {id} host {} {k}", h["host"]);
            }
            assert_eq!(a["host_name"], h["name"]);
        }
    }
    // failed_only and the range select like the full list
    let last = failed_runs.last().unwrap();
    let fin = last["finished"].as_str().unwrap();
    let only = get_truth(format!(
        "/_sim/truth/host_summaries?from={}&to=2100-01-01T00:00:00Z&failed_only=true",
        fin.replace(':', "%3A")
    ))
    .await;
    assert!(only.iter().all(|r| r["finished"].as_str().unwrap() >= fin));
    let mine = only
        .iter()
        .find(|r| r["job"] == last["job"])
        .expect("the run");
    assert_eq!(
        mine["hosts"].as_array().unwrap().len(),
        last["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["failed"] == true)
            .count()
    );
    let (s, _) = t.get("/_sim/truth/host_summaries?from=yesterday").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // hosts/ shows what the truth says; one host was disabled after it ran
    let api_hosts = t.all("/api/v2/hosts/?page_size=200").await;
    assert_eq!(api_hosts.len(), hosts.len());
    for (a, h) in api_hosts.iter().zip(&hosts) {
        assert_eq!(a["id"], h["id"]);
        assert_eq!(a["enabled"], h["enabled"], "host {}", h["id"]);
        assert_eq!(
            a["has_active_failures"], h["has_active_failures"],
            "host {}",
            h["id"]
        );
        assert_eq!(a["last_job"], h["last_job"], "host {}", h["id"]);
    }
    assert!(hosts
        .iter()
        .any(|h| h["enabled"] == false && !h["last_job"].is_null()));

    // groups: each host of a grouped inventory in one; a group's summaries are its hosts'
    let groups = t.all("/api/v2/groups/?page_size=200").await;
    assert!(groups.len() >= 10, "{}", groups.len());
    let g = groups
        .iter()
        .find(|g| g["summary_fields"]["inventory"]["name"] == "Staging")
        .expect("a Staging group");
    let gid = g["id"].as_u64().unwrap();
    let members: Vec<&Value> = api_hosts
        .iter()
        .filter(|h| h["summary_fields"]["groups"]["results"][0]["id"].as_u64() == Some(gid))
        .collect();
    assert!(!members.is_empty());
    let mut want = 0;
    for h in &members {
        want += t
            .count(&format!("/api/v2/hosts/{}/job_host_summaries/", h["id"]))
            .await;
    }
    assert!(want > 0);
    assert_eq!(
        t.count(&format!("/api/v2/groups/{gid}/job_host_summaries/"))
            .await,
        want
    );
    let page = t
        .json(&format!(
            "/api/v2/groups/{gid}/job_host_summaries/?page_size=50"
        ))
        .await;
    let got = ids(&page);
    assert!(got.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(
        t.json(&format!("/api/v2/groups/{gid}/")).await["name"],
        g["name"]
    );
    let (s, _) = t.get("/api/v2/groups/99999/job_host_summaries/").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn real_slashless_paths_redirect() {
    let t = spawn(cfg(1, 100.0)).await;
    for (p, loc) in [
        (
            "/api/v2/unified_jobs?page_size=1&order_by=-id",
            "/api/v2/unified_jobs/?page_size=1&order_by=-id",
        ),
        ("/api/v2/ping", "/api/v2/ping/"),
        ("/api/v2/metrics", "/api/v2/metrics/"),
        ("/api/v2/jobs/1", "/api/v2/jobs/1/"),
    ] {
        let r = t.raw(p, None).await;
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY, "{p}");
        assert_eq!(r.headers()["location"], loc, "{p}");
    }
    t.sim.shutdown().await;
}

/// Keys whose presence depends on which foreign keys a record has set (a seeded record lacks
/// some that a live one has, and the other way round).
const FK_DEPENDENT: &[&str] = &[
    "created_by",
    "modified_by",
    "schedule",
    "execution_environment",
    "instance_group",
    "source_workflow_job",
    "last_job",
    "last_job_host_summary",
    "inventory_source",
];

/// A JSON value that keeps the order of object keys (serde_json's map sorts them).
#[derive(Clone, Debug)]
enum Ov {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Arr(Vec<Ov>),
    Obj(Vec<(String, Ov)>),
}

impl<'de> serde::Deserialize<'de> for Ov {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ov;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Ov, E> {
                Ok(Ov::Null)
            }
            fn visit_none<E>(self) -> Result<Ov, E> {
                Ok(Ov::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ov, E> {
                Ok(Ov::Bool)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ov, E> {
                Ok(Ov::Int)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ov, E> {
                Ok(Ov::Int)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ov, E> {
                Ok(Ov::Float)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ov, E> {
                Ok(Ov::Str)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Ov, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Ov::Arr(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Ov, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = m.next_entry::<String, Ov>()? {
                    v.push((k, x));
                }
                Ok(Ov::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

fn ov_text(text: &str) -> Ov {
    serde_json::from_str(text).expect("json")
}

fn kind(v: &Ov) -> &'static str {
    match v {
        Ov::Null => "null",
        Ov::Bool => "bool",
        Ov::Int => "int",
        Ov::Float => "float",
        Ov::Str => "string",
        Ov::Arr(_) => "array",
        Ov::Obj(_) => "object",
    }
}

/// Compares the shape of a simulator record with a real one: the same keys in the same order
/// (FK-dependent keys aside), the same JSON kinds where both are not null, recursively.
fn same_shape(real: &Ov, sim: &Ov, path: &str, errs: &mut Vec<String>) {
    match (real, sim) {
        // `{}` is how AWX says "unknown" (launched_by): any shape may stand against it
        (Ov::Obj(a), Ov::Obj(b)) if a.is_empty() || b.is_empty() => {}
        (Ov::Obj(a), Ov::Obj(b)) => {
            let keys = |o: &[(String, Ov)]| -> Vec<String> {
                o.iter()
                    .map(|(k, _)| k.clone())
                    .filter(|k| !FK_DEPENDENT.contains(&k.as_str()))
                    .collect()
            };
            let (ka, kb) = (keys(a), keys(b));
            if ka != kb {
                errs.push(format!("{path}: keys\n  real {ka:?}\n  sim  {kb:?}"));
            }
            for (k, va) in a {
                if let Some((_, vb)) = b.iter().find(|(kb, _)| kb == k) {
                    same_shape(va, vb, &format!("{path}.{k}"), errs);
                }
            }
        }
        (Ov::Arr(a), Ov::Arr(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                same_shape(x, y, &format!("{path}[0]"), errs);
            }
        }
        (Ov::Null, _) | (_, Ov::Null) => {}
        (a, b) if kind(a) != kind(b) => {
            errs.push(format!("{path}: real {}, sim {}", kind(a), kind(b)))
        }
        _ => {}
    }
}

fn sample_text(name: &str) -> String {
    let p = format!(
        "{}/tests/real-awx-24.6.1/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn sample(name: &str) -> Value {
    serde_json::from_str(&sample_text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn field<'a>(v: &'a Ov, k: &str) -> Option<&'a Ov> {
    match v {
        Ov::Obj(o) => o.iter().find(|(n, _)| n == k).map(|(_, x)| x),
        _ => None,
    }
}

fn results(v: &Ov) -> Vec<Ov> {
    match field(v, "results") {
        Some(Ov::Arr(a)) => a.clone(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn rows_match_every_real_sample() {
    let t = spawn(cfg(3, 400.0)).await;
    t.advance(30).await; // jobs in every state
    let mut errs = Vec::new();
    let get_ov = |p: String| {
        let t = &t;
        async move {
            let (s, body) = t.get(&p).await;
            assert_eq!(s, StatusCode::OK, "{p}");
            ov_text(&body)
        }
    };
    // the simulator's newest row like a real one (type, launch type, status), loosening the match
    // when the workload has no such row; (id, row)
    let like = |r: Value| {
        let t = &t;
        async move {
            let (ty, lt, st) = (
                r["type"].as_str().unwrap_or(""),
                r["launch_type"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
            );
            for q in [
                format!("type={ty}&launch_type={lt}&status={st}"),
                format!("type={ty}&status={st}"),
                format!("type={ty}"),
            ] {
                let p = format!("/api/v2/unified_jobs/?{q}&order_by=-id&page_size=1");
                let (_, body) = t.get(&p).await;
                let v: Value = serde_json::from_str(&body).expect("json");
                if let Some(id) = v["results"][0]["id"].as_u64() {
                    return (id, results(&ov_text(&body)).remove(0));
                }
            }
            panic!("no {ty} in the workload");
        }
    };
    let mut rows: Vec<(String, Value, Ov)> = [
        "unified_job.json",
        "unified_workflow_job.json",
        "unified_project_update.json",
        "unified_running_job.json",
        "unified_pending_job.json",
    ]
    .iter()
    .map(|f| (f.to_string(), sample(f), ov_text(&sample_text(f))))
    .collect();
    let page_file = "unified_jobs_page_200_newest_one_per_kind.json";
    let page = sample(page_file);
    let page_ov = results(&ov_text(&sample_text(page_file)));
    for (r, o) in page["results"]
        .as_array()
        .expect("rows")
        .iter()
        .zip(page_ov)
    {
        rows.push((format!("page row {}", r["id"]), r.clone(), o));
    }
    assert!(rows.len() > 20);
    for (name, real, real_ov) in &rows {
        let (_, sim) = like(real.clone()).await;
        same_shape(real_ov, &sim, name, &mut errs);
    }
    for (f, coll) in [
        ("detail_job.json", "jobs"),
        ("detail_workflow_job.json", "workflow_jobs"),
        ("detail_project_update.json", "project_updates"),
    ] {
        let (id, _) = like(sample(f)).await;
        let sim = get_ov(format!("/api/v2/{coll}/{id}/")).await;
        same_shape(&ov_text(&sample_text(f)), &sim, f, &mut errs);
    }
    let job = t
        .json("/api/v2/jobs/?status=successful&order_by=-id&page_size=1")
        .await;
    let id = job["results"][0]["id"].as_u64().unwrap();
    for (f, path) in [
        (
            "job_host_summaries.json",
            format!("/api/v2/jobs/{id}/job_host_summaries/?page_size=2"),
        ),
        ("hosts_list.json", "/api/v2/hosts/?page_size=3".to_string()),
        ("instances.json", "/api/v2/instances/".to_string()),
        (
            "instance_groups.json",
            "/api/v2/instance_groups/".to_string(),
        ),
        ("dashboard.json", "/api/v2/dashboard/".to_string()),
        (
            "dashboard_graphs_jobs__period_week.json",
            "/api/v2/dashboard/graphs/jobs/?period=week".to_string(),
        ),
    ] {
        let sim = get_ov(path).await;
        same_shape(&ov_text(&sample_text(f)), &sim, f, &mut errs);
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    t.sim.shutdown().await;
}

#[test]
fn same_shape_catches_differences() {
    let real = ov_text(
        r#"{"id": 1, "elapsed": 1.5, "related": {"a": "x", "schedule": "s"}, "launched_by": {}}"#,
    );
    let mut errs = Vec::new();
    same_shape(
        &real,
        &ov_text(r#"{"id": 2, "elapsed": 2.0, "related": {"a": "y"}, "launched_by": {"id": 1}}"#),
        "ok",
        &mut errs,
    );
    assert!(errs.is_empty(), "{errs:?}");
    for bad in [
        r#"{"elapsed": 1.5, "id": 1, "related": {"a": "x"}, "launched_by": {}}"#,
        r#"{"id": 1, "elapsed": 1, "related": {"a": "x"}, "launched_by": {}}"#,
        r#"{"id": 1, "elapsed": 1.5, "related": {"b": "x"}, "launched_by": {}}"#,
        r#"{"id": "1", "elapsed": 1.5, "related": {"a": "x"}, "launched_by": {}}"#,
    ] {
        let mut errs = Vec::new();
        same_shape(&real, &ov_text(bad), "bad", &mut errs);
        assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The changes a real AWX sees, applied through /_sim/ (README: "Changes on demand").

/// The newest `modified` a client can see, as a `modified__gt` poll would track it.
async fn max_modified(t: &T) -> String {
    let p = t
        .json("/api/v2/unified_jobs/?order_by=-modified&page_size=1")
        .await;
    p["results"][0]["modified"]
        .as_str()
        .expect("a job")
        .to_string()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn change_rename_shows_on_every_job_without_touching_modified() {
    let t = spawn(cfg(2, 400.0)).await;
    let before = t.truth().await;
    let seen = max_modified(&t).await;
    let by_id = |v: &[Value]| -> BTreeMap<u64, Value> {
        v.iter()
            .map(|j| (j["id"].as_u64().unwrap(), j.clone()))
            .collect()
    };
    let old = "Deploy Web App";
    let n_tmpl = count(&before, |j| j["template_name"] == old);
    assert!(n_tmpl > 0);
    let (s, r) = t
        .post_json(
            "/_sim/rename",
            serde_json::json!({"kind": "template", "name": old, "new_name": "Web App: deploy"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["old_name"], old);
    assert_eq!(r["kind"], "job_template");
    let (s, _) = t
        .post_json(
            "/_sim/rename",
            serde_json::json!({"kind": "organization", "name": "Engineering", "new_name": "Eng & Dev"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .post_json(
            "/_sim/rename",
            serde_json::json!({"kind": "inventory", "name": "AWS Cloud", "new_name": "AWS (prod)"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .post_json(
            "/_sim/rename",
            serde_json::json!({"kind": "project", "name": "Web Platform", "new_name": "Web Platform 2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // the truth shows the current names; nothing else of any job changed, `modified` included
    let after = t.truth().await;
    let (b, a) = (by_id(&before), by_id(&after));
    assert_eq!(a.len(), b.len());
    for (id, ja) in &a {
        let jb = &b[id];
        let mut want = jb.clone();
        let swap = |v: &mut Value, k: &str, from: &str, to: &str| {
            if v[k] == from {
                v[k] = Value::String(to.into());
            }
        };
        swap(&mut want, "template_name", old, "Web App: deploy");
        swap(&mut want, "template_name", "Web Platform", "Web Platform 2");
        swap(&mut want, "organization", "Engineering", "Eng & Dev");
        swap(&mut want, "inventory", "AWS Cloud", "AWS (prod)");
        swap(&mut want, "project", "Web Platform", "Web Platform 2");
        // implicit syncs are launched by their project, callbacks by their template: live too
        swap(&mut want, "launched_by", "Web Platform", "Web Platform 2");
        swap(&mut want, "launched_by", old, "Web App: deploy");
        assert_eq!(ja, &want, "job {id}");
    }
    // a delta poll sees no change: AWX does not touch the jobs
    assert_eq!(
        t.count(&format!(
            "/api/v2/unified_jobs/?modified__gt={}",
            enc(&seen)
        ))
        .await,
        0
    );
    // the API's live joins follow, the job's own name (copied at launch) stays
    let c = |q: String| {
        let t = &t;
        async move { t.count(&format!("/api/v2/unified_jobs/?{q}")).await }
    };
    assert_eq!(
        c(format!(
            "unified_job_template__name={}",
            enc("Web App: deploy")
        ))
        .await,
        n_tmpl
    );
    assert_eq!(
        c(format!("unified_job_template__name={}", enc(old))).await,
        0
    );
    assert_eq!(c(format!("name={}", enc(old))).await, n_tmpl);
    assert_eq!(
        c(format!("organization__name={}", enc("Eng & Dev"))).await,
        count(&before, |j| j["organization"] == "Engineering")
    );
    assert_eq!(c("organization__name=Engineering".into()).await, 0);
    let p = t
        .json(&format!(
            "/api/v2/jobs/?job_template__name={}&page_size=200",
            enc("Web App: deploy")
        ))
        .await;
    for j in p["results"].as_array().unwrap() {
        assert_eq!(j["name"], old);
        assert_eq!(
            j["summary_fields"]["job_template"]["name"],
            "Web App: deploy"
        );
        assert_eq!(
            j["summary_fields"]["unified_job_template"]["name"],
            "Web App: deploy"
        );
        assert_eq!(j["summary_fields"]["organization"]["name"], "Eng & Dev");
        assert_eq!(j["summary_fields"]["project"]["name"], "Web Platform 2");
    }
    let inv_jobs = t
        .json("/api/v2/unified_jobs/?inventoryupdate__inventory__name=AWS%20(prod)&page_size=5")
        .await;
    for j in inv_jobs["results"].as_array().unwrap() {
        assert!(
            j["name"].as_str().unwrap().starts_with("AWS Cloud - "),
            "{}",
            j["name"]
        );
        assert_eq!(j["summary_fields"]["inventory"]["name"], "AWS (prod)");
    }
    // the renamed object's own modified moves
    let jt = t
        .json(&format!(
            "/api/v2/job_templates/?name={}",
            enc("Web App: deploy")
        ))
        .await;
    assert_eq!(jt["count"], 1);
    assert_eq!(
        jt["results"][0]["modified"].as_str().unwrap(),
        r["now"].as_str().unwrap()
    );
    // jobs launched after the rename carry the new name
    t.advance(6 * 3600).await;
    let fresh = t
        .json(&format!(
            "/api/v2/unified_jobs/?unified_job_template__name={}&created__gt={}&page_size=200",
            enc("Web App: deploy"),
            enc(r["now"].as_str().unwrap())
        ))
        .await;
    assert!(fresh["count"].as_u64().unwrap() > 0, "no new run in 6 h");
    for j in fresh["results"].as_array().unwrap() {
        assert_eq!(j["name"], "Web App: deploy");
    }
    // refusals say what to fix
    for (body, status) in [
        (
            serde_json::json!({"kind": "team", "name": "x", "new_name": "y"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            serde_json::json!({"kind": "template", "name": "nope", "new_name": "y"}),
            StatusCode::NOT_FOUND,
        ),
        (
            serde_json::json!({"kind": "template", "id": 1, "name": "x", "new_name": "y"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            serde_json::json!({"kind": "organization", "name": "Finance", "new_name": "Operations"}),
            StatusCode::CONFLICT,
        ),
        (
            serde_json::json!({"kind": "organization", "name": "Finance", "new_name": "  "}),
            StatusCode::BAD_REQUEST,
        ),
        (
            serde_json::json!({"kind": "organization", "name": "Finance", "new_name": "F", "x": 1}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, r) = t.post_json("/_sim/rename", body.clone()).await;
        assert_eq!(s, status, "{body}: {r}");
        assert!(r["detail"].as_str().is_some_and(|d| !d.is_empty()), "{r}");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn change_delete_a_job_in_the_middle() {
    let t = spawn(cfg(2, 400.0)).await;
    t.advance(30).await;
    let truth = t.truth().await;
    let mid = truth
        .iter()
        .skip(truth.len() / 2)
        .find(|j| !j["finished"].is_null() && j["launch_type"] != "sync")
        .expect("a finished job")
        .clone();
    let id = mid["id"].as_u64().unwrap();
    let status = mid["status"].as_str().unwrap().to_string();
    let series = format!("awx_status_total{{status=\"{status}\"}}");
    let before = metric(&t.metrics_text().await, &series).unwrap();
    let r = t
        .http
        .delete(t.url(&format!("/_sim/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["deleted"]["id"].as_u64(), Some(id));
    let after = t.truth().await;
    assert_eq!(after.len(), truth.len() - 1);
    assert!(after.iter().all(|j| j["id"].as_u64() != Some(id)));
    let (s, _) = t
        .get(&format!("/api/v2/{}s/{id}/", mid["type"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // paging over the list still gives every other job once
    let all = t.all("/api/v2/unified_jobs/?page_size=200").await;
    let got: Vec<u64> = all.iter().map(|j| j["id"].as_u64().unwrap()).collect();
    let want: Vec<u64> = after.iter().map(|j| j["id"].as_u64().unwrap()).collect();
    assert_eq!(got, want);
    assert_eq!(metric(&t.metrics_text().await, &series), Some(before - 1.0));
    // a job that has not finished cannot be deleted; an unknown one is not found
    let open = after
        .iter()
        .find(|j| j["finished"].is_null())
        .expect("an unfinished job");
    let r = t
        .http
        .delete(t.url(&format!("/_sim/jobs/{}", open["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    for (p, s) in [
        ("/_sim/jobs/999999999", StatusCode::NOT_FOUND),
        ("/_sim/jobs/x", StatusCode::BAD_REQUEST),
    ] {
        let r = t.http.delete(t.url(p)).send().await.unwrap();
        assert_eq!(r.status(), s, "{p}");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn change_a_save_that_commits_late() {
    let t = spawn(cfg(2, 400.0)).await;
    t.advance(60).await;
    let seen = max_modified(&t).await;
    let now = chrono::DateTime::parse_from_rfc3339("2024-10-05T00:01:00Z").unwrap();
    let running = t
        .json("/api/v2/jobs/?status=running&order_by=started&page_size=1")
        .await;
    let j = &running["results"][0];
    let id = j["id"].as_u64().expect("a running job");
    let started = chrono::DateTime::parse_from_rfc3339(j["started"].as_str().unwrap()).unwrap();
    let seen_t = chrono::DateTime::parse_from_rfc3339(&seen).unwrap();
    assert!(started < seen_t);
    // its save read the clock halfway between its start and the newest change already served
    let at = started + (seen_t - started) / 2;
    let lag = (now - at).num_microseconds().unwrap() as f64 / 1e6;
    let (s, r) = t
        .post_json(
            "/_sim/late_commit",
            serde_json::json!({"id": id, "lag_seconds": lag, "status": "failed"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "failed");
    assert_eq!(r["finished"], r["modified"]);
    let fin = chrono::DateTime::parse_from_rfc3339(r["finished"].as_str().unwrap()).unwrap();
    assert!((fin - at).num_milliseconds().abs() <= 1, "{fin} vs {at}");
    // a modified__gt poll from what was served never returns it
    let delta = t
        .all(&format!(
            "/api/v2/unified_jobs/?modified__gt={}&page_size=200",
            enc(&seen)
        ))
        .await;
    assert!(delta.iter().all(|j| j["id"].as_u64() != Some(id)));
    let d = t.json(&format!("/api/v2/jobs/{id}/")).await;
    assert_eq!(d["status"], "failed");
    assert_eq!(d["modified"], r["modified"]);
    // refusals
    for (body, status) in [
        (
            serde_json::json!({"id": id, "lag_seconds": 1}),
            StatusCode::CONFLICT,
        ),
        (
            serde_json::json!({"lag_seconds": 1e7}),
            StatusCode::BAD_REQUEST,
        ),
        (
            serde_json::json!({"lag_seconds": -1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            serde_json::json!({"lag_seconds": 1, "status": "running"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            serde_json::json!({"id": 999999999, "lag_seconds": 1}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (s, r) = t.post_json("/_sim/late_commit", body.clone()).await;
        assert_eq!(s, status, "{body}: {r}");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn change_many_finished_jobs_after_a_long_idle() {
    let t = spawn(cfg(2, 400.0)).await;
    let seen = max_modified(&t).await;
    let before = t.truth().await;
    let last_id = before.last().unwrap()["id"].as_u64().unwrap();
    // the client is idle for 6 hours; then 20,000 finished jobs arrive at once
    t.advance(6 * 3600).await;
    let (s, r) = t
        .post_json(
            "/_sim/add_finished",
            serde_json::json!({"count": 20000, "spread_seconds": 7200}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let first = r["first_id"].as_u64().unwrap();
    assert!(first > last_id);
    assert_eq!(r["last_id"].as_u64(), Some(first + 19_999));
    let truth = t.truth().await;
    let added: Vec<&Value> = truth
        .iter()
        .filter(|j| j["id"].as_u64().unwrap() >= first)
        .filter(|j| j["id"].as_u64().unwrap() <= first + 19_999)
        .collect();
    assert_eq!(added.len(), 20_000);
    assert!(added
        .iter()
        .all(|j| j["type"] == "job" && !j["finished"].is_null() && j["modified"] == j["finished"]));
    // ids keep growing with created: after every earlier job, in order among themselves
    let newest_before = truth
        .iter()
        .filter(|j| j["id"].as_u64().unwrap() < first)
        .map(|j| us(&j["created"]))
        .max()
        .unwrap();
    let created: Vec<i64> = added.iter().map(|j| us(&j["created"])).collect();
    assert!(created[0] > newest_before);
    assert!(created.windows(2).all(|w| w[0] <= w[1]));
    // every one of them is newer than what the client saw before going idle
    let changed = count(&truth, |j| us(&j["modified"]) > us_str(&seen));
    assert!(changed >= 20_000);
    assert_eq!(
        t.count(&format!(
            "/api/v2/unified_jobs/?modified__gt={}",
            enc(&seen)
        ))
        .await,
        changed
    );
    // the template's runs and the status counts follow
    let tmpl = added[0]["template_name"].as_str().unwrap().to_string();
    assert_eq!(
        t.count(&format!(
            "/api/v2/unified_jobs/?unified_job_template__name={}",
            enc(&tmpl)
        ))
        .await,
        count(&truth, |j| j["template_name"] == tmpl.as_str())
    );
    let (s, r) = t
        .post_json(
            "/_sim/add_finished",
            serde_json::json!({"count": 3, "template": "Backup Databases"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let p = t
        .json(&format!(
            "/api/v2/jobs/?id__gte={}&page_size=10",
            r["first_id"]
        ))
        .await;
    assert!(p["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["summary_fields"]["job_template"]["name"] == "Backup Databases"));
    for (body, status) in [
        (serde_json::json!({"count": 0}), StatusCode::BAD_REQUEST),
        (
            serde_json::json!({"count": 5, "template": "nope"}),
            StatusCode::NOT_FOUND,
        ),
        (
            serde_json::json!({"count": 5, "spread_seconds": 0}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, r) = t.post_json("/_sim/add_finished", body.clone()).await;
        assert_eq!(s, status, "{body}: {r}");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn change_purges_delete_the_oldest() {
    let t = spawn(cfg(3, 400.0)).await;
    t.advance(30).await;
    let truth = t.truth().await;
    let finished: Vec<u64> = truth
        .iter()
        .filter(|j| !j["finished"].is_null())
        .map(|j| j["id"].as_u64().unwrap())
        .collect();
    let (s, r) = t
        .post_json("/_sim/purge", serde_json::json!({"oldest": 100}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["deleted"], 100);
    let after = t.truth().await;
    assert_eq!(after.len(), truth.len() - 100);
    let gone: Vec<u64> = finished[..100].to_vec();
    assert!(after
        .iter()
        .all(|j| !gone.contains(&j["id"].as_u64().unwrap())));
    assert_eq!(t.count("/api/v2/unified_jobs/").await, after.len() as u64);
    // cleanup_jobs --days 1: every finished job created more than a day ago
    let cut = us_str("2024-10-04T00:00:30Z");
    let old_open = count(&after, |j| {
        us(&j["created"]) < cut && j["finished"].is_null()
    });
    let (s, r) = t
        .post_json("/_sim/purge", serde_json::json!({"older_than_days": 1}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let left = t.truth().await;
    assert_eq!(
        r["deleted"].as_u64(),
        Some(count(&after, |j| us(&j["created"]) < cut
            && !j["finished"].is_null()))
    );
    assert_eq!(count(&left, |j| us(&j["created"]) < cut), old_open);
    assert_eq!(r["oldest_id"], left[0]["id"]);
    for body in [
        serde_json::json!({}),
        serde_json::json!({"oldest": 1, "older_than_days": 1}),
        serde_json::json!({"older_than_days": -1}),
    ] {
        let (s, _) = t.post_json("/_sim/purge", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    }
    t.sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The cost model (--cost-model real-awx-24.6.1): served times compared as ratios.

impl T {
    /// The server time of a request (X-API-Total-Time), the median of three.
    async fn served(&self, p: &str) -> f64 {
        let mut v = Vec::new();
        for _ in 0..3 {
            let r = self.raw(p, Some(&format!("Bearer {ADMIN}"))).await;
            assert_eq!(r.status(), StatusCode::OK, "{p}");
            let h = r.headers()["x-api-total-time"]
                .to_str()
                .unwrap()
                .to_string();
            v.push(h.trim_end_matches('s').parse::<f64>().unwrap());
            r.bytes().await.unwrap();
        }
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[1]
    }
}

#[tokio::test]
async fn cost_model_follows_the_measurements() {
    let mut c = cfg(3, 2000.0);
    c.cost_model = awx_sim::cost::CostModel::RealAwx2461;
    c.cost_scale = 0.2;
    c.workers = Some(2);
    let t = spawn(c).await;
    assert!(t.count("/api/v2/workflow_jobs/").await >= 150);
    let unified = t.served("/api/v2/unified_jobs/?page_size=200").await;
    let jobs = t.served("/api/v2/jobs/?page_size=200").await;
    let workflows = t.served("/api/v2/workflow_jobs/?page_size=150").await;
    let count = t.served("/api/v2/unified_jobs/?page_size=1").await;
    // the measured ratios of AWX 24.6.1 (timing.txt): 2.59 s, 1.169 s, 1.893 s, 0.073 s
    let near = |got: f64, want: f64, tol: f64| (got / want - 1.0).abs() <= tol;
    assert!(
        near(unified / jobs, 2.59 / 1.169, 0.1),
        "unified {unified} jobs {jobs}"
    );
    assert!(
        near(workflows / unified, 1.893 / 2.59, 0.1),
        "workflows {workflows} unified {unified}"
    );
    // a count is cheap (its few ms of real work may add to the modelled 15 ms)
    assert!(
        unified / count > 0.6 * 2.59 / 0.073 && unified / count < 1.1 * 2.59 / 0.073,
        "unified {unified} count {count}"
    );
    // at the scale asked for: 0.2 x 2.59 s
    assert!(near(unified, 0.2 * 2.59, 0.15), "{unified}");
    // /_sim/stats charges the unscaled model
    t.http
        .post(t.url("/_sim/stats/reset"))
        .send()
        .await
        .unwrap();
    t.get("/api/v2/unified_jobs/?page_size=200").await;
    t.get("/api/v2/jobs/?page_size=200").await;
    let stats: Value = t
        .http
        .get(t.url("/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        (stats["awx_seconds"].as_f64().unwrap() - (2.59 + 1.169)).abs() < 1e-3,
        "{stats}"
    );
    // two workers: four pages at once take about two pages' time, the others queue
    let began = std::time::Instant::now();
    let all =
        futures::future::join_all((0..4).map(|_| t.get("/api/v2/unified_jobs/?page_size=200")))
            .await;
    assert!(all.iter().all(|(s, _)| *s == StatusCode::OK));
    let wall = began.elapsed().as_secs_f64();
    assert!(
        wall / unified > 1.8 && wall / unified < 2.6,
        "4 requests on 2 workers: {wall} s, one alone {unified} s"
    );
    let stats: Value = t
        .http
        .get(t.url("/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats["max_in_flight"].as_u64().unwrap() >= 4);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn cost_model_refuses_a_bad_scale() {
    let mut c = cfg(1, 50.0);
    c.cost_scale = 0.0;
    let e = awx_sim::start(c).await.err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("invalid configuration: --cost-scale must be a positive number")
    );
}
