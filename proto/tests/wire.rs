//! Wire-level checks of the generated code: prost round trips of one message per
//! package, golden encodings of a few fields whose numbers are easy to get wrong,
//! and the contents of `FILE_DESCRIPTOR_SET`.

use std::collections::{BTreeSet, HashMap};

use prost::Message;
use prost_types::{Duration, FileDescriptorSet, Timestamp};
use sextant_proto::{jaeger, otlp, zipkin, FILE_DESCRIPTOR_SET};

fn roundtrip<M: Message + Default + PartialEq + std::fmt::Debug>(msg: &M) -> Vec<u8> {
    let bytes = msg.encode_to_vec();
    let back = M::decode(bytes.as_slice()).expect("decode");
    assert_eq!(&back, msg);
    bytes
}

#[test]
fn jaeger_api_v2_span_with_process_roundtrips() {
    use jaeger::api_v2::{
        Batch, KeyValue, Log, PostSpansRequest, Process, Span, SpanRef, SpanRefType, ValueType,
    };

    let mut tag = KeyValue {
        key: "http.status_code".into(),
        v_int64: 200,
        ..Default::default()
    };
    tag.set_v_type(ValueType::Int64);

    let span = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![0xcd; 8],
        operation_name: "GET /".into(),
        references: vec![SpanRef {
            trace_id: vec![0xab; 16],
            span_id: vec![0x01; 8],
            ref_type: SpanRefType::FollowsFrom as i32,
        }],
        flags: 1,
        start_time: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_000,
        }),
        duration: Some(Duration {
            seconds: 0,
            nanos: 5_000_000,
        }),
        tags: vec![tag.clone()],
        logs: vec![Log {
            timestamp: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 500,
            }),
            fields: vec![KeyValue {
                key: "event".into(),
                v_str: "error".into(),
                ..Default::default()
            }],
        }],
        process: Some(Process {
            service_name: "frontend".into(),
            tags: vec![tag],
        }),
        process_id: "p1".into(),
        warnings: vec!["clock skew".into()],
    };
    roundtrip(&span);

    let req = PostSpansRequest {
        batch: Some(Batch {
            spans: vec![span.clone(), span],
            process: Some(Process {
                service_name: "frontend".into(),
                tags: vec![],
            }),
        }),
    };
    let decoded = PostSpansRequest::decode(roundtrip(&req).as_slice()).unwrap();
    let batch = decoded.batch.unwrap();
    assert_eq!(batch.spans.len(), 2);
    assert_eq!(batch.spans[0].tags[0].v_type(), ValueType::Int64);
    assert_eq!(
        batch.spans[0].references[0].ref_type(),
        SpanRefType::FollowsFrom
    );
}

#[test]
fn jaeger_api_v2_golden_bytes() {
    use jaeger::api_v2::{KeyValue, ValueType};
    // key=1 (len), v_type=2 (varint), v_int64=5 (varint)
    let kv = KeyValue {
        key: "a".into(),
        v_type: ValueType::Int64 as i32,
        v_int64: 1,
        ..Default::default()
    };
    assert_eq!(
        kv.encode_to_vec(),
        [0x0a, 0x01, b'a', 0x10, 0x02, 0x28, 0x01]
    );

    // Span.process_id = 11, warnings = 12
    let span = jaeger::api_v2::Span {
        process_id: "p".into(),
        warnings: vec!["w".into()],
        ..Default::default()
    };
    assert_eq!(span.encode_to_vec(), [0x5a, 0x01, b'p', 0x62, 0x01, b'w']);

    // PerOperationSamplingStrategies.defaultUpperBoundTracesPerSecond = 4 (double)
    let s = jaeger::api_v2::PerOperationSamplingStrategies {
        default_upper_bound_traces_per_second: 1.0,
        ..Default::default()
    };
    assert_eq!(s.encode_to_vec()[0], (4 << 3) | 1);
}

#[test]
fn jaeger_api_v2_sampling_roundtrips() {
    use jaeger::api_v2::{
        OperationSamplingStrategy, PerOperationSamplingStrategies, ProbabilisticSamplingStrategy,
        SamplingStrategyResponse, SamplingStrategyType,
    };
    let resp = SamplingStrategyResponse {
        strategy_type: SamplingStrategyType::Probabilistic as i32,
        probabilistic_sampling: Some(ProbabilisticSamplingStrategy { sampling_rate: 0.5 }),
        rate_limiting_sampling: None,
        operation_sampling: Some(PerOperationSamplingStrategies {
            default_sampling_probability: 0.1,
            default_lower_bound_traces_per_second: 1.0,
            per_operation_strategies: vec![OperationSamplingStrategy {
                operation: "op".into(),
                probabilistic_sampling: Some(ProbabilisticSamplingStrategy { sampling_rate: 1.0 }),
            }],
            default_upper_bound_traces_per_second: 10.0,
        }),
    };
    roundtrip(&resp);
}

