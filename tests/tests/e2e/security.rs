//! Security: secrets never leave the plugin except as Authorization headers; TLS is
//! verified by default and trusts a private CA only when told to; user-supplied values
//! (filters, look-up searches, resource paths) cannot change which URLs the plugin asks;
//! redirects and foreign `next` links are not followed; oversized requests are bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use e2e::{datasource, ms, query, request, Plugin, Prometheus, Sim, SimOptions, SIM_NOW};
use grafana_plugin_sdk::pluginv2::{
    CallResourceRequest, DataQuery, DataSourceInstanceSettings, TimeRange,
};
use serde_json::{json, Value};

use crate::faults::{DAY, HOUR};

// ---------------------------------------------------------------------------------------
// A recording reverse proxy in front of the simulator (or a fake Prometheus)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path and query exactly as received.
    pub target: String,
    pub authorization: Option<String>,
}

#[derive(Clone, Default)]
pub struct Behaviour {
    /// Rewrite `next` links to this origin (a foreign host).
    pub foreign_next: Option<String>,
    /// Answer every request with a redirect to this URL.
    pub redirect_to: Option<String>,
    /// Answer every request with this status and body instead of forwarding.
    pub fixed: Option<(u16, String)>,
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    behaviour: Behaviour,
    http: reqwest::Client,
}

pub struct Recorder {
    pub url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    pub async fn start(upstream: &str, behaviour: Behaviour) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            log: log.clone(),
            behaviour,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Recorder { url, log, task }
    }

    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(st): State<ProxyState>, req: Request) -> Response {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    st.log.lock().unwrap().push(Recorded {
        target: target.clone(),
        authorization: authorization.clone(),
    });
    if let Some(to) = &st.behaviour.redirect_to {
        return Response::builder()
            .status(StatusCode::FOUND)
            .header("location", format!("{to}{target}"))
            .body(Body::empty())
            .unwrap();
    }
    if let Some((status, body)) = &st.behaviour.fixed {
        return Response::builder()
            .status(*status)
            .header("content-type", "application/json")
            .body(Body::from(body.clone()))
            .unwrap();
    }
    let mut up = st.http.get(format!("{}{target}", st.upstream));
    if let Some(a) = authorization {
        up = up.header("authorization", a);
    }
    let resp = match up.send().await {
        Ok(r) => r,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(e.to_string()))
                .unwrap()
        }
    };
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    let mut body = resp.text().await.unwrap_or_default();
    if let Some(origin) = &st.behaviour.foreign_next {
        body = body.replace("\"next\":\"/", &format!("\"next\":\"{origin}/"));
    }
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Everything the plugin sent back in one session: to be searched for secrets.
#[derive(Default)]
struct Emitted(Vec<u8>);

