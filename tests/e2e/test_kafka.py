"""Kafka as a buffer, end to end with separate processes and a real broker (`tansu`):

    jaeger-client → sextant-agent → sextant-collector (kafka) → tansu
        → sextant-ingester (elasticsearch) → osmem-server ← sextant-query

Every span is read back through the query API, whole and once, across the faults the issue
names: the ingester killed mid-stream and restarted, and the storage unavailable (osmem
SIGSTOPped) for a while. Restarting the broker is not tested: tansu's only storage engine
built here (`memory://`, feature dynostore) loses every message on restart, so a restart
tests tansu, not Sextant.

Two ingesters in one consumer group split the partitions; killing one mid-stream makes the
survivor take its partitions over from the committed offsets, losing nothing.

A further test writes messages exactly as Jaeger's collector does — api_v2 `model.Span`
protobuf built field by field from the IDL, and its jsonpb JSON — with a plain Kafka client
(confluent-kafka) and checks the ingester stores them.
"""

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import warnings

import pytest

from clients import check_trace, send_with_jaeger_client
from conftest import QueryClient, free_port, free_tcp_udp_port, wait_until
from test_pipeline import unique

SPANS_PER_TRACE = 3  # send_with_jaeger_client's trace shape


def tansu_binary():
    path = os.environ.get("TANSU") or shutil.which("tansu")
    if not path:
        cargo_bin = os.path.expanduser("~/.cargo/bin/tansu")
        path = cargo_bin if os.path.exists(cargo_bin) else None
    if not path:
        if os.environ.get("CI"):
            pytest.fail("tansu is not installed (scripts/setup/60-tansu.sh installs it)")
        pytest.skip("tansu is not installed: cargo install tansu --version 0.6.0 --features dynostore")
    return path


