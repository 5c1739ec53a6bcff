#!/usr/bin/env bash
# tests/services/hdfs.sh — a real single-node HDFS (Apache Hadoop NameNode + one DataNode, from
# the jars scripts/setup.d/hadoop.sh fetched) on loopback, for the tests.
#
#   hdfs.sh ensure            start it unless it is already up; prints the WebHDFS address
#                             (HOST:PORT of the NameNode's HTTP server), also written to
#                             $ECOM_SERVICES_DIR/hdfs.addr ($ECOM_SERVICES_DIR/hdfs.rpc holds the
#                             hdfs://HOST:PORT RPC URI that Hadoop's own clients use)
#   hdfs.sh addr              prints the WebHDFS address (exit 1 if not running)
#   hdfs.sh stop              stops both daemons, removes their directories
#   hdfs.sh stop-datanode     stops only the DataNode (fault tests)
#   hdfs.sh start-datanode    starts it again and waits until the NameNode sees it live
#   hdfs.sh stop-namenode     stops only the NameNode (fault tests; the DataNode keeps running)
#   hdfs.sh start-namenode    starts it again on the same ports and metadata, and waits until it
#                             answers WebHDFS, sees the DataNode live, has left safe mode and a
#                             CREATE + OPEN round trip works
#   hdfs.sh httpfs            starts an HttpFS gateway too (once); prints its HOST:PORT, also in
#                             $ECOM_SERVICES_DIR/httpfs.addr
#   hdfs.sh fs ARGS...        Hadoop's own FsShell against it (an independent client):
#                             hdfs.sh fs -ls -R /    hdfs.sh fs -cat /x    hdfs.sh fs -put - /y
#
# State lives in $ECOM_SERVICES_DIR/hdfs/ (tests/run.sh sets ECOM_SERVICES_DIR per run; by hand
# it defaults to /tmp/ecom-services-$UID). Every wait is bounded (ECOM_HDFS_TIMEOUT, default
# 120 s) and polls a real readiness condition: WebHDFS answers LISTSTATUS, the NameNode reports
# one live DataNode and is out of safe mode, and a CREATE + OPEN round trip returns the bytes.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
SVC=${ECOM_SERVICES_DIR:-/tmp/ecom-services-$(id -u)}
DIR=$SVC/hdfs
TIMEOUT=${ECOM_HDFS_TIMEOUT:-120}

die() { echo "hdfs.sh: $*" >&2; exit 1; }

classpath() { echo "$DIR/conf:$HOME_H/webroot:$HOME_H/libs/*"; }

# Free TCP ports on 127.0.0.1, chosen by the kernel (bind to port 0), n at once so they differ.
# free_ports, prop, hadoop_home (VER, HOME_H), hadoop_jopts (JOPTS), write_log4j
. "$(dirname "${BASH_SOURCE[0]}")/hdfs_lib.sh"
hadoop_home
hadoop_jopts 512m

write_conf() {
  local rpc=$1 http=$2 dnx=$3 dnh=$4 dni=$5
  mkdir -p "$DIR/conf"
  {
    echo '<configuration>'
    prop fs.defaultFS "hdfs://127.0.0.1:$rpc"
    prop hadoop.tmp.dir "$DIR/tmp"
    prop hadoop.security.authentication simple
    # HttpFS runs as this OS user and acts on behalf of the user.name of each request.
    prop "hadoop.proxyuser.$(id -un).hosts" '*'
    prop "hadoop.proxyuser.$(id -un).groups" '*'
    echo '</configuration>'
  } >"$DIR/conf/core-site.xml"
  {
    echo '<configuration>'
    prop dfs.replication 1
    prop dfs.namenode.name.dir "$DIR/name"
    prop dfs.datanode.data.dir "$DIR/data"
    prop dfs.namenode.rpc-address "127.0.0.1:$rpc"
    prop dfs.namenode.http-address "127.0.0.1:$http"
    prop dfs.namenode.https-address "127.0.0.1:0"
    prop dfs.namenode.secondary.http-address "127.0.0.1:0"
    prop dfs.datanode.address "127.0.0.1:$dnx"
    prop dfs.datanode.http.address "127.0.0.1:$dnh"
    prop dfs.datanode.ipc.address "127.0.0.1:$dni"
    # The NameNode's CREATE/OPEN redirects name the DataNode by this (not "localhost").
    prop dfs.datanode.hostname 127.0.0.1
    prop dfs.webhdfs.enabled true
    prop dfs.permissions.enabled false
    prop dfs.namenode.safemode.extension 0
    prop dfs.namenode.safemode.min.datanodes 0
    # Small, fast test cluster: heartbeats every second, a dead DataNode noticed quickly.
    prop dfs.heartbeat.interval 1
    prop dfs.namenode.heartbeat.recheck-interval 5000
    prop dfs.blocksize 8388608
    prop dfs.namenode.fs-limits.min-block-size 1048576
    # Extra properties "name=value ..." (bench/bench_hdfs.sh compares cluster settings).
    local kv
    for kv in ${ECOM_HDFS_CONF:-}; do prop "${kv%%=*}" "${kv#*=}"; done
    echo '</configuration>'
  } >"$DIR/conf/hdfs-site.xml"
  write_log4j "$DIR/conf/log4j.properties"
  echo "$http" >"$DIR/http.port"
  echo "$rpc" >"$DIR/rpc.port"
}

alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

start_daemon() {
  local name=$1 class=$2
  mkdir -p "$DIR/logs"
  # setsid: the daemon leaves the caller's process group, so a test's timeout does not kill it
  # half-way; stop kills it by its pid.
  setsid java "${JOPTS[@]}" -Dproc_$name -cp "$(classpath)" "$class" \
    >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
}

stop_daemon() {
  local name=$1 pid i
  alive "$name" || { rm -f "$DIR/$name.pid"; return 0; }
  pid=$(cat "$DIR/$name.pid")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$DIR/$name.pid"
}

http_addr() { echo "127.0.0.1:$(cat "$DIR/http.port")"; }

# JMX of the NameNode: number of live DataNodes, and whether it is out of safe mode.
live_datanodes() {
  curl -s --max-time 5 "http://$(http_addr)/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState" |
    sed -n 's/.*"NumLiveDataNodes" *: *\([0-9]*\).*/\1/p' | head -1
}
safemode_off() {
  curl -s --max-time 5 "http://$(http_addr)/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo" |
    grep -q '"Safemode" *: *""'
}

# Writes a marker through WebHDFS (NameNode redirect -> DataNode) and reads it back.
round_trip() {
  local a loc got
  a=$(http_addr)
  loc=$(curl -s --max-time 10 -o /dev/null -w '%{redirect_url}' -X PUT \
        "http://$a/webhdfs/v1/.ecom-ready?op=CREATE&overwrite=true&user.name=ecom") || return 1
  [ -n "$loc" ] || return 1
  printf 'ready' | curl -sf --max-time 10 -o /dev/null -X PUT -T - "$loc" || return 1
  got=$(curl -sfL --max-time 10 "http://$a/webhdfs/v1/.ecom-ready?op=OPEN&user.name=ecom") || return 1
  curl -s --max-time 10 -o /dev/null -X DELETE "http://$a/webhdfs/v1/.ecom-ready?op=DELETE&user.name=ecom"
  [ "$got" = ready ]
}

# wait_for WHAT CMD...: polls CMD every 0.25 s until it succeeds, a daemon dies, or TIMEOUT.
wait_for() {
  local what=$1; shift
  local deadline=$((SECONDS + TIMEOUT))
  while ! "$@" >/dev/null 2>&1; do
    for d in namenode datanode httpfs; do
      [ -f "$DIR/$d.pid" ] && ! alive "$d" && { tail -30 "$DIR/logs/$d.log" >&2; die "$d exited while waiting for $what"; }
    done
    [ $SECONDS -lt $deadline ] || { tail -20 "$DIR/logs/namenode.log" >&2; die "timed out after ${TIMEOUT}s waiting for $what"; }
    sleep 0.25
  done
}

listing_ok() { curl -sf --max-time 5 "http://$(http_addr)/webhdfs/v1/?op=LISTSTATUS&user.name=ecom" | grep -q FileStatuses; }
one_live_dn() { [ "$(live_datanodes)" -ge 1 ] 2>/dev/null; }
no_live_dn() { [ "$(live_datanodes)" = 0 ]; }

cmd_ensure() {
  if alive namenode && alive datanode && [ -f "$SVC/hdfs.addr" ] && listing_ok; then
    cat "$SVC/hdfs.addr"; return 0
  fi
  cmd_stop
  [ -f "$HOME_H/.stamp" ] || bash "$REPO/scripts/setup.d/hadoop.sh"
  [ -d "$HOME_H/libs" ] || die "Hadoop $VER jars missing in $HOME_H"
  local t0=$SECONDS
  mkdir -p "$DIR"
  # shellcheck disable=SC2046
  write_conf $(free_ports 5)
  java "${JOPTS[@]}" -cp "$(classpath)" org.apache.hadoop.hdfs.server.namenode.NameNode \
    -format -nonInteractive -force >"$DIR/logs-format.log" 2>&1 ||
    { tail -20 "$DIR/logs-format.log" >&2; die "namenode -format failed"; }
  start_daemon namenode org.apache.hadoop.hdfs.server.namenode.NameNode
  start_daemon datanode org.apache.hadoop.hdfs.server.datanode.DataNode
  wait_for "WebHDFS LISTSTATUS" listing_ok
  wait_for "one live DataNode" one_live_dn
  wait_for "safe mode off" safemode_off
  wait_for "a CREATE+OPEN round trip" round_trip
  http_addr >"$SVC/hdfs.addr"
  echo "hdfs://127.0.0.1:$(cat "$DIR/rpc.port")" >"$SVC/hdfs.rpc"
  echo "hdfs.sh: HDFS $VER up at $(http_addr) in $((SECONDS - t0))s" >&2
  cat "$SVC/hdfs.addr"
}

