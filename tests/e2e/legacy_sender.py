"""Runs under tests/e2e/.venv-legacy (see requirements-legacy.txt): sends the standard
trace (clients._emit_otel_trace) with an exporter that cannot live in the main venv, and
prints what the query API must show as JSON on stdout.

    legacy_sender.py jaeger-thrift-http|jaeger-grpc|zipkin-proto PORT SERVICE
"""

import json
import sys

from clients import _emit_otel_trace, _otel_provider


def exporter(kind, port):
    if kind == "jaeger-thrift-http":
        from opentelemetry.exporter.jaeger.thrift import JaegerExporter

        return JaegerExporter(collector_endpoint=f"http://127.0.0.1:{port}/api/traces")
    if kind == "jaeger-grpc":
        from opentelemetry.exporter.jaeger.proto.grpc import JaegerExporter

        return JaegerExporter(collector_endpoint=f"127.0.0.1:{port}", insecure=True)
    if kind == "zipkin-proto":
        from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter

        return ZipkinExporter(endpoint=f"http://127.0.0.1:{port}/api/v2/spans")
    raise SystemExit(f"unknown exporter {kind}")


def main():
    kind, port, service = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    expected = _emit_otel_trace(_otel_provider(service, exporter(kind, port)), service)
    print(json.dumps(expected))


if __name__ == "__main__":
    main()
