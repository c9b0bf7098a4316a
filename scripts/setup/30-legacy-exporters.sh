# Sourced by scripts/test.sh: a second virtualenv for exporters whose protobuf 3.x pin
# conflicts with the main one (opentelemetry-exporter-jaeger 1.21, the Zipkin proto
# exporter); see tests/e2e/requirements-legacy.txt. Re-installs only when that file changed.
legacy_venv="$root/tests/e2e/.venv-legacy"
if [ ! -x "$legacy_venv/bin/python" ]; then
    python3 -m venv "$legacy_venv"
fi
legacy_stamp="$legacy_venv/.requirements.sha"
legacy_want=$(sha256sum "$root/tests/e2e/requirements-legacy.txt" | cut -d' ' -f1)
if [ "$(cat "$legacy_stamp" 2>/dev/null)" != "$legacy_want" ]; then
    "$legacy_venv/bin/pip" install --quiet --disable-pip-version-check \
        -r "$root/tests/e2e/requirements-legacy.txt"
    echo "$legacy_want" > "$legacy_stamp"
fi
export SEXTANT_LEGACY_PYTHON="$legacy_venv/bin/python"
