//! Grafana data frames: the model our KPIs build ([`Frame`], [`Field`]) and its Arrow IPC
//! encoding ([`encode`]), written on arrow-rs so that labels and config survive together
//! on one field (grafana-plugin-sdk 0.5.0 drops the labels in that case).

mod encode;
mod model;

pub use encode::{encode, EncodeError};
pub use model::{Field, FieldConfig, Frame, FrameMeta, FrameType, Link, Notice, Severity, Values};
