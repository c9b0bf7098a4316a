"""The all-in-one's default (embedded) store keeps every acknowledged span across a crash:
spans are sent, the exporter gets its OK, the process is killed with SIGKILL at once, and a
new process over the same directory returns them all."""

import signal

from clients import check_trace, send_otlp_json, send_with_otlp_grpc
from conftest import QueryClient, free_port, free_tcp_udp_port
from test_pipeline import all_in_one_flags, unique


def start(launcher, data_dir):
    ports = dict(
        agent=free_tcp_udp_port(),
        grpc=free_port(),
        otlp_grpc=free_port(),
        otlp_http=free_port(),
        http=free_port(),
    )
    p = launcher("sextant", [f"--embedded.directory={data_dir}"] + all_in_one_flags(**ports))
    return p, ports


def test_acknowledged_spans_survive_kill_9(launcher, tmp_path):
    data = tmp_path / "data"
    first, ports = start(launcher, data)
    sent = [send_otlp_json(ports["otlp_http"], unique("durable-json")) for _ in range(20)]
    sent.append(send_with_otlp_grpc(ports["otlp_grpc"], unique("durable-grpc")))
    # Every export above returned success: kill without any chance to flush.
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)

    second, ports = start(launcher, data)
    query = QueryClient(ports["http"])
    for expected in sent:
        trace = query.trace(expected["trace_id"])
        assert trace is not None, f"trace {expected['trace_id']} lost after kill -9"
        check_trace(trace, expected)
    services = query.get("/api/services").json()["data"]
    assert {e["service"] for e in sent} <= set(services)
