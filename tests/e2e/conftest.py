"""Harness for the end-to-end tests: start the real Sextant binaries on free loopback ports,
wait until they report healthy (polling, never a fixed sleep), and stop them afterwards.

Binaries are taken from $SEXTANT_BIN_DIR (scripts/test.sh sets it to target/debug).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import closing

import pytest
import requests

BIN_DIR = os.environ.get(
    "SEXTANT_BIN_DIR",
    os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug"),
)


# Every port handed out in this test session. The kernel may hand the same free port to two
# bind(0) calls in a row once the first socket is closed; a CI run once gave one sextant the
# same port for its admin and its Jaeger HTTP servers. No port is handed out twice.
_HANDED_OUT = set()


def free_port(kind=socket.SOCK_STREAM):
    """A port the kernel just handed out on 127.0.0.1 (TCP or UDP), never one this session
    handed out before."""
    for _ in range(100):
        with closing(socket.socket(socket.AF_INET, kind)) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no free port")


def free_tcp_udp_port():
    """A port free for both TCP and UDP (the agent listens on UDP, some tests on TCP)."""
    for _ in range(50):
        p = free_port(socket.SOCK_DGRAM)
        try:
            with closing(socket.socket()) as s:
                s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port")


def wait_until(predicate, timeout=30.0, interval=0.05, what="condition"):
    """Polls `predicate` until it returns a truthy value; returns that value."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling through connection errors
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last error: {last_exc}")


# Every process log of this test session goes here: removed when the session passes, kept
# (and its path printed) when it fails, for reading the servers' side of a failure.
LOG_DIR = tempfile.mkdtemp(prefix="sextant-e2e-logs-")


def log_file(prefix):
    return tempfile.NamedTemporaryFile(
        dir=LOG_DIR, prefix=f"{prefix}-", suffix=".log", delete=False
    )


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0:
        shutil.rmtree(LOG_DIR, ignore_errors=True)
    else:
        print(f"\nprocess logs of this run: {LOG_DIR}")


class Process:
    """One running Sextant binary with its admin port; logs go to a temp file."""

    def __init__(self, binary, args, admin_port, env=None):
        self.binary = binary
        self.admin_port = admin_port
        self.log = log_file(binary)
        full_env = dict(os.environ)
        full_env.setdefault("RUST_LOG", "info")
        full_env.update(env or {})
        path = os.path.join(BIN_DIR, binary)
        self.proc = subprocess.Popen(
            [path, f"--admin.http.host-port=127.0.0.1:{admin_port}", *args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )

    def admin_url(self, path="/"):
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def wait_healthy(self, timeout=60.0):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.binary} exited with {self.proc.returncode}:\n{self.logs()}"
                )
            return requests.get(self.admin_url(), timeout=1).status_code == 200

        wait_until(ready, timeout=timeout, what=f"{self.binary} health")
        return self

    def metrics(self):
        return requests.get(self.admin_url("/metrics"), timeout=5).text

    def metric_sum(self, name, **labels):
        """Sums every sample of metric `name` whose labels include `labels`."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            metric, _, label_text = head.partition("{")
            if metric != name:
                continue
            if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
                total += float(value)
        return total

    def alive(self):
        return self.proc.poll() is None

    def logs(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()[-20000:]

    def stop(self, timeout=15):
        """SIGTERM, then wait for a clean exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def launcher():
    """Starts processes and guarantees they are stopped at the end of the test."""
    started = []

    def launch(binary, args, admin_port=None, env=None):
        p = Process(binary, args, admin_port or free_port(), env)
        started.append(p)
        return p.wait_healthy()

    yield launch
    for p in reversed(started):
        p.stop()


class QueryClient:
    def __init__(self, port, base_path=""):
        self.base = f"http://127.0.0.1:{port}{base_path}"

    def get(self, path, **params):
        return requests.get(self.base + path, params=params, timeout=10)

    def trace(self, trace_id_hex):
        r = self.get(f"/api/traces/{trace_id_hex}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        data = r.json()["data"]
        return data[0] if data else None

    def wait_trace(self, trace_id_hex, min_spans, timeout=30.0):
        def complete():
            t = self.trace(trace_id_hex)
            return t if t and len(t["spans"]) >= min_spans else None

        return wait_until(complete, timeout=timeout, what=f"trace {trace_id_hex}")


import signal  # noqa: E402 - used by the osmem fixture below


class OsmemServer:
    """A running `osmem-server` (in-memory OpenSearch-compatible store) at `.url`.

    `pause()` freezes the process with SIGSTOP, so the store stops answering (connections
    hang until timeouts), as a cluster that became unavailable would; `resume()` (SIGCONT)
    brings it back with its data intact.
    """

    def __init__(self, binary):
        self.binary = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.paused = False
        self.log = log_file("osmem")
        self.proc = subprocess.Popen(
            # stdin stays open while we run: the server exits when it closes (and when this
            # process disappears), so a crashed test run leaves no server behind.
            [binary, f"--addr=127.0.0.1:{self.port}", "--no-ja", f"--parent-pid={os.getpid()}"],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout=30.0):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"osmem-server exited with {self.proc.returncode}:\n{self.logs()}"
                )
            return requests.get(self.url, timeout=1).status_code == 200

        wait_until(ready, timeout=timeout, what="osmem-server")
        return self

    def pause(self):
        """SIGSTOP: the store stops answering until `resume()`."""
        if not self.paused:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        """SIGCONT after `pause()`."""
        if self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False

    def logs(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()[-20000:]

    def stop(self, timeout=10):
        # A stopped process would ignore SIGTERM until continued.
        self.resume()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()


@pytest.fixture
def osmem():
    """An `osmem-server` on a free loopback port for one test (`$OSMEM_SERVER`, exported by
    scripts/setup/40-osmem.sh); yields an object with `.url`, `.pause()` and `.resume()`."""
    binary = os.environ.get("OSMEM_SERVER")
    if not binary:
        pytest.skip("OSMEM_SERVER is not set (source scripts/setup/40-osmem.sh)")
    if not os.access(binary, os.X_OK):
        pytest.skip(f"OSMEM_SERVER={binary} is not an executable file")
    server = OsmemServer(binary)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
