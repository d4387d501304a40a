//! awx-kpi: the AWX data source's KPIs on the command line. Queries go through the
//! plugin's own code path — `Query::parse` then `kpi::run` on an `Instance` built from the
//! same settings validation — minus Grafana's gRPC and Arrow encoding.

pub mod connect;
pub mod demo;
pub mod export;
pub mod render;
pub mod request;
pub mod timespec;

use std::io::Write;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use awx_datasource::frame::Frame;
use awx_datasource::health::{self, CheckStatus};
use awx_datasource::instances::Instance;
use awx_datasource::kpi::{self, KpiError};
use awx_datasource::query::{Query, QueryEnvelope, TimeRange};

use connect::ConnArgs;
use request::{Format, QueryArgs, Request};

#[derive(Parser)]
#[command(
    name = "awx-kpi",
    version,
    about = "AWX KPIs on the command line, through the same engine as the Grafana data source",
    after_help = "Connection settings come from flags or AWX_URL, AWX_TOKEN (or AWX_USERNAME/AWX_PASSWORD), PROMETHEUS_URL.\nTry it without an AWX: awx-kpi demo"
)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run one query and print its frames.
    Query(Box<QueryArgs>),
    /// Run the data source health check (Grafana's "Save & test").
    Check {
        /// table or json.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Start an embedded simulated AWX and print every KPI that needs no Prometheus.
    Demo(demo::DemoArgs),
    /// Serve the metrics AWX lacks on /metrics for Prometheus: jobs finished (counters),
    /// run times and queue waits (histograms), the queue and consumed capacity (docs/EXPORTER.md).
    Export(export::ExportArgs),
}

/// Why a query gave no frames.
#[derive(Debug)]
pub enum QueryFailure {
    /// The flags did not make a query (bad time, filter, JSON).
    Args(String),
    /// The plugin's own error for this query, as the panel would show it.
    Kpi(KpiError),
}

impl std::fmt::Display for QueryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryFailure::Args(m) => f.write_str(m),
            QueryFailure::Kpi(e) => write!(f, "{e}"),
        }
    }
}

/// Runs a request as the plugin's QueryData does for one DataQuery.
pub async fn run_request(inst: &Instance, req: &Request) -> Result<Vec<Frame>, KpiError> {
    let json = serde_json::to_vec(&req.json).expect("a JSON value serializes");
    let env = QueryEnvelope {
        ref_id: &req.ref_id,
        query_type: &req.query_type,
        json: &json,
        range: TimeRange {
            from: req.from,
            to: req.to,
        },
        interval_ms: req.interval_ms,
        max_data_points: req.max_data_points,
        from_alert: false,
    };
    let q = Query::parse(&env, inst.settings.default_source)?;
    kpi::run(inst, &q).await
}

/// Builds the request from the flags (relative times against `now`) and runs it.
pub async fn run_query(
    inst: &Instance,
    args: &QueryArgs,
    now: DateTime<Utc>,
) -> Result<(Request, Vec<Frame>), QueryFailure> {
    let req = args.to_request(now).map_err(QueryFailure::Args)?;
    let frames = run_request(inst, &req).await.map_err(QueryFailure::Kpi)?;
    Ok((req, frames))
}

/// Writes frames in the chosen format. `fallback` names frames that have no name.
pub fn write_frames(
    out: &mut dyn Write,
    frames: &[Frame],
    format: Format,
    fallback: &str,
) -> std::io::Result<()> {
    match format {
        Format::Table => {
            for (i, f) in frames.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                write!(out, "{}{}", render::title(f, fallback), render::table(f))?;
            }
            if frames.is_empty() {
                writeln!(out, "{fallback}\n(no frames)")?;
            }
        }
        Format::Csv => {
            for (i, f) in frames.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                write!(out, "{}", render::csv(f))?;
            }
        }
        Format::Json => {
            let v: Vec<_> = frames.iter().map(render::frame_json).collect();
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&v).expect("frames serialize")
            )?;
        }
    }
    Ok(())
}

/// `awx-kpi query`: returns the process exit code.
pub async fn query_command(conn: &ConnArgs, args: &QueryArgs, out: &mut dyn Write) -> i32 {
    let inst = match conn.instance() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let now = Utc::now();
    if args.show_query {
        match args.to_request(now) {
            Ok(req) => {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&req.json).expect("JSON serializes")
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    match run_query(&inst, args, now).await {
        Ok((req, frames)) => {
            if args.format == Format::Csv {
                for n in frames.iter().flat_map(|f| &f.meta.notices) {
                    eprintln!("notice: {}", n.text);
                }
            }
            let fallback = if req.query_type.is_empty() {
                "frame"
            } else {
                &req.query_type
            };
            if let Err(e) = write_frames(out, &frames, args.format, fallback) {
                eprintln!("error: {e}");
                return 1;
            }
            0
        }
        Err(QueryFailure::Args(e)) => {
            eprintln!("error: {e}");
            2
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// `awx-kpi check`: one line per check; exit code 0 only when every configured check passed.
pub async fn check_command(conn: &ConnArgs, format: Format, out: &mut dyn Write) -> i32 {
    let inst = match conn.instance() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let report = health::check(&inst).await;
    let written = match format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "ok": report.ok(),
                "checks": report.checks,
            }))
            .expect("the report serializes")
        ),
        _ => write!(out, "{}", format_report(&report)),
    };
    if let Err(e) = written {
        eprintln!("error: {e}");
        return 1;
    }
    if report.ok() {
        0
    } else {
        1
    }
}

/// The health report as aligned lines, then the verdict.
pub fn format_report(report: &health::HealthReport) -> String {
    let name_w = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    for c in &report.checks {
        let mark = match c.status {
            CheckStatus::Ok => "OK",
            CheckStatus::Error => "ERROR",
            CheckStatus::Skipped => "SKIPPED",
        };
        s.push_str(&format!(
            "{mark:<8} {:<name_w$}  {}\n",
            c.name,
            render::one_line(&c.message)
        ));
    }
    s.push_str(if report.ok() {
        "Data source is working\n"
    } else {
        "Data source is NOT working: fix the checks marked ERROR\n"
    });
    s
}
