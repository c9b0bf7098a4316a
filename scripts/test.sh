#!/usr/bin/env bash
# The project's one test command (README: "Run the tests").
#
# On a fresh machine with only the Rust toolchain, Python 3.11 and Node it installs what the
# tests need (each scripts/setup/*.sh, in name order: Python clients, test servers, browser),
# builds every binary, runs the Rust tests (unit, conformance, integration) and then the
# end-to-end tests, which start the real binaries on loopback and send spans with real client
# libraries.
#
#   scripts/test.sh            everything
#   scripts/test.sh rust       only cargo tests
#   scripts/test.sh e2e        only the end-to-end tests (builds the binaries first)
#   scripts/test.sh ui         only the check that the committed UI build is current
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
what=${1:-all}

setup() {
    local script
    for script in "$root"/scripts/setup/*.sh; do
        echo "== setup: $(basename "$script") =="
        # shellcheck source=/dev/null
        source "$script"
    done
}

run_rust() {
    echo "== cargo test (workspace) =="
    cargo test --workspace --all-features --locked 2>&1
}

run_ui_check() {
    echo "== web UI: committed build matches the sources =="
    bash "$root/scripts/check-ui-assets.sh"
}

run_e2e() {
    echo "== building binaries =="
    # Same targets and features as `cargo test`, so nothing is compiled twice.
    cargo build --workspace --all-targets --all-features --locked
    echo "== end-to-end tests =="
    SEXTANT_BIN_DIR="$root/target/debug" "$SEXTANT_PYTHON" -m pytest -q tests/e2e \
        -o cache_dir="$root/target/pytest-cache"
}

case "$what" in
    rust) setup; run_rust ;;
    e2e) setup; run_e2e ;;
    ui) setup; run_ui_check ;;
    all) setup; run_ui_check; run_rust; run_e2e ;;
    *) echo "usage: $0 [all|rust|e2e|ui]" >&2; exit 2 ;;
esac
