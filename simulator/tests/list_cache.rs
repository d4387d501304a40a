//! The list cache (`src/list_cache.rs`): paging through a job list with it answers, byte for
//! byte, what every page answers computed from scratch (the cache cleared before it), also when
//! the state changes between two pages; faults and the cost model still apply to every request.

use awx_sim::{Config, RunningSim};
use serde_json::{json, Value};

const NOW: &str = "2024-10-05T00:00:00Z";
const ADMIN: &str = "sim-admin-token";

struct T {
    sim: RunningSim,
    http: reqwest::Client,
}

async fn spawn(c: Config) -> T {
    let sim = awx_sim::start(Config {
        days: 3,
        jobs_per_day: 600.0,
        api_prefix: awx_sim::ApiPrefix::Both,
        ..c
    })
    .await
    .expect("start");
    T {
        sim,
        http: reqwest::Client::new(),
    }
}

impl T {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.sim.url())
    }
    /// Status and body, through the cache.
    async fn get(&self, p: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(p))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("send");
        (r.status().as_u16(), r.text().await.expect("body"))
    }
    /// Status and body computed from scratch.
    async fn fresh(&self, p: &str) -> (u16, String) {
        self.sim.state().list_cache.clear();
        let r = self.get(p).await;
        self.sim.state().list_cache.clear();
        r
    }
    fn hits(&self) -> u64 {
        self.sim.state().list_cache.hits()
    }
    async fn admin(&self, method: reqwest::Method, p: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, self.url(p));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("send");
        let status = r.status();
        let text = r.text().await.expect("body");
        assert!(status.is_success(), "{p}: {status} {text}");
        serde_json::from_str(&text).expect("json")
    }
    async fn awx_seconds(&self) -> f64 {
        let r = self.http.get(self.url("/_sim/stats")).send().await.unwrap();
        r.json::<Value>().await.unwrap()["awx_seconds"]
            .as_f64()
            .unwrap()
    }
}

fn page(list: &str, p: usize) -> String {
    format!("{list}&page={p}")
}

/// Lists as the plugin and the benchmark read them, plus other orders and filters.
const LISTS: &[&str] = &[
    "/api/v2/unified_jobs/?order_by=id&page_size=50",
    "/api/v2/unified_jobs/?order_by=-finished,-id&finished__lte=2024-10-04T12:00:00Z&page_size=50",
    "/api/v2/jobs/?order_by=-finished,-id&finished__gte=2024-10-03T00:00:00Z&page_size=40",
    "/api/v2/project_updates/?order_by=-finished,-id&page_size=20",
    "/api/v2/workflow_jobs/?order_by=-finished,-id&page_size=7",
    "/api/v2/inventory_updates/?order_by=-finished,-id&page_size=30",
    "/api/v2/system_jobs/?order_by=-finished,-id&page_size=2",
    "/api/v2/ad_hoc_commands/?order_by=-finished,-id&page_size=5",
    "/api/v2/unified_jobs/?order_by=id&modified__gt=2024-10-03T00:00:00Z&page_size=50",
    "/api/controller/v2/unified_jobs/?order_by=-id&status=successful&page_size=60",
    "/api/v2/unified_jobs/?order_by=name,-elapsed&page_size=45",
    "/api/v2/unified_jobs/?order=-started&count_disabled=1&page_size=100",
    "/api/v2/unified_jobs/?page_size=500&search=deploy",
];

#[tokio::test]
async fn paging_with_the_cache_answers_what_each_page_computed_alone_does() {
    let t = spawn(Config::for_tests(NOW)).await;
    for list in LISTS {
        // every page (and the one past the end) computed from scratch
        let mut want = Vec::new();
        loop {
            let r = t.fresh(&page(list, want.len() + 1)).await;
            let past_end = r.0 != 200 || r.1 == r#"{"results":[]}"#;
            want.push(r);
            if past_end {
                break;
            }
        }
        let pages = want.len() - 1;
        assert!(pages >= 2, "{list}: {pages} pages");
        // in order, then out of order (page 2 and 1, then from the end: the selection of an
        // order other than id is first sorted only up to the page asked for)
        let mut orders: Vec<Vec<usize>> = vec![(1..=pages + 1).collect()];
        let mut jumbled = vec![2, 1];
        jumbled.extend((3..=pages + 1).rev());
        orders.push(jumbled);
        for order in orders {
            let hits = t.hits();
            for &p in &order {
                assert_eq!(t.get(&page(list, p)).await, want[p - 1], "{list} page {p}");
            }
            assert_eq!(t.hits(), hits + order.len() as u64 - 1, "{list}: {order:?}");
            t.sim.state().list_cache.clear();
        }
    }
    // following the next links (their parameters are sorted, so a key of its own from page 2 on)
    let list = LISTS[1];
    let hits = t.hits();
    let mut got = Vec::new();
    let mut next = Some(page(list, 1));
    while let Some(link) = next {
        let r = t.get(&link).await;
        assert_eq!(r.0, 200, "{link}");
        let v: Value = serde_json::from_str(&r.1).unwrap();
        next = v["next"].as_str().map(str::to_string);
        got.push((link, r));
    }
    assert!(got.len() > 2);
    assert_eq!(t.hits(), hits + got.len() as u64 - 2);
    for (i, (link, r)) in got.iter().enumerate() {
        assert_eq!(r, &t.fresh(link).await, "{link}");
        assert_eq!(r, &t.fresh(&page(list, i + 1)).await, "{link}");
    }
}

