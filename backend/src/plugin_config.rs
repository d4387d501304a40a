//! Plugin-wide settings: what a Grafana administrator sets in grafana.ini's
//! `[plugin.seed-awx-datasource]` section, which Grafana hands to the plugin process as
//! `GF_PLUGIN_<KEY>` environment variables (since Grafana 12.4 the plugin sees no other
//! variable of the host). Read once, at first use.
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `cache_dir` | where the persistent job cache lives; `off` turns it off | `awx-datasource-cache` beside Grafana's plugins directory |
//! | `cache_max_mb` | the most the persistent cache may take on disk, all data sources together | 2048 |
//! | `reconcile_seconds` | how often the job cache re-reads open jobs and object names | 300 |

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// `None`: no persistent cache.
    pub cache_dir: Option<PathBuf>,
    pub cache_max_bytes: u64,
    pub reconcile_every: Duration,
}

const DEFAULT_CACHE_MAX_MB: u64 = 2048;
const DEFAULT_RECONCILE_SECONDS: u64 = 300;

impl PluginConfig {
    /// The process's settings (from its environment, once).
    pub fn get() -> &'static PluginConfig {
        static CONFIG: OnceLock<PluginConfig> = OnceLock::new();
        CONFIG.get_or_init(|| {
            let config = Self::from_env(|k| std::env::var(k).ok(), std::env::current_exe().ok());
            tracing::info!(
                cache_dir = ?config.cache_dir,
                cache_max_mb = config.cache_max_bytes / (1024 * 1024),
                reconcile_seconds = config.reconcile_every.as_secs(),
                "plugin-wide settings"
            );
            config
        })
    }

    pub fn from_env(var: impl Fn(&str) -> Option<String>, exe: Option<PathBuf>) -> Self {
        let number = |key: &str, default: u64, max: u64| {
            let raw = var(key)?;
            let n = raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n));
            if n.is_none() {
                tracing::warn!(
                    setting = key,
                    value = %raw,
                    "not a whole number from 1 to {max}; using {default}"
                );
            }
            n
        };
        let cache_dir = match var("GF_PLUGIN_CACHE_DIR").map(|s| s.trim().to_string()) {
            Some(s) if s.eq_ignore_ascii_case("off") => None,
            Some(s) if !s.is_empty() => Some(PathBuf::from(s)),
            _ => exe.as_deref().and_then(default_cache_dir),
        };
        PluginConfig {
            cache_dir,
            cache_max_bytes: number("GF_PLUGIN_CACHE_MAX_MB", DEFAULT_CACHE_MAX_MB, 1 << 20)
                .unwrap_or(DEFAULT_CACHE_MAX_MB)
                * 1024
                * 1024,
            reconcile_every: Duration::from_secs(
                number(
                    "GF_PLUGIN_RECONCILE_SECONDS",
                    DEFAULT_RECONCILE_SECONDS,
                    86_400,
                )
                .unwrap_or(DEFAULT_RECONCILE_SECONDS),
            ),
        }
    }
}

/// Grafana runs `<plugins>/<plugin dir>/gpx_awx_<os>_<arch>`; the cache goes beside the
/// plugins directory (in Grafana's data directory, `/var/lib/grafana`, by default), not
/// inside the plugin's: a signed plugin's directory must hold only its signed files.
/// A binary that is not in a plugin directory (no plugin.json beside it: a build run by
/// hand) gets no default.
fn default_cache_dir(exe: &Path) -> Option<PathBuf> {
    let plugin_dir = exe.parent()?;
    if !plugin_dir.join("plugin.json").is_file() {
        return None;
    }
    Some(plugin_dir.parent()?.parent()?.join("awx-datasource-cache"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> PluginConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PluginConfig::from_env(|k| vars.get(k).cloned(), None)
    }

    #[test]
    fn the_default_cache_dir_is_beside_the_plugins_directory() {
        let root = std::env::temp_dir().join(format!("awx-config-{}", std::process::id()));
        let plugin = root.join("plugins/seed-awx-datasource");
        std::fs::create_dir_all(&plugin).unwrap();
        let exe = plugin.join("gpx_awx_linux_amd64");
        // Not a plugin directory (no plugin.json): no default.
        assert_eq!(default_cache_dir(&exe), None);
        std::fs::write(plugin.join("plugin.json"), "{}").unwrap();
        assert_eq!(
            default_cache_dir(&exe),
            Some(root.join("awx-datasource-cache"))
        );
        let c = PluginConfig::from_env(|_| None, Some(exe));
        assert_eq!(c.cache_dir, Some(root.join("awx-datasource-cache")));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn grafana_ini_settings_arrive_as_gf_plugin_variables() {
        let c = config(&[]);
        assert_eq!(c.cache_dir, None);
        assert_eq!(c.reconcile_every, Duration::from_secs(300));
        assert_eq!(c.cache_max_bytes, 2048 << 20);
        let c = config(&[
            ("GF_PLUGIN_CACHE_DIR", "/data/awx"),
            ("GF_PLUGIN_RECONCILE_SECONDS", "60"),
            ("GF_PLUGIN_CACHE_MAX_MB", "100"),
        ]);
        assert_eq!(c.cache_dir.as_deref(), Some(Path::new("/data/awx")));
        assert_eq!(c.reconcile_every, Duration::from_secs(60));
        assert_eq!(c.cache_max_bytes, 100 << 20);
        assert_eq!(config(&[("GF_PLUGIN_CACHE_DIR", "OFF")]).cache_dir, None);
        // Nonsense falls back to the default rather than stopping the plugin.
        let c = config(&[("GF_PLUGIN_RECONCILE_SECONDS", "soon")]);
        assert_eq!(c.reconcile_every, Duration::from_secs(300));
    }
}
