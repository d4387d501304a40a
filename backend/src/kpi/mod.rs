//! The KPIs: one module per family, each turning a [`Query`] into frames by asking AWX
//! (directly or through the job store) or Prometheus. This module only routes.

mod error;
pub mod lookup;
pub mod system;

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
        JobStatusCounts | Capacity | System => (true, true),
        ActiveJobs => (true, true),
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
    let source = resolve_source(inst, q)?;
    match (q.query_type, source) {
        (QueryType::Lookup, _) => lookup::run(inst, q).await,
        (QueryType::System, Resolved::Api) => system::from_api(inst).await,
        (t, s) => Err(KpiError::WrongSource {
            query_type: t,
            from: match s {
                Resolved::Api => "api",
                Resolved::Prometheus => "prometheus",
            },
            valid: "another source (not implemented yet)",
        }),
    }
}
