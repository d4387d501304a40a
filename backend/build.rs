//! Generates the gRPC services whose messages grafana-plugin-sdk 0.5.0 lacks (see
//! src/plugin/wire.rs): Grafana's Data service with today's DataResponse, and go-plugin's
//! GRPCController, through which Grafana asks a plugin to stop.

use tonic_build::manual::{Builder, Method, Service};

fn method(name: &str, route: &str, input: &str, output: &str) -> Method {
    Method::builder()
        .name(name)
        .route_name(route)
        .input_type(input)
        .output_type(output)
        .codec_path("tonic::codec::ProstCodec")
        .build()
}

fn main() {
    let data = Service::builder()
        .name("Data")
        .package("pluginv2")
        .method(method(
            "query_data",
            "QueryData",
            "grafana_plugin_sdk::pluginv2::QueryDataRequest",
            "crate::plugin::wire::QueryDataResponse",
        ))
        .build();
    let controller = Service::builder()
        .name("GRPCController")
        .package("plugin")
        .method(method(
            "shutdown",
            "Shutdown",
            "crate::plugin::wire::Empty",
            "crate::plugin::wire::Empty",
        ))
        .build();
    Builder::new().compile(&[data, controller]);
    println!("cargo:rerun-if-changed=build.rs");
}
