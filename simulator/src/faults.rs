//! Faults on demand: latency, errors, dropped connections, truncated or invalid bodies, slow or
//! endless pages, revoked tokens. Randomness is seeded.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    pub latency_ms: u64,
    pub error_rate: f64,
    pub error_status: u16,
    pub drop_rate: f64,
    pub truncate_rate: f64,
    pub invalid_json_rate: f64,
    pub slow_page_ms: u64,
    pub endless_pages: bool,
    pub revoked_tokens: Vec<String>,
    pub paths: Vec<String>,
    /// Redis is unreachable: metrics/ answers Django's 500 page unless `dbonly=1`; ping/ and the
    /// lists are unaffected (what AWX 24.6.1 did, metrics_without_redis.txt)
    pub redis_down: bool,
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        for (n, v) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
            ("truncate_rate", self.truncate_rate),
            ("invalid_json_rate", self.invalid_json_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{n} must be between 0 and 1"));
            }
        }
        if self.error_rate > 0.0 && !(400..=599).contains(&self.error_status) {
            return Err("error_status must be a 4xx or 5xx status (500, 502, 503)".into());
        }
        Ok(())
    }

    /// Whether faults apply to this request path.
    pub fn applies(&self, path: &str) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| path.contains(p.as_str()))
    }

    pub fn is_active(&self) -> bool {
        *self
            != Faults {
                error_status: self.error_status,
                ..Faults::default()
            }
    }
}

/// What happens to one request, drawn once from the seeded generator.
#[derive(Clone, Debug, Default)]
pub struct Draw {
    pub latency_ms: u64,
    pub error: Option<u16>,
    pub drop: bool,
    pub truncate: bool,
    pub invalid_json: bool,
    pub slow_page_ms: u64,
    pub endless: bool,
}