#[tokio::test]
async fn a_change_between_pages_is_never_served_stale() {
    let t = spawn(Config::for_tests(NOW)).await;
    let by_finished = "/api/v2/unified_jobs/?order_by=-finished,-id&page_size=50";
    let deploys = "/api/v2/unified_jobs/?order_by=id&unified_job_template__name__icontains=Deploy&page_size=20";
    let jobs_id = "/api/v2/jobs/?order_by=id&page_size=50";
    // a finished job in the middle of the history, to delete
    let middle: Value = serde_json::from_str(&t.get(&page(jobs_id, 5)).await.1).unwrap();
    let victim = middle["results"][10]["id"].as_u64().unwrap();

    let changes: Vec<(&str, reqwest::Method, String, Option<Value>)> = vec![
        (
            by_finished,
            reqwest::Method::POST,
            "/_sim/advance?seconds=600".into(),
            None,
        ),
        (
            deploys,
            reqwest::Method::POST,
            "/_sim/rename".into(),
            Some(
                json!({"kind": "job_template", "name": "Deploy Web App", "new_name": "Ship Web App"}),
            ),
        ),
        (
            jobs_id,
            reqwest::Method::DELETE,
            format!("/_sim/jobs/{victim}"),
            None,
        ),
        (
            by_finished,
            reqwest::Method::POST,
            "/_sim/late_commit".into(),
            Some(json!({"lag_seconds": 0.5, "status": "failed"})),
        ),
        (
            jobs_id,
            reqwest::Method::POST,
            "/_sim/purge".into(),
            Some(json!({"oldest": 30})),
        ),
        (
            by_finished,
            reqwest::Method::POST,
            "/_sim/add_finished".into(),
            Some(json!({"count": 40, "spread_seconds": 60})),
        ),
    ];
    for (list, method, admin, body) in changes {
        let first = t.get(&page(list, 1)).await;
        let before = t.get(&page(list, 2)).await;
        let hits = t.hits();
        assert_eq!(t.get(&page(list, 2)).await, before);
        assert_eq!(
            t.hits(),
            hits + 1,
            "{list}: page 2 again comes from the cache"
        );
        t.admin(method, &admin, body).await;
        let mut after = Vec::new();
        for p in [2, 3, 1] {
            let a = t.get(&page(list, p)).await;
            assert_eq!(a, t.fresh(&page(list, p)).await, "{admin}: {list} page {p}");
            assert_eq!(a.0, 200);
            after.push(a);
        }
        // the change shows (the selection's count or order moved)
        assert!(
            after[2] != first || after[0] != before,
            "{admin} changes {list}"
        );
    }
}

#[tokio::test]
async fn faults_and_the_cost_model_apply_to_every_page_as_without_the_cache() {
    let t = spawn(Config {
        cost_model: awx_sim::cost::CostModel::RealAwx2461,
        cost_scale: 0.0001,
        ..Config::for_tests(NOW)
    })
    .await;
    let list = "/api/v2/unified_jobs/?order_by=-finished,-id&page_size=40";
    let faults = json!({"error_rate": 0.3, "error_status": 503, "paths": ["unified_jobs"]});
    let mut runs = Vec::new();
    for cached in [false, true] {
        t.admin(reqwest::Method::POST, "/_sim/faults", Some(faults.clone()))
            .await;
        t.admin(reqwest::Method::POST, "/_sim/stats/reset", None)
            .await;
        t.sim.state().list_cache.clear();
        let hits = t.hits();
        let mut answers = Vec::new();
        for p in 1..=30 {
            answers.push(if cached {
                t.get(&page(list, p)).await
            } else {
                t.fresh(&page(list, p)).await
            });
        }
        let served = answers.iter().filter(|a| a.0 == 200).count() as u64;
        assert!(served > 10 && served < 30, "{served} pages of 30 served");
        assert_eq!(t.hits() - hits, if cached { served - 1 } else { 0 });
        runs.push((answers, t.awx_seconds().await));
    }
    assert!(runs[0].1 > 0.0);
    assert_eq!(runs[0], runs[1]);
}
