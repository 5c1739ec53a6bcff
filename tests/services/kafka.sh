#!/usr/bin/env bash
# tests/services/kafka.sh — a real single-node Apache Kafka (KRaft: one process is both broker
# and controller), from the jars scripts/setup.d/kafka.sh fetched, on loopback, for the tests
# and benchmarks.
#
#   kafka.sh ensure     start it unless it is already up; prints its bootstrap address
#                       (127.0.0.1:PORT), also written to $ECOM_SERVICES_DIR/kafka.addr
#   kafka.sh addr       prints the address (exit 1 if not running)
#   kafka.sh env        prints the secured listeners' settings as shell assignments (below)
#   kafka.sh stop       stops it and removes its directory (data, logs, config)
#   kafka.sh stop-broker   stops the broker process only (SIGTERM, SIGKILL after 15 s; with
#                          ECOM_KAFKA_KILL=1 at once by SIGKILL), keeping its data, config and
#                          ports: an outage for fault tests
#   kafka.sh start-broker  starts that broker again on the same ports and data; returns once a
#                          metadata request is answered (prints the address)
#
# Besides PLAINTEXT, the broker has three secured listeners, each on its own port, with a CA, a
# broker certificate (127.0.0.1 / localhost) and a client certificate made at start (openssl),
# in $ECOM_SERVICES_DIR/kafka/tls:
#   SCRAM   SASL_SSL, SCRAM-SHA-512; the user is created by Kafka's own StorageTool (--add-scram)
#   PLAIN   SASL_SSL, PLAIN; the user is declared in the listener's JAAS config
#   MTLS    SSL with ssl.client.auth=required: the client must present a certificate of the CA
# $ECOM_SERVICES_DIR/kafka.env (and `kafka.sh env`) holds, for tests to source:
#   KAFKA_ADDR KAFKA_SCRAM_ADDR KAFKA_PLAIN_ADDR KAFKA_MTLS_ADDR       host:port of each listener
#   KAFKA_CA KAFKA_OTHER_CA    PEM of the broker's CA, and of an unrelated CA (untrusted-CA tests)
#   KAFKA_CLIENT_CERT KAFKA_CLIENT_KEY                                 PEM, signed by KAFKA_CA
#   KAFKA_OTHER_CLIENT_CERT KAFKA_OTHER_CLIENT_KEY                     PEM, signed by KAFKA_OTHER_CA
#   KAFKA_SCRAM_USER KAFKA_SCRAM_PASSWORD KAFKA_PLAIN_USER KAFKA_PLAIN_PASSWORD
#
# State lives in $ECOM_SERVICES_DIR/kafka/ (tests/run.sh sets ECOM_SERVICES_DIR per run; by hand
# it defaults to /tmp/ecom-services-$UID). Readiness is a real metadata round trip (kcat -L
# lists the broker), polled within a bound (ECOM_KAFKA_TIMEOUT, default 90 s), never a sleep.
# Topics are not created here: tests create what they need (`ecom broker --create-topics`).
# Heap: ECOM_KAFKA_HEAP (default 512m). ECOM_KAFKA_AUTO_CREATE=1: auto.create.topics.enable=true.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
SVC=${ECOM_SERVICES_DIR:-/tmp/ecom-services-$(id -u)}
DIR=$SVC/kafka
TIMEOUT=${ECOM_KAFKA_TIMEOUT:-90}
VER=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REPO/scripts/kafka/pom.xml")
LIBS=$ECOM_CACHE/kafka/$VER/libs
HEAP=${ECOM_KAFKA_HEAP:-512m}
# ECOM_KAFKA_AUTO_CREATE=1: the broker creates a topic a client asks for (for the tests of that
# case, in a services directory of their own); off by default, as in production.
AUTO_CREATE=$([ "${ECOM_KAFKA_AUTO_CREATE:-0}" = 1 ] && echo true || echo false)

