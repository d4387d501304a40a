//! Per-data-source state: the parsed settings and the clients (and caches) built from
//! them. Grafana sends the settings with every request; this keeps one [`Instance`] per
//! data source and rebuilds it only when the data source is saved again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use grafana_plugin_sdk::pluginv2::{DataSourceInstanceSettings, PluginContext};
use thiserror::Error;

use crate::awx::AwxClient;
use crate::http::BuildError;
use crate::jobs::persist::{self, DiskCache};
use crate::jobs::JobStore;
use crate::plugin_config::PluginConfig;
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
    /// Shared with the job store's background fill.
    pub awx: Arc<AwxClient>,
    pub prometheus: Option<PrometheusClient>,
    /// The job-record cache; `None` when `jobCacheMB` is 0.
    pub jobs: Option<Arc<JobStore>>,
}

impl Instance {
    fn build(ds: &DataSourceInstanceSettings) -> Result<Self, InstanceError> {
        let settings = Settings::parse(&ds.url, &ds.json_data, &ds.decrypted_secure_json_data)?;
        let config = PluginConfig::get();
        let disk = match &config.cache_dir {
            Some(dir) if settings.job_cache_bytes > 0 => {
                match DiskCache::open(dir, &persist::key(&settings.awx), config.cache_max_bytes) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        // The cache in memory works without it; the operator sees why.
                        tracing::warn!(error = %e, "persistent job cache off for this data source");
                        None
                    }
                }
            }
            _ => None,
        };
        Self::with_disk_cache(settings, disk)
    }

    /// Builds the clients (and the job-record cache) from validated settings: what the
    /// plugin does for each data source, for embedders such as the `awx-kpi` CLI.
    pub fn from_settings(settings: Settings) -> Result<Self, InstanceError> {
        Self::with_disk_cache(settings, None)
    }

    /// [`Instance::from_settings`], the job-record cache kept on disk as well.
    pub fn with_disk_cache(
        settings: Settings,
        disk: Option<DiskCache>,
    ) -> Result<Self, InstanceError> {
        let awx = Arc::new(AwxClient::new(&settings.awx)?);
        let prometheus = settings
            .prometheus
            .as_ref()
            .map(|p| PrometheusClient::new(p, &settings.awx.tls, settings.awx.timeout))
            .transpose()?;
        let jobs = (settings.job_cache_bytes > 0)
            .then(|| Arc::new(JobStore::with_disk(settings.job_cache_bytes, disk)));
        Ok(Self {
            settings,
            awx,
            prometheus,
            jobs,
        })
    }
}

/// Which data source: its organisation and its numeric id, as Grafana's own SDK keys its
/// instances. A uid is unique only within an organisation, so two organisations may
/// both have a data source `awx`; keyed by uid, they would share one cache and, with
/// equal last-updated times, one organisation's queries would use the other's
/// credentials. The uid stands in only where a caller sends no id (0).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct InstanceKey {
    org_id: i64,
    id: i64,
    uid: String,
}

/// Instances per data source, each tagged with the settings' last-updated time so an
/// edited data source gets fresh clients and empty caches.
#[derive(Debug, Default)]
pub struct Instances {
    by_key: Mutex<HashMap<InstanceKey, (i64, Arc<Instance>)>>,
}

impl Instances {
    pub fn get(&self, context: Option<&PluginContext>) -> Result<Arc<Instance>, InstanceError> {
        let context = context.ok_or(InstanceError::NoSettings)?;
        let ds = context
            .data_source_instance_settings
            .as_ref()
            .ok_or(InstanceError::NoSettings)?;
        let key = InstanceKey {
            org_id: context.org_id,
            id: ds.id,
            uid: if ds.id == 0 {
                ds.uid.clone()
            } else {
                String::new()
            },
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
        tracing::info!(
            org_id = key.org_id,
            datasource_id = key.id,
            datasource_uid = %ds.uid,
            "data source instance (re)built"
        );
        map.insert(key, (ds.last_updated_ms, inst.clone()));
        // Only the instance in use writes the cache file: the others built meanwhile are
        // dropped, and their handles with them.
        if let Some(jobs) = &inst.jobs {
            jobs.claim_disk();
        }
        Ok(inst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceKey, (i64, Arc<Instance>)>> {
        // A panic elsewhere while holding the lock leaves a valid map: keep using it.
        self.by_key.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(org_id: i64, id: i64, url: &str, updated: i64) -> PluginContext {
        PluginContext {
            org_id,
            data_source_instance_settings: Some(DataSourceInstanceSettings {
                id,
                uid: "awx".into(),
                url: url.into(),
                json_data: b"{}".to_vec(),
                decrypted_secure_json_data: HashMap::from([("token".into(), "t".into())]),
                last_updated_ms: updated,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn instances_are_reused_until_the_settings_change() {
        let instances = Instances::default();
        let a = instances
            .get(Some(&ctx(1, 7, "http://127.0.0.1:1", 1)))
            .unwrap();
        let b = instances
            .get(Some(&ctx(1, 7, "http://127.0.0.1:1", 1)))
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = instances
            .get(Some(&ctx(1, 7, "http://127.0.0.1:1", 2)))
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(matches!(
            instances.get(None),
            Err(InstanceError::NoSettings)
        ));
    }

    #[test]
    fn organisations_with_the_same_uid_and_time_never_share_an_instance() {
        let instances = Instances::default();
        // Grafana makes uids unique per organisation only; ids are unique everywhere.
        let one = instances
            .get(Some(&ctx(1, 7, "http://awx-one:1", 5)))
            .unwrap();
        let two = instances
            .get(Some(&ctx(2, 8, "http://awx-two:1", 5)))
            .unwrap();
        assert!(!Arc::ptr_eq(&one, &two));
        assert_eq!(one.settings.awx.url.host_str(), Some("awx-one"));
        assert_eq!(two.settings.awx.url.host_str(), Some("awx-two"));
        let again = instances
            .get(Some(&ctx(1, 7, "http://awx-one:1", 5)))
            .unwrap();
        assert!(Arc::ptr_eq(&one, &again));
    }
}
