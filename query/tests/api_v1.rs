//! Every v1 endpoint over real sockets, checked against the JSON the Jaeger UI and Grafana
//! consume: field names, types, envelope, and Jaeger's 400/404 answers.

mod support;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use support::{start, Server, T1, T2};

async fn get(server: &Server, path: &str) -> (u16, Value) {
    let resp = reqwest::get(server.url(path)).await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(ct, "application/json", "{path}");
    (status, resp.json().await.unwrap())
}

fn error_envelope(code: u16, msg: &str) -> Value {
    json!({"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": code, "msg": msg}]})
}

fn trace_ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceID"].as_str().unwrap().to_string())
        .collect()
}

fn t1() -> String {
    T1.to_jaeger_string()
}
fn t2() -> String {
    T2.to_jaeger_string()
}

#[tokio::test]
async fn services_and_operations() {
    let s = start("/").await;
    assert_eq!(
        get(&s, "/api/services").await,
        (
            200,
            json!({"data": ["frontend", "mysql"], "total": 2, "limit": 0, "offset": 0, "errors": null})
        )
    );
    assert_eq!(
        get(&s, "/api/services/frontend/operations").await,
        (
            200,
            json!({"data": ["HTTP GET /customer", "HTTP GET /dispatch"], "total": 2, "limit": 0, "offset": 0, "errors": null})
        )
    );
    assert_eq!(
        get(&s, "/api/services/nobody/operations").await.1["data"],
        json!([])
    );
    assert_eq!(
        get(&s, "/api/operations?service=frontend").await,
        (
            200,
            json!({"data": [
                {"name": "HTTP GET /customer", "spanKind": "server"},
                {"name": "HTTP GET /dispatch", "spanKind": "server"}
            ], "total": 2, "limit": 0, "offset": 0, "errors": null})
        )
    );
    assert_eq!(
        get(&s, "/api/operations?service=mysql&spanKind=client")
            .await
            .1["data"],
        json!([{"name": "SQL SELECT", "spanKind": "client"}])
    );
    assert_eq!(
        get(&s, "/api/operations?service=mysql&spanKind=server")
            .await
            .1["data"],
        json!([])
    );
    assert_eq!(
        get(&s, "/api/operations?service=mysql&spanKind=bogus")
            .await
            .1["data"],
        json!([])
    );
    assert_eq!(
        get(&s, "/api/operations").await,
        (400, error_envelope(400, "parameter 'service' is required"))
    );
    s.stop().await;
}

/// The trace of the fixture as Jaeger writes it, spans sorted by ID and each `processID`
/// replaced by the process it names, so the check does not depend on storage order.
fn normalized_trace(trace: &Value) -> Value {
    let processes = trace["processes"].as_object().unwrap().clone();
    let mut spans: Vec<Value> = trace["spans"].as_array().unwrap().clone();
    for span in &mut spans {
        let pid = span["processID"].as_str().unwrap().to_string();
        let obj = span.as_object_mut().unwrap();
        obj.remove("processID");
        obj.insert("process".into(), processes[&pid].clone());
    }
    spans.sort_by_key(|s| s["spanID"].as_str().unwrap().to_string());
    let mut keys: Vec<&String> = processes.keys().collect();
    keys.sort();
    json!({
        "traceID": trace["traceID"],
        "spans": spans,
        "processKeys": keys,
        "warnings": trace["warnings"],
    })
}

fn expected_t1(t0: u64) -> Value {
    json!({
        "traceID": t1(),
        "spans": [
            {
                "traceID": t1(),
                "spanID": "0000000000000001",
                "flags": 1,
                "operationName": "HTTP GET /dispatch",
                "references": [],
                "startTime": t0,
                "duration": 100000,
                "tags": [
                    {"key": "http.status_code", "type": "int64", "value": 200},
                    {"key": "span.kind", "type": "string", "value": "server"},
                    {"key": "error", "type": "bool", "value": true}
                ],
                "logs": [],
                "warnings": null,
                "process": {"serviceName": "frontend", "tags": [
                    {"key": "hostname", "type": "string", "value": "web-1"}
                ]}
            },
            {
                "traceID": t1(),
                "spanID": "0000000000000002",
                "flags": 1,
                "operationName": "SQL SELECT",
                "references": [
                    {"refType": "CHILD_OF", "traceID": t1(), "spanID": "0000000000000001"}
                ],
                "startTime": t0 + 10000,
                "duration": 50000,
                "tags": [
                    {"key": "db.type", "type": "string", "value": "sql"},
                    {"key": "span.kind", "type": "string", "value": "client"}
                ],
                "logs": [],
                "warnings": null,
                "process": {"serviceName": "mysql", "tags": []}
            }
        ],
        "processKeys": ["p1", "p2"],
        "warnings": null
    })
}

