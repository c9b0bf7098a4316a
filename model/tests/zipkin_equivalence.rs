//! The JSON and proto3 Zipkin decoders must produce identical spans for the same data:
//! both feed one mapping, and this checks the structural halves agree — for a realistic
//! batch and for generated spans.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use prost::Message;
use serde_json::{json, Map, Value};
use sextant_model::zipkin::{decode_v2_json, decode_v2_proto};
use sextant_proto::zipkin::proto3 as pb;

/// One Zipkin span in a format-neutral test shape, rendered to both wire formats.
#[derive(Clone, Debug)]
struct TestSpan {
    trace_id: u128,
    trace_id_64: bool,
    id: u64,
    parent_id: Option<u64>,
    name: String,
    kind: i32, // proto value; 0 = absent
    timestamp: u64,
    duration: u64,
    local: Option<TestEndpoint>,
    remote: Option<TestEndpoint>,
    annotations: Vec<(u64, String)>,
    tags: Vec<(String, String)>,
    debug: bool,
    shared: bool,
}

#[derive(Clone, Debug)]
struct TestEndpoint {
    service: String,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    port: u16,
}

const KINDS: [&str; 5] = ["", "CLIENT", "SERVER", "PRODUCER", "CONSUMER"];

impl TestSpan {
    fn trace_id(&self) -> u128 {
        if self.trace_id_64 {
            self.trace_id & u128::from(u64::MAX)
        } else {
            self.trace_id
        }
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        let trace_hex = if self.trace_id_64 {
            format!("{:016x}", self.trace_id())
        } else {
            format!("{:032x}", self.trace_id())
        };
        o.insert("traceId".into(), json!(trace_hex));
        o.insert("id".into(), json!(format!("{:016x}", self.id)));
        if let Some(p) = self.parent_id {
            o.insert("parentId".into(), json!(format!("{p:016x}")));
        }
        if !self.name.is_empty() {
            o.insert("name".into(), json!(self.name));
        }
        if let Some(kind) = KINDS.get(self.kind as usize).filter(|k| !k.is_empty()) {
            o.insert("kind".into(), json!(kind));
        }
        if self.timestamp != 0 {
            o.insert("timestamp".into(), json!(self.timestamp));
        }
        if self.duration != 0 {
            o.insert("duration".into(), json!(self.duration));
        }
        if let Some(e) = &self.local {
            o.insert("localEndpoint".into(), e.to_json());
        }
        if let Some(e) = &self.remote {
            o.insert("remoteEndpoint".into(), e.to_json());
        }
        if !self.annotations.is_empty() {
            let a: Vec<Value> = self
                .annotations
                .iter()
                .map(|(ts, v)| json!({"timestamp": ts, "value": v}))
                .collect();
            o.insert("annotations".into(), Value::Array(a));
        }
        if !self.tags.is_empty() {
            let t: Map<String, Value> = self
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            o.insert("tags".into(), Value::Object(t));
        }
        if self.debug {
            o.insert("debug".into(), json!(true));
        }
        if self.shared {
            o.insert("shared".into(), json!(true));
        }
        Value::Object(o)
    }

    fn to_proto(&self) -> pb::Span {
        let trace_id = if self.trace_id_64 {
            (self.trace_id() as u64).to_be_bytes().to_vec()
        } else {
            self.trace_id().to_be_bytes().to_vec()
        };
        pb::Span {
            trace_id,
            parent_id: self
                .parent_id
                .map(|p| p.to_be_bytes().to_vec())
                .unwrap_or_default(),
            id: self.id.to_be_bytes().to_vec(),
            kind: self.kind,
            name: self.name.clone(),
            timestamp: self.timestamp,
            duration: self.duration,
            local_endpoint: self.local.as_ref().map(TestEndpoint::to_proto),
            remote_endpoint: self.remote.as_ref().map(TestEndpoint::to_proto),
            annotations: self
                .annotations
                .iter()
                .map(|(ts, v)| pb::Annotation {
                    timestamp: *ts,
                    value: v.clone(),
                })
                .collect(),
            tags: self.tags.iter().cloned().collect::<HashMap<_, _>>(),
            debug: self.debug,
            shared: self.shared,
        }
    }
}

impl TestEndpoint {
    fn to_json(&self) -> Value {
        let mut o = Map::new();
        if !self.service.is_empty() {
            o.insert("serviceName".into(), json!(self.service));
        }
        if let Some(ip) = self.ipv4 {
            o.insert("ipv4".into(), json!(ip.to_string()));
        }
        if let Some(ip) = self.ipv6 {
            o.insert("ipv6".into(), json!(ip.to_string()));
        }
        if self.port != 0 {
            o.insert("port".into(), json!(self.port));
        }
        Value::Object(o)
    }

    fn to_proto(&self) -> pb::Endpoint {
        pb::Endpoint {
            service_name: self.service.clone(),
            ipv4: self.ipv4.map(|ip| ip.octets().to_vec()).unwrap_or_default(),
            ipv6: self.ipv6.map(|ip| ip.octets().to_vec()).unwrap_or_default(),
            port: i32::from(self.port),
        }
    }
}

fn both(spans: &[TestSpan]) -> (Vec<u8>, Vec<u8>) {
    let json = Value::Array(spans.iter().map(TestSpan::to_json).collect()).to_string();
    let proto = pb::ListOfSpans {
        spans: spans.iter().map(TestSpan::to_proto).collect(),
    }
    .encode_to_vec();
    (json.into_bytes(), proto)
}