#[test]
fn jaeger_api_v3_query_roundtrips() {
    use jaeger::api_v3::{FindTracesRequest, GetTraceRequest, TraceQueryParameters};
    use jaeger::expression::v1::{expression::Term, AttributeReference, Call, Expression, Scalar};

    roundtrip(&GetTraceRequest {
        trace_id: "0123456789abcdef0123456789abcdef".into(),
        start_time: Some(Timestamp {
            seconds: 1,
            nanos: 0,
        }),
        end_time: None,
        raw_traces: true,
    });

    let req = FindTracesRequest {
        query: Some(TraceQueryParameters {
            service_name: "frontend".into(),
            attributes: HashMap::from([("error".to_string(), "true".to_string())]),
            search_depth: 20,
            filter: Some(Call {
                op: "eq".into(),
                args: vec![
                    Expression {
                        term: Some(Term::Attr(AttributeReference {
                            key: "http.status_code".into(),
                            level: String::new(),
                        })),
                    },
                    Expression {
                        term: Some(Term::Scalar(Scalar {
                            value: "500".into(),
                            r#type: String::new(),
                        })),
                    },
                ],
            }),
            ..Default::default()
        }),
    };
    roundtrip(&req);

    // api_v3 streams OTLP TracesData; the gateway wrapper embeds it as field 1.
    let wrapper = jaeger::api_v3::GrpcGatewayWrapper {
        result: Some(otlp::trace::v1::TracesData::default()),
    };
    assert_eq!(wrapper.encode_to_vec(), [0x0a, 0x00]);
}

fn otlp_request() -> otlp::collector::trace::v1::ExportTraceServiceRequest {
    use otlp::common::v1::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
    use otlp::resource::v1::Resource;
    use otlp::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

    let attr = |k: &str, v: Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        key_strindex: 0,
    };
    otlp::collector::trace::v1::ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attr("service.name", Value::StringValue("checkout".into()))],
                dropped_attributes_count: 0,
                entity_refs: vec![],
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    attributes: vec![attr("x", Value::BoolValue(true))],
                    dropped_attributes_count: 0,
                }),
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    parent_span_id: vec![3; 8],
                    flags: 0x301,
                    name: "charge".into(),
                    kind: span::SpanKind::Server as i32,
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    end_time_unix_nano: 1_700_000_000_005_000_000,
                    attributes: vec![
                        attr("http.status_code", Value::IntValue(200)),
                        attr("ratio", Value::DoubleValue(0.5)),
                    ],
                    events: vec![span::Event {
                        time_unix_nano: 1_700_000_000_001_000_000,
                        name: "retry".into(),
                        ..Default::default()
                    }],
                    links: vec![span::Link {
                        trace_id: vec![4; 16],
                        span_id: vec![5; 8],
                        flags: 0x100,
                        ..Default::default()
                    }],
                    status: Some(Status {
                        message: "boom".into(),
                        code: otlp::trace::v1::status::StatusCode::Error as i32,
                    }),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
        }],
    }
}

#[test]
fn otlp_export_request_roundtrips() {
    let req = otlp_request();
    let bytes = roundtrip(&req);
    let back = otlp::collector::trace::v1::ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
    let span = &back.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.kind(), otlp::trace::v1::span::SpanKind::Server);
    assert_eq!(span.flags, 0x301);
    assert_eq!(span.links[0].flags, 0x100);

    let resp = otlp::collector::trace::v1::ExportTraceServiceResponse {
        partial_success: Some(otlp::collector::trace::v1::ExportTracePartialSuccess {
            rejected_spans: 3,
            error_message: "bad".into(),
        }),
    };
    roundtrip(&resp);
}

