"""End to end: real client libraries → Sextant binaries on loopback → query HTTP API.

Two topologies run the same checks:
* `all-in-one`: one `sextant` process (agent + collector + query over one store);
* `distributed`: `sextant-agent`, `sextant-collector` and `sextant-query` as separate
  processes, the collector and query sharing one `sextant-remote-storage` process (Jaeger's
  gRPC remote-storage API), as an operator without a database cluster would run them.
"""

import os
import re
import socket
import subprocess
import uuid

import pytest

from clients import (
    check_trace,
    send_otlp_json,
    send_with_jaeger_client,
    send_with_otlp_grpc,
    send_with_otlp_http,
)
from conftest import BIN_DIR, QueryClient, free_port, free_tcp_udp_port, wait_until


class Topology:
    def __init__(self, agent_port, otlp_grpc, otlp_http, query, agent, collector):
        self.agent_port = agent_port
        self.otlp_grpc = otlp_grpc
        self.otlp_http = otlp_http
        self.query = query
        self.agent = agent  # process exposing the agent's metrics
        self.collector = collector  # process exposing the collector's metrics
        self.processes = []


def host_port_flags(binary):
    """Every `--….host-port` flag the binary's --help lists (cached per binary)."""
    if binary not in _HOST_PORT_FLAGS:
        out = subprocess.run(
            [os.path.join(BIN_DIR, binary), "--help"], capture_output=True, text=True, check=True
        ).stdout
        _HOST_PORT_FLAGS[binary] = sorted(set(re.findall(r"--([a-z0-9.-]+host-port)\b", out)))
    return _HOST_PORT_FLAGS[binary]


_HOST_PORT_FLAGS = {}


def all_in_one_flags(agent, grpc, otlp_grpc, otlp_http, http):
    """Loopback addresses for every listener of `sextant`: the named ones, and a free port
    for each other `host-port` flag, so a newly added listener never collides."""
    chosen = {
        "processor.jaeger-compact.server-host-port": agent,
        "collector.grpc-server.host-port": grpc,
        "collector.otlp.grpc.host-port": otlp_grpc,
        "collector.otlp.http.host-port": otlp_http,
        "query.http-server.host-port": http,
    }
    flags = []
    for flag in host_port_flags("sextant"):
        if flag in ("admin.http.host-port", "reporter.grpc.host-port"):
            continue  # the launcher sets the first; the second is a target, not a listener
        port = chosen.get(flag) or (
            free_tcp_udp_port() if flag.startswith("processor.") else free_port()
        )
        flags.append(f"--{flag}=127.0.0.1:{port}")
    return flags


def start_all_in_one(launcher, data_dir):
    """The all-in-one with its default store (embedded) in a fresh directory."""
    agent, grpc, otlp_grpc, otlp_http, http = (
        free_tcp_udp_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    )
    p = launcher(
        "sextant",
        [f"--embedded.directory={data_dir}"]
        + all_in_one_flags(agent, grpc, otlp_grpc, otlp_http, http),
    )
    t = Topology(agent, otlp_grpc, otlp_http, QueryClient(http), p, p)
    t.processes = [p]
    return t


def start_distributed(launcher):
    storage_port = free_port()
    storage = launcher(
        "sextant-remote-storage",
        ["--span-storage.type=memory", f"--grpc.host-port=127.0.0.1:{storage_port}"],
    )
    remote = ["--span-storage.type=grpc", f"--grpc-storage.server=127.0.0.1:{storage_port}"]
    grpc, otlp_grpc, otlp_http = free_port(), free_port(), free_port()
    collector = launcher(
        "sextant-collector",
        remote
        + [
            f"--collector.grpc-server.host-port=127.0.0.1:{grpc}",
            f"--collector.http-server.host-port=127.0.0.1:{free_port()}",
            f"--collector.otlp.grpc.host-port=127.0.0.1:{otlp_grpc}",
            f"--collector.otlp.http.host-port=127.0.0.1:{otlp_http}",
        ],
    )
    agent_port = free_tcp_udp_port()
    agent = launcher(
        "sextant-agent",
        [
            f"--processor.jaeger-compact.server-host-port=127.0.0.1:{agent_port}",
            f"--processor.jaeger-binary.server-host-port=127.0.0.1:{free_tcp_udp_port()}",
            f"--reporter.grpc.host-port=127.0.0.1:{grpc}",
        ],
    )
    http = free_port()
    query = launcher(
        "sextant-query",
        remote
        + [
            f"--query.http-server.host-port=127.0.0.1:{http}",
        ],
    )
    t = Topology(agent_port, otlp_grpc, otlp_http, QueryClient(http), agent, collector)
    t.processes = [storage, collector, agent, query]
    return t