fn realistic_batch() -> Vec<TestSpan> {
    let frontend = TestEndpoint {
        service: "frontend".into(),
        ipv4: Some(Ipv4Addr::new(192, 168, 99, 1)),
        ipv6: None,
        port: 8080,
    };
    let backend = TestEndpoint {
        service: "backend".into(),
        ipv4: Some(Ipv4Addr::new(172, 19, 0, 2)),
        ipv6: Some("2001:db8::2".parse().unwrap()),
        port: 9000,
    };
    let client = TestSpan {
        trace_id: 0x463a_c35c_9f64_13ad_4806_85a3_8e3f_a0b1,
        trace_id_64: false,
        id: 0x352b_ff9a_74ca_9ad2,
        parent_id: Some(0x6b22_1d5b_c9e6_496c),
        name: "get".into(),
        kind: 1,
        timestamp: 1_556_604_172_355_737,
        duration: 1431,
        local: Some(frontend.clone()),
        remote: Some(backend.clone()),
        annotations: vec![
            (1_556_604_172_355_800, "wire send".into()),
            (
                1_556_604_172_356_100,
                r#"{"exception": {"exception.type": "IOError", "attempt": 2}}"#.into(),
            ),
        ],
        tags: vec![
            ("http.method".into(), "GET".into()),
            ("http.path".into(), "/api".into()),
            ("otel.status_code".into(), "ERROR".into()),
            ("error".into(), "timeout".into()),
            ("otel.library.name".into(), "requests".into()),
        ],
        debug: true,
        shared: false,
    };
    let server = TestSpan {
        kind: 2,
        name: "get /api".into(),
        timestamp: 1_556_604_172_356_000,
        duration: 1000,
        local: Some(backend),
        remote: Some(TestEndpoint {
            service: String::new(),
            ipv4: None,
            ipv6: Some("2001:db8::c001".parse().unwrap()),
            port: 58648,
        }),
        annotations: vec![],
        tags: vec![("mvc.controller.class".into(), "Backend".into())],
        debug: false,
        shared: true,
        ..client.clone()
    };
    let local = TestSpan {
        trace_id_64: true,
        id: 7,
        parent_id: Some(client.id),
        name: "compute".into(),
        kind: 0,
        timestamp: 0,
        duration: 0,
        local: Some(frontend),
        remote: None,
        annotations: vec![(0, "cache: {\"hit\": false}".into())],
        tags: vec![("span.kind".into(), "internal".into())],
        debug: false,
        shared: false,
        ..client.clone()
    };
    vec![client, server, local]
}

#[test]
fn realistic_batch_decodes_identically() {
    let (json, proto) = both(&realistic_batch());
    let from_json = decode_v2_json(&json).expect("json decodes");
    let from_proto = decode_v2_proto(&proto).expect("proto decodes");
    assert_eq!(from_json.len(), 3);
    assert_eq!(from_json, from_proto);
    assert!(from_json.iter().all(|s| s.warnings.is_empty()));
}

fn endpoint() -> impl Strategy<Value = TestEndpoint> {
    (
        "[a-z0-9-]{0,8}",
        proptest::option::of(any::<u32>().prop_map(Ipv4Addr::from)),
        proptest::option::of(any::<u128>().prop_map(Ipv6Addr::from)),
        any::<u16>(),
    )
        .prop_map(|(service, ipv4, ipv6, port)| TestEndpoint {
            service,
            ipv4,
            ipv6,
            port,
        })
}

fn test_span() -> impl Strategy<Value = TestSpan> {
    let text = "\\PC{0,12}";
    (
        (1..=u128::MAX, any::<bool>(), 1..=u64::MAX),
        proptest::option::of(any::<u64>()),
        (text, 0..5i32, any::<u64>(), 0..u64::MAX / 1000),
        (
            proptest::option::of(endpoint()),
            proptest::option::of(endpoint()),
        ),
        proptest::collection::vec((0..u64::MAX / 1000, text), 0..3),
        proptest::collection::vec(("[a-z.]{1,6}", text), 0..5),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (trace_id, trace_id_64, id),
                parent_id,
                (name, kind, timestamp, duration),
                (local, remote),
                annotations,
                tags,
                (debug, shared),
            )| {
                TestSpan {
                    // A 64-bit rendering must not be zero either.
                    trace_id: if trace_id_64 && trace_id as u64 == 0 {
                        trace_id | 1
                    } else {
                        trace_id
                    },
                    trace_id_64,
                    id,
                    parent_id,
                    name,
                    kind,
                    timestamp: timestamp / 1000,
                    duration,
                    local,
                    remote,
                    annotations,
                    // Proto maps hold one value per key; keep JSON's input the same.
                    tags: tags
                        .into_iter()
                        .collect::<HashMap<_, _>>()
                        .into_iter()
                        .collect(),
                    debug,
                    shared,
                }
            },
        )
}

proptest! {
    #[test]
    fn generated_spans_decode_identically(spans in proptest::collection::vec(test_span(), 0..4)) {
        let (json, proto) = both(&spans);
        let from_json = decode_v2_json(&json).expect("json decodes");
        let from_proto = decode_v2_proto(&proto).expect("proto decodes");
        prop_assert_eq!(&from_json, &from_proto);
        prop_assert_eq!(from_json.len(), spans.len());
        for (span, input) in from_json.iter().zip(&spans) {
            prop_assert_eq!(span.trace_id.0, input.trace_id());
            prop_assert_eq!(span.span_id.0, input.id);
        }
    }
}
