//! Property tests over everything the plugin parses from outside: query JSON (Grafana
//! users), settings (admins), AWX's JSON and Prometheus' answers (servers), plus the frame
//! encoder and the time buckets that the parsed values drive.
//!
//! The properties: nothing panics on any input; errors name the field to fix; secrets
//! never appear in errors or debug output; user values cannot change the AWX path.
//!
//! Case counts follow proptest's `PROPTEST_CASES` (256 by default, what CI runs);
//! run longer by hand, e.g. `PROPTEST_CASES=20000 cargo test -p gpx_awx --test properties`.
//! Each test prints how many inputs it executed.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

use awx_datasource::awx::model::{Instance, Named, Ping, UnifiedJob, User};
use awx_datasource::awx::{ApiRequest, Page};
use awx_datasource::frame::{self, EncodeError, Field, FieldConfig, Frame, FrameType, Values};
use awx_datasource::jobs::{JobTable, Selection};
use awx_datasource::kpi::buckets::{Buckets, MAX_BUCKETS};
use awx_datasource::kpi::records::pushdown;
use awx_datasource::prometheus::client::parse_response;
use awx_datasource::query::{Query, QueryEnvelope, QueryType, TimeRange};
use awx_datasource::settings::{Settings, Source};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

/// Runs `body` over `strategy` for the configured number of cases and prints the count.
fn run<S: Strategy>(name: &str, strategy: S, body: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let executed = AtomicUsize::new(0);
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |v| {
        executed.fetch_add(1, Ordering::Relaxed);
        body(v)
    });
    eprintln!(
        "property {name}: {} inputs executed",
        executed.load(Ordering::Relaxed)
    );
    if let Err(e) = result {
        panic!("property {name} failed: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        "[a-z_]{0,12}".prop_map(Value::String),
        // Strings that look like what the parsers expect.
        prop_oneof![
            Just("2026-11-20T12:00:00Z"),
            Just("2026-11-20T12:00:00.123456Z"),
            Just("-262143-01-01T00:00:00Z"),
            Just("+262142-12-31T23:59:59.999999Z"),
            Just("NaN"),
            Just("+Inf"),
            Just("-Inf"),
            Just("1e308"),
            Just("failed"),
            Just("successful"),
            Just("job"),
            Just("sync"),
            Just("template"),
            Just("matrix"),
            Just("vector"),
            Just("scalar"),
            Just("success"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object whose keys are drawn from `keys` (so parsers get past the first field) with
/// arbitrary values, or plausible ones from `plausible`.
fn object_with(
    keys: &'static [&'static str],
    plausible: impl Strategy<Value = Value> + Clone,
) -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop::sample::select(keys),
            prop_oneof![json_value(), plausible],
        ),
        0..keys.len() + 2,
    )
    .prop_map(|kv| {
        Value::Object(
            kv.into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<serde_json::Map<_, _>>(),
        )
    })
}

const QUERY_KEYS: &[&str] = &[
    "queryType",
    "source",
    "filters",
    "groupBy",
    "stats",
    "limit",
    "includeSyncs",
    "instant",
    "expr",
    "legendFormat",
    "lookup",
    "refId",
    "datasource",
    "intervalMs",
    "maxDataPoints",
    "hide",
];

fn plausible_query_value() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        prop::sample::select(
            QueryType::ALL
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
        )
        .prop_map(|s| json!(s)),
        prop::sample::select(vec![
            "api",
            "prometheus",
            "auto",
            "template",
            "status",
            "none",
            "p95",
            "organization",
            "10000",
            "0",
            "true",
        ])
        .prop_map(|s| json!(s)),
        prop::collection::btree_map(
            prop::sample::select(vec![
                "organization",
                "template",
                "status",
                "jobType",
                "launchType",
                "name",
                "executionNode",
                "bogus",
            ]),
            prop_oneof![
                json_value(),
                prop::collection::vec(any::<String>(), 0..3).prop_map(|v| json!(v)),
            ],
            0..4,
        )
        .prop_map(|m| json!(m)),
        (-5i64..20_000).prop_map(|n| json!(n)),
        prop::collection::vec(
            prop::sample::select(vec!["mean", "p99", "count", "p42", ""]),
            0..4
        )
        .prop_map(|v| json!(v)),
    ]
}

