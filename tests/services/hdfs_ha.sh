#!/usr/bin/env bash
# tests/services/hdfs_ha.sh — a real HA HDFS on loopback for the failover tests: nameservice
# "ecomns" with two NameNodes (nn1, nn2) sharing their edit log through one JournalNode, one
# DataNode, manual failover (Hadoop's own `hdfs haadmin`, i.e. DFSHAAdmin). From the jars
# scripts/setup.d/hadoop.sh fetched, like tests/services/hdfs.sh.
#
#   hdfs_ha.sh ensure          start it unless up; prints the two WebHDFS addresses
#                              "HOST:PORT,HOST:PORT" (nn1 first; also in $ECOM_SERVICES_DIR/hdfs_ha.addr)
#                              with nn1 active and nn2 standby
#   hdfs_ha.sh stop            stops every daemon, removes the state
#   hdfs_ha.sh haadmin ARGS    DFSHAAdmin: -failover nn1 nn2, -transitionToActive nn1, -getServiceState nn2
#   hdfs_ha.sh active          prints the id of the active NameNode (nn1 or nn2), by JMX
#   hdfs_ha.sh stop-nn ID      kills NameNode ID (nn1 or nn2)
#   hdfs_ha.sh start-nn ID     starts it again (as standby) and waits until it answers JMX
#   hdfs_ha.sh fs ARGS...      FsShell against hdfs://ecomns (the HA client fails over itself)
#
# State in $ECOM_SERVICES_DIR/hdfs_ha/. Every wait is bounded (ECOM_HDFS_TIMEOUT, default 180 s)
# and polls a real condition; readiness is a CREATE + OPEN round trip through the active
# NameNode and a StandbyException from the standby one.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
SVC=${ECOM_SERVICES_DIR:-/tmp/ecom-services-$(id -u)}
DIR=$SVC/hdfs_ha
TIMEOUT=${ECOM_HDFS_TIMEOUT:-180}
TOOL_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dhadoop.root.logger=WARN,console)

die() { echo "hdfs_ha.sh: $*" >&2; exit 1; }

# free_ports, prop, hadoop_home (VER, HOME_H), hadoop_jopts (JOPTS), write_log4j
. "$(dirname "${BASH_SOURCE[0]}")/hdfs_lib.sh"
hadoop_home
hadoop_jopts 384m

# One conf dir per daemon role: both NameNodes run on 127.0.0.1, so each must be told which of
# the nameservice's NameNodes it is (dfs.ha.namenode.id); the others use "client".
write_conf() {
  local role=$1 nn1r=$2 nn1h=$3 nn2r=$4 nn2h=$5 jnr=$6 jnh=$7 dnx=$8 dnh=$9 dni=${10}
  local c=$DIR/conf-$role
  mkdir -p "$c"
  {
    echo '<configuration>'
    prop fs.defaultFS hdfs://ecomns
    prop hadoop.tmp.dir "$DIR/tmp-$role"
    prop hadoop.security.authentication simple
    echo '</configuration>'
  } >"$c/core-site.xml"
  {
    echo '<configuration>'
    prop dfs.nameservices ecomns
    prop dfs.ha.namenodes.ecomns nn1,nn2
    case $role in nn1|nn2) prop dfs.ha.namenode.id "$role" ;; esac
    prop dfs.namenode.rpc-address.ecomns.nn1 "127.0.0.1:$nn1r"
    prop dfs.namenode.rpc-address.ecomns.nn2 "127.0.0.1:$nn2r"
    prop dfs.namenode.http-address.ecomns.nn1 "127.0.0.1:$nn1h"
    prop dfs.namenode.http-address.ecomns.nn2 "127.0.0.1:$nn2h"
    prop dfs.namenode.https-address.ecomns.nn1 127.0.0.1:0
    prop dfs.namenode.https-address.ecomns.nn2 127.0.0.1:0
    prop dfs.namenode.shared.edits.dir "qjournal://127.0.0.1:$jnr/ecomns"
    prop dfs.journalnode.rpc-address "127.0.0.1:$jnr"
    prop dfs.journalnode.http-address "127.0.0.1:$jnh"
    prop dfs.journalnode.https-address 127.0.0.1:0
    prop dfs.journalnode.edits.dir "$DIR/jn"
    prop dfs.client.failover.proxy.provider.ecomns \
      org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider
    prop dfs.ha.fencing.methods 'shell(/bin/true)'
    prop dfs.ha.automatic-failover.enabled false
    # The standby tails the shared edits often, so a failover finds it up to date quickly.
    prop dfs.ha.tail-edits.period 1s
    prop dfs.ha.log-roll.period 10s
    prop dfs.namenode.name.dir "$DIR/name-$role"
    prop dfs.replication 1
    prop dfs.datanode.data.dir "$DIR/data"
    prop dfs.datanode.address "127.0.0.1:$dnx"
    prop dfs.datanode.http.address "127.0.0.1:$dnh"
    prop dfs.datanode.ipc.address "127.0.0.1:$dni"
    prop dfs.datanode.hostname 127.0.0.1
    prop dfs.webhdfs.enabled true
    prop dfs.permissions.enabled false
    prop dfs.namenode.safemode.extension 0
    prop dfs.namenode.safemode.min.datanodes 0
    prop dfs.heartbeat.interval 1
    prop dfs.namenode.heartbeat.recheck-interval 5000
    prop dfs.blocksize 8388608
    prop dfs.namenode.fs-limits.min-block-size 1048576
    echo '</configuration>'
  } >"$c/hdfs-site.xml"
  write_log4j "$c/log4j.properties"
}

