# --config FILE, -X, $ECOM_KAFKA_CONF and secrets, end to end through the real binary and the
# embedded broker: each precedence pair (flag > env > file) reaches librdkafka, a password with
# ';' works, and a known secret never appears in any output (stderr, --help, /status, /metrics).
. "$(dirname "$0")/lib.sh"

BPID=
ADDR=
start_broker() {
  local f=$TEST_TMP/broker.addr
  "$ECOM" broker --addr-file "$f" --quiet >/dev/null 2>"$TEST_TMP/broker.err" &
  BPID=$!
  for _ in $(seq 100); do
    [ -s "$f" ] && { ADDR=$(cat "$f"); return 0; }
    kill -0 $BPID 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
trap '[ -n "$BPID" ] && kill -TERM $BPID 2>/dev/null; wait' EXIT
start_broker || { echo "FAIL broker did not start: $(cat "$TEST_TMP/broker.err")"; exit 1; }
unset ECOM_KAFKA_CONF ECOM_CONFIG ECOM_DASH_TOKEN
GEN=(--brokers "$ADDR" --count 20 --start 2026-11-25T00:00:00Z --seed 1 --quiet --timeout 5s)

# The defect of issue 12: a ';' inside a value was a separator ("bad Kafka setting 'ss'").
kafka_conf_semicolon() {
  ECOM_KAFKA_CONF='client.id=cfgtest;sasl.password=pa;ss' expect_rc 0 "$ECOM" gen "${GEN[@]}"
  ECOM_KAFKA_CONF='nonsense;client.id=cfgtest' expect_rc 2 "$ECOM" gen "${GEN[@]}"
  expect_contains "$LAST_ERR" "ecom gen: \$ECOM_KAFKA_CONF: setting 1 is not name=value"
}

# acks=bogus is refused by librdkafka: which source wins shows in the exit code.
kafka_precedence() {
  local bad=$TEST_TMP/bad.conf good=$TEST_TMP/good.conf
  printf '[kafka]\nacks = bogus\n' >"$bad"
  printf 'kafka.acks = all\n' >"$good"
  expect_rc 1 "$ECOM" gen "${GEN[@]}" --config "$bad"
  expect_contains "$LAST_ERR" "Kafka setting acks=bogus"
  expect_rc 0 "$ECOM" gen "${GEN[@]}" --config "$bad" -X acks=all               # flag > file
  ECOM_KAFKA_CONF=acks=all expect_rc 0 "$ECOM" gen "${GEN[@]}" --config "$bad"   # env > file
  ECOM_KAFKA_CONF=acks=bogus expect_rc 1 "$ECOM" gen "${GEN[@]}" --config "$good"
  ECOM_KAFKA_CONF=acks=bogus expect_rc 0 "$ECOM" gen "${GEN[@]}" -X acks=all      # flag > env
  # (the embedded broker has no CreateTopics: only the settings' path is checked here)
  expect_rc 1 "$ECOM" stream --brokers "$ADDR" --out "$TEST_TMP/sl" --quiet -X fetch.wait.max.ms=bogus
  expect_contains "$LAST_ERR" "Kafka setting fetch.wait.max.ms=bogus"
  expect_rc 1 "$ECOM" run --brokers "$ADDR" --out "$TEST_TMP/rl" --listen 127.0.0.1:0 --quiet -X acks=bogus
  expect_contains "$LAST_ERR" "Kafka setting acks=bogus"
  expect_rc 1 "$ECOM" broker --create-topics --brokers "$ADDR" --quiet -X socket.timeout.ms=bogus
  expect_contains "$LAST_ERR" "socket.timeout.ms"
}

# Flag names as keys, [gen] for gen only, errors with the file's line number.
config_flags() {
  local c=$TEST_TMP/gen.conf out=$TEST_TMP/ev.ndjson
  printf '# events for the test\ncount = 3\nstart = 2026-11-25T00:00:00Z\n[gen]\nout = %s\ncount = 7\nquiet = true\n[stream]\nnot-a-gen-flag = 1\n' "$out" >"$c"
  expect_rc 0 "$ECOM" gen --config "$c" --seed 1
  expect_eq "$(wc -l <"$out")" 7 "lines from [gen] count = 7"
  expect_rc 0 "$ECOM" gen --config "$c" --seed 1 --count 2
  expect_eq "$(wc -l <"$out")" 2 "lines with --count 2 over the file"
  printf '[gen]\nout = x\n\ncunt = 7\n' >"$c"
  expect_rc 2 "$ECOM" gen --config "$c"
  expect_contains "$LAST_ERR" "ecom gen: $c:4: unknown key 'gen.cunt' for this command"
  printf 'commit-interval = soon\n' >"$c"
  expect_rc 2 "$ECOM" stream --config "$c" --input /dev/null --out "$TEST_TMP/l"
  expect_contains "$LAST_ERR" "$c:1: invalid value 'soon' for --commit-interval"
  expect_rc 2 "$ECOM" dash --config "$TEST_TMP/missing.conf" --data x
  expect_contains "$LAST_ERR" "config file $TEST_TMP/missing.conf"
  expect_contains "$("$ECOM" schema --help)" "--config FILE"
  expect_contains "$("$ECOM" gen --help)" "-X, --kafka NAME=VAL"
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A known secret, given in every way a secret can be, never shows in what ecom prints.
secrets_redacted() {
  local secret='Zq9;#s3cr3t "x"' pw=$TEST_TMP/pw all=$TEST_TMP/outputs c=$TEST_TMP/s.conf
  local token=Tok-s3cr3t.XYZ_123 tf=$TEST_TMP/token   # a dashboard token has a narrower alphabet
  printf '%s\n' "$secret" >"$pw"
  printf '%s\n' "$token" >"$tf"
  printf '[kafka]\nsasl.password = @%s\nssl.key.password = @%s\n[dash]\nauth-token = @%s\n' "$pw" "$pw" "$tf" >"$c"
  : >"$all"
  { "$ECOM" gen --config "$c" --help; "$ECOM" dash --config "$c" --help; } >>"$all" 2>&1
  # librdkafka refuses these (no such property / bad value): the message must not echo them
  "$ECOM" gen "${GEN[@]}" --config "$c" -X "sasl.jaas.config=@$pw" >>"$all" 2>&1
  # (a refused value of a setting whose name says nothing secret, e.g. sasl.oauthbearer.method, is
  # shown: it names the mistake; secret-named ones are *** and cut out of librdkafka's message)
  "$ECOM" gen "${GEN[@]}" -X "sasl.oauthbearer.client.secret=$secret" -X "sasl.oauthbearer.method=oidc2" \
    -X "no.such.secret=$secret" >>"$all" 2>&1
  "$ECOM" gen "${GEN[@]}" -X "no.such.secret=$secret" >>"$all" 2>&1
  "$ECOM" gen "${GEN[@]}" --config "$c" >>"$all" 2>&1 || fail "gen with sasl.password from @file: $(tail -3 "$all")"
  # librdkafka's own log (every context) with SASL in use: its config dump says [redacted]
  local n0; n0=$(wc -l <"$all")
  ECOM_KAFKA_DEBUG=all "$ECOM" gen --brokers 127.0.0.1:1 --timeout 1s --count 1 --quiet --config "$c" \
    -X security.protocol=sasl_plaintext -X sasl.mechanism=PLAIN -X sasl.username=u >>"$all" 2>&1
  expect_ge "$(( $(wc -l <"$all") - n0 ))" 20 "librdkafka debug lines"
  expect_contains "$(cat "$all")" "sasl.password = [redacted]"
  # the stream's /status and /metrics while it runs with the secret in its Kafka settings
  local port; port=$(free_port)
  "$ECOM" stream --config "$c" --brokers "$ADDR" --out "$TEST_TMP/lake" --listen "127.0.0.1:$port" \
    --commit-interval 500ms >>"$all" 2>&1 &
  local spid=$! up=0
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/status" >>"$all" 2>&1 && { up=1; break; }
    kill -0 $spid 2>/dev/null || break
    sleep 0.1
  done
  [ $up = 1 ] || fail "stream /status never answered"
  curl -sf "http://127.0.0.1:$port/metrics" >>"$all" 2>&1 || fail "stream /metrics"
  kill -TERM $spid; wait $spid || fail "stream exit code $?"
  # the dashboard with the token from the file: it works, and the token is not printed
  port=$(free_port)
  "$ECOM" dash --config "$c" --data "$TEST_TMP/lake" --listen "127.0.0.1:$port" >>"$all" 2>&1 &
  local dpid=$! code=
  for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/health")
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  expect_eq "$code" 200 "dash /api/health with the token from @file"
  expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/health")" 401 "without the token"
  curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/health" >>"$all" 2>&1
  kill -TERM $dpid; wait $dpid
  grep -c '\*\*\*' "$all" >/dev/null || fail "no *** in the outputs"
  if grep -qF -- "s3cr3t" "$all"; then fail "the secret was printed: $(grep -F s3cr3t "$all" | head -3)"; fi
  expect_ge "$(wc -c <"$all")" 1000 "bytes of output checked"
}

case_run kafka_conf_semicolon
case_run kafka_precedence
case_run config_flags
# `[hdfs]` keys are the --hdfs-* flags (`user` is --hdfs-user); an unknown one is an error for
# the commands with HDFS flags, and skipped by the others.
hdfs_keys() {
  local c=$TEST_TMP/h.conf
  printf '[hdfs]\nno-such-option = 1\n' >"$c"
  expect_rc 2 "$ECOM" load --config "$c" --input /dev/null --out "$TEST_TMP/hl"
  expect_contains "$LAST_ERR" "ecom load: $c:2: unknown key 'hdfs.no-such-option' for this command"
  expect_rc 0 "$ECOM" gen --config "$c" --count 1 --out /dev/null --quiet
  printf '[hdfs]\nuser =\n' >"$c"   # reaches --hdfs-user, which refuses an empty name
  expect_rc 2 "$ECOM" stream --config "$c" --input /dev/null --out "$TEST_TMP/hl"
  expect_contains "$LAST_ERR" "ecom stream: --hdfs-user needs a non-empty name"
  HADOOP_USER_NAME=envuser expect_rc 0 "$ECOM" stream --config "$c" --input /dev/null --out "$TEST_TMP/hl" --quiet
}

case_run secrets_redacted
case_run hdfs_keys
suite_end
