"""Adaptive sampling with a real client: the Python `jaeger-client` reports through
`sextant-agent` and polls its sampling endpoint, which the agent answers from a collector
running `--sampling.config-type=adaptive`.

The client starts on the per-operation default the collector serves (initial probability
0.5), sends a busy operation far above the target of 1 sample/s, and must end up — with no
change on the client side — sampling that operation at the lower probability the collector
computed from what it observed.
"""

import time

import requests

from conftest import free_port, free_tcp_udp_port, wait_until
from test_pipeline import unique

INITIAL = 0.5


def test_python_client_follows_adaptive_probabilities(launcher):
    from jaeger_client import Config
    from jaeger_client.sampler import AdaptiveSampler

    grpc = free_port()
    collector = launcher(
        "sextant-collector",
        [
            "--span-storage.type=memory",
            "--sampling.config-type=adaptive",
            "--sampling.calculation-interval=1s",
            "--sampling.delay=0s",
            "--sampling.target-samples-per-second=1",
            f"--sampling.initial-sampling-probability={INITIAL}",
            f"--collector.grpc-server.host-port=127.0.0.1:{grpc}",
            f"--collector.http-server.host-port=127.0.0.1:{free_port()}",
            f"--collector.otlp.grpc.host-port=127.0.0.1:{free_port()}",
            f"--collector.otlp.http.host-port=127.0.0.1:{free_port()}",
            f"--collector.zipkin.host-port=127.0.0.1:{free_port()}",
        ],
    )
    compact, http = free_tcp_udp_port(), free_port()
    agent = launcher(
        "sextant-agent",
        [
            f"--processor.jaeger-compact.server-host-port=127.0.0.1:{compact}",
            f"--processor.jaeger-binary.server-host-port=127.0.0.1:{free_tcp_udp_port()}",
            f"--http-server.host-port=127.0.0.1:{http}",
            "--http-server.sampling-refresh-interval=200ms",
            f"--reporter.grpc.host-port=127.0.0.1:{grpc}",
            "--reporter.grpc.batch.max-delay=20ms",
        ],
    )
    service = unique("adaptive")

    def served():
        r = requests.get(f"http://127.0.0.1:{http}/sampling", params={"service": service}, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    first = served()
    assert first["strategyType"] == "PROBABILISTIC"
    assert first["operationSampling"]["defaultSamplingProbability"] == INITIAL

    cfg = Config(
        config={
            "sampling_refresh_interval": 0.2,
            "local_agent": {
                "reporting_host": "127.0.0.1",
                "reporting_port": compact,
                "sampling_port": http,
            },
            "reporter_flush_interval": 0.05,
            "reporter_queue_size": 10000,
        },
        service_name=service,
        validate=True,
    )
    # No `sampler` entry: the client uses its remote-controlled sampler.
    tracer = cfg.new_tracer()
    try:
        wait_until(
            lambda: isinstance(tracer.sampler.sampler, AdaptiveSampler),
            what="the client to adopt the per-operation strategy",
        )

        def busy_probability():
            ops = served()["operationSampling"]["perOperationStrategies"]
            for op in ops:
                if op["operation"] == "hot":
                    return op["probabilisticSampling"]["samplingRate"]
            return None

        # Root spans of "hot" at a few hundred per second: with the client sampling half of
        # them, the collector sees ~100 samples/s against a target of 1.
        deadline = time.monotonic() + 60
        lowered = None
        while time.monotonic() < deadline:
            for _ in range(50):
                with tracer.start_span("hot"):
                    pass
            time.sleep(0.1)
            p = busy_probability()
            if p is not None and p < INITIAL / 4:
                lowered = p
                break
        assert lowered is not None, f"the collector never lowered 'hot': {served()}"
        print(f"adaptive: hot lowered to {lowered} (initial {INITIAL})")

        # The client picks the new probability up on its own.
        def client_rate():
            sampler = tracer.sampler.sampler
            op = sampler.samplers.get("hot") if isinstance(sampler, AdaptiveSampler) else None
            return op.rate if op else None

        wait_until(
            lambda: client_rate() is not None and client_rate() < INITIAL / 4,
            what="the client to sample 'hot' at the lowered probability",
        )
    finally:
        tracer.close()

    assert collector.metric_sum("jaeger_collector_spans_received_total") > 0
    assert agent.metric_sum("jaeger_agent_http_server_requests_total", type="sampling") >= 1
