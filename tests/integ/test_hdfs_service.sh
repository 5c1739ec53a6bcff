# test_hdfs_service.sh — the real HDFS the other HDFS tests rely on: it starts, answers WebHDFS,
# and Hadoop's own FsShell (an independent client) sees what WebHDFS wrote and vice versa.
source "$(dirname "$0")/lib.sh"
H="bash $REPO/tests/services/hdfs.sh"

hdfs_ensure_starts() {
  local t0=$SECONDS addr
  addr=$($H ensure) || { fail "hdfs.sh ensure failed"; return; }
  echo "  HDFS ready at $addr in $((SECONDS - t0))s"
  expect_eq "$addr" "$(cat "$ECOM_SERVICES_DIR/hdfs.addr")" "hdfs.addr file"
  expect_eq "$($H addr)" "$addr" "hdfs.sh addr"
  local t1=$SECONDS
  expect_eq "$($H ensure)" "$addr" "second ensure reuses the running cluster"
  expect_le $((SECONDS - t1)) 3 "seconds for a second ensure"
}

webhdfs_and_fsshell_agree() {
  local addr loc got
  addr=$($H addr) || { fail "not running"; return; }
  loc=$(curl -s -o /dev/null -w '%{redirect_url}' -X PUT \
        "http://$addr/webhdfs/v1/svc/a.txt?op=CREATE&overwrite=true&user.name=ecom")
  expect_contains "$loc" "/webhdfs/v1/svc/a.txt" "CREATE redirect to the DataNode"
  printf 'written by curl\n' | curl -sf -o /dev/null -X PUT -T - "$loc" || fail "upload to DataNode"
  got=$($H fs -cat /svc/a.txt 2>/dev/null)
  expect_eq "$got" "written by curl" "FsShell -cat of a WebHDFS write"
  printf 'written by FsShell\n' | $H fs -put -f - /svc/b.txt 2>/dev/null || fail "FsShell -put"
  got=$(curl -sfL "http://$addr/webhdfs/v1/svc/b.txt?op=OPEN&user.name=ecom")
  expect_eq "$got" "written by FsShell" "WebHDFS OPEN of an FsShell write"
  got=$($H fs -ls -R / 2>/dev/null)
  expect_contains "$got" "/svc/a.txt" "FsShell -ls -R"
  expect_contains "$got" "/svc/b.txt" "FsShell -ls -R"
}

datanode_restart() {
  local addr code
  addr=$($H addr) || { fail "not running"; return; }
  $H stop-datanode || fail "stop-datanode"
  # With the only DataNode gone, reading a block must fail (the NameNode may still think it
  # lives for a few seconds, so the read, not the listing, is what shows it).
  code=$(curl -sL --max-time 20 -o /dev/null -w '%{http_code}' "http://$addr/webhdfs/v1/svc/a.txt?op=OPEN&user.name=ecom")
  [ "$code" != 200 ] || fail "OPEN succeeded with the DataNode stopped"
  $H start-datanode || fail "start-datanode"
  expect_eq "$(curl -sfL "http://$addr/webhdfs/v1/svc/a.txt?op=OPEN&user.name=ecom")" "written by curl" \
    "data readable after the DataNode restarts"
}

case_run hdfs_ensure_starts
case_run webhdfs_and_fsshell_agree
case_run datanode_restart
suite_end
