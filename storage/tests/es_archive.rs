//! The Elasticsearch archive store (what `sextant-query` archives traces into) on
//! `osmem-server`: Jaeger's undated `jaeger-span-archive` index, or the rollover layout's
//! `jaeger-span-archive-read`/`-write` aliases; separate from the primary store.

mod es_support;

use std::sync::Arc;

use es_support::{args, Osmem};
use sextant_model::{Resource, Span, SpanId, TraceId};
use sextant_storage::elasticsearch::client::EsClient;
use sextant_storage::elasticsearch::{admin, EsArgs};
use sextant_storage::factory::archive::build_archive;
use sextant_storage::factory::{StorageArgs, StorageType};

/// A span with microsecond times (Jaeger's documents keep no finer ones).
fn span(trace: u128, id: u64, start: u64) -> Span {
    let start = start - start % 1_000;
    Span {
        trace_id: TraceId(trace),
        span_id: SpanId(id),
        name: format!("op-{id}"),
        start_time_unix_nano: start + id * 1_000,
        end_time_unix_nano: start + id * 1_000 + 500_000,
        resource: Arc::new(Resource {
            service_name: "archived".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

async fn indices(es: &EsArgs) -> Vec<String> {
    let client = EsClient::new(es).unwrap();
    admin::list_indices(&client, "*").await.unwrap()
}

/// Archives a trace, as `sextant-query` does (read from the primary, write to the archive),
/// then checks where it can be read: from the archive, whatever its age, and no longer from
/// the primary once the primary's indices are gone.
async fn archive_round_trip(es: EsArgs, want_index: &str) {
    let storage_args = StorageArgs {
        es: es.clone(),
        ..StorageArgs::default()
    };
    let primary =
        sextant_storage::factory::build_with_default(&storage_args, StorageType::Elasticsearch)
            .await
            .expect("primary store");
    let archive = build_archive(&storage_args, StorageType::Elasticsearch)
        .await
        .expect("archive store")
        .expect("elasticsearch has an archive");

    let start = now() - 60_000_000_000;
    let spans: Vec<Span> = (1..=3).map(|n| span(0xa4c, n, start)).collect();
    primary.writer.write_spans(spans.clone()).await.unwrap();
    let ids = [TraceId(0xa4c)];
    let found = primary.reader.get_traces(&ids).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(archive.reader.get_traces(&ids).await.unwrap().is_empty());

    archive
        .writer
        .write_spans(found[0].spans.clone())
        .await
        .unwrap();
    let archived = archive.reader.get_traces(&ids).await.unwrap();
    assert_eq!(archived.len(), 1);
    let mut got = archived[0].spans.clone();
    got.sort_by_key(|s| s.span_id);
    assert_eq!(got, spans);
    let all = indices(&es).await;
    assert!(all.iter().any(|i| i == want_index), "{all:?}");
    // The archive keeps no service documents; the primary's services are unaffected.
    assert!(archive.reader.get_services().await.unwrap().is_empty());
    assert_eq!(
        primary.reader.get_services().await.unwrap(),
        vec!["archived".to_string()]
    );

    // An old trace written only to the archive is found (archive reads have no time range),
    // and never through the primary.
    let old = now() - 400 * 86_400 * 1_000_000_000;
    archive
        .writer
        .write_spans(vec![span(0x01d, 1, old)])
        .await
        .unwrap();
    let old_ids = [TraceId(0x01d)];
    assert_eq!(archive.reader.get_traces(&old_ids).await.unwrap().len(), 1);
    assert!(primary
        .reader
        .get_traces(&old_ids)
        .await
        .unwrap()
        .is_empty());

    // Purging the archive leaves the primary alone.
    archive.purger.purge().await.unwrap();
    assert!(archive.reader.get_traces(&ids).await.unwrap().is_empty());
    assert_eq!(primary.reader.get_traces(&ids).await.unwrap().len(), 1);
}

#[tokio::test]
async fn archived_traces_live_in_the_archive_index() {
    let Some(server) = Osmem::start().await else {
        return;
    };
    archive_round_trip(args(&server.url), "jaeger-span-archive").await;
}

#[tokio::test]
async fn archive_rollover_layout_uses_archive_aliases() {
    let Some(server) = Osmem::start().await else {
        return;
    };
    let a = EsArgs {
        use_aliases: true,
        index_prefix: "ops".into(),
        ..args(&server.url)
    };
    archive_round_trip(a, "ops-jaeger-span-archive-000001").await;
}
