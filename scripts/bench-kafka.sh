#!/usr/bin/env bash
# Kafka buffer benchmark against a real broker (tansu, in memory):
# 1. collector → Kafka: tracegen sends SPANS spans over OTLP gRPC to a collector with
#    `--span-storage.type=kafka`; spans/s until every span is acknowledged by the broker
#    (the collector answers a batch only then), and spans per collector CPU-second.
# 2. Kafka → ingester → store: an ingester in a new consumer group drains the filled topic
#    into the memory store; spans/s and spans per ingester CPU-second (the per-core figure).
# Medians of RUNS runs (a fresh topic each run).
#
#   scripts/bench-kafka.sh      # SPANS=200000 RUNS=3 WORKERS=4 BATCH=500 PARTITIONS=3
#
# Knobs: REUSE_TOPIC=1 fills one topic once (one collector run) and drains it RUNS times,
# each time with a new consumer group: the ingester figure without refilling the broker.
# PERF=file records `perf record` of the last run's ingester into that file (PERF_ARGS: its
# options, default `-g`; e.g. PERF_ARGS="--call-graph dwarf,16384 -F 499").
# NO_BUILD=1 uses the binaries in target/release as they are; INGESTER=path and
# COLLECTOR=path run other binaries (e.g. saved builds, to compare ingesters on messages
# from one collector: what the messages carry changes the ingester's cost per span).
#
# Needs tansu (scripts/setup/60-kafka.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
SPANS=${SPANS:-200000}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-4}
BATCH=${BATCH:-500}
PARTITIONS=${PARTITIONS:-3}
ENCODING=${ENCODING:-protobuf}
REUSE_TOPIC=${REUSE_TOPIC:-}
PERF=${PERF:-}
ticks=$(getconf CLK_TCK)
tansu=${TANSU:-${CARGO_HOME:-$HOME/.cargo}/bin/tansu}
[ -x "$tansu" ] || { echo "tansu not found: source scripts/setup/60-kafka.sh" >&2; exit 1; }

[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p sextant-collector -p sextant-ingester -p sextant-tracegen
bin="$root/target/release"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
minor_faults() { awk '{print $10}' "/proc/$1/stat"; }
ctx_switches() { # voluntary + involuntary, over every thread of the process
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s+=$2} END {printf "%d", s}'
}
wait_port() {
    for _ in $(seq 1 400); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "port $1 never opened" >&2; return 1
}
metric() { # admin_port name: the sum of the metric's samples
    curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 ~ "^"n"({|$)" {s+=$2} END {printf "%d", s}'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

kport=$(free_port)
"$tansu" broker --listener-url "tcp://127.0.0.1:$kport" --advertised-listener-url "tcp://127.0.0.1:$kport" \
    --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1 &
pids+=($!)
wait_port "$kport"

otlp=$(free_port); cadmin=$(free_port)

echo "load: $SPANS spans/run, $RUNS runs, $WORKERS connections, $BATCH spans/request, $PARTITIONS partitions, $ENCODING${REUSE_TOPIC:+, one topic drained $RUNS times}"
: >"$work/produce"; : >"$work/consume"
for run in $(seq 1 "$RUNS"); do
    topic="bench-$run"
    [ -z "$REUSE_TOPIC" ] || topic="bench-1"
    if [ -z "$REUSE_TOPIC" ] || [ "$run" = 1 ]; then
        "$tansu" topic create "$topic" --broker "tcp://127.0.0.1:$kport" --partitions "$PARTITIONS" >/dev/null
        # A fresh collector per run, writing to the fresh topic.
        "${COLLECTOR:-$bin/sextant-collector}" --span-storage.type=kafka --kafka.producer.brokers="127.0.0.1:$kport" \
            --kafka.producer.topic="$topic" --kafka.producer.encoding="$ENCODING" \
            --collector.grpc-server.host-port="127.0.0.1:$(free_port)" \
            --collector.http-server.host-port="127.0.0.1:$(free_port)" \
            --collector.otlp.grpc.host-port="127.0.0.1:$otlp" \
            --collector.otlp.http.host-port="127.0.0.1:$(free_port)" \
            --admin.http.host-port="127.0.0.1:$cadmin" --log-level=warn >"$work/collector.log" 2>&1 &
        cpid=$!; pids+=($cpid)
        wait_port "$otlp"

        c0=$(cpu_ticks "$cpid"); t0=$(date +%s.%N)
        "$bin/tracegen" --protocol otlp-grpc --endpoint "127.0.0.1:$otlp" --spans "$SPANS" \
            --workers "$WORKERS" --batch-size "$BATCH" --report-interval 0 >/dev/null
        t1=$(date +%s.%N); c1=$(cpu_ticks "$cpid")
        written=$(metric "$cadmin" jaeger_kafka_spans_written_total)
        python3 -c "s=$SPANS; w=$t1-$t0; c=max(($c1-$c0)/$ticks,1e-9); print(f'{s/w:.0f} {s/c:.0f}')" >>"$work/produce"
        kill "$cpid"; wait "$cpid" 2>/dev/null || true
        [ "$written" -ge "$SPANS" ] || { echo "collector acknowledged only $written of $SPANS spans" >&2; exit 1; }
    fi

    iadmin=$(free_port)
    t0=$(date +%s.%N)
    "${INGESTER:-$bin/sextant-ingester}" --kafka.consumer.brokers="127.0.0.1:$kport" --kafka.consumer.topic="$topic" \
        --kafka.consumer.group-id="bench-$run" --kafka.consumer.encoding="$ENCODING" \
        --span-storage.type=memory --memory.max-traces=5000 \
        --admin.http.host-port="127.0.0.1:$iadmin" --log-level=warn >"$work/ingester.log" 2>&1 &
    ipid=$!; pids+=($ipid)
    wait_port "$iadmin"
    perf_pid=
    if [ -n "$PERF" ] && [ "$run" = "$RUNS" ]; then
        perf record ${PERF_ARGS:--g} -o "$PERF" -p "$ipid" >"$work/perf.log" 2>&1 &
        perf_pid=$!
    fi
    for _ in $(seq 1 6000); do
        [ "$(metric "$iadmin" jaeger_ingester_spans_written_total)" -ge "$SPANS" ] && break
        sleep 0.02
    done
    t1=$(date +%s.%N); c1=$(cpu_ticks "$ipid")
    faults=$(minor_faults "$ipid"); switches=$(ctx_switches "$ipid")
    got=$(metric "$iadmin" jaeger_ingester_spans_written_total)
    if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
    kill "$ipid"; wait "$ipid" 2>/dev/null || true
    [ "$got" -ge "$SPANS" ] || { echo "ingester stored only $got of $SPANS spans" >&2; exit 1; }
    # Includes the ingester's start-up and group join: a conservative figure.
    python3 -c "s=$SPANS; w=$t1-$t0; c=max($c1/$ticks,1e-9); print(f'{s/w:.0f} {s/c:.0f}')" >>"$work/consume"
    echo "run $run: ingester $(tail -n1 "$work/consume" | awk '{print $1 " spans/s, " $2 " spans/CPU-s"}'), $faults minor faults, $switches context switches"
done

report() { # label file
    printf '%-38s %10s spans/s %12s spans/CPU-s\n' "$1" \
        "$(awk '{print $1}' "$2" | median)" "$(awk '{print $2}' "$2" | median)"
}
report "collector (OTLP gRPC) → Kafka" "$work/produce"
report "Kafka → ingester → memory store" "$work/consume"