die() { echo "kafka.sh: $*" >&2; exit 1; }

# Five free TCP ports on 127.0.0.1 (PLAINTEXT, controller, SCRAM, PLAIN, MTLS), chosen by the kernel.
free_ports() {
  python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
}

# Test credentials: no ';' (ECOM_KAFKA_CONF's separator), ',' ']' '=' (--add-scram's syntax) or '"'
# (JAAS quoting); a few other punctuation characters on purpose.
SCRAM_USER=ecom-scram SCRAM_PASSWORD='scram-Pw.1!x'
PLAIN_USER=ecom-plain PLAIN_PASSWORD='plain-Pw.2@y'
P12_PASSWORD=ecom-keystore

# CA, broker and client certificates, and an unrelated CA, made fresh for every broker start.
make_tls() {
  local t=$DIR/tls
  mkdir -p "$t"
  (
    cd "$t"
    o() { openssl "$@" 2>>openssl.log; }
    o req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ecom-test-ca -keyout ca.key -out ca.pem
    o req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ecom-other-ca -keyout other-ca.key -out other-ca.pem
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >broker.ext
    o req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout broker.key -out broker.csr
    o x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile broker.ext -out broker.pem
    o pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -passout "pass:$P12_PASSWORD" -out broker.p12
    o req -newkey rsa:2048 -nodes -subj /CN=ecom-client -keyout client.key -out client.csr
    o x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem
    o req -newkey rsa:2048 -nodes -subj /CN=ecom-stranger -keyout other-client.key -out other-client.csr
    o x509 -req -in other-client.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -days 2 \
      -out other-client.pem
  ) || { tail -20 "$t/openssl.log" >&2; die "certificate generation failed"; }
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
  local port=$1 cport=$2 sport=$3 pport=$4 mport=$5 t=$DIR/tls
  mkdir -p "$DIR/data" "$DIR/logs"
  cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SCRAM://127.0.0.1:$sport,PLAIN://127.0.0.1:$pport,MTLS://127.0.0.1:$mport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SCRAM://127.0.0.1:$sport,PLAIN://127.0.0.1:$pport,MTLS://127.0.0.1:$mport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SCRAM:SASL_SSL,PLAIN:SASL_SSL,MTLS:SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=$t/broker.p12
ssl.keystore.password=$P12_PASSWORD
ssl.truststore.type=PEM
ssl.truststore.location=$t/ca.pem
listener.name.scram.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.scram.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.plain.sasl.enabled.mechanisms=PLAIN
listener.name.plain.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$PLAIN_USER="$PLAIN_PASSWORD";
listener.name.mtls.ssl.client.auth=required
log.dirs=$DIR/data
num.partitions=3
auto.create.topics.enable=$AUTO_CREATE
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
  cat >"$DIR/env" <<EOF
KAFKA_ADDR=127.0.0.1:$port
KAFKA_SCRAM_ADDR=127.0.0.1:$sport
KAFKA_PLAIN_ADDR=127.0.0.1:$pport
KAFKA_MTLS_ADDR=127.0.0.1:$mport
KAFKA_CA=$t/ca.pem
KAFKA_OTHER_CA=$t/other-ca.pem
KAFKA_CLIENT_CERT=$t/client.pem
KAFKA_CLIENT_KEY=$t/client.key
KAFKA_OTHER_CLIENT_CERT=$t/other-client.pem
KAFKA_OTHER_CLIENT_KEY=$t/other-client.key
KAFKA_SCRAM_USER=$SCRAM_USER
KAFKA_SCRAM_PASSWORD='$SCRAM_PASSWORD'
KAFKA_PLAIN_USER=$PLAIN_USER
KAFKA_PLAIN_PASSWORD='$PLAIN_PASSWORD'
EOF
}

