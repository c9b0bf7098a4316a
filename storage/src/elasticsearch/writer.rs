//! Span writing: each span becomes a document in its day's span index (or the write
//! alias), each new (service, operation, kind) a document in the service index, and all of
//! a call's documents go through the bulk pipeline together.

use std::collections::HashSet;

use parking_lot::Mutex;
use serde_json::json;
use sextant_model::es_json::{EsService, EsSpan, Fnv64, TagsAsFields};
use sextant_model::Span;

use super::bulk::BulkProcessor;
use super::indices::{IndexKind, IndexNames};
use crate::{Result, StorageError};

/// Remembers service documents already stored, so each is written once per index. Bounded:
/// when full it starts over (a repeated write of a service document is harmless: same ID).
pub struct ServiceCache {
    seen: Mutex<HashSet<(String, EsService)>>,
    capacity: usize,
}

impl ServiceCache {
    pub fn new(capacity: usize) -> Self {
        ServiceCache {
            seen: Mutex::new(HashSet::new()),
            capacity,
        }
    }
    pub fn clear(&self) {
        self.seen.lock().clear();
    }
    fn contains(&self, key: &(String, EsService)) -> bool {
        self.seen.lock().contains(key)
    }
    fn insert_all(&self, keys: Vec<(String, EsService)>) {
        let mut seen = self.seen.lock();
        for key in keys {
            if seen.len() >= self.capacity {
                seen.clear();
            }
            seen.insert(key);
        }
    }
}

/// Turns spans into bulk actions and writes them.
pub struct SpanDocWriter {
    pub names: IndexNames,
    pub fields: TagsAsFields,
    pub bulk: BulkProcessor,
    pub services: ServiceCache,
}

fn action_lines(index: &str, id: &str, doc: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let action = json!({"index": {"_index": index, "_id": id}});
    serde_json::to_writer(&mut *out, &action)
        .map_err(|e| StorageError::Backend(format!("encoding bulk action: {e}")))?;
    out.push(b'\n');
    out.extend_from_slice(doc);
    out.push(b'\n');
    Ok(())
}

impl SpanDocWriter {
    pub async fn write(&self, spans: Vec<Span>) -> Result<()> {
        let mut items = Vec::with_capacity(spans.len() + 1);
        let mut new_services: Vec<(String, EsService)> = Vec::new();
        for span in &spans {
            let doc = EsSpan::from_span(span, &self.fields);
            let bytes = serde_json::to_vec(&doc)
                .map_err(|e| StorageError::Backend(format!("encoding span document: {e}")))?;
            // A deterministic ID makes a retried or repeated write overwrite, not duplicate.
            let mut h = Fnv64::new();
            h.write(&bytes);
            let id = format!("{}-{}-{:016x}", doc.trace_id, doc.span_id, h.finish());
            let index = self
                .names
                .write_index(IndexKind::Span, span.start_time_unix_nano);
            let mut lines = Vec::with_capacity(bytes.len() + 128);
            action_lines(&index, &id, &bytes, &mut lines)?;
            items.push(lines);

            // The archive is read by trace ID only: like Jaeger's, it keeps no services.
            if self.names.is_archive() {
                continue;
            }
            let service = EsService::of(span);
            let key = (
                self.names
                    .write_index(IndexKind::Service, span.start_time_unix_nano),
                service,
            );
            if !self.services.contains(&key) && !new_services.contains(&key) {
                new_services.push(key);
            }
        }
        for (index, service) in &new_services {
            let bytes = serde_json::to_vec(service)
                .map_err(|e| StorageError::Backend(format!("encoding service document: {e}")))?;
            let mut lines = Vec::new();
            action_lines(index, &service.doc_id(), &bytes, &mut lines)?;
            items.push(lines);
        }
        self.bulk.write(items).await?;
        // Only stored documents are remembered, so a failed write is retried next time.
        self.services.insert_all(new_services);
        Ok(())
    }
}
