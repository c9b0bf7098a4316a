//! OTLP/JSON against Jaeger's storage integration fixtures (tests/fixtures/otlp, see the
//! README there): every file decodes, decode → encode → decode is the identity, and the
//! encoder writes the same JSON the file holds.

use std::path::PathBuf;

use sextant_model::otlp_json;
use sextant_model::*;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn all_fixtures_are_present() {
    assert_eq!(fixtures().len(), 32);
}

#[test]
fn every_fixture_decodes_and_round_trips() {
    for (name, bytes) in fixtures() {
        let spans =
            otlp_json::decode_export_request(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!spans.is_empty(), "{name}");
        for span in &spans {
            assert!(!span.service_name().is_empty(), "{name}");
            assert!(!span.trace_id.is_zero(), "{name}");
            assert!(span.warnings.is_empty(), "{name}");
        }
        let encoded = otlp_json::encode_export_request(&spans);
        let again = otlp_json::decode_export_request(&encoded).unwrap();
        assert_eq!(again, spans, "{name}");
    }
}

#[test]
fn encoding_reproduces_the_fixture_json() {
    for (name, bytes) in fixtures() {
        let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let spans = otlp_json::decode_export_request(&bytes).unwrap();
        assert_eq!(otlp_json::to_json_value(&spans), original, "{name}");
    }
}

#[test]
fn fixture_values_decode_to_the_right_types() {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "link_attributes_trace")
        .unwrap();
    let spans = otlp_json::decode_export_request(&bytes).unwrap();
    let span = &spans[0];
    assert_eq!(span.service_name(), "query25-service");
    assert_eq!(span.trace_id, TraceId(0x226));
    assert_eq!(span.span_id, SpanId(4));
    assert_eq!(span.start_time_unix_nano, 1_485_449_191_639_875_000);
    assert_eq!(span.duration_nanos(), 2_000);
    let link = &span.links[0];
    assert_eq!(link.trace_id, TraceId(0xff));
    assert_eq!(
        link.attributes,
        vec![
            KeyValue::new(REF_TYPE_ATTR, "child_of"),
            KeyValue::new("sameplacelinkattribute1", "sameplacevalue"),
            KeyValue::new("sameplacelinkattribute2", 123i64),
            KeyValue::new("sameplacelinkattribute4", true),
            KeyValue::new("sameplacelinkattribute3", 72.5),
            KeyValue::new("linkblob", AnyValue::Bytes(vec![0, 0, 0x30, 0x39])),
        ]
    );

    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "scope_name_version_trace")
        .unwrap();
    let spans = otlp_json::decode_export_request(&bytes).unwrap();
    assert!(spans
        .iter()
        .any(|s| !s.scope.name.is_empty() && !s.scope.version.is_empty()));
}
