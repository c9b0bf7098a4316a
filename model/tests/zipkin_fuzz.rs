//! Hostile input: random bytes, truncations and byte flips of valid payloads must give a
//! `DecodeError` or spans — never a panic — from both Zipkin decoders.

use proptest::prelude::*;
use prost::Message;
use sextant_model::zipkin::{decode_v2_json, decode_v2_proto};
use sextant_proto::zipkin::proto3 as pb;

const JSON: &str = r#"[{"traceId":"5af7183fb1d4cf5f0123456789abcdef","parentId":"6b221d5bc9e6496c","id":"352bff9a74ca9ad2","kind":"CLIENT","name":"get","timestamp":1556604172355737,"duration":1431,"localEndpoint":{"serviceName":"frontend","ipv4":"192.168.99.1","port":8080},"remoteEndpoint":{"serviceName":"backend","ipv6":"2001:db8::1","port":9000},"annotations":[{"timestamp":1556604172355800,"value":"{\"exception\": {\"a\": [1, {\"b\": null}]}}"},{"timestamp":1,"value":"n|{\"x\":1}|2"}],"tags":{"http.method":"GET","error":"boom","otel.status_code":"ERROR","n":5},"debug":true,"shared":true}]"#;

fn proto() -> Vec<u8> {
    let endpoint = |name: &str| pb::Endpoint {
        service_name: name.into(),
        ipv4: vec![10, 0, 0, 1],
        ipv6: vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        port: 9000,
    };
    pb::ListOfSpans {
        spans: vec![pb::Span {
            trace_id: vec![7; 16],
            parent_id: vec![1; 8],
            id: vec![2; 8],
            kind: 2,
            name: "get /api".into(),
            timestamp: 1_556_604_172_355_737,
            duration: 1431,
            local_endpoint: Some(endpoint("backend")),
            remote_endpoint: Some(endpoint("frontend")),
            annotations: vec![pb::Annotation {
                timestamp: 1,
                value: "go: {\"k\":\"v\"}".into(),
            }],
            tags: [("http.path".to_string(), "/api".to_string())].into(),
            debug: true,
            shared: true,
        }],
    }
    .encode_to_vec()
}

#[test]
fn the_seed_payloads_are_valid() {
    assert_eq!(decode_v2_json(JSON.as_bytes()).map(|s| s.len()), Ok(1));
    assert_eq!(decode_v2_proto(&proto()).map(|s| s.len()), Ok(1));
}

#[test]
fn every_json_truncation_is_an_error() {
    let bytes = JSON.as_bytes();
    for len in 0..bytes.len() {
        let prefix = bytes.get(..len).unwrap_or_default();
        assert!(decode_v2_json(prefix).is_err(), "prefix of {len} bytes");
    }
}

#[test]
fn every_proto_truncation_is_handled() {
    let bytes = proto();
    for len in 0..bytes.len() {
        // A protobuf prefix can be a valid (shorter) message; it must just not panic.
        let _ = decode_v2_proto(bytes.get(..len).unwrap_or_default());
    }
}

fn flipped(seed: &[u8], flips: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for (pos, value) in flips {
        let len = bytes.len();
        if let Some(b) = bytes.get_mut(pos % len) {
            *b = *value;
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_v2_json(&bytes);
        let _ = decode_v2_proto(&bytes);
    }

    #[test]
    fn mutated_json_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let _ = decode_v2_json(&flipped(JSON.as_bytes(), &flips));
    }

    #[test]
    fn mutated_json_text_never_panics(flips in proptest::collection::vec((any::<usize>(), b' '..=b'~'), 1..6)) {
        // Printable flips stay closer to JSON and reach deeper into the decoder.
        let _ = decode_v2_json(&flipped(JSON.as_bytes(), &flips));
    }

    #[test]
    fn mutated_proto_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let _ = decode_v2_proto(&flipped(&proto(), &flips));
    }
}
