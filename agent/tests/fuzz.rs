//! Property tests of the UDP packet handler with hostile input, for both thrift protocols:
//! random bytes, valid `emitBatch` packets cut short, and valid packets with bytes
//! overwritten. Whatever arrives, the handler must not panic, and every packet that does not
//! decode must be counted once — in Jaeger's `handler_errors` and under its reason in
//! `sextant_agent_malformed_packets_total`.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use sextant_agent::metrics::METRICS;
use sextant_agent::processor::{handle_packet, reason};
use sextant_agent::reporter::batcher::Batcher;
use sextant_agent::reporter::buffer::SendBuffer;
use sextant_agent::Labels;
use sextant_model::thrift::{decode_emit_batch, encode_emit_batch, BatchMeta, Protocol};
use sextant_model::{KeyValue, Resource, Span, SpanId, TraceId};

fn valid_packet(protocol: Protocol, spans: u64, seed: u64) -> Vec<u8> {
    let resource = Arc::new(Resource {
        service_name: format!("svc-{seed}"),
        attributes: vec![KeyValue::new("host", "h"), KeyValue::new("n", seed as i64)],
        ..Resource::default()
    });
    let spans: Vec<Span> = (1..=spans)
        .map(|i| Span {
            trace_id: TraceId(u128::from(seed) << 64 | u128::from(i)),
            span_id: SpanId(i),
            parent_span_id: SpanId(i.saturating_sub(1)),
            name: format!("op-{i}"),
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i * 1000,
            attributes: vec![KeyValue::new("k", "v"), KeyValue::new("b", true)],
            resource: resource.clone(),
            ..Span::default()
        })
        .collect();
    encode_emit_batch(&resource, &spans, &BatchMeta::default(), protocol, 7)
}

// Each protocol's properties run in one test, so no other case moves the same counters
// at the same time (tests run in parallel threads).

/// Runs one packet through the handler; checks the counting against the model's decoder.
fn check(protocol: Protocol, batcher: &Batcher, packet: &[u8]) -> Result<(), TestCaseError> {
    let labels = Labels::for_protocol(protocol);
    let [model, proto] = labels.values();
    let expected = decode_emit_batch(packet, protocol);
    let reason_label = expected.as_ref().err().map(reason).unwrap_or("none");
    let errors = || {
        METRICS
            .handler_errors
            .with_label_values(&[model, proto])
            .get()
    };
    let by_reason = || {
        METRICS
            .malformed_packets
            .with_label_values(&[model, proto, reason_label])
            .get()
    };
    let (errors_before, reason_before) = (errors(), by_reason());
    handle_packet(packet, protocol, labels, batcher);
    match expected {
        Ok(_) => prop_assert_eq!(errors(), errors_before),
        Err(_) => {
            prop_assert_eq!(errors(), errors_before + 1);
            prop_assert_eq!(by_reason(), reason_before + 1);
        }
    }
    Ok(())
}

fn batcher() -> Batcher {
    // Tiny buffer: batches are dropped (counted), which keeps memory flat across cases.
    Batcher::new(
        Arc::new(SendBuffer::new(1)),
        &[],
        1,
        Duration::from_secs(60),
    )
}

/// Cases per property; failures are not persisted to files (the seed is printed).
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn random_bytes(protocol: Protocol) {
    let b = batcher();
    proptest!(config(), |(bytes in proptest::collection::vec(any::<u8>(), 0..2048))| {
        check(protocol, &b, &bytes)?;
    });
}

fn truncated_and_mutated(protocol: Protocol) {
    let b = batcher();
    proptest!(config(), |(
        spans in 1u64..8,
        seed in any::<u64>(),
        cut in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    )| {
        let packet = valid_packet(protocol, spans, seed);
        check(protocol, &b, &packet)?;
        let cut_at = cut.index(packet.len());
        check(protocol, &b, packet.get(..cut_at).unwrap_or(&[]))?;
        let mut mutated = packet.clone();
        for (at, byte) in &edits {
            let i = at.index(mutated.len());
            if let Some(slot) = mutated.get_mut(i) {
                *slot = *byte;
            }
        }
        check(protocol, &b, &mutated)?;
    });
}

#[test]
fn compact_protocol_survives_hostile_packets() {
    random_bytes(Protocol::Compact);
    truncated_and_mutated(Protocol::Compact);
}

#[test]
fn binary_protocol_survives_hostile_packets() {
    random_bytes(Protocol::Binary);
    truncated_and_mutated(Protocol::Binary);
}