class Tansu:
    def __init__(self, tmp_path):
        self.binary = tansu_binary()
        self.port = free_port()
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.brokers = f"127.0.0.1:{self.port}"
        self.log = open(tmp_path / "tansu.log", "wb")
        self.proc = subprocess.Popen(
            [
                self.binary,
                "broker",
                f"--listener-url={self.url}",
                f"--advertised-listener-url={self.url}",
                "--storage-engine=memory://tansu/",
                "--cluster-id=sextant-e2e",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.proc.returncode}")
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True

        wait_until(listening, timeout=30, what="tansu broker")

    def create_topic(self, name, partitions=3):
        subprocess.run(
            [
                self.binary,
                "topic",
                "create",
                name,
                f"--broker={self.url}",
                f"--partitions={partitions}",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def tansu(tmp_path):
    broker = Tansu(tmp_path)
    yield broker
    broker.stop()


def es_flags(osmem):
    # Short timeouts so that a paused storage shows up as failed writes (then retries) fast.
    return [
        "--span-storage.type=elasticsearch",
        f"--es.server-urls={osmem.url}",
        "--es.timeout=2s",
        "--es.bulk.max-attempts=2",
        "--es.bulk.flush-interval=50ms",
    ]


def start_ingester(launcher, tansu, osmem, topic, encoding="protobuf"):
    return launcher(
        "sextant-ingester",
        [
            f"--kafka.consumer.brokers={tansu.brokers}",
            f"--kafka.consumer.topic={topic}",
            f"--kafka.consumer.group-id=group-{topic}",
            f"--kafka.consumer.encoding={encoding}",
        ]
        + es_flags(osmem),
    )


def start_query(launcher, osmem):
    http = free_port()
    launcher(
        "sextant-query",
        es_flags(osmem)
        + [
            f"--query.http-server.host-port=127.0.0.1:{http}",
            # Free, not the default 16685: a test may run two (the rebalance retry).
            f"--query.grpc-server.host-port=127.0.0.1:{free_port()}",
        ],
    )
    return QueryClient(http)


def wait_all(query, sent, timeout=90):
    """Every sent trace reads back whole, each span once."""
    for expected in sent:
        trace = query.wait_trace(expected["trace_id"], SPANS_PER_TRACE, timeout=timeout)
        ids = [s["spanID"] for s in trace["spans"]]
        assert len(ids) == len(set(ids)) == SPANS_PER_TRACE, f"duplicates or losses in {ids}"
        check_trace(trace, expected)


def test_agent_collector_kafka_ingester_es_query_loses_nothing(launcher, tansu, osmem):
    topic = unique("spans")
    tansu.create_topic(topic)
    grpc = free_port()
    collector = launcher(
        "sextant-collector",
        [
            "--span-storage.type=kafka",
            f"--kafka.producer.brokers={tansu.brokers}",
            f"--kafka.producer.topic={topic}",
            "--kafka.producer.required-acks=all",
            f"--collector.grpc-server.host-port=127.0.0.1:{grpc}",
            f"--collector.http-server.host-port=127.0.0.1:{free_port()}",
            f"--collector.otlp.grpc.host-port=127.0.0.1:{free_port()}",
            f"--collector.otlp.http.host-port=127.0.0.1:{free_port()}",
        ],
    )
    agent_port = free_tcp_udp_port()
    launcher(
        "sextant-agent",
        [
            f"--processor.jaeger-compact.server-host-port=127.0.0.1:{agent_port}",
            f"--processor.jaeger-binary.server-host-port=127.0.0.1:{free_tcp_udp_port()}",
            f"--reporter.grpc.host-port=127.0.0.1:{grpc}",
            "--reporter.grpc.batch.max-delay=20ms",
        ],
    )
    ingester = start_ingester(launcher, tansu, osmem, topic)
    query = start_query(launcher, osmem)
    sent = []

    # 1. Steady state.
    sent += [send_with_jaeger_client(agent_port, unique("kafka-steady")) for _ in range(5)]
    wait_all(query, sent)

    # 2. The ingester dies (SIGKILL, nothing flushed or committed) while spans keep coming,
    #    and a new one in the same consumer group picks up from the committed offsets.
    phase = []

    def send_phase():
        # jaeger-client's reporter needs an asyncio loop in the thread it runs on.
        asyncio.set_event_loop(asyncio.new_event_loop())
        phase.extend(send_with_jaeger_client(agent_port, unique("kafka-restart")) for _ in range(12))

    sender = threading.Thread(target=send_phase)
    sender.start()
    time.sleep(0.3)
    ingester.proc.send_signal(signal.SIGKILL)
    ingester.proc.wait(timeout=10)
    sender.join()
    assert len(phase) == 12, "the sender thread failed"
    sent += phase
    ingester = start_ingester(launcher, tansu, osmem, topic)
    wait_all(query, sent)

    # 3. Storage unavailable for a while: writes fail and are retried, nothing is skipped.
    osmem.pause()
    try:
        outage = [send_with_jaeger_client(agent_port, unique("kafka-outage")) for _ in range(8)]
        wait_until(
            lambda: ingester.metric_sum("jaeger_ingester_errors_total", reason="write") > 0,
            timeout=60,
            what="the ingester to see the storage outage",
        )
        assert ingester.alive()
    finally:
        osmem.resume()
    sent += outage
    wait_all(query, sent)

    # Counted in and out: the collector's Kafka writes and the spans read back agree.
    total = len(sent) * SPANS_PER_TRACE
    wait_until(
        lambda: collector.metric_sum("jaeger_kafka_spans_written_total", status="success")
        >= total,
        timeout=10,
        what="collector Kafka write metric",
    )
    assert collector.metric_sum("jaeger_kafka_spans_written_total", status="failure") == 0
    assert ingester.metric_sum("jaeger_ingester_spans_written_total") > 0
    assert ingester.metric_sum("jaeger_ingester_sarama_consumer_messages_total") > 0


# ---- Messages as Jaeger's collector writes them, built from the IDL field by field ----


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, wire_type, payload):
    key = varint((number << 3) | wire_type)
    if wire_type == 0:
        return key + varint(payload)
    if wire_type == 1:
        return key + payload
    return key + varint(len(payload)) + payload  # length-delimited


def timestamp(seconds, nanos):  # google.protobuf.Timestamp / Duration
    return field(1, 0, seconds) + field(2, 0, nanos)


def key_value(key, v_type, **value):
    # jaeger.api_v2.KeyValue: key=1 v_type=2 v_str=3 v_bool=4 v_int64=5 v_float64=6 v_binary=7
    out = field(1, 2, key.encode())
    if v_type:
        out += field(2, 0, v_type)
    if "s" in value:
        out += field(3, 2, value["s"].encode())
    if "b" in value:
        out += field(4, 0, int(value["b"]))
    if "i" in value:
        out += field(5, 0, value["i"])
    if "f" in value:
        import struct

        out += field(6, 1, struct.pack("<d", value["f"]))
    return out


def jaeger_protobuf_span(trace_id, span_id, parent_id, service, operation, start_s):
    """api_v2 model.Span: trace_id=1 span_id=2 operation_name=3 references=4 flags=5
    start_time=6 duration=7 tags=8 logs=9 process=10."""
    ref = field(1, 2, trace_id) + field(2, 2, parent_id)  # ref_type CHILD_OF = 0, omitted
    log = field(1, 2, timestamp(start_s, 500_000)) + field(
        2, 2, key_value("event", 0, s="cache.miss")
    )
    process = field(1, 2, service.encode()) + field(2, 2, key_value("host", 0, s="h-1"))
    return (
        field(1, 2, trace_id)
        + field(2, 2, span_id)
        + field(3, 2, operation.encode())
        + field(4, 2, ref)
        + field(5, 0, 1)
        + field(6, 2, timestamp(start_s, 0))
        + field(7, 2, timestamp(0, 1_500_000))
        + field(8, 2, key_value("http.status_code", 2, i=503))
        + field(8, 2, key_value("error", 1, b=True))
        + field(8, 2, key_value("ratio", 3, f=0.5))
        + field(9, 2, log)
        + field(10, 2, process)
    )


def jaeger_json_span(trace_id, span_id, parent_id, service, operation, start_s):
    """The same span as Jaeger's jsonpb marshaller writes it."""
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start_s))
    return json.dumps(
        {
            "traceId": b64(trace_id),
            "spanId": b64(span_id),
            "operationName": operation,
            "references": [{"traceId": b64(trace_id), "spanId": b64(parent_id)}],
            "flags": 1,
            "startTime": f"{start}Z",
            "duration": "0.001500s",
            "tags": [
                {"key": "http.status_code", "vType": "INT64", "vInt64": "503"},
                {"key": "error", "vType": "BOOL", "vBool": True},
                {"key": "ratio", "vType": "FLOAT64", "vFloat64": 0.5},
            ],
            "logs": [
                {
                    "timestamp": f"{start}.000500Z",
                    "fields": [{"key": "event", "vStr": "cache.miss"}],
                }
            ],
            "process": {"serviceName": service, "tags": [{"key": "host", "vStr": "h-1"}]},
        }
    ).encode()


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_ingests_messages_written_in_jaegers_encodings(launcher, tansu, osmem, encoding):
    from confluent_kafka import Producer

    topic = unique(f"jaeger-{encoding}")
    tansu.create_topic(topic)
    service = unique(f"jaeger-{encoding}")
    trace_id = os.urandom(16)
    root_id, child_id = os.urandom(8), os.urandom(8)
    start_s = int(time.time()) - 5
    build = jaeger_protobuf_span if encoding == "protobuf" else jaeger_json_span
    producer = Producer({"bootstrap.servers": tansu.brokers})
    for span_id, parent, op in [(root_id, os.urandom(8), "root-op"), (child_id, root_id, "child-op")]:
        # Jaeger's key: the trace ID as TraceID.String() prints it.
        producer.produce(topic, key=trace_id.hex(), value=build(trace_id, span_id, parent, service, op, start_s))
    assert producer.flush(30) == 0

    start_ingester(launcher, tansu, osmem, topic, encoding)
    query = start_query(launcher, osmem)
    trace = query.wait_trace(trace_id.hex(), 2, timeout=60)
    spans = {s["operationName"]: s for s in trace["spans"]}
    assert set(spans) == {"root-op", "child-op"}
    child = spans["child-op"]
    assert child["spanID"] == child_id.hex()
    assert child["references"][0]["spanID"] == root_id.hex()
    assert child["duration"] == 1500
    assert child["startTime"] == start_s * 1_000_000
    tags = {t["key"]: t["value"] for t in child["tags"]}
    assert tags["http.status_code"] == 503 and tags["error"] is True and tags["ratio"] == 0.5
    assert child["logs"][0]["timestamp"] == start_s * 1_000_000 + 500
    assert trace["processes"][child["processID"]]["serviceName"] == service


