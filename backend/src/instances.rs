//! Per-data-source state: the parsed settings and the clients (and caches) built from
//! them. Grafana sends the settings with every request; this keeps one [`Instance`] per
//! data source and rebuilds it only when the data source is saved again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use thiserror::Error;

use crate::awx::AwxClient;
use crate::http::BuildError;
use crate::jobs::JobStore;
use crate::prometheus::PrometheusClient;
use crate::settings::{Settings, SettingsError};

#[derive(Debug, Error)]
pub enum InstanceError {
    #[error("the request carries no data source settings")]
    NoSettings,
    #[error("data source settings: {0}")]
    Settings(#[from] SettingsError),
    #[error("data source settings: {0}")]
    Client(#[from] BuildError),
}

#[derive(Debug)]
pub struct Instance {
    pub settings: Settings,
    pub awx: AwxClient,
    pub prometheus: Option<PrometheusClient>,
    /// The job-record cache; `None` when `jobCacheMB` is 0.
    pub jobs: Option<JobStore>,
}

impl Instance {
    fn build(ds: &DataSourceInstanceSettings) -> Result<Self, InstanceError> {
        let settings = Settings::parse(&ds.url, &ds.json_data, &ds.decrypted_secure_json_data)?;
        Self::from_settings(settings)
    }

    /// Builds the clients (and the job-record cache) from validated settings: what the
    /// plugin does for each data source, for embedders such as the `awx-kpi` CLI.
    pub fn from_settings(settings: Settings) -> Result<Self, InstanceError> {
        let awx = AwxClient::new(&settings.awx)?;
        let prometheus = settings
            .prometheus
            .as_ref()
            .map(|p| PrometheusClient::new(p, &settings.awx.tls, settings.awx.timeout))
            .transpose()?;
        let jobs = (settings.job_cache_bytes > 0).then(|| JobStore::new(settings.job_cache_bytes));
        Ok(Self {
            settings,
            awx,
            prometheus,
            jobs,
        })
    }
}

/// Instances keyed by data source uid (or numeric id), each tagged with the settings'
/// last-updated time so an edited data source gets fresh clients and empty caches.
#[derive(Debug, Default)]
pub struct Instances {
    by_key: Mutex<HashMap<String, (i64, Arc<Instance>)>>,
}

impl Instances {
    pub fn get(
        &self,
        ds: Option<&DataSourceInstanceSettings>,
    ) -> Result<Arc<Instance>, InstanceError> {
        let ds = ds.ok_or(InstanceError::NoSettings)?;
        let key = if ds.uid.is_empty() {
            format!("id:{}", ds.id)
        } else {
            ds.uid.clone()
        };
        if let Some((updated, inst)) = self.lock().get(&key) {
            if *updated == ds.last_updated_ms {
                return Ok(inst.clone());
            }
        }
        // Built outside the lock: building a TLS client takes a few milliseconds.
        let inst = Arc::new(Instance::build(ds)?);
        let mut map = self.lock();
        // The panels of a dashboard arrive together: the first one built wins, so that
        // they all share one instance (one job-record cache, one cold fill).
        if let Some((updated, existing)) = map.get(&key) {
            if *updated == ds.last_updated_ms {
                return Ok(existing.clone());
            }
        }
        tracing::info!(datasource = %key, "data source instance (re)built");
        map.insert(key, (ds.last_updated_ms, inst.clone()));
        Ok(inst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Arc<Instance>)>> {
        // A panic elsewhere while holding the lock leaves a valid map: keep using it.
        self.by_key.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(updated: i64) -> DataSourceInstanceSettings {
        DataSourceInstanceSettings {
            uid: "awx".into(),
            url: "http://127.0.0.1:1".into(),
            json_data: b"{}".to_vec(),
            decrypted_secure_json_data: HashMap::from([("token".into(), "t".into())]),
            last_updated_ms: updated,
            ..Default::default()
        }
    }

    #[test]
    fn instances_are_reused_until_the_settings_change() {
        let instances = Instances::default();
        let a = instances.get(Some(&ds(1))).unwrap();
        let b = instances.get(Some(&ds(1))).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = instances.get(Some(&ds(2))).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(matches!(
            instances.get(None),
            Err(InstanceError::NoSettings)
        ));
    }
}
