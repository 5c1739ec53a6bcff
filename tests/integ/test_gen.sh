# `ecom gen`: flag errors, byte-identical output per seed, NDJSON that an independent JSON reader
# (the venv's python) accepts and that matches the schema and the true geography, fault fractions,
# SIGTERM, and delivery to the embedded broker checked with kcat.
. "$(dirname "$0")/lib.sh"

START=2026-11-25T09:00:00Z

gen_usage_errors() {
  expect_rc 0 "$ECOM" gen --help
  expect_rc 2 "$ECOM" gen --bogus
  expect_contains "$LAST_ERR" "ecom gen:"
  expect_rc 2 "$ECOM" gen --count abc --out -
  expect_rc 2 "$ECOM" gen --start yesterday --out -
  expect_rc 2 "$ECOM" gen --speedup 2 --out -
  expect_contains "$LAST_ERR" "--speedup needs --start"
  expect_rc 2 "$ECOM" gen --late-frac 1.5 --out -
  expect_rc 2 "$ECOM" gen --users 0 --out -
  expect_rc 2 "$ECOM" gen --rate 0 --out -
  expect_rc 2 "$ECOM" gen extra-arg --out -
  expect_rc 2 "$ECOM" gen --start 1999-12-31T00:00:00Z --count 1 --out -
  expect_contains "$LAST_ERR" "start"
  ECOM_BROKER_FILE=$TEST_TMP/none.addr expect_rc 2 "$ECOM" gen --count 1
  expect_contains "$LAST_ERR" "no --out and no --brokers"
}

gen_seed_identical() {
  local f="--start $START --count 20000 --late-frac 0.02 --dup-frac 0.02 --bad-frac 0.02 --quiet"
  "$ECOM" gen $f --seed 5 --out "$TEST_TMP/a.ndjson" || fail "run a"
  "$ECOM" gen $f --seed 5 --out - >"$TEST_TMP/b.ndjson" || fail "run b"
  "$ECOM" gen $f --seed 6 --out "$TEST_TMP/c.ndjson" || fail "run c"
  cmp -s "$TEST_TMP/a.ndjson" "$TEST_TMP/b.ndjson" || fail "same seed, different bytes"
  cmp -s "$TEST_TMP/a.ndjson" "$TEST_TMP/c.ndjson" && fail "different seeds, same bytes"
  expect_eq "$(wc -l <"$TEST_TMP/a.ndjson")" 20000 "--count lines"
}

# An independent check of the schema in Python (stdlib json, not our parser).
SCHEMA_PY='
import json, re, sys
from decimal import Decimal
uuid4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ts_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
geo = {"Quito": ("Pichincha", -0.1807, -78.4678), "Guayaquil": ("Guayas", -2.1709, -79.9224),
       "Cuenca": ("Azuay", -2.9001, -79.0059), "Santo Domingo": ("Santo Domingo de los Tsáchilas", -0.2542, -79.1719),
       "Manta": ("Manabí", -0.9677, -80.7089), "Portoviejo": ("Manabí", -1.0546, -80.4545),
       "Machala": ("El Oro", -3.2581, -79.9554), "Loja": ("Loja", -3.9931, -79.2042),
       "Ambato": ("Tungurahua", -1.2491, -78.6168), "Riobamba": ("Chimborazo", -1.6636, -78.6546),
       "Ibarra": ("Imbabura", 0.3517, -78.1223), "Esmeraldas": ("Esmeraldas", 0.9682, -79.6517)}
lo, hi = sys.argv[2], sys.argv[3]
common = {"event_id": str, "event_type": str, "timestamp": str, "user_id": str, "session_id": str,
          "store_id": str, "store_type": str, "city": str, "province": str, "location": dict}