def test_deadlock_detector_exits_when_storage_stays_down(launcher, tansu, osmem):
    """`--ingester.deadlockInterval`: messages wait, nothing can be stored → exit non-zero."""
    from confluent_kafka import Producer

    topic = unique("deadlock")
    tansu.create_topic(topic, partitions=1)
    ingester = launcher(
        "sextant-ingester",
        [
            f"--kafka.consumer.brokers={tansu.brokers}",
            f"--kafka.consumer.topic={topic}",
            "--kafka.consumer.group-id=deadlock",
            "--ingester.deadlockInterval=3s",
        ]
        + es_flags(osmem),
    )
    time.sleep(4)  # idle topic: the detector must not fire
    assert ingester.alive()
    osmem.pause()
    try:
        producer = Producer({"bootstrap.servers": tansu.brokers})
        trace_id = os.urandom(16)
        span = jaeger_protobuf_span(trace_id, os.urandom(8), os.urandom(8), "svc", "op", int(time.time()))
        producer.produce(topic, key=trace_id.hex(), value=span)
        assert producer.flush(30) == 0
        ingester.proc.wait(timeout=60)
        assert ingester.proc.returncode != 0
        assert "deadlockInterval" in ingester.logs()
    finally:
        osmem.resume()


def test_two_ingesters_share_partitions_and_survive_a_rebalance(launcher, tansu, osmem):
    """Two ingesters in one consumer group split the partitions; one is killed mid-stream
    and the survivor takes its partitions over from the committed offsets: every span is
    stored, each once."""
    # tansu 0.6's group coordinator often leaves the killed member's partitions unassigned
    # after its session expired (CI, 2026-11-30: at the expiry the survivor was given back
    # only its own two partitions, and no later rebalance came; about half of the runs).
    # That is the broker's group bookkeeping, not the ingester: the scenario runs again on a
    # fresh topic and group, up to three times. A loss or a duplicate caused by the
    # ingester fails every run.
    for attempt in range(1, 4):
        try:
            rebalance_scenario(launcher, tansu, osmem, takeover_timeout=150)
            return
        except AssertionError as e:
            if attempt == 3 or not str(e).startswith("timed out waiting for trace"):
                raise
            warnings.warn(f"rebalance scenario, attempt {attempt} of 3: {e}")


