//! The KPIs: one module per family, each turning a [`Query`] into frames by asking AWX
//! (directly or through the job store) or Prometheus. This module only routes.

pub mod active;
pub mod annotations;
pub mod buckets;
pub mod capacity;
mod error;
pub mod hosts;
pub mod instances;
pub mod lookup;
pub mod notices;
pub mod prom;
pub mod records;
pub mod series;
pub mod stats;
pub mod status;
pub mod system;
pub mod tables;
pub mod template_stats;

pub use error::KpiError;

use crate::frame::Frame;
use crate::instances::Instance;
use crate::query::{Query, QueryType};
use crate::settings::Source;

/// Where a query is answered from, once `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    Api,
    Prometheus,
}

/// The contract's choice for `auto`, and the sources each query type accepts.
fn resolve_source(inst: &Instance, q: &Query) -> Result<Resolved, KpiError> {
    use QueryType::*;
    let has_prom = inst.prometheus.is_some();
    let (api, prom) = match q.query_type {
        JobStatusCounts | Capacity | System | ActiveJobs => (true, true),
        // Through Prometheus: the metrics of awx-kpi export (`auto` is decided in `route`).
        JobThroughput | FailureRate | JobDuration | QueueWait => (true, true),
        Promql => (false, true),
        _ => (true, false),
    };
    let resolved = match q.source {
        Source::Api if api => Resolved::Api,
        Source::Prometheus if prom => Resolved::Prometheus,
        Source::Api => return Err(KpiError::wrong_source(q.query_type, q.source, "prometheus")),
        Source::Prometheus => {
            return Err(KpiError::wrong_source(
                q.query_type,
                q.source,
                "api or auto",
            ))
        }
        Source::Auto => match q.query_type {
            // Only Prometheus keeps the history of the queue; API reconstruction is the fallback.
            ActiveJobs | Capacity if has_prom => Resolved::Prometheus,
            Promql => Resolved::Prometheus,
            _ => Resolved::Api,
        },
    };
    if resolved == Resolved::Prometheus && !has_prom {
        return Err(KpiError::NoPrometheus {
            query_type: q.query_type,
        });
    }
    Ok(resolved)
}

pub async fn run(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    notices::attach(route(inst, q)).await
}

async fn route(inst: &Instance, q: &Query) -> Result<Vec<Frame>, KpiError> {
    use QueryType::*;
    let job_series = matches!(
        q.query_type,
        JobThroughput | FailureRate | JobDuration | QueueWait
    );
    if job_series && q.source == Source::Auto && inst.prometheus.is_some() {
        let (source, why) = prom::auto_job_series(inst, q).await;
        let frames = match (source, inst.prometheus.as_ref()) {
            (Resolved::Prometheus, Some(p)) => prom::job_series(p, q).await?,
            _ => prom::note_history(inst, q, series::run(inst, q).await?).await,
        };
        return Ok(prom::with_reason(frames, &why));
    }
    let source = resolve_source(inst, q)?;
    if source == Resolved::Prometheus {
        let prom = inst.prometheus.as_ref().ok_or(KpiError::NoPrometheus {
            query_type: q.query_type,
        })?;
        if job_series {
            return prom::job_series(prom, q).await;
        }
        // Status picks rows of the counts; capacity's instances are the execution nodes.
        let mut others = q.filters.clone();
        others.status.clear();
        if q.query_type == Capacity {
            others.execution_node.clear();
        }
        if others != Default::default() && q.query_type != Promql {
            return Err(KpiError::FiltersNeedApi {
                query_type: q.query_type,
            });
        }
        return match q.query_type {
            JobStatusCounts => status::from_prometheus(prom, q).await,
            Capacity => prom::capacity(prom, q).await,
            ActiveJobs => prom::active_jobs(prom, q).await,
            System => prom::system(prom, q).await,
            Promql => prom::promql(prom, q).await,
            other => Err(KpiError::wrong_source(other, q.source, "api")),
        };
    }
    match q.query_type {
        JobStatusCounts => status::from_api(inst, q).await,
        JobThroughput | FailureRate | JobDuration | QueueWait => {
            Ok(prom::note_history(inst, q, series::run(inst, q).await?).await)
        }
        ActiveJobs => active::from_api(inst, q).await,
        Capacity => instances::capacity(inst, q).await,
        Instances => instances::instances(inst).await,
        Templates => tables::templates(inst, q).await,
        Jobs => tables::jobs(inst, q).await,
        System => system::from_api(inst).await,
        Annotations => annotations::run(inst, q).await,
        Lookup => lookup::run(inst, q).await,
        HostOutcomes => hosts::outcomes(inst, q).await,
        HostFailures => hosts::failures(inst, q).await,
        Promql => Err(KpiError::wrong_source(q.query_type, q.source, "prometheus")),
    }
}
