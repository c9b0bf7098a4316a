//! Jaeger's storage fixtures, embedded at compile time, decoded and moved to recent dates.
//!
//! The data lives in `storage/conformance/jaeger-storage/` (see its README and ORIGIN). The
//! fixtures are dated January 2017; the README's rule moves them next to today so that
//! backends with retention or time-partitioned layouts accept them: a timestamp whose UTC
//! date is 2017-01-25 moves to the same time of day two days before today, any other to the
//! same time of day one day before today. Query bounds move by the same rule.

use std::collections::BTreeMap;

use serde::Deserialize;
use sextant_model::otlp_json::decode_export_request;
use sextant_model::Span;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::TraceQuery;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../conformance/jaeger-storage/traces/",
                $name,
                ".json"
            )),
        )
    };
}

/// Every file of `traces/`, by file stem (a unit test checks the list against the folder).
pub(super) const TRACE_FILES: &[(&str, &str)] = &[
    fixture!("default"),
    fixture!("dur_trace"),
    fixture!("example_trace"),
    fixture!("link_attributes_trace"),
    fixture!("log_tags_trace"),
    fixture!("max_dur_trace"),
    fixture!("multi_index_trace"),
    fixture!("multi_spot_tags_trace"),
    fixture!("multiple1_trace"),
    fixture!("multiple2_trace"),
    fixture!("multiple3_trace"),
    fixture!("multispottag_dur_trace"),
    fixture!("multispottag_maxdur_trace"),
    fixture!("multispottag_opname_dur_trace"),
    fixture!("multispottag_opname_maxdur_trace"),
    fixture!("multispottag_opname_trace"),
    fixture!("opname_dur_trace"),
    fixture!("opname_maxdur_trace"),
    fixture!("opname_trace"),
    fixture!("process_tags_trace"),
    fixture!("scope_attributes_trace"),
    fixture!("scope_name_version_trace"),
    fixture!("span_tags_trace"),
    fixture!("tags_dur_trace"),
    fixture!("tags_escaped_operator_trace_1"),
    fixture!("tags_escaped_operator_trace_2"),
    fixture!("tags_maxdur_trace"),
    fixture!("tags_opname_dur_trace"),
    fixture!("tags_opname_maxdur_trace"),
    fixture!("tags_opname_trace"),
    fixture!("tags_wildcard_regex_1"),
    fixture!("tags_wildcard_regex_2"),
];

const QUERIES: &str = include_str!("../../conformance/jaeger-storage/queries.json");
const QUERIES_REGEX: &str = include_str!("../../conformance/jaeger-storage/queries_regex.json");

const NANOS_PER_DAY: u64 = 86_400 * 1_000_000_000;
/// 2017-01-25 as days since the Unix epoch: the fixtures' "two days ago" date.
const FIXTURE_DAY_BEFORE_YESTERDAY: u64 = 17_191;

/// Moves timestamps of the fixtures' era next to `today` (days since the epoch, UTC).
#[derive(Clone, Copy, Debug)]
pub(super) struct TimeShift {
    today: u64,
}

impl TimeShift {
    pub(super) fn now() -> Self {
        let secs = OffsetDateTime::now_utc().unix_timestamp();
        TimeShift {
            today: u64::try_from(secs).unwrap_or(0) / 86_400,
        }
    }

    pub(super) fn shift(self, ts: u64) -> u64 {
        let day = ts / NANOS_PER_DAY;
        let back = if day == FIXTURE_DAY_BEFORE_YESTERDAY {
            2
        } else {
            1
        };
        self.today.saturating_sub(back) * NANOS_PER_DAY + ts % NANOS_PER_DAY
    }

    /// Shifts a span's start by its own date, keeps its duration, shifts each event by its
    /// own date (Jaeger's suite does the same).
    fn shift_span(self, span: &mut Span) {
        let duration = span.duration_nanos();
        span.start_time_unix_nano = self.shift(span.start_time_unix_nano);
        span.end_time_unix_nano = span.start_time_unix_nano.saturating_add(duration);
        for event in &mut span.events {
            event.time_unix_nano = self.shift(event.time_unix_nano);
        }
    }

    fn shift_rfc3339(self, text: &str) -> Result<u64, String> {
        let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("{text:?}: {e}"))?;
        let ns = u64::try_from(t.unix_timestamp_nanos()).map_err(|e| format!("{text:?}: {e}"))?;
        Ok(self.shift(ns))
    }
}

