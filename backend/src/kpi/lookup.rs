//! `lookup`: values for template variables and the editor's drop-downs.

use serde::Deserialize;

use crate::awx::{ApiRequest, AwxError};
use crate::frame::{Field, Frame, Values};
use crate::instances::Instance;
use crate::query::{JobStatus, JobType, LaunchType, LookupKind, Query};

use super::KpiError;

/// Drop-downs list at most this many values; a search narrows them.
pub const MAX_VALUES: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LookupValue {
    pub text: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
struct NameRow {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    node_type: Option<String>,
}

fn fixed(values: impl IntoIterator<Item = &'static str>, search: &str) -> Vec<LookupValue> {
    values
        .into_iter()
        .filter(|v| v.contains(&search.to_lowercase()))
        .map(|v| LookupValue {
            text: v.to_string(),
            value: v.to_string(),
        })
        .collect()
}

/// The values of one kind, optionally narrowed by a case-insensitive substring and, for
/// templates, inventories and projects, by organizations (names or ids). Returns the
/// AWX requests made (for the query inspector) beside the values.
pub async fn values(
    inst: &Instance,
    kind: LookupKind,
    search: &str,
    organizations: &[String],
) -> Result<(Vec<LookupValue>, Vec<String>), AwxError> {
    let (path, name_field) = match kind {
        LookupKind::Status => {
            return Ok((
                fixed(JobStatus::ALL.iter().map(|s| s.as_str()), search),
                vec![],
            ))
        }
        LookupKind::JobType => {
            return Ok((
                fixed(JobType::ALL.iter().map(|s| s.as_str()), search),
                vec![],
            ))
        }
        LookupKind::LaunchType => {
            return Ok((
                fixed(LaunchType::ALL.iter().map(|s| s.as_str()), search),
                vec![],
            ))
        }
        LookupKind::Organization => ("organizations/", "name"),
        LookupKind::Template => ("unified_job_templates/", "name"),
        LookupKind::Inventory => ("inventories/", "name"),
        LookupKind::Project => ("projects/", "name"),
        LookupKind::InstanceGroup => ("instance_groups/", "name"),
        LookupKind::Instance | LookupKind::ExecutionNode => ("instances/", "hostname"),
    };
    let mut req = ApiRequest::new(path).param("order_by", name_field);
    if !search.is_empty() {
        req = req.param(&format!("{name_field}__icontains"), search);
    }
    let by_org = matches!(
        kind,
        LookupKind::Template | LookupKind::Inventory | LookupKind::Project
    );
    // AWX splits `__in` lists on commas: a name with a comma cannot be pushed down.
    if by_org && !organizations.is_empty() && organizations.iter().all(|o| !o.contains(',')) {
        let key = if organizations.iter().all(|o| o.parse::<u64>().is_ok()) {
            "organization__in"
        } else {
            "organization__name__in"
        };
        req = req.param(key, organizations.join(","));
    }
    let rows: Vec<NameRow> = inst.awx.list_all(&req, Some(MAX_VALUES)).await?;
    let mut out: Vec<LookupValue> = rows
        .into_iter()
        .filter(|r| {
            // Hop nodes and control-only nodes never run jobs.
            kind != LookupKind::ExecutionNode
                || matches!(r.node_type.as_deref(), Some("execution" | "hybrid"))
        })
        .filter_map(|r| r.name.or(r.hostname))
        .map(|n| LookupValue {
            text: n.clone(),
            value: n,
        })
        .collect();
    // Names repeat across organizations (a template per org): offer each name once.
    out.dedup();
    Ok((out, vec![inst.awx.display(&req)]))
}

pub async fn run(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let Some(kind) = q.lookup else {
        return Err(crate::query::QueryError::new("lookup", "missing").into());
    };
    let search = q.filters.name.first().map(String::as_str).unwrap_or("");
    let (vals, executed) = values(inst, kind, search, &q.filters.organization).await?;
    let frame = Frame::new(format!("lookup {kind}"))
        .with_executed_query(executed.join("\n"))
        .with_field(Field::new(
            "text",
            Values::strings(vals.iter().map(|v| Some(v.text.clone()))),
        ))
        .with_field(Field::new(
            "value",
            Values::strings(vals.iter().map(|v| Some(v.value.clone()))),
        ));
    Ok(vec![frame])
}
