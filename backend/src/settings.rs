//! Data source settings: Grafana's `jsonData` + `secureJsonData`, validated once per
//! settings version into a typed [`Settings`]. Every error says which field to fix.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;
use url::Url;

use crate::secret::Secret;

pub const DEFAULT_API_PATH: &str = "/api/v2/";
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 30;
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
const MAX_TIMEOUT_SECONDS: u64 = 600;
pub const DEFAULT_JOB_CACHE_MB: u64 = 256;
const MAX_CONCURRENCY: usize = 32;

#[derive(Debug, Error, PartialEq)]
pub enum SettingsError {
    #[error("The AWX URL is empty: set the data source URL to your AWX base URL, e.g. https://awx.example.com")]
    MissingUrl,
    #[error("The {field} `{value}` is not a valid http(s) URL: {reason}")]
    BadUrl {
        field: &'static str,
        value: UrlText,
        reason: String,
    },
    #[error("The {field} `{value}` has no scheme: write it as {fixed} (or http:// for a server without TLS)")]
    MissingScheme {
        field: &'static str,
        value: UrlText,
        fixed: String,
    },
    #[error("The AWX URL `{value}` already ends in the API path {found}: {fix}")]
    UrlHasApiPath {
        value: UrlText,
        found: String,
        fix: String,
    },
    #[error("The Prometheus selector (prometheusSelector) `{value}` is not valid: {reason}")]
    BadSelector { value: String, reason: String },
    #[error("The API path `{0}` must start and end with `/`, e.g. /api/v2/ for AWX or /api/controller/v2/ behind an AAP 2.5+ gateway")]
    BadApiPath(String),
    #[error("jsonData.{field} has an invalid value `{value}`: expected {expected}")]
    BadValue {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{0}")]
    MissingSecret(&'static str),
    #[error("jsonData is not a JSON object: {0}")]
    BadJson(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum AwxAuth {
    Token(Secret),
    Basic { username: String, password: Secret },
}

#[derive(Debug, Clone, PartialEq)]
pub enum PrometheusAuth {
    None,
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Auto,
    Api,
    Prometheus,
}

impl Source {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" | "" => Some(Self::Auto),
            "api" => Some(Self::Api),
            "prometheus" => Some(Self::Prometheus),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Api => "api",
            Self::Prometheus => "prometheus",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    pub skip_verify: bool,
    pub ca_cert_pem: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AwxSettings {
    /// The URL as configured (scheme, host, optional path prefix), without the API path.
    pub url: Url,
    /// The API root as configured, e.g. `/api/v2/`.
    pub api_path: String,
    /// `url` joined with `api_path`: every AWX request URL starts with this.
    pub api_root: Url,
    pub auth: AwxAuth,
    pub ui_url: Url,
    pub tls: TlsSettings,
    pub timeout: Duration,
    pub max_concurrency: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusSettings {
    pub url: Url,
    pub auth: PrometheusAuth,
    /// Label matchers (without braces) added to every built-in AWX metric selector.
    pub selector: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub awx: AwxSettings,
    pub prometheus: Option<PrometheusSettings>,
    pub default_source: Source,
    /// Memory for the job-record cache; 0 turns the cache off.
    pub job_cache_bytes: usize,
}

/// The wire shape of jsonData. Numbers may arrive as strings from provisioning files,
/// so the numeric fields are read as raw JSON values and converted with clear errors.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct JsonData {
    api_path: Option<String>,
    auth_type: Option<String>,
    username: Option<String>,
    ui_url: Option<String>,
    tls_skip_verify: Option<Value>,
    timeout_seconds: Option<Value>,
    max_concurrency: Option<Value>,
    prometheus_url: Option<String>,
    prometheus_auth_type: Option<String>,
    prometheus_username: Option<String>,
    prometheus_selector: Option<String>,
    default_source: Option<String>,
    // camelCase would make this `jobCacheMb`; the documented key is `jobCacheMB`.
    #[serde(rename = "jobCacheMB")]
    job_cache_mb: Option<Value>,
}

impl Settings {
    /// Validates the settings Grafana sends with each request.
    pub fn parse(
        url: &str,
        json_data: &[u8],
        secure: &HashMap<String, String>,
    ) -> Result<Self, SettingsError> {
        let json: JsonData = if json_data.iter().all(u8::is_ascii_whitespace) {
            JsonData::default()
        } else {
            serde_json::from_slice(json_data).map_err(|e| SettingsError::BadJson(e.to_string()))?
        };
        let secret = |key: &str| {
            secure
                .get(key)
                .filter(|v| !v.is_empty())
                .map(|v| Secret::new(v.clone()))
        };

        let url = url.trim();
        if url.is_empty() {
            return Err(SettingsError::MissingUrl);
        }
        let url = parse_http_url("AWX URL", url)?;

        let api_path = non_empty(json.api_path).unwrap_or_else(|| DEFAULT_API_PATH.to_string());
        if !api_path.starts_with('/') || !api_path.ends_with('/') || api_path.contains("..") {
            return Err(SettingsError::BadApiPath(api_path));
        }
        reject_api_path_in_url(&url, &api_path)?;
        let api_root = join_path(&url, &api_path);

        let auth = match non_empty(json.auth_type).as_deref() {
            None | Some("token") => AwxAuth::Token(secret("token").ok_or(
                SettingsError::MissingSecret(
                    "No AWX token is set: paste a personal access token (AWX: Users > Tokens; AAP 2.5+: the platform gateway) into the Token field, or switch the authentication to basic",
                ),
            )?),
            Some("basic") => AwxAuth::Basic {
                username: non_empty(json.username).ok_or(SettingsError::BadValue {
                    field: "username",
                    value: String::new(),
                    expected: "the AWX user name for basic authentication",
                })?,
                password: secret("password").ok_or(SettingsError::MissingSecret(
                    "No AWX password is set: fill in the Password field for basic authentication",
                ))?,
            },
            Some(other) => {
                return Err(SettingsError::BadValue {
                    field: "authType",
                    value: other.to_string(),
                    expected: "`token` or `basic`",
                })
            }
        };

        let ui_url = match non_empty(json.ui_url) {
            Some(u) => parse_http_url("UI URL", &u)?,
            None => url.clone(),
        };

        let tls = TlsSettings {
            skip_verify: read_bool("tlsSkipVerify", json.tls_skip_verify)?,
            ca_cert_pem: secret("tlsCaCert"),
        };
        let timeout_secs = read_number(
            "timeoutSeconds",
            json.timeout_seconds,
            DEFAULT_TIMEOUT_SECONDS,
            1,
            MAX_TIMEOUT_SECONDS,
        )?;
        let max_concurrency = read_number(
            "maxConcurrency",
            json.max_concurrency,
            DEFAULT_MAX_CONCURRENCY as u64,
            1,
            MAX_CONCURRENCY as u64,
        )? as usize;

        let prometheus = match non_empty(json.prometheus_url) {
            None => None,
            Some(p) => {
                let url = parse_http_url("Prometheus URL", &p)?;
                let auth = match non_empty(json.prometheus_auth_type).as_deref() {
                    None | Some("none") => PrometheusAuth::None,
                    Some("basic") => PrometheusAuth::Basic {
                        username: non_empty(json.prometheus_username).ok_or(
                            SettingsError::BadValue {
                                field: "prometheusUsername",
                                value: String::new(),
                                expected: "the user name for Prometheus basic authentication",
                            },
                        )?,
                        password: secret("prometheusPassword").ok_or(
                            SettingsError::MissingSecret(
                                "No Prometheus password is set: fill in the Prometheus password, or set Prometheus authentication to none",
                            ),
                        )?,
                    },
                    Some("bearer") => PrometheusAuth::Bearer(secret("prometheusToken").ok_or(
                        SettingsError::MissingSecret(
                            "No Prometheus token is set: fill in the Prometheus token, or set Prometheus authentication to none",
                        ),
                    )?),
                    Some(other) => {
                        return Err(SettingsError::BadValue {
                            field: "prometheusAuthType",
                            value: other.to_string(),
                            expected: "`none`, `basic` or `bearer`",
                        })
                    }
                };
                let raw = json.prometheus_selector.unwrap_or_default();
                let selector = crate::prometheus::selector::normalize(&raw).map_err(|e| {
                    SettingsError::BadSelector {
                        value: raw.trim().to_string(),
                        reason: e.0,
                    }
                })?;
                Some(PrometheusSettings {
                    url,
                    auth,
                    selector,
                })
            }
        };

        let default_source = match json.default_source.as_deref() {
            None => Source::Auto,
            Some(s) => Source::parse(s).ok_or_else(|| SettingsError::BadValue {
                field: "defaultSource",
                value: s.to_string(),
                expected: "`auto`, `api` or `prometheus`",
            })?,
        };

        let job_cache_mb = match &json.job_cache_mb {
            Some(Value::Number(n)) if n.as_u64() == Some(0) => 0,
            Some(Value::String(s)) if s.trim() == "0" => 0,
            other => read_number("jobCacheMB", other.clone(), DEFAULT_JOB_CACHE_MB, 1, 16_384)?,
        };

        Ok(Settings {
            job_cache_bytes: job_cache_mb as usize * 1024 * 1024,
            awx: AwxSettings {
                url,
                api_path,
                api_root,
                auth,
                ui_url,
                tls,
                timeout: Duration::from_secs(timeout_secs),
                max_concurrency,
            },
            prometheus,
            default_source,
        })
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A URL as the user wrote it, for messages: whatever stands before an `@` in its
/// authority (`user:password@`, or a token) is replaced, so that no error can echo a
/// password typed into a URL. Every URL that a settings error quotes is one of these.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlText(String);

impl UrlText {
    pub fn new(raw: &str) -> Self {
        let start = raw.find("://").map_or(0, |i| i + 3);
        let end = raw[start..]
            .find(['/', '?', '#'])
            .map_or(raw.len(), |i| start + i);
        match raw[start..end].rfind('@') {
            Some(at) => Self(format!(
                "{}<credentials removed>{}",
                &raw[..start],
                &raw[start + at..]
            )),
            None => Self(raw.to_string()),
        }
    }
}

impl std::fmt::Display for UrlText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_http_url(field: &'static str, value: &str) -> Result<Url, SettingsError> {
    let bad = |reason: String| SettingsError::BadUrl {
        field,
        value: UrlText::new(value),
        reason,
    };
    // `awx.example.com` and `awx.example.com:443` are the common forms without a scheme;
    // the second parses as the scheme `awx.example.com`, so look for `://` instead.
    if !value.contains("://") {
        let text = UrlText::new(value);
        return Err(SettingsError::MissingScheme {
            field,
            fixed: format!("https://{}", text.0.trim_start_matches('/')),
            value: text,
        });
    }
    let url = Url::parse(value).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "the scheme must be http or https, not {}",
            url.scheme()
        )));
    }
    if url.host_str().is_none() {
        return Err(bad("it has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "put credentials in the authentication fields, not in the URL".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("remove the query string and fragment".into()));
    }
    Ok(url)
}

/// Joins a base URL (which may carry a path prefix, e.g. behind a reverse proxy) and an
/// absolute path, without `Url::join`'s "replace the last segment" behaviour.
pub fn join_path(base: &Url, path: &str) -> Url {
    let mut joined = base.clone();
    let prefix = base.path().trim_end_matches('/');
    joined.set_path(&format!("{prefix}{path}"));
    joined
}

fn read_bool(field: &'static str, v: Option<Value>) -> Result<bool, SettingsError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::String(s)) if s == "true" => Ok(true),
        Some(Value::String(s)) if s == "false" || s.is_empty() => Ok(false),
        Some(other) => Err(SettingsError::BadValue {
            field,
            value: other.to_string(),
            expected: "true or false",
        }),
    }
}

fn read_number(
    field: &'static str,
    v: Option<Value>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, SettingsError> {
    let n = match &v {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(default),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    let bad = || SettingsError::BadValue {
        field,
        value: v.as_ref().map(Value::to_string).unwrap_or_default(),
        expected: match field {
            "timeoutSeconds" => "a whole number of seconds from 1 to 600",
            "jobCacheMB" => "a whole number of MiB from 0 (no cache) to 16384",
            _ => "a whole number from 1 to 32",
        },
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

/// A URL that already ends in an API root (`https://awx.example.com/api/v2/`) would have
/// the API path appended a second time; AWX answers that with a 404 that does not say why.
fn reject_api_path_in_url(url: &Url, api_path: &str) -> Result<(), SettingsError> {
    let path = url.path().trim_end_matches('/');
    let configured = api_path.trim_end_matches('/');
    let found = [configured, "/api/controller/v2", "/api/v2", "/api"]
        .into_iter()
        .find(|root| {
            !root.is_empty()
                && path
                    .to_ascii_lowercase()
                    .ends_with(&root.to_ascii_lowercase())
        });
    let Some(root) = found else { return Ok(()) };
    let mut base = url.clone();
    base.set_path(&path[..path.len() - root.len()]);
    let base = base.as_str().trim_end_matches('/');
    let fix = if root == "/api/controller/v2" && configured != root {
        format!("set the URL to {base} and the API path to /api/controller/v2/")
    } else {
        format!("set the URL to {base}; the plugin adds the API path ({api_path}) to it")
    };
    Err(SettingsError::UrlHasApiPath {
        value: UrlText::new(url.as_str()),
        found: format!("{root}/"),
        fix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_settings_error_echoes_a_password_written_into_a_url() {
        for (url, prom) in [
            ("https://admin:s3cret-pw@awx.example.com", None),
            ("admin:s3cret-pw@awx.example.com", None),
            ("https://s3cret-pw@awx.example.com/api/v2/", None),
            (
                "https://awx.example.com",
                Some("http://u:s3cret-pw@prom:9090"),
            ),
            ("https://awx.example.com", Some("u:s3cret-pw@prom:9090")),
            ("ht tps://admin:s3cret-pw@awx", None),
        ] {
            let mut json = serde_json::json!({});
            if let Some(p) = prom {
                json["prometheusUrl"] = p.into();
            }
            let e = Settings::parse(
                url,
                &serde_json::to_vec(&json).unwrap(),
                &secure(&[("token", "t")]),
            )
            .expect_err(url);
            let msg = e.to_string();
            assert!(!msg.contains("s3cret-pw"), "{msg}");
            assert!(msg.contains("<credentials removed>"), "{msg}");
        }
        assert_eq!(
            UrlText::new("https://a:b@host:1/p?x=@y").to_string(),
            "https://<credentials removed>@host:1/p?x=@y"
        );
        assert_eq!(
            UrlText::new("https://host/@x").to_string(),
            "https://host/@x"
        );
    }

    fn secure(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_apply_to_an_empty_json_data() {
        let s =
            Settings::parse("https://awx.example.com", b"", &secure(&[("token", "t")])).unwrap();
        assert_eq!(s.awx.api_root.as_str(), "https://awx.example.com/api/v2/");
        assert_eq!(s.awx.timeout, Duration::from_secs(30));
        assert_eq!(s.awx.max_concurrency, 4);
        assert_eq!(s.awx.ui_url.as_str(), "https://awx.example.com/");
        assert!(!s.awx.tls.skip_verify);
        assert_eq!(s.prometheus, None);
        assert_eq!(s.default_source, Source::Auto);
    }

    #[test]
    fn job_cache_mb_is_read_under_its_documented_key() {
        let t = secure(&[("token", "t")]);
        let s = Settings::parse("https://x", br#"{"jobCacheMB":0}"#, &t).unwrap();
        assert_eq!(s.job_cache_bytes, 0);
        let s = Settings::parse("https://x", br#"{"jobCacheMB":"16"}"#, &t).unwrap();
        assert_eq!(s.job_cache_bytes, 16 * 1024 * 1024);
        let s = Settings::parse("https://x", b"{}", &t).unwrap();
        assert_eq!(s.job_cache_bytes, 256 * 1024 * 1024);
    }

    #[test]
    fn a_path_prefix_on_the_url_is_kept() {
        let s = Settings::parse(
            "https://gw.example.com/aap/",
            br#"{"apiPath":"/api/controller/v2/","timeoutSeconds":"10"}"#,
            &secure(&[("token", "t")]),
        )
        .unwrap();
        assert_eq!(
            s.awx.api_root.as_str(),
            "https://gw.example.com/aap/api/controller/v2/"
        );
        assert_eq!(s.awx.timeout, Duration::from_secs(10));
    }

    #[test]
    fn errors_name_the_field_to_fix() {
        let t = secure(&[("token", "t")]);
        let e = Settings::parse("", b"{}", &t).unwrap_err();
        assert_eq!(e, SettingsError::MissingUrl);
        let e = Settings::parse("ftp://x", b"{}", &t).unwrap_err();
        assert!(e.to_string().contains("http or https"), "{e}");
        let e = Settings::parse("https://x", br#"{"apiPath":"api/v2"}"#, &t).unwrap_err();
        assert!(e.to_string().contains("/api/controller/v2/"), "{e}");
        let e = Settings::parse("https://x", br#"{"maxConcurrency":0}"#, &t).unwrap_err();
        assert!(e.to_string().contains("maxConcurrency"), "{e}");
        let e = Settings::parse("https://x", b"{}", &secure(&[])).unwrap_err();
        assert!(e.to_string().contains("token"), "{e}");
        let e = Settings::parse("https://x", br#"{"authType":"basic"}"#, &t).unwrap_err();
        assert!(e.to_string().contains("username"), "{e}");
        let e = Settings::parse("https://u:p@x", b"{}", &t).unwrap_err();
        assert!(e.to_string().contains("credentials"), "{e}");
    }

    #[test]
    fn a_url_without_a_scheme_is_answered_with_the_https_form() {
        let t = secure(&[("token", "t")]);
        for (url, fixed) in [
            ("awx.example.com", "https://awx.example.com"),
            ("awx.example.com:8443", "https://awx.example.com:8443"),
            ("10.0.0.5/awx/", "https://10.0.0.5/awx/"),
        ] {
            let e = Settings::parse(url, b"{}", &t).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("The AWX URL `{url}` has no scheme: write it as {fixed} (or http:// for a server without TLS)")
            );
        }
        let e = Settings::parse("https://x", br#"{"prometheusUrl":"prometheus:9090"}"#, &t)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("The Prometheus URL `prometheus:9090` has no scheme: write it as https://prometheus:9090"),
            "{e}"
        );
    }

    #[test]
    fn a_url_that_already_holds_the_api_path_says_which_url_to_set() {
        let t = secure(&[("token", "t")]);
        let err = |url: &str, json: &[u8]| Settings::parse(url, json, &t).unwrap_err().to_string();
        assert_eq!(
            err("https://awx.example.com/api/v2", b"{}"),
            "The AWX URL `https://awx.example.com/api/v2` already ends in the API path /api/v2/: set the URL to https://awx.example.com; the plugin adds the API path (/api/v2/) to it"
        );
        assert_eq!(
            err("https://tools.example.com/awx/API/v2/", b"{}"),
            "The AWX URL `https://tools.example.com/awx/API/v2/` already ends in the API path /api/v2/: set the URL to https://tools.example.com/awx; the plugin adds the API path (/api/v2/) to it"
        );
        assert_eq!(
            err("https://gw.example.com/api/controller/v2/", b"{}"),
            "The AWX URL `https://gw.example.com/api/controller/v2/` already ends in the API path /api/controller/v2/: set the URL to https://gw.example.com and the API path to /api/controller/v2/"
        );
        assert_eq!(
            err(
                "https://gw.example.com/api/controller/v2/",
                br#"{"apiPath":"/api/controller/v2/"}"#
            ),
            "The AWX URL `https://gw.example.com/api/controller/v2/` already ends in the API path /api/controller/v2/: set the URL to https://gw.example.com; the plugin adds the API path (/api/controller/v2/) to it"
        );
        assert!(err("http://awx:8052/api/", b"{}").contains("set the URL to http://awx:8052;"));
        // A path prefix that merely contains `api` is a reverse proxy's, and is kept.
        for url in ["https://x/myapi/", "https://x/api/v2/awx", "https://x/apis"] {
            let s = Settings::parse(url, b"{}", &t).unwrap();
            assert!(s.awx.api_root.as_str().ends_with("/api/v2/"), "{url}");
        }
    }

    #[test]
    fn an_unquoted_selector_names_the_setting_and_shows_the_quoted_form() {
        let t = secure(&[("token", "t")]);
        let e = Settings::parse(
            "https://x",
            br#"{"prometheusUrl":"http://p:9090","prometheusSelector":"job=awx"}"#,
            &t,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "The Prometheus selector (prometheusSelector) `job=awx` is not valid: the value of `job` is not quoted: label values are PromQL strings; write it as job=\"awx\""
        );
    }

    #[test]
    fn prometheus_selector_is_normalized_and_checked() {
        let t = secure(&[("token", "t")]);
        let s = Settings::parse(
            "https://x",
            br#"{"prometheusUrl":"http://p:9090","prometheusSelector":"{job=\"awx\"}"}"#,
            &t,
        )
        .unwrap();
        assert_eq!(s.prometheus.unwrap().selector, "job=\"awx\"");
        let e = Settings::parse(
            "https://x",
            br#"{"prometheusUrl":"http://p:9090","prometheusSelector":"job=\"a\"} or vector(1) {"}"#,
            &t,
        )
        .unwrap_err();
        assert!(e.to_string().contains("prometheusSelector"), "{e}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = Settings::parse(
            "https://x",
            br#"{"authType":"basic","username":"u","prometheusUrl":"http://p","prometheusAuthType":"bearer"}"#,
            &secure(&[("password", "pw-123"), ("prometheusToken", "ptok-456")]),
        )
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("pw-123") && !dbg.contains("ptok-456"),
            "{dbg}"
        );
    }
}
