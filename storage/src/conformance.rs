//! The storage conformance suite: one set of checks every backend passes (feature
//! `conformance`).
//!
//! Shaped like Jaeger's `internal/storage/integration`: the data and the checks live here,
//! and a backend's test only builds the backend and runs them:
//!
//! ```ignore
//! let storage = Storage::from_backend(Arc::new(MemoryStore::new(10_000)));
//! run_suite(&storage).await.assert_passed();
//! ```
//!
//! Every check starts from an empty store (it calls [`crate::Purger::purge`] first), writes
//! its data through [`crate::SpanWriter`] and reads it back through the reader traits only.
//! The data is Jaeger's fixtures (`storage/conformance/jaeger-storage/`, embedded at compile
//! time, run exactly as their README says) plus Sextant's own cases (`own_cases.rs`).

mod compare;
mod fixtures;
mod jaeger_queries;
mod own_cases;
mod reads;
mod report;

pub use report::{CheckReport, Outcome, Report};

use crate::{Result, Storage};
use fixtures::{Fixtures, TimeShift};
use report::Checker;

/// What a backend can do; a check the backend cannot support is reported as skipped.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    /// Tag values as regular expressions (`queries_regex.json` and the regex cases).
    pub regex_tags: bool,
    /// `get_dependencies` computed from stored spans. Backends whose dependency links come
    /// from an external job (Jaeger's Spark job for Cassandra/Elasticsearch) turn it off.
    pub dependencies: bool,
    /// The backend stores Jaeger's v1 span model (Cassandra, Elasticsearch, the gRPC remote
    /// storage API), which has no place for scope attributes or link attributes: Jaeger's
    /// fixture queries "Scope Attributes" and "Link Attributes" are skipped, saying so.
    pub v1_span_model: bool,
}

impl Default for SuiteOptions {
    fn default() -> Self {
        SuiteOptions {
            regex_tags: true,
            dependencies: true,
            v1_span_model: false,
        }
    }
}

/// What every check receives.
pub(crate) struct Ctx<'a> {
    storage: &'a Storage,
    fixtures: &'a Fixtures,
}

impl Ctx<'_> {
    /// Empties the store and writes `spans` in one batch.
    async fn fresh_with(&self, spans: Vec<sextant_model::Span>) -> Result<()> {
        self.storage.purger.purge().await?;
        if spans.is_empty() {
            return Ok(());
        }
        self.storage.writer.write_spans(spans).await
    }
}

/// Runs every check with [`SuiteOptions::default`] (a backend supporting everything).
pub async fn run_suite(storage: &Storage) -> Report {
    run_suite_with(storage, &SuiteOptions::default()).await
}

/// Runs every check; never panics (see [`Report::assert_passed`]).
pub async fn run_suite_with(storage: &Storage, options: &SuiteOptions) -> Report {
    let mut report = Report::default();
    let fixtures = match Fixtures::load(TimeShift::now()) {
        Ok(f) => f,
        Err(e) => {
            report.push("load fixtures", Outcome::Failed(vec![e]));
            return report;
        }
    };
    let ctx = Ctx {
        storage,
        fixtures: &fixtures,
    };
    let c = &ctx;

    // Runs one check body (an expression using `$k: &mut Checker`) and records its outcome.
    macro_rules! check {
        ($name:literal, $k:ident => $body:expr) => {{
            let mut checker = Checker::default();
            let $k = &mut checker;
            let body = $body.await;
            report.push($name, checker.finish(body));
        }};
    }

    let queries: Vec<_> = if options.v1_span_model {
        for name in V1_MODEL_QUERIES {
            skip(
                &mut report,
                name.1,
                "Jaeger's v1 span model has no place for them",
            );
        }
        c.fixtures
            .queries
            .iter()
            .filter(|q| {
                !V1_MODEL_QUERIES
                    .iter()
                    .any(|(caption, _)| q.caption == *caption)
            })
            .cloned()
            .collect()
    } else {
        c.fixtures.queries.clone()
    };
    check!("jaeger queries.json", k => jaeger_queries::run(c, k, &queries));
    if options.regex_tags {
        check!("jaeger queries_regex.json", k => {
            jaeger_queries::run(c, k, &c.fixtures.regex_queries)
        });
    } else {
        skip(
            &mut report,
            "jaeger queries_regex.json",
            "no regex tag values",
        );
    }
    check!("get traces by ID", k => reads::get_traces(c, k));
    check!("services and operations", k => reads::services_and_operations(c, k));
    check!("find traces by service only", k => reads::find_by_service_only(c, k));
    check!("duplicate writes are returned once", k => reads::duplicate_writes(c, k));
    check!("purge", k => reads::purge(c, k));
    check!("limit and newest-first order", k => own_cases::limit_and_order(c, k));
    check!("lifted Jaeger tags (status, kind, scope, event)", k => own_cases::lifted_tags(c, k));
    check!("tags match within one span", k => own_cases::tags_within_one_span(c, k));
    if options.regex_tags {
        check!("regex tag values", k => own_cases::regex_tags(c, k));
    } else {
        skip(&mut report, "regex tag values", "no regex tag values");
    }
    check!("64-bit and 128-bit trace IDs", k => own_cases::trace_id_widths(c, k));
    check!("invalid queries are rejected", k => {
        own_cases::invalid_queries(c, k, options.regex_tags)
    });
    if options.dependencies {
        check!("dependencies", k => own_cases::dependencies(c, k));
    } else {
        skip(&mut report, "dependencies", "computed outside the backend");
    }
    report
}

/// Fixture queries that need what Jaeger's v1 span model cannot hold: (caption, report name).
const V1_MODEL_QUERIES: [(&str, &str); 2] = [
    (
        "Scope Attributes",
        "jaeger queries.json: \"Scope Attributes\"",
    ),
    (
        "Link Attributes",
        "jaeger queries.json: \"Link Attributes\"",
    ),
];

fn skip(report: &mut Report, name: &'static str, why: &str) {
    report.push(name, Outcome::Skipped(why.to_string()));
}
