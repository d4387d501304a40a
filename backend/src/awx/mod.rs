//! Everything about talking to AWX's REST API.

pub mod client;
pub mod error;
pub mod model;

pub use client::{ApiRequest, AwxClient, Page, PAGE_SIZE};
pub use error::AwxError;
