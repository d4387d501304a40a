//! One integration-test binary: the plugin spawned and driven over gRPC as Grafana
//! drives it, against the AWX simulator and a real Prometheus.

mod dashboards;
mod exporter;
mod faults;
mod health;
mod hosts;
mod load;
mod persist;
mod progressive;
mod prometheus;
mod protocol;
mod queries;
mod refresh;
mod security;
