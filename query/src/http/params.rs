//! Query-string parsing for the v1 API with Jaeger's rules and error messages
//! (jaeger `cmd/query/app/query_parser.go`).
//!
//! * A parameter given twice counts once (the first), like Go's `FormValue`, except the
//!   repeatable `tag`, `tags` and `traceID`.
//! * `start` / `end` are Unix microseconds, defaulting to `now - 2 days` and `now`
//!   (Jaeger's trace search lookback). Sextant extension: when `start` is absent, a
//!   `lookback` the UI sends (`1h`, `2d`, …) sets it to `end - lookback`; Jaeger ignores that
//!   parameter, so an unreadable one (the UI's `custom`) is ignored too, never an error.
//! * `minDuration` / `maxDuration` are Go durations; `limit` defaults to the storage default.
//! * `tag=key:value` (repeatable; the value may contain colons) and `tags={"k":"v"}` (a JSON
//!   object of strings) are merged, `tags` winning on a repeated key.

use std::collections::BTreeMap;
use std::num::IntErrorKind;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sextant_model::{SpanKind, TraceId};
use sextant_storage::TraceQuery;

use sextant_model::go_duration::parse_go_duration;

/// Jaeger's default search window when `start` is absent.
pub const DEFAULT_TRACE_LOOKBACK: Duration = Duration::from_secs(2 * 24 * 3600);
/// Jaeger's default `/api/dependencies` lookback.
pub const DEFAULT_DEPENDENCY_LOOKBACK: Duration = Duration::from_secs(24 * 3600);

/// The decoded query string, in order. Malformed percent-escapes decode lossily, never fail.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Params {
        Params(
            raw.map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    /// The first value of `key`, `""` when absent (Go's `FormValue`).
    pub fn first(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Jaeger's `raw`: `true` skips the adjusters (Go's `strconv.ParseBool` truths).
    pub fn raw(&self) -> bool {
        matches!(
            self.first("raw"),
            "1" | "t" | "T" | "true" | "TRUE" | "True"
        )
    }

    /// Jaeger's `prettyPrint`: any value but empty or `false`.
    pub fn pretty(&self) -> bool {
        !matches!(self.first("prettyPrint"), "" | "false")
    }
}

/// A parameter error; its text is the `msg` of the 400 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

/// A parsed `/api/traces` request: either a search or a fetch by IDs.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub query: TraceQuery,
    /// When non-empty, the other parameters are ignored and these traces are fetched.
    pub trace_ids: Vec<TraceId>,
}

pub fn parse_search(p: &Params, now: SystemTime) -> Result<SearchRequest, ParamError> {
    let now_ns = unix_nanos(now);
    let end_ns = match p.first("end") {
        "" => now_ns,
        text => micros_to_nanos(parse_int(text, 64).map_err(|e| param_error("end", &e))?),
    };
    let start_ns = match p.first("start") {
        "" => match parse_lookback(p.first("lookback")) {
            Some(lookback) => end_ns.saturating_sub(duration_nanos(lookback)),
            None => now_ns.saturating_sub(duration_nanos(DEFAULT_TRACE_LOOKBACK)),
        },
        text => micros_to_nanos(parse_int(text, 64).map_err(|e| param_error("start", &e))?),
    };
    let tags = parse_tags(p)?;
    let limit = match p.first("limit") {
        "" => 0,
        // Jaeger returns the bare strconv error here, without the parameter name.
        text => usize::try_from(parse_int(text, 32).map_err(ParamError)?).unwrap_or(0),
    };
    let min = parse_duration_param(p, "minDuration")?;
    let max = parse_duration_param(p, "maxDuration")?;
    let mut trace_ids = Vec::new();
    for id in p.all("traceID") {
        let parsed = id
            .parse::<TraceId>()
            .map_err(|e| ParamError(format!("cannot parse traceID param: {e}")))?;
        trace_ids.push(parsed);
    }
    let service = p.first("service");
    if trace_ids.is_empty() && service.is_empty() {
        return Err(ParamError("parameter 'service' is required".into()));
    }
    if min != 0 && max != 0 && max < min {
        return Err(ParamError(
            "'maxDuration' should be greater than 'minDuration'".into(),
        ));
    }
    Ok(SearchRequest {
        query: TraceQuery {
            service_name: service.to_string(),
            operation_name: p.first("operation").to_string(),
            tags,
            start_time_min: Some(start_ns),
            start_time_max: Some(end_ns),
            duration_min: positive(min),
            duration_max: positive(max),
            num_traces: limit,
        },
        trace_ids,
    })
}

/// `/api/dependencies`: `endTs` (Unix ms, default now) and `lookback` (ms, default 24h).
#[derive(Debug, Clone, PartialEq)]
pub struct DependenciesRequest {
    pub end_time_unix_nano: u64,
    pub lookback: Duration,
    /// Keep only edges touching this service (Jaeger's optional `service`).
    pub service: String,
}

