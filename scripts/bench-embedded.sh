#!/usr/bin/env bash
# The embedded-store benchmark: builds release binaries, then `tracegen bench` starts the
# real `sextant` all-in-one on free loopback ports with a fresh data directory, ingests
# tracegen's traces over OTLP gRPC flat out, stops it cleanly (flushing to segments),
# measures bytes on disk, restarts it and times trace-by-ID and every search shape over the
# HTTP API (medians over several rounds). See docs/benchmarks.md for figures.
#
#   scripts/bench-embedded.sh                 # 1M spans
#   scripts/bench-embedded.sh --10m           # 10M spans
#   scripts/bench-embedded.sh --spans 250000 --workers 8 --sextant-arg=--embedded.write-buffer-mb=256
#   scripts/bench-embedded.sh --directory /tmp/store   # keeps /tmp/store/data (a new or empty
#       directory), e.g. for BENCH_QUERY_DIR=/tmp/store/data scripts/bench-query.sh
#
# Any other argument is passed to `tracegen bench` (see `tracegen bench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
for a in "$@"; do
    case "$a" in
        --10m) args+=(--spans 10000000) ;;
        *) args+=("$a") ;;
    esac
done

cargo build --release -p sextant-all-in-one -p sextant-tracegen
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); load: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$target_dir/release/tracegen" bench --sextant "$target_dir/release/sextant" "${args[@]}"
