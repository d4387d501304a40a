//! The AWX REST client: auth, TLS, timeouts, bounded concurrency, retries and
//! pagination. Every request URL is the configured API root plus a fixed path of ours;
//! user-supplied values only ever travel as percent-encoded query values.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Client, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::sync::Semaphore;
use url::Url;

use super::error::AwxError;
use crate::http::{self, BodyError};
use crate::settings::{AwxAuth, AwxSettings};

/// AWX's MAX_PAGE_SIZE: larger values are silently capped, so asking for more is pointless.
pub const PAGE_SIZE: usize = 200;
/// A list longer than this many pages is refused rather than fetched (1,000,000 jobs).
pub const MAX_PAGES: usize = 5_000;
const MAX_ATTEMPTS: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(200);

/// A request relative to the API root: `path` is one of our fixed endpoint paths
/// (e.g. `unified_jobs/`), `params` are query parameters, encoded when sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiRequest {
    pub path: String,
    pub params: Vec<(String, String)>,
}

impl ApiRequest {
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            params: Vec::new(),
        }
    }

    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.params.push((key.to_string(), value.into()));
        self
    }

    /// The request as shown to users (query inspector, errors): path and query, no host.
    pub fn display(&self, api_path: &str) -> String {
        let mut u = Url::parse("http://x/").expect("static URL parses");
        u.set_path(&format!("{api_path}{}", self.path));
        if !self.params.is_empty() {
            u.query_pairs_mut().extend_pairs(&self.params);
        }
        match u.query() {
            Some(q) => format!("{}?{}", u.path(), q),
            None => u.path().to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub count: Option<u64>,
    pub next: Option<String>,
    pub results: Vec<T>,
}

#[derive(Deserialize)]
struct Detail {
    detail: Option<serde_json::Value>,
}

#[derive(Debug)]
pub struct AwxClient {
    http: Client,
    settings: AwxSettings,
    auth_header: HeaderValue,
    permits: Semaphore,
    requests: AtomicU64,
}

impl AwxClient {
    pub fn new(settings: &AwxSettings) -> Result<Self, http::BuildError> {
        let http = http::build_client(&settings.tls, settings.timeout, settings.max_concurrency)?;
        let mut auth_header = match &settings.auth {
            AwxAuth::Token(t) => HeaderValue::from_str(&format!("Bearer {}", t.expose())),
            AwxAuth::Basic { username, password } => HeaderValue::from_str(&format!(
                "Basic {}",
                encode_basic(username, password.expose())
            )),
        }
        .map_err(|_| {
            http::BuildError::Client(
                "the AWX credentials contain characters that cannot be sent in an HTTP header"
                    .into(),
            )
        })?;
        auth_header.set_sensitive(true);
        Ok(Self {
            http,
            settings: settings.clone(),
            auth_header,
            permits: Semaphore::new(settings.max_concurrency),
            requests: AtomicU64::new(0),
        })
    }

    pub fn settings(&self) -> &AwxSettings {
        &self.settings
    }

    /// How many HTTP requests this client has sent (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn display(&self, req: &ApiRequest) -> String {
        req.display(&self.settings.api_path)
    }

    fn url_for(&self, req: &ApiRequest) -> Url {
        let mut url = self.settings.api_root.clone();
        let base = url.path().to_string();
        url.set_path(&format!("{base}{}", req.path));
        if !req.params.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.params);
        }
        url
    }

    /// GET a JSON document, with auth (unless `anonymous`), retries and the size bound.
    async fn get_url<T: DeserializeOwned>(&self, url: Url, anonymous: bool) -> Result<T, AwxError> {
        let shown = match url.query() {
            Some(q) => format!("{}?{}", url.path(), q),
            None => url.path().to_string(),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .map_err(|_| AwxError::Unreachable {
                        url: self.settings.url.to_string(),
                        reason: "the client is shutting down".into(),
                    })?;
                self.requests.fetch_add(1, Ordering::Relaxed);
                let mut req = self.http.get(url.clone());
                if !anonymous {
                    req = req.header(AUTHORIZATION, self.auth_header.clone());
                }
                self.read(req.send().await, &shown).await
            };
            match result {
                Err(Attempt::Retryable(e)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(path = %shown, attempt, error = %e, "retrying AWX request");
                    tokio::time::sleep(BACKOFF * 2u32.pow(attempt - 1)).await;
                }
                Err(Attempt::Retryable(e)) | Err(Attempt::Final(e)) => {
                    return Err(match e {
                        AwxError::Server { path, status, .. } => AwxError::Server {
                            path,
                            status,
                            attempts: attempt,
                        },
                        other => other,
                    })
                }
                Ok(body) => {
                    return serde_json::from_slice(&body).map_err(|e| AwxError::InvalidResponse {
                        path: shown.clone(),
                        reason: format!("not the JSON expected: {e}"),
                    })
                }
            }
        }
    }

    async fn read(
        &self,
        sent: Result<reqwest::Response, reqwest::Error>,
        shown: &str,
    ) -> Result<Vec<u8>, Attempt> {
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(&e, shown)),
        };
        let status = resp.status();
        if status.is_redirection() {
            // Redirects are never followed (they could lead away from the configured
            // host); say where AWX pointed, so that the URL can be fixed.
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere")
                .chars()
                .take(200)
                .collect();
            return Err(Attempt::Final(AwxError::Redirected {
                path: shown.to_string(),
                status: status.as_u16(),
                location,
            }));
        }
        let body = match http::read_body(resp, http::MAX_BODY_BYTES).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return Err(Attempt::Final(AwxError::TooLarge {
                    path: shown.to_string(),
                    limit_bytes: http::MAX_BODY_BYTES,
                }))
            }
            // A connection cut mid-body is worth another try, like a refused connection.
            Err(BodyError::Read(reason)) => {
                return Err(Attempt::Retryable(AwxError::InvalidResponse {
                    path: shown.to_string(),
                    reason: format!("the connection broke while reading: {reason}"),
                }))
            }
        };
        if status.is_success() {
            return Ok(body);
        }
        let detail = detail_text(&body);
        let path = shown.to_string();
        Err(match status {
            StatusCode::UNAUTHORIZED => Attempt::Final(AwxError::Unauthorized { path, detail }),
            StatusCode::FORBIDDEN => Attempt::Final(AwxError::Forbidden { path, detail }),
            StatusCode::NOT_FOUND if detail.contains("Invalid page") => {
                Attempt::Final(AwxError::NotFound { path, detail })
            }
            StatusCode::NOT_FOUND => Attempt::Final(AwxError::ApiPathNotFound { path }),
            StatusCode::BAD_REQUEST => Attempt::Final(AwxError::BadRequest { path, detail }),
            StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Attempt::Retryable(AwxError::Server {
                path,
                status: status.as_u16(),
                attempts: 1,
            }),
            s => Attempt::Final(AwxError::Server {
                path,
                status: s.as_u16(),
                attempts: 1,
            }),
        })
    }

    fn transport_error(&self, e: &reqwest::Error, shown: &str) -> Attempt {
        let reason = http::error_chain(e);
        if e.is_timeout() {
            return Attempt::Final(AwxError::Timeout {
                path: shown.to_string(),
                timeout: self.settings.timeout,
            });
        }
        let lower = reason.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            return Attempt::Final(AwxError::Tls {
                url: self.settings.url.to_string(),
                reason,
            });
        }
        Attempt::Retryable(AwxError::Unreachable {
            url: self.settings.url.to_string(),
            reason,
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, req: &ApiRequest) -> Result<T, AwxError> {
        self.get_url(self.url_for(req), false).await
    }

    /// `ping/` needs no credentials in AWX; sending none proves reachability alone.
    pub async fn get_anonymous<T: DeserializeOwned>(
        &self,
        req: &ApiRequest,
    ) -> Result<T, AwxError> {
        self.get_url(self.url_for(req), true).await
    }

    /// The `count` of a list, from a one-row page.
    pub async fn count(&self, req: &ApiRequest) -> Result<u64, AwxError> {
        let req = req.clone().param("page_size", "1");
        let page: Page<serde_json::Value> = self.get(&req).await?;
        page.count.ok_or_else(|| AwxError::InvalidResponse {
            path: self.display(&req),
            reason: "the list has no `count`".into(),
        })
    }

    /// Every item of a list, truncated to `max_items` (`None` = all).
    pub async fn list_all<T: DeserializeOwned + Send>(
        &self,
        req: &ApiRequest,
        max_items: Option<usize>,
    ) -> Result<Vec<T>, AwxError> {
        Ok(self
            .list(req, max_items.unwrap_or(usize::MAX), false)
            .await?
            .unwrap_or_default())
    }

    /// Every item of a list, or `None` (after one request) if it has more than `limit`.
    pub async fn list_unless_over<T: DeserializeOwned + Send>(
        &self,
        req: &ApiRequest,
        limit: usize,
    ) -> Result<Option<Vec<T>>, AwxError> {
        self.list(req, limit, true).await
    }

    /// Every page of a list, each handed to `each` as soon as it arrives, so that a
    /// caller can convert the rows page by page instead of holding all of them (a page
    /// of 200 jobs parses to far more memory than the records kept from it). Pages come
    /// in any order; `each` gets the list's size (capped at `limit`) as a hint.
    /// Returns `false` (after one request) if the list has more than `limit` items.
    pub async fn for_each_page<T, F>(
        &self,
        req: &ApiRequest,
        limit: usize,
        mut each: F,
    ) -> Result<bool, AwxError>
    where
        T: DeserializeOwned + Send,
        F: FnMut(Vec<T>, usize),
    {
        self.pages(req, limit, true, |_, rows, hint| each(rows, hint))
            .await
    }

    /// [`AwxClient::for_each_page`], with each page's number (1-based) for callers that
    /// must apply pages in order.
    pub async fn for_each_numbered_page<T, F>(
        &self,
        req: &ApiRequest,
        limit: usize,
        each: F,
    ) -> Result<bool, AwxError>
    where
        T: DeserializeOwned + Send,
        F: FnMut(usize, Vec<T>, usize),
    {
        self.pages(req, limit, true, each).await
    }

    async fn list<T: DeserializeOwned + Send>(
        &self,
        req: &ApiRequest,
        wanted: usize,
        refuse_over: bool,
    ) -> Result<Option<Vec<T>>, AwxError> {
        let mut pages: Vec<(usize, Vec<T>)> = Vec::new();
        let complete = self
            .pages(req, wanted, refuse_over, |n, rows, _| pages.push((n, rows)))
            .await?;
        if !complete {
            return Ok(None);
        }
        pages.sort_by_key(|(n, _)| *n);
        let mut items = Vec::with_capacity(pages.iter().map(|(_, r)| r.len()).sum());
        for (_, rows) in pages {
            items.extend(rows);
        }
        items.truncate(wanted);
        Ok(Some(items))
    }

    /// The first page says how many pages there are; the rest are fetched concurrently
    /// (bounded by the client's permits, always that many in flight) and handed to
    /// `each` with their page number as they arrive. `next` links are checked, never
    /// blindly followed. `false` when `refuse_over` and the list has more than `wanted`.
    async fn pages<T, F>(
        &self,
        req: &ApiRequest,
        wanted: usize,
        refuse_over: bool,
        mut each: F,
    ) -> Result<bool, AwxError>
    where
        T: DeserializeOwned + Send,
        F: FnMut(usize, Vec<T>, usize),
    {
        let first_req = req.clone().param("page_size", PAGE_SIZE.to_string());
        let first: Page<T> = self.get(&first_req).await?;
        let count = first.count.map(|c| c as usize);
        if refuse_over && count.is_some_and(|c| c > wanted) {
            return Ok(false);
        }
        let hint = count.unwrap_or(first.results.len()).min(wanted);
        let mut seen = first.results.len();
        each(1, first.results, hint);
        let Some(next) = first.next else {
            return Ok(true);
        };
        self.check_link(&next)?;
        let Some(count) = count else {
            // No count (count_disabled): follow `next` one page at a time.
            let mut next = next;
            for page in 2..=MAX_PAGES {
                if seen >= wanted {
                    return Ok(true);
                }
                let url = self.check_link(&next)?;
                let p: Page<T> = self.get_url(url, false).await?;
                seen += p.results.len();
                each(page, p.results, hint);
                match p.next {
                    Some(n) => next = n,
                    None => return Ok(true),
                }
            }
            return Err(AwxError::TooManyPages {
                path: self.display(req),
                pages: MAX_PAGES,
            });
        };
        let pages = count.min(wanted).div_ceil(PAGE_SIZE);
        // A caller that set its own bound (`refuse_over`) has checked the size already.
        if !refuse_over && pages > MAX_PAGES {
            return Err(AwxError::TooManyPages {
                path: self.display(req),
                pages,
            });
        }
        let mut rest = stream::iter(2..=pages)
            .map(|page| {
                let page_req = first_req.clone().param("page", page.to_string());
                async move {
                    match self.get::<Page<T>>(&page_req).await {
                        Ok(p) => Ok((page, p.results)),
                        // The list shrank while we read it (jobs purged): nothing more here.
                        Err(AwxError::NotFound { .. }) => Ok((page, Vec::new())),
                        Err(e) => Err(e),
                    }
                }
            })
            .buffer_unordered(self.settings.max_concurrency);
        while let Some((page, rows)) = rest.try_next().await? {
            each(page, rows, hint);
        }
        Ok(true)
    }

    /// AWX's `next` is a path on the same host; accept only links under our API root.
    fn check_link(&self, link: &str) -> Result<Url, AwxError> {
        let foreign = || AwxError::ForeignLink {
            link: link.chars().take(200).collect(),
        };
        let url = self.settings.url.join(link).map_err(|_| foreign())?;
        if url.origin() != self.settings.url.origin() {
            return Err(foreign());
        }
        let root = self.settings.api_root.path();
        if url.path().starts_with(root) {
            return Ok(url);
        }
        // Behind a path-prefixing proxy AWX does not know the prefix: add it back.
        if url.path().starts_with(&self.settings.api_path) {
            let mut fixed = url.clone();
            let prefix = self.settings.url.path().trim_end_matches('/');
            fixed.set_path(&format!("{prefix}{}", url.path()));
            return Ok(fixed);
        }
        Err(foreign())
    }
}