pub fn parse_dependencies(p: &Params, now: SystemTime) -> Result<DependenciesRequest, ParamError> {
    let end_time_unix_nano = match p.first("endTs") {
        "" => unix_nanos(now),
        text => millis_to_nanos(parse_int(text, 64).map_err(|e| param_error("endTs", &e))?),
    };
    let lookback = match p.first("lookback") {
        "" => DEFAULT_DEPENDENCY_LOOKBACK,
        text => {
            let ms = parse_int(text, 64).map_err(|e| param_error("lookback", &e))?;
            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        }
    };
    Ok(DependenciesRequest {
        end_time_unix_nano,
        lookback,
        service: p.first("service").to_string(),
    })
}

/// The `spanKind` filter of `/api/operations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindFilter {
    /// Empty: every kind.
    All,
    Only(SpanKind),
    /// Not a kind Jaeger knows: matches nothing, as Jaeger's string filter would.
    Unknown,
}

pub fn parse_span_kind(text: &str) -> KindFilter {
    if text.is_empty() {
        return KindFilter::All;
    }
    SpanKind::from_jaeger_str(text)
        .map(KindFilter::Only)
        .unwrap_or(KindFilter::Unknown)
}

fn parse_tags(p: &Params) -> Result<Vec<(String, String)>, ParamError> {
    let mut tags = BTreeMap::new();
    for tag in p.all("tag") {
        match tag.split_once(':') {
            Some((k, v)) => {
                tags.insert(k.to_string(), v.to_string());
            }
            None => {
                return Err(ParamError(format!(
                    "malformed 'tag' parameter, expecting key:value, received: {tag}"
                )))
            }
        }
    }
    for json in p.all("tags") {
        let parsed: Option<BTreeMap<String, String>> = serde_json::from_str(json).map_err(|e| {
            ParamError(format!(
                "malformed 'tags' parameter, cannot unmarshal JSON: {e}"
            ))
        })?;
        tags.extend(parsed.unwrap_or_default());
    }
    Ok(tags.into_iter().collect())
}

fn parse_duration_param(p: &Params, name: &str) -> Result<i64, ParamError> {
    match p.first(name) {
        "" => Ok(0),
        text => parse_go_duration(text).map_err(|e| param_error(name, &e)),
    }
}

/// The UI's lookback values: Go durations plus whole days (`2d`, `7d`).
fn parse_lookback(text: &str) -> Option<Duration> {
    if let Some(days) = text.strip_suffix('d') {
        let days: u64 = days.parse().ok()?;
        return Some(Duration::from_secs(days.checked_mul(24 * 3600)?));
    }
    let ns = parse_go_duration(text).ok()?;
    u64::try_from(ns).ok().map(Duration::from_nanos)
}

fn param_error(name: &str, err: &str) -> ParamError {
    ParamError(format!("unable to parse param '{name}': {err}"))
}

/// Go's `strconv.ParseInt(s, 10, bits)`, with its error text.
fn parse_int(text: &str, bits: u32) -> Result<i64, String> {
    let result = if bits == 32 {
        text.parse::<i32>().map(i64::from)
    } else {
        text.parse::<i64>()
    };
    result.map_err(|e| {
        let reason = match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {text:?}: {reason}")
    })
}

