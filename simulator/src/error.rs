//! Typed errors: API errors render as AWX does (`{"detail": ...}` with the matching status).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided. To establish a login session, visit /api/login/.";
pub const WWW_AUTHENTICATE: &str = "Bearer realm=api authorization_url=/api/o/authorize/";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400, DRF ParseError
    #[error("{0}")]
    BadRequest(String),
    #[error("Not found.")]
    NotFound,
    #[error("Invalid page.")]
    InvalidPage,
    #[error("{NOT_AUTHENTICATED}")]
    NotAuthenticated,
    #[error("You do not have permission to perform this action.")]
    Forbidden,
    /// 500 from Django itself (its HTML page), e.g. metrics/ while Redis is down
    #[error("Server Error (500)")]
    ServerErrorPage,
    #[error("Method \"{0}\" not allowed.")]
    MethodNotAllowed(String),
    /// a body that is not `{"detail": ...}`, e.g. the dashboard's `{"error": ...}`
    #[error("{1}")]
    Body(StatusCode, String),
}

/// Django's page for an unhandled error when no 500 template is installed (AWX 24.6.1's answer
/// on metrics/ with Redis down, samples/real-awx-24.6.1/metrics_without_redis.txt).
pub const SERVER_ERROR_PAGE: &str = "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n";

impl ApiError {
    /// DRF's error code (`ErrorDetail.code`) where the detail is an `ErrorDetail`.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            ApiError::BadRequest(_) => Some("parse_error"),
            ApiError::NotFound | ApiError::InvalidPage => Some("not_found"),
            ApiError::Forbidden => Some("permission_denied"),
            ApiError::MethodNotAllowed(_) => Some("method_not_allowed"),
            // AWX appends its login hint to a 401's detail, which makes it a plain str
            ApiError::NotAuthenticated | ApiError::ServerErrorPage | ApiError::Body(..) => None,
        }
    }

    /// The body AWX sends (content type, text): `{"detail": ...}` JSON, or Django's HTML page.
    pub fn render(&self) -> (&'static str, String) {
        match self {
            ApiError::Body(_, b) => ("application/json", b.clone()),
            ApiError::ServerErrorPage => {
                ("text/html; charset=utf-8", SERVER_ERROR_PAGE.to_string())
            }
            other => (
                "application/json",
                serde_json::json!({ "detail": other.to_string() }).to_string(),
            ),
        }
    }

    /// The body of metrics/'s errors: its plain-text renderer writes `str()` of the error dict,
    /// a Python repr (samples/real-awx-24.6.1/auth_probes.txt).
    pub fn python_repr(&self) -> String {
        let detail = py_str_repr(&self.to_string());
        match self.code() {
            Some(code) => format!(
                "{{'detail': ErrorDetail(string={detail}, code={})}}",
                py_str_repr(code)
            ),
            None => format!("{{'detail': {detail}}}"),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound | ApiError::InvalidPage => StatusCode::NOT_FOUND,
            ApiError::NotAuthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::ServerErrorPage => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Body(s, _) => *s,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (content_type, body) = self.render();
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        resp
    }
}

/// Python's `repr()` of a str: single quotes unless the text has a single quote and no double one.
pub fn py_str_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
