"""End to end on the Elasticsearch backend, every component its own process:

    Python jaeger-client ──UDP──▶ sextant-agent ──gRPC, round-robin──▶ sextant-collector ×2
                                                                         │ (elasticsearch)
                                                                         ▼
                                   sextant-query (elasticsearch) ──▶ osmem-server

`osmem-server` is an in-memory OpenSearch-compatible server (the `osmem` fixture). Every
span sent is read back through the query HTTP API, both collectors must have stored spans
(their metrics say so), and the documents are in Jaeger's daily indices.
"""

import time

import requests

from clients import check_trace, send_with_jaeger_client
from conftest import QueryClient, free_port, free_tcp_udp_port, wait_until
from test_pipeline import host_port_flags, unique

# Distinct services give distinct agent batches (the agent batches per process), and the
# agent round-robins batches over the collectors: enough traces reach both.
TRACES = 8


def es_flags(osmem):
    # Flags only; the backend itself is chosen with SPAN_STORAGE_TYPE (Jaeger's variable).
    return [f"--es.server-urls={osmem.url}", "--es.num-shards=1", "--es.num-replicas=0"]


ES_ENV = {"SPAN_STORAGE_TYPE": "elasticsearch"}


def listener_flags(binary, chosen):
    """A loopback address for every listener of `binary`: `chosen` ones, a free port for
    the rest, so two collectors on one host never collide."""
    flags = []
    for flag in host_port_flags(binary):
        if flag == "admin.http.host-port":
            continue  # set by the launcher
        port = chosen.get(flag) or free_port()
        flags.append(f"--{flag}=127.0.0.1:{port}")
    return flags


def start_collector(launcher, osmem):
    grpc = free_port()
    collector = launcher(
        "sextant-collector",
        es_flags(osmem) + listener_flags("sextant-collector", {"collector.grpc-server.host-port": grpc}),
        env=ES_ENV,
    )
    return collector, grpc


def test_agent_two_collectors_and_query_over_elasticsearch(launcher, osmem):
    c1, grpc1 = start_collector(launcher, osmem)
    c2, grpc2 = start_collector(launcher, osmem)
    compact = free_tcp_udp_port()
    agent = launcher(
        "sextant-agent",
        [
            f"--processor.jaeger-compact.server-host-port=127.0.0.1:{compact}",
            f"--processor.jaeger-binary.server-host-port=127.0.0.1:{free_tcp_udp_port()}",
            f"--http-server.host-port=127.0.0.1:{free_port()}",
            f"--reporter.grpc.host-port=127.0.0.1:{grpc1},127.0.0.1:{grpc2}",
            "--reporter.grpc.batch.max-delay=20ms",
        ],
    )
    http = free_port()
    query_proc = launcher(
        "sextant-query",
        [
            "--span-storage.type=elasticsearch",
            *es_flags(osmem),
            f"--query.http-server.host-port=127.0.0.1:{http}",
            f"--query.grpc-server.host-port=127.0.0.1:{free_port()}",
        ],
    )
    query = QueryClient(http)

    sent = []
    for _ in range(TRACES):
        sent.append(send_with_jaeger_client(compact, unique("es-e2e")))
    total_spans = sum(len(e["spans"]) for e in sent)

    # Every span of every trace reads back intact through the query API.
    for expected in sent:
        trace = query.wait_trace(expected["trace_id"], len(expected["spans"]), timeout=60)
        check_trace(trace, expected)

    # Search and the service list work too (aggregations over the span/service indices).
    services = query.get("/api/services").json()["data"]
    for expected in sent:
        assert expected["service"] in services
        found = query.get("/api/traces", service=expected["service"], lookback="1h").json()
        assert [t["traceID"] for t in found["data"]] == [expected["trace_id"]]
        ops = query.get(f"/api/services/{expected['service']}/operations").json()["data"]
        assert set(expected["spans"]) <= set(ops)

    # Both collectors received and stored spans, and together exactly what was sent.
    received = [c.metric_sum("jaeger_collector_spans_received_total") for c in (c1, c2)]
    saved = [c.metric_sum("jaeger_collector_spans_saved_by_svc_total", result="ok") for c in (c1, c2)]
    assert all(n > 0 for n in received), f"spans received per collector: {received}"
    assert sum(received) == total_spans, received
    assert saved == received, (saved, received)
    for c, n in zip((c1, c2), received):
        assert c.metric_sum("jaeger_collector_spans_saved_by_svc_total", result="err") == 0
        # Jaeger's bulk metrics: span documents plus service documents, none failed.
        assert c.metric_sum("jaeger_bulk_index_inserts_total") >= n
        assert c.metric_sum("jaeger_bulk_index_errors_total") == 0
        assert c.metric_sum("jaeger_bulk_index_latency_ok_count") >= 1
    assert agent.metric_sum("jaeger_agent_reporter_spans_failures_total") == 0

    # The documents sit in Jaeger's daily span indices (UTC dates), one per span.
    days = {time.strftime("%Y-%m-%d", time.gmtime(e["started"])) for e in sent}
    indices = ",".join(f"jaeger-span-{d}" for d in sorted(days))
    count = requests.get(f"{osmem.url}/{indices}/_count", timeout=10).json()["count"]
    assert count == total_spans

    assert all(p.alive() for p in (c1, c2, agent, query_proc))
    for p in (agent, c1, c2, query_proc):
        assert p.stop() == 0, f"{p.binary} exit code {p.proc.returncode}:\n{p.logs()}"


def test_query_archives_a_trace_into_the_archive_index(launcher, osmem):
    collector, grpc = start_collector(launcher, osmem)
    http = free_port()
    launcher(
        "sextant-query",
        [
            "--span-storage.type=elasticsearch",
            *es_flags(osmem),
            f"--query.http-server.host-port=127.0.0.1:{http}",
            f"--query.grpc-server.host-port=127.0.0.1:{free_port()}",
        ],
    )
    query = QueryClient(http)
    compact = free_tcp_udp_port()
    launcher(
        "sextant-agent",
        [
            f"--processor.jaeger-compact.server-host-port=127.0.0.1:{compact}",
            f"--processor.jaeger-binary.server-host-port=127.0.0.1:{free_tcp_udp_port()}",
            f"--http-server.host-port=127.0.0.1:{free_port()}",
            f"--reporter.grpc.host-port=127.0.0.1:{grpc}",
        ],
    )
    expected = send_with_jaeger_client(compact, unique("es-archive"))
    query.wait_trace(expected["trace_id"], len(expected["spans"]), timeout=60)

    r = requests.post(f"{query.base}/api/archive/{expected['trace_id']}", timeout=10)
    assert r.status_code == 200, r.text

    # The copy is in Jaeger's archive index, which has no date.
    def archived():
        reply = requests.get(f"{osmem.url}/jaeger-span-archive/_count", timeout=10)
        return reply.status_code == 200 and reply.json()["count"] == len(expected["spans"])

    wait_until(archived, what="archived spans in jaeger-span-archive")

    # With the primary indices gone (as after retention), the trace is read from the archive.
    day = time.strftime("%Y-%m-%d", time.gmtime(expected["started"]))
    requests.delete(f"{osmem.url}/jaeger-span-{day}", timeout=10).raise_for_status()
    check_trace(query.trace(expected["trace_id"]), expected)