/// The fields a query error may name.
fn known_query_field(field: &str) -> bool {
    matches!(
        field,
        "query"
            | "queryType"
            | "source"
            | "filters"
            | "groupBy"
            | "stats"
            | "limit"
            | "includeSyncs"
            | "instant"
            | "expr"
            | "legendFormat"
            | "lookup"
            | "timeRange"
    ) || field.starts_with("filters.")
}

/// Milliseconds inside chrono's range (and a few at its edges).
fn millis() -> impl Strategy<Value = i64> {
    prop_oneof![
        -8_210_266_876_800_000i64..8_210_266_876_799_999,
        0i64..4_000_000_000_000,
        Just(-8_210_266_876_800_000i64),
        Just(8_210_266_876_799_999i64),
        any::<i64>(),
    ]
}

fn envelope_args() -> impl Strategy<Value = (i64, i64, i64, i64)> {
    (
        millis(),
        millis(),
        prop_oneof![
            any::<i64>(),
            0i64..100_000_000,
            Just(i64::MAX),
            Just(i64::MIN)
        ],
        prop_oneof![any::<i64>(), 0i64..100_000, Just(i64::MAX)],
    )
}

fn parse_query(
    json: &[u8],
    query_type: &str,
    (from, to, interval, mdp): (i64, i64, i64, i64),
) -> Option<Result<Query, awx_datasource::query::QueryError>> {
    // The plugin refuses ranges outside chrono's before parsing (data.rs).
    let range = TimeRange::from_millis(from, to)?;
    let env = QueryEnvelope {
        ref_id: "A",
        query_type,
        json,
        range,
        interval_ms: interval,
        max_data_points: mdp,
        from_alert: false,
    };
    Some(Query::parse(&env, Source::Api))
}

/// What every parsed query must satisfy; for time series, the buckets too.
fn check_query(
    result: Result<Query, awx_datasource::query::QueryError>,
) -> Result<(), TestCaseError> {
    match result {
        Err(e) => {
            prop_assert!(known_query_field(&e.field), "error names no field: {e}");
            prop_assert!(!e.message.is_empty());
        }
        Ok(q) => {
            prop_assert!((1..=10_000).contains(&q.limit));
            prop_assert!(!q.stats.is_empty());
            if q.range.from < q.range.to {
                check_buckets(&q)?;
            }
        }
    }
    Ok(())
}

