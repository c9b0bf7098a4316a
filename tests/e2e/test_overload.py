"""Overload: a real `sextant-collector` driven past what its storage can take.

tracegen (OTLP gRPC, flat out, retrying refused batches) sends to a collector whose
Elasticsearch store (`osmem-server`) is frozen for the first half of the run, so the bounded
queue fills and stays full. While that lasts the collector must refuse work as busy
(RESOURCE_EXHAUSTED, counted in `jaeger_collector_spans_rejected_total`) instead of buffering
it, so its memory stays bounded; once the store is back, everything it acknowledged must be
stored.

Memory is checked against a generous absolute bound (far above what the queue bounds allow,
far below what buffering the offered load would take), not against a timing.
"""

import os
import subprocess
import time

import requests

from conftest import BIN_DIR, free_port, wait_until
from test_es import listener_flags
from test_pipeline import unique

QUEUE_SPANS = 2000
QUEUE_MIB = 8
# The offered load in the frozen phase is several hundred MB of spans in decoded form; a
# collector that kept them would cross this. Queue, in-flight requests and the runtime of a
# debug build stay well under it.
RSS_BOUND_MB = 400


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_overloaded_collector_refuses_with_bounded_memory_and_loses_nothing(launcher, osmem):
    otlp = free_port()
    collector = launcher(
        "sextant-collector",
        [
            "--span-storage.type=elasticsearch",
            f"--es.server-urls={osmem.url}",
            "--es.num-shards=1",
            "--es.num-replicas=0",
            "--es.timeout=10s",
            f"--collector.queue-size={QUEUE_SPANS}",
            f"--collector.queue-size-memory={QUEUE_MIB}",
            "--collector.num-workers=2",
        ]
        + listener_flags("sextant-collector", {"collector.otlp.grpc.host-port": otlp}),
    )
    pid = collector.proc.pid
    idle = rss_mb(pid)

    osmem.pause()
    log = open(os.path.join(os.path.dirname(collector.log.name), unique("tracegen") + ".log"), "w+")
    gen = subprocess.Popen(
        [
            os.path.join(BIN_DIR, "tracegen"),
            "--protocol=otlp-grpc",
            f"--endpoint=127.0.0.1:{otlp}",
            "--workers=32",
            "--batch-size=1000",
            "--duration=12s",
            "--report-interval=2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        peak = idle
        frozen_until = time.monotonic() + 6
        while time.monotonic() < frozen_until and gen.poll() is None:
            peak = max(peak, rss_mb(pid))
            time.sleep(0.1)
        rejected = collector.metric_sum("jaeger_collector_spans_rejected_total")
        osmem.resume()
        while gen.poll() is None:
            peak = max(peak, rss_mb(pid))
            time.sleep(0.1)
    finally:
        osmem.resume()
        if gen.poll() is None:
            gen.kill()
        gen.wait(timeout=30)
    log.seek(0)
    report = log.read()
    log.close()

    assert collector.alive(), collector.logs()
    assert rejected > 0, f"the collector never refused work while its store was frozen\n{report}"
    assert peak < RSS_BOUND_MB, f"collector RSS peaked at {peak:.0f} MB (idle {idle:.0f} MB)"

    # Counted in and out: every span the collector acknowledged is stored. (A batch whose
    # write timed out while the store was frozen may still land once it resumes, so the
    # store may hold more than was acknowledged, never less.)
    acked = collector.metric_sum("jaeger_collector_spans_saved_by_svc_total", result="ok")
    assert acked > 0, report
    summary = [line for line in report.splitlines() if " spans sent, " in line]
    assert summary, report
    client_acked = int(summary[-1].split(" spans sent, ")[1].split(" acknowledged")[0])
    assert client_acked <= acked, (client_acked, acked, report)

    def stored():
        requests.post(f"{osmem.url}/jaeger-span-*/_refresh", timeout=10)
        reply = requests.get(f"{osmem.url}/jaeger-span-*/_count", timeout=10)
        return reply.status_code == 200 and reply.json()["count"] >= client_acked

    wait_until(stored, timeout=60, what="every acknowledged span in the store")
    print(f"overload: RSS idle {idle:.0f} MB, peak {peak:.0f} MB; {rejected:.0f} spans refused "
          f"while frozen; {client_acked} acknowledged to the client, all stored")
    assert collector.stop() == 0, collector.logs()
