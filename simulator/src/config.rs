//! Command line / embedding configuration.

use crate::cost::CostModel;
use crate::faults::Faults;
use crate::world::UserSpec;
use clap::{Parser, ValueEnum};

/// Which API roots are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum ApiPrefix {
    /// `/api/v2/` only (AWX)
    #[default]
    #[value(alias = "awx", alias = "default")]
    V2,
    /// `/api/controller/v2/` only (AAP 2.5+ behind the gateway)
    Controller,
    /// both
    Both,
}

impl ApiPrefix {
    pub fn roots(self) -> &'static [&'static str] {
        match self {
            ApiPrefix::V2 => &["/api/v2/"],
            ApiPrefix::Controller => &["/api/controller/v2/"],
            ApiPrefix::Both => &["/api/v2/", "/api/controller/v2/"],
        }
    }
}

/// A simulated Ansible AWX: REST API, metrics and a deterministic workload.
#[derive(Parser, Clone, Debug)]
#[command(name = "awx-sim", version, about)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8013")]
    pub listen: String,
    /// API roots to serve: v2 (/api/v2/), controller (/api/controller/v2/) or both.
    #[arg(long, value_enum, default_value_t = ApiPrefix::V2)]
    pub api_prefix: ApiPrefix,
    /// Seed of the workload and of the fault randomness.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days of history generated at start.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Jobs per day (history and live), including workflow children, syncs and dependencies.
    #[arg(long, default_value_t = 500.0)]
    pub jobs_per_day: f64,
    /// Jobs older than this are purged (default: --days).
    #[arg(long)]
    pub retain_days: Option<f64>,
    /// Simulated "now" at startup, RFC 3339 (default: the real time).
    #[arg(long)]
    pub now: Option<String>,
    /// Stop the clock: nothing moves unless advanced with POST /_sim/advance.
    #[arg(long)]
    pub frozen: bool,
    /// Extra or replacement user, repeatable: name:password:role[:token], role = superuser|auditor|user.
    #[arg(long = "user", value_name = "NAME:PASSWORD:ROLE[:TOKEN]")]
    pub users: Vec<UserSpec>,
    /// Serve metrics/ without authentication (AWX's ALLOW_METRICS_FOR_ANONYMOUS_USERS).
    #[arg(long)]
    pub allow_anonymous_metrics: bool,
    /// At most this many API requests are served at once; the others queue (default: unlimited).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Every API request takes at least this long.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// How long AWX takes per request: none, or real-awx-24.6.1 (a fixed cost plus a cost per row
    /// returned by endpoint, calibrated on a real AWX 24.6.1; see --workers).
    #[arg(long, value_enum, default_value_t = CostModel::None)]
    pub cost_model: CostModel,
    /// Multiplies the modelled costs (0.01 runs the model a hundred times faster).
    #[arg(long, default_value_t = 1.0)]
    pub cost_scale: f64,
    /// How often the live clock advances the workload (ignored with --frozen).
    #[arg(long, default_value_t = 250)]
    pub tick_ms: u64,
    /// Fault: extra latency per request.
    #[arg(long, default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// Fault: share of requests answered with --fault-error-status.
    #[arg(long, default_value_t = 0.0)]
    pub fault_error_rate: f64,
    /// Fault: status of injected errors (500, 502, 503).
    #[arg(long, default_value_t = 500)]
    pub fault_error_status: u16,
    /// Fault: share of requests whose connection is closed without a response.
    #[arg(long, default_value_t = 0.0)]
    pub fault_drop_rate: f64,
    /// Fault: share of responses cut in half (valid headers).
    #[arg(long, default_value_t = 0.0)]
    pub fault_truncate_rate: f64,
    /// Fault: share of responses with an invalid JSON body.
    #[arg(long, default_value_t = 0.0)]
    pub fault_invalid_json_rate: f64,
    /// Fault: extra latency for list pages >= 2.
    #[arg(long, default_value_t = 0)]
    pub fault_slow_page_ms: u64,
    /// Fault: list `next` links never end.
    #[arg(long)]
    pub fault_endless_pages: bool,
    /// Fault: tokens treated as revoked (repeatable).
    #[arg(long = "fault-revoked-token")]
    pub fault_revoked_tokens: Vec<String>,
    /// Fault: only apply faults to paths containing one of these (repeatable).
    #[arg(long = "fault-path")]
    pub fault_paths: Vec<String>,
    /// Fault: Redis is down (metrics/ answers 500 unless ?dbonly=1).
    #[arg(long)]
    pub fault_redis_down: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::parse_from(["awx-sim"])
    }
}

impl Config {
    /// A configuration for tests: port 0, frozen clock at a fixed time, small workload.
    pub fn for_tests(now: &str) -> Self {
        Config {
            listen: "127.0.0.1:0".into(),
            now: Some(now.into()),
            frozen: true,
            ..Config::default()
        }
    }

    pub fn faults(&self) -> Faults {
        Faults {
            latency_ms: self.fault_latency_ms,
            error_rate: self.fault_error_rate,
            error_status: self.fault_error_status,
            drop_rate: self.fault_drop_rate,
            truncate_rate: self.fault_truncate_rate,
            invalid_json_rate: self.fault_invalid_json_rate,
            slow_page_ms: self.fault_slow_page_ms,
            endless_pages: self.fault_endless_pages,
            revoked_tokens: self.fault_revoked_tokens.clone(),
            paths: self.fault_paths.clone(),
            redis_down: self.fault_redis_down,
        }
    }
}
