//! `awx-kpi export`'s counting against a real job cache syncing with the simulator: every
//! job that starts or reaches a final status during the exporter's life is counted once,
//! through the store's change log and through the comparisons by id that a refill (a job
//! deleted in the middle of history), a rename or a purge forces, including a save that
//! commits late. The oracle is the simulator's ground truth (/_sim/truth/jobs), read
//! after every step.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use awx_datasource::instances::Instance;
use awx_kpi::connect::ConnArgs;
use awx_kpi::export::tally::{Event, Tally};

const NOW: &str = "2024-10-01T00:00:00Z";

#[derive(Debug, Deserialize, Clone)]
struct Truth {
    id: i64,
    status: String,
    started: Option<String>,
    launch_type: String,
    created: chrono::DateTime<chrono::Utc>,
}

fn is_final(status: &str) -> bool {
    matches!(status, "successful" | "failed" | "error" | "canceled")
}

struct Sim {
    sim: awx_sim::RunningSim,
    http: reqwest::Client,
}

impl Sim {
    async fn start() -> Self {
        let sim = awx_sim::start(awx_sim::Config {
            days: 1,
            jobs_per_day: 6000.0,
            seed: 17,
            ..awx_sim::Config::for_tests(NOW)
        })
        .await
        .expect("the simulator starts");
        Sim {
            sim,
            http: reqwest::Client::new(),
        }
    }

    fn conn(&self) -> ConnArgs {
        ConnArgs {
            url: Some(self.sim.url()),
            token: Some("sim-admin-token".into()),
            job_cache_mb: 64,
            ..Default::default()
        }
    }

    async fn truth(&self) -> Vec<Truth> {
        self.http
            .get(format!("{}/_sim/truth/jobs", self.sim.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let r = self
            .http
            .post(format!("{}{path}", self.sim.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn advance(&self, seconds: u32) {
        self.post(&format!("/_sim/advance?seconds={seconds}"), json!({}))
            .await;
    }
}

/// The store synced as the exporter syncs it: from its coverage, fresh each time.
async fn sync(inst: &Instance, from: i64) {
    // Past the store's 2 s freshness window, so that every call is a real refresh.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let store = inst.jobs.as_ref().unwrap();
    let from = store.read().coverage_from().unwrap_or(from);
    assert!(store.ensure(&inst.awx, from).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_start_and_end_is_counted_once_whatever_the_store_does() {
    // Open jobs are re-read by id and names re-listed at every refresh older than 1 s:
    // how a save that committed later than the modified overlap is caught.
    std::env::set_var("GF_PLUGIN_RECONCILE_SECONDS", "1");
    let sim = Sim::start().await;
    let inst = sim.conn().instance().unwrap();
    let base = sim.truth().await;
    // Where the exporter starts its coverage: the newest job's creation.
    let from = base
        .iter()
        .map(|t| t.created.timestamp_micros())
        .max()
        .unwrap();
    sync(&inst, from).await;
    let mut tally = Tally::baseline(&inst.jobs.as_ref().unwrap().read());

    // Every job as last seen by the oracle (purged ones stay: counters never fall).
    let mut seen: BTreeMap<i64, Truth> = base.iter().map(|t| (t.id, t.clone())).collect();
    let mut events: Vec<Event> = Vec::new();

    async fn observe(sim: &Sim, seen: &mut BTreeMap<i64, Truth>) {
        for t in sim.truth().await {
            seen.insert(t.id, t);
        }
    }

    for _ in 0..3 {
        sim.advance(300).await;
        observe(&sim, &mut seen).await;
        sync(&inst, from).await;
        events.extend(tally.update(&inst.jobs.as_ref().unwrap().read()));
    }
    // A save that commits 90 s late (past the 60 s overlap of the modified poll).
    let late = sim
        .post(
            "/_sim/late_commit",
            json!({"lag_seconds": 90, "status": "failed"}),
        )
        .await;
    observe(&sim, &mut seen).await;
    sync(&inst, from).await;
    events.extend(tally.update(&inst.jobs.as_ref().unwrap().read()));
    let late_id = late["id"].as_i64().unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Finished(j) if j.id == late_id)),
        "the late commit of job {late_id} is counted"
    );
    // A rename (a new epoch: compared by id), then more work.
    sim.post(
        "/_sim/rename",
        json!({"kind": "template", "name": "Deploy Web App", "new_name": "Deploy Web App v2"}),
    )
    .await;
    sim.advance(300).await;
    observe(&sim, &mut seen).await;
    sync(&inst, from).await;
    events.extend(tally.update(&inst.jobs.as_ref().unwrap().read()));
    // A job that finished during the exporter's life deleted in the middle of history:
    // the store refills, and nothing counted before counts again.
    let counted = events
        .iter()
        .find_map(|e| match e {
            Event::Finished(j) if !j.is_sync() => Some(j.id),
            _ => None,
        })
        .expect("jobs finished");
    let r = sim
        .http
        .delete(format!("{}/_sim/jobs/{counted}", sim.sim.url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    sim.advance(200).await;
    observe(&sim, &mut seen).await;
    sync(&inst, from).await;
    events.extend(tally.update(&inst.jobs.as_ref().unwrap().read()));
    // AWX's cleanup_jobs purges every finished job: counters never fall, nothing recounts.
    sim.post("/_sim/purge", json!({"older_than_days": 0})).await;
    sync(&inst, from).await;
    events.extend(tally.update(&inst.jobs.as_ref().unwrap().read()));
    sim.advance(300).await;
    observe(&sim, &mut seen).await;
    sync(&inst, from).await;
    events.extend(tally.update(&inst.jobs.as_ref().unwrap().read()));

    // The oracle: from the truths alone.
    let before: HashMap<i64, &Truth> = base.iter().map(|t| (t.id, t)).collect();
    let want_finished: BTreeSet<i64> = seen
        .values()
        .filter(|t| is_final(&t.status))
        .filter(|t| before.get(&t.id).is_none_or(|b| !is_final(&b.status)))
        .map(|t| t.id)
        .collect();
    let want_started: BTreeSet<i64> = seen
        .values()
        .filter(|t| t.started.is_some())
        .filter(|t| before.get(&t.id).is_none_or(|b| b.started.is_none()))
        .map(|t| t.id)
        .collect();
    let finished: Vec<i64> = events
        .iter()
        .filter(|e| matches!(e, Event::Finished(_)))
        .map(|e| e.job().id)
        .collect();
    let started: Vec<i64> = events
        .iter()
        .filter(|e| matches!(e, Event::Started(_)))
        .map(|e| e.job().id)
        .collect();
    let finished_set: BTreeSet<i64> = finished.iter().copied().collect();
    let started_set: BTreeSet<i64> = started.iter().copied().collect();
    assert_eq!(finished.len(), finished_set.len(), "a job counted twice");
    assert_eq!(started.len(), started_set.len(), "a start counted twice");
    assert!(
        want_finished.len() > 50 && want_started.len() > 50,
        "the oracle found too little to judge: {} finished, {} started",
        want_finished.len(),
        want_started.len()
    );
    assert_eq!(finished_set, want_finished);
    assert_eq!(started_set, want_started);
    assert!(seen
        .values()
        .any(|t| t.launch_type == "sync" && want_finished.contains(&t.id)));
}