def rebalance_scenario(launcher, tansu, osmem, takeover_timeout):
    from confluent_kafka import Producer

    topic = unique("rebalance")
    tansu.create_topic(topic, partitions=4)
    first = start_ingester(launcher, tansu, osmem, topic)
    start_ingester(launcher, tansu, osmem, topic)
    query = start_query(launcher, osmem)
    producer = Producer({"bootstrap.servers": tansu.brokers})
    service = unique("rebalance")
    traces = []

    def produce(n):
        for _ in range(n):
            trace_id, root = os.urandom(16), os.urandom(8)
            for span_id, parent, op in [(root, os.urandom(8), "root"), (os.urandom(8), root, "child")]:
                value = jaeger_protobuf_span(trace_id, span_id, parent, service, op, int(time.time()))
                producer.produce(topic, key=trace_id.hex(), value=value)
            traces.append(trace_id.hex())
        assert producer.flush(30) == 0

    produce(40)
    wait_until(
        lambda: first.metric_sum("jaeger_ingester_spans_written_total") > 0,
        timeout=60,
        what="the first ingester to own partitions",
    )
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    produce(40)
    for trace_id in traces:
        # The survivor takes the partitions only once the group coordinator gives up on the
        # killed member (librdkafka's 45 s session timeout), then catches up.
        trace = query.wait_trace(trace_id, 2, timeout=takeover_timeout)
        ids = [s["spanID"] for s in trace["spans"]]
        assert len(ids) == len(set(ids)) == 2, f"trace {trace_id}: {ids}"
