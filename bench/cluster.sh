#!/usr/bin/env bash
# What cluster mode costs (docs/CLUSTER.md, "Capacity model, measured"): the same workloads on a
# single server (SQLite), on one cluster node and on two nodes of one cluster (each room's
# members spread over both, so about half of all deliveries cross from one node to the other),
# over loopback, in rounds that take turns so that a noisy machine weighs on every setup alike.
#
# For every round, workload and setup it starts a fresh redis-server (AOF, `appendfsync always`,
# as palaver requires) and fresh nodes, runs `palaver bench --json` with every node's address
# and the process ids of Redis *and* the nodes (CPU per delivery is the whole service's), and
# stops them. Raw reports go to the output directory; the table of medians is printed at the
# end (and kept there as table.md), with Redis's own CPU per message and cores beside it, and,
# with two nodes or more, the p99 latency of deliveries within a node and across nodes apart.
#
#   bench/cluster.sh [--quick] [--rounds N] [--setups single,node1,node2,node3]
#                    [--workloads room,small] [--out DIR] [--no-build]
#
# --quick       short runs, one round, to check the script itself (numbers mean little)
# --rounds N    rounds (default 3); the table shows each figure's median over them
# --setups      which setups, comma-separated (default single,node1,node2)
# --workloads   room: 200 clients in one room, 20 senders × 50/s (199,000 deliveries/s);
#               small: 2,000 clients in 200 rooms of 10, each sending 1/s (18,000 deliveries/s:
#               the worst case for cluster mode, whose costs are per message)
# --out DIR     where results go (default: target/bench-cluster/DATE-TIME)
# --no-build    use target/release/palaver as it is
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

quick=false
build=true
rounds=3
setups=single,node1,node2
workloads=room,small
out=""

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=true; rounds=1 ;;
        --no-build) build=false ;;
        --rounds) rounds=$2; shift ;;
        --setups) setups=$2; shift ;;
        --workloads) workloads=$2; shift ;;
        --out) out=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "cluster.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
    esac
    shift
done
IFS=, read -r -a setup_list <<< "$setups"
IFS=, read -r -a workload_list <<< "$workloads"
for setup in "${setup_list[@]}"; do
    case "$setup" in
        single|node1|node2|node3) ;;
        *) echo "cluster.sh: unknown setup $setup (single, node1, node2, node3)" >&2; exit 2 ;;
    esac
done

workload_args() {
    local long=20s warmup=3s
    if $quick; then long=2s warmup=1s; fi
    case "$1" in
        room) echo "--clients 200 --rooms 1 --senders 20 --rate 50 --size 32 --duration $long --warmup $warmup" ;;
        small) echo "--clients 2000 --rooms 200 --senders 2000 --rate 1 --size 32 --duration $long --warmup $warmup" ;;
        *) echo "cluster.sh: unknown workload $1 (room, small)" >&2; return 1 ;;
    esac
}
for workload in "${workload_list[@]}"; do workload_args "$workload" >/dev/null; done

command -v redis-server >/dev/null || {
    echo "cluster.sh: redis-server is missing (on Debian: apt-get install redis-server)" >&2
    exit 1
}
if $build; then
    cargo build --release -p palaver
fi
palaver=$repo/target/release/palaver
[ -x "$palaver" ] || { echo "cluster.sh: $palaver is missing (drop --no-build)" >&2; exit 1; }