prod = {"product_id": str, "product_name": str, "category": str, "price": (int, float)}
n = 0; ids = set(); types = {}
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line, parse_float=Decimal)
    n += 1
    t = e["event_type"]; types[t] = types.get(t, 0) + 1
    want = dict(common)
    if t == "page_view": want.update(prod)
    elif t in ("add_to_cart", "remove_from_cart"): want.update(prod); want["quantity"] = int
    elif t == "purchase": want.update({"order_id": str, "items": list, "total": Decimal, "currency": str, "payment_method": str})
    else: sys.exit("unknown type %s" % t)
    for k, ty in want.items():
        if k not in e: sys.exit("missing %s in %s" % (k, line))
        if ty in (int, float, (int, float)): ty = (int, Decimal)
        if not isinstance(e[k], ty): sys.exit("type of %s in %s" % (k, line))
    assert uuid4.match(e["event_id"]), line
    assert e["event_id"] not in ids, "duplicate id " + line
    ids.add(e["event_id"])
    assert ts_re.match(e["timestamp"]) and lo <= e["timestamp"] < hi, line
    assert re.match(r"^U\d{6}$", e["user_id"]) and re.match(r"^ST\d{3}$", e["store_id"]), line
    if e["store_type"] == "online":
        assert e["device"] in ("mobile", "desktop", "tablet") and e["store_id"] == "ST000", line
    else:
        assert e["store_type"] == "physical_store" and "device" not in e, line
    if e["city"] in geo:
        p, la, lo_ = geo[e["city"]]
        assert e["province"] == p, line
        assert abs(float(e["location"]["lat"]) - la) < 0.15 and abs(float(e["location"]["lon"]) - lo_) < 0.15, line
    if t == "purchase":
        assert e["items"] and e["currency"] == "USD", line
        s = sum(i["quantity"] * i["unit_price"] for i in e["items"])
        assert s == e["total"], "total " + line
        for i in e["items"]: assert i["quantity"] > 0 and i["unit_price"] >= 0
    elif "price" in e:
        assert e["price"] >= 0 and (t == "page_view" or e["quantity"] > 0), line
        assert e["price"] == e["price"].quantize(Decimal("0.01")), line
print(n, sorted(types.items()))
'

gen_schema() {
  "$ECOM" gen --start $START --duration 1h --rate 10 --seed 9 --quiet --out "$TEST_TMP/s.ndjson" || fail "gen exit"
  local n; n=$(wc -l <"$TEST_TMP/s.ndjson")
  expect_ge "$n" 30000 "events in 1h at 10/s"
  expect_le "$n" 42000 "events in 1h at 10/s"
  local out; out=$("$PY" -c "$SCHEMA_PY" "$TEST_TMP/s.ndjson" 2026-11-25T09:00:00.000Z 2026-11-25T10:00:00.001Z 2>&1) \
    || fail "schema check: $(tail -3 <<<"$out")"
  expect_contains "$out" "purchase"
  expect_contains "$out" "remove_from_cart"
}

# Fault fractions as seen by an independent reader: invalid lines and repeated event_ids.
gen_faults() {
  "$ECOM" gen --start $START --count 40000 --seed 3 --bad-frac 0.1 --dup-frac 0.05 --late-frac 0.05 --late-max 30s \
    --quiet --out "$TEST_TMP/f.ndjson" || fail "gen exit"
  local out; out=$("$PY" - "$TEST_TMP/f.ndjson" <<'EOF'
import json, sys
bad = dup = late = 0; seen = set(); n = 0; mx = ""
req = ("event_id", "event_type", "timestamp", "user_id", "city", "store_type")
for line in open(sys.argv[1], encoding="utf-8"):
    n += 1
    try:
        e = json.loads(line)
        ok = all(k in e for k in req) and e["event_type"] in ("page_view", "add_to_cart", "remove_from_cart", "purchase") \
            and e["timestamp"] >= "2000" and e.get("price", 0) >= 0 and all(i["unit_price"] >= 0 for i in e.get("items", [])) \
            and isinstance(e.get("price", 0), (int, float)) and e.get("quantity", 1) > 0
        if ok and e["event_type"] == "purchase":
            ok = round(sum(i["quantity"] * i["unit_price"] for i in e["items"]), 2) == e["total"] and "total" in e
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok: bad += 1; continue
    if e["event_id"] in seen: dup += 1
    seen.add(e["event_id"])
    if e["timestamp"] < mx: late += 1
    mx = max(mx, e["timestamp"])
print("%.4f %.4f %.4f" % (bad / n, dup / n, late / n))
EOF
)
  read -r b d l <<<"$out"
  "$PY" -c "import sys; b,d,l=map(float,sys.argv[1:]); sys.exit(0 if 0.085<=b<=0.115 and 0.03<=d<=0.06 and l>=0.03 else 1)" $b $d $l \
    || fail "fractions bad=$b dup=$d out-of-order=$l (want ~0.10, ~0.043, >=0.03)"
}

