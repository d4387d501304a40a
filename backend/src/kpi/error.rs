use thiserror::Error;

use crate::awx::AwxError;
use crate::frame::EncodeError;
use crate::plugin::wire::ErrorSource;
use crate::prometheus::PromError;
use crate::query::{QueryError, QueryType};
use crate::settings::Source;

/// Why one query failed. The message is what the panel shows; `status` is its HTTP-like code.
#[derive(Debug, Error)]
pub enum KpiError {
    #[error("invalid query: {0}")]
    Query(#[from] QueryError),
    #[error("{0}")]
    Awx(#[from] AwxError),
    #[error("{0}")]
    Prometheus(#[from] PromError),
    #[error("{query_type} through Prometheus needs a Prometheus URL in the data source settings; set one, or choose source `api`")]
    NoPrometheus { query_type: QueryType },
    #[error("{query_type} cannot be answered from {from}; use source {valid}")]
    WrongSource {
        query_type: QueryType,
        from: &'static str,
        valid: &'static str,
    },
    #[error("the time range {from} to {to} reaches beyond what Grafana's timestamps hold (1677-09-21 to 2262-04-11); shorten the range or the interval")]
    RangeOutOfBounds { from: String, to: String },
    #[error("the range holds more than {limit} jobs; narrow the time range or the filters")]
    TooManyJobs { limit: usize },
    #[error("AWX's metrics carry no template, organization or other job labels, so {query_type} through Prometheus cannot apply these filters; remove them or use source api")]
    FiltersNeedApi { query_type: QueryType },
    #[error("AWX's job history is being read for the first time, newest first: jobs that finished since {covered_from} are read ({pages_read} of {pages} pages of older jobs). An alert rule is answered only from complete data, so it will evaluate once the reading has finished (it goes on in the background)")]
    StillLoading {
        covered_from: String,
        pages_read: usize,
        pages: usize,
    },
    #[error("internal error: {0}")]
    Encode(#[from] EncodeError),
}

impl KpiError {
    pub fn status(&self) -> i32 {
        match self {
            KpiError::Query(_)
            | KpiError::WrongSource { .. }
            | KpiError::RangeOutOfBounds { .. }
            | KpiError::TooManyJobs { .. }
            | KpiError::NoPrometheus { .. }
            | KpiError::FiltersNeedApi { .. } => 400,
            KpiError::Awx(e) => e.status(),
            KpiError::Prometheus(e) => e.status(),
            KpiError::StillLoading { .. } => 503,
            KpiError::Encode(_) => 500,
        }
    }

    /// Only an encoding failure is the plugin's own fault; everything else is AWX or
    /// Prometheus failing or refusing, or a query or setting the user must fix.
    pub fn source(&self) -> ErrorSource {
        match self {
            KpiError::Encode(_) => ErrorSource::Plugin,
            _ => ErrorSource::Downstream,
        }
    }

    pub fn wrong_source(query_type: QueryType, source: Source, valid: &'static str) -> Self {
        KpiError::WrongSource {
            query_type,
            from: source.as_str(),
            valid,
        }
    }
}