impl Emitted {
    fn add(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        self.0.push(b'\n');
    }
    fn contains(&self, needle: &str) -> bool {
        self.0.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

async fn health(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    out: &mut Emitted,
) -> (i32, String) {
    let r = plugin.check_health(ds).await.unwrap();
    out.add(r.message.as_bytes());
    out.add(&r.json_details);
    (r.status, r.message)
}

async fn resource(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    method: &str,
    path: &str,
    url: &str,
    out: &mut Emitted,
) -> (i32, Value) {
    let mut stream = plugin
        .resource()
        .call_resource(CallResourceRequest {
            plugin_context: Some(e2e::context(ds)),
            path: path.into(),
            method: method.into(),
            url: url.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let r = stream.message().await.unwrap().expect("one response");
    out.add(&r.body);
    for (k, v) in &r.headers {
        out.add(k.as_bytes());
        for x in &v.values {
            out.add(x.as_bytes());
        }
    }
    (
        r.code,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

/// Runs queries in one request; returns per refId the frames' decoded form or the error.
async fn run_queries(
    plugin: &Plugin,
    ds: &DataSourceInstanceSettings,
    queries: Vec<DataQuery>,
    out: &mut Emitted,
) -> BTreeMap<String, Result<Vec<e2e::DecodedFrame>, String>> {
    let resp = plugin
        .data()
        .query_data(request(ds, queries))
        .await
        .unwrap()
        .into_inner();
    resp.responses
        .into_iter()
        .map(|(id, r)| {
            out.add(r.error.as_bytes());
            for f in &r.frames {
                out.add(f);
            }
            out.add(&r.json_meta);
            let v = if r.error.is_empty() {
                Ok(r.frames.iter().map(|f| e2e::decode(f).unwrap()).collect())
            } else {
                Err(r.error)
            };
            (id, v)
        })
        .collect()
}

/// Every query type, over the API and (where it has one) Prometheus.
fn every_query(now: i64) -> Vec<DataQuery> {
    let (from, to) = (now - DAY, now);
    let mut qs: Vec<(&str, Value)> = vec![
        ("status", json!({"queryType": "job_status_counts"})),
        (
            "status_prom",
            json!({"queryType": "job_status_counts", "source": "prometheus"}),
        ),
        (
            "throughput",
            json!({"queryType": "job_throughput", "groupBy": "template"}),
        ),
        ("failure", json!({"queryType": "failure_rate"})),
        (
            "duration",
            json!({"queryType": "job_duration", "stats": ["p99"]}),
        ),
        ("wait", json!({"queryType": "queue_wait"})),
        (
            "active_api",
            json!({"queryType": "active_jobs", "source": "api"}),
        ),
        (
            "active_prom",
            json!({"queryType": "active_jobs", "source": "prometheus"}),
        ),
        (
            "capacity_api",
            json!({"queryType": "capacity", "source": "api"}),
        ),
        (
            "capacity_prom",
            json!({"queryType": "capacity", "source": "prometheus"}),
        ),
        ("instances", json!({"queryType": "instances"})),
        ("templates", json!({"queryType": "templates"})),
        ("jobs", json!({"queryType": "jobs", "limit": 50})),
        (
            "system_api",
            json!({"queryType": "system", "source": "api"}),
        ),
        (
            "system_prom",
            json!({"queryType": "system", "source": "prometheus"}),
        ),
        (
            "promql",
            json!({"queryType": "promql", "expr": "sum(awx_running_jobs_total)"}),
        ),
        (
            "promql_bad",
            json!({"queryType": "promql", "expr": "sum(("}),
        ),
        ("annotations", json!({"queryType": "annotations"})),
        ("invalid", json!({"queryType": "jobs", "limit": "many"})),
    ];
    for kind in [
        "organization",
        "template",
        "inventory",
        "project",
        "instanceGroup",
        "instance",
        "executionNode",
        "status",
        "jobType",
        "launchType",
    ] {
        qs.push(("lookup", json!({"queryType": "lookup", "lookup": kind})));
    }
    qs.into_iter()
        .enumerate()
        .map(|(i, (id, q))| query(&format!("{id}-{i}"), q, from, to, HOUR))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

const TOKEN: &str = "tok-5e6f-SECRET-awx-token";
const WRONG_TOKEN: &str = "tok-1c1c-SECRET-wrong-token";
const PASSWORD: &str = "pw-9f8e-SECRET-basic";
const WRONG_PASSWORD: &str = "pw-2d2d-SECRET-wrong";
const PROM_TOKEN: &str = "prom-7a7a-SECRET-bearer";
const PROM_PASSWORD: &str = "prom-8b8b-SECRET-pass";

fn base64(input: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = input.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn secrets_never_appear_in_logs_frames_errors_health_or_resources() {
    let sim = Sim::start(SimOptions {
        days: 2,
        jobs_per_day: 200,
        extra: vec![
            "--user".into(),
            format!("secops:{PASSWORD}:superuser:{TOKEN}"),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let hostport = sim.url.trim_start_matches("http://").to_string();
    let prom = Prometheus::start(&hostport, e2e::ADMIN_TOKEN, "1s")
        .await
        .unwrap();
    // A Prometheus that records what it is sent, and one that refuses everything.
    let prom_rec = Recorder::start(&prom.url, Behaviour::default()).await;
    let prom_401 = Recorder::start(
        &prom.url,
        Behaviour {
            fixed: Some((
                401,
                format!("{{\"status\":\"error\",\"error\":\"bad {PROM_TOKEN}\"}}"),
            )),
            ..Default::default()
        },
    )
    .await;
    let awx_rec = Recorder::start(&sim.url, Behaviour::default()).await;
    // Wait for Prometheus to hold AWX's metrics, so that Save & test can pass.
    let http = reqwest::Client::new();
    for _ in 0..100 {
        let r: Value = http
            .get(format!("{}/api/v1/query?query=awx_system_info", prom.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if r["data"]["result"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Debug logs, and the HTTP stack at trace level: what an admin turns on to debug.
    let plugin = Plugin::spawn_binary(
        &e2e::procs::bin_dir().join("gpx_awx"),
        &[("RUST_LOG", "trace,h2=debug,tonic=debug,tower=debug")],
    )
    .await
    .unwrap();

    let sources: Vec<(&str, DataSourceInstanceSettings)> = vec![
        (
            "token",
            datasource(
                &awx_rec.url,
                json!({"prometheusUrl": prom_rec.url, "prometheusAuthType": "bearer"}),
                &[("token", TOKEN), ("prometheusToken", PROM_TOKEN)],
            ),
        ),
        (
            "wrong token",
            datasource(&sim.url, json!({}), &[("token", WRONG_TOKEN)]),
        ),
        (
            "basic",
            datasource(
                &sim.url,
                json!({"authType": "basic", "username": "secops", "jobCacheMB": 0,
                       "prometheusUrl": prom.url, "prometheusAuthType": "basic",
                       "prometheusUsername": "promuser"}),
                &[
                    ("password", PASSWORD),
                    ("prometheusPassword", PROM_PASSWORD),
                ],
            ),
        ),
        (
            "wrong password",
            datasource(
                &sim.url,
                json!({"authType": "basic", "username": "secops",
                       "prometheusUrl": prom_401.url, "prometheusAuthType": "bearer"}),
                &[
                    ("password", WRONG_PASSWORD),
                    ("prometheusToken", PROM_TOKEN),
                ],
            ),
        ),
        (
            "prometheus refuses",
            datasource(
                &sim.url,
                json!({"prometheusUrl": prom_401.url, "prometheusAuthType": "basic",
                       "prometheusUsername": "promuser"}),
                &[("token", TOKEN), ("prometheusPassword", PROM_PASSWORD)],
            ),
        ),
    ];
    let now = ms(SIM_NOW);
    let mut out = Emitted::default();
    let mut healthy = 0;
    for (name, ds) in &sources {
        let (status, message) = health(&plugin, ds, &mut out).await;
        if status == 1 {
            healthy += 1;
        }
        eprintln!(
            "health with {name}: {status} {}",
            message.lines().next().unwrap_or("")
        );
        let answers = run_queries(&plugin, ds, every_query(now), &mut out).await;
        let ok = answers.values().filter(|a| a.is_ok()).count();
        eprintln!("queries with {name}: {ok} of {} answered", answers.len());
        for (path, url) in [
            ("lookup/organization", "lookup/organization?q=a"),
            ("lookup/template", "lookup/template?q=%26page_size%3D1"),
            ("lookup/executionNode", "lookup/executionNode"),
            ("lookup/nope", "lookup/nope"),
            ("other", "other"),
        ] {
            resource(&plugin, ds, "GET", path, url, &mut out).await;
        }
        resource(
            &plugin,
            ds,
            "POST",
            "lookup/organization",
            "lookup/organization",
            &mut out,
        )
        .await;
    }
    assert!(healthy >= 2, "the good credentials pass Save & test");
    // The query type names ran: the frames are in `out` (so a miss below means no leak).
    assert!(out.contains("job_status_counts") || out.contains("status"));
    assert!(plugin.stderr().len() > 10_000, "trace logs were written");

    let secrets = [
        TOKEN,
        WRONG_TOKEN,
        PASSWORD,
        WRONG_PASSWORD,
        PROM_TOKEN,
        PROM_PASSWORD,
    ];
    let mut needles: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    for (user, pw) in [
        ("secops", PASSWORD),
        ("secops", WRONG_PASSWORD),
        ("promuser", PROM_PASSWORD),
    ] {
        needles.push(base64(&format!("{user}:{pw}")));
    }
    let stderr = plugin.stderr();
    for n in &needles {
        assert!(
            !stderr.contains(n.as_str()),
            "`{n}` leaked into the plugin's log"
        );
        assert!(
            !out.contains(n),
            "`{n}` leaked into a frame, error, health or resource answer"
        );
    }
    assert_eq!(plugin.stdout_after_handshake(), "");

    // Secrets do travel, as Authorization headers and only there.
    let awx_seen = awx_rec.take();
    assert!(!awx_seen.is_empty());
    for r in &awx_seen {
        assert!(
            !secrets.iter().any(|s| r.target.contains(s)),
            "a secret in a URL: {}",
            r.target
        );
        if !r.target.ends_with("/ping/") {
            assert_eq!(
                r.authorization.as_deref(),
                Some(format!("Bearer {TOKEN}").as_str())
            );
        }
    }
    let prom_seen = prom_rec.take();
    assert!(!prom_seen.is_empty());
    for r in &prom_seen {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {PROM_TOKEN}").as_str())
        );
    }
    let refused = prom_401.take();
    assert!(refused.iter().any(|r| r.authorization.as_deref()
        == Some(format!("Basic {}", base64(&format!("promuser:{PROM_PASSWORD}"))).as_str())));
}

// ---------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------

struct Pki {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn make_pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "AWX e2e private CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "awx.e2e");
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    }
}

/// HTTPS in front of the simulator: TLS terminated here, bytes copied both ways.
async fn tls_proxy(pki: &Pki, upstream: &str) -> (String, tokio::task::JoinHandle<()>) {
    use tokio_rustls::rustls::{
        self,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(pki.cert_der.clone())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                // A client that rejects the certificate ends the handshake here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    (url, task)
}

#[tokio::test]
async fn tls_is_verified_by_default_and_trusts_a_private_ca_only_when_configured() {
    let sim = Sim::with_history(1, 100).await.unwrap();
    let pki = make_pki();
    let other = make_pki();
    let (url, task) = tls_proxy(&pki, &sim.url).await;
    let plugin = Plugin::spawn().await.unwrap();
    let mut out = Emitted::default();
    let ds = |json_data: Value, ca: Option<&str>| {
        let mut secure = vec![("token", e2e::ADMIN_TOKEN)];
        if let Some(ca) = ca {
            secure.push(("tlsCaCert", ca));
        }
        datasource(&url, json_data, &secure)
    };
    let cases: Vec<(&str, DataSourceInstanceSettings, bool)> = vec![
        (
            "default verification",
            ds(json!({"timeoutSeconds": 5}), None),
            false,
        ),
        (
            "the private CA",
            ds(json!({"timeoutSeconds": 5}), Some(&pki.ca_pem)),
            true,
        ),
        (
            "skip verification",
            ds(json!({"timeoutSeconds": 5, "tlsSkipVerify": true}), None),
            true,
        ),
        (
            "another CA",
            ds(json!({"timeoutSeconds": 5}), Some(&other.ca_pem)),
            false,
        ),
    ];
    for (name, ds, ok) in &cases {
        let (status, message) = health(&plugin, ds, &mut out).await;
        if *ok {
            assert_eq!(status, 1, "{name}: {message}");
            assert!(message.contains("24.6.1"), "{name}: {message}");
            // Queries go through the same client.
            let answers = run_queries(
                &plugin,
                ds,
                vec![query(
                    "A",
                    json!({"queryType": "jobs", "limit": 5}),
                    ms(SIM_NOW) - DAY,
                    ms(SIM_NOW),
                    HOUR,
                )],
                &mut out,
            )
            .await;
            let frames = answers["A"]
                .as_ref()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(frames[0].rows(), 5, "{name}");
        } else {
            assert_eq!(status, 2, "{name}: {message}");
            assert!(
                message.contains("Failed: AWX reachable") && message.contains("TLS"),
                "{name}: the failure names TLS: {message}"
            );
            assert!(
                message.contains("CA certificate"),
                "{name}: says what to fix: {message}"
            );
            let answers = run_queries(
                &plugin,
                ds,
                vec![query("A", json!({"queryType": "jobs"}), 0, 1000, 1000)],
                &mut out,
            )
            .await;
            let e = answers["A"]
                .as_ref()
                .expect_err("no answer over an untrusted TLS");
            assert!(e.contains("TLS"), "{name}: {e}");
        }
    }
    // A CA field that is no certificate is a settings error that says so.
    let (status, message) = health(&plugin, &ds(json!({}), Some("not a pem")), &mut out).await;
    assert_eq!(status, 2);
    assert!(message.contains("CA certificate"), "{message}");
    assert!(!out.contains(e2e::ADMIN_TOKEN));
    task.abort();
}

// ---------------------------------------------------------------------------------------
// Injection: filter values, look-up searches and resource paths stay values
// ---------------------------------------------------------------------------------------

/// The list endpoints the plugin may ask (under the API root), and the query keys whose
/// values come from users.
const ALLOWED: &[&str] = &[
    "unified_jobs/",
    "organizations/",
    "unified_job_templates/",
    "inventories/",
    "projects/",
    "instance_groups/",
    "instances/",
    "ping/",
    "me/",
    "config/",
];

fn split_target(t: &str) -> (String, Vec<(String, String)>) {
    let u = url::Url::parse(&format!("http://x{t}")).unwrap();
    (u.path().to_string(), u.query_pairs().into_owned().collect())
}

const NASTY: &[&str] = &[
    "a&page_size=1",
    "../../users/",
    "x#frag",
    "x?y=z",
    "%2e%2e%2fusers%2f",
    "a=b;c",
    "Ünïcode /api/v2/users/",
];

#[tokio::test]
async fn filter_values_and_searches_cannot_change_the_awx_urls() {
    let sim = Sim::with_history(2, 200).await.unwrap();
    let rec = Recorder::start(&sim.url, Behaviour::default()).await;
    let plugin = Plugin::spawn().await.unwrap();
    let mut out = Emitted::default();
    let now = ms(SIM_NOW);
    // Uncached, so that filters are pushed down into AWX's query string.
    let ds = datasource(
        &rec.url,
        json!({"jobCacheMB": 0}),
        &[("token", e2e::ADMIN_TOKEN)],
    );
    let cached = {
        let mut d = datasource(&rec.url, json!({}), &[("token", e2e::ADMIN_TOKEN)]);
        d.uid = "awx-e2e-cached".into();
        d
    };
    let truth = sim.truth_jobs().await.unwrap();
    // The oracle: jobs active in [now - 1 day, now) that the filter keeps.
    let expected = |key: &str, value: &str| -> usize {
        let v = vec![value.trim().to_string()];
        let mut f = e2e::oracle::Filter::default();
        match key {
            "template" => f.template = v,
            "organization" => f.organization = v,
            "name" => f.name = Some(value.trim().to_string()),
            "executionNode" => f.execution_node = v,
            "inventory" => f.inventory = v,
            _ => f.launched_by = v,
        }
        let (from, to) = ((now - DAY) * 1000, now * 1000);
        truth
            .iter()
            .filter(|j| f.keeps(j))
            .filter(|j| {
                e2e::oracle::us(j.created) < to
                    && j.finished.is_none_or(|t| e2e::oracle::us(t) >= from)
            })
            .count()
    };
    sim.post("/_sim/stats/reset", json!({})).await.unwrap();
    let mut pushed = BTreeSet::new();
    for value in NASTY.iter().copied().chain([", "]) {
        for key in [
            "template",
            "organization",
            "name",
            "executionNode",
            "inventory",
            "launchedBy",
        ] {
            let filters = json!({ key: [value] });
            for source in [&ds, &cached] {
                let answers = run_queries(
                    &plugin,
                    source,
                    vec![
                        query(
                            "jobs",
                            json!({"queryType": "jobs", "filters": filters, "limit": 10000}),
                            now - DAY,
                            now,
                            HOUR,
                        ),
                        query(
                            "throughput",
                            json!({"queryType": "job_throughput", "filters": filters}),
                            now - DAY,
                            now,
                            HOUR,
                        ),
                    ],
                    &mut out,
                )
                .await;
                // The values arrived intact: the answer is the oracle's (mostly "nothing";
                // some job names do contain a comma).
                let want = expected(key, value);
                let jobs = answers["jobs"]
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{value}: {e}"));
                assert_eq!(jobs[0].rows(), want, "{key}={value:?}: as the oracle");
                let tp = answers["throughput"].as_ref().unwrap();
                if want == 0 {
                    assert!(
                        tp[0]
                            .fields
                            .iter()
                            .skip(1)
                            .all(|f| f.values.iter().all(|c| c.f64().is_none_or(|v| v == 0.0))),
                        "{key}={value:?}: zero throughput"
                    );
                }
            }
            for r in rec.take() {
                let (path, params) = split_target(&r.target);
                let rest = path.strip_prefix("/api/v2/").unwrap_or_else(|| {
                    panic!("{key}={value:?}: asked outside the API root: {}", r.target)
                });
                assert!(
                    ALLOWED.contains(&rest),
                    "{key}={value:?}: asked {}",
                    r.target
                );
                let page_sizes = params.iter().filter(|(k, _)| k == "page_size").count();
                assert!(
                    page_sizes <= 1,
                    "{key}={value:?}: page_size injected: {}",
                    r.target
                );
                for (k, v) in &params {
                    if k.contains("name") || k.starts_with("execution_node") {
                        assert!(
                            v == value.trim() || v.split(',').any(|x| x == value.trim()),
                            "{key}={value:?}: {k} arrived as {v:?} in {}",
                            r.target
                        );
                        pushed.insert(k.clone());
                    }
                }
            }
        }
    }
    assert!(
        pushed.len() >= 3,
        "values were pushed down to AWX (and arrived intact): {pushed:?}"
    );

    // Look-up searches (queries and the editor's resource route) stay values too.
    for value in NASTY {
        let q = url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
        let (code, body) = resource(
            &plugin,
            &ds,
            "GET",
            "lookup/organization",
            &format!("lookup/organization?q={q}&page_size=1"),
            &mut out,
        )
        .await;
        assert_eq!(code, 200, "{value}: {body}");
        assert_eq!(body, json!([]), "{value}: nothing matches");
        let answers = run_queries(
            &plugin,
            &ds,
            vec![query(
                "L",
                json!({"queryType": "lookup", "lookup": "template", "filters": {"name": [value]}}),
                0,
                1000,
                1000,
            )],
            &mut out,
        )
        .await;
        assert_eq!(answers["L"].as_ref().unwrap()[0].rows(), 0, "{value}");
        for r in rec.take() {
            let (path, params) = split_target(&r.target);
            assert!(
                path == "/api/v2/organizations/" || path == "/api/v2/unified_job_templates/",
                "{value}: {}",
                r.target
            );
            let search: Vec<_> = params
                .iter()
                .filter(|(k, _)| k == "name__icontains")
                .collect();
            assert_eq!(search.len(), 1, "{}", r.target);
            assert_eq!(search[0].1, *value, "{}", r.target);
        }
    }
    // Resource paths that try to leave the route table are refused without asking AWX.
    for path in [
        "lookup/../../users",
        "lookup/organization/../../../users",
        "../api/v2/users/",
        "lookup/users",
        "lookup/organization/extra",
        "/lookup//organization",
    ] {
        let (code, body) = resource(&plugin, &ds, "GET", path, path, &mut out).await;
        assert_eq!(code, 404, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("lookup")),
            "{path}: {body}"
        );
    }
    assert!(rec.take().is_empty(), "refused routes asked nothing of AWX");
    // Every request the simulator served came through the recorder: nothing bypassed it.
    let stats = sim.stats().await.unwrap();
    let by_path = stats["requests_by_path"].as_object().unwrap();
    for p in by_path.keys() {
        let rest = p.strip_prefix("/api/v2/").unwrap_or(p);
        assert!(ALLOWED.contains(&rest), "the simulator served {p}");
    }
}

#[tokio::test]
async fn redirects_and_foreign_next_links_are_not_followed() {
    let sim = Sim::with_history(2, 300).await.unwrap();
    let plugin = Plugin::spawn().await.unwrap();
    let now = ms(SIM_NOW);
    let mut out = Emitted::default();
    // `next` pointing at another origin (here: the simulator itself, behind the proxy's back).
    let foreign = Recorder::start(
        &sim.url,
        Behaviour {
            foreign_next: Some(sim.url.clone()),
            ..Default::default()
        },
    )
    .await;
    let redirect = Recorder::start(
        &sim.url,
        Behaviour {
            redirect_to: Some(sim.url.clone()),
            ..Default::default()
        },
    )
    .await;
    sim.post("/_sim/stats/reset", json!({})).await.unwrap();
    let mut forwarded = 0;
    for (name, rec, text) in [
        ("foreign next", &foreign, "refusing to follow"),
        ("redirect", &redirect, "redirect (HTTP 302)"),
    ] {
        for cache in [json!({}), json!({"jobCacheMB": 0})] {
            let mut ds = datasource(&rec.url, cache.clone(), &[("token", e2e::ADMIN_TOKEN)]);
            ds.uid = format!("{name}-{cache}");
            let answers = run_queries(
                &plugin,
                &ds,
                vec![query(
                    "A",
                    json!({"queryType": "jobs", "limit": 10000}),
                    now - 2 * DAY,
                    now,
                    HOUR,
                )],
                &mut out,
            )
            .await;
            match answers["A"].as_ref() {
                Err(e) => assert!(e.contains(text), "{name}: {e}"),
                // A cold fill addresses its pages by number on the configured URL and may
                // never need a `next` link: an answer is fine as long as nothing went
                // around the proxy (counted below).
                Ok(_) if name == "foreign next" => {}
                Ok(_) => panic!("{name}: answered through a redirect"),
            }
        }
        let seen = rec.take();
        assert!(!seen.is_empty());
        if name == "foreign next" {
            forwarded += seen.len() as i64;
        }
    }
    let stats = sim.stats().await.unwrap();
    // Only what the foreign-next proxy forwarded (first pages) reached the simulator:
    // the plugin never followed a link around the configured URL.
    let direct = stats["requests_total"].as_i64().unwrap();
    assert_eq!(
        direct, forwarded,
        "the plugin went around the configured URL: {stats}"
    );
}

// ---------------------------------------------------------------------------------------
// Bounds on what one request may ask
// ---------------------------------------------------------------------------------------

fn raw_query(id: &str, json: Value, from: i64, to: i64, interval: i64, mdp: i64) -> DataQuery {
    let mut q = query(id, json.clone(), from, to, interval);
    q.max_data_points = mdp;
    let mut j = json;
    j["maxDataPoints"] = mdp.into();
    j["intervalMs"] = interval.into();
    q.json = serde_json::to_vec(&j).unwrap();
    q.time_range = Some(TimeRange {
        from_epoch_ms: from,
        to_epoch_ms: to,
    });
    q
}

#[tokio::test]
async fn oversized_requests_are_bounded_with_clear_errors() {
    let sim = Sim::with_history(2, 200).await.unwrap();
    let mut plugin = Plugin::spawn().await.unwrap();
    let ds = datasource(&sim.url, json!({}), &[("token", e2e::ADMIN_TOKEN)]);
    let now = ms(SIM_NOW);
    let mut out = Emitted::default();
    let year = 365 * DAY;
    let answers = run_queries(
        &plugin,
        &ds,
        vec![
            // A year at one-second buckets, no maxDataPoints cap: at most MAX_BUCKETS, said.
            raw_query("year", json!({"queryType": "job_throughput"}), now - year, now, 1, 0),
            raw_query("mdp", json!({"queryType": "failure_rate"}), now - year, now, 1, 1_000_000_000),
            raw_query("few", json!({"queryType": "job_duration"}), now - 7 * DAY, now, 1, 50),
            // Since 1970, at the largest interval there is.
            raw_query("epoch", json!({"queryType": "queue_wait"}), 0, now, i64::MAX, 1000),
            raw_query("y3000", json!({"queryType": "job_throughput"}), now, 32_503_680_000_000, 60_000, 1000),
            raw_query("limit_big", json!({"queryType": "jobs", "limit": 10_001}), now - DAY, now, HOUR, 1000),
            raw_query("limit_zero", json!({"queryType": "templates", "limit": 0}), now - DAY, now, HOUR, 1000),
            raw_query("limit_max", json!({"queryType": "jobs", "limit": 10_000}), now - 2 * DAY, now, HOUR, 1000),
            raw_query(
                "many_values",
                json!({"queryType": "jobs", "filters": {"template": (0..5000).map(|i| format!("template {i}")).collect::<Vec<_>>()}}),
                now - DAY,
                now,
                HOUR,
                1000,
            ),
        ],
        &mut out,
    )
    .await;
    let frames = |id: &str| -> &Vec<e2e::DecodedFrame> {
        answers[id].as_ref().unwrap_or_else(|e| panic!("{id}: {e}"))
    };
    for id in ["year", "mdp"] {
        let n = frames(id)[0].rows();
        let max = awx_datasource::kpi::buckets::MAX_BUCKETS as usize;
        assert!((max / 2..=max).contains(&n), "{id}: {n} buckets");
        let notices = frames(id)[0].notices();
        assert!(
            notices
                .iter()
                .any(|n| n.contains("wide rather than the 1s asked for")),
            "{id}: {notices:?}"
        );
    }
    assert!(frames("few")[0].rows() <= 50);
    assert!(frames("epoch")[0].rows() <= 2);
    let e = answers["y3000"].as_ref().expect_err("past 2262");
    assert!(e.contains("2262") && e.contains("shorten"), "{e}");
    for id in ["limit_big", "limit_zero"] {
        let e = answers[id].as_ref().expect_err("limit out of bounds");
        assert!(e.contains("limit") && e.contains("10000"), "{id}: {e}");
    }
    assert!(frames("limit_max")[0].rows() <= 10_000);
    assert_eq!(frames("many_values")[0].rows(), 0);

    // A template variable set to "All" expands to every name: without the cache those
    // filters go to AWX, whose proxy refuses request lines over 8 KiB (nginx's default).
    let truth = sim.truth_jobs().await.unwrap();
    let real = truth
        .iter()
        .rev()
        .find_map(|j| j.template_name.clone())
        .unwrap();
    let mut names: Vec<String> = (0..2000).map(|i| format!("Template number {i}")).collect();
    names.push(real.clone());
    let rec = Recorder::start(&sim.url, Behaviour::default()).await;
    let uncached = e2e::uncached_datasource(&rec.url);
    let answers = run_queries(
        &plugin,
        &uncached,
        vec![query(
            "all",
            json!({"queryType": "jobs", "limit": 10000, "filters": {"template": names, "name": [real.clone()]}}),
            now - DAY,
            now,
            HOUR,
        )],
        &mut out,
    )
    .await;
    let want = truth
        .iter()
        .filter(|j| j.launch_type != "sync" && j.template_name.as_deref() == Some(real.as_str()))
        .filter(|j| j.name.to_lowercase().contains(&real.to_lowercase()))
        .filter(|j| {
            e2e::oracle::us(j.created) < now * 1000
                && j.finished
                    .is_none_or(|t| e2e::oracle::us(t) >= (now - DAY) * 1000)
        })
        .count();
    let got = answers["all"].as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got[0].rows(), want, "{real}: as the oracle");
    for r in rec.take() {
        assert!(
            r.target.len() < 8 * 1024,
            "a {}-byte request line",
            r.target.len()
        );
    }

    // A request larger than gRPC's 4 MiB message bound fails as a whole, cleanly.
    let big = "x".repeat(5 << 20);
    let r = plugin
        .data()
        .query_data(request(
            &ds,
            vec![query(
                "big",
                json!({"queryType": "promql", "expr": big}),
                0,
                1000,
                1000,
            )],
        ))
        .await;
    if let Ok(resp) = r {
        let e = &resp.into_inner().responses["big"].error;
        assert!(!e.is_empty());
    }
    assert!(
        plugin.is_running(),
        "the plugin survives oversized requests"
    );
}

/// Two organisations, each with a data source of uid `awx` saved at the same moment, on
/// two different AWXs with their own tokens: each organisation's queries reach only its
/// own AWX, with its own token, and count its own jobs (Grafana makes uids unique per
/// organisation only).
#[tokio::test]
async fn two_organisations_with_the_same_uid_keep_their_data_and_credentials_apart() {
    use grafana_plugin_sdk::pluginv2::{PluginContext, QueryDataRequest};
    let tokens = ["org-one-token", "org-two-token"];
    let sim = |seed: u64, jobs_per_day: u32, token: &str| {
        Sim::start(SimOptions {
            seed,
            days: 3,
            jobs_per_day,
            extra: vec!["--user".into(), format!("auditor:pw:auditor:{token}")],
            ..SimOptions::default()
        })
    };
    let sims = [
        sim(7, 120, tokens[0]).await.unwrap(),
        sim(8, 40, tokens[1]).await.unwrap(),
    ];
    let recorders = [
        Recorder::start(&sims[0].url, Behaviour::default()).await,
        Recorder::start(&sims[1].url, Behaviour::default()).await,
    ];
    let plugin = Plugin::spawn().await.unwrap();
    let mut sources: Vec<_> = (0..2)
        .map(|i| datasource(&recorders[i].url, json!({}), &[("token", tokens[i])]))
        .collect();
    let saved = sources[0].last_updated_ms;
    for ds in &mut sources {
        ds.uid = "awx".into();
        ds.last_updated_ms = saved;
    }
    let now = ms(SIM_NOW);
    let (from, to) = (now - 2 * DAY, now);
    let mut truths = Vec::new();
    for s in &sims {
        let t = s.truth_jobs().await.unwrap();
        let finished = t
            .iter()
            .filter(|j| {
                j.finished
                    .is_some_and(|f| (from..to).contains(&f.timestamp_millis()))
            })
            .filter(|j| j.launch_type != "sync")
            .count();
        assert!(finished > 10, "the simulator has history");
        truths.push(finished as f64);
    }
    assert_ne!(truths[0], truths[1], "the two AWXs differ");
    // Interleaved, twice, so that a shared instance would answer one with the other's.
    for round in 0..2 {
        for org in [1usize, 2] {
            let ds = &sources[org - 1];
            let req = QueryDataRequest {
                plugin_context: Some(PluginContext {
                    org_id: org as i64,
                    plugin_id: "seed-awx-datasource".into(),
                    data_source_instance_settings: Some(ds.clone()),
                    ..Default::default()
                }),
                headers: Default::default(),
                queries: vec![query(
                    "A",
                    json!({"queryType": "job_status_counts"}),
                    from,
                    to,
                    HOUR,
                )],
            };
            let resp = plugin.data().query_data(req).await.unwrap().into_inner();
            let r = &resp.responses["A"];
            assert!(r.error.is_empty(), "org {org}: {}", r.error);
            let frame = e2e::decode(&r.frames[0]).unwrap();
            let statuses = frame.field("status").unwrap();
            let counts = frame.field("count").unwrap();
            let finals: f64 = statuses
                .values
                .iter()
                .zip(&counts.values)
                .filter(|(s, _)| {
                    matches!(
                        s.str(),
                        Some("successful" | "failed" | "error" | "canceled")
                    )
                })
                .filter_map(|(_, c)| c.f64())
                .sum();
            assert_eq!(finals, truths[org - 1], "org {org}, round {round}");
        }
    }
    for (i, rec) in recorders.iter().enumerate() {
        let seen = rec.take();
        assert!(!seen.is_empty(), "org {} reached its AWX", i + 1);
        let want = format!("Bearer {}", tokens[i]);
        for r in &seen {
            assert_eq!(
                r.authorization.as_deref(),
                Some(want.as_str()),
                "org {}: {}",
                i + 1,
                r.target
            );
        }
    }
}
