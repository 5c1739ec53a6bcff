# `ecom broker`: the embedded in-memory broker. It starts, prints and writes its address, serves
# the three topics with --partitions each to an independent client (kcat), and exits 0 on SIGTERM
# removing its address file. Also bad usage.
. "$(dirname "$0")/lib.sh"

BPID=
# start_broker ADDR_FILE [FLAGS...]: starts it in the background, waits (bounded) for the file.
start_broker() {
  local f=$1; shift
  "$ECOM" broker --addr-file "$f" "$@" >"$TEST_TMP/broker.out" 2>"$TEST_TMP/broker.err" &
  BPID=$!
  for _ in $(seq 100); do
    [ -s "$f" ] && return 0
    kill -0 $BPID 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
stop_broker() {
  [ -n "$BPID" ] || return 0
  kill -TERM $BPID 2>/dev/null
  local rc=0
  wait $BPID || rc=$?
  BPID=
  return $rc
}
trap 'stop_broker' EXIT

broker_serves_topics() {
  local f=$TEST_TMP/a/b/broker.addr
  start_broker "$f" --partitions 4 || { fail "broker did not write $f: $(cat "$TEST_TMP/broker.err")"; return; }
  local addr; addr=$(cat "$f")
  [[ $addr =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "address '$addr'"
  expect_eq "$(head -1 "$TEST_TMP/broker.out")" "$addr" "printed address"
  local md; md=$(timeout 10 kcat -L -b "$addr" -m 5)
  for t in page_views cart_events orders; do
    expect_contains "$md" "topic \"$t\" with 4 partitions"
  done
  # Round trip through an independent client: keyed messages in, the same messages out.
  seq 1 500 | awk '{printf "U%03d:{\"n\":%d}\n", $1 % 37, $1}' | timeout 10 kcat -P -b "$addr" -t orders -K: || fail "kcat produce"
  local n; n=$(timeout 10 kcat -C -b "$addr" -t orders -e -q -f '%k %s\n' | sort -u | wc -l)
  expect_eq "$n" 500 "messages read back"
  stop_broker || fail "broker exit code on SIGTERM: $?"
  [ -e "$f" ] && fail "address file left behind"
  expect_contains "$(cat "$TEST_TMP/broker.err")" "in memory only"
}

# The env var names the default address file (what gen/stream read without --brokers).
broker_default_file() {
  export ECOM_BROKER_FILE=$TEST_TMP/default.addr
  start_broker "$ECOM_BROKER_FILE" --quiet || { fail "no address file"; return; }
  local addr; addr=$(cat "$ECOM_BROKER_FILE")
  expect_contains "$(timeout 10 kcat -L -b "$addr" -m 5 -t orders)" 'topic "orders" with 3 partitions'
  stop_broker || fail "broker exit code"
  # Other topic names (what gen's --topic-* flags point at).
  start_broker "$ECOM_BROKER_FILE" --quiet --topics v1,c1,o1 --partitions 2 || { fail "no address file"; return; }
  addr=$(cat "$ECOM_BROKER_FILE")
  local md; md=$(timeout 10 kcat -L -b "$addr" -m 5)
  for t in v1 c1 o1; do expect_contains "$md" "topic \"$t\" with 2 partitions"; done
  # (--create-topics needs a real cluster's controller, which the mock lacks: test_kafka_real.sh)
  stop_broker || fail "broker exit code"
  [ -e "$ECOM_BROKER_FILE" ] && fail "default address file left behind"
  unset ECOM_BROKER_FILE
}

broker_usage_errors() {
  expect_rc 0 "$ECOM" broker --help
  expect_rc 2 "$ECOM" broker --partitions 0
  expect_contains "$LAST_ERR" "ecom broker:"
  expect_rc 2 "$ECOM" broker --bogus
  expect_rc 2 "$ECOM" broker --create-topics
  expect_contains "$LAST_ERR" "needs --brokers"
  expect_rc 2 "$ECOM" broker --topics a,b
  expect_contains "$LAST_ERR" "three comma-separated names"
  local t0=$SECONDS
  expect_rc 1 "$ECOM" broker --create-topics --brokers 127.0.0.1:1 --timeout 2s
  expect_contains "$LAST_ERR" "no Kafka broker answered at 127.0.0.1:1"
  expect_le $((SECONDS - t0)) 5 "seconds to give up on an unreachable broker"
}

case_run broker_serves_topics
case_run broker_default_file
case_run broker_usage_errors
suite_end
