//! The parts of AWX's JSON that the plugin reads. Unknown fields are ignored and
//! optional ones default, so a newer or older AWX does not break parsing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Deserialize)]
pub struct Ping {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub active_node: String,
    #[serde(default)]
    pub ha: bool,
    #[serde(default)]
    pub install_uuid: String,
    #[serde(default)]
    pub instances: Vec<PingInstance>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PingInstance {
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub node_type: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub is_superuser: bool,
    #[serde(default)]
    pub is_system_auditor: bool,
}

/// A `{id, name}` reference as found in `summary_fields`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NamedRef {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TemplateRef {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub unified_job_type: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobSummaryFields {
    #[serde(default)]
    pub organization: Option<NamedRef>,
    #[serde(default)]
    pub unified_job_template: Option<TemplateRef>,
    #[serde(default)]
    pub inventory: Option<NamedRef>,
    #[serde(default)]
    pub project: Option<NamedRef>,
    #[serde(default)]
    pub instance_group: Option<NamedRef>,
    #[serde(default)]
    pub source_workflow_job: Option<NamedRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LaunchedBy {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// One row of `unified_jobs/`.
#[derive(Debug, Clone, Deserialize)]
pub struct UnifiedJob {
    pub id: i64,
    #[serde(rename = "type", default)]
    pub job_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub launch_type: String,
    pub created: Option<DateTime<Utc>>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub elapsed: Option<f64>,
    #[serde(default)]
    pub execution_node: Option<String>,
    #[serde(default)]
    pub summary_fields: JobSummaryFields,
    #[serde(default, deserialize_with = "lenient_launched_by")]
    pub launched_by: LaunchedBy,
}

/// `elapsed` is a float in AWX's JSON, but a Decimal may arrive as a string.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// `launched_by` is `{}` when unknown; tolerate null and odd shapes too.
fn lenient_launched_by<'de, D: Deserializer<'de>>(d: D) -> Result<LaunchedBy, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// One row of `instances/`. AWX sends `cpu` as a decimal string.
#[derive(Debug, Clone, Deserialize)]
pub struct Instance {
    pub id: i64,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub node_type: String,
    #[serde(default)]
    pub node_state: String,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub capacity: i64,
    #[serde(default)]
    pub consumed_capacity: i64,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub percent_capacity_remaining: Option<f64>,
    #[serde(default)]
    pub jobs_running: i64,
    #[serde(default)]
    pub jobs_total: i64,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub memory: Option<f64>,
    #[serde(default)]
    pub version: String,
    pub last_health_check: Option<DateTime<Utc>>,
    #[serde(default)]
    pub errors: String,
}

/// Any object with an id and a name (organizations, templates, inventories, ...).
#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// A count from AWX's JSON as a u32: anything else (negative, fractional, a string) is 0,
/// so a malformed summary cannot overflow a sum.
fn lenient_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HostSummaryFields {
    #[serde(default)]
    pub host: Option<NamedRef>,
}

/// One row of `jobs/{id}/job_host_summaries/`: a host's task counts in one run. `host` is
/// null when the host was deleted since (AWX keeps `host_name`).
#[derive(Debug, Clone, Deserialize)]
pub struct JobHostSummary {
    #[serde(default)]
    pub host: Option<i64>,
    #[serde(default)]
    pub host_name: String,
    #[serde(default)]
    pub summary_fields: HostSummaryFields,
    #[serde(default, deserialize_with = "lenient_count")]
    pub ok: u32,
    #[serde(default, deserialize_with = "lenient_count")]
    pub changed: u32,
    #[serde(default, deserialize_with = "lenient_count")]
    pub failures: u32,
    /// Unreachable.
    #[serde(default, deserialize_with = "lenient_count")]
    pub dark: u32,
    #[serde(default, deserialize_with = "lenient_count")]
    pub skipped: u32,
}

/// One row of `hosts/`: the host's current state.
#[derive(Debug, Clone, Deserialize)]
pub struct Host {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub inventory: Option<i64>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub has_active_failures: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_unified_job_pages_parse() {
        for f in [
            "real_unified_jobs_list_jobs_array1.json",
            "real_unified_jobs_list_jobs_array2.json",
        ] {
            let path = format!(
                "{}/../../shared/reference/samples/{f}",
                env!("CARGO_MANIFEST_DIR")
            );
            let Ok(text) = std::fs::read_to_string(&path) else {
                eprintln!("sample {path} not present; skipping");
                continue;
            };
            let page: crate::awx::Page<UnifiedJob> = serde_json::from_str(&text).unwrap();
            assert!(!page.results.is_empty());
            for job in &page.results {
                assert!(job.id > 0);
                assert!(job.created.is_some());
                assert!(job.summary_fields.organization.is_some());
            }
        }
    }

    #[test]
    fn real_host_summaries_and_hosts_parse() {
        let dir = format!(
            "{}/../../shared/reference/samples/real-awx-24.6.1",
            env!("CARGO_MANIFEST_DIR")
        );
        let (Ok(summaries), Ok(hosts)) = (
            std::fs::read_to_string(format!("{dir}/job_host_summaries.json")),
            std::fs::read_to_string(format!("{dir}/hosts_list.json")),
        ) else {
            eprintln!("samples in {dir} not present; skipping");
            return;
        };
        let page: crate::awx::Page<JobHostSummary> = serde_json::from_str(&summaries).unwrap();
        let first = &page.results[0];
        assert_eq!(first.host, Some(10));
        assert_eq!(first.host_name, "db4.example.com");
        assert_eq!(
            first.summary_fields.host.as_ref().map(|h| h.name.as_str()),
            Some("db4.example.com")
        );
        assert_eq!(
            (
                first.ok,
                first.changed,
                first.failures,
                first.dark,
                first.skipped
            ),
            (5, 3, 0, 0, 3)
        );
        let page: crate::awx::Page<Host> = serde_json::from_str(&hosts).unwrap();
        assert_eq!(page.results[0].id, 2);
        assert_eq!(page.results[0].inventory, Some(2));
        assert_eq!(page.results[0].enabled, Some(true));
        assert_eq!(page.results[0].has_active_failures, Some(false));
    }

    #[test]
    fn odd_counts_are_zero_not_errors() {
        let s: JobHostSummary = serde_json::from_str(
            r#"{"host": null, "host_name": "gone", "ok": -3, "changed": "2", "failures": 1.5, "dark": 99999999999}"#,
        )
        .unwrap();
        assert_eq!(
            (s.host, s.ok, s.changed, s.failures, s.dark),
            (None, 0, 0, 0, 0)
        );
    }
}
