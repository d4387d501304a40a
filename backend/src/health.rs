//! "Save & test": each check run and reported on its own, with what to fix.

use chrono::Utc;
use serde::Serialize;

use crate::awx::model::{Ping, User};
use crate::awx::{ApiRequest, AwxError, Page};
use crate::instances::Instance;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Error,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: CheckStatus,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub checks: Vec<Check>,
    /// Shown by Grafana under the summary when a check fails.
    pub verbose_message: String,
}

impl HealthReport {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::Error)
    }

    /// One line per check, the failing ones first named in the summary line.
    pub fn summary(&self) -> String {
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Error)
            .map(|c| c.name)
            .collect();
        let head = if failed.is_empty() {
            "Data source is working".to_string()
        } else {
            format!("Failed: {}", failed.join(", "))
        };
        let lines: Vec<String> = self
            .checks
            .iter()
            .map(|c| {
                let mark = match c.status {
                    CheckStatus::Ok => "OK",
                    CheckStatus::Error => "ERROR",
                    CheckStatus::Skipped => "SKIPPED",
                };
                format!("{mark} {}: {}", c.name, c.message)
            })
            .collect();
        format!("{head}\n{}", lines.join("\n"))
    }
}

pub const AWX_REACHABLE: &str = "AWX reachable";
pub const CREDENTIALS: &str = "AWX credentials";
pub const PROMETHEUS_REACHABLE: &str = "Prometheus reachable";
pub const PROMETHEUS_METRICS: &str = "AWX metrics in Prometheus";

pub async fn check(inst: &Instance) -> HealthReport {
    let mut checks = Vec::new();
    let awx = &inst.awx;

    let ping = awx.get_anonymous::<Ping>(&ApiRequest::new("ping/")).await;
    let reachable = ping.is_ok();
    checks.push(match ping {
        Ok(p) => Check {
            name: AWX_REACHABLE,
            status: CheckStatus::Ok,
            message: format!(
                "AWX {} at {} (active node {}, {} instance(s))",
                if p.version.is_empty() {
                    "(version unknown)"
                } else {
                    &p.version
                },
                awx.settings().api_root,
                if p.active_node.is_empty() {
                    "unknown"
                } else {
                    &p.active_node
                },
                p.instances.len()
            ),
        },
        Err(e) => Check {
            name: AWX_REACHABLE,
            status: CheckStatus::Error,
            message: e.to_string(),
        },
    });

    checks.push(if !reachable {
        Check {
            name: CREDENTIALS,
            status: CheckStatus::Skipped,
            message: "skipped: AWX is not reachable".into(),
        }
    } else {
        match awx.get::<Page<User>>(&ApiRequest::new("me/")).await {
            Ok(page) => match page.results.first() {
                Some(u) => Check {
                    name: CREDENTIALS,
                    status: CheckStatus::Ok,
                    message: format!(
                        "signed in as {} ({})",
                        u.username,
                        if u.is_superuser {
                            "superuser"
                        } else if u.is_system_auditor {
                            "system auditor"
                        } else {
                            "user: sees only the jobs this user may read, and cannot read metrics/"
                        }
                    ),
                },
                None => Check {
                    name: CREDENTIALS,
                    status: CheckStatus::Error,
                    message: "AWX's me/ returned no user; check the token".into(),
                },
            },
            Err(e) => Check {
                name: CREDENTIALS,
                status: CheckStatus::Error,
                message: match e {
                    AwxError::Unauthorized { .. } => {
                        "AWX rejected the credentials (401): the token is wrong, expired or revoked (or the user name/password is wrong); create a new token in AWX and paste it into the data source".into()
                    }
                    other => other.to_string(),
                },
            },
        }
    });

    match &inst.prometheus {
        None => checks.push(Check {
            name: PROMETHEUS_REACHABLE,
            status: CheckStatus::Skipped,
            message:
                "no Prometheus URL configured: the Prometheus-backed query types are unavailable"
                    .into(),
        }),
        Some(prom) => {
            let up = prom.query("vector(1)", Utc::now()).await;
            let up_ok = up.is_ok();
            checks.push(Check {
                name: PROMETHEUS_REACHABLE,
                status: if up_ok {
                    CheckStatus::Ok
                } else {
                    CheckStatus::Error
                },
                message: match up {
                    Ok(_) => format!(
                        "Prometheus answers at {}",
                        inst.settings
                            .prometheus
                            .as_ref()
                            .map(|p| p.url.as_str())
                            .unwrap_or_default()
                    ),
                    Err(e) => e.to_string(),
                },
            });
            if up_ok {
                let sel = &prom.selector;
                let expr = format!("time() - timestamp(awx_system_info{{{sel}}})");
                checks.push(match prom.query(&expr, Utc::now()).await {
                    Ok(r) if !r.series.is_empty() => {
                        let age = r
                            .series
                            .iter()
                            .filter_map(|s| s.samples.last().map(|x| x.1))
                            .fold(f64::INFINITY, f64::min);
                        Check {
                            name: PROMETHEUS_METRICS,
                            status: CheckStatus::Ok,
                            message: format!(
                                "awx_system_info{{{sel}}} found in {} series; last sample {:.0} s old",
                                r.series.len(),
                                age.max(0.0)
                            ),
                        }
                    }
                    Ok(_) => Check {
                        name: PROMETHEUS_METRICS,
                        status: CheckStatus::Error,
                        message: format!(
                            "no awx_system_info{{{sel}}} in Prometheus: check that Prometheus scrapes AWX's /api/v2/metrics/ (with a superuser or auditor token) and that the selector matches its labels"
                        ),
                    },
                    Err(e) => Check {
                        name: PROMETHEUS_METRICS,
                        status: CheckStatus::Error,
                        message: e.to_string(),
                    },
                });
            }
        }
    }

    let verbose_message = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Error)
        .map(|c| format!("{}: {}", c.name, c.message))
        .collect::<Vec<_>>()
        .join("\n");
    HealthReport {
        checks,
        verbose_message,
    }
}