fn check_buckets(q: &Query) -> Result<(), TestCaseError> {
    match Buckets::for_query(q) {
        Ok(b) => {
            prop_assert!(b.count >= 1 && b.count as i64 <= MAX_BUCKETS, "{b:?}");
            if q.max_data_points > 0 {
                prop_assert!(b.count as i64 <= q.max_data_points.max(1), "{b:?}");
            }
            prop_assert!(b.width >= 1_000_000, "{b:?}");
            prop_assert!(b.first <= b.from, "{b:?}");
            // The buckets cover the whole range.
            let end = b.first as i128 + b.width as i128 * b.count as i128;
            prop_assert!(end >= b.to as i128, "{b:?}");
            prop_assert_eq!(b.index(b.from), Some(0));
            prop_assert!(b.index(b.to - 1).is_some(), "{b:?}");
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Query JSON
// ---------------------------------------------------------------------------------------

#[test]
fn query_parse_never_panics_on_arbitrary_bytes() {
    run(
        "Query::parse(arbitrary bytes)",
        (
            prop::collection::vec(any::<u8>(), 0..256),
            prop::sample::select(vec!["", "jobs", "job_duration", "nope"]),
            envelope_args(),
        ),
        |(bytes, qt, args)| {
            if let Some(r) = parse_query(&bytes, qt, args) {
                check_query(r)?;
            }
            Ok(())
        },
    );
}

#[test]
fn query_parse_never_panics_on_arbitrary_json() {
    run(
        "Query::parse(arbitrary JSON)",
        (json_value(), envelope_args()),
        |(v, args)| {
            let bytes = serde_json::to_vec(&v).unwrap();
            if let Some(r) = parse_query(&bytes, "", args) {
                check_query(r)?;
            }
            Ok(())
        },
    );
}

#[test]
fn query_parse_names_the_field_of_each_bad_key() {
    run(
        "Query::parse(objects with the contract's keys)",
        (
            object_with(QUERY_KEYS, plausible_query_value()),
            envelope_args(),
        ),
        |(v, args)| {
            let bytes = serde_json::to_vec(&v).unwrap();
            if let Some(r) = parse_query(&bytes, "", args) {
                check_query(r)?;
            }
            Ok(())
        },
    );
}

#[test]
fn buckets_are_bounded_for_any_range_interval_and_max_data_points() {
    run(
        "Buckets::for_query(any range, interval, maxDataPoints)",
        (
            millis(),
            prop_oneof![1i64..1_000, 1i64..100_000_000_000, millis()],
            prop_oneof![
                any::<i64>(),
                1i64..100_000_000,
                Just(i64::MAX),
                Just(i64::MIN),
                Just(0)
            ],
            prop_oneof![any::<i64>(), 0i64..1_000_000, Just(i64::MAX)],
        ),
        |(from, span, interval, mdp)| {
            let to = from.saturating_add(span.max(1));
            if let Some(r) = parse_query(
                br#"{"queryType":"job_throughput"}"#,
                "",
                (from, to, interval, mdp),
            ) {
                check_query(r)?;
            }
            Ok(())
        },
    );
}

#[test]
fn filter_values_never_change_the_awx_path() {
    run(
        "pushdown(filters) -> one fixed path, values intact",
        (
            prop::collection::vec(any::<String>(), 0..3),
            prop::collection::vec(any::<String>(), 0..3),
            prop::collection::vec(
                prop_oneof![
                    any::<String>(),
                    Just("a&page_size=1".to_string()),
                    Just("../../users/".to_string()),
                    Just("x#frag".to_string()),
                    Just("x?y=z".to_string()),
                    Just("%2e%2e%2f".to_string()),
                    Just(", ".to_string()),
                ],
                0..3,
            ),
        ),
        |(templates, orgs, names)| {
            let json = json!({"queryType": "jobs", "filters": {
                "template": templates, "organization": orgs, "name": names}});
            let bytes = serde_json::to_vec(&json).unwrap();
            let Some(Ok(q)) = parse_query(&bytes, "", (0, 1000, 1000, 100)) else {
                return Ok(());
            };
            let params = pushdown(&q.filters, q.include_syncs);
            let mut req = ApiRequest::new("unified_jobs/");
            for (k, v) in &params {
                req = req.param(k, v.clone());
            }
            let shown = req.display("/api/v2/");
            let url = url::Url::parse(&format!("https://awx.example.com{shown}")).unwrap();
            prop_assert_eq!(url.path(), "/api/v2/unified_jobs/");
            prop_assert!(url.fragment().is_none());
            let back: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            prop_assert_eq!(back, params);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

const JSON_DATA_KEYS: &[&str] = &[
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

const SECURE_KEYS: &[&str] = &[
    "token",
    "password",
    "prometheusPassword",
    "prometheusToken",
    "tlsCaCert",
    "other",
];

fn plausible_setting() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        prop::sample::select(vec![
            "token",
            "basic",
            "bearer",
            "none",
            "/api/v2/",
            "/api/controller/v2/",
            "api/v2",
            "/../",
            "http://prom:9090",
            "ftp://x",
            "job=\"awx\"",
            "{job=\"awx\"}",
            "}",
            "prometheus",
            "30",
            "0",
            "-1",
            "true",
            "false",
        ])
        .prop_map(|s| json!(s)),
        (-10i64..100_000).prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
    ]
}

/// A secret that cannot occur by chance in any message.
fn secret_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]{6,20}".prop_map(|s| format!("S3CRET-{s}")),
        // Characters that cannot go into an HTTP header.
        "[a-z]{4}".prop_map(|s| format!("S3CRET-{s}\n\u{7f}é")),
        Just("S3CRET- with spaces ".to_string()),
    ]
}

#[test]
fn settings_parse_never_panics_and_never_shows_a_secret() {
    run(
        "Settings::parse(arbitrary jsonData and secure maps)",
        (
            prop_oneof![
                Just("https://awx.example.com".to_string()),
                Just("http://127.0.0.1:1/prefix/".to_string()),
                Just(String::new()),
                any::<String>(),
                "(https?|ftp)://[a-z0-9.:@/?#%\\[\\]-]{0,30}",
            ],
            prop_oneof![
                object_with(JSON_DATA_KEYS, plausible_setting())
                    .prop_map(|v| serde_json::to_vec(&v).unwrap()),
                json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
                prop::collection::vec(any::<u8>(), 0..64),
            ],
            prop::collection::hash_map(prop::sample::select(SECURE_KEYS), secret_value(), 0..6),
        ),
        |(url, json_data, secure)| {
            let secure: HashMap<String, String> = secure
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            let secrets: Vec<&String> = secure.values().collect();
            match Settings::parse(&url, &json_data, &secure) {
                Err(e) => {
                    let text = format!("{e} {e:?}");
                    for s in &secrets {
                        prop_assert!(!text.contains(s.as_str()), "secret in error: {text}");
                    }
                }
                Ok(settings) => {
                    let text = format!("{settings:?}");
                    for s in &secrets {
                        prop_assert!(!text.contains(s.as_str()), "secret in Debug: {text}");
                    }
                    prop_assert!(settings
                        .awx
                        .api_root
                        .as_str()
                        .starts_with(settings.awx.url.as_str().trim_end_matches('/')));
                    // Building the clients refuses bad credentials or CA material with
                    // an error that shows neither.
                    let built = awx_datasource::awx::AwxClient::new(&settings.awx);
                    if let Err(e) = built {
                        let text = format!("{e} {e:?}");
                        for s in &secrets {
                            prop_assert!(
                                !text.contains(s.as_str()),
                                "secret in client error: {text}"
                            );
                        }
                    }
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------
// AWX JSON
// ---------------------------------------------------------------------------------------

const JOB_KEYS: &[&str] = &[
    "id",
    "type",
    "name",
    "status",
    "launch_type",
    "created",
    "started",
    "finished",
    "modified",
    "elapsed",
    "execution_node",
    "summary_fields",
    "launched_by",
    "failed",
];

fn plausible_job_value() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        (0i64..100).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "2026-11-20T12:00:00Z",
            "2026-11-20T12:00:01.5Z",
            "1970-01-01T00:00:00Z",
            "+262142-12-31T23:59:59.999999Z",
            "-262143-01-01T00:00:00Z",
            "failed",
            "running",
            "job",
            "workflow_job",
            "sync",
            "12.5",
            "NaN",
        ])
        .prop_map(|s| json!(s)),
        Just(json!({"unified_job_template": {"id": 3, "name": "Deploy"},
                    "organization": {"id": 1, "name": "Ops"}})),
        Just(json!({"unified_job_template": {"id": -1, "name": ""}, "inventory": null})),
        Just(json!({"name": "admin", "type": "user"})),
    ]
}

/// Parses a list page the way the client does and pushes the jobs through the cache's
/// table and a selection.
fn digest_page(bytes: &[u8], from: i64) -> Result<(), TestCaseError> {
    if let Ok(page) = serde_json::from_slice::<Page<UnifiedJob>>(bytes) {
        digest_jobs(&page.results, from)?;
    }
    if let Ok(job) = serde_json::from_slice::<UnifiedJob>(bytes) {
        digest_jobs(&[job], from)?;
    }
    let _ = serde_json::from_slice::<Page<Instance>>(bytes);
    let _ = serde_json::from_slice::<Page<Named>>(bytes);
    let _ = serde_json::from_slice::<Page<User>>(bytes);
    let _ = serde_json::from_slice::<Ping>(bytes);
    Ok(())
}

fn digest_jobs(jobs: &[UnifiedJob], from: i64) -> Result<(), TestCaseError> {
    let table = JobTable::from_rows(jobs, from);
    prop_assert!(table.jobs().windows(2).all(|w| w[0].id < w[1].id));
    for j in table.jobs() {
        let _ = (j.duration(), j.queue_wait(), j.is_final(), j.is_sync());
        for sym in [j.name, j.execution_node] {
            let _ = table.names.resolve(sym);
        }
        for r in [j.template, j.organization, j.inventory, j.project] {
            let _ = (
                table.names.resolve(table.names.name_of(r)),
                table.names.id_of(r),
            );
        }
    }
    let filters = awx_datasource::query::Filters {
        template: vec!["Deploy".into(), "3".into()],
        organization: vec!["1".into()],
        name: vec!["e".into()],
        ..Default::default()
    };
    for f in [Default::default(), filters] {
        let sel = Selection::compile(&f, true, &table.names);
        let _ = table.jobs().iter().filter(|j| sel.matches(j)).count();
    }
    Ok(())
}

#[test]
fn awx_json_never_panics_on_arbitrary_values() {
    run(
        "AWX models from arbitrary JSON",
        (
            prop_oneof![
                json_value(),
                object_with(JOB_KEYS, plausible_job_value()),
                prop::collection::vec(object_with(JOB_KEYS, plausible_job_value()), 0..5)
                    .prop_map(|jobs| json!({"count": jobs.len(), "next": null, "results": jobs})),
            ],
            any::<i64>(),
        ),
        |(v, from)| digest_page(&serde_json::to_vec(&v).unwrap(), from),
    );
}

#[test]
fn awx_json_never_panics_on_arbitrary_bytes() {
    run(
        "AWX models from arbitrary bytes",
        (prop::collection::vec(any::<u8>(), 0..512), any::<i64>()),
        |(bytes, from)| digest_page(&bytes, from),
    );
}

fn samples() -> Vec<Value> {
    let dir = format!(
        "{}/../../shared/reference/samples",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut out = Vec::new();
    for f in [
        "real_unified_jobs_list_jobs_array1.json",
        "real_unified_jobs_list_jobs_array2.json",
    ] {
        if let Ok(text) = std::fs::read_to_string(format!("{dir}/{f}")) {
            if let Ok(v) = serde_json::from_str(&text) {
                out.push(v);
            }
        }
    }
    if out.is_empty() {
        // The shared samples are not in every checkout: a page in AWX's shape instead.
        out.push(json!({"count": 2, "next": "/api/v2/unified_jobs/?page=2", "previous": null,
            "results": [{"id": 7, "type": "job", "name": "Deploy", "status": "failed",
              "launch_type": "manual", "created": "2026-11-20T11:00:00.123456Z",
              "started": "2026-11-20T11:00:05Z", "finished": "2026-11-20T11:01:00Z",
              "modified": "2026-11-20T11:01:00Z", "elapsed": 55.0, "execution_node": "awx-1",
              "launched_by": {"id": 1, "name": "admin", "type": "user"},
              "summary_fields": {"organization": {"id": 1, "name": "Ops"},
                "unified_job_template": {"id": 3, "name": "Deploy", "unified_job_type": "job"},
                "inventory": {"id": 2, "name": "Prod"}, "instance_group": {"id": 1, "name": "default"}}}]}));
    }
    out
}

/// One mutation of a JSON document: replace, delete or insert at a random node.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    Delete(usize),
    Insert(usize, String, Value),
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `n`th node of `v` in pre-order (n < count_nodes(v)).
fn nth_node(v: &mut Value, n: usize) -> Option<&mut Value> {
    if n == 0 {
        return Some(v);
    }
    let mut n = n - 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(o) => o.values_mut().collect(),
        _ => return None,
    };
    for c in children {
        let size = count_nodes(c);
        if n < size {
            return nth_node(c, n);
        }
        n -= size;
    }
    None
}

fn mutate(v: &mut Value, m: &Mutation) {
    let i = match m {
        Mutation::Replace(i, _) | Mutation::Delete(i) | Mutation::Insert(i, _, _) => *i,
    };
    let total = count_nodes(v);
    let Some(node) = nth_node(v, i % total) else {
        return;
    };
    match m {
        Mutation::Replace(_, new) => *node = new.clone(),
        Mutation::Delete(i) => match node {
            Value::Object(o) if !o.is_empty() => {
                let k = o.keys().nth(i % o.len()).cloned().unwrap();
                o.remove(&k);
            }
            Value::Array(a) if !a.is_empty() => {
                a.remove(i % a.len());
            }
            other => *other = Value::Null,
        },
        Mutation::Insert(_, k, new) => {
            if let Value::Object(o) = node {
                o.insert(k.clone(), new.clone());
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (
            any::<usize>(),
            prop_oneof![json_value(), plausible_job_value()]
        )
            .prop_map(|(i, v)| Mutation::Replace(i, v)),
        any::<usize>().prop_map(Mutation::Delete),
        (
            any::<usize>(),
            prop::sample::select(JOB_KEYS).prop_map(str::to_string),
            json_value()
        )
            .prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
    ]
}

#[test]
fn mutated_real_awx_pages_never_panic() {
    let samples = samples();
    run(
        "AWX pages: real samples, mutated",
        (
            0..samples.len(),
            prop::collection::vec(mutation(), 1..8),
            prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            prop::option::of(any::<usize>()),
            any::<i64>(),
        ),
        |(which, mutations, byte_flips, cut, from)| {
            let mut v = samples[which].clone();
            for m in &mutations {
                mutate(&mut v, m);
            }
            digest_page(&serde_json::to_vec(&v).unwrap(), from)?;
            // Byte-level damage too: flipped bytes and a truncated body.
            let mut bytes = serde_json::to_vec(&samples[which]).unwrap();
            for (i, b) in &byte_flips {
                let n = bytes.len();
                bytes[i % n] = *b;
            }
            if let Some(c) = cut {
                bytes.truncate(c % (bytes.len() + 1));
            }
            digest_page(&bytes, from)
        },
    );
}

// ---------------------------------------------------------------------------------------
// Prometheus answers
// ---------------------------------------------------------------------------------------

fn plausible_prom_body() -> impl Strategy<Value = Value> {
    let sample = (
        prop_oneof![any::<f64>().prop_map(|f| json!(f)), json_leaf()],
        prop_oneof![
            prop::sample::select(vec!["1", "NaN", "+Inf", "-Inf", "x", "1e999"])
                .prop_map(|s| json!(s)),
            json_leaf()
        ],
    )
        .prop_map(|(t, v)| json!([t, v]));
    let series = (
        prop_oneof![
            prop::collection::btree_map("[a-z_]{1,8}", any::<String>(), 0..3)
                .prop_map(|m| json!(m)),
            json_value()
        ],
        prop::collection::vec(sample.clone(), 0..4),
        prop::option::of(sample.clone()),
    )
        .prop_map(|(metric, values, value)| {
            let mut o = json!({"metric": metric, "values": values});
            if let Some(v) = value {
                o["value"] = v;
            }
            o
        });
    (
        prop::sample::select(vec!["success", "error", ""]),
        prop::sample::select(vec!["matrix", "vector", "scalar", "string", "other"]),
        prop_oneof![
            prop::collection::vec(series, 0..3).prop_map(Value::Array),
            sample,
            json_value()
        ],
        prop::collection::vec(any::<String>(), 0..2),
    )
        .prop_map(|(status, kind, result, warnings)| {
            json!({"status": status, "data": {"resultType": kind, "result": result},
                   "warnings": warnings, "errorType": "bad_data", "error": "x"})
        })
}

#[test]
fn prometheus_answers_never_panic() {
    run(
        "Prometheus parse_response(arbitrary answers)",
        (
            prop::sample::select(vec![200u16, 400, 401, 403, 422, 500, 503]),
            prop_oneof![
                plausible_prom_body().prop_map(|v| serde_json::to_vec(&v).unwrap()),
                json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
                prop::collection::vec(any::<u8>(), 0..256),
            ],
        ),
        |(status, body)| {
            match parse_response(status, &body) {
                Ok(r) => {
                    for s in &r.series {
                        let _ = s.samples.len();
                    }
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------

fn values(len: usize) -> impl Strategy<Value = Values> {
    prop_oneof![
        prop::collection::vec(prop::option::of(any::<i64>()), len).prop_map(Values::Time),
        prop::collection::vec(prop::option::of(any::<f64>()), len).prop_map(Values::F64),
        prop::collection::vec(prop::option::of(any::<i64>()), len).prop_map(Values::I64),
        prop::collection::vec(prop::option::of(any::<bool>()), len).prop_map(Values::Bool),
        prop::collection::vec(prop::option::of(any::<String>()), len).prop_map(Values::Str),
    ]
}

fn field(len: usize) -> impl Strategy<Value = Field> {
    (
        any::<String>(),
        values(len),
        prop::collection::btree_map(any::<String>(), any::<String>(), 0..3),
        prop::option::of((
            prop::option::of(any::<String>()),
            prop::option::of(any::<f64>()),
        )),
    )
        .prop_map(|(name, values, labels, config)| {
            let mut f = Field::new(name, values).with_labels(labels);
            if let Some((unit, min)) = config {
                f = f.with_config(FieldConfig {
                    unit,
                    min,
                    ..Default::default()
                });
            }
            f
        })
}

/// Frames whose fields have lengths from a small set, so that both equal (valid) and
/// ragged frames occur often.
fn arbitrary_frame() -> impl Strategy<Value = Frame> {
    (
        any::<String>(),
        prop::collection::vec(prop::sample::select(vec![0usize, 1, 3, 3, 3, 17]), 0..6),
        any::<bool>(),
        prop::collection::vec(any::<String>(), 0..2),
    )
        .prop_flat_map(|(name, lens, timeseries, notices)| {
            let fields: Vec<_> = lens.into_iter().map(field).collect();
            (Just(name), fields, Just(timeseries), Just(notices))
        })
        .prop_map(|(name, fields, timeseries, notices)| {
            let mut frame = Frame::new(name).with_fields(fields);
            if timeseries {
                frame = frame.with_type(FrameType::TimeSeriesWide);
            }
            for n in notices {
                frame = frame.with_notice(awx_datasource::frame::Severity::Warning, n);
            }
            frame.with_executed_query("GET /api/v2/unified_jobs/")
        })
}

#[test]
fn frame_encoding_errors_on_ragged_fields_and_round_trips_the_rest() {
    run(
        "frame::encode(arbitrary frames)",
        (arbitrary_frame(), any::<String>()),
        |(frame, ref_id)| {
            let rows = frame.rows();
            let ragged = frame.fields.iter().any(|f| f.values.len() != rows);
            match frame::encode(&frame, &ref_id) {
                Err(EncodeError::RaggedFields { .. }) => prop_assert!(ragged),
                Err(e) => prop_assert!(false, "unexpected error {e}"),
                Ok(bytes) => {
                    prop_assert!(!ragged);
                    let reader = arrow_ipc::reader::FileReader::try_new(Cursor::new(bytes), None)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let schema = reader.schema();
                    prop_assert_eq!(&schema.metadata()["refId"], &ref_id);
                    prop_assert_eq!(&schema.metadata()["name"], &frame.name);
                    prop_assert_eq!(schema.fields().len(), frame.fields.len());
                    for (a, f) in schema.fields().iter().zip(&frame.fields) {
                        prop_assert_eq!(a.name(), &f.name);
                        if !f.labels.is_empty() {
                            let labels: BTreeMap<String, String> =
                                serde_json::from_str(&a.metadata()["labels"]).unwrap();
                            prop_assert_eq!(&labels, &f.labels);
                        }
                    }
                    let mut n = 0;
                    for batch in reader {
                        let batch = batch.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        n += batch.num_rows();
                    }
                    if !frame.fields.is_empty() {
                        prop_assert_eq!(n, rows);
                    }
                }
            }
            Ok(())
        },
    );
}
