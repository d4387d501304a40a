//! `instances` and `capacity` through the API: AWX's `instances/` list, now.

use crate::awx::model::Instance as AwxInstance;
use crate::awx::ApiRequest;
use crate::frame::{Field, FieldConfig, Frame, Values};
use crate::instances::Instance;
use crate::query::Query;

use super::KpiError;

const MAX_INSTANCES: usize = 2_000;

async fn list(inst: &Instance) -> Result<(Vec<AwxInstance>, String), KpiError> {
    let req = ApiRequest::new("instances/").param("order_by", "hostname");
    let rows = inst.awx.list_all(&req, Some(MAX_INSTANCES)).await?;
    Ok((rows, inst.awx.display(&req.param("page_size", "200"))))
}

fn used_percent(i: &AwxInstance) -> Option<f64> {
    (i.capacity > 0).then(|| i.consumed_capacity as f64 / i.capacity as f64 * 100.0)
}

pub async fn instances(inst: &Instance) -> Result<Vec<Frame>, KpiError> {
    let (rows, executed) = list(inst).await?;
    let s = |f: fn(&AwxInstance) -> &str| Values::strings(rows.iter().map(|i| Some(f(i))));
    let n = |f: fn(&AwxInstance) -> Option<f64>| Values::F64(rows.iter().map(f).collect());
    let frame = Frame::new("instances")
        .with_executed_query(executed)
        .with_visualisation("table")
        .with_field(Field::new("hostname", s(|i| &i.hostname)))
        .with_field(Field::new("node_type", s(|i| &i.node_type)))
        .with_field(Field::new("node_state", s(|i| &i.node_state)))
        .with_field(Field::new(
            "enabled",
            Values::Bool(rows.iter().map(|i| Some(i.enabled)).collect()),
        ))
        .with_field(Field::new("capacity", n(|i| Some(i.capacity as f64))).with_unit("short"))
        .with_field(
            Field::new("consumed", n(|i| Some(i.consumed_capacity as f64))).with_unit("short"),
        )
        .with_field(Field::new("used", n(used_percent)).with_unit("percent"))
        .with_field(
            Field::new("jobs_running", n(|i| Some(i.jobs_running as f64))).with_unit("short"),
        )
        .with_field(Field::new("jobs_total", n(|i| Some(i.jobs_total as f64))).with_unit("short"))
        .with_field(Field::new("cpu", n(|i| i.cpu)).with_unit("short"))
        .with_field(Field::new("memory", n(|i| i.memory)).with_unit("bytes"))
        .with_field(Field::new("version", s(|i| &i.version)))
        .with_field(Field::new(
            "last_health_check",
            Values::times(rows.iter().map(|i| i.last_health_check)),
        ))
        .with_field(Field::new("errors", s(|i| &i.errors)));
    Ok(vec![frame])
}

/// Capacity now, per instance and in total, as a table. Hop nodes have no capacity and
/// are left out; the `executionNode` filter picks instances by hostname.
pub async fn capacity(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let (rows, executed) = list(inst).await?;
    let nodes = &q.filters.execution_node;
    let rows: Vec<&AwxInstance> = rows
        .iter()
        .filter(|i| i.node_type != "hop")
        .filter(|i| nodes.is_empty() || nodes.contains(&i.hostname))
        .collect();
    let total_cap: i64 = rows.iter().map(|i| i.capacity).sum();
    let total_used: i64 = rows.iter().map(|i| i.consumed_capacity).sum();
    let mut names: Vec<Option<String>> = rows.iter().map(|i| Some(i.hostname.clone())).collect();
    names.push(Some("total".into()));
    let col = |f: &dyn Fn(&AwxInstance) -> f64, total: f64| {
        let mut v: Vec<Option<f64>> = rows.iter().map(|i| Some(f(i))).collect();
        v.push(Some(total));
        Values::F64(v)
    };
    let mut node_types: Vec<Option<String>> =
        rows.iter().map(|i| Some(i.node_type.clone())).collect();
    node_types.push(Some("all".into()));
    let used_total = (total_cap > 0).then(|| total_used as f64 / total_cap as f64 * 100.0);
    let mut used: Vec<Option<f64>> = rows.iter().map(|i| used_percent(i)).collect();
    used.push(used_total);
    let frame = Frame::new("capacity")
        .with_executed_query(executed)
        .with_field(Field::new("hostname", Values::Str(names)))
        .with_field(Field::new("node_type", Values::Str(node_types)))
        .with_field(
            Field::new("capacity", col(&|i| i.capacity as f64, total_cap as f64))
                .with_unit("short"),
        )
        .with_field(
            Field::new(
                "consumed",
                col(&|i| i.consumed_capacity as f64, total_used as f64),
            )
            .with_unit("short"),
        )
        .with_field(
            Field::new(
                "remaining",
                col(
                    &|i| (i.capacity - i.consumed_capacity).max(0) as f64,
                    (total_cap - total_used).max(0) as f64,
                ),
            )
            .with_unit("short"),
        )
        .with_field(
            Field::new("used", Values::F64(used)).with_config(FieldConfig {
                unit: Some("percent".into()),
                min: Some(0.0),
                max: Some(100.0),
                ..Default::default()
            }),
        );

    Ok(vec![frame])
}
