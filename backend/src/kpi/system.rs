//! `system`: the AWX installation at a glance, as a one-row table.

use serde::Deserialize;

use crate::awx::model::Ping;
use crate::awx::ApiRequest;
use crate::frame::{Field, Frame, Values};
use crate::instances::Instance;

use super::KpiError;

#[derive(Debug, Deserialize, Default)]
struct Config {
    #[serde(default)]
    license_info: LicenseInfo,
}

#[derive(Debug, Deserialize, Default)]
struct LicenseInfo {
    #[serde(default)]
    license_type: Option<String>,
}

pub async fn from_api(inst: &Instance) -> Result<Vec<Frame>, KpiError> {
    let awx = &inst.awx;
    let ping_req = ApiRequest::new("ping/");
    let config_req = ApiRequest::new("config/");
    let counted = [
        ("organizations", ApiRequest::new("organizations/")),
        ("templates", ApiRequest::new("unified_job_templates/")),
        ("hosts", ApiRequest::new("hosts/")),
    ];
    let (ping, config, counts) = tokio::join!(
        awx.get::<Ping>(&ping_req),
        awx.get::<Config>(&config_req),
        futures::future::try_join_all(counted.iter().map(|(_, r)| awx.count(r)))
    );
    let ping = ping?;
    let config = config?;
    let counts = counts?;

    let mut executed = vec![awx.display(&ping_req), awx.display(&config_req)];
    executed.extend(
        counted
            .iter()
            .map(|(_, r)| awx.display(&r.clone().param("page_size", "1"))),
    );
    let one = |v: f64| Values::F64(vec![Some(v)]);
    let text = |s: String| Values::Str(vec![Some(s)]);
    let mut frame = Frame::new("system")
        .with_executed_query(executed.join("\n"))
        .with_field(Field::new("version", text(ping.version)))
        .with_field(Field::new("active_node", text(ping.active_node)))
        .with_field(Field::new("ha", Values::Bool(vec![Some(ping.ha)])))
        .with_field(Field::new("instances", one(ping.instances.len() as f64)));
    for ((name, _), n) in counted.iter().zip(counts) {
        frame = frame.with_field(Field::new(*name, one(n as f64)));
    }
    frame = frame.with_field(Field::new(
        "license_type",
        Values::Str(vec![config.license_info.license_type]),
    ));
    Ok(vec![frame])
}
