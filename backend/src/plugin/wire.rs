//! The protocol messages that grafana-plugin-sdk 0.5.0's generated types lack, written
//! from the field numbers of Grafana's plugin protocol (grafana-plugin-sdk-go's
//! `backend.proto`) and go-plugin's `grpc_controller.proto`. Field numbers are the wire
//! contract: an older Grafana ignores the fields it does not know.
//!
//! - `DataResponse.errorSource` (5): whether a failed query is the plugin's fault or
//!   its upstream's (AWX, Prometheus, the user's input). Grafana counts errors without it
//!   against the plugin.
//! - `plugin.GRPCController/Shutdown`: go-plugin's `Kill()` calls it first and waits 2 s
//!   for the process to exit before killing it.
//!
//! The request messages are still the SDK's; only the answers changed.

use std::collections::HashMap;

#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryDataResponse {
    #[prost(map = "string, message", tag = "1")]
    pub responses: HashMap<String, DataResponse>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DataResponse {
    /// Arrow IPC files, one per frame.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub frames: Vec<Vec<u8>>,
    #[prost(string, tag = "2")]
    pub error: String,
    #[prost(bytes = "vec", tag = "3")]
    pub json_meta: Vec<u8>,
    /// HTTP-like status of this query.
    #[prost(int32, tag = "4")]
    pub status: i32,
    /// `plugin` or `downstream`; empty when there is no error.
    #[prost(string, tag = "5")]
    pub error_source: String,
}

/// go-plugin's `plugin.Empty`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Empty {}

/// Who is to blame for a failed query, in Grafana's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// A fault of the plugin itself (a bug, an encoding failure).
    Plugin,
    /// AWX or Prometheus failed or refused, or the query or settings need fixing.
    Downstream,
}

impl ErrorSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorSource::Plugin => "plugin",
            ErrorSource::Downstream => "downstream",
        }
    }
}

include!(concat!(env!("OUT_DIR"), "/pluginv2.Data.rs"));
/// The route must read `GRPCController`, from which the generator derives these names.
mod controller {
    include!(concat!(env!("OUT_DIR"), "/plugin.GRPCController.rs"));
}
pub use controller::g_r_p_c_controller_client as grpc_controller_client;
pub use controller::g_r_p_c_controller_server as grpc_controller_server;

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn the_error_source_is_field_5_and_older_readers_still_decode() {
        let r = DataResponse {
            error: "AWX answered 503".into(),
            status: 502,
            error_source: ErrorSource::Downstream.as_str().into(),
            ..Default::default()
        };
        let bytes = r.encode_to_vec();
        // Field 5, wire type 2 (length-delimited): tag byte 0x2a, then "downstream".
        let at = bytes.iter().position(|b| *b == 0x2a).expect("field 5");
        assert_eq!(bytes[at + 1] as usize, "downstream".len());
        assert_eq!(&bytes[at + 2..at + 12], b"downstream");
        let old = grafana_plugin_sdk::pluginv2::DataResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!((old.error.as_str(), old.status), ("AWX answered 503", 502));
    }
}
