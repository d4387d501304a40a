//! Connection settings from flags and environment variables, validated by the plugin's
//! own settings code (so the messages are the ones Grafana's *Save & test* shows).

use std::collections::HashMap;

use clap::Args;
use serde_json::{json, Map, Value};

use awx_datasource::instances::Instance;
use awx_datasource::settings::{Settings, SettingsError};

#[derive(Clone, Args, Default)]
pub struct ConnArgs {
    /// AWX base URL, e.g. https://awx.example.com.
    #[arg(long, env = "AWX_URL", global = true)]
    pub url: Option<String>,
    /// Personal access token (Bearer); never printed.
    #[arg(long, env = "AWX_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// User name for basic authentication (used when no token is given).
    #[arg(long, env = "AWX_USERNAME", global = true)]
    pub username: Option<String>,
    /// Password for basic authentication; never printed.
    #[arg(long, env = "AWX_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// API root under the URL: /api/v2/ (AWX) or /api/controller/v2/ (AAP 2.5+ gateway).
    #[arg(long, env = "AWX_API_PATH", global = true)]
    pub api_path: Option<String>,
    /// Base URL for links to AWX job pages (default: --url).
    #[arg(long, global = true)]
    pub ui_url: Option<String>,
    /// Accept any TLS certificate (insecure; tlsSkipVerify).
    #[arg(long, env = "AWX_TLS_SKIP_VERIFY", global = true)]
    pub insecure: bool,
    /// PEM file of a private CA to trust (tlsCaCert).
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_cert: Option<String>,
    /// Seconds per HTTP request (1 to 600; default 30).
    #[arg(long, global = true)]
    pub timeout: Option<u64>,
    /// Parallel AWX requests (1 to 32; default 4).
    #[arg(long, global = true)]
    pub max_concurrency: Option<u64>,
    /// Prometheus (or compatible) query API that scrapes this AWX.
    #[arg(long, env = "PROMETHEUS_URL", global = true)]
    pub prometheus_url: Option<String>,
    /// Label matchers that pick this AWX's metrics, e.g. job="awx".
    #[arg(long, env = "PROMETHEUS_SELECTOR", global = true)]
    pub prometheus_selector: Option<String>,
    /// Bearer token for Prometheus; never printed.
    #[arg(long, env = "PROMETHEUS_TOKEN", hide_env_values = true, global = true)]
    pub prometheus_token: Option<String>,
    /// Memory for the job-record cache in MiB (0 = fetch each query's jobs with its filters
    /// pushed down to AWX, the better choice for one query per run).
    #[arg(long, default_value_t = 0, global = true)]
    pub job_cache_mb: u64,
}

/// Secrets print as `<redacted>`, as in the plugin.
impl std::fmt::Debug for ConnArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("ConnArgs")
            .field("url", &self.url)
            .field("token", &redact(&self.token))
            .field("username", &self.username)
            .field("password", &redact(&self.password))
            .field("api_path", &self.api_path)
            .field("ui_url", &self.ui_url)
            .field("insecure", &self.insecure)
            .field("ca_cert", &self.ca_cert)
            .field("timeout", &self.timeout)
            .field("max_concurrency", &self.max_concurrency)
            .field("prometheus_url", &self.prometheus_url)
            .field("prometheus_selector", &self.prometheus_selector)
            .field("prometheus_token", &redact(&self.prometheus_token))
            .field("job_cache_mb", &self.job_cache_mb)
            .finish()
    }
}

