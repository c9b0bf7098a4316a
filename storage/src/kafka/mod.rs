//! The `kafka` span storage (`--span-storage.type=kafka`): the collector writes spans to a
//! Kafka topic instead of a database, and `sextant-ingester` drains the topic into a real
//! backend. Messages are Jaeger's (see [`sextant_model::kafka`]), so Jaeger's ingester can
//! read what Sextant's collector writes and the other way round.
//!
//! The backend is write-only: reading it is an error that names the fix (query the store the
//! ingester writes to).
//!
//! * [`client`]: connection flags (brokers, TLS, SASL) shared with the ingester's consumer.
//! * [`args`]: the producer flags; [`writer`] (feature `kafka`): the rdkafka producer.

pub mod args;
pub mod client;
#[cfg(feature = "kafka")]
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sextant_model::{SpanKind, Trace, TraceId};

pub use args::{KafkaProducerArgs, MessageEncoding};

use crate::{
    DependencyLink, DependencyReader, Operation, Purger, Result, SpanReader, SpanWriter, Storage,
    StorageError, TraceQuery,
};

/// Builds the Kafka writer (reads answer an error).
#[cfg(feature = "kafka")]
pub async fn connect(args: &KafkaProducerArgs) -> Result<Storage> {
    let writer = writer::KafkaWriter::new(args)?;
    tracing::info!(
        brokers = %args.connection.brokers,
        topic = %args.topic,
        encoding = ?args.encoding,
        "writing spans to Kafka"
    );
    Ok(write_only(Arc::new(writer)))
}

/// Without the `kafka` feature the backend cannot be built; say so instead of failing later.
#[cfg(not(feature = "kafka"))]
pub async fn connect(_args: &KafkaProducerArgs) -> Result<Storage> {
    Err(StorageError::Backend(
        "this binary was built without Kafka support (cargo feature `kafka`); \
         use sextant-collector for --span-storage.type=kafka"
            .into(),
    ))
}

/// A [`Storage`] whose writer is `writer` and whose readers refuse every call.
pub fn write_only(writer: Arc<dyn SpanWriter>) -> Storage {
    let unreadable = Arc::new(WriteOnly);
    Storage {
        writer,
        reader: unreadable.clone(),
        dependencies: unreadable.clone(),
        purger: unreadable,
    }
}

struct WriteOnly;

fn unreadable<T>() -> Result<T> {
    Err(StorageError::Backend(
        "the kafka span storage is write-only; read from the storage sextant-ingester writes to"
            .into(),
    ))
}

#[async_trait]
impl SpanReader for WriteOnly {
    async fn get_traces(&self, _ids: &[TraceId]) -> Result<Vec<Trace>> {
        unreadable()
    }
    async fn get_services(&self) -> Result<Vec<String>> {
        unreadable()
    }
    async fn get_operations(&self, _: &str, _: Option<SpanKind>) -> Result<Vec<Operation>> {
        unreadable()
    }
    async fn find_trace_ids(&self, _query: &TraceQuery) -> Result<Vec<TraceId>> {
        unreadable()
    }
}

#[async_trait]
impl DependencyReader for WriteOnly {
    async fn get_dependencies(&self, _: u64, _: Duration) -> Result<Vec<DependencyLink>> {
        unreadable()
    }
}

#[async_trait]
impl Purger for WriteOnly {
    async fn purge(&self) -> Result<()> {
        unreadable()
    }
}