# Wall-clock mode until SIGTERM: exit 0, every line complete.
gen_sigterm() {
  "$ECOM" gen --rate 500 --seed 1 --quiet --out "$TEST_TMP/w.ndjson" &
  local pid=$!
  for _ in $(seq 100); do
    [ -e "$TEST_TMP/w.ndjson" ] && [ "$(wc -l <"$TEST_TMP/w.ndjson")" -ge 100 ] && break
    sleep 0.1
  done
  kill -TERM $pid
  local rc=0
  wait $pid || rc=$?
  expect_eq "$rc" 0 "exit code after SIGTERM"
  local n; n=$(wc -l <"$TEST_TMP/w.ndjson")
  expect_ge "$n" 100 "lines before SIGTERM"
  "$PY" -c "
import json, sys, datetime
now = datetime.datetime.utcnow().strftime('%Y-%m-%dT%H')
for l in open(sys.argv[1]):
    e = json.loads(l)
    assert e['timestamp'][:10] == now[:10], e['timestamp']
" "$TEST_TMP/w.ndjson" || fail "wall-clock lines"
}

BPID=
stop_broker() { [ -n "$BPID" ] && kill -TERM $BPID 2>/dev/null && wait $BPID; BPID=; }
trap stop_broker EXIT

# To the embedded broker found through its address file (no --brokers): every line arrives in
# the topic of its type with key = user_id (checked with kcat against the NDJSON of the same seed).
gen_kafka_embedded() {
  export ECOM_BROKER_FILE=$TEST_TMP/broker.addr
  "$ECOM" broker --addr-file "$ECOM_BROKER_FILE" --partitions 3 --quiet >/dev/null 2>&1 &
  BPID=$!
  for _ in $(seq 100); do [ -s "$ECOM_BROKER_FILE" ] && break; sleep 0.1; done
  [ -s "$ECOM_BROKER_FILE" ] || { fail "embedded broker did not start"; unset ECOM_BROKER_FILE; return; }
  local addr; addr=$(cat "$ECOM_BROKER_FILE")
  local f="--start $START --count 3000 --seed 21 --bad-frac 0.02"
  "$ECOM" gen $f --quiet 2>"$TEST_TMP/gen.err" || fail "gen to embedded broker: $(cat "$TEST_TMP/gen.err")"
  "$ECOM" gen $f --quiet --out "$TEST_TMP/k.ndjson" || fail "gen ndjson"
  for t in page_views cart_events orders; do
    timeout 20 kcat -C -b "$addr" -t $t -e -q -f '%k\t%s\n' >>"$TEST_TMP/consumed.tsv" || fail "kcat $t"
    timeout 20 kcat -C -b "$addr" -t $t -e -q -f "$t\n" >>"$TEST_TMP/topics.txt"
  done
  local out; out=$("$PY" - "$TEST_TMP/k.ndjson" "$TEST_TMP/consumed.tsv" <<'EOF'
import json, sys, collections
sent = collections.Counter(l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8"))
got = collections.Counter(); badkey = 0
for l in open(sys.argv[2], encoding="utf-8"):
    k, v = l.rstrip("\n").split("\t", 1)
    got[v] += 1
    try:
        if json.loads(v)["user_id"] != k: badkey += 1
    except Exception:
        pass
print(sum(sent.values()), sum(got.values()), int(sent == got), badkey)
EOF
)
  expect_eq "$out" "3000 3000 1 0" "sent, consumed, same multiset, wrong keys"
  local views; views=$(grep -c '^page_views$' "$TEST_TMP/topics.txt")
  local nv; nv=$(grep -c '"event_type":"page_view"' "$TEST_TMP/k.ndjson")
  expect_ge "$views" "$nv" "page_views topic holds at least every page_view"
  stop_broker
  unset ECOM_BROKER_FILE
}

gen_kafka_unreachable() {
  local t0=$SECONDS
  expect_rc 1 "$ECOM" gen --brokers 127.0.0.1:1 --timeout 2s --count 10 --start $START --quiet
  expect_le $((SECONDS - t0)) 8 "seconds to give up on an unreachable broker"
}

case_run gen_usage_errors
case_run gen_seed_identical
case_run gen_schema
case_run gen_faults
case_run gen_sigterm
case_run gen_kafka_embedded
case_run gen_kafka_unreachable
suite_end
