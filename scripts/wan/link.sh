#!/usr/bin/env bash
# An emulated long link between two network namespaces, for scripts/bench-wan.
#
#   link.sh up   NAME [--rtt-ms 100] [--rate-mbit 1000] [--queue-ms RTT]
#        Create the namespaces NAME-near (10.201.0.1 on tun device "wan") and NAME-far
#        (10.201.0.2 on "wan"), join them with delayline (delayline.rs, next to this file,
#        compiled with rustc into $WAN_DIR/delayline when missing or older than its source):
#        RTT/2 of delay each way, the rate (0 = none) and a drop-tail queue of --queue-ms of the
#        rate (default: one RTT, i.e. one bandwidth-delay product, at least 10 ms).
#   link.sh set  NAME [same options]   restart only the delay line with new parameters
#   link.sh near NAME CMD...          run CMD in the near namespace (ip netns exec)
#   link.sh far  NAME CMD...          run CMD in the far namespace
#   link.sh down NAME                 stop the delay line (printing its counters to its log)
#                                     and delete both namespaces
#
# Needs root, /dev/net/tun, iproute2 and rustc. Nothing is added to the host's own namespace
# besides the two named namespaces (/run/netns/NAME-near, NAME-far). Tunables of the namespaces'
# TCP (net.ipv4.tcp_rmem, tcp_wmem, congestion control) are the kernel's defaults for a new
# namespace; `link.sh near NAME sysctl net.ipv4.tcp_wmem` shows them.
# WAN_DIR (default ${TMPDIR:-/tmp}/mirror-wan): the compiled delay line and per-link state.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WAN_DIR=${WAN_DIR:-${TMPDIR:-/tmp}/mirror-wan}
BIN=$WAN_DIR/delayline

die() { echo "link.sh: $*" >&2; exit 1; }
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

build() {
    mkdir -p "$WAN_DIR"
    if [ ! -x "$BIN" ] || [ "$HERE/delayline.rs" -nt "$BIN" ]; then
        command -v rustc >/dev/null || die "rustc not found (the delay line is compiled with it)"
        rustc -O --edition 2021 -o "$BIN.tmp" "$HERE/delayline.rs" && mv "$BIN.tmp" "$BIN"
    fi
}

options() { # sets RTT RATE QUEUE from the options, starting from the saved ones
    local st=$1; shift
    RTT=$(cat "$st/rtt_ms" 2>/dev/null || echo 100)
    RATE=$(cat "$st/rate_mbit" 2>/dev/null || echo 1000)
    QUEUE=$(cat "$st/queue_ms" 2>/dev/null || echo auto)
    while [ $# -gt 0 ]; do
        case $1 in
            --rtt-ms) RTT=${2:?}; shift ;;
            --rate-mbit) RATE=${2:?}; shift ;;
            --queue-ms) QUEUE=${2:?}; shift ;;
            *) die "unknown option $1" ;;
        esac
        shift
    done
    for v in "$RTT" "$RATE"; do [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "not a number: $v"; done
    [[ $QUEUE =~ ^([0-9]+(\.[0-9]+)?|auto)$ ]] || die "not a number: $QUEUE"
}

start_line() { # NAME STATE
    local name=$1 st=$2 q pid
    q=$QUEUE
    [ "$q" = auto ] && q=$(awk -v r="$RTT" 'BEGIN { print (r < 10 ? 10 : r) }')
    setsid "$BIN" "/run/netns/$name-near" wan "/run/netns/$name-far" wan "$RTT" "$RATE" "$q" \
        </dev/null >>"$st/delayline.log" 2>&1 &
    pid=$!
    echo "$pid" >"$st/pid"
    echo "$RTT" >"$st/rtt_ms"; echo "$RATE" >"$st/rate_mbit"; echo "$QUEUE" >"$st/queue_ms"
    for _ in $(seq 1 50); do
        ip netns exec "$name-near" ip -o link show wan | grep -q LOWER_UP && return 0
        kill -0 "$pid" 2>/dev/null || die "delayline exited: $(tail -n 3 "$st/delayline.log")"
        sleep 0.1
    done
    die "the link did not come up"
}

stop_line() { # STATE
    local st=$1 pid
    pid=$(cat "$st/pid" 2>/dev/null || true)
    [ -n "$pid" ] || return 0
    # Only our own delay line: the recorded PID, still running the binary we started.
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null | sed 's/ (deleted)$//')" = "$BIN" ]; then
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$st/pid"
}

cmd=${1:-}; name=${2:-}
[ -n "$cmd" ] && [ -n "$name" ] || usage
[[ $name =~ ^[A-Za-z0-9_-]{1,40}$ ]] || die "NAME: letters, digits, - and _ only"
shift 2
ST=$WAN_DIR/$name
case $cmd in
    up)
        [ -e "/run/netns/$name-near" ] && die "$name is up already (link.sh down $name)"
        [ -c /dev/net/tun ] || die "/dev/net/tun is missing"
        mkdir -p "$ST"; rm -f "$ST"/rtt_ms "$ST"/rate_mbit "$ST"/queue_ms
        options "$ST" "$@"
        build
        i=0
        for side in near far; do
            i=$((i + 1))
            ip netns add "$name-$side"
            ip netns exec "$name-$side" sh -c "ip link set lo up &&
                ip tuntap add dev wan mode tun vnet_hdr &&
                ip addr add 10.201.0.$i/24 dev wan &&
                ip link set wan mtu 1500 txqueuelen 10000 up"
        done
        start_line "$name" "$ST"
        echo "link.sh: $name up: near 10.201.0.1 <-> far 10.201.0.2, rtt $RTT ms, $RATE Mbit/s, queue $QUEUE"
        ;;
    set)
        [ -e "/run/netns/$name-near" ] || die "$name is not up"
        options "$ST" "$@"
        stop_line "$ST"
        build
        start_line "$name" "$ST"
        echo "link.sh: $name set: rtt $RTT ms, $RATE Mbit/s, queue $QUEUE"
        ;;
    near|far)
        [ $# -gt 0 ] || usage
        exec ip netns exec "$name-$cmd" "$@"
        ;;
    down)
        stop_line "$ST"
        for side in near far; do
            [ -e "/run/netns/$name-$side" ] && ip netns delete "$name-$side"
        done
        echo "link.sh: $name down"
        ;;
    *) usage ;;
esac