#[tokio::test]
async fn get_trace_by_id() {
    let s = start("/").await;
    let (status, body) = get(&s, &format!("/api/traces/{}", t1())).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            &body["total"],
            &body["limit"],
            &body["offset"],
            &body["errors"]
        ),
        (&json!(0), &json!(0), &json!(0), &Value::Null)
    );
    let traces = body["data"].as_array().unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(normalized_trace(&traces[0]), expected_t1(s.t0_us));

    // 64-bit and 128-bit IDs, with or without leading zeros.
    for id in [
        "abc0000000000000def",
        "0000000000000abc0000000000000def",
        "1234",
        "0000000000001234",
        "00000000000000000000000000001234",
    ] {
        let (status, body) = get(&s, &format!("/api/traces/{id}")).await;
        assert_eq!(status, 200, "{id}");
        let want = if id.ends_with("def") { t1() } else { t2() };
        assert_eq!(body["data"][0]["traceID"], json!(want), "{id}");
    }

    assert_eq!(
        get(&s, "/api/traces/ffff").await,
        (404, error_envelope(404, "trace not found"))
    );
    for bad in ["xyz", "123456789012345678901234567890123", "-1"] {
        let (status, body) = get(&s, &format!("/api/traces/{bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["data"], Value::Null);
        assert_eq!(body["errors"][0]["code"], json!(400));
        assert!(body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("trace ID"));
    }
    s.stop().await;
}

#[tokio::test]
async fn search_traces() {
    let s = start("/").await;
    let t0 = s.t0_us;
    let ids = |body: (u16, Value)| {
        assert_eq!(body.0, 200, "{}", body.1);
        trace_ids(&body.1)
    };

    let (status, body) = get(&s, "/api/traces?service=frontend").await;
    assert_eq!(status, 200);
    // Most recent first; the search response leaves total at 0, as Jaeger's does.
    assert_eq!(trace_ids(&body), vec![t2(), t1()]);
    assert_eq!((&body["total"], &body["errors"]), (&json!(0), &Value::Null));
    assert_eq!(
        normalized_trace(&body["data"][1]),
        expected_t1(s.t0_us),
        "search returns whole traces"
    );

    let q = |extra: &str| format!("/api/traces?service=frontend&{extra}");
    assert_eq!(
        ids(get(&s, &q("operation=HTTP%20GET%20%2Fcustomer")).await),
        vec![t2()]
    );
    assert_eq!(
        ids(get(&s, &q("tags=%7B%22http.status_code%22%3A%22200%22%7D")).await),
        vec![t1()]
    );
    assert_eq!(
        ids(get(&s, &q("tags=%7B%22error%22%3A%22true%22%7D")).await),
        vec![t1()]
    );
    assert_eq!(ids(get(&s, &q("tag=customer:123")).await), vec![t2()]);
    assert_eq!(
        ids(get(&s, &q("tag=customer:123&tag=hostname:web-1")).await),
        vec![t2()]
    );
    assert!(ids(get(&s, &q("tag=customer:999")).await).is_empty());
    assert_eq!(ids(get(&s, &q("minDuration=10ms")).await), vec![t1()]);
    assert_eq!(ids(get(&s, &q("maxDuration=10ms")).await), vec![t2()]);
    assert_eq!(
        ids(get(&s, &q("minDuration=1ms&maxDuration=0.2s")).await),
        vec![t2(), t1()]
    );
    assert_eq!(ids(get(&s, &q("limit=1")).await), vec![t2()]);
    assert_eq!(ids(get(&s, &q("lookback=1h")).await), vec![t2(), t1()]);
    assert_eq!(
        ids(get(&s, &q(&format!("start={}", t0 + 30_000_000))).await),
        vec![t2()]
    );
    assert!(ids(get(&s, &q(&format!("start=0&end={}", t0 - 1))).await).is_empty());
    assert_eq!(ids(get(&s, "/api/traces?service=mysql").await), vec![t1()]);
    assert!(ids(get(&s, "/api/traces?service=nobody").await).is_empty());
    s.stop().await;
}

#[tokio::test]
async fn search_by_trace_ids_reports_missing_ones() {
    let s = start("/").await;
    let (status, body) = get(
        &s,
        &format!("/api/traces?traceID={}&traceID=ffff&traceID=1234", t1()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(trace_ids(&body), vec![t1(), t2()]);
    assert_eq!(
        body["errors"],
        json!([{"msg": "trace not found", "traceID": "000000000000ffff"}])
    );
    s.stop().await;
}

#[tokio::test]
async fn search_parameter_errors_are_400_with_jaeger_messages() {
    let s = start("/").await;
    for (query, msg) in [
        ("", "parameter 'service' is required"),
        (
            "service=frontend&minDuration=abc",
            "unable to parse param 'minDuration': time: invalid duration \"abc\"",
        ),
        (
            "service=frontend&minDuration=2s&maxDuration=1s",
            "'maxDuration' should be greater than 'minDuration'",
        ),
        (
            "service=frontend&tag=broken",
            "malformed 'tag' parameter, expecting key:value, received: broken",
        ),
        (
            "service=frontend&limit=ten",
            "strconv.ParseInt: parsing \"ten\": invalid syntax",
        ),
        (
            "service=frontend&end=now",
            "unable to parse param 'end': strconv.ParseInt: parsing \"now\": invalid syntax",
        ),
    ] {
        assert_eq!(
            get(&s, &format!("/api/traces?{query}")).await,
            (400, error_envelope(400, msg)),
            "{query}"
        );
    }
    for query in ["service=frontend&tags=%7Bbad", "traceID=nothex"] {
        let (status, body) = get(&s, &format!("/api/traces?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["errors"][0]["code"], json!(400));
    }
    s.stop().await;
}

#[tokio::test]
async fn dependencies() {
    let s = start("/").await;
    let now_ms = s.t0_us / 1000 + 600_000;
    let edge = json!([{"parent": "frontend", "child": "mysql", "callCount": 1}]);
    assert_eq!(
        get(
            &s,
            &format!("/api/dependencies?endTs={now_ms}&lookback=3600000")
        )
        .await,
        (
            200,
            json!({"data": edge, "total": 0, "limit": 0, "offset": 0, "errors": null})
        )
    );
    assert_eq!(get(&s, "/api/dependencies").await.1["data"], edge);
    assert_eq!(
        get(
            &s,
            &format!("/api/dependencies?endTs={now_ms}&service=mysql")
        )
        .await
        .1["data"],
        edge
    );
    assert_eq!(
        get(
            &s,
            &format!("/api/dependencies?endTs={now_ms}&service=redis")
        )
        .await
        .1["data"],
        json!([])
    );
    let before = now_ms - 7_200_000;
    assert_eq!(
        get(
            &s,
            &format!("/api/dependencies?endTs={before}&lookback=3600000")
        )
        .await
        .1["data"],
        json!([])
    );
    assert_eq!(
        get(&s, "/api/dependencies?endTs=soon").await,
        (
            400,
            error_envelope(
                400,
                "unable to parse param 'endTs': strconv.ParseInt: parsing \"soon\": invalid syntax"
            )
        )
    );
    s.stop().await;
}

#[tokio::test]
async fn field_types_match_what_the_ui_reads() {
    // The UI and Grafana index these fields by name and type; check every one on a search.
    let s = start("/").await;
    let (_, body) = get(&s, "/api/traces?service=frontend").await;
    for trace in body["data"].as_array().unwrap() {
        assert!(trace["traceID"].is_string());
        let processes: BTreeMap<String, Value> =
            serde_json::from_value(trace["processes"].clone()).unwrap();
        for p in processes.values() {
            assert!(p["serviceName"].is_string() && p["tags"].is_array());
        }
        for span in trace["spans"].as_array().unwrap() {
            for field in ["traceID", "spanID", "operationName", "processID"] {
                assert!(span[field].is_string(), "{field}");
            }
            assert_eq!(span["spanID"].as_str().unwrap().len(), 16);
            for field in ["startTime", "duration", "flags"] {
                assert!(span[field].is_u64(), "{field}");
            }
            for field in ["references", "tags", "logs"] {
                assert!(span[field].is_array(), "{field}");
            }
            assert!(processes.contains_key(span["processID"].as_str().unwrap()));
            for tag in span["tags"].as_array().unwrap() {
                assert!(tag["key"].is_string() && tag["type"].is_string());
                assert!(!tag["value"].is_null());
            }
        }
    }
    s.stop().await;
}
