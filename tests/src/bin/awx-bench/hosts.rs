//! What the host outcomes cost AWX: the overview's Hosts row (`host_outcomes`, `host_failures`,
//! `host_failures` by host) and the Jobs table's host counts, all at once as Grafana runs them,
//! on a cold plugin and then on warm refreshes (30 s of new jobs each), against the simulator
//! with `--workers 4 --latency-ms 30` over 30 days; then `hostSummaries: all` over a day,
//! cold and warm. AWX's requests are counted by the simulator, by kind: job host summary
//! lists, `hosts/` (the hosts' current state) and job records (`unified_jobs/`, `jobs/`, ...).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use e2e::{ms, Sim};
use serde_json::{json, Value};

use super::{
    api_requests_by_path, bench_ds, resolve_variables, run_dashboard, secs, spawn_plugin,
    start_sim, Panel, DAY_MS, RANGE_MS, SIM_NOW,
};

/// The lists job records are read from (the job cache reads the typed ones too).
const JOB_LISTS: &[&str] = &[
    "/unified_jobs/",
    "/jobs/",
    "/workflow_jobs/",
    "/project_updates/",
    "/inventory_updates/",
    "/system_jobs/",
    "/ad_hoc_commands/",
];

/// AWX requests of one dashboard run, by kind.
#[derive(Debug, Default, Clone)]
pub struct Requests {
    pub summaries: u64,
    pub hosts: u64,
    pub records: u64,
    pub other: u64,
    pub wall_s: f64,
    /// The busiest other path, to say what "other" is.
    pub top_other: Option<(String, u64)>,
}

impl Requests {
    fn of(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, wall_s: f64) -> Self {
        let mut r = Requests {
            wall_s,
            ..Default::default()
        };
        for (path, n) in after {
            let n = n.saturating_sub(before.get(path).copied().unwrap_or(0));
            if path.contains("/job_host_summaries/") {
                r.summaries += n;
            } else if path.ends_with("/hosts/") {
                r.hosts += n;
            } else if JOB_LISTS.iter().any(|l| path.ends_with(l)) {
                r.records += n;
            } else if n > 0 {
                r.other += n;
                if r.top_other.as_ref().is_none_or(|(_, m)| n > *m) {
                    r.top_other = Some((path.clone(), n));
                }
            }
        }
        r
    }

    pub fn total(&self) -> u64 {
        self.summaries + self.hosts + self.records + self.other
    }
}

pub struct HostCost {
    pub jobs_per_day: u32,
    /// Failed and errored playbook runs in the 30 days: one list each when cold.
    pub failed_runs: u64,
    pub cold: Requests,
    pub warm: Vec<Requests>,
    /// Playbook runs in the last day, and `hostSummaries: all` over it.
    pub runs_day: u64,
    pub all_cold: Requests,
    pub all_warm: Requests,
}

/// The overview's host panels and the Jobs table (with its host counts), as stored.
fn host_panels() -> Result<Vec<Panel>> {
    let path = e2e::procs::workspace_dir().join("dashboards/awx-overview.json");
    let d: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        for t in p["targets"].as_array().into_iter().flatten() {
            let qt = t["queryType"].as_str().unwrap_or_default();
            let hosts = qt.starts_with("host_")
                || (qt == "jobs" && t["hostSummaries"].as_str().is_some_and(|h| h != "none"));
            if hosts {
                let mut q = t.clone();
                resolve_variables(&mut q);
                out.push(Panel {
                    title: p["title"].as_str().unwrap_or_default().to_string(),
                    query: q,
                });
            }
        }
    }
    anyhow::ensure!(
        out.iter().any(|p| p.query["queryType"] == "host_outcomes"),
        "no host panels in {}",
        path.display()
    );
    Ok(out)
}

async fn counted(
    sim: &Sim,
    run: impl std::future::Future<Output = Result<Duration>>,
) -> Result<Requests> {
    let before = api_requests_by_path(sim).await?;
    let wall = run.await?;
    let after = api_requests_by_path(sim).await?;
    Ok(Requests::of(&before, &after, secs(wall)))
}