@pytest.fixture(params=["all-in-one", "distributed"])
def topology(request, launcher, tmp_path):
    if request.param == "all-in-one":
        return start_all_in_one(launcher, tmp_path / "data")
    return start_distributed(launcher)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


SENDERS = {
    "jaeger-client-udp": lambda t, svc: send_with_jaeger_client(t.agent_port, svc),
    "otel-otlp-grpc": lambda t, svc: send_with_otlp_grpc(t.otlp_grpc, svc),
    "otel-otlp-http-protobuf": lambda t, svc: send_with_otlp_http(t.otlp_http, svc),
    "otlp-http-json": lambda t, svc: send_otlp_json(t.otlp_http, svc),
}


@pytest.mark.parametrize("sender", sorted(SENDERS))
def test_spans_arrive_intact(topology, sender):
    service = unique(sender)
    expected = SENDERS[sender](topology, service)
    trace = topology.query.wait_trace(expected["trace_id"], len(expected["spans"]))
    check_trace(trace, expected)

    # The service and its operations are listed, and search finds the trace.
    services = topology.query.get("/api/services").json()["data"]
    assert service in services
    ops = topology.query.get(f"/api/services/{service}/operations").json()["data"]
    assert set(expected["spans"]) <= set(ops)
    found = topology.query.get("/api/traces", service=service, lookback="1h").json()["data"]
    assert [t["traceID"] for t in found] == [expected["trace_id"]]
    found = topology.query.get(
        "/api/traces", service=service, operation=expected["root_op"], lookback="1h"
    ).json()["data"]
    assert len(found) == 1
    assert all(p.alive() for p in topology.processes)


def test_malformed_input_is_counted_and_survived(topology):
    import requests

    # Garbage and truncated UDP packets to the agent.
    before = topology.agent.metric_sum("jaeger_agent_thrift_udp_t_processor_handler_errors_total")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for payload in [b"\x00", b"garbage" * 10, b"\x82\x21\x01\x09emitBatch\x1c\x1c\xff\xff"]:
        sock.sendto(payload, ("127.0.0.1", topology.agent_port))
    sock.close()
    wait_until(
        lambda: topology.agent.metric_sum(
            "jaeger_agent_thrift_udp_t_processor_handler_errors_total"
        )
        >= before + 3,
        what="agent malformed-packet counter",
    )

    # Malformed OTLP/HTTP bodies: 400, never 5xx.
    url = f"http://127.0.0.1:{topology.otlp_http}/v1/traces"
    for body, ctype in [
        (b"\xff\xfe\x00garbage", "application/x-protobuf"),
        (b"\x0a\xff\xff\xff\xff\x0f", "application/x-protobuf"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "application/json"),
        (b"{not json", "application/json"),
    ]:
        r = requests.post(url, data=body, headers={"Content-Type": ctype}, timeout=10)
        assert r.status_code == 400, (body, r.status_code, r.text)
    assert all(p.alive() for p in topology.processes)

    # And the pipeline still works afterwards.
    expected = send_otlp_json(topology.otlp_http, unique("after-garbage"))
    check_trace(topology.query.wait_trace(expected["trace_id"], 2), expected)


def test_clean_shutdown_on_sigterm(topology):
    for p in topology.processes:
        assert p.stop() == 0, f"{p.binary} exit code {p.proc.returncode}:\n{p.logs()}"
