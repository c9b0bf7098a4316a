//! Sextant's own cases, beyond Jaeger's fixtures: limit and order, the lifted Jaeger tags,
//! "all tags within one span", regex tag values, 64- vs 128-bit trace IDs, invalid queries,
//! and dependencies. Data is built in code, a few minutes to hours before now.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sextant_model::{
    Event, KeyValue, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode, TraceId,
};

use super::compare::trace_diff;
use super::{Checker, Ctx};
use crate::{DependencyLink, Result, StorageError, TraceQuery};

const MINUTE: u64 = 60 * 1_000_000_000;

/// Now, in whole microseconds: Jaeger's v1 layouts (Cassandra, Elasticsearch) store times in
/// microseconds, and the data of these cases should be storable exactly by every backend.
fn now_nanos() -> u64 {
    let ns = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(0);
    ns - ns % 1000
}

/// A trace ID of this module's own range: `case` in the high half keeps cases apart.
fn tid(case: u64, n: u64) -> TraceId {
    TraceId::from_halves(0x5e47_0000_0000_0000 | case, n)
}

/// A 1 ms span of `service` starting `minutes_ago` minutes before `now`.
fn span(trace: TraceId, id: u64, service: &str, op: &str, now: u64, minutes_ago: u64) -> Span {
    let start = now.saturating_sub(minutes_ago * MINUTE);
    Span {
        trace_id: trace,
        span_id: SpanId(id),
        name: op.to_string(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000,
        resource: Arc::new(Resource {
            service_name: service.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn with_attrs(mut s: Span, attrs: Vec<KeyValue>) -> Span {
    s.attributes = attrs;
    s
}

/// A search of `service` over the last two hours with these tags.
fn query(service: &str, tags: &[(&str, &str)], now: u64) -> TraceQuery {
    TraceQuery {
        service_name: service.to_string(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        start_time_min: Some(now.saturating_sub(120 * MINUTE)),
        start_time_max: Some(now),
        ..Default::default()
    }
}

/// Checks the set of returned IDs (order is checked separately where it matters).
async fn expect_set(
    c: &Ctx<'_>,
    k: &mut Checker,
    what: &str,
    q: &TraceQuery,
    want: &[TraceId],
) -> Result<()> {
    let got: BTreeSet<TraceId> = c
        .storage
        .reader
        .find_trace_ids(q)
        .await?
        .into_iter()
        .collect();
    let want: BTreeSet<TraceId> = want.iter().copied().collect();
    k.expect_eq(what, &got, &want);
    Ok(())
}

pub(super) async fn limit_and_order(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let now = now_nanos();
    let svc = "sextant-limit";
    let ids: Vec<TraceId> = (0..5).map(|i| tid(1, i)).collect();
    let spans = ids
        .iter()
        .zip(0u64..)
        .map(|(id, i)| span(*id, 1, svc, "op", now, 10 + i))
        .collect();
    c.fresh_with(spans).await?;
    let reader = &c.storage.reader;
    let mut q = query(svc, &[], now);
    q.num_traces = 2;
    k.expect_eq(
        "limit 2, newest first",
        &reader.find_trace_ids(&q).await?,
        &ids[..2].to_vec(),
    );
    q.num_traces = 0;
    k.expect_eq(
        "limit 0 means the default limit",
        &reader.find_trace_ids(&q).await?,
        &ids,
    );
    q.num_traces = 3;
    let traces = reader.find_traces(&q).await?;
    k.expect_eq("find_traces with limit 3", &traces.len(), &3);

    // Order follows the most recent *matching* span: x has a newer span, but not a
    // matching one.
    let (x, y) = (tid(1, 10), tid(1, 11));
    let tagged = |s: Span| with_attrs(s, vec![KeyValue::new("k", "v")]);
    c.storage
        .writer
        .write_spans(vec![
            tagged(span(x, 1, "sextant-order", "op", now, 30)),
            span(x, 2, "sextant-order", "op", now, 5),
            tagged(span(y, 1, "sextant-order", "op", now, 20)),
        ])
        .await?;
    k.expect_eq(
        "order by most recent matching span",
        &reader
            .find_trace_ids(&query("sextant-order", &[("k", "v")], now))
            .await?,
        &vec![y, x],
    );
    k.expect_eq(
        "order by most recent span",
        &reader
            .find_trace_ids(&query("sextant-order", &[], now))
            .await?,
        &vec![x, y],
    );

    // Jaeger's three identical traces of one service: a limit of 2 returns 2 of them.
    for name in ["multiple1_trace", "multiple2_trace", "multiple3_trace"] {
        c.storage
            .writer
            .write_spans(c.fixtures.trace(name).to_vec())
            .await?;
    }
    let q = TraceQuery {
        service_name: "query22-service".to_string(),
        num_traces: 2,
        ..Default::default()
    };
    let got: BTreeSet<TraceId> = reader.find_trace_ids(&q).await?.into_iter().collect();
    k.expect_eq(
        "distinct traces of query22-service, limit 2",
        &got.len(),
        &2,
    );
    Ok(())
}

pub(super) async fn lifted_tags(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let now = now_nanos();
    let svc = "sextant-lifted";
    let (a, b, d) = (tid(2, 1), tid(2, 2), tid(2, 3));
    let mut sa = span(a, 1, svc, "op", now, 10);
    sa.kind = SpanKind::Server;
    sa.status = Status {
        code: StatusCode::Error,
        message: "boom".to_string(),
    };
    sa.trace_state = "vendor=x".to_string();
    sa.scope = Arc::new(Scope {
        name: "lib-a".to_string(),
        version: "1.2".to_string(),
        ..Default::default()
    });
    sa.events = vec![Event {
        time_unix_nano: sa.start_time_unix_nano,
        name: "retry".to_string(),
        attributes: vec![KeyValue::new("attempt", 2i64)],
        dropped_attributes_count: 0,
    }];
    let mut sb = span(b, 1, svc, "op", now, 11);
    sb.kind = SpanKind::Client;
    sb.status.code = StatusCode::Ok;
    let sd = with_attrs(
        span(d, 1, svc, "op", now, 12),
        vec![KeyValue::new("error", false)],
    );
    let written = [sa.clone(), sb.clone(), sd.clone()];
    c.fresh_with(written.to_vec()).await?;

    for (tag, want) in [
        (("error", "true"), vec![a]),
        (("error", "false"), vec![d]),
        (("otel.status_code", "ERROR"), vec![a]),
        (("otel.status_code", "OK"), vec![b]),
        (("otel.status_description", "boom"), vec![a]),
        (("span.kind", "server"), vec![a]),
        (("span.kind", "client"), vec![b]),
        (("span.kind", "consumer"), vec![]),
        (("otel.scope.name", "lib-a"), vec![a]),
        (("otel.scope.version", "1.2"), vec![a]),
        (("w3c.tracestate", "vendor=x"), vec![a]),
        (("event", "retry"), vec![a]),
        (("attempt", "2"), vec![a]),
    ] {
        let what = format!("traces with {}={}", tag.0, tag.1);
        expect_set(c, k, &what, &query(svc, &[tag], now), &want).await?;
    }
    // The typed fields survive storage.
    for s in written {
        let got = c.storage.reader.get_traces(&[s.trace_id]).await?;
        match got.first() {
            None => k.fail(format!("trace {} not found", s.trace_id)),
            Some(t) => {
                if let Some(diff) = trace_diff(t, std::slice::from_ref(&s)) {
                    k.fail(format!("trace {}: {diff}", s.trace_id));
                }
            }
        }
    }
    Ok(())
}

/// Query tags and the traces they must find.
type TagCase<'a> = (&'a [(&'a str, &'a str)], Vec<TraceId>);

pub(super) async fn tags_within_one_span(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let now = now_nanos();
    let svc = "sextant-spots";
    let (t1, t2, t3) = (tid(3, 1), tid(3, 2), tid(3, 3));
    let mut s1 = with_attrs(
        span(t1, 1, svc, "op-a", now, 10),
        vec![KeyValue::new("color", "red")],
    );
    s1.resource = Arc::new(Resource {
        service_name: svc.to_string(),
        attributes: vec![KeyValue::new("region", "eu")],
        ..Default::default()
    });
    let s2 = with_attrs(
        span(t1, 2, svc, "op-b", now, 10),
        vec![KeyValue::new("size", "big")],
    );
    let both = vec![
        KeyValue::new("color", "red"),
        KeyValue::new("size", "big"),
        KeyValue::new("count", 7i64),
        KeyValue::new("ratio", 0.25),
    ];
    let s3 = with_attrs(span(t2, 1, svc, "op-a", now, 11), both.clone());
    let s4 = with_attrs(span(t3, 1, "sextant-other", "op-a", now, 12), both);
    c.fresh_with(vec![s1, s2, s3, s4]).await?;

    let cases: [TagCase; 6] = [
        (&[("color", "red"), ("size", "big")], vec![t2]),
        (&[("color", "red")], vec![t1, t2]),
        (&[("region", "eu"), ("color", "red")], vec![t1]),
        (&[("region", "eu"), ("size", "big")], vec![]),
        (&[("count", "7"), ("ratio", "0.25")], vec![t2]),
        (&[("color", "blue")], vec![]),
    ];
    for (tags, want) in cases {
        expect_set(
            c,
            k,
            &format!("{svc} with {tags:?}"),
            &query(svc, tags, now),
            &want,
        )
        .await?;
    }
    let mut q = query(svc, &[("color", "red")], now);
    q.operation_name = "op-b".to_string();
    expect_set(c, k, "op-b with color=red (different spans)", &q, &[]).await?;
    q.operation_name = "op-a".to_string();
    expect_set(c, k, "op-a with color=red", &q, &[t1, t2]).await?;
    Ok(())
}

pub(super) async fn regex_tags(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let now = now_nanos();
    let svc = "sextant-regex";
    let (t1, t2, t3) = (tid(4, 1), tid(4, 2), tid(4, 3));
    let path = |t, minutes, p: &str| {
        with_attrs(
            span(t, 1, svc, "op", now, minutes),
            vec![KeyValue::new("path", p)],
        )
    };
    c.fresh_with(vec![
        path(t1, 10, "/api/users/42"),
        path(t2, 11, "/api/orders/7"),
        path(t3, 12, "/api/users/*"),
    ])
    .await?;
    for (pattern, want) in [
        ("/api/users/.*", vec![t1, t3]),
        ("/api/.*/7", vec![t2]),
        ("/api/users/\\*", vec![t3]),
        ("api.*", vec![]),
        ("/api/(users|orders)/[0-9]+", vec![t1, t2]),
    ] {
        let q = query(svc, &[("path", pattern)], now);
        expect_set(c, k, &format!("path={pattern}"), &q, &want).await?;
    }
    Ok(())
}

pub(super) async fn trace_id_widths(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let now = now_nanos();
    // Same low half: a backend keying by the low 64 bits only would mix them up.
    let short = TraceId::from_halves(0, 0xabcd_0000_1234);
    let long = TraceId::from_halves(1, 0xabcd_0000_1234);
    let s_short = span(short, 1, "sextant-ids-64", "op", now, 10);
    let s_long = span(long, 1, "sextant-ids-128", "op", now, 10);
    c.fresh_with(vec![s_short.clone(), s_long.clone()]).await?;
    let reader = &c.storage.reader;
    for (id, s) in [(short, &s_short), (long, &s_long)] {
        let got = reader.get_traces(&[id]).await?;
        match got.as_slice() {
            [t] => {
                if let Some(diff) = trace_diff(t, std::slice::from_ref(s)) {
                    k.fail(format!("trace {id}: {diff}"));
                }
            }
            other => k.fail(format!("trace {id}: got {} traces, want 1", other.len())),
        }
        let q = query(s.service_name(), &[], now);
        k.expect_eq(
            &format!("search {}", s.service_name()),
            &reader.find_trace_ids(&q).await?,
            &vec![id],
        );
    }
    Ok(())
}

pub(super) async fn invalid_queries(c: &Ctx<'_>, k: &mut Checker, regex: bool) -> Result<()> {
    let now = now_nanos();
    c.fresh_with(vec![span(tid(5, 1), 1, "sextant-invalid", "op", now, 10)])
        .await?;
    let base = query("sextant-invalid", &[], now);
    let mut cases = vec![
        (
            "min duration above max",
            TraceQuery {
                duration_min: Some(2_000),
                duration_max: Some(1_000),
                ..base.clone()
            },
        ),
        (
            "start time min after max",
            TraceQuery {
                start_time_min: Some(now),
                start_time_max: Some(now.saturating_sub(MINUTE)),
                ..base.clone()
            },
        ),
    ];
    if regex {
        cases.push((
            "unbalanced regex",
            query("sextant-invalid", &[("k", "(")], now),
        ));
    }
    for (what, q) in cases {
        match c.storage.reader.find_trace_ids(&q).await {
            Err(StorageError::InvalidQuery(_)) => {}
            other => k.fail(format!("{what}: want InvalidQuery, got {other:?}")),
        }
    }
    Ok(())
}

pub(super) async fn dependencies(c: &Ctx<'_>, k: &mut Checker) -> Result<()> {
    let now = now_nanos();
    let child = |mut s: Span, parent: u64| {
        s.parent_span_id = SpanId(parent);
        s
    };
    let (d1, d2, d3, d4) = (tid(6, 1), tid(6, 2), tid(6, 3), tid(6, 4));
    c.fresh_with(vec![
        span(d1, 1, "frontend", "GET /", now, 10),
        child(span(d1, 2, "backend", "query", now, 10), 1),
        child(span(d1, 3, "db", "select", now, 10), 2),
        // Within one service: not an edge.
        child(span(d1, 4, "db", "scan", now, 10), 3),
        span(d2, 1, "frontend", "GET /", now, 20),
        child(span(d2, 2, "backend", "query", now, 20), 1),
        // Three hours ago: outside a one-hour lookback.
        span(d3, 1, "frontend", "GET /", now, 180),
        child(span(d3, 2, "db", "select", now, 180), 1),
        // The parent was never stored: no edge.
        child(span(d4, 2, "orphan", "op", now, 10), 9),
    ])
    .await?;
    let link = |parent: &str, child: &str, call_count| DependencyLink {
        parent: parent.to_string(),
        child: child.to_string(),
        call_count,
    };
    let deps = &c.storage.dependencies;
    let hour = Duration::from_secs(3_600);
    k.expect_eq(
        "dependencies of the last hour",
        &deps.get_dependencies(now, hour).await?,
        &vec![link("backend", "db", 1), link("frontend", "backend", 2)],
    );
    k.expect_eq(
        "dependencies of the last four hours",
        &deps.get_dependencies(now, 4 * hour).await?,
        &vec![
            link("backend", "db", 1),
            link("frontend", "backend", 2),
            link("frontend", "db", 1),
        ],
    );
    k.expect_eq(
        "dependencies between four and two hours ago",
        &deps
            .get_dependencies(now.saturating_sub(120 * MINUTE), 2 * hour)
            .await?,
        &vec![link("frontend", "db", 1)],
    );
    Ok(())
}
