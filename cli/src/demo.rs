//! `awx-kpi demo`: an embedded simulated AWX (awx-sim) on a loopback port, and every KPI
//! that needs no Prometheus run against it as `awx-kpi query` would run it.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Parser};
use serde_json::json;

use awx_datasource::frame::Frame;

use crate::connect::ConnArgs;
use crate::request::{Format, QueryArgs};
use crate::{render, run_query, write_frames};

/// The simulator's built-in superuser token.
pub const SIM_TOKEN: &str = "sim-admin-token";

/// The demo's queries: every KPI that the AWX API answers, over the last 7 days, in
/// daily buckets. Each is exactly what `awx-kpi query` gets on its command line.
pub const DEMO_QUERIES: &[&[&str]] = &[
    &["job_status_counts"],
    &["job_throughput", "--interval", "1d"],
    &["failure_rate", "--interval", "1d"],
    &[
        "job_duration",
        "--group-by",
        "template",
        "--stats",
        "p95",
        "--interval",
        "1d",
    ],
    &["queue_wait", "--stats", "mean,p95,max", "--interval", "1d"],
    &["active_jobs", "--source", "api", "--interval", "1d"],
    &["capacity", "--source", "api"],
    &["instances"],
    &["templates"],
    &["jobs", "--limit", "10"],
    &["system"],
    &["annotations", "--limit", "5"],
    &["lookup", "--lookup", "template"],
];

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Only these query types (default: all of the demo's).
    #[arg(value_name = "QUERY_TYPE")]
    pub query_types: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Seed of the simulated workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days of simulated history.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// Simulated jobs per day.
    #[arg(long, default_value_t = 300.0)]
    pub jobs_per_day: f64,
    /// The simulated "now" (the clock stays frozen there).
    #[arg(long, default_value = "2024-10-01T00:00:00Z")]
    pub now: String,
}

impl Default for DemoArgs {
    fn default() -> Self {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            demo: DemoArgs,
        }
        Wrap::parse_from(["demo"]).demo
    }
}

/// One demo query and what it gave.
#[derive(Debug)]
pub struct DemoItem {
    pub query_type: String,
    /// The equivalent command line.
    pub command: String,
    pub result: Result<Vec<Frame>, String>,
}

#[derive(Parser)]
struct QueryOnly {
    #[command(flatten)]
    query: QueryArgs,
}

fn demo_query_args(argv: &[&str]) -> QueryArgs {
    QueryOnly::parse_from(std::iter::once("query").chain(argv.iter().copied())).query
}

/// Starts the simulator, runs the selected queries, prints them, stops the simulator.
pub async fn run_demo(args: &DemoArgs, out: &mut dyn Write) -> anyhow::Result<Vec<DemoItem>> {
    let valid: Vec<&str> = DEMO_QUERIES.iter().map(|q| q[0]).collect();
    for t in &args.query_types {
        if !valid.contains(&t.as_str()) {
            anyhow::bail!(
                "`{t}` is not one of the demo's query types: {}",
                valid.join(", ")
            );
        }
    }
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(&args.now)
        .with_context(|| format!("--now `{}` is not an RFC 3339 time", args.now))?
        .with_timezone(&Utc);

    let started = Instant::now();
    let sim = awx_sim::start(awx_sim::Config {
        seed: args.seed,
        days: args.days,
        jobs_per_day: args.jobs_per_day,
        ..awx_sim::Config::for_tests(&args.now)
    })
    .await
    .context("starting the embedded simulator")?;
    let conn = ConnArgs {
        url: Some(sim.url()),
        token: Some(SIM_TOKEN.into()),
        job_cache_mb: 256,
        ..Default::default()
    };
    let inst = conn.instance().map_err(|e| anyhow::anyhow!("{e}"))?;

    if args.format == Format::Table {
        writeln!(
            out,
            "awx-kpi demo: a simulated AWX (awx-sim, seed {}, {} days x {} jobs/day) at {}, clock frozen at {}.\n\
             Each KPI below is the output of the command above it, run against that AWX (times are UTC).\n",
            args.seed,
            args.days,
            args.jobs_per_day,
            sim.url(),
            crate::timespec::format_time(now),
        )?;
    }

    let mut items = Vec::new();
    let mut json_items = Vec::new();
    for argv in DEMO_QUERIES {
        let query_type = argv[0];
        if !args.query_types.is_empty() && !args.query_types.iter().any(|t| t == query_type) {
            continue;
        }
        let qargs = demo_query_args(argv);
        let command = format!("awx-kpi query {} --from now-7d --to now", argv.join(" "));
        let result = run_query(&inst, &qargs, now)
            .await
            .map(|(_, frames)| frames)
            .map_err(|e| e.to_string());
        match args.format {
            Format::Json => json_items.push(match &result {
                Ok(frames) => json!({
                    "command": command,
                    "frames": frames.iter().map(render::frame_json).collect::<Vec<_>>(),
                }),
                Err(e) => json!({"command": command, "error": e}),
            }),
            Format::Csv | Format::Table => {
                let lead = if args.format == Format::Csv { "#" } else { "$" };
                writeln!(out, "{lead} {command}")?;
                match &result {
                    Ok(frames) => write_frames(out, frames, args.format, query_type)?,
                    Err(e) => writeln!(out, "error: {e}")?,
                }
                writeln!(out)?;
            }
        }
        items.push(DemoItem {
            query_type: query_type.to_string(),
            command,
            result,
        });
    }
    if args.format == Format::Json {
        let doc = json!({
            "simulator": {"url": sim.url(), "seed": args.seed, "days": args.days,
                          "jobsPerDay": args.jobs_per_day, "now": args.now},
            "queries": json_items,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    }
    sim.shutdown().await;
    if args.format == Format::Table {
        let failed = items.iter().filter(|i| i.result.is_err()).count();
        writeln!(
            out,
            "{} queries, {} failed, in {:.1} s (simulator start included).",
            items.len(),
            failed,
            started.elapsed().as_secs_f64()
        )?;
    }
    Ok(items)
}