JOPTS=(-Xmx"$HEAP" -Xms"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true)

alive() { [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; }
addr() { echo "127.0.0.1:$(cat "$DIR/port")"; }

# Ready = a metadata request answered with this broker in it.
metadata_ok() { timeout 10 kcat -L -b "$(addr)" -m 3 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$(cat "$DIR/port")"; }

# Starts the JVM on the formatted data dir and waits for a metadata answer (bounded).
launch() {
  # setsid: the broker leaves the caller's process group, so a test's timeout does not kill it
  # half-way; stop kills it by its pid.
  setsid java "${JOPTS[@]}" -Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIBS/*" \
    kafka.Kafka "$DIR/server.properties" >>"$DIR/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$DIR/pid"
  local deadline=$((SECONDS + TIMEOUT))
  until metadata_ok; do
    alive || { tail -30 "$DIR/logs/server.log" "$DIR/logs/stdout.log" >&2 2>/dev/null; die "broker exited while starting"; }
    [ $SECONDS -lt $deadline ] || { tail -20 "$DIR/logs/server.log" >&2; die "no metadata answer within ${TIMEOUT}s"; }
    sleep 0.25
  done
}

# Ends the broker process (bounded), leaving its directory.
kill_broker() {
  alive || return 0
  local pid i
  pid=$(cat "$DIR/pid")
  [ "${ECOM_KAFKA_KILL:-0}" = 1 ] || kill "$pid" 2>/dev/null || true
  for i in $(seq 150); do [ "${ECOM_KAFKA_KILL:-0}" = 1 ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

cmd_stop_broker() {
  [ -f "$DIR/server.properties" ] || die "not running (run: $0 ensure)"
  kill_broker
}

cmd_start_broker() {
  [ -f "$DIR/server.properties" ] || die "no broker to restart (run: $0 ensure)"
  alive && metadata_ok && { addr; return 0; }
  launch
  addr
}

cmd_ensure() {
  if alive && [ -f "$SVC/kafka.addr" ] && metadata_ok; then
    cat "$SVC/kafka.addr"; return 0
  fi
  cmd_stop
  [ -d "$LIBS" ] || bash "$REPO/scripts/setup.d/kafka.sh"
  [ -d "$LIBS" ] || die "Kafka $VER jars missing in $LIBS"
  command -v kcat >/dev/null || die "kcat not found (scripts/setup.sh installs it)"
  local t0=$SECONDS
  make_tls
  # shellcheck disable=SC2046
  write_conf $(free_ports)
  # The SCRAM user is made by Kafka's own tool, as an operator would on a KRaft cluster.
  java "${JOPTS[@]}" -Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIBS/*" \
    kafka.tools.StorageTool format -t "$(cluster_id)" -c "$DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" \
    >"$DIR/logs/format.log" 2>&1 || { tail -20 "$DIR/logs/format.log" >&2; die "storage format failed"; }
  launch
  cp "$DIR/env" "$SVC/kafka.env"
  addr >"$SVC/kafka.addr"
  echo "kafka.sh: Kafka $VER up at $(addr) in $((SECONDS - t0))s" >&2
  cat "$SVC/kafka.addr"
}

cmd_stop() {
  kill_broker
  rm -rf "$DIR" "$SVC/kafka.addr" "$SVC/kafka.env"
}

cmd_env() {
  alive && [ -f "$SVC/kafka.env" ] || die "not running (run: $0 ensure)"
  cat "$SVC/kafka.env"
}

cmd_addr() {
  alive && [ -f "$SVC/kafka.addr" ] || die "not running (run: $0 ensure)"
  cat "$SVC/kafka.addr"
}

case ${1:-} in
  ensure) cmd_ensure ;;
  stop) cmd_stop ;;
  stop-broker) cmd_stop_broker ;;
  start-broker) cmd_start_broker ;;
  addr) cmd_addr ;;
  env) cmd_env ;;
  *) echo "usage: $0 ensure|stop|stop-broker|start-broker|addr|env" >&2; exit 2 ;;
esac