/// One search case of `queries*.json`.
#[derive(Clone, Debug)]
pub(super) struct FixtureQuery {
    pub caption: String,
    pub query: TraceQuery,
    /// File stems of the traces the query must return, exactly.
    pub expected: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawCase {
    caption: String,
    query: RawQuery,
    expected_fixtures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawQuery {
    service_name: String,
    operation_name: String,
    tags: Option<BTreeMap<String, serde_json::Value>>,
    start_time_min: String,
    start_time_max: String,
    duration_min: u64,
    duration_max: u64,
    num_traces: usize,
}

/// A query tag's typed JSON value as the text a stored value is compared with.
fn tag_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_queries(file: &str, json: &str, shift: TimeShift) -> Result<Vec<FixtureQuery>, String> {
    let raw: Vec<RawCase> = serde_json::from_str(json).map_err(|e| format!("{file}: {e}"))?;
    let nonzero = |d: u64| (d != 0).then_some(d);
    raw.into_iter()
        .map(|case| {
            let q = case.query;
            Ok(FixtureQuery {
                query: TraceQuery {
                    service_name: q.service_name,
                    operation_name: q.operation_name,
                    tags: q
                        .tags
                        .unwrap_or_default()
                        .iter()
                        .map(|(k, v)| (k.clone(), tag_text(v)))
                        .collect(),
                    start_time_min: Some(shift.shift_rfc3339(&q.start_time_min)?),
                    start_time_max: Some(shift.shift_rfc3339(&q.start_time_max)?),
                    duration_min: nonzero(q.duration_min),
                    duration_max: nonzero(q.duration_max),
                    num_traces: q.num_traces,
                },
                caption: case.caption,
                expected: case.expected_fixtures,
            })
        })
        .collect::<Result<_, String>>()
        .map_err(|e| format!("{file}: {e}"))
}

/// The decoded, time-shifted fixtures.
pub(super) struct Fixtures {
    traces: BTreeMap<&'static str, Vec<Span>>,
    pub queries: Vec<FixtureQuery>,
    pub regex_queries: Vec<FixtureQuery>,
}

impl Fixtures {
    pub(super) fn load(shift: TimeShift) -> Result<Self, String> {
        let mut traces = BTreeMap::new();
        for (name, json) in TRACE_FILES {
            let mut spans = decode_export_request(json.as_bytes())
                .map_err(|e| format!("decoding traces/{name}.json: {e}"))?;
            // An empty decode would make every expectation about it vacuous.
            if spans.is_empty() {
                return Err(format!("traces/{name}.json decoded to no spans"));
            }
            for span in &mut spans {
                shift.shift_span(span);
            }
            traces.insert(*name, spans);
        }
        let fixtures = Fixtures {
            traces,
            queries: parse_queries("queries.json", QUERIES, shift)?,
            regex_queries: parse_queries("queries_regex.json", QUERIES_REGEX, shift)?,
        };
        for case in fixtures.queries.iter().chain(&fixtures.regex_queries) {
            for name in &case.expected {
                if !fixtures.traces.contains_key(name.as_str()) {
                    return Err(format!("{:?} names unknown fixture {name}", case.caption));
                }
            }
        }
        Ok(fixtures)
    }

    /// The spans of `traces/<name>.json`; empty for an unknown name (checked in `load`).
    pub(super) fn trace(&self, name: &str) -> &[Span] {
        self.traces.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// The names of every trace some query expects, each once.
    pub(super) fn queried_traces(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .queries
            .iter()
            .chain(&self.regex_queries)
            .flat_map(|q| q.expected.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trace_file_is_embedded() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/conformance/jaeger-storage/traces"
        );
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .replace(".json", "")
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = TRACE_FILES.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn shift_follows_the_readme() {
        let day = |y, m, d| {
            time::Date::from_calendar_date(y, m, d)
                .unwrap()
                .midnight()
                .assume_utc()
                .unix_timestamp() as u64
                / 86_400
        };
        assert_eq!(
            day(2017, time::Month::January, 25),
            FIXTURE_DAY_BEFORE_YESTERDAY
        );
        let shift = TimeShift { today: 20_000 };
        let tod = 3_600 * 1_000_000_000 + 5;
        let jan25 = FIXTURE_DAY_BEFORE_YESTERDAY * NANOS_PER_DAY + tod;
        let jan26 = jan25 + NANOS_PER_DAY;
        assert_eq!(shift.shift(jan25), 19_998 * NANOS_PER_DAY + tod);
        assert_eq!(shift.shift(jan26), 19_999 * NANOS_PER_DAY + tod);
    }

    #[test]
    fn queries_parse_with_typed_tags() {
        let qs = parse_queries("q", QUERIES, TimeShift::now()).unwrap();
        let first = qs.first().unwrap();
        assert!(first
            .query
            .tags
            .contains(&("sameplacetag2".into(), "123".into())));
        assert!(first
            .query
            .tags
            .contains(&("sameplacetag3".into(), "72.5".into())));
        assert!(first
            .query
            .tags
            .contains(&("sameplacetag4".into(), "true".into())));
        let regex = parse_queries("q", QUERIES_REGEX, TimeShift::now()).unwrap();
        assert!(regex.iter().any(|q| q
            .query
            .tags
            .contains(&("sameplacetag1".into(), "same\\*".into()))));
    }
}
