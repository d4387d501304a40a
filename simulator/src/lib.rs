//! awx-sim: a faithful stand-in for Ansible AWX's REST API (`/api/v2/`) and Prometheus metrics,
//! with a seeded, deterministic workload, for development, tests and benchmarks.
//!
//! Embed it with [`start`]:
//! ```no_run
//! # async fn demo() -> Result<(), awx_sim::SimError> {
//! let sim = awx_sim::start(awx_sim::Config::for_tests("2024-10-01T12:00:00Z")).await?;
//! println!("{}", sim.url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod changes;
pub mod config;
pub mod cost;
pub mod engine;
pub mod entities;
pub mod error;
pub mod faults;
pub mod filter;
pub mod host_results;
pub mod jobs;
pub mod json;
pub mod list_cache;
pub mod metrics;
pub mod model;
pub mod pyfloat;
pub mod routes;
pub mod server;
pub mod time;
pub mod world;

pub use config::{ApiPrefix, Config};
pub use error::{ApiError, SimError};
pub use faults::Faults;
pub use server::{start, RunningSim};
pub use world::UserSpec;