/// A settings error, with the flag or variable that fixes it.
#[derive(Debug)]
pub struct ConnectError {
    pub message: String,
    pub hint: Option<&'static str>,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConnectError {}

fn hint_for(e: &SettingsError) -> Option<&'static str> {
    match e {
        SettingsError::MissingUrl => Some("pass --url or set AWX_URL"),
        SettingsError::BadUrl { field, .. } | SettingsError::MissingScheme { field, .. } => {
            match *field {
                "Prometheus URL" => Some("fix --prometheus-url or PROMETHEUS_URL"),
                "UI URL" => Some("fix --ui-url"),
                _ => Some("fix --url or AWX_URL"),
            }
        }
        SettingsError::UrlHasApiPath { .. } => Some("fix --url or AWX_URL"),
        SettingsError::BadApiPath(_) => Some("fix --api-path or AWX_API_PATH"),
        SettingsError::BadSelector { .. } => {
            Some("fix --prometheus-selector or PROMETHEUS_SELECTOR")
        }
        SettingsError::MissingSecret(m) if m.contains("AWX token") => Some(
            "pass --token or set AWX_TOKEN (or --username and --password for basic authentication)",
        ),
        SettingsError::MissingSecret(m) if m.contains("AWX password") => {
            Some("pass --password or set AWX_PASSWORD")
        }
        SettingsError::BadValue { field, .. } => match *field {
            "timeoutSeconds" => Some("fix --timeout"),
            "maxConcurrency" => Some("fix --max-concurrency"),
            "jobCacheMB" => Some("fix --job-cache-mb"),
            _ => None,
        },
        _ => None,
    }
}

