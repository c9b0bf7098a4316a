#!/usr/bin/env bash
# Query-path benchmark: /api/traces/{id} and a search through HTTP vs the bare store call
# (see query/examples/bench_query.rs). The headline "http (lean)" line uses a raw keep-alive
# TcpStream client, so its overhead is the server's; "reqwest" is shown beside it.
#
#   scripts/bench-query.sh                                   # 2,000 generated traces, memory + embedded
#   BENCH_QUERY_DIR=/tmp/store/data scripts/bench-query.sh   # an existing embedded data directory,
#       e.g. the 1M-span store left by `mkdir /tmp/store && scripts/bench-embedded.sh --directory /tmp/store`
#   BENCH_QUERY_REQUESTS=100 ...                             # requests per run (default 400)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(uname -sr); load: $(cut -d' ' -f1-3 /proc/loadavg)"
exec cargo run --release -q -p sextant-query --example bench_query "$@"
