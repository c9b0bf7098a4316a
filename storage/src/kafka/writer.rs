//! The Kafka span writer: one message per span on the `jaeger-spans` topic, keyed by trace
//! ID (so a trace's spans share a partition), encoded as Jaeger's collector encodes them.
//!
//! `write_spans` returns only when the broker has acknowledged every span of the batch
//! (with `--kafka.producer.required-acks`): the collector answers its client after that, so
//! a span the client saw accepted is in Kafka. A full producer queue or a failed delivery
//! fails the whole batch as retryable; spans of it that did reach the broker are then sent
//! again by the client, and duplicates are harmless downstream (readers return a span once).

use std::sync::LazyLock;

use async_trait::async_trait;
use prometheus::IntCounterVec;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sextant_model::kafka::{encode_span, message_key, Encoding};
use sextant_model::Span;

use super::args::KafkaProducerArgs;
use crate::{Result, SpanWriter, StorageError};

/// Jaeger's Kafka writer metric: spans written, by `status` (success / failure).
static SPANS_WRITTEN: LazyLock<IntCounterVec> = LazyLock::new(|| {
    sextant_common::metrics::counter_vec(
        "jaeger_kafka_spans_written_total",
        "Spans written to Kafka, by status (success: acknowledged by the broker).",
        &["status"],
    )
});

/// Why spans failed to reach Kafka.
static PRODUCER_ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    sextant_common::metrics::counter_vec(
        "sextant_kafka_producer_errors_total",
        "Spans that failed to reach Kafka, by reason (queue_full, too_large, delivery, encode).",
        &["reason"],
    )
});

pub struct KafkaWriter {
    producer: FutureProducer,
    topic: String,
    encoding: Encoding,
}

impl KafkaWriter {
    pub fn new(args: &KafkaProducerArgs) -> Result<Self> {
        let props = args.properties().map_err(StorageError::Backend)?;
        let mut config = ClientConfig::new();
        for (key, value) in props {
            config.set(key, value);
        }
        let producer: FutureProducer = config
            .create()
            .map_err(|e| StorageError::Backend(format!("creating the Kafka producer: {e}")))?;
        Ok(KafkaWriter {
            producer,
            topic: args.topic.clone(),
            encoding: args.encoding.into(),
        })
    }

    fn failed(&self, reason: &str, spans: usize) {
        let n = spans as u64;
        PRODUCER_ERRORS.with_label_values(&[reason]).inc_by(n);
        SPANS_WRITTEN.with_label_values(&["failure"]).inc_by(n);
    }
}

#[async_trait]
impl SpanWriter for KafkaWriter {
    async fn write_spans(&self, spans: Vec<Span>) -> Result<()> {
        let total = spans.len();
        let mut deliveries = Vec::with_capacity(total);
        for span in &spans {
            let payload = match encode_span(span, self.encoding) {
                Ok(p) => p,
                Err(e) => {
                    self.failed("encode", total - deliveries.len());
                    return Err(StorageError::Backend(format!("encoding a span: {e}")));
                }
            };
            let key = message_key(&span.trace_id);
            let record = FutureRecord::to(&self.topic).key(&key).payload(&payload);
            match self.producer.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((e, _)) => {
                    // Spans already queued still go out; the client retries the whole batch.
                    let unsent = total - deliveries.len();
                    return Err(match e.rdkafka_error_code() {
                        Some(RDKafkaErrorCode::QueueFull) => {
                            self.failed("queue_full", unsent);
                            StorageError::Overloaded("Kafka producer queue is full".into())
                        }
                        Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
                            self.failed("too_large", unsent);
                            StorageError::Backend(format!(
                                "a span of {} bytes exceeds --kafka.producer.max-message-bytes",
                                payload.len()
                            ))
                        }
                        _ => {
                            self.failed("delivery", unsent);
                            StorageError::Backend(format!("queueing a span for Kafka: {e}"))
                        }
                    });
                }
            }
        }
        let mut first_error: Option<KafkaError> = None;
        let mut failures = 0usize;
        for delivery in futures::future::join_all(deliveries).await {
            match delivery {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    failures += 1;
                    first_error.get_or_insert(e);
                }
                // The producer went away (shutdown) before the broker answered.
                Err(_canceled) => {
                    failures += 1;
                    first_error.get_or_insert(KafkaError::Canceled);
                }
            }
        }
        SPANS_WRITTEN
            .with_label_values(&["success"])
            .inc_by((total - failures) as u64);
        match first_error {
            None => Ok(()),
            Some(e) => {
                self.failed("delivery", failures);
                tracing::warn!(error = %e, failures, batch = total, "Kafka delivery failed");
                // Retryable for the client: the broker may be back by then.
                Err(StorageError::Overloaded(format!(
                    "{failures} of {total} spans not acknowledged by Kafka: {e}"
                )))
            }
        }
    }
}
