//! How long AWX takes to answer: a cost model calibrated on a real AWX 24.6.1 (AWX's own API code,
//! production settings, PostgreSQL 15, one Django process on 2 busy cores, 3,009 unified jobs;
//! `tests/real-awx-24.6.1/timing.txt`). A request costs a fixed part plus a part per row returned
//! that depends on the endpoint; at most `--workers` requests are served at once, the others
//! queue (`server.rs`). `--cost-scale` shrinks every cost so tests run the model fast.
//!
//! Calibration (server time, medians):
//! - `unified_jobs/?page_size=1` (a count): 0.073 s; `unified_jobs/?page_size=200`: 2.59 s. Solving
//!   fixed + 1 row = 0.073 and fixed + 200 rows = 2.59 gives the fixed part (60.35 ms) and
//!   unified_jobs' 12.65 ms per row.
//! - `jobs/?page_size=200`: 1.169 s, so 5.54 ms per row (the type endpoint joins fewer tables).
//! - `workflow_jobs/?page_size=150`: 1.893 s, so 12.22 ms per row.
//! - `metrics/`: 0.257 s, `metrics/?dbonly=1`: 0.138 s, `ping/`: 0.038 s; refusals (400, 401, 403)
//!   0.02-0.05 s: 0.03 s.
//!
//! Not measured, so assumed: the other typed job lists, job host summaries and the small object
//! lists cost like `jobs/`; a detail view is one row of its list. Known misses: the model gives a
//! 50-row unified page 0.69 s where AWX took 0.82 s, and ignores the offset of deep pages and the
//! cost of filters (both within about 30 % in the measurements).

use crate::model::JobType;
use axum::http::StatusCode;
use clap::ValueEnum;

/// The cost model chosen on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum CostModel {
    /// no modelled cost (only `--latency-ms`)
    #[default]
    None,
    /// calibrated on a real AWX 24.6.1
    #[value(name = "real-awx-24.6.1")]
    RealAwx2461,
}

/// The fixed part of a request that reads the job table (seconds): from the two unified_jobs
/// measurements, fixed + 1 row = 0.073 and fixed + 200 rows = 2.59.
pub const FIXED: f64 = (0.073 * 200.0 - 2.59) / 199.0;
/// Per row returned, `unified_jobs/`.
pub const PER_ROW_UNIFIED: f64 = (2.59 - FIXED) / 200.0;
/// Per row returned, `jobs/` (and, assumed, the other lists).
pub const PER_ROW_JOBS: f64 = (1.169 - FIXED) / 200.0;
/// Per row returned, `workflow_jobs/`.
pub const PER_ROW_WORKFLOW_JOBS: f64 = (1.893 - FIXED) / 150.0;
pub const METRICS: f64 = 0.257;
pub const METRICS_DB_ONLY: f64 = 0.138;
pub const PING: f64 = 0.038;
pub const REFUSAL: f64 = 0.03;
/// A 301 to the slashed path: Django's middleware answers before any view.
pub const REDIRECT: f64 = 0.005;

/// What kind of request, as far as its cost goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    UnifiedJobs,
    WorkflowJobs,
    /// `jobs/` and every other list or detail
    Other,
    Metrics {
        db_only: bool,
    },
    Ping,
}

impl Endpoint {
    /// Classifies an API path (`/api/v2/unified_jobs/`, `/api/controller/v2/ping/`, ...).
    pub fn of(path: &str, params: &[(String, String)]) -> Endpoint {
        let rest = path.split_once("/v2/").map(|(_, r)| r).unwrap_or_default();
        let first = rest.split('/').next().unwrap_or_default();
        match first {
            "unified_jobs" => Endpoint::UnifiedJobs,
            "ping" => Endpoint::Ping,
            "metrics" => Endpoint::Metrics {
                db_only: crate::metrics::flag(params, "dbonly"),
            },
            c if JobType::from_collection(c) == Some(JobType::WorkflowJob) => {
                Endpoint::WorkflowJobs
            }
            _ => Endpoint::Other,
        }
    }
}

impl CostModel {
    /// AWX's server time for one request, in seconds, before scaling. `rows` is the number of
    /// records in the answer (None for an answer that is not a list: one record).
    pub fn seconds(self, ep: Endpoint, status: StatusCode, rows: Option<usize>) -> f64 {
        if self == CostModel::None {
            return 0.0;
        }
        if status.is_redirection() {
            return REDIRECT;
        }
        if status.is_client_error() && status != StatusCode::NOT_FOUND {
            return REFUSAL;
        }
        match ep {
            Endpoint::Ping => PING,
            Endpoint::Metrics { db_only: true } => METRICS_DB_ONLY,
            Endpoint::Metrics { db_only: false } => METRICS,
            _ => {
                let per_row = match ep {
                    Endpoint::UnifiedJobs => PER_ROW_UNIFIED,
                    Endpoint::WorkflowJobs => PER_ROW_WORKFLOW_JOBS,
                    _ => PER_ROW_JOBS,
                };
                FIXED + per_row * rows.unwrap_or(1) as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_measurements() {
        let m = CostModel::RealAwx2461;
        let ok = StatusCode::OK;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(m.seconds(Endpoint::UnifiedJobs, ok, Some(200)), 2.59));
        assert!(close(m.seconds(Endpoint::UnifiedJobs, ok, Some(1)), 0.073));
        assert!(close(m.seconds(Endpoint::Other, ok, Some(200)), 1.169));
        assert!(close(
            m.seconds(Endpoint::WorkflowJobs, ok, Some(150)),
            1.893
        ));
        assert!(close(
            m.seconds(
                Endpoint::of("/api/v2/metrics/", &[("dbonly".into(), "1".into())]),
                ok,
                None
            ),
            0.138
        ));
        assert_eq!(
            Endpoint::of("/api/controller/v2/workflow_jobs/", &[]),
            Endpoint::WorkflowJobs
        );
        assert_eq!(
            Endpoint::of("/api/v2/unified_jobs/", &[]),
            Endpoint::UnifiedJobs
        );
        assert_eq!(
            CostModel::None.seconds(Endpoint::UnifiedJobs, ok, Some(200)),
            0.0
        );
        assert!(close(
            m.seconds(Endpoint::UnifiedJobs, StatusCode::BAD_REQUEST, None),
            REFUSAL
        ));
    }
}