pub async fn host_cost(jobs_per_day: u32, warm_runs: usize) -> Result<HostCost> {
    let panels = host_panels()?;
    let sim = start_sim(jobs_per_day, true).await?;
    let truth: Vec<e2e::oracle::TruthJob> = sim.truth_jobs().await?;
    let mut now = ms(SIM_NOW);
    let in_range = |j: &e2e::oracle::TruthJob, from: i64, to: i64| {
        j.job_type == "job"
            && j.finished
                .is_some_and(|f| f.timestamp_millis() >= from && f.timestamp_millis() < to)
    };
    let failed_runs = truth
        .iter()
        .filter(|j| {
            in_range(j, now - RANGE_MS, now) && (j.status == "failed" || j.status == "error")
        })
        .count() as u64;
    let runs_day = truth
        .iter()
        .filter(|j| in_range(j, now - DAY_MS, now) && j.started.is_some())
        .count() as u64;

    let b = spawn_plugin().await?;
    let ds = bench_ds(&sim);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cold = counted(
        &sim,
        run_dashboard(&b.plugin, &ds, &panels, now - RANGE_MS, now),
    )
    .await?;
    let mut warm = Vec::new();
    for _ in 0..warm_runs {
        sim.post("/_sim/advance?seconds=30", json!({})).await?;
        now += 30_000;
        // Past the job cache's freshness window: each refresh syncs, as Grafana's would.
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        warm.push(
            counted(
                &sim,
                run_dashboard(&b.plugin, &ds, &panels, now - RANGE_MS, now),
            )
            .await?,
        );
    }

    // Every host of every playbook run, over the last day: the worst-hosts table with
    // hostSummaries all, cold (the failed-only lists held do not serve it), then warm.
    let mut all = panels
        .iter()
        .find(|p| p.query["queryType"] == "host_outcomes")
        .context("the worst-hosts table")?
        .clone();
    all.query["hostSummaries"] = json!("all");
    let all = [all];
    let all_cold = counted(&sim, run_dashboard(&b.plugin, &ds, &all, now - DAY_MS, now)).await?;
    sim.post("/_sim/advance?seconds=30", json!({})).await?;
    now += 30_000;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let all_warm = counted(&sim, run_dashboard(&b.plugin, &ds, &all, now - DAY_MS, now)).await?;
    Ok(HostCost {
        jobs_per_day,
        failed_runs,
        cold,
        warm,
        runs_day,
        all_cold,
        all_warm,
    })
}

impl HostCost {
    pub fn print(&self) {
        let line = |name: &str, r: &Requests| {
            println!(
                "{name:<44} {:>6} requests: {:>5} host lists, {:>3} hosts/, {:>4} job records, {:>3} other; {:.2} s",
                r.total(),
                r.summaries,
                r.hosts,
                r.records,
                r.other,
                r.wall_s
            );
            if let Some((path, n)) = &r.top_other {
                println!("{:<44} (other: {n} of them {path})", "");
            }
        };
        println!(
            "\n== host outcomes ({} jobs a day over 30 days; Hosts row + Jobs table host counts)",
            self.jobs_per_day
        );
        println!(
            "failed or errored playbook runs in the range: {} (one host list each, cold)",
            self.failed_runs
        );
        line("cold dashboard (fresh plugin)", &self.cold);
        for (i, w) in self.warm.iter().enumerate() {
            line(&format!("warm refresh {} (30 s later)", i + 1), w);
        }
        println!(
            "playbook runs in the last day: {} (hostSummaries all reads every one)",
            self.runs_day
        );
        line("hostSummaries all over a day, cold", &self.all_cold);
        line("hostSummaries all over a day, warm", &self.all_warm);
    }

    /// Keys for the BENCH line.
    pub fn bench_keys(&self) -> Vec<(String, String)> {
        let max_warm = self.warm.iter().map(Requests::total).max().unwrap_or(0);
        let max_warm_lists = self.warm.iter().map(|r| r.summaries).max().unwrap_or(0);
        vec![
            ("hosts_failed_runs".into(), self.failed_runs.to_string()),
            ("hosts_cold_requests".into(), self.cold.total().to_string()),
            ("hosts_cold_lists".into(), self.cold.summaries.to_string()),
            ("hosts_warm_requests_max".into(), max_warm.to_string()),
            ("hosts_warm_lists_max".into(), max_warm_lists.to_string()),
            ("hosts_all_day_runs".into(), self.runs_day.to_string()),
            (
                "hosts_all_cold_lists".into(),
                self.all_cold.summaries.to_string(),
            ),
            (
                "hosts_all_warm_lists".into(),
                self.all_warm.summaries.to_string(),
            ),
        ]
    }
}
