//! Grafana data source for Ansible AWX. The data path, top to bottom:
//! `plugin` (gRPC) -> `instances` (settings, clients) -> `query` (parse) -> `kpi`
//! (answers, from `awx` / `jobs` / `prometheus`) -> `frame` (Arrow) -> response.
//! `model` (statuses, job types, filters) is the domain they share.

pub mod awx;
pub mod frame;
pub mod health;
pub mod http;
pub mod instances;
pub mod jobs;
pub mod kpi;
pub mod logging;
pub mod model;
pub mod plugin;
pub mod plugin_config;
pub mod prometheus;
pub mod query;
pub mod secret;
pub mod server;
pub mod settings;
