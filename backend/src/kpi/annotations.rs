//! `annotations`: jobs as annotations on time series panels (by default the failed
//! and errored ones): a region from start to finish, titled and tagged.

use crate::frame::{Field, Frame, Values};
use crate::instances::Instance;
use crate::jobs::record::micros;
use crate::jobs::Job;
use crate::query::{JobStatus, JobType, Query};

use super::records;
use super::tables::job_url;
use super::KpiError;

/// At most this many annotations per panel: more would hide the graph.
const MAX_ANNOTATIONS: usize = 2_000;

pub async fn run(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    let from = micros(q.range.from);
    let to = micros(q.range.to);
    let mut q = q.clone();
    if q.filters.status.is_empty() {
        q.filters.status = vec![JobStatus::Failed, JobStatus::Error];
    }
    let loaded = records::load(inst, &q, from).await?;
    let sel = loaded.select(&q);
    let mut rows: Vec<&Job> = loaded
        .jobs(&sel)
        .filter(|j| {
            let start = j.started().unwrap_or(j.created);
            start < to && j.finished().is_none_or(|f| f >= from)
        })
        .collect();
    rows.sort_unstable_by_key(|j| std::cmp::Reverse(j.id));
    rows.truncate(q.limit.min(MAX_ANNOTATIONS));
    let ui = inst.settings.awx.ui_url.as_str();
    let name = |j: &Job| loaded.name(j.name).unwrap_or("job").to_string();
    let frame = Frame::new("annotations")
        .with_executed_query(&loaded.executed)
        .with_field(Field::new(
            "time",
            Values::Time(
                rows.iter()
                    .map(|j| Some(j.started().unwrap_or(j.created) * 1000))
                    .collect(),
            ),
        ))
        .with_field(Field::new(
            "timeEnd",
            Values::Time(
                rows.iter()
                    .map(|j| j.finished().map(|f| f * 1000))
                    .collect(),
            ),
        ))
        .with_field(Field::new(
            "title",
            Values::strings(rows.iter().map(|j| {
                Some(format!(
                    "{} #{} {}",
                    name(j),
                    j.id,
                    j.status.map_or("?", JobStatus::as_str)
                ))
            })),
        ))
        .with_field(Field::new(
            "text",
            Values::strings(rows.iter().map(|j| {
                Some(format!(
                    "{} {} on {}, launched by {} ({}), {:.0} s. {}",
                    j.job_type.map_or("job", JobType::as_str),
                    j.status.map_or("?", JobStatus::as_str),
                    loaded.name(j.execution_node).unwrap_or("no node"),
                    loaded.name(j.launched_by).unwrap_or("unknown"),
                    j.launch_type.map_or("?", |l| l.as_str()),
                    j.duration().unwrap_or(0.0),
                    job_url(ui, j.job_type, j.id)
                ))
            })),
        ))
        .with_field(Field::new(
            "tags",
            Values::strings(rows.iter().map(|j| {
                let mut tags = vec![j.status.map_or("?", JobStatus::as_str).to_string()];
                if let Some(t) = loaded.object(j.template) {
                    tags.push(t.to_string());
                }
                Some(tags.join(","))
            })),
        ));
    Ok(vec![frame])
}