# HttpFS gateway (same REST API, no DataNode redirect) on a free port, for the httpfs:// mode.
cmd_httpfs() {
  alive namenode || die "not running (run: $0 ensure)"
  if alive httpfs && [ -f "$SVC/httpfs.addr" ]; then cat "$SVC/httpfs.addr"; return 0; fi
  local port
  port=$(free_ports 1)
  mkdir -p "$DIR/httpfs/tmp" "$DIR/httpfs/log"
  {
    echo '<configuration>'
    prop httpfs.http.hostname 127.0.0.1
    prop httpfs.http.port "$port"
    prop httpfs.hadoop.config.dir "$DIR/conf"
    echo '</configuration>'
  } >"$DIR/conf/httpfs-site.xml"
  setsid java "${JOPTS[@]}" -Dproc_httpfs -Dhttpfs.home.dir="$DIR/httpfs" -Dhttpfs.config.dir="$DIR/conf" \
    -Dhttpfs.log.dir="$DIR/httpfs/log" -Dhttpfs.temp.dir="$DIR/httpfs/tmp" -cp "$(classpath)" \
    org.apache.hadoop.fs.http.server.HttpFSServerWebServer >>"$DIR/logs/httpfs.log" 2>&1 </dev/null &
  echo $! >"$DIR/httpfs.pid"
  httpfs_ok() { curl -sf --max-time 5 "http://127.0.0.1:$port/webhdfs/v1/?op=LISTSTATUS&user.name=ecom" | grep -q FileStatuses; }
  wait_for "HttpFS LISTSTATUS" httpfs_ok
  echo "127.0.0.1:$port" >"$SVC/httpfs.addr"
  cat "$SVC/httpfs.addr"
}

cmd_stop() {
  stop_daemon httpfs
  rm -f "$SVC/httpfs.addr"
  stop_daemon datanode
  stop_daemon namenode
  rm -rf "$DIR" "$SVC/hdfs.addr" "$SVC/hdfs.rpc"
}

cmd_addr() {
  alive namenode && [ -f "$SVC/hdfs.addr" ] || die "not running (run: $0 ensure)"
  cat "$SVC/hdfs.addr"
}

cmd_stop_datanode() {
  alive namenode || die "not running"
  stop_daemon datanode
}

cmd_start_datanode() {
  alive namenode || die "not running"
  alive datanode && return 0
  start_daemon datanode org.apache.hadoop.hdfs.server.datanode.DataNode
  wait_for "one live DataNode" one_live_dn
  wait_for "a CREATE+OPEN round trip" round_trip
}

cmd_stop_namenode() {
  alive namenode || die "not running"
  stop_daemon namenode
}

# The restarted NameNode reads its fsimage + edit log, stays in safe mode until the DataNode has
# re-registered (it retries every heartbeat) and reported its blocks, then serves writes.
cmd_start_namenode() {
  [ -f "$DIR/http.port" ] || die "not set up (run: $0 ensure)"
  alive namenode && return 0
  start_daemon namenode org.apache.hadoop.hdfs.server.namenode.NameNode
  wait_for "WebHDFS LISTSTATUS" listing_ok
  wait_for "one live DataNode" one_live_dn
  wait_for "safe mode off" safemode_off
  wait_for "a CREATE+OPEN round trip" round_trip
}

cmd_fs() {
  alive namenode || die "not running (run: $0 ensure)"
  # FsShell talks Hadoop RPC to the NameNode and the data-transfer protocol to the DataNode:
  # a client independent of WebHDFS and of ecom. Logs at WARN so its stdout is only the answer.
  HADOOP_USER_NAME=${HADOOP_USER_NAME:-ecom} \
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dhadoop.root.logger=WARN,console \
    -cp "$(classpath)" org.apache.hadoop.fs.FsShell -fs "hdfs://127.0.0.1:$(cat "$DIR/rpc.port")" "$@"
}

case ${1:-} in
  ensure) cmd_ensure ;;
  stop) cmd_stop ;;
  addr) cmd_addr ;;
  stop-datanode) cmd_stop_datanode ;;
  start-datanode) cmd_start_datanode ;;
  stop-namenode) cmd_stop_namenode ;;
  start-namenode) cmd_start_namenode ;;
  fs) shift; cmd_fs "$@" ;;
  httpfs) cmd_httpfs ;;
  *) echo "usage: $0 ensure|stop|addr|stop-datanode|start-datanode|stop-namenode|start-namenode|httpfs|fs ARGS..." >&2; exit 2 ;;
esac
