#!/usr/bin/env bash
# Side-by-side comparison of palaver, ngIRCd and InspIRCd under the workloads of
# docs/PERFORMANCE.md, in one session on this machine, over loopback only.
#
# Builds palaver (release), installs ngIRCd and InspIRCd from Debian if missing, writes each
# server's benchmark configuration into a temporary directory (ports, paths), and for every
# workload and server starts a fresh server, runs `palaver bench --server-pid … --json --plot`
# against it, and stops it. The raw JSON reports, the SVG plots, the commands and a
# description of the machine go to the output directory; the table is printed at the end (and
# kept there as table.md).
#
#   bench/compare.sh [--quick] [--workloads w1,w1-400,w2,w3,w4,soak|all]
#                    [--servers palaver,ngircd,inspircd] [--peers DIR] [--out DIR]
#                    [--idle-clients N] [--no-build]
#
# --quick       short runs and fewer clients, to check the script itself (numbers mean little)
# --workloads   which workloads, comma-separated (default: w1,w1-400,w2,w3,w4; the ten-minute
#               soak only when named, or with `all`)
# --servers     which servers, comma-separated (default: all three)
# --peers DIR   the other servers' benchmark configurations (ngircd.conf, inspircd.conf,
#               motd.txt); default $PALAVER_BENCH_PEERS, else ../shared/peers beside the repository
# --out DIR     where results go (default: target/bench-compare/DATE-TIME)
# --idle-clients N   clients of w4, the memory run (default 10000)
# --no-build    use target/release/palaver as it is
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

quick=false
build=true
workloads=w1,w1-400,w2,w3,w4
servers=palaver,ngircd,inspircd
peers=${PALAVER_BENCH_PEERS:-$repo/../shared/peers}
out=""
idle_clients=10000

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=true ;;
        --no-build) build=false ;;
        --workloads) workloads=$2; shift ;;
        --servers) servers=$2; shift ;;
        --peers) peers=$2; shift ;;
        --out) out=$2; shift ;;
        --idle-clients) idle_clients=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "compare.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
    esac
    shift
done
[ "$workloads" = all ] && workloads=w1,w1-400,w2,w3,w4,soak
IFS=, read -r -a workload_list <<< "$workloads"
IFS=, read -r -a server_list <<< "$servers"
out=${out:-$repo/target/bench-compare/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The workloads: `palaver bench` arguments. Quick mode keeps their shape with fewer clients
# and seconds.
workload_args() {
    local long=30s warmup=5s w2=2000 w3=5000 w4=$idle_clients soak_clients=10000 soak=10m
    if $quick; then
        long=3s warmup=1s w2=400 w3=1000 w4=2000 soak_clients=1000 soak=20s
    fi
    case "$1" in
        w1) echo "--clients 200 --rooms 1 --senders 20 --rate 200 --size 32 --duration $long --warmup $warmup" ;;
        w1-400) echo "--clients 200 --rooms 1 --senders 20 --rate 400 --size 32 --duration $long --warmup $warmup" ;;
        w2) echo "--clients $w2 --rooms $((w2 / 10)) --senders $w2 --rate 1 --size 32 --duration $long --warmup $warmup" ;;
        w3) echo "--clients $w3 --rooms $((w3 / 10)) --senders 0 --connect-concurrency 200 --duration 0s --warmup 0s" ;;
        w4) echo "--clients $w4 --rooms $((w4 / 10)) --senders 0 --duration 10s --warmup 0s" ;;
        soak) echo "--clients $soak_clients --rooms $((soak_clients / 10)) --senders $soak_clients --rate 0.1 --size 32 --duration $soak --warmup 10s" ;;
        *) echo "compare.sh: unknown workload $1 (w1, w1-400, w2, w3, w4, soak)" >&2; return 1 ;;
    esac
}
for workload in "${workload_list[@]}"; do workload_args "$workload" >/dev/null; done
for server in "${server_list[@]}"; do
    case "$server" in
        palaver|ngircd|inspircd) ;;
        *) echo "compare.sh: unknown server $server (palaver, ngircd, inspircd)" >&2; exit 2 ;;
    esac
done

wants() { [[ ",$servers," == *",$1,"* ]]; }

# How many clients connect at once, beyond what a workload says. Only w3 measures connecting;
# elsewhere clients are let in as each server takes them best: ngIRCd listens with a backlog of
# 10, and with more handshakes in flight the kernel drops SYNs, whose retries (1 s, 3 s, 7 s, …)
# run past the generator's 30 s connect timeout.
connect_concurrency() {
    local workload=$1 server=$2
    if [ "$workload" != w3 ] && [ "$server" = ngircd ]; then
        echo "--connect-concurrency 10"
    fi
}

# --- what the run needs ----------------------------------------------------------------------

if $build; then
    cargo build --release -p palaver
