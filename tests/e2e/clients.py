"""Span senders built on real client libraries, and the expectations each one checks.

Each sender emits the same small trace shape (a root with two children, tags of every type,
logs/events, and a process/resource with attributes) and returns what the query API must show.
"""

import json
import random
import time

import requests


def send_with_jaeger_client(agent_port, service):
    """Python `jaeger-client` → agent UDP 6831 (compact thrift emitBatch)."""
    from jaeger_client import Config

    cfg = Config(
        config={
            "sampler": {"type": "const", "param": 1},
            "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": agent_port},
            "reporter_flush_interval": 0.1,
            "tags": {"deployment.zone": "zone-a"},
        },
        service_name=service,
        validate=True,
    )
    tracer = cfg.new_tracer()
    start = time.time()
    with tracer.start_span("GET /checkout") as root:
        root.set_tag("http.method", "GET")
        root.set_tag("http.status_code", 200)
        root.set_tag("retry.ratio", 0.25)
        root.set_tag("cache.hit", False)
        with tracer.start_span("SELECT orders", child_of=root) as db:
            db.set_tag("db.system", "postgresql")
            db.log_kv({"event": "query.start", "rows": 3})
            time.sleep(0.01)
        with tracer.start_span("charge-card", child_of=root) as charge:
            charge.set_tag("error", True)
            charge.log_kv({"event": "error", "message": "card declined"})
    trace_id = root.trace_id
    tracer.close()
    return {
        "trace_id": f"{trace_id:016x}",
        "service": service,
        "root_op": "GET /checkout",
        "spans": {
            "GET /checkout": {
                "parent": None,
                "tags": {
                    "http.method": ("string", "GET"),
                    "http.status_code": ("int64", 200),
                    "retry.ratio": ("float64", 0.25),
                    "cache.hit": ("bool", False),
                },
                "logs": [],
            },
            "SELECT orders": {
                "parent": "GET /checkout",
                "tags": {"db.system": ("string", "postgresql")},
                "logs": [{"event": "query.start", "rows": 3}],
                "min_duration_us": 10_000,
            },
            "charge-card": {
                "parent": "GET /checkout",
                "tags": {"error": ("bool", True)},
                "logs": [{"event": "error", "message": "card declined"}],
            },
        },
        "process_tags": {"deployment.zone": "zone-a"},
        "started": start,
    }


