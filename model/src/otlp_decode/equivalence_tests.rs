//! The decoder's contract: on every input it agrees with the reference path (prost's
//! structs + `spans_from_resource_spans`). Inputs come from a schema-aware random protobuf
//! writer that repeats singular fields, reorders them, adds unknown fields and groups,
//! uses wrong wire types, bad UTF-8, odd ID lengths, `strindex` values and deep nesting,
//! plus truncations and byte flips of everything it writes.

use crate::otlp::decode_export_request_prost;

use super::decode_export_request;

/// xorshift64*: deterministic, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `pct` percent.
    fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn put_len(out: &mut Vec<u8>, field: u32, body: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

#[derive(Clone, Copy, Debug)]
enum Msg {
    Request,
    ResourceSpans,
    Resource,
    EntityRef,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KvList,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    M(Msg),
    Str,
    /// Bytes; IDs get the given usual length.
    Bytes(usize),
    Varint,
    Fixed32,
    Fixed64,
}

fn fields(msg: Msg) -> &'static [(u32, Kind)] {
    use Kind::*;
    match msg {
        Msg::Request => &[(1, M(Msg::ResourceSpans))],
        Msg::ResourceSpans => &[(1, M(Msg::Resource)), (2, M(Msg::ScopeSpans)), (3, Str)],
        Msg::Resource => &[(1, M(Msg::KeyValue)), (2, Varint), (3, M(Msg::EntityRef))],
        Msg::EntityRef => &[(1, Str), (2, Str), (3, Str), (4, Str)],
        Msg::ScopeSpans => &[(1, M(Msg::Scope)), (2, M(Msg::Span)), (3, Str)],
        Msg::Scope => &[(1, Str), (2, Str), (3, M(Msg::KeyValue)), (4, Varint)],
        Msg::Span => &[
            (1, Bytes(16)),
            (2, Bytes(8)),
            (3, Str),
            (4, Bytes(8)),
            (5, Str),
            (6, Varint),
            (7, Fixed64),
            (8, Fixed64),
            (9, M(Msg::KeyValue)),
            (10, Varint),
            (11, M(Msg::Event)),
            (12, Varint),
            (13, M(Msg::Link)),
            (14, Varint),
            (15, M(Msg::Status)),
            (16, Fixed32),
        ],
        Msg::Event => &[(1, Fixed64), (2, Str), (3, M(Msg::KeyValue)), (4, Varint)],
        Msg::Link => &[
            (1, Bytes(16)),
            (2, Bytes(8)),
            (3, Str),
            (4, M(Msg::KeyValue)),
            (5, Varint),
            (6, Fixed32),
        ],
        Msg::Status => &[(1, Str), (2, Str), (3, Varint)],
        Msg::KeyValue => &[(1, Str), (2, M(Msg::AnyValue)), (3, Varint)],
        Msg::AnyValue => &[
            (1, Str),
            (2, Varint),
            (3, Varint),
            (4, Fixed64),
            (5, M(Msg::ArrayValue)),
            (6, M(Msg::KvList)),
            (7, Bytes(3)),
            (8, Varint),
        ],
        Msg::ArrayValue => &[(1, M(Msg::AnyValue))],
        Msg::KvList => &[(1, M(Msg::KeyValue))],
    }
}

const WORDS: &[&str] = &[
    "service.name",
    "@jaeger@warnings",
    "sampler.type",
    "http.method",
    "",
    "frontend",
    "δ-ünïcode",
    "probabilistic",
];

struct Gen {
    rng: Rng,
    /// How often (percent) to write something off-schema.
    chaos: u64,
}

impl Gen {
    fn string(&mut self, out: &mut Vec<u8>, field: u32) {
        if self.rng.pct(self.chaos / 2) {
            put_len(out, field, &[0xff, b'a', 0xc3]);
        } else {
            let w = WORDS[self.rng.below(WORDS.len() as u64) as usize];
            put_len(out, field, w.as_bytes());
        }
    }

    fn bytes(&mut self, out: &mut Vec<u8>, field: u32, usual: usize) {
        let len = if self.rng.pct(100 - self.chaos) {
            usual
        } else {
            self.rng.below(18) as usize
        };
        let zero = self.rng.pct(10);
        let body: Vec<u8> = (0..len)
            .map(|_| if zero { 0 } else { self.rng.next() as u8 })
            .collect();
        put_len(out, field, &body);
    }

    fn varint_value(&mut self) -> u64 {
        match self.rng.below(4) {
            0 => self.rng.below(4),
            1 => self.rng.below(300),
            2 => u64::MAX - self.rng.below(3),
            _ => self.rng.next(),
        }
    }

