#!/usr/bin/env bash
# Query-path benchmark: /api/traces/{id} and a search through HTTP vs the bare store call,
# over the memory and embedded stores (see query/examples/bench_query.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p sextant-query --example bench_query "$@"
