#!/usr/bin/env bash
# The project's one test command (README: "Run the tests").
#
# On a fresh machine with only the Rust toolchain, Python 3.11 and Node it installs what the
# tests need, builds every binary, runs the Rust tests (unit, conformance, integration) and
# then the end-to-end tests, which start the real binaries on loopback and send spans with
# real client libraries.
#
#   scripts/test.sh            everything
#   scripts/test.sh rust       only cargo tests
#   scripts/test.sh e2e        only the end-to-end tests (builds the binaries first)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
what=${1:-all}

venv="$root/tests/e2e/.venv"
setup_python() {
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    # Re-install only when the requirements changed since the last install.
    local stamp="$venv/.requirements.sha"
    local want
    want=$(sha256sum tests/e2e/requirements.txt | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
        echo "$want" > "$stamp"
    fi
}

run_rust() {
    echo "== cargo test (workspace) =="
    cargo test --workspace --all-features --locked 2>&1
}

run_e2e() {
    setup_python
    echo "== building binaries =="
    cargo build --workspace --bins --locked
    echo "== end-to-end tests =="
    SEXTANT_BIN_DIR="$root/target/debug" "$venv/bin/python" -m pytest -q tests/e2e \
        -o cache_dir="$root/target/pytest-cache"
}

case "$what" in
    rust) run_rust ;;
    e2e) run_e2e ;;
    all) run_rust; run_e2e ;;
    *) echo "usage: $0 [all|rust|e2e]" >&2; exit 2 ;;
esac
