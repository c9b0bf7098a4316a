//! The read paths other than search, over `example_trace.json` and `default.json`:
//! traces by ID, services, operations (with span kind), a search by service only,
//! duplicate writes and purge.

use sextant_model::{Span, SpanKind, TraceId};

use super::compare::trace_diff;
use super::{Checker, Ctx};
use crate::{Operation, Result, TraceQuery};

/// An ID no fixture or own case uses.
const UNKNOWN: TraceId = TraceId(0xdead_beef_0000_0000_0000_0000_0000_0001);

struct Two<'a> {
    example: &'a [Span],
    default: &'a [Span],
    example_id: TraceId,
    default_id: TraceId,
}

/// Purges, writes example_trace and default (one batch each) and returns them.
async fn write_two<'a>(c: &Ctx<'a>) -> Result<Two<'a>> {
    let example = c.fixtures.trace("example_trace");
    let default = c.fixtures.trace("default");
    c.fresh_with(example.to_vec()).await?;
    c.storage.writer.write_spans(default.to_vec()).await?;
    let id = |spans: &[Span]| spans.first().map(|s| s.trace_id).unwrap_or_default();
    Ok(Two {
        example,
        default,
        example_id: id(example),
        default_id: id(default),
    })
}

pub(super) async fn get_traces(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let t = write_two(c).await?;
    let reader = &c.storage.reader;

    let one = reader.get_traces(&[t.example_id]).await?;
    k.expect_eq("traces returned for one ID", &one.len(), &1);
    if let Some(diff) = one.first().and_then(|tr| trace_diff(tr, t.example)) {
        k.fail(format!("example_trace by ID: {diff}"));
    }

    let several = reader
        .get_traces(&[t.default_id, UNKNOWN, t.example_id])
        .await?;
    let ids: Vec<_> = several.iter().map(|tr| tr.trace_id()).collect();
    k.expect_eq(
        "IDs of get_traces([default, unknown, example]), in request order",
        &ids,
        &vec![Some(t.default_id), Some(t.example_id)],
    );
    if let Some(diff) = several.first().and_then(|tr| trace_diff(tr, t.default)) {
        k.fail(format!("default by ID among several: {diff}"));
    }

    let none = reader.get_traces(&[UNKNOWN]).await?;
    k.expect(none.is_empty(), || {
        format!("an unknown ID returned {} traces", none.len())
    });
    Ok(())
}

pub(super) async fn services_and_operations(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    write_two(c).await?;
    let reader = &c.storage.reader;
    k.expect_eq(
        "services",
        &reader.get_services().await?,
        &vec![
            "example-service-1".to_string(),
            "example-service-2".to_string(),
            "example-service-3".to_string(),
            "query11-service".to_string(),
        ],
    );
    let op = |name: &str, span_kind| Operation {
        name: name.to_string(),
        span_kind,
    };
    k.expect_eq(
        "operations of example-service-1",
        &reader.get_operations("example-service-1", None).await?,
        &vec![
            op("example-operation-1", SpanKind::Unspecified),
            op("example-operation-3", SpanKind::Server),
            op("example-operation-4", SpanKind::Client),
        ],
    );
    for (kind, want) in [
        (
            SpanKind::Server,
            vec![op("example-operation-3", SpanKind::Server)],
        ),
        (
            SpanKind::Client,
            vec![op("example-operation-4", SpanKind::Client)],
        ),
        (SpanKind::Producer, vec![]),
    ] {
        k.expect_eq(
            &format!("operations of example-service-1 with kind {kind:?}"),
            &reader
                .get_operations("example-service-1", Some(kind))
                .await?,
            &want,
        );
    }
    k.expect_eq(
        "operations of example-service-3",
        &reader.get_operations("example-service-3", None).await?,
        &vec![op("example-operation-1", SpanKind::Unspecified)],
    );
    k.expect_eq(
        "operations of an unknown service",
        &reader.get_operations("no-such-service", None).await?,
        &vec![],
    );
    Ok(())
}

pub(super) async fn find_by_service_only(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let t = write_two(c).await?;
    for (service, id, spans) in [
        ("example-service-1", t.example_id, t.example),
        ("example-service-3", t.example_id, t.example),
        ("query11-service", t.default_id, t.default),
    ] {
        let query = TraceQuery {
            service_name: service.to_string(),
            ..Default::default()
        };
        let found = c.storage.reader.find_traces(&query).await?;
        let ids: Vec<_> = found.iter().map(|tr| tr.trace_id()).collect();
        k.expect_eq(&format!("traces of {service}"), &ids, &vec![Some(id)]);
        if let Some(diff) = found.first().and_then(|tr| trace_diff(tr, spans)) {
            k.fail(format!("trace found by {service}: {diff}"));
        }
    }
    Ok(())
}

pub(super) async fn duplicate_writes(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let t = write_two(c).await?;
    let writer = &c.storage.writer;
    // Again in a later batch, and twice within one batch.
    writer.write_spans(t.example.to_vec()).await?;
    let mut doubled = t.default.to_vec();
    doubled.extend_from_slice(t.default);
    writer.write_spans(doubled).await?;

    for (name, id, spans) in [
        ("example_trace", t.example_id, t.example),
        ("default", t.default_id, t.default),
    ] {
        let got = c.storage.reader.get_traces(&[id]).await?;
        match got.first() {
            None => k.fail(format!("{name} not found after duplicate writes")),
            Some(tr) => {
                if let Some(diff) = trace_diff(tr, spans) {
                    k.fail(format!("{name} after duplicate writes: {diff}"));
                }
            }
        }
    }
    let query = TraceQuery {
        service_name: "example-service-1".to_string(),
        ..Default::default()
    };
    k.expect_eq(
        "search after duplicate writes",
        &c.storage.reader.find_trace_ids(&query).await?,
        &vec![t.example_id],
    );
    k.expect_eq(
        "operations after duplicate writes",
        &c.storage
            .reader
            .get_operations("example-service-1", None)
            .await?
            .len(),
        &3,
    );
    Ok(())
}

pub(super) async fn purge(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let t = write_two(c).await?;
    c.storage.purger.purge().await?;
    let reader = &c.storage.reader;
    k.expect_eq(
        "services after purge",
        &reader.get_services().await?,
        &vec![],
    );
    k.expect_eq(
        "operations after purge",
        &reader.get_operations("example-service-1", None).await?,
        &vec![],
    );
    k.expect(
        reader
            .get_traces(&[t.example_id, t.default_id])
            .await?
            .is_empty(),
        || "traces still readable after purge".to_string(),
    );
    k.expect_eq(
        "search after purge",
        &reader.find_trace_ids(&TraceQuery::default()).await?,
        &vec![],
    );
    Ok(())
}
