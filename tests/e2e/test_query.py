"""End to end: the query service's HTTP APIs beyond v1 on a real all-in-one, fed by the
OpenTelemetry Python SDK — api_v3 (OTLP JSON), archive (surviving a restart), critical path,
SPM metrics, base path and CORS. The gRPC APIs are covered in Rust (query/tests/grpc.rs)."""

import time
import uuid

import requests

from clients import send_with_otlp_http
from conftest import QueryClient, free_port, free_tcp_udp_port, wait_until


def start(launcher, data_dir, *extra):
    otlp_http, http = free_port(), free_port()
    p = launcher(
        "sextant",
        [
            f"--embedded.directory={data_dir}",
            f"--processor.jaeger-compact.server-host-port=127.0.0.1:{free_tcp_udp_port()}",
            f"--processor.jaeger-binary.server-host-port=127.0.0.1:{free_tcp_udp_port()}",
            f"--collector.grpc-server.host-port=127.0.0.1:{free_port()}",
            f"--collector.http-server.host-port=127.0.0.1:{free_port()}",
            f"--collector.otlp.grpc.host-port=127.0.0.1:{free_port()}",
            f"--collector.otlp.http.host-port=127.0.0.1:{otlp_http}",
            f"--query.http-server.host-port=127.0.0.1:{http}",
            f"--query.grpc-server.host-port=127.0.0.1:{free_port()}",
            "--query.base-path=/jaeger",
            "--query.cors.allowed-origins=http://grafana.test",
            *extra,
        ],
    )
    return p, otlp_http, QueryClient(http, "/jaeger")


def test_query_apis_end_to_end(launcher, tmp_path):
    data = tmp_path / "data"
    p, otlp_http, q = start(launcher, data)
    service = f"e2e-query-{uuid.uuid4().hex[:8]}"
    sent = send_with_otlp_http(otlp_http, service)
    trace_id = sent["trace_id"]
    q.wait_trace(trace_id, 3)

    # api_v3: OTLP JSON under {"result": ...}, services, operations.
    r = q.get(f"/api/v3/traces/{trace_id}")
    assert r.status_code == 200
    resource_spans = r.json()["result"]["resourceSpans"]
    names = sorted(s["name"] for rs in resource_spans for ss in rs["scopeSpans"] for s in ss["spans"])
    assert names == ["POST /orders", "orders.insert", "payment.authorize"]
    attrs = {a["key"]: a["value"] for a in resource_spans[0]["resource"]["attributes"]}
    assert attrs["service.name"] == {"stringValue": service}
    assert service in q.get("/api/v3/services").json()["services"]
    ops = q.get("/api/v3/operations", service=service, span_kind="server").json()["operations"]
    assert ops == [{"name": "POST /orders", "spanKind": "server"}]
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    r = q.get(
        "/api/v3/traces",
        **{
            "query.service_name": service,
            "query.start_time_min": iso(now - 600),
            "query.start_time_max": iso(now + 60),
        },
    )
    assert r.status_code == 200, r.text
    missing = q.get("/api/v3/traces", **{"query.service_name": service})
    assert missing.status_code == 400
    assert missing.json()["error"]["httpCode"] == 400

    # Critical path: sections tile the root span without gaps.
    path = q.get(f"/api/traces/{trace_id}/critical-path").json()["data"]
    assert path, "critical path is empty"
    assert all(a["sectionEnd"] == b["sectionStart"] for a, b in zip(path, path[1:]))

    # SPM: one server call of the service in the last minutes.
    calls = q.get(
        "/api/metrics/calls", service=service, step=60000, lookback=60000, ratePer=600000
    ).json()
    assert calls["name"] == "service_call_rate"
    last = calls["metrics"][0]["metricPoints"][-1]["gaugeValue"]["doubleValue"]
    assert abs(last - 1 / 600) < 1e-9
    errors = q.get("/api/metrics/errors", service=service, spanKind="client").json()
    assert errors["metrics"][0]["metricPoints"][-1]["gaugeValue"]["doubleValue"] == 0.5

    # CORS for the configured origin only.
    r = requests.get(q.base + "/api/services", headers={"Origin": "http://grafana.test"}, timeout=10)
    assert r.headers.get("access-control-allow-origin") == "http://grafana.test"
    r = requests.get(q.base + "/api/services", headers={"Origin": "http://other.test"}, timeout=10)
    assert "access-control-allow-origin" not in r.headers

    # Archive, then restart: the archived trace is still there, from <dir>/archive.
    r = requests.post(q.base + f"/api/archive/{trace_id}", timeout=10)
    assert r.status_code == 200
    assert r.json()["errors"] == []
    assert (data / "archive").is_dir()
    assert p.stop() == 0
    _, _, q2 = start(launcher, data)
    trace = wait_until(lambda: q2.trace(trace_id), what="archived trace after restart")
    assert len(trace["spans"]) == 3
