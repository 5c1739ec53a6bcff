#!/usr/bin/env bash
# tests/services/kafka.sh — a real single-node Apache Kafka (KRaft: one process is both broker
# and controller), from the jars scripts/setup.d/kafka.sh fetched, on loopback, for the tests
# and benchmarks.
#
#   kafka.sh ensure     start it unless it is already up; prints its bootstrap address
#                       (127.0.0.1:PORT), also written to $ECOM_SERVICES_DIR/kafka.addr
#   kafka.sh addr       prints the address (exit 1 if not running)
#   kafka.sh stop       stops it and removes its directory (data, logs, config)
#
# State lives in $ECOM_SERVICES_DIR/kafka/ (tests/run.sh sets ECOM_SERVICES_DIR per run; by hand
# it defaults to /tmp/ecom-services-$UID). Readiness is a real metadata round trip (kcat -L
# lists the broker), polled within a bound (ECOM_KAFKA_TIMEOUT, default 90 s), never a sleep.
# Topics are not created here: tests create what they need (`ecom broker --create-topics`).
# Heap: ECOM_KAFKA_HEAP (default 512m).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
SVC=${ECOM_SERVICES_DIR:-/tmp/ecom-services-$(id -u)}
DIR=$SVC/kafka
TIMEOUT=${ECOM_KAFKA_TIMEOUT:-90}
VER=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REPO/scripts/kafka/pom.xml")
LIBS=$ECOM_CACHE/kafka/$VER/libs
HEAP=${ECOM_KAFKA_HEAP:-512m}

die() { echo "kafka.sh: $*" >&2; exit 1; }

# Two free TCP ports on 127.0.0.1 (broker, controller), chosen by the kernel.
free_ports() {
  python3 - <<'PY'
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])
PY
}

# A KRaft cluster id: 16 random bytes, base64url without padding (what StorageTool random-uuid
# prints), made here to save a JVM start. Never one starting with '-' (Kafka's Uuid.randomUuid
# avoids them too): StorageTool's argument parser takes it for an option and the format fails.
cluster_id() {
  python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break'
}

write_conf() {
  local port=$1 cport=$2
  mkdir -p "$DIR/data" "$DIR/logs"
  cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=1
EOF
  # Quiet: warnings and errors only, into the log file (stdout/stderr go there too).
  cat >"$DIR/log4j2.properties" <<EOF
rootLogger.level=WARN
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=$DIR/logs/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=%d %p %c{1}: %m%n
logger.kafka.name=kafka
logger.kafka.level=WARN
logger.started.name=kafka.server.KafkaRaftServer
logger.started.level=INFO
EOF
  echo "$port" >"$DIR/port"
}

JOPTS=(-Xmx"$HEAP" -Xms"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true)

alive() { [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; }
addr() { echo "127.0.0.1:$(cat "$DIR/port")"; }

# Ready = a metadata request answered with this broker in it.
metadata_ok() { timeout 10 kcat -L -b "$(addr)" -m 3 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$(cat "$DIR/port")"; }

cmd_ensure() {
  if alive && [ -f "$SVC/kafka.addr" ] && metadata_ok; then
    cat "$SVC/kafka.addr"; return 0
  fi
  cmd_stop
  [ -d "$LIBS" ] || bash "$REPO/scripts/setup.d/kafka.sh"
  [ -d "$LIBS" ] || die "Kafka $VER jars missing in $LIBS"
  command -v kcat >/dev/null || die "kcat not found (scripts/setup.sh installs it)"
  local t0=$SECONDS
  # shellcheck disable=SC2046
  write_conf $(free_ports)
  java "${JOPTS[@]}" -Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIBS/*" \
    kafka.tools.StorageTool format -t "$(cluster_id)" -c "$DIR/server.properties" \
    >"$DIR/logs/format.log" 2>&1 || { tail -20 "$DIR/logs/format.log" >&2; die "storage format failed"; }
  # setsid: the broker leaves the caller's process group, so a test's timeout does not kill it
  # half-way; stop kills it by its pid.
  setsid java "${JOPTS[@]}" -Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIBS/*" \
    kafka.Kafka "$DIR/server.properties" >"$DIR/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$DIR/pid"
  local deadline=$((SECONDS + TIMEOUT))
  until metadata_ok; do
    alive || { tail -30 "$DIR/logs/server.log" "$DIR/logs/stdout.log" >&2 2>/dev/null; die "broker exited while starting"; }
    [ $SECONDS -lt $deadline ] || { tail -20 "$DIR/logs/server.log" >&2; die "no metadata answer within ${TIMEOUT}s"; }
    sleep 0.25
  done
  addr >"$SVC/kafka.addr"
  echo "kafka.sh: Kafka $VER up at $(addr) in $((SECONDS - t0))s" >&2
  cat "$SVC/kafka.addr"
}

cmd_stop() {
  if alive; then
    local pid i
    pid=$(cat "$DIR/pid")
    kill "$pid" 2>/dev/null || true
    for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$DIR" "$SVC/kafka.addr"
}

cmd_addr() {
  alive && [ -f "$SVC/kafka.addr" ] || die "not running (run: $0 ensure)"
  cat "$SVC/kafka.addr"
}

case ${1:-} in
  ensure) cmd_ensure ;;
  stop) cmd_stop ;;
  addr) cmd_addr ;;
  *) echo "usage: $0 ensure|stop|addr" >&2; exit 2 ;;
esac