impl ConnArgs {
    /// Grafana's view of the data source: the URL, jsonData and secureJsonData.
    pub fn to_grafana(&self) -> Result<(String, Value, HashMap<String, String>), ConnectError> {
        let mut json = Map::new();
        let mut secure = HashMap::new();
        let set = |m: &mut Map<String, Value>, k: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        };
        set(&mut json, "apiPath", &self.api_path);
        set(&mut json, "uiUrl", &self.ui_url);
        let basic = self.token.as_deref().unwrap_or_default().is_empty()
            && !self.username.as_deref().unwrap_or_default().is_empty();
        if basic {
            json.insert("authType".into(), json!("basic"));
            set(&mut json, "username", &self.username);
            if let Some(p) = &self.password {
                secure.insert("password".to_string(), p.clone());
            }
        } else {
            json.insert("authType".into(), json!("token"));
            if let Some(t) = &self.token {
                secure.insert("token".to_string(), t.clone());
            }
        }
        if self.insecure {
            json.insert("tlsSkipVerify".into(), json!(true));
        }
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read_to_string(path).map_err(|e| ConnectError {
                message: format!("cannot read the CA certificate file `{path}`: {e}"),
                hint: Some("--ca-cert takes a PEM file"),
            })?;
            secure.insert("tlsCaCert".to_string(), pem);
        }
        if let Some(t) = self.timeout {
            json.insert("timeoutSeconds".into(), json!(t));
        }
        if let Some(c) = self.max_concurrency {
            json.insert("maxConcurrency".into(), json!(c));
        }
        set(&mut json, "prometheusUrl", &self.prometheus_url);
        set(&mut json, "prometheusSelector", &self.prometheus_selector);
        if let Some(t) = self.prometheus_token.as_ref().filter(|t| !t.is_empty()) {
            json.insert("prometheusAuthType".into(), json!("bearer"));
            secure.insert("prometheusToken".to_string(), t.clone());
        }
        json.insert("jobCacheMB".into(), json!(self.job_cache_mb));
        Ok((
            self.url.clone().unwrap_or_default(),
            Value::Object(json),
            secure,
        ))
    }

    /// The validated settings, or the plugin's message with the flag to fix.
    pub fn settings(&self) -> Result<Settings, ConnectError> {
        let (url, json, secure) = self.to_grafana()?;
        let bytes = serde_json::to_vec(&json).expect("a JSON object serializes");
        Settings::parse(&url, &bytes, &secure).map_err(|e| ConnectError {
            message: format!("data source settings: {e}"),
            hint: hint_for(&e),
        })
    }

    /// The plugin's per-data-source state (clients and cache) for these settings.
    pub fn instance(&self) -> Result<Instance, ConnectError> {
        Instance::from_settings(self.settings()?).map_err(|e| ConnectError {
            message: e.to_string(),
            hint: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> ConnArgs {
        ConnArgs {
            url: Some("https://awx.example.com".into()),
            token: Some("tok-secret-1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn flags_become_grafanas_json_data_and_secure_json_data() {
        let mut c = conn();
        c.api_path = Some("/api/controller/v2/".into());
        c.insecure = true;
        c.timeout = Some(10);
        c.prometheus_url = Some("http://prom:9090".into());
        c.prometheus_selector = Some("job=\"awx\"".into());
        let (url, json, secure) = c.to_grafana().unwrap();
        assert_eq!(url, "https://awx.example.com");
        assert_eq!(
            json,
            json!({"apiPath": "/api/controller/v2/", "authType": "token", "tlsSkipVerify": true,
                   "timeoutSeconds": 10, "prometheusUrl": "http://prom:9090",
                   "prometheusSelector": "job=\"awx\"", "jobCacheMB": 0})
        );
        assert_eq!(
            secure,
            HashMap::from([("token".into(), "tok-secret-1".into())])
        );
        let s = c.settings().unwrap();
        assert_eq!(
            s.awx.api_root.as_str(),
            "https://awx.example.com/api/controller/v2/"
        );
        assert!(s.awx.tls.skip_verify);
        assert_eq!(s.prometheus.unwrap().selector, "job=\"awx\"");
        assert_eq!(s.job_cache_bytes, 0);
    }

    #[test]
    fn a_user_name_without_a_token_means_basic_authentication() {
        let mut c = conn();
        c.token = None;
        c.username = Some("admin".into());
        c.password = Some("pw".into());
        let (_, json, secure) = c.to_grafana().unwrap();
        assert_eq!(json["authType"], json!("basic"));
        assert_eq!(json["username"], json!("admin"));
        assert_eq!(secure, HashMap::from([("password".into(), "pw".into())]));
    }

    #[test]
    fn missing_settings_fail_with_the_plugins_message_and_a_hint() {
        let mut c = conn();
        c.url = None;
        let e = c.settings().unwrap_err();
        assert_eq!(
            e.to_string(),
            "data source settings: The AWX URL is empty: set the data source URL to your AWX base URL, e.g. https://awx.example.com\n  hint: pass --url or set AWX_URL"
        );
        let mut c = conn();
        c.token = None;
        let e = c.settings().unwrap_err();
        assert_eq!(
            e.message,
            "data source settings: No AWX token is set: paste a personal access token (AWX: Users > Tokens; AAP 2.5+: the platform gateway) into the Token field, or switch the authentication to basic"
        );
        assert_eq!(
            e.hint,
            Some("pass --token or set AWX_TOKEN (or --username and --password for basic authentication)")
        );
        let mut c = conn();
        c.token = None;
        c.username = Some("admin".into());
        let e = c.settings().unwrap_err();
        assert_eq!(
            e.message,
            "data source settings: No AWX password is set: fill in the Password field for basic authentication"
        );
        assert_eq!(e.hint, Some("pass --password or set AWX_PASSWORD"));
        let mut c = conn();
        c.api_path = Some("api/v2".into());
        assert_eq!(
            c.settings().unwrap_err().hint,
            Some("fix --api-path or AWX_API_PATH")
        );
        let mut c = conn();
        c.ca_cert = Some("/nonexistent/ca.pem".into());
        assert!(c
            .settings()
            .unwrap_err()
            .message
            .starts_with("cannot read the CA certificate file `/nonexistent/ca.pem`"));
    }

    #[test]
    fn the_token_never_shows_in_errors_or_debug_output() {
        let mut c = conn();
        c.url = Some("ftp://awx".into());
        let e = c.settings().unwrap_err();
        assert!(!e.to_string().contains("tok-secret-1"), "{e}");
        let s = conn().settings().unwrap();
        assert!(!format!("{s:?}").contains("tok-secret-1"));
        let dbg = format!("{:?}", conn());
        assert!(dbg.contains("token: Some(\"<redacted>\")"), "{dbg}");
        assert!(!dbg.contains("tok-secret-1"), "{dbg}");
    }
}