#[test]
fn otlp_golden_bytes() {
    use otlp::trace::v1::Span;
    // Span.flags is fixed32 field 16: tag varint (16 << 3 | 5) = 0x85 0x01.
    let span = Span {
        flags: 1,
        ..Default::default()
    };
    assert_eq!(span.encode_to_vec(), [0x85, 0x01, 1, 0, 0, 0]);
    // start_time_unix_nano is fixed64 field 7.
    let span = Span {
        start_time_unix_nano: 1,
        ..Default::default()
    };
    assert_eq!(span.encode_to_vec(), [0x39, 1, 0, 0, 0, 0, 0, 0, 0]);
    // Link.flags is fixed32 field 6.
    let link = otlp::trace::v1::span::Link {
        flags: 1,
        ..Default::default()
    };
    assert_eq!(link.encode_to_vec(), [0x35, 1, 0, 0, 0]);
    // Status.code is field 3 (field 1 is reserved).
    let status = otlp::trace::v1::Status {
        code: 2,
        ..Default::default()
    };
    assert_eq!(status.encode_to_vec(), [0x18, 0x02]);
    // SpanFlags masks.
    assert_eq!(
        otlp::trace::v1::SpanFlags::ContextIsRemoteMask as i32,
        0x200
    );
}

#[test]
fn zipkin_list_of_spans_roundtrips() {
    use zipkin::{span::Kind, Annotation, Endpoint, ListOfSpans, Span};
    let list = ListOfSpans {
        spans: vec![Span {
            trace_id: vec![9; 16],
            parent_id: vec![8; 8],
            id: vec![7; 8],
            kind: Kind::Client as i32,
            name: "get".into(),
            timestamp: 1_502_787_600_000_000,
            duration: 150_000,
            local_endpoint: Some(Endpoint {
                service_name: "frontend".into(),
                ipv4: vec![127, 0, 0, 1],
                ipv6: vec![],
                port: 8080,
            }),
            remote_endpoint: None,
            annotations: vec![Annotation {
                timestamp: 1_502_787_600_000_001,
                value: "ws".into(),
            }],
            tags: HashMap::from([("http.path".to_string(), "/api".to_string())]),
            debug: true,
            shared: false,
        }],
    };
    roundtrip(&list);
    // Same types through the package-shaped path.
    let _: zipkin::proto3::ListOfSpans = list;
    // timestamp is fixed64 field 6; duration is varint field 7.
    let s = Span {
        timestamp: 1,
        duration: 1,
        ..Default::default()
    };
    assert_eq!(s.encode_to_vec(), [0x31, 1, 0, 0, 0, 0, 0, 0, 0, 0x38, 1]);
}

fn descriptor_set() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("FILE_DESCRIPTOR_SET decodes")
}

#[test]
fn file_descriptor_set_lists_files_and_services() {
    let fds = descriptor_set();
    let files: BTreeSet<&str> = fds.file.iter().map(|f| f.name()).collect();
    for expected in [
        "jaeger/api_v2/model.proto",
        "jaeger/api_v2/collector.proto",
        "jaeger/api_v2/query.proto",
        "jaeger/api_v2/sampling.proto",
        "jaeger/api_v3/query_service.proto",
        "jaeger/api_v3/capabilities.proto",
        "jaeger/expression/v1/expression.proto",
        "jaeger/storage/v1/storage.proto",
        "opentelemetry/proto/common/v1/common.proto",
        "opentelemetry/proto/resource/v1/resource.proto",
        "opentelemetry/proto/trace/v1/trace.proto",
        "opentelemetry/proto/collector/trace/v1/trace_service.proto",
        "zipkin/zipkin.proto",
        "google/protobuf/timestamp.proto",
        "google/protobuf/duration.proto",
    ] {
        assert!(files.contains(expected), "missing {expected}: {files:?}");
    }

    // fully-qualified service -> [(method, server_streaming)]
    let services: HashMap<String, Vec<(String, bool)>> = fds
        .file
        .iter()
        .flat_map(|f| {
            f.service.iter().map(move |s| {
                (
                    format!("{}.{}", f.package(), s.name()),
                    s.method
                        .iter()
                        .map(|m| (m.name().to_string(), m.server_streaming()))
                        .collect(),
                )
            })
        })
        .collect();

    let expect = |svc: &str, methods: &[(&str, bool)]| {
        let got = services
            .get(svc)
            .unwrap_or_else(|| panic!("missing service {svc}"));
        let got: Vec<(&str, bool)> = got.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        assert_eq!(got, methods, "methods of {svc}");
    };
    expect("jaeger.api_v2.CollectorService", &[("PostSpans", false)]);
    expect(
        "jaeger.api_v2.QueryService",
        &[
            ("GetTrace", true),
            ("ArchiveTrace", false),
            ("FindTraces", true),
            ("GetServices", false),
            ("GetOperations", false),
            ("GetDependencies", false),
        ],
    );
    expect(
        "jaeger.api_v2.SamplingManager",
        &[("GetSamplingStrategy", false)],
    );
    expect(
        "jaeger.api_v3.QueryService",
        &[
            ("GetTrace", true),
            ("FindTraces", true),
            ("GetServices", false),
            ("GetOperations", false),
            ("GetDependencies", false),
            ("FindTraceSummaries", true),
        ],
    );
    expect("jaeger.api_v3.Capabilities", &[("GetCapabilities", false)]);
    expect(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        &[("Export", false)],
    );
    expect("zipkin.proto3.SpanService", &[("Report", false)]);
    // The remote storage API (jaeger.storage.v1), every upstream service.
    expect(
        "jaeger.storage.v1.SpanWriterPlugin",
        &[("WriteSpan", false), ("Close", false)],
    );
    expect(
        "jaeger.storage.v1.StreamingSpanWriterPlugin",
        &[("WriteSpanStream", false)],
    );
    expect(
        "jaeger.storage.v1.SpanReaderPlugin",
        &[
            ("GetTrace", true),
            ("GetServices", false),
            ("GetOperations", false),
            ("FindTraces", true),
            ("FindTraceIDs", false),
        ],
    );
    expect(
        "jaeger.storage.v1.ArchiveSpanWriterPlugin",
        &[("WriteArchiveSpan", false)],
    );
    expect(
        "jaeger.storage.v1.ArchiveSpanReaderPlugin",
        &[("GetArchiveTrace", true)],
    );
    expect(
        "jaeger.storage.v1.DependenciesReaderPlugin",
        &[("GetDependencies", false)],
    );
    expect(
        "jaeger.storage.v1.PluginCapabilities",
        &[("Capabilities", false)],
    );
    assert_eq!(
        services.len(),
        14,
        "unexpected services: {:?}",
        services.keys()
    );

    // api_v3 streams OTLP TracesData.
    let v3 = fds
        .file
        .iter()
        .find(|f| f.name() == "jaeger/api_v3/query_service.proto")
        .unwrap();
    let get_trace = &v3.service[0].method[0];
    assert_eq!(
        get_trace.output_type(),
        ".opentelemetry.proto.trace.v1.TracesData"
    );
}

