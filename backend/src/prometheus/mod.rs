//! Everything about asking Prometheus for the history of AWX's gauges.

pub mod client;

pub use client::{PromError, PrometheusClient, QueryResult, Series};
pub mod promql;
pub mod selector;
