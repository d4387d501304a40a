//! The protocol adapter: Grafana's plugin gRPC services, one file each. They turn
//! protobuf requests into calls on the rest of the plugin and never hold logic of
//! their own beyond that.

mod controller;
mod data;
mod diagnostics;
mod resource;
pub mod wire;

pub use controller::Controller;

use std::sync::Arc;

use crate::instances::Instances;

/// The state every service shares.
#[derive(Debug, Default, Clone)]
pub struct Plugin {
    pub instances: Arc<Instances>,
}