    /// One field of `kind` at `field`, usually with its right wire type.
    fn field(&mut self, out: &mut Vec<u8>, field: u32, kind: Kind, depth: u32) {
        if self.rng.pct(self.chaos / 3) {
            // A wrong wire type: any of the six, payload shaped for it.
            self.unknown_payload(out, field, depth);
            return;
        }
        match kind {
            Kind::M(m) => {
                let body = self.message(m, depth + 1);
                put_len(out, field, &body);
            }
            Kind::Str => self.string(out, field),
            Kind::Bytes(n) => self.bytes(out, field, n),
            Kind::Varint => {
                put_key(out, field, 0);
                let v = self.varint_value();
                put_varint(out, v);
            }
            Kind::Fixed32 => {
                put_key(out, field, 5);
                out.extend_from_slice(&(self.rng.next() as u32).to_le_bytes());
            }
            Kind::Fixed64 => {
                put_key(out, field, 1);
                out.extend_from_slice(&self.rng.next().to_le_bytes());
            }
        }
    }

    fn unknown_payload(&mut self, out: &mut Vec<u8>, field: u32, depth: u32) {
        match self.rng.below(6) {
            0 => {
                put_key(out, field, 0);
                let v = self.varint_value();
                put_varint(out, v);
            }
            1 => {
                put_key(out, field, 1);
                out.extend_from_slice(&self.rng.next().to_le_bytes());
            }
            2 => {
                let body = self.message(Msg::AnyValue, depth + 1);
                put_len(out, field, &body);
            }
            3 => {
                put_key(out, field, 3);
                if self.rng.pct(50) {
                    put_key(out, 1, 0);
                    put_varint(out, 7);
                }
                // Usually the matching end tag, sometimes another.
                let end = if self.rng.pct(90) { field } else { field + 1 };
                put_key(out, end, 4);
            }
            4 => put_key(out, field, 4),
            _ => {
                put_key(out, field, 5);
                out.extend_from_slice(&(self.rng.next() as u32).to_le_bytes());
            }
        }
    }

    fn message(&mut self, msg: Msg, depth: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let fs = fields(msg);
        // Spans and links usually carry valid IDs first, so many cases decode fine.
        if matches!(msg, Msg::Span | Msg::Link) && self.rng.pct(90) {
            self.bytes(&mut out, 1, 16);
            self.bytes(&mut out, 2, 8);
        }
        if matches!(msg, Msg::KeyValue) && self.rng.pct(70) {
            self.string(&mut out, 1);
        }
        // Containers thin out with depth so values stay small.
        let max = match msg {
            Msg::Request | Msg::ResourceSpans | Msg::ScopeSpans => 4,
            Msg::AnyValue => 2,
            _ if depth > 8 => 1,
            _ => 6,
        };
        let n = self.rng.below(max + 1);
        for _ in 0..n {
            if self.rng.pct(self.chaos / 2) {
                let field = 17 + self.rng.below(30) as u32;
                self.unknown_payload(&mut out, field, depth);
                continue;
            }
            let (field, kind) = fs[self.rng.below(fs.len() as u64) as usize];
            if let Kind::M(m) = kind {
                if depth > 12 && !matches!(m, Msg::Status) {
                    continue;
                }
            }
            self.field(&mut out, field, kind, depth);
        }
        out
    }
}

fn check(bytes: &[u8]) -> bool {
    let reference = decode_export_request_prost(bytes);
    let fast = decode_export_request(bytes);
    match (&reference, &fast) {
        (Ok(a), Ok(b)) => {
            // Debug, not PartialEq: NaN doubles must compare equal to themselves.
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "input {bytes:02x?}");
            true
        }
        (Err(_), Err(_)) => false,
        _ => panic!(
            "decoders disagree on {bytes:02x?}:\n reference: {:?}\n fast: {:?}",
            reference.as_ref().map(|s| s.len()),
            fast.as_ref().map(|s| s.len())
        ),
    }
}

#[test]
fn agrees_with_prost_on_generated_requests() {
    let mut ok = 0;
    let total: u64 = 6000;
    for seed in 0..total {
        let mut g = Gen {
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            chaos: if seed % 2 == 0 { 0 } else { 6 },
        };
        let bytes = g.message(Msg::Request, 0);
        if check(&bytes) {
            ok += 1;
        }
    }
    // The generator must mostly write acceptable requests, or equality is barely tested.
    assert!(ok > total / 4, "only {ok} of {total} requests decoded");
}

#[test]
fn agrees_with_prost_on_truncated_and_flipped_bytes() {
    for seed in 0..1500u64 {
        let mut g = Gen {
            rng: Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1),
            chaos: 0,
        };
        let bytes = g.message(Msg::Request, 0);
        if bytes.is_empty() {
            continue;
        }
        for _ in 0..4 {
            let cut = g.rng.below(bytes.len() as u64) as usize;
            check(&bytes[..cut]);
            let mut flipped = bytes.clone();
            let at = g.rng.below(bytes.len() as u64) as usize;
            flipped[at] ^= 1 << g.rng.below(8);
            check(&flipped);
            let mut replaced = bytes.clone();
            replaced[at] = g.rng.next() as u8;
            check(&replaced);
        }
    }
}

#[test]
fn agrees_with_prost_on_random_bytes() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(&bytes);
        // Random bytes behind a valid first key reach deeper into the schema.
        let mut framed = vec![0x0a];
        put_varint(&mut framed, bytes.len() as u64);
        framed.extend_from_slice(&bytes);
        check(&framed);
    }
}