/// Field numbers and names of the messages real clients depend on, checked
/// against the compiled descriptors (upstream is the reference for this table).
#[test]
fn wire_contract_field_numbers() {
    let fds = descriptor_set();
    let mut fields: HashMap<String, HashMap<String, i32>> = HashMap::new();
    fn walk(
        prefix: &str,
        msgs: &[prost_types::DescriptorProto],
        out: &mut HashMap<String, HashMap<String, i32>>,
    ) {
        for m in msgs {
            let name = format!("{prefix}.{}", m.name());
            out.insert(
                name.clone(),
                m.field
                    .iter()
                    .map(|f| (f.name().to_string(), f.number()))
                    .collect(),
            );
            walk(&name, &m.nested_type, out);
        }
    }
    for f in &fds.file {
        walk(f.package(), &f.message_type, &mut fields);
    }

    let check = |msg: &str, expected: &[(&str, i32)]| {
        let got = fields
            .get(msg)
            .unwrap_or_else(|| panic!("missing message {msg}"));
        for (name, number) in expected {
            assert_eq!(got.get(*name), Some(number), "{msg}.{name}");
        }
        assert_eq!(got.len(), expected.len(), "field count of {msg}: {got:?}");
    };

    check(
        "jaeger.api_v2.KeyValue",
        &[
            ("key", 1),
            ("v_type", 2),
            ("v_str", 3),
            ("v_bool", 4),
            ("v_int64", 5),
            ("v_float64", 6),
            ("v_binary", 7),
        ],
    );
    check(
        "jaeger.api_v2.Span",
        &[
            ("trace_id", 1),
            ("span_id", 2),
            ("operation_name", 3),
            ("references", 4),
            ("flags", 5),
            ("start_time", 6),
            ("duration", 7),
            ("tags", 8),
            ("logs", 9),
            ("process", 10),
            ("process_id", 11),
            ("warnings", 12),
        ],
    );
    check(
        "jaeger.api_v2.SpanRef",
        &[("trace_id", 1), ("span_id", 2), ("ref_type", 3)],
    );
    check("jaeger.api_v2.Batch", &[("spans", 1), ("process", 2)]);
    check(
        "jaeger.api_v2.DependencyLink",
        &[
            ("parent", 1),
            ("child", 2),
            ("call_count", 3),
            ("source", 4),
        ],
    );
    check(
        "jaeger.api_v2.TraceQueryParameters",
        &[
            ("service_name", 1),
            ("operation_name", 2),
            ("tags", 3),
            ("start_time_min", 4),
            ("start_time_max", 5),
            ("duration_min", 6),
            ("duration_max", 7),
            ("search_depth", 8),
            ("raw_traces", 9),
        ],
    );
    check(
        "jaeger.api_v2.GetTraceRequest",
        &[
            ("trace_id", 1),
            ("start_time", 2),
            ("end_time", 3),
            ("raw_traces", 4),
        ],
    );
    check(
        "jaeger.api_v2.GetOperationsResponse",
        &[("operationNames", 1), ("operations", 2)],
    );
    check(
        "jaeger.api_v2.SamplingStrategyResponse",
        &[
            ("strategyType", 1),
            ("probabilisticSampling", 2),
            ("rateLimitingSampling", 3),
            ("operationSampling", 4),
        ],
    );
    check(
        "jaeger.storage.v1.TraceQueryParameters",
        &[
            ("service_name", 1),
            ("operation_name", 2),
            ("tags", 3),
            ("start_time_min", 4),
            ("start_time_max", 5),
            ("duration_min", 6),
            ("duration_max", 7),
            ("num_traces", 8),
        ],
    );
    check(
        "jaeger.storage.v1.GetTraceRequest",
        &[("trace_id", 1), ("start_time", 2), ("end_time", 3)],
    );
    check(
        "jaeger.storage.v1.GetOperationsResponse",
        &[("operationNames", 1), ("operations", 2)],
    );
    check(
        "jaeger.storage.v1.GetDependenciesRequest",
        &[("start_time", 1), ("end_time", 2)],
    );
    check(
        "jaeger.storage.v1.CapabilitiesResponse",
        &[
            ("archiveSpanReader", 1),
            ("archiveSpanWriter", 2),
            ("streamingSpanWriter", 3),
        ],
    );
    check(
        "jaeger.api_v3.TraceQueryParameters",
        &[
            ("service_name", 1),
            ("operation_name", 2),
            ("attributes", 3),
            ("start_time_min", 4),
            ("start_time_max", 5),
            ("duration_min", 6),
            ("duration_max", 7),
            ("search_depth", 8),
            ("raw_traces", 9),
            ("filter", 10),
        ],
    );
    check(
        "jaeger.api_v3.GetTraceRequest",
        &[
            ("trace_id", 1),
            ("start_time", 2),
            ("end_time", 3),
            ("raw_traces", 4),
        ],
    );
    check(
        "opentelemetry.proto.trace.v1.Span",
        &[
            ("trace_id", 1),
            ("span_id", 2),
            ("trace_state", 3),
            ("parent_span_id", 4),
            ("name", 5),
            ("kind", 6),
            ("start_time_unix_nano", 7),
            ("end_time_unix_nano", 8),
            ("attributes", 9),
            ("dropped_attributes_count", 10),
            ("events", 11),
            ("dropped_events_count", 12),
            ("links", 13),
            ("dropped_links_count", 14),
            ("status", 15),
            ("flags", 16),
        ],
    );
    check(
        "opentelemetry.proto.trace.v1.Span.Link",
        &[
            ("trace_id", 1),
            ("span_id", 2),
            ("trace_state", 3),
            ("attributes", 4),
            ("dropped_attributes_count", 5),
            ("flags", 6),
        ],
    );
    check(
        "opentelemetry.proto.common.v1.AnyValue",
        &[
            ("string_value", 1),
            ("bool_value", 2),
            ("int_value", 3),
            ("double_value", 4),
            ("array_value", 5),
            ("kvlist_value", 6),
            ("bytes_value", 7),
            ("string_value_strindex", 8),
        ],
    );
    check(
        "opentelemetry.proto.common.v1.InstrumentationScope",
        &[
            ("name", 1),
            ("version", 2),
            ("attributes", 3),
            ("dropped_attributes_count", 4),
        ],
    );
    check(
        "opentelemetry.proto.resource.v1.Resource",
        &[
            ("attributes", 1),
            ("dropped_attributes_count", 2),
            ("entity_refs", 3),
        ],
    );
    check(
        "zipkin.proto3.Span",
        &[
            ("trace_id", 1),
            ("parent_id", 2),
            ("id", 3),
            ("kind", 4),
            ("name", 5),
            ("timestamp", 6),
            ("duration", 7),
            ("local_endpoint", 8),
            ("remote_endpoint", 9),
            ("annotations", 10),
            ("tags", 11),
            ("debug", 12),
            ("shared", 13),
        ],
    );
}
