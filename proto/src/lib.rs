#![doc = r#"
Wire contracts of Sextant, a drop-in replacement for the Jaeger tracing backend.

This crate holds the protobuf IDL files (under `proto/` in the repository) that
real Jaeger, OpenTelemetry and Zipkin clients speak, and the Rust code generated
from them at build time with `protox` + `tonic-prost-build`: prost messages and
tonic client/server stubs.

# Module layout

Generated modules are nested exactly like the protobuf packages, because the
generated code refers to other packages through `super::` paths:

| protobuf package                          | Rust module                                         |
|-------------------------------------------|-----------------------------------------------------|
| `jaeger.api_v2`                           | [`jaeger::api_v2`] (model, collector, query, sampling) |
| `jaeger.api_v3`                           | [`jaeger::api_v3`] (query service, capabilities)    |
| `jaeger.expression.v1`                    | [`jaeger::expression::v1`] (api_v3 structured filter) |
| `jaeger.storage.v1`                       | [`jaeger::storage::v1`] (remote storage API)        |
| `opentelemetry.proto.common.v1`           | [`opentelemetry::proto::common::v1`]                |
| `opentelemetry.proto.resource.v1`         | [`opentelemetry::proto::resource::v1`]              |
| `opentelemetry.proto.trace.v1`            | [`opentelemetry::proto::trace::v1`]                 |
| `opentelemetry.proto.collector.trace.v1`  | [`opentelemetry::proto::collector::trace::v1`]      |
| `zipkin.proto3`                           | [`zipkin::proto3`], also re-exported as [`zipkin`]  |

[`otlp`] is a short alias for [`opentelemetry::proto`], so
`sextant_proto::otlp::trace::v1::Span` is the OTLP span.

gRPC services (each has a `<name>_server` module with the service trait and
`<Name>Server`, and a `<name>_client` module with `<Name>Client`):

* `jaeger.api_v2.CollectorService` — [`jaeger::api_v2::collector_service_server`]
* `jaeger.api_v2.QueryService` — [`jaeger::api_v2::query_service_server`]
* `jaeger.api_v2.SamplingManager` — [`jaeger::api_v2::sampling_manager_server`]
* `jaeger.api_v3.QueryService` — [`jaeger::api_v3::query_service_server`]
* `jaeger.api_v3.Capabilities` — [`jaeger::api_v3::capabilities_server`]
* `jaeger.storage.v1.{SpanWriterPlugin, StreamingSpanWriterPlugin,
  SpanReaderPlugin, ArchiveSpanWriterPlugin, ArchiveSpanReaderPlugin,
  DependenciesReaderPlugin, PluginCapabilities}` — the remote storage API,
  [`jaeger::storage::v1`] (`span_writer_plugin_server`, ...)
* `opentelemetry.proto.collector.trace.v1.TraceService` —
  [`otlp::collector::trace::v1::trace_service_server`]
* `zipkin.proto3.SpanService` — [`zipkin::span_service_server`]

# Conventions of the generated types

* Every singular message-typed field is an `Option<_>`, including the
  `google.protobuf.Timestamp` / `Duration` fields (as `prost_types::Timestamp` /
  `prost_types::Duration`) that upstream Jaeger marks non-nullable with gogoproto.
* Enum-typed fields are stored as `i32`; prost generates typed getters/setters
  (e.g. `key_value.v_type()` / `set_v_type(ValueType::Int64)`).
* Jaeger api_v2 trace/span ids are raw `Vec<u8>` (16 and 8 bytes big-endian);
  api_v3 `GetTraceRequest.trace_id` is a hex string.
* camelCase proto field names become snake_case Rust fields
  (`samplingRate` → `sampling_rate`), and acronyms are re-cased
  (`GRPCGatewayError` → `GrpcGatewayError`).

[`FILE_DESCRIPTOR_SET`] is the encoded `google.protobuf.FileDescriptorSet` of all
compiled files (with their imports and comments), ready for `tonic-reflection`.

