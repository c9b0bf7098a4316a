//! The `blackhole` backend (`--span-storage.type=blackhole`): accepts every write at once
//! and keeps nothing; reads find nothing. For measuring the collector's own cost in
//! benchmarks, with no storage behind it. It counts what it discarded
//! ([`Blackhole::spans_discarded`]) so a benchmark can check every span arrived.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sextant_model::{Span, SpanKind, Trace, TraceId};

use crate::{
    DependencyLink, DependencyReader, Operation, Purger, Result, SpanReader, SpanWriter, Storage,
    TraceQuery,
};

#[derive(Default)]
pub struct Blackhole {
    spans: AtomicU64,
}

impl Blackhole {
    /// Spans accepted (and dropped) since start.
    pub fn spans_discarded(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }
}

/// Builds a blackhole [`Storage`].
pub fn build() -> Storage {
    Storage::from_backend(Arc::new(Blackhole::default()))
}

#[async_trait]
impl SpanWriter for Blackhole {
    async fn write_spans(&self, spans: Vec<Span>) -> Result<()> {
        let n = u64::try_from(spans.len()).unwrap_or(u64::MAX);
        self.spans.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }
}

#[async_trait]
impl SpanReader for Blackhole {
    async fn get_traces(&self, _ids: &[TraceId]) -> Result<Vec<Trace>> {
        Ok(Vec::new())
    }
    async fn get_services(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn get_operations(
        &self,
        _service: &str,
        _span_kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>> {
        Ok(Vec::new())
    }
    async fn find_trace_ids(&self, _query: &TraceQuery) -> Result<Vec<TraceId>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl DependencyReader for Blackhole {
    async fn get_dependencies(
        &self,
        _end_time_unix_nano: u64,
        _lookback: Duration,
    ) -> Result<Vec<DependencyLink>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl Purger for Blackhole {
    async fn purge(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_and_forgets() {
        let hole = Blackhole::default();
        hole.write_spans(vec![Span::default(), Span::default()])
            .await
            .unwrap();
        assert_eq!(hole.spans_discarded(), 2);
        assert!(hole.get_services().await.unwrap().is_empty());
        assert!(hole.get_traces(&[TraceId(1)]).await.unwrap().is_empty());
    }
}
