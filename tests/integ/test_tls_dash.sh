# `ecom dash --tls-cert F --tls-key F`: HTTPS with a CA generated here (openssl), checked in
# headless Chromium (test_tls_dash.mjs) and with curl; plain HTTP to the TLS port fails without
# hurting the server; bad certificate/key paths and a mismatched key are clear errors, exit 1.
. "$(dirname "$0")/lib.sh"
WEB="$REPO/src/dash/web"
[ -d "$WEB/node_modules/playwright-core" ] || bash "$REPO/scripts/setup.d/web.sh" >/dev/null 2>&1 ||
  { echo "FAIL browser_setup"; exit 1; }
P=$TEST_TMP/pki
mkdir -p "$P" "$TEST_TMP/lake"
{
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ecom test CA" -keyout "$P/ca.key" -out "$P/ca.pem" &&
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$P/srv.key" -out "$P/srv.csr" &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$P/ext" &&
  openssl x509 -req -in "$P/srv.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
    -extfile "$P/ext" -out "$P/srv.pem" &&
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$P/other.key"
} >"$P/openssl.log" 2>&1 || { echo "FAIL pki: $(tail -5 "$P/openssl.log")"; exit 1; }
# the leaf's public key: the SPKI Chromium is told to accept (that the CA signed it, curl checks)
SPKI=$(openssl x509 -in "$P/srv.pem" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)

DPID=
trap '[ -n "$DPID" ] && kill -TERM $DPID 2>/dev/null; wait' EXIT
URL=
start_tls_dash() {
  local out=$TEST_TMP/dash.out
  "$ECOM" dash --data "$TEST_TMP/lake" --listen 127.0.0.1:0 --tls-cert "$P/srv.pem" --tls-key "$P/srv.key" \
    >"$out" 2>"$out.err" &
  DPID=$!
  for _ in $(seq 100); do
    URL=$(sed -n 's/.*serving \(https[^ ]*\) .*/\1/p' "$out")
    [ -n "$URL" ] && return 0
    kill -0 $DPID 2>/dev/null || break
    sleep 0.1
  done
  echo "  ecom dash did not start: $(cat "$out.err")"
  return 1
}

https_in_browser() {
  start_tls_dash || { fail "start"; return; }
  local code
  code=$(curl -s --cacert "$P/ca.pem" -o /dev/null -w '%{http_code}' "${URL}api/health")
  expect_eq "$code" 200 "curl with the test CA"
  curl -s -o /dev/null "${URL}api/health" && fail "curl without the CA accepted the certificate"
  local port=${URL##*:}; port=${port%/}
  # plain HTTP on the TLS port: no HTTP answer, and the server goes on serving HTTPS
  code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/health")
  expect_eq "$code" 000 "plain http to the TLS port"
  DASH_URL=$URL SPKI=$SPKI node "$REPO/tests/integ/test_tls_dash.mjs" || fail "browser (see PASS/FAIL above)"
  code=$(curl -s --cacert "$P/ca.pem" -o /dev/null -w '%{http_code}' "${URL}api/health")
  expect_eq "$code" 200 "https still served after the plain-http attempt"
  kill -TERM $DPID; wait $DPID || fail "dash exit code $?"
  DPID=
}

tls_errors() {
  local d=(dash --data "$TEST_TMP/lake" --listen 127.0.0.1:0)
  expect_rc 1 "$ECOM" "${d[@]}" --tls-cert "$P/missing.pem" --tls-key "$P/srv.key"
  expect_contains "$LAST_ERR" "ecom dash: --tls-cert $P/missing.pem: No such file or directory"
  expect_rc 1 "$ECOM" "${d[@]}" --tls-cert "$P/srv.pem" --tls-key "$P/missing.key"
  expect_contains "$LAST_ERR" "--tls-key $P/missing.key: No such file or directory"
  expect_rc 1 "$ECOM" "${d[@]}" --tls-cert "$P/ext" --tls-key "$P/srv.key"
  expect_contains "$LAST_ERR" "--tls-cert $P/ext: not a PEM file"
  expect_rc 1 "$ECOM" "${d[@]}" --tls-cert "$P/srv.pem" --tls-key "$P/other.key"
  expect_contains "$LAST_ERR" "cannot serve HTTPS"
  expect_rc 2 "$ECOM" "${d[@]}" --tls-cert "$P/srv.pem"
  expect_contains "$LAST_ERR" "give both --tls-cert and --tls-key"
}

# `ecom run` passes the TLS files to its dashboard; with a token the login cookie is Secure.
run_https_with_token() {
  local tok=Run-tok.123456 out=$TEST_TMP/run.out
  printf '%s\n' "$tok" >"$TEST_TMP/tok"
  "$ECOM" run --out "$TEST_TMP/runlake" --listen 127.0.0.1:0 --rate 20 --quiet --auth-token "@$TEST_TMP/tok" \
    --tls-cert "$P/srv.pem" --tls-key "$P/srv.key" >"$out" 2>"$out.err" &
  DPID=$!
  local url=
  for _ in $(seq 150); do
    url=$(sed -n 's/.*dashboard at \(https[^ ]*\) .*/\1/p' "$out")
    [ -n "$url" ] && break
    kill -0 $DPID 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$url" ] || { fail "ecom run did not print an https dashboard URL: $(cat "$out" "$out.err")"; return; }
  expect_eq "$(curl -s --cacert "$P/ca.pem" -o /dev/null -w '%{http_code}' "${url}api/health")" 401 "no token"
  expect_eq "$(curl -s --cacert "$P/ca.pem" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
    "${url}api/health")" 200 "Bearer token over https"
  local hdr; hdr=$(curl -s --cacert "$P/ca.pem" -D - -o /dev/null "${url}?token=$tok")
  expect_contains "$hdr" "HttpOnly; SameSite=Strict; Secure"
  kill -INT $DPID; wait $DPID || fail "ecom run exit code $?: $(tail -3 "$out.err")"
  DPID=
  grep -qF "$tok" "$out" "$out.err" && fail "the token was printed"
}

case_run https_in_browser
case_run run_https_with_token
case_run tls_errors
suite_end
