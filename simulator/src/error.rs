//! Typed errors: API errors render as AWX does (`{"detail": ...}` with the matching status).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided. To establish a login session, visit /api/login/.";
pub const BAD_CREDENTIALS: &str =
    "Invalid username/password. To establish a login session, visit /api/login/.";
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
    #[error("{0}")]
    AuthFailed(String),
    #[error("You do not have permission to perform this action.")]
    Forbidden,
    #[error("Method \"{0}\" not allowed.")]
    MethodNotAllowed(String),
    /// a body that is not `{"detail": ...}`, e.g. the dashboard's `{"error": ...}`
    #[error("{1}")]
    Body(StatusCode, String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound | ApiError::InvalidPage => StatusCode::NOT_FOUND,
            ApiError::NotAuthenticated | ApiError::AuthFailed(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Body(s, _) => *s,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::Body(_, b) => b.clone(),
            other => serde_json::json!({ "detail": other.to_string() }).to_string(),
        };
        let mut resp = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
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