cp_of() { echo "$DIR/conf-$1:$HOME_H/webroot:$HOME_H/libs/*"; }
alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }
http_of() { sed -n "${1#nn}p" "$DIR/http.ports"; }

start_daemon() {
  local name=$1 role=$2 class=$3
  mkdir -p "$DIR/logs"
  setsid java "${JOPTS[@]}" -Dproc_$name -cp "$(cp_of "$role")" "$class" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
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

wait_for() {
  local what=$1; shift
  local deadline=$((SECONDS + TIMEOUT)) d
  while ! "$@" >/dev/null 2>&1; do
    for d in journalnode nn1 nn2 datanode; do
      [ -f "$DIR/$d.pid" ] && ! alive "$d" && { tail -30 "$DIR/logs/$d.log" >&2; die "$d exited while waiting for $what"; }
    done
    [ $SECONDS -lt $deadline ] || die "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.25
  done
}

# HA state of NameNode ID by its JMX ("active" / "standby").
nn_state() {
  curl -s --max-time 5 "http://127.0.0.1:$(http_of "$1")/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus" |
    sed -n 's/.*"State" *: *"\([a-z]*\)".*/\1/p' | head -1
}
is_state() { [ "$(nn_state "$1")" = "$2" ]; }
jn_up() { curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$(cat "$DIR/jn.http")/jmx"; }
live_dn_on() {
  local n
  n=$(curl -s --max-time 5 "http://127.0.0.1:$(http_of "$1")/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState" |
      sed -n 's/.*"NumLiveDataNodes" *: *\([0-9]*\).*/\1/p' | head -1)
  [ "${n:-0}" -ge 1 ]
}

# CREATE + OPEN through NameNode ID's WebHDFS (it must be the active one).
round_trip() {
  local a loc got
  a=127.0.0.1:$(http_of "$1")
  loc=$(curl -s --max-time 10 -o /dev/null -w '%{redirect_url}' -X PUT \
        "http://$a/webhdfs/v1/.ecom-ready?op=CREATE&overwrite=true&user.name=ecom") || return 1
  [ -n "$loc" ] || return 1
  printf 'ready' | curl -sf --max-time 10 -o /dev/null -X PUT -T - "$loc" || return 1
  got=$(curl -sfL --max-time 10 "http://$a/webhdfs/v1/.ecom-ready?op=OPEN&user.name=ecom") || return 1
  [ "$got" = ready ]
}
standby_refuses() {
  curl -s --max-time 5 "http://127.0.0.1:$(http_of "$1")/webhdfs/v1/?op=LISTSTATUS&user.name=ecom" |
    grep -q StandbyException
}

haadmin() {
  java "${TOOL_OPTS[@]}" -cp "$(cp_of client)" org.apache.hadoop.hdfs.tools.DFSHAAdmin "$@"
}

cmd_ensure() {
  if alive nn1 && alive nn2 && alive datanode && [ -f "$SVC/hdfs_ha.addr" ]; then cat "$SVC/hdfs_ha.addr"; return 0; fi
  cmd_stop
  [ -f "$HOME_H/.stamp" ] || bash "$REPO/scripts/setup.d/hadoop.sh"
  [ -d "$HOME_H/libs" ] || die "Hadoop $VER jars missing in $HOME_H"
  local t0=$SECONDS p role
  mkdir -p "$DIR/logs"
  read -r -a p <<<"$(free_ports 9)"
  for role in nn1 nn2 client; do write_conf "$role" "${p[@]}"; done
  printf '%s\n%s\n' "${p[1]}" "${p[3]}" >"$DIR/http.ports"
  echo "${p[5]}" >"$DIR/jn.http"
  start_daemon journalnode client org.apache.hadoop.hdfs.qjournal.server.JournalNode
  wait_for "the JournalNode" jn_up
  java "${JOPTS[@]}" -cp "$(cp_of nn1)" org.apache.hadoop.hdfs.server.namenode.NameNode -format -nonInteractive -force \
    >"$DIR/logs/format-nn1.log" 2>&1 || { tail -20 "$DIR/logs/format-nn1.log" >&2; die "nn1 -format failed"; }
  start_daemon nn1 nn1 org.apache.hadoop.hdfs.server.namenode.NameNode
  wait_for "nn1 JMX" is_state nn1 standby
  java "${JOPTS[@]}" -cp "$(cp_of nn2)" org.apache.hadoop.hdfs.server.namenode.NameNode -bootstrapStandby \
    -nonInteractive -force >"$DIR/logs/bootstrap-nn2.log" 2>&1 ||
    { tail -20 "$DIR/logs/bootstrap-nn2.log" >&2; die "nn2 -bootstrapStandby failed"; }
  start_daemon nn2 nn2 org.apache.hadoop.hdfs.server.namenode.NameNode
  wait_for "nn2 JMX" is_state nn2 standby
  haadmin -transitionToActive nn1 >"$DIR/logs/haadmin.log" 2>&1 || { cat "$DIR/logs/haadmin.log" >&2; die "haadmin -transitionToActive nn1"; }
  start_daemon datanode client org.apache.hadoop.hdfs.server.datanode.DataNode
  wait_for "nn1 active" is_state nn1 active
  wait_for "a live DataNode on nn1" live_dn_on nn1
  wait_for "a live DataNode on nn2" live_dn_on nn2
  wait_for "a CREATE+OPEN round trip through nn1" round_trip nn1
  wait_for "a StandbyException from nn2" standby_refuses nn2
  echo "127.0.0.1:$(http_of nn1),127.0.0.1:$(http_of nn2)" >"$SVC/hdfs_ha.addr"
  echo "hdfs_ha.sh: HA HDFS $VER (nn1 active, nn2 standby, 1 JournalNode) up in $((SECONDS - t0))s" >&2
  cat "$SVC/hdfs_ha.addr"
}

cmd_stop() {
  for d in datanode nn2 nn1 journalnode; do stop_daemon "$d"; done
  rm -rf "$DIR" "$SVC/hdfs_ha.addr"
}

cmd_active() {
  local id
  for id in nn1 nn2; do alive "$id" && is_state "$id" active && { echo "$id"; return 0; }; done
  die "no active NameNode"
}

cmd_stop_nn() { case ${1:-} in nn1|nn2) stop_daemon "$1" ;; *) die "stop-nn nn1|nn2" ;; esac; }

cmd_start_nn() {
  case ${1:-} in nn1|nn2) ;; *) die "start-nn nn1|nn2" ;; esac
  alive "$1" && return 0
  start_daemon "$1" "$1" org.apache.hadoop.hdfs.server.namenode.NameNode
  wait_for "$1 standby" is_state "$1" standby
}

cmd_fs() {
  HADOOP_USER_NAME=${HADOOP_USER_NAME:-ecom} java "${TOOL_OPTS[@]}" -cp "$(cp_of client)" org.apache.hadoop.fs.FsShell "$@"
}

case ${1:-} in
  ensure) cmd_ensure ;;
  stop) cmd_stop ;;
  haadmin) shift; haadmin "$@" ;;
  active) cmd_active ;;
  stop-nn) cmd_stop_nn "${2:-}" ;;
  start-nn) cmd_start_nn "${2:-}" ;;
  fs) shift; cmd_fs "$@" ;;
  *) echo "usage: $0 ensure|stop|haadmin ARGS|active|stop-nn ID|start-nn ID|fs ARGS" >&2; exit 2 ;;
esac
