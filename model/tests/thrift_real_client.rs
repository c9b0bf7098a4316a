//! Decodes a UDP packet captured from a real client: Python `jaeger-client` 4.8.0 sending
//! `emitBatch` in compact thrift (see `fixtures/thrift/`). The expected values below were
//! set by the script that produced it: service `py-svc`, a `root` span with tag `k=v` and a
//! `child` span with a log `{event: hello, x: 1}`.

use sextant_model::thrift::{decode_emit_batch, Protocol};
use sextant_model::{AnyValue, KeyValue, SpanKind};

const PACKET: &[u8] =
    include_bytes!("fixtures/thrift/jaeger_client_python_4.8.0_compact_emitbatch.bin");

#[test]
fn decodes_a_real_jaeger_client_packet() {
    let spans = decode_emit_batch(PACKET, Protocol::Compact).expect("valid packet");
    assert_eq!(spans.len(), 2);
    let root = spans.iter().find(|s| s.name == "root").expect("root span");
    let child = spans
        .iter()
        .find(|s| s.name == "child")
        .expect("child span");

    assert_eq!(root.trace_id, child.trace_id);
    assert_eq!(
        root.trace_id.high(),
        0,
        "jaeger-client defaults to 64-bit IDs"
    );
    assert!(root.is_root());
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(root.flags & 1, 1, "sampled");
    assert_eq!(root.kind, SpanKind::Unspecified);
    assert!(root.attributes.contains(&KeyValue::new("k", "v")));
    assert!(root
        .attributes
        .contains(&KeyValue::new("sampler.type", "const")));
    assert!(root.start_time_unix_nano <= child.start_time_unix_nano);
    assert!(child.end_time_unix_nano <= root.end_time_unix_nano);

    assert_eq!(child.events.len(), 1);
    let log = &child.events[0];
    assert_eq!(log.name, "hello");
    assert_eq!(log.attributes, vec![KeyValue::new("x", AnyValue::Int(1))]);
    assert!(log.time_unix_nano >= child.start_time_unix_nano);

    for span in &spans {
        assert_eq!(span.service_name(), "py-svc");
        let version = sextant_model::find_attr(&span.resource.attributes, "jaeger.version");
        assert_eq!(version, Some(&AnyValue::from("Python-4.8.0")));
        assert!(sextant_model::find_attr(&span.resource.attributes, "hostname").is_some());
    }
}

#[test]
fn reencoding_the_real_packet_round_trips() {
    use sextant_model::thrift::{encode_emit_batch, BatchMeta};
    let spans = decode_emit_batch(PACKET, Protocol::Compact).expect("valid packet");
    let process = spans[0].resource.clone();
    for protocol in [Protocol::Compact, Protocol::Binary] {
        let bytes = encode_emit_batch(&process, &spans, &BatchMeta::default(), protocol, 1);
        let back = decode_emit_batch(&bytes, protocol).expect("re-encoded packet");
        assert_eq!(back, spans);
    }
}
