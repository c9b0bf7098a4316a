#!/usr/bin/env bash
# Collector → Elasticsearch benchmark: spans/s that one `sextant-collector` stores through
# the bulk API into osmem-server (the in-memory OpenSearch-compatible server the tests use),
# and spans per collector CPU-second. Load comes from tools/tracegen over OTLP gRPC, as fast
# as it is acknowledged. A run is timed from the first span sent until the collector's
# `jaeger_collector_spans_saved_by_svc_total` covers every span it received, so the figure is
# stored spans, not queued ones. Each run gets a fresh server and collector; figures are
# medians of RUNS runs. Spans per CPU-second are given for the collector and for osmem: when
# osmem's is the lower, the server, not Sextant, bounds spans/s.
#
#   scripts/bench-es.sh                     # SPANS=100000 RUNS=3 WORKERS=4 BATCH=500
#   REFRESH=false scripts/bench-es.sh       # Jaeger's behaviour: no wait for searchability
#   BULK_WORKERS=4 scripts/bench-es.sh      # --es.bulk.workers
#   PROFILE=debug scripts/bench-es.sh       # debug binaries (quick check, not a figure)
#
# The figure is osmem's as much as Sextant's: a real cluster is slower per node but scales
# with nodes and --es.bulk.workers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
SPANS=${SPANS:-100000}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-4}
BATCH=${BATCH:-500}
REFRESH=${REFRESH:-wait_for}
BULK_WORKERS=${BULK_WORKERS:-1}
PROFILE=${PROFILE:-release}
ticks=$(getconf CLK_TCK)

if [ "$PROFILE" = release ]; then
    cargo build --release -q -p sextant-collector -p sextant-tracegen
else
    cargo build -q -p sextant-collector -p sextant-tracegen
fi
bin="$root/target/$PROFILE"
# shellcheck source=/dev/null
source "$root/scripts/setup/40-osmem.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
wait_http() {
    for _ in $(seq 1 400); do
        if curl -fs -o /dev/null "$1"; then return 0; fi
        sleep 0.05
    done
    echo "$1 never answered" >&2; return 1
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Sum of the samples of metric $2 on admin port $1 whose labels contain $3 (may be empty).
metric() {
    curl -fs "http://127.0.0.1:$1/metrics" |
        awk -v name="$2" -v want="$3" '{m = $1; sub(/\{.*/, "", m)}
            m == name && (want == "" || index($1, want)) {s += $NF} END {printf "%d\n", s}'
}

tmp=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# One run: fresh osmem-server and collector; prints "spans_per_s collector_spans_per_cpu_s
# osmem_spans_per_cpu_s".
run_once() {
    local n=$1 es_port admin otlp osmem_pid pid c0 c1 o0 o1 t0 t1 received saved failed
    es_port=$(free_port); admin=$(free_port); otlp=$(free_port)
    "$OSMEM_SERVER" --addr="127.0.0.1:$es_port" --no-ja --no-stdin-watch \
        >"$tmp/osmem-$n.log" 2>&1 &
    osmem_pid=$!; pids+=("$osmem_pid")
    wait_http "http://127.0.0.1:$es_port/"
    "$bin/sextant-collector" --span-storage.type=elasticsearch \
        --es.server-urls="http://127.0.0.1:$es_port" --es.num-shards=1 --es.num-replicas=0 \
        --es.bulk.refresh="$REFRESH" --es.bulk.workers="$BULK_WORKERS" \
        --collector.grpc-server.host-port="127.0.0.1:$(free_port)" \
        --collector.http-server.host-port="127.0.0.1:$(free_port)" \
        --collector.otlp.grpc.host-port="127.0.0.1:$otlp" \
        --collector.otlp.http.host-port="127.0.0.1:$(free_port)" \
        --admin.http.host-port="127.0.0.1:$admin" --log-level=warn >"$tmp/collector-$n.log" 2>&1 &
    pid=$!; pids+=("$pid")
    wait_http "http://127.0.0.1:$admin/"

    c0=$(cpu_ticks "$pid"); o0=$(cpu_ticks "$osmem_pid"); t0=$(date +%s.%N)
    "$bin/tracegen" --protocol otlp-grpc --endpoint "127.0.0.1:$otlp" --spans "$SPANS" \
        --workers "$WORKERS" --batch-size "$BATCH" --seed "$n" --report-interval 0 >/dev/null
    received=$(metric "$admin" jaeger_collector_spans_received_total "")
    # Wait until every received span is stored (or failed); bounded at 10 minutes.
    for _ in $(seq 1 12000); do
        saved=$(metric "$admin" jaeger_collector_spans_saved_by_svc_total 'result="ok"')
        failed=$(metric "$admin" jaeger_collector_spans_saved_by_svc_total 'result="err"')
        [ $((saved + failed)) -ge "$received" ] && break
        sleep 0.05
    done
    t1=$(date +%s.%N); c1=$(cpu_ticks "$pid"); o1=$(cpu_ticks "$osmem_pid")
    if [ "$failed" -ne 0 ] || [ "$saved" -lt "$received" ]; then
        mkdir -p "$root/target/bench-es-failed"
        cp "$tmp"/*.log "$root/target/bench-es-failed/"
        echo "run $n: $saved of $received spans stored, $failed failed" \
            "(logs in target/bench-es-failed)" >&2
        exit 1
    fi
    kill "$pid" "$osmem_pid"; wait "$pid" "$osmem_pid" 2>/dev/null || true
    python3 -c "s=$saved; w=$t1-$t0; c=max(($c1-$c0)/$ticks, 1e-9); o=max(($o1-$o0)/$ticks, 1e-9); print(f'{s/w:.0f} {s/c:.0f} {s/o:.0f}')"
}

echo "load: $SPANS spans/run, $RUNS runs, $WORKERS connections, $BATCH spans/request;" \
    "--es.bulk.refresh=$REFRESH --es.bulk.workers=$BULK_WORKERS ($PROFILE build)"
# Called in this shell (not a subshell), so a failed run's processes are cleaned up.
for n in $(seq 1 "$RUNS"); do run_once "$n" >>"$tmp/results"; done
lines=$(cat "$tmp/results")
echo "$lines" | awk '{printf "  run: %s spans/s; spans/CPU-s: collector %s, osmem %s\n", $1, $2, $3}'
rate=$(echo "$lines" | awk '{print $1}' | median)
cpu=$(echo "$lines" | awk '{print $2}' | median)
osmem_cpu=$(echo "$lines" | awk '{print $3}' | median)
printf '%-34s %10s spans/s (median); spans/CPU-s: collector %s, osmem %s\n' \
    "sextant otlp-grpc → elasticsearch" "$rate" "$cpu" "$osmem_cpu"
