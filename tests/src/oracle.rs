//! The ground truth and the expected KPI values computed from it, written from the
//! contract (docs/QUERIES.md) without any of the plugin's code.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A job as the simulator's `/_sim/truth/jobs` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthJob {
    pub id: i64,
    #[serde(rename = "type")]
    pub job_type: String,
    pub name: String,
    pub status: String,
    pub launch_type: String,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
    pub elapsed: Option<f64>,
    pub failed: Option<bool>,
    pub template_id: Option<i64>,
    pub template_name: Option<String>,
    pub template_type: Option<String>,
    pub organization: Option<String>,
    pub inventory: Option<String>,
    pub project: Option<String>,
    pub execution_node: Option<String>,
    pub instance_group: Option<String>,
    pub launched_by: Option<String>,
}
