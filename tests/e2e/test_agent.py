"""The production agent end to end: real Jaeger client libraries report through the
`sextant-agent` binary over UDP and fetch sampling strategies from its HTTP port.

Topology: `start_distributed` from test_pipeline.py (agent → collector → remote storage ←
query), with the agent launch extended by its sampling HTTP port and `--agent.tags`.
* Python `jaeger-client` — compact thrift on the compact port, remote sampler on /sampling;
* Node `jaeger-client` (tests/e2e/node) — binary thrift (its UDP sender's protocol) on the
  binary port, `RemoteControlledSampler` on /sampling.
Every span must arrive (read back through `sextant-query`), with the agent's tags added to
the process.
"""

import json
import os
import subprocess

import pytest
import requests

from conftest import free_port, wait_until
from test_pipeline import start_distributed, unique

NODE_DIR = os.path.join(os.path.dirname(__file__), "node")


class AgentTopology:
    def __init__(self, launcher):
        self.ports = {}

        def launch(binary, args, admin_port=None, env=None):
            if binary == "sextant-agent":
                self.ports["http"] = free_port()
                binary_flag = "--processor.jaeger-binary.server-host-port="
                self.ports["binary"] = int(
                    next(a for a in args if a.startswith(binary_flag)).rsplit(":", 1)[1]
                )
                args = args + [
                    f"--http-server.host-port=127.0.0.1:{self.ports['http']}",
                    "--agent.tags=agent.pool=${SEXTANT_E2E_POOL:pool-default},agent.name=e2e",
                    "--reporter.grpc.batch.max-delay=20ms",
                ]
                env = dict(env or {}, SEXTANT_E2E_POOL="pool-7")
            return launcher(binary, args, admin_port, env)

        self.t = start_distributed(launch)
        self.compact = self.t.agent_port
        self.binary = self.ports["binary"]
        self.http = self.ports["http"]
        self.agent = self.t.agent
        self.query = self.t.query

    def sampling(self, path, **params):
        return requests.get(f"http://127.0.0.1:{self.http}{path}", params=params, timeout=10)


@pytest.fixture
def topo(launcher):
    return AgentTopology(launcher)


def process_tags(trace):
    process = next(iter(trace["processes"].values()))
    return {t["key"]: t["value"] for t in process["tags"]}


def test_sampling_endpoints_answer_jaeger_shapes(topo):
    r = topo.sampling("/sampling", service="shapes")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["strategyType"] in ("PROBABILISTIC", "RATE_LIMITING")
    legacy = topo.sampling("/", service="shapes").json()
    assert legacy["strategyType"] in (0, 1)
    assert topo.sampling("/sampling").status_code == 400
    assert topo.sampling("/baggageRestrictions", service="shapes").status_code == 500
    assert topo.agent.metric_sum("jaeger_agent_http_server_requests_total", type="sampling") >= 1


def test_python_client_reports_compact_and_follows_remote_sampling(topo):
    from jaeger_client import Config
    from jaeger_client.sampler import ProbabilisticSampler

    service = unique("py-agent")
    cfg = Config(
        config={
            "sampling_refresh_interval": 0.2,
            "local_agent": {
                "reporting_host": "127.0.0.1",
                "reporting_port": topo.compact,
                "sampling_port": topo.http,
            },
            "reporter_flush_interval": 0.05,
        },
        service_name=service,
        validate=True,
    )
    # No `sampler` entry: the client then uses its remote-controlled sampler.
    tracer = cfg.new_tracer()
    # Forced sampling (debug), so every span is reported whatever strategy is served.
    with tracer.start_span("GET /py", tags={"sampling.priority": 1}) as root:
        with tracer.start_span("py-child-1", child_of=root):
            pass
        with tracer.start_span("py-child-2", child_of=root):
            pass
    trace_id = f"{root.trace_id:016x}"

    wait_until(
        lambda: topo.agent.metric_sum("jaeger_agent_http_server_requests_total", type="sampling")
        >= 1,
        what="the Python client's sampling poll",
    )
    served = topo.sampling("/sampling", service=service).json()
    if "operationSampling" not in served and "probabilisticSampling" in served:
        rate = served["probabilisticSampling"]["samplingRate"]
        wait_until(
            lambda: isinstance(tracer.sampler.sampler, ProbabilisticSampler)
            and tracer.sampler.sampler.rate == rate,
            what="the Python client to adopt the served strategy",
        )
    tracer.close()

    trace = topo.query.wait_trace(trace_id, 3)
    assert sorted(s["operationName"] for s in trace["spans"]) == [
        "GET /py",
        "py-child-1",
        "py-child-2",
    ]
    tags = process_tags(trace)
    assert tags["agent.pool"] == "pool-7"
    assert tags["agent.name"] == "e2e"


def test_node_client_reports_binary_and_fetches_sampling(topo):
    service = unique("node-agent")
    out = subprocess.run(
        ["node", "send.js", "127.0.0.1", str(topo.binary), str(topo.http), service],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "Sampler" in result["sampler"]

    trace = topo.query.wait_trace(result["traceId"], 2)
    assert sorted(s["operationName"] for s in trace["spans"]) == ["GET /cart", "load-cart"]
    assert trace["processes"][trace["spans"][0]["processID"]]["serviceName"] == service
    tags = process_tags(trace)
    assert tags["deployment.zone"] == "zone-n"
    assert tags["agent.pool"] == "pool-7"
    assert topo.agent.metric_sum(
        "jaeger_agent_thrift_udp_server_packets_processed_total", protocol="binary"
    ) >= 1
    assert topo.agent.metric_sum("jaeger_agent_reporter_spans_failures_total") == 0
