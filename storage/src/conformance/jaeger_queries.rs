//! Jaeger's search cases (`queries.json`, `queries_regex.json`), run as their README says:
//! write every trace any query names, then for each query the returned trace IDs must be
//! exactly the expected ones, and each returned trace must be whole.

use std::collections::{BTreeMap, BTreeSet};

use sextant_model::TraceId;

use super::compare::{trace_diff, trace_ids_of};
use super::fixtures::FixtureQuery;
use super::{Checker, Ctx};
use crate::Result;

pub(super) async fn run(c: &Ctx<'_>, k: &mut Checker, cases: &[FixtureQuery]) -> Result<()> {
    c.storage.purger.purge().await?;
    // One write per fixture file, like one OTLP request per trace.
    let mut names_by_id: BTreeMap<TraceId, &str> = BTreeMap::new();
    for name in c.fixtures.queried_traces() {
        let spans = c.fixtures.trace(name);
        for id in trace_ids_of(spans) {
            names_by_id.insert(id, name);
        }
        c.storage.writer.write_spans(spans.to_vec()).await?;
    }
    let describe = |ids: &BTreeSet<TraceId>| -> Vec<String> {
        ids.iter()
            .map(|id| match names_by_id.get(id) {
                Some(name) => (*name).to_string(),
                None => id.to_string(),
            })
            .collect()
    };

    for case in cases {
        let want: BTreeSet<TraceId> = case
            .expected
            .iter()
            .flat_map(|name| trace_ids_of(c.fixtures.trace(name)))
            .collect();
        let got = match c.storage.reader.find_trace_ids(&case.query).await {
            Ok(ids) => ids,
            Err(e) => {
                k.fail(format!("{:?}: find_trace_ids failed: {e}", case.caption));
                continue;
            }
        };
        let got_set: BTreeSet<TraceId> = got.iter().copied().collect();
        k.expect(got_set.len() == got.len(), || {
            format!("{:?}: a trace ID was returned twice: {got:?}", case.caption)
        });
        k.expect(got_set == want, || {
            format!(
                "{:?}: got traces {:?}, want {:?}",
                case.caption,
                describe(&got_set),
                describe(&want)
            )
        });

        let traces = match c.storage.reader.find_traces(&case.query).await {
            Ok(t) => t,
            Err(e) => {
                k.fail(format!("{:?}: find_traces failed: {e}", case.caption));
                continue;
            }
        };
        for name in &case.expected {
            let spans = c.fixtures.trace(name);
            let Some(id) = spans.first().map(|s| s.trace_id) else {
                continue;
            };
            match traces.iter().find(|t| t.trace_id() == Some(id)) {
                None => k.fail(format!("{:?}: find_traces lacks {name}", case.caption)),
                Some(t) => {
                    if let Some(diff) = trace_diff(t, spans) {
                        k.fail(format!("{:?}: trace {name}: {diff}", case.caption));
                    }
                }
            }
        }
    }
    Ok(())
}