/// A request with one span whose one attribute value is `value` (an `AnyValue` body).
fn with_value(value: &[u8]) -> Vec<u8> {
    let mut kv = Vec::new();
    put_len(&mut kv, 1, b"k");
    put_len(&mut kv, 2, value);
    let mut span = Vec::new();
    put_len(&mut span, 1, &[1; 16]);
    put_len(&mut span, 2, &[2; 8]);
    put_len(&mut span, 9, &kv);
    let mut ss = Vec::new();
    put_len(&mut ss, 2, &span);
    let mut rs = Vec::new();
    put_len(&mut rs, 2, &ss);
    let mut req = Vec::new();
    put_len(&mut req, 1, &rs);
    req
}

/// `levels` containers (arrays or maps, chosen by `kvlist`) around `leaf`.
fn nest(levels: usize, kvlist: impl Fn(usize) -> bool, leaf: Vec<u8>) -> Vec<u8> {
    let mut value = leaf;
    for level in 0..levels {
        let mut outer = Vec::new();
        if kvlist(level) {
            let mut kv = Vec::new();
            put_len(&mut kv, 1, b"n");
            put_len(&mut kv, 2, &value);
            let mut list = Vec::new();
            put_len(&mut list, 1, &kv);
            put_len(&mut outer, 6, &list);
        } else {
            let mut array = Vec::new();
            put_len(&mut array, 1, &value);
            put_len(&mut outer, 5, &array);
        }
        value = outer;
    }
    value
}

#[test]
fn agrees_at_the_nesting_limits() {
    let mut strindex = Vec::new();
    put_key(&mut strindex, 8, 0);
    put_varint(&mut strindex, 3);
    let mut text = Vec::new();
    put_len(&mut text, 1, b"x");
    let patterns: [&dyn Fn(usize) -> bool; 3] = [&|_| false, &|_| true, &|l| l % 2 == 0];
    let (mut accepted, mut replaced_ok) = (0, 0);
    for levels in 25..40 {
        for pattern in patterns {
            for leaf in [Vec::new(), text.clone(), strindex.clone()] {
                let value = nest(levels, pattern, leaf);
                if check(&with_value(&value)) {
                    accepted += 1;
                }
                // A later oneof member replaces the (maybe rejected) container; only
                // prost's message nesting limit can still reject the request.
                let mut replaced = value.clone();
                replaced.extend_from_slice(&text);
                if check(&with_value(&replaced)) {
                    replaced_ok += 1;
                }
                // A later array merges into an earlier one: still rejected if it was.
                let mut merged = value;
                let mut empty_array = Vec::new();
                put_len(&mut empty_array, 5, &[]);
                merged.extend_from_slice(&empty_array);
                check(&with_value(&merged));
            }
        }
    }
    // Some nestings the model refuses only survive when replaced: both kinds occur.
    assert!(
        accepted > 0 && replaced_ok > accepted,
        "{accepted} {replaced_ok}"
    );
}

#[test]
fn merges_repeated_singular_fields_like_prost() {
    // The same KeyValue value sent twice: a strindex replaced by a string, arrays merged.
    let mut value = Vec::new();
    put_key(&mut value, 8, 0);
    put_varint(&mut value, 1);
    let mut kv = Vec::new();
    put_len(&mut kv, 1, b"k");
    put_len(&mut kv, 2, &value);
    let mut text = Vec::new();
    put_len(&mut text, 1, b"x");
    put_len(&mut kv, 2, &text);
    let mut span = Vec::new();
    put_len(&mut span, 9, &kv);
    // IDs after the attributes, the trace ID twice (the last one counts).
    put_len(&mut span, 1, &[9; 3]);
    put_len(&mut span, 1, &[1; 16]);
    put_len(&mut span, 2, &[2; 8]);
    let mut status = Vec::new();
    put_len(&mut status, 2, b"boom");
    put_len(&mut span, 15, &status);
    let mut status = Vec::new();
    put_key(&mut status, 3, 0);
    put_varint(&mut status, 2);
    put_len(&mut span, 15, &status);
    let mut ss = Vec::new();
    put_len(&mut ss, 2, &span);
    let mut scope = Vec::new();
    put_len(&mut scope, 1, b"lib");
    put_len(&mut ss, 1, &scope);
    let mut rs = Vec::new();
    put_len(&mut rs, 2, &ss);
    let mut resource = Vec::new();
    let mut svc = Vec::new();
    put_len(&mut svc, 1, b"service.name");
    put_len(&mut svc, 2, &text);
    put_len(&mut resource, 1, &svc);
    put_len(&mut rs, 1, &resource);
    put_len(&mut rs, 3, b"https://schema");
    let mut req = Vec::new();
    put_len(&mut req, 1, &rs);
    assert!(check(&req));
    let spans = decode_export_request(&req).unwrap();
    assert_eq!(spans[0].service_name(), "x");
    assert_eq!(spans[0].scope.name, "lib");
    assert_eq!(spans[0].status.message, "boom");
    assert_eq!(spans[0].resource.schema_url, "https://schema");
}