fn positive(ns: i64) -> Option<u64> {
    u64::try_from(ns).ok().filter(|&v| v > 0)
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(duration_nanos)
        .unwrap_or(0)
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Times before the epoch clamp to it: the model's times are unsigned.
fn micros_to_nanos(us: i64) -> u64 {
    u64::try_from(us).unwrap_or(0).saturating_mul(1_000)
}

fn millis_to_nanos(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_US: u64 = 1_700_000_000_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(NOW_US)
    }

    fn search(q: &str) -> Result<SearchRequest, ParamError> {
        parse_search(&Params::parse(Some(q)), now())
    }

    fn err(q: &str) -> String {
        search(q).unwrap_err().0
    }

    #[test]
    fn full_search_parses() {
        let r = search(
            "service=frontend&operation=HTTP%20GET&start=100&end=200&limit=20\
             &minDuration=1.2s&maxDuration=2s&tag=http.url:http://x:80/&tag=a:b\
             &tags=%7B%22a%22%3A%22c%22%2C%22error%22%3A%22true%22%7D",
        )
        .unwrap();
        assert!(r.trace_ids.is_empty());
        assert_eq!(
            r.query,
            TraceQuery {
                service_name: "frontend".into(),
                operation_name: "HTTP GET".into(),
                tags: vec![
                    ("a".into(), "c".into()),
                    ("error".into(), "true".into()),
                    ("http.url".into(), "http://x:80/".into()),
                ],
                start_time_min: Some(100_000),
                start_time_max: Some(200_000),
                duration_min: Some(1_200_000_000),
                duration_max: Some(2_000_000_000),
                num_traces: 20,
            }
        );
    }

    #[test]
    fn defaults_follow_jaeger() {
        let q = search("service=s").unwrap().query;
        assert_eq!(q.start_time_max, Some(NOW_US * 1000));
        assert_eq!(
            q.start_time_min,
            Some(NOW_US * 1000 - 2 * 24 * 3600 * 1_000_000_000)
        );
        assert_eq!(
            (q.num_traces, q.duration_min, q.duration_max),
            (0, None, None)
        );
        assert!(q.tags.is_empty());
    }

    #[test]
    fn lookback_sets_start_only_when_start_is_absent() {
        let q = search("service=s&end=10000000000&lookback=1h")
            .unwrap()
            .query;
        assert_eq!(
            q.start_time_min,
            Some(10_000_000_000_000 - 3_600_000_000_000)
        );
        let q = search("service=s&lookback=2d").unwrap().query;
        assert_eq!(
            q.start_time_min,
            Some(NOW_US * 1000 - 2 * 24 * 3_600_000_000_000)
        );
        let q = search("service=s&start=5&lookback=1h").unwrap().query;
        assert_eq!(q.start_time_min, Some(5_000));
        assert!(search("service=s&lookback=custom").is_ok());
    }

    #[test]
    fn trace_ids_replace_the_service_requirement() {
        let r = search("traceID=abc&traceID=00000000000000010000000000000002").unwrap();
        assert_eq!(
            r.trace_ids,
            vec![TraceId(0xabc), TraceId::from_halves(1, 2)]
        );
        assert!(err("traceID=xyz").starts_with("cannot parse traceID param: "));
    }

    #[test]
    fn errors_carry_jaeger_messages() {
        assert_eq!(err(""), "parameter 'service' is required");
        assert_eq!(err("operation=x"), "parameter 'service' is required");
        assert_eq!(
            err("service=s&minDuration=abc"),
            "unable to parse param 'minDuration': time: invalid duration \"abc\""
        );
        assert_eq!(
            err("service=s&maxDuration=1d"),
            "unable to parse param 'maxDuration': time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            err("service=s&minDuration=2s&maxDuration=1s"),
            "'maxDuration' should be greater than 'minDuration'"
        );
        assert_eq!(
            err("service=s&start=yesterday"),
            "unable to parse param 'start': strconv.ParseInt: parsing \"yesterday\": invalid syntax"
        );
        assert_eq!(
            err("service=s&limit=99999999999"),
            "strconv.ParseInt: parsing \"99999999999\": value out of range"
        );
        assert_eq!(
            err("service=s&tag=novalue"),
            "malformed 'tag' parameter, expecting key:value, received: novalue"
        );
        assert!(err("service=s&tags=%7B%22a%22%3A1%7D")
            .starts_with("malformed 'tags' parameter, cannot unmarshal JSON: "));
        assert!(err("service=s&tags=nope")
            .starts_with("malformed 'tags' parameter, cannot unmarshal JSON: "));
    }

    #[test]
    fn odd_but_valid_inputs() {
        // Negative times clamp to the epoch; a negative limit means the default.
        let q = search("service=s&start=-5&limit=-3&tags=null")
            .unwrap()
            .query;
        assert_eq!((q.start_time_min, q.num_traces), (Some(0), 0));
        // Only the first service counts, as with Go's FormValue.
        let q = search("service=a&service=b").unwrap().query;
        assert_eq!(q.service_name, "a");
        // Broken escapes decode lossily instead of failing.
        let q = search("service=%zz%FF").unwrap().query;
        assert!(q.service_name.starts_with("%zz"));
    }

    #[test]
    fn dependencies_params() {
        let p = |q: &str| parse_dependencies(&Params::parse(Some(q)), now());
        let d = p("endTs=1000&lookback=60000&service=x").unwrap();
        assert_eq!(d.end_time_unix_nano, 1_000_000_000);
        assert_eq!(d.lookback, Duration::from_secs(60));
        assert_eq!(d.service, "x");
        let d = p("").unwrap();
        assert_eq!(d.end_time_unix_nano, NOW_US * 1000);
        assert_eq!(d.lookback, DEFAULT_DEPENDENCY_LOOKBACK);
        assert_eq!(
            p("endTs=x").unwrap_err().0,
            "unable to parse param 'endTs': strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert!(p("lookback=1h")
            .unwrap_err()
            .0
            .starts_with("unable to parse param 'lookback'"));
    }

    #[test]
    fn span_kinds() {
        assert_eq!(parse_span_kind(""), KindFilter::All);
        assert_eq!(
            parse_span_kind("server"),
            KindFilter::Only(SpanKind::Server)
        );
        assert_eq!(parse_span_kind("bogus"), KindFilter::Unknown);
    }
}