enum Attempt {
    Retryable(AwxError),
    Final(AwxError),
}

/// AWX error bodies are `{"detail": "..."}` (sometimes a list or a field map).
fn detail_text(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Detail>(body) {
        Ok(Detail {
            detail: Some(serde_json::Value::String(s)),
        }) => s,
        Ok(Detail { detail: Some(v) }) => v.to_string(),
        _ => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => v.to_string(),
            Err(_) => String::from_utf8_lossy(body).into_owned(),
        },
    };
    let mut text: String = text.chars().take(300).collect();
    if !text.ends_with('.') && !text.is_empty() {
        text.push('.');
    }
    text
}

/// The credentials part of a Basic `Authorization` header.
pub fn encode_basic(username: &str, password: &str) -> String {
    base64(format!("{username}:{password}").as_bytes())
}

fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Shared handle used by the rest of the plugin.
pub type SharedAwx = Arc<AwxClient>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use std::collections::HashMap;

    fn client(url: &str) -> AwxClient {
        let s = Settings::parse(
            url,
            b"{}",
            &HashMap::from([("token".to_string(), "t".to_string())]),
        )
        .unwrap();
        AwxClient::new(&s.awx).unwrap()
    }

    #[test]
    fn filter_values_cannot_add_parameters_or_paths() {
        let c = client("https://awx.example.com");
        let req = ApiRequest::new("unified_jobs/")
            .param("name", "a&page_size=1#x/../../users/?")
            .param("status__in", "failed,error");
        let url = c.url_for(&req);
        assert_eq!(url.path(), "/api/v2/unified_jobs/");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("name".into(), "a&page_size=1#x/../../users/?".into()),
                ("status__in".into(), "failed,error".into())
            ]
        );
        assert!(url.fragment().is_none());
    }

    #[test]
    fn next_links_must_stay_under_the_api_root() {
        let c = client("https://awx.example.com");
        assert!(c.check_link("/api/v2/unified_jobs/?page=2").is_ok());
        assert!(c.check_link("https://evil.example.com/api/v2/x").is_err());
        assert!(c.check_link("/admin/").is_err());
        let prefixed = client("https://gw.example.com/awx");
        assert_eq!(
            prefixed
                .check_link("/api/v2/jobs/?page=3")
                .unwrap()
                .as_str(),
            "https://gw.example.com/awx/api/v2/jobs/?page=3"
        );
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"admin:password"), "YWRtaW46cGFzc3dvcmQ=");
    }

    #[test]
    fn error_details_are_read_from_awx_bodies() {
        assert_eq!(
            detail_text(br#"{"detail":"Invalid page."}"#),
            "Invalid page."
        );
        assert_eq!(detail_text(b"<html>"), "<html>.");
    }
}
