//! `instances` and `capacity` through the API: AWX's `instances/` list, now.

use crate::awx::model::Instance as AwxInstance;
use crate::awx::ApiRequest;
use crate::frame::{Field, Frame, FrameType, Values};
use crate::instances::Instance;
use crate::query::Query;

use super::{capacity, KpiError};

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

/// Capacity now: one point per instance and measure, the same fields and labels as the
/// Prometheus series, as a numeric-wide frame (one row) that alert rules read. Hop nodes
/// have no capacity and are left out; the `executionNode` filter picks instances by hostname.
pub async fn capacity(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let (rows, executed) = list(inst).await?;
    let nodes = &q.filters.execution_node;
    let per_host: capacity::PerHost = rows
        .iter()
        .filter(|i| i.node_type != "hop")
        .filter(|i| nodes.is_empty() || nodes.contains(&i.hostname))
        .map(|i| {
            let point = |v: i64| vec![Some(v as f64)];
            (
                (i.hostname.clone(), i.node_type.clone()),
                [
                    point(i.capacity),
                    point(i.consumed_capacity),
                    point((i.capacity - i.consumed_capacity).max(0)),
                ],
            )
        })
        .collect();
    let frame = Frame::new("capacity")
        .with_type(FrameType::NumericWide)
        .with_executed_query(executed)
        .with_fields(capacity::fields(&per_host, 1, &q.measures));
    Ok(vec![frame])
}
