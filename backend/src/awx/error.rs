use std::time::Duration;

use thiserror::Error;

/// Everything that can go wrong talking to AWX, each with the fix a user can make.
/// Messages carry paths and AWX's own `detail`, never credentials.
#[derive(Debug, Error, Clone)]
pub enum AwxError {
    #[error("cannot reach AWX at {url}: {reason}; check the URL, the network path from Grafana to AWX, and that AWX is running")]
    Unreachable { url: String, reason: String },
    #[error("TLS handshake with {url} failed: {reason}; if AWX uses a private CA, paste its certificate into TLS > CA certificate (or, insecurely, enable skip TLS verification)")]
    Tls { url: String, reason: String },
    #[error("AWX did not answer {path} within {timeout:?}; raise the timeout in the data source settings or narrow the query")]
    Timeout { path: String, timeout: Duration },
    #[error("AWX rejected the credentials (401 on {path}): {detail} Check that the token is valid and not revoked, or the user name and password for basic auth")]
    Unauthorized { path: String, detail: String },
    #[error("AWX denied access (403 on {path}): {detail} The AWX user needs read access to these objects (system auditor covers all of them)")]
    Forbidden { path: String, detail: String },
    #[error("AWX answered 404 for {path}: the API path looks wrong; use /api/v2/ for AWX, or /api/controller/v2/ behind an AAP 2.5+ platform gateway")]
    ApiPathNotFound { path: String },
    #[error("AWX answered 404 for {path}: {detail}")]
    NotFound { path: String, detail: String },
    #[error("AWX rejected the request (400 on {path}): {detail}")]
    BadRequest { path: String, detail: String },
    #[error("AWX failed with HTTP {status} on {path} (after {attempts} attempts); AWX or a proxy in front of it is in trouble, try again later")]
    Server {
        path: String,
        status: u16,
        attempts: u32,
    },
    #[error("AWX answered {path} with a redirect (HTTP {status}) to {location}; redirects are not followed: set the data source URL to where AWX answers (e.g. https:// rather than http://, or the right host)")]
    Redirected {
        path: String,
        status: u16,
        location: String,
    },
    #[error("AWX sent an unreadable answer for {path}: {reason}")]
    InvalidResponse { path: String, reason: String },
    #[error("AWX's answer for {path} is larger than {limit_bytes} bytes; narrow the query")]
    TooLarge { path: String, limit_bytes: usize },
    #[error("AWX's pagination for {path} did not end after {pages} pages; narrow the time range or filters")]
    TooManyPages { path: String, pages: usize },
    #[error("AWX sent a `next` link outside its API ({link}); refusing to follow it")]
    ForeignLink { link: String },
}

impl AwxError {
    /// The HTTP-like status Grafana shows for a query that failed with this error.
    pub fn status(&self) -> i32 {
        match self {
            AwxError::Unauthorized { .. } => 401,
            AwxError::Forbidden { .. } => 403,
            AwxError::ApiPathNotFound { .. } | AwxError::NotFound { .. } => 404,
            AwxError::BadRequest { .. } => 400,
            AwxError::Timeout { .. } => 504,
            _ => 502,
        }
    }
}
