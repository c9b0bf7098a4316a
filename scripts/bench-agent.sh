#!/usr/bin/env bash
# Agent benchmark: UDP spans/s received and forwarded by `sextant-agent` pinned to one core
# (taskset -c 0), drops, and RSS idle and under load. Prints per-run figures and medians.
#
#   scripts/bench-agent.sh [spans_per_sec=300000] [seconds=5] [runs=3]
#
# Zero "lost" at a rate means the agent forwarded every span sent at that rate.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p sextant-agent --bin sextant-agent --example bench_agent
exec target/release/examples/bench_agent target/release/sextant-agent "${1:-300000}" "${2:-5}" "${3:-3}"
