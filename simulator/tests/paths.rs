//! Paths that match none of AWX's routes, as a misconfigured client sends them: AWX's 404
//! handler answers before any authentication (awx/main/views.py `handle_404` renders through
//! a DRF view with no authentication classes), so a valid token, a wrong one and none at all
//! get the same 404, never a 401 that would blame the credentials.

use awx_sim::{ApiPrefix, Config};
use reqwest::StatusCode;

const NO_ROUTE: &str = r#"{"detail":"The requested resource could not be found."}"#;

async fn get(url: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("the simulator answers");
    (r.status(), r.text().await.expect("a body"))
}

#[tokio::test]
async fn an_api_root_twice_is_a_404_whatever_the_credentials() {
    let sim = awx_sim::start(Config {
        days: 1,
        jobs_per_day: 50.0,
        api_prefix: ApiPrefix::Both,
        ..Config::for_tests("2024-10-01T00:00:00Z")
    })
    .await
    .unwrap();
    let base = sim.url();
    for path in [
        // A URL of https://awx.example.com/api/v2 with the API path /api/v2/ added to it.
        "/api/v2/api/v2/ping/",
        "/api/v2/api/v2/unified_jobs/?page_size=1",
        "/api/v2/api/v2/",
        "/api/controller/v2/api/controller/v2/ping/",
        "/api/v2/api/controller/v2/me/",
        // Without the trailing slash: no redirect either, the slashed path does not exist.
        "/api/v2/api/v2/ping",
        // No such API root at all.
        "/api/v3/ping/",
    ] {
        for token in [Some("sim-admin-token"), Some("wrong-token"), None] {
            let (status, body) = get(&format!("{base}{path}"), token).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::NOT_FOUND, NO_ROUTE),
                "{path} with token {token:?}"
            );
        }
    }
    // The real routes are untouched: ping needs no token, the rest a valid one.
    assert_eq!(
        get(&format!("{base}/api/v2/ping/"), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&format!("{base}/api/v2/me/"), Some("wrong-token"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(
            &format!("{base}/api/controller/v2/me/"),
            Some("sim-admin-token")
        )
        .await
        .0,
        StatusCode::OK
    );
    sim.shutdown().await;
}