The Thrift IDLs in `proto/thrift/` document the Thrift wire contract; the
Thrift codec is hand-written in the model crate and nothing is generated here.
"#]

/// Includes one generated file from `OUT_DIR`, named after its protobuf package.
macro_rules! include_generated {
    ($package:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
    };
}

/// Jaeger's own protobuf packages.
pub mod jaeger {
    /// Package `jaeger.api_v2`: the Jaeger domain model (`model.proto`), the
    /// collector (`CollectorService.PostSpans`), the query service
    /// (`QueryService`) and remote sampling (`SamplingManager`).
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod api_v2 {
        include_generated!("jaeger.api_v2");
    }

    /// Package `jaeger.api_v3`: the OTLP-based query service (`QueryService`,
    /// streaming `opentelemetry.proto.trace.v1.TracesData`), the HTTP gateway
    /// envelopes and the `Capabilities` service.
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod api_v3 {
        include_generated!("jaeger.api_v3");
    }

    /// Jaeger's structured query filter AST.
    pub mod expression {
        /// Package `jaeger.expression.v1` (experimental): the filter AST used by
        /// `jaeger.api_v3.TraceQueryParameters.filter`.
        #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
        pub mod v1 {
            include_generated!("jaeger.expression.v1");
        }
    }

    /// Jaeger's storage plugin APIs.
    pub mod storage {
        /// Package `jaeger.storage.v1`: the Remote Storage API
        /// (`SPAN_STORAGE_TYPE=grpc`, served by `jaeger-remote-storage` on
        /// :17271): span writer (unary and client-streaming), span reader,
        /// dependencies reader, plugin capabilities, and the deprecated
        /// archive services.
        #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
        pub mod v1 {
            include_generated!("jaeger.storage.v1");
        }
    }
}

/// OpenTelemetry protocol (OTLP) packages, `opentelemetry.proto.*`.
pub mod opentelemetry {
    /// `opentelemetry.proto`; also reachable as [`crate::otlp`].
    pub mod proto {
        /// Common OTLP types.
        pub mod common {
            /// Package `opentelemetry.proto.common.v1`: `AnyValue`, `KeyValue`,
            /// `InstrumentationScope`, `EntityRef`.
            #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
            pub mod v1 {
                include_generated!("opentelemetry.proto.common.v1");
            }
        }

        /// OTLP resources.
        pub mod resource {
            /// Package `opentelemetry.proto.resource.v1`: `Resource`.
            #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
            pub mod v1 {
                include_generated!("opentelemetry.proto.resource.v1");
            }
        }

        /// OTLP trace data model.
        pub mod trace {
            /// Package `opentelemetry.proto.trace.v1`: `TracesData`,
            /// `ResourceSpans`, `ScopeSpans`, `Span`, `Status`, `SpanFlags`.
            #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
            pub mod v1 {
                include_generated!("opentelemetry.proto.trace.v1");
            }
        }

        /// OTLP collector services.
        pub mod collector {
            /// OTLP trace collector service.
            pub mod trace {
                /// Package `opentelemetry.proto.collector.trace.v1`:
                /// `TraceService.Export` and its request/response.
                #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
                pub mod v1 {
                    include_generated!("opentelemetry.proto.collector.trace.v1");
                }
            }
        }
    }
}

/// Short alias: `sextant_proto::otlp::trace::v1::Span` etc.
pub use opentelemetry::proto as otlp;

/// Zipkin's protobuf model. Everything in [`zipkin::proto3`] is re-exported here.
pub mod zipkin {
    /// Package `zipkin.proto3`: `Span`, `Endpoint`, `Annotation`,
    /// `ListOfSpans`, `ReportResponse` and the `SpanService` gRPC service.
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod proto3 {
        include_generated!("zipkin.proto3");
    }

    pub use proto3::*;
}

/// Encoded `google.protobuf.FileDescriptorSet` of every compiled `.proto` file
/// (including imports such as `google/protobuf/timestamp.proto`, and source
/// comments). Pass it to `tonic_reflection::server::Builder::register_encoded_file_descriptor_set`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sextant_descriptor.bin"));
