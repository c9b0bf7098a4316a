#!/usr/bin/env bash
# Collector ingest benchmark: spans/s and spans per collector CPU-second, per receiver
# (OTLP gRPC, OTLP HTTP, Jaeger api_v2 gRPC) into the `blackhole` and `embedded` stores,
# and OTLP gRPC side by side with rotel (a Rust OpenTelemetry collector) into its blackhole
# exporter under the same load. Load comes from tools/tracegen; figures are medians of
# RUNS runs.
#
#   scripts/bench-collector.sh            # SPANS=300000 RUNS=3 WORKERS=4 BATCH=500
#   NO_ROTEL=1 scripts/bench-collector.sh # skip the rotel comparison
#   STORES= scripts/bench-collector.sh    # only the rotel comparison
#
# rotel is installed from PyPI (its wheel bundles the binary) into a throwaway venv under
# target/, never in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
SPANS=${SPANS:-300000}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-4}
BATCH=${BATCH:-500}
ticks=$(getconf CLK_TCK)

cargo build --release -q -p sextant-collector -p sextant-tracegen
bin="$root/target/release"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
wait_port() {
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "port $1 never opened" >&2; return 1
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Runs one load against pid $1 listening on $2 with tracegen protocol $3; prints
# "spans_per_s spans_per_cpu_s".
measure() {
    local pid=$1 port=$2 proto=$3 c0 c1 t0 t1
    c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    "$bin/tracegen" --protocol "$proto" --endpoint "127.0.0.1:$port" --spans "$SPANS" \
        --workers "$WORKERS" --batch-size "$BATCH" --report-interval 0 >/dev/null
    t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
    python3 -c "s=$SPANS; w=$t1-$t0; c=max(($c1-$c0)/$ticks, 1e-9); print(f'{s/w:.0f} {s/c:.0f}')"
}

report() { # label, then lines of "rate cpu_rate"
    local label=$1 lines rate cpu runs
    lines=$(cat)
    rate=$(echo "$lines" | awk '{print $1}' | median)
    cpu=$(echo "$lines" | awk '{print $2}' | median)
    # Every run's spans/CPU-s too: on a shared machine the spread says how far to trust
    # the median.
    runs=$(echo "$lines" | awk '{print $2}' | paste -sd' ')
    printf '%-34s %12s spans/s %14s spans/CPU-s   (runs: %s)\n' "$label" "$rate" "$cpu" "$runs"
    echo "$cpu" > "$root/target/bench-last-cpu"
}

# Starts a collector writing to store $1 (data and log under dir $3) and waits until the
# receiver for tracegen protocol $2 listens; sets spid and sport (that receiver's port).
start_sextant() {
    local store=$1 proto=$2 dir=$3 grpc http otlp_grpc otlp_http
    grpc=$(free_port); http=$(free_port); otlp_grpc=$(free_port); otlp_http=$(free_port)
    "$bin/sextant-collector" --span-storage.type="$store" --embedded.directory="$dir/data" \
        --collector.grpc-server.host-port="127.0.0.1:$grpc" \
        --collector.http-server.host-port="127.0.0.1:$http" \
        --collector.otlp.grpc.host-port="127.0.0.1:$otlp_grpc" \
        --collector.otlp.http.host-port="127.0.0.1:$otlp_http" \
        --admin.http.host-port="127.0.0.1:$(free_port)" --log-level=warn >"$dir/log" 2>&1 &
    spid=$!
    case $proto in
        otlp-grpc) sport=$otlp_grpc ;;
        otlp-http) sport=$otlp_http ;;
        jaeger-grpc) sport=$grpc ;;
    esac
    wait_port "$sport"
}

bench_sextant() { # store protocol
    local store=$1 proto=$2 dir
    dir=$(mktemp -d)
    start_sextant "$store" "$proto" "$dir"
    for _ in $(seq 1 "$RUNS"); do measure "$spid" "$sport" "$proto"; done | report "sextant $proto → $store"
    kill "$spid"; wait "$spid" 2>/dev/null || true
    rm -rf "$dir"
}

echo "load: $SPANS spans/run, $RUNS runs, $WORKERS connections, $BATCH spans/request"
for store in ${STORES-blackhole embedded}; do
    for proto in otlp-grpc otlp-http jaeger-grpc; do
        bench_sextant "$store" "$proto"
    done
done

# rotel side by side: both servers up at once, runs alternating sextant / rotel under the
# same load, so machine noise hits both alike; the ratio is the median of the per-pair
# ratios.
if [ -z "${NO_ROTEL:-}" ]; then
    venv="$root/target/bench-rotel-venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -c "import rotel" 2>/dev/null || "$venv/bin/pip" install -q rotel
    # The wheel bundles the binary inside the package.
    rotel_bin=$("$venv/bin/python" -c \
        "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))")
    rdir=$(mktemp -d)
    start_sextant blackhole otlp-grpc "$rdir"
    rport=$(free_port)
    "$rotel_bin" start --otlp-grpc-endpoint "127.0.0.1:$rport" \
        --otlp-http-endpoint "127.0.0.1:$(free_port)" --exporter blackhole \
        >"$root/target/bench-rotel.log" 2>&1 &
    rpid=$!
    wait_port "$rport"
    : > "$rdir/pairs"
    for _ in $(seq 1 "$RUNS"); do
        s=$(measure "$spid" "$sport" otlp-grpc)
        r=$(measure "$rpid" "$rport" otlp-grpc)
        echo "$s $r" >> "$rdir/pairs"
    done
    awk '{print $1, $2}' "$rdir/pairs" | report "sextant otlp-grpc → blackhole"
    awk '{print $3, $4}' "$rdir/pairs" | report "rotel otlp-grpc → blackhole"
    ratios=$(awk '{printf "%.2f\n", $2/$4}' "$rdir/pairs")
    echo "sextant/rotel spans per CPU-second, per pair: $(echo "$ratios" | paste -sd' ')"
    echo "median $(echo "$ratios" | median)x (target >= 1.5x)"
    kill "$spid" "$rpid"; wait "$spid" "$rpid" 2>/dev/null || true
    rm -rf "$rdir"
fi