fi
palaver=$repo/target/release/palaver
[ -x "$palaver" ] || { echo "compare.sh: $palaver is missing (drop --no-build)" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
missing=()
wants ngircd && ! command -v ngircd >/dev/null && [ ! -x /usr/sbin/ngircd ] && missing+=(ngircd)
wants inspircd && ! command -v inspircd >/dev/null && [ ! -x /usr/sbin/inspircd ] && missing+=(inspircd)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from Debian" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH=$PATH:/usr/sbin

if wants ngircd || wants inspircd; then
    for file in ngircd.conf inspircd.conf motd.txt; do
        [ -f "$peers/$file" ] || {
            echo "compare.sh: no $file in $peers (--peers DIR or PALAVER_BENCH_PEERS)" >&2
            exit 1
        }
    done
fi

# Every client is a file descriptor, in the generator and in the server: the soft limit up to
# the hard one, and the hard one up too where the system allows it (root, outside containers
# that withhold CAP_SYS_RESOURCE).
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/palaver-compare.XXXXXX")
server_pid=""
stop_server() {
    [ -n "$server_pid" ] || return 0
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
# The bench under way, run in the background so that a signal is handled at once (bash runs a
# trap only once its foreground command has ended).
bench_pid=""
cleanup() {
    [ -z "$bench_pid" ] || kill "$bench_pid" 2>/dev/null || true
    stop_server
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts connections on 127.0.0.1:$1, or the server has exited.
wait_for_port() {
    for _ in $(seq 300); do
        kill -0 "$server_pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# Starts a fresh $1 on a new port; sets server_pid and server_addr.
start_server() {
    local name=$1 port log=$scratch/$1.log
    port=$(free_port)
    server_addr=127.0.0.1:$port
    case "$name" in
        palaver)
            # The durable store (the default) on a fresh file; warnings only, as the others
            # log next to nothing per connection.
            rm -f "$scratch"/palaver.db*
            "$palaver" serve --config "$repo/bench/palaver.toml" \
                --irc-listen "$server_addr" --text-listen "127.0.0.1:$(free_port)" \
                --db "$scratch/palaver.db" --log warn >"$scratch/palaver.out" 2>"$log" &
            server_pid=$!
            for _ in $(seq 300); do
                grep -qx ready "$scratch/palaver.out" 2>/dev/null && break
                kill -0 "$server_pid" 2>/dev/null || break
                sleep 0.1
            done
            grep -qx ready "$scratch/palaver.out" || {
                echo "compare.sh: palaver did not start:" >&2; cat "$log" >&2; return 1; }
            ;;
        ngircd)
            sed -e "s|^\([[:space:]]*\)Ports = .*|\1Ports = $port|" \
                -e "s|^\([[:space:]]*\)Listen = .*|\1Listen = 127.0.0.1|" \
                -e "s|^\([[:space:]]*\)PidFile = .*|\1PidFile = $scratch/ngircd.pid|" \
                "$peers/ngircd.conf" >"$scratch/ngircd.conf"
            ngircd -n -f "$scratch/ngircd.conf" >"$log" 2>&1 &
            server_pid=$!
            ;;
        inspircd)
            cp "$peers/motd.txt" "$scratch/motd.txt"
            sed -e "s|port=\"[0-9]*\"|port=\"$port\"|" \
                -e "s|motd=\"[^\"]*\"|motd=\"$scratch/motd.txt\"|" \
                -e "s|<pid file=\"[^\"]*\"|<pid file=\"$scratch/inspircd.pid\"|" \
                -e "s|target=\"[^\"]*\"|target=\"$scratch/inspircd-file.log\"|" \
                "$peers/inspircd.conf" >"$scratch/inspircd.conf"
            local as_root=()
            [ "$(id -u)" -eq 0 ] && as_root=(--runasroot)
            inspircd "${as_root[@]}" --nofork --nopid --config "$scratch/inspircd.conf" \
                >"$log" 2>&1 &
            server_pid=$!
            ;;
    esac
    wait_for_port "$port" || {
        echo "compare.sh: $name did not start listening:" >&2; cat "$log" >&2; return 1; }
}

# --- the machine and the commands --------------------------------------------------------------

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
    echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "kernel: $(uname -sr)"
    echo "system: $(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release)"
    echo "open files: $(ulimit -n)"
    echo "palaver: $("$palaver" --version) ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    wants ngircd && echo "ngircd: $(ngircd --version 2>/dev/null | head -1)"
    wants inspircd && echo "inspircd: $(inspircd --version 2>/dev/null | head -1)"
    echo "quick: $quick"
} >"$out/machine.txt"
: >"$out/commands.txt"

# --- the runs ----------------------------------------------------------------------------------

for workload in "${workload_list[@]}"; do
    for server in "${server_list[@]}"; do
        read -r -a args <<< "$(workload_args "$workload") $(connect_concurrency "$workload" "$server")"
        name=$workload-$server
        echo "== $workload on $server: ${args[*]}" >&2
        start_server "$server"
        command=("$palaver" bench --addr "$server_addr" "${args[@]}" --server-pid "$server_pid"
            --json --plot "$out/$name.svg")
        echo "${command[*]}" >>"$out/commands.txt"
        # The bench's progress bar and any error go to this script's stderr.
        "${command[@]}" >"$out/$name.json" &
        bench_pid=$!
        if ! wait "$bench_pid"; then
            echo "   $name failed" >&2
            rm -f "$out/$name.json"
        fi
        bench_pid=""
        stop_server
    done
done

python3 "$repo/bench/tabulate.py" "$out" | tee "$out/table.md"
echo "results: $out" >&2
