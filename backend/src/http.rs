//! What the AWX and Prometheus clients share: building a reqwest client with the
//! configured TLS trust, and reading a response body with a size bound.

use std::time::Duration;

use reqwest::{Certificate, Client, Response};

use crate::settings::TlsSettings;

/// Bodies larger than this are refused: a list page of 200 jobs is well under 2 MiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the CA certificate is not valid PEM: {0}; paste the full -----BEGIN CERTIFICATE----- block")]
    BadCaCert(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

pub fn build_client(
    tls: &TlsSettings,
    timeout: Duration,
    max_idle: usize,
) -> Result<Client, BuildError> {
    let mut builder = Client::builder()
        .user_agent(concat!(
            "grafana-awx-datasource/",
            env!("CARGO_PKG_VERSION")
        ))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .pool_max_idle_per_host(max_idle)
        // Redirects could lead away from the configured host: never follow them.
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(tls.skip_verify);
    if let Some(pem) = &tls.ca_cert_pem {
        let certs = Certificate::from_pem_bundle(pem.expose().as_bytes())
            .map_err(|e| BuildError::BadCaCert(e.to_string()))?;
        if certs.is_empty() {
            return Err(BuildError::BadCaCert("no certificate found".into()));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| BuildError::Client(e.to_string()))
}

#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Read(String),
}

/// Reads a body, refusing more than `limit` bytes (a hostile or broken server cannot
/// make the plugin allocate without bound).
pub async fn read_body(mut resp: Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n as usize > limit) {
        return Err(BodyError::TooLarge);
    }
    // One allocation for the usual body whose length is announced.
    let mut body = Vec::with_capacity(resp.content_length().map_or(0, |n| n as usize));
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BodyError::Read(error_chain(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// reqwest's Display hides the cause ("error sending request"); the chain says why.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_msg = s.to_string();
        if !msg.contains(&s_msg) {
            msg.push_str(": ");
            msg.push_str(&s_msg);
        }
        source = s.source();
    }
    msg
}
