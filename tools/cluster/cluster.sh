#!/usr/bin/env bash
# A local Sluice cluster for development and manual tests (tools/cluster/README.md).
#
#   cluster.sh up N        start nodes 1..N (N <= 7) on 127.0.0.1, data in $SLUICE_CLUSTER_DIR
#   cluster.sh down        stop every node (SIGTERM, then SIGKILL after 15 s)
#   cluster.sh kill I      SIGKILL node I
#   cluster.sh restart I   start node I again on its data directory
#   cluster.sh status      which nodes run, their ports, how many partitions each leads
#
# Ports of node I: MQTT 1880+I, cluster 7000+I, admin 9880+I, metrics 9900+I (change the bases
# with SLUICE_CLUSTER_MQTT_BASE etc.). The binary: $SLUICED, else bazel-bin/broker/sluiced.
# Extra flags for every node: $SLUICE_CLUSTER_FLAGS (split on spaces).
set -euo pipefail

DIR=${SLUICE_CLUSTER_DIR:-./cluster-data}
SLUICED=${SLUICED:-bazel-bin/broker/sluiced}
MQTT_BASE=${SLUICE_CLUSTER_MQTT_BASE:-1880}
CLUSTER_BASE=${SLUICE_CLUSTER_BASE:-7000}
ADMIN_BASE=${SLUICE_CLUSTER_ADMIN_BASE:-9880}
METRICS_BASE=${SLUICE_CLUSTER_METRICS_BASE:-9900}

die() { echo "cluster.sh: $*" >&2; exit 2; }
size() { [[ -f "$DIR/size" ]] || die "no cluster in $DIR (run: cluster.sh up N)"; cat "$DIR/size"; }
node_arg() {
  [[ "${1:-}" =~ ^[1-7]$ ]] || die "expected a node number 1..7, got '${1:-}'"
  (( $1 <= $(size) )) || die "node $1 is not in this $(size)-node cluster"
}
pid_of() { [[ -f "$DIR/n$1.pid" ]] && cat "$DIR/n$1.pid" || true; }
# Alive and not a zombie (a killed node's parent, an earlier cluster.sh, is gone).
running() {
  local p; p=$(pid_of "$1")
  [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]]
}

start_node() {
  local i=$1 n peers=""
  n=$(size)
  for ((j = 1; j <= n; j++)); do peers+="${peers:+,}$j@127.0.0.1:$((CLUSTER_BASE + j))"; done
  running "$i" && die "node $i already runs (pid $(pid_of "$i"))"
  mkdir -p "$DIR/n$i"
  : >"$DIR/n$i.ready"  # before the child opens it: no stale line from a previous run
  "$SLUICED" --node-id "$i" --cluster-listen "127.0.0.1:$((CLUSTER_BASE + i))" \
    --cluster-peers "$peers" --listen "127.0.0.1:$((MQTT_BASE + i))" --data-dir "$DIR/n$i" \
    --admin-listen "127.0.0.1:$((ADMIN_BASE + i))" \
    --metrics-listen "127.0.0.1:$((METRICS_BASE + i))" --ready-fd 3 ${SLUICE_CLUSTER_FLAGS:-} \
    3>"$DIR/n$i.ready" >>"$DIR/n$i.log" 2>&1 &
  echo $! >"$DIR/n$i.pid"
  # The ready file is written once the node listens (bounded wait).
  for ((t = 0; t < 100; t++)); do
    [[ -s "$DIR/n$i.ready" ]] && { echo "node $i: mqtt $(head -1 "$DIR/n$i.ready") pid $!"; return; }
    kill -0 $! 2>/dev/null || die "node $i exited; see $DIR/n$i.log"
    sleep 0.1
  done
  die "node $i did not come up within 10 s; see $DIR/n$i.log"
}

leads() {  # partitions node $1 leads, from its /metrics
  { exec 5<>"/dev/tcp/127.0.0.1/$((METRICS_BASE + $1))" &&
    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&5 && cat <&5; } 2>/dev/null |
    grep -c '^sluice_raft_is_leader{.*} 1$' || true
}

case "${1:-}" in
  up)
    [[ "${2:-}" =~ ^[1-7]$ ]] || die "usage: cluster.sh up N (1..7 nodes)"
    mkdir -p "$DIR"
    [[ -f "$DIR/size" && "$(cat "$DIR/size")" != "$2" ]] &&
      die "$DIR holds a $(cat "$DIR/size")-node cluster; remove it for another size"
    echo "$2" >"$DIR/size"
    for ((i = 1; i <= $2; i++)); do running "$i" || start_node "$i"; done ;;
  down)
    n=$(size)
    for ((i = 1; i <= n; i++)); do running "$i" && kill -TERM "$(pid_of "$i")"; done
    for ((i = 1; i <= n; i++)); do
      for ((t = 0; t < 150 && $(running "$i" && echo 1 || echo 0); t++)); do sleep 0.1; done
      running "$i" && kill -KILL "$(pid_of "$i")"
      rm -f "$DIR/n$i.pid"
    done
    echo "stopped" ;;
  kill)
    node_arg "${2:-}"
    running "$2" || die "node $2 does not run"
    kill -KILL "$(pid_of "$2")"
    echo "node $2 killed (SIGKILL)" ;;
  restart)
    node_arg "${2:-}"
    running "$2" && { kill -TERM "$(pid_of "$2")"; sleep 1; }
    start_node "$2" ;;
  status)
    n=$(size)
    for ((i = 1; i <= n; i++)); do
      if running "$i"; then
        echo "node $i: up (pid $(pid_of "$i")) mqtt 127.0.0.1:$((MQTT_BASE + i)) leads $(leads "$i") partitions"
      else
        echo "node $i: down"
      fi
    done ;;
  *) die "usage: cluster.sh up N | down | kill I | restart I | status" ;;
esac