out=${out:-$repo/target/bench-cluster/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
ulimit -n "$(ulimit -Hn)"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/palaver-cluster-bench.XXXXXX")
pids=()
bench_pid=""
stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
cleanup() {
    [ -z "$bench_pid" ] || kill "$bench_pid" 2>/dev/null || true
    stop_all
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts redis-server on a fresh directory and port; sets redis_url and adds its pid.
start_redis() {
    local port directory=$scratch/redis
    port=$(free_port)
    rm -rf "$directory" && mkdir -p "$directory"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$directory" --appendonly yes \
        --appendfsync always --save "" --loglevel warning >"$scratch/redis.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    redis_url=redis://127.0.0.1:$port
}

# Starts `palaver serve` with the benchmarks' configuration and `$@`; waits for `ready`, adds
# its pid and its IRC address to `addresses`.
start_palaver() {
    local name=$1 port log
    shift
    port=$(free_port)
    log=$scratch/$name
    # A file left by an earlier run must not say `ready` for this one.
    rm -f "$log.out" "$log.err"
    "$palaver" serve --config "$repo/bench/palaver.toml" --irc-listen "127.0.0.1:$port" \
        --text-listen "127.0.0.1:$(free_port)" --http-listen "127.0.0.1:$(free_port)" \
        --log warn "$@" >"$log.out" 2>"$log.err" &
    pids+=($!)
    for _ in $(seq 300); do
        grep -qx ready "$log.out" 2>/dev/null && break
        sleep 0.1
    done
    grep -qx ready "$log.out" || { echo "cluster.sh: $name did not start:" >&2; cat "$log.err" >&2; return 1; }
    addresses+=(--addr "127.0.0.1:$port")
}

# Starts the setup `$1`: sets `addresses` and `pids`.
start_setup() {
    addresses=()
    case "$1" in
        single)
            rm -f "$scratch"/palaver.db*
            start_palaver single --db "$scratch/palaver.db"
            ;;
        node*)
            start_redis
            for n in $(seq "${1#node}"); do
                start_palaver "node$n" --cluster "$redis_url" --node-name "node$n"
            done
            ;;
    esac
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
    echo "palaver: $("$palaver" --version) ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo "redis: $(redis-server --version)"
    echo "quick: $quick"
} >"$out/machine.txt"
: >"$out/commands.txt"

for round in $(seq "$rounds"); do
    for workload in "${workload_list[@]}"; do
        for setup in "${setup_list[@]}"; do
            name=$workload-$setup-$round
            echo "== round $round: $workload on $setup" >&2
            start_setup "$setup"
            read -r -a args <<< "$(workload_args "$workload")"
            measured=()
            for pid in "${pids[@]}"; do measured+=(--server-pid "$pid"); done
            command=("$palaver" bench "${addresses[@]}" "${args[@]}" "${measured[@]}" --json)
            echo "$name: ${command[*]}" >>"$out/commands.txt"
            "${command[@]}" >"$out/$name.json" &
            bench_pid=$!
            if ! wait "$bench_pid"; then
                echo "   $name failed" >&2
                rm -f "$out/$name.json"
            fi
            bench_pid=""
            stop_all
        done
    done
done

python3 - "$out" <<'EOF' | tee "$out/table.md"
import json, statistics, sys
from pathlib import Path

out = Path(sys.argv[1])
runs = {}
for path in sorted(out.glob("*.json")):
    workload, setup, _round = path.stem.rsplit("-", 2)
    runs.setdefault((workload, setup), []).append(json.loads(path.read_text()))

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def redis(reports, field):
    """Redis's figure (the first process measured in a cluster setup), median of the runs."""
    if reports[0]["servers"] == 1 and len(reports[0]["server_processes"]) == 1:
        return None
    return median(r["server_processes"][0][field] for r in reports)

def cell(value, digits):
    return "–" if value is None else f"{value:,.{digits}f}"

def p99(reports, field):
    return median((r.get(field) or {}).get("p99_ms") for r in reports)

print("| workload | setup | runs | deliveries/s | lost | p50 ms | p99 ms | p99 ms same node "
      "| p99 ms across nodes | µs CPU / delivery (nodes + Redis) | × single "
      "| Redis µs / message | Redis cores |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (workload, setup), reports in sorted(runs.items()):
    cpu = median(r.get("server_cpu_us_per_delivery") for r in reports)
    single = median(r.get("server_cpu_us_per_delivery") for r in runs.get((workload, "single"), []))
    ratio = cpu / single if cpu and single else None
    print(f"| {workload} | {setup} | {len(reports)} "
          f"| {cell(median(r['achieved_deliveries_per_s'] for r in reports), 0)} "
          f"| {sum(r['lost'] + r['duplicates'] for r in reports)} "
          f"| {cell(median((r.get('latency') or {}).get('p50_ms') for r in reports), 2)} "
          f"| {cell(p99(reports, 'latency'), 2)} "
          f"| {cell(p99(reports, 'latency_same_server'), 2)} "
          f"| {cell(p99(reports, 'latency_across_servers'), 2)} "
          f"| {cell(cpu, 2)} | {cell(ratio, 2)} "
          f"| {cell(redis(reports, 'cpu_us_per_message'), 1)} "
          f"| {cell(redis(reports, 'cpu_cores'), 2)} |")
EOF
echo "results: $out" >&2