def _otel_provider(service, exporter):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource = Resource.create({"service.name": service, "host.name": "e2e-host"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _emit_otel_trace(provider, service):
    from opentelemetry.trace import SpanKind, Status, StatusCode

    tracer = provider.get_tracer("e2e.instrumentation", "1.2.3")
    start = time.time()
    with tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.request.method", "POST")
        root.set_attribute("http.response.status_code", 201)
        root.set_attribute("payload.ratio", 0.5)
        root.set_attribute("feature.enabled", True)
        with tracer.start_as_current_span("orders.insert", kind=SpanKind.CLIENT) as db:
            db.set_attribute("db.system", "postgresql")
            db.add_event("query.start", {"rows": 3})
            time.sleep(0.01)
        with tracer.start_as_current_span("payment.authorize", kind=SpanKind.CLIENT) as pay:
            pay.set_status(Status(StatusCode.ERROR, "card declined"))
            pay.add_event("retry", {"attempt": 2})
        trace_id = root.get_span_context().trace_id
    provider.force_flush()
    provider.shutdown()
    return {
        "trace_id": f"{trace_id:032x}",
        "service": service,
        "root_op": "POST /orders",
        "spans": {
            "POST /orders": {
                "parent": None,
                "tags": {
                    "http.request.method": ("string", "POST"),
                    "http.response.status_code": ("int64", 201),
                    "payload.ratio": ("float64", 0.5),
                    "feature.enabled": ("bool", True),
                    "span.kind": ("string", "server"),
                    "otel.scope.name": ("string", "e2e.instrumentation"),
                    "otel.scope.version": ("string", "1.2.3"),
                },
                "logs": [],
            },
            "orders.insert": {
                "parent": "POST /orders",
                "tags": {"db.system": ("string", "postgresql"), "span.kind": ("string", "client")},
                "logs": [{"event": "query.start", "rows": 3}],
                "min_duration_us": 10_000,
            },
            "payment.authorize": {
                "parent": "POST /orders",
                "tags": {
                    "error": ("bool", True),
                    "otel.status_description": ("string", "card declined"),
                },
                "logs": [{"event": "retry", "attempt": 2}],
            },
        },
        "process_tags": {"host.name": "e2e-host"},
        "started": start,
    }


def send_with_otlp_grpc(port, service):
    """OpenTelemetry Python SDK → OTLP gRPC 4317."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True)
    return _emit_otel_trace(_otel_provider(service, exporter), service)


def send_with_otlp_http(port, service):
    """OpenTelemetry Python SDK → OTLP/HTTP 4318 (protobuf)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
    return _emit_otel_trace(_otel_provider(service, exporter), service)


def send_otlp_json(port, service):
    """OTLP/HTTP JSON, as the OTLP spec encodes it (hex IDs, string int64s)."""
    trace_id = random.getrandbits(128) | 1
    root_id, child_id = random.getrandbits(64) | 1, random.getrandbits(64) | 1
    now = time.time_ns()
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": service}},
                        {"key": "host.name", "value": {"stringValue": "json-host"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "json.scope", "version": "0.1"},
                        "spans": [
                            {
                                "traceId": f"{trace_id:032x}",
                                "spanId": f"{root_id:016x}",
                                "name": "json-root",
                                "kind": 2,
                                "startTimeUnixNano": str(now),
                                "endTimeUnixNano": str(now + 30_000_000),
                                "attributes": [
                                    {"key": "count", "value": {"intValue": "7"}},
                                ],
                            },
                            {
                                "traceId": f"{trace_id:032x}",
                                "spanId": f"{child_id:016x}",
                                "parentSpanId": f"{root_id:016x}",
                                "name": "json-child",
                                "kind": 3,
                                "startTimeUnixNano": str(now + 1_000_000),
                                "endTimeUnixNano": str(now + 11_000_000),
                                "events": [
                                    {
                                        "timeUnixNano": str(now + 2_000_000),
                                        "name": "tick",
                                        "attributes": [
                                            {"key": "n", "value": {"intValue": 1}}
                                        ],
                                    }
                                ],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    r = requests.post(
        f"http://127.0.0.1:{port}/v1/traces",
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return {
        "trace_id": f"{trace_id:032x}",
        "service": service,
        "root_op": "json-root",
        "spans": {
            "json-root": {
                "parent": None,
                "tags": {"count": ("int64", 7), "span.kind": ("string", "server")},
                "logs": [],
                "exact_duration_us": 30_000,
            },
            "json-child": {
                "parent": "json-root",
                "tags": {"span.kind": ("string", "client")},
                "logs": [{"event": "tick", "n": 1}],
                "exact_duration_us": 10_000,
            },
        },
        "process_tags": {"host.name": "json-host"},
        "started": now / 1e9,
    }


def check_trace(trace, expected):
    """Asserts that a trace in Jaeger UI JSON carries everything the sender put in it."""
    assert trace["traceID"] == expected["trace_id"]
    spans = {s["operationName"]: s for s in trace["spans"]}
    assert set(spans) == set(expected["spans"]), sorted(spans)
    by_id = {s["spanID"]: s for s in trace["spans"]}
    for op, want in expected["spans"].items():
        span = spans[op]
        assert span["traceID"] == expected["trace_id"]
        # parent links
        parents = [r for r in span["references"] if r["refType"] == "CHILD_OF"]
        if want["parent"] is None:
            assert parents == [], span["references"]
        else:
            assert len(parents) == 1, span["references"]
            assert by_id[parents[0]["spanID"]]["operationName"] == want["parent"]
        # typed tags
        tags = {t["key"]: (t["type"], t["value"]) for t in span["tags"]}
        for key, (typ, value) in want["tags"].items():
            assert key in tags, f"{op}: tag {key} missing from {tags}"
            got_type, got_value = tags[key]
            assert got_type == typ, f"{op}: {key} type {got_type} != {typ}"
            assert got_value == value, f"{op}: {key} = {got_value!r} != {value!r}"
        # logs / events
        logs = [{f["key"]: f["value"] for f in log["fields"]} for log in span["logs"]]
        assert logs == want["logs"], f"{op}: logs {logs}"
        for log in span["logs"]:
            assert span["startTime"] <= log["timestamp"] <= span["startTime"] + span["duration"]
        # durations and times (microseconds)
        assert span["duration"] >= want.get("min_duration_us", 0)
        if "exact_duration_us" in want:
            assert span["duration"] == want["exact_duration_us"]
        assert abs(span["startTime"] / 1e6 - expected["started"]) < 60
        # process / resource
        process = trace["processes"][span["processID"]]
        assert process["serviceName"] == expected["service"]
        ptags = {t["key"]: t["value"] for t in process["tags"]}
        for key, value in expected["process_tags"].items():
            assert ptags.get(key) == value, f"process tags {ptags}"
