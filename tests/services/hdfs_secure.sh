#!/usr/bin/env bash
# tests/services/hdfs_secure.sh — a Kerberized HDFS on loopback for the security tests: an MIT KDC
# (Debian's krb5kdc) with the test realm ECOM.TEST, and a NameNode + DataNode in Hadoop's secure
# mode: Kerberos RPC, SPNEGO on the HTTP servers and WebHDFS, HTTPS only (certificates from a CA
# made here with openssl), SASL-protected data transfer (so the DataNode needs no root or
# privileged ports), block access tokens.
#
#   hdfs_secure.sh ensure   start it unless up; prints the NameNode's HTTPS address HOST:PORT (also
#                           in $ECOM_SERVICES_DIR/hdfs_secure.addr). In $ECOM_SERVICES_DIR/hdfs_secure/:
#                             krb5.conf     the client configuration (KRB5_CONFIG=...)
#                             ecom.keytab   the keytab of ecom@ECOM.TEST (the test user)
#                             other.keytab  a keytab of other@ECOM.TEST (a wrong keytab for ecom)
#                             stale.keytab  stale@ECOM.TEST's key before a re-key (a stale keytab)
#                             brief.keytab  brief@ECOM.TEST, whose tickets live 10 s (renewal)
#                           The KDC logs every ticket it issues in logs/kdc-events.log.
#                             ca.pem        the CA that signed the servers' certificate
#   hdfs_secure.sh stop     stops the daemons and the KDC, removes the state
#   hdfs_secure.sh fs ARGS  FsShell as ecom@ECOM.TEST (logged in from its keytab)
#
# Every wait is bounded (ECOM_HDFS_TIMEOUT, default 180 s) and polls a real condition: the KDC
# issues a ticket (kinit), and a SPNEGO CREATE + OPEN round trip over HTTPS returns the bytes.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
SVC=${ECOM_SERVICES_DIR:-/tmp/ecom-services-$(id -u)}
DIR=$SVC/hdfs_secure
TIMEOUT=${ECOM_HDFS_TIMEOUT:-180}
REALM=ECOM.TEST
export KRB5_CONFIG=$DIR/krb5.conf KRB5_KDC_PROFILE=$DIR/kdc.conf

die() { echo "hdfs_secure.sh: $*" >&2; exit 1; }

# free_ports, prop, hadoop_home (VER, HOME_H), hadoop_jopts (JOPTS), write_log4j
. "$(dirname "${BASH_SOURCE[0]}")/hdfs_lib.sh"
hadoop_home
hadoop_jopts 384m
JOPTS+=(--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED
       --add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED -Djava.security.krb5.conf="$DIR/krb5.conf")
alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

stop_pid() {
  local name=$1 pid i
  alive "$name" || { rm -f "$DIR/$name.pid"; return 0; }
  pid=$(cat "$DIR/$name.pid")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$DIR/$name.pid"
}

wait_for() {
  local what=$1; shift
  local deadline=$((SECONDS + TIMEOUT)) d
  while ! "$@" >/dev/null 2>&1; do
    for d in kdc namenode datanode; do
      [ -f "$DIR/$d.pid" ] && ! alive "$d" && { tail -40 "$DIR/logs/$d.log" >&2; die "$d exited while waiting for $what"; }
    done
    [ $SECONDS -lt $deadline ] || { tail -30 "$DIR/logs/namenode.log" >&2; die "timed out after ${TIMEOUT}s waiting for $what"; }
    sleep 0.25
  done
}

# ---- the KDC ----
# No reverse DNS and no host canonicalisation: the servers are "127.0.0.1", so is the service
# principal a client asks for (HTTP/127.0.0.1@ECOM.TEST for SPNEGO).
start_kdc() {
  local port=$1
  mkdir -p "$DIR/kdc" "$DIR/logs"
  cat >"$DIR/krb5.conf" <<EOF
[libdefaults]
  default_realm = $REALM
  dns_lookup_realm = false
  dns_lookup_kdc = false
  rdns = false
  dns_canonicalize_hostname = false
  ignore_acceptor_hostname = true
  udp_preference_limit = 1
  ticket_lifetime = 10h
  forwardable = true
[realms]
  $REALM = {
    kdc = 127.0.0.1:$port
  }
[domain_realm]
  127.0.0.1 = $REALM
EOF
  cat >"$DIR/kdc.conf" <<EOF
[kdcdefaults]
  kdc_ports = $port
  kdc_tcp_ports = $port
[realms]
  $REALM = {
    database_name = $DIR/kdc/principal
    key_stash_file = $DIR/kdc/stash
    acl_file = $DIR/kdc/kadm5.acl
    max_life = 10h
    max_renewable_life = 1d
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:$DIR/logs/kdc-events.log
EOF
  : >"$DIR/kdc/kadm5.acl"
  kdb5_util create -s -r "$REALM" -P "kdc-master-$$" >"$DIR/logs/kdb5.log" 2>&1 || { cat "$DIR/logs/kdb5.log" >&2; die "kdb5_util create"; }
  setsid krb5kdc -n -P "$DIR/kdc/krb5kdc.pid" >>"$DIR/logs/kdc.log" 2>&1 </dev/null &
  echo $! >"$DIR/kdc.pid"
}

addprinc_keytab() {   # addprinc_keytab KEYTAB PRINCIPAL...
  local kt=$1 p; shift
  for p in "$@"; do
    kadmin.local -q "addprinc -randkey $p@$REALM" >>"$DIR/logs/kadmin.log" 2>&1 || die "kadmin addprinc $p"
    kadmin.local -q "ktadd -k $kt -norandkey $p@$REALM" >>"$DIR/logs/kadmin.log" 2>&1 || die "kadmin ktadd $p"
  done
}

kdc_answers() { KRB5CCNAME=MEMORY:probe kinit -kt "$DIR/ecom.keytab" "ecom@$REALM"; }

# ---- TLS: a test CA and one server certificate for 127.0.0.1, as a PKCS12 keystore ----
make_tls() {
  local t=$DIR/tls
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ecom test CA" -keyout "$t/ca.key" -out "$DIR/ca.pem" \
    >>"$DIR/logs/tls.log" 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$t/server.key" -out "$t/server.csr" \
    >>"$DIR/logs/tls.log" 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$t/ext.cnf"
  openssl x509 -req -in "$t/server.csr" -CA "$DIR/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -days 2 \
    -extfile "$t/ext.cnf" -out "$t/server.pem" >>"$DIR/logs/tls.log" 2>&1
  openssl pkcs12 -export -in "$t/server.pem" -inkey "$t/server.key" -certfile "$DIR/ca.pem" -name server \
    -passout pass:storepass -out "$t/server.p12" >>"$DIR/logs/tls.log" 2>&1
  keytool -importcert -noprompt -alias ca -file "$DIR/ca.pem" -keystore "$t/trust.p12" -storetype PKCS12 \
    -storepass storepass >>"$DIR/logs/tls.log" 2>&1
}

write_conf() {
  local rpc=$1 https=$2 dnx=$3 dnh=$4 dni=$5 c=$DIR/conf kt=$DIR/service.keytab
  mkdir -p "$c"
  {
    echo '<configuration>'
    prop fs.defaultFS "hdfs://127.0.0.1:$rpc"
    prop hadoop.tmp.dir "$DIR/tmp"
    prop hadoop.security.authentication kerberos
    prop hadoop.security.authorization false
    prop hadoop.rpc.protection authentication
    # SPNEGO on every HTTP server (without it Hadoop 3.4 answers 403 "Security enabled but user
    # not authenticated by filter").
    prop hadoop.http.authentication.type kerberos
    prop hadoop.http.authentication.simple.anonymous.allowed false
    prop hadoop.http.authentication.kerberos.principal "HTTP/127.0.0.1@$REALM"
    prop hadoop.http.authentication.kerberos.keytab "$kt"
    prop hadoop.http.authentication.signature.secret.file "$DIR/http-secret"
    prop hadoop.http.filter.initializers org.apache.hadoop.security.AuthenticationFilterInitializer
    prop hadoop.security.auth_to_local "RULE:[2:\$1@\$0](.*@$REALM)s/@.*//
RULE:[1:\$1@\$0](.*@$REALM)s/@.*//
DEFAULT"
    echo '</configuration>'
  } >"$c/core-site.xml"
  {
    echo '<configuration>'
    prop dfs.replication 1
    prop dfs.namenode.name.dir "$DIR/name"
    prop dfs.datanode.data.dir "$DIR/data"
    prop dfs.namenode.rpc-address "127.0.0.1:$rpc"
    prop dfs.namenode.https-address "127.0.0.1:$https"
    prop dfs.namenode.http-address 127.0.0.1:0
    prop dfs.namenode.secondary.http-address 127.0.0.1:0
    prop dfs.namenode.secondary.https-address 127.0.0.1:0
    prop dfs.http.policy HTTPS_ONLY
    prop dfs.datanode.address "127.0.0.1:$dnx"
    prop dfs.datanode.https.address "127.0.0.1:$dnh"
    prop dfs.datanode.http.address 127.0.0.1:0
    prop dfs.datanode.ipc.address "127.0.0.1:$dni"
    prop dfs.datanode.hostname 127.0.0.1
    prop dfs.webhdfs.enabled true
    prop dfs.permissions.enabled false
    prop dfs.block.access.token.enable true
    prop dfs.data.transfer.protection authentication
    prop dfs.namenode.kerberos.principal "nn/127.0.0.1@$REALM"
    prop dfs.namenode.keytab.file "$kt"
    prop dfs.namenode.kerberos.internal.spnego.principal "HTTP/127.0.0.1@$REALM"
    prop dfs.datanode.kerberos.principal "dn/127.0.0.1@$REALM"
    prop dfs.datanode.keytab.file "$kt"
    prop dfs.web.authentication.kerberos.principal "HTTP/127.0.0.1@$REALM"
    prop dfs.web.authentication.kerberos.keytab "$kt"
    prop dfs.namenode.safemode.extension 0
    prop dfs.namenode.safemode.min.datanodes 0
    prop dfs.heartbeat.interval 1
    prop dfs.blocksize 8388608
    prop dfs.namenode.fs-limits.min-block-size 1048576
    echo '</configuration>'
  } >"$c/hdfs-site.xml"
  local side
  for side in server client; do
    {
      echo '<configuration>'
      prop "ssl.$side.keystore.location" "$DIR/tls/server.p12"
      prop "ssl.$side.keystore.type" pkcs12
      prop "ssl.$side.keystore.password" storepass
      prop "ssl.$side.keystore.keypassword" storepass
      prop "ssl.$side.truststore.location" "$DIR/tls/trust.p12"
      prop "ssl.$side.truststore.type" pkcs12
      prop "ssl.$side.truststore.password" storepass
      echo '</configuration>'
    } >"$c/ssl-$side.xml"
  done
  head -c 32 /dev/urandom | base64 >"$DIR/http-secret"
  write_log4j "$c/log4j.properties"
  echo "$https" >"$DIR/https.port"
}

classpath() { echo "$DIR/conf:$HOME_H/webroot:$HOME_H/libs/*"; }

start_daemon() {
  local name=$1 class=$2
  setsid java "${JOPTS[@]}" -Dproc_$name -cp "$(classpath)" "$class" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
}

# SPNEGO CREATE + OPEN over HTTPS as ecom (curl's --negotiate with a ticket in a private cache).
round_trip() {
  local a=127.0.0.1:$(cat "$DIR/https.port") loc got
  export KRB5CCNAME=FILE:$DIR/probe.cc
  kinit -kt "$DIR/ecom.keytab" "ecom@$REALM" || return 1
  loc=$(curl -s --cacert "$DIR/ca.pem" --negotiate -u : --max-time 10 -o /dev/null -w '%{redirect_url}' -X PUT \
        "https://$a/webhdfs/v1/.ecom-ready?op=CREATE&overwrite=true") || return 1
  [ -n "$loc" ] || return 1
  printf 'ready' | curl -sf --cacert "$DIR/ca.pem" --max-time 10 -o /dev/null -X PUT -T - "$loc" || return 1
  got=$(curl -sfL --cacert "$DIR/ca.pem" --negotiate -u : --max-time 10 "https://$a/webhdfs/v1/.ecom-ready?op=OPEN") || return 1
  [ "$got" = ready ]
}

cmd_ensure() {
  if alive kdc && alive namenode && alive datanode && [ -f "$SVC/hdfs_secure.addr" ]; then cat "$SVC/hdfs_secure.addr"; return 0; fi
  cmd_stop
  command -v krb5kdc >/dev/null || die "krb5kdc missing (scripts/setup.sh installs krb5-kdc)"
  [ -d "$HOME_H/libs" ] || die "Hadoop $VER jars missing in $HOME_H (scripts/setup.d/hadoop.sh)"
  local t0=$SECONDS p
  mkdir -p "$DIR/logs"
  read -r -a p <<<"$(free_ports 6)"
  start_kdc "${p[5]}"
  addprinc_keytab "$DIR/service.keytab" nn/127.0.0.1 dn/127.0.0.1 HTTP/127.0.0.1
  addprinc_keytab "$DIR/ecom.keytab" ecom
  addprinc_keytab "$DIR/other.keytab" other
  # stale.keytab: the key of stale@ before it was changed (a keytab left over from a re-key).
  addprinc_keytab "$DIR/stale.keytab" stale
  kadmin.local -q "cpw -randkey stale@$REALM" >>"$DIR/logs/kadmin.log" 2>&1 || die "kadmin cpw stale"
  # brief@: tickets live 10 s, so a run of half a minute must log in again several times. Preauth
  # required: the KDC then issues tickets only to a client that has the key, so the ISSUE lines
  # of its log count real logins (MIT's GSS-API probes for a client keytab, without the key,
  # before each context when a ticket expires within minutes).
  kadmin.local -q "addprinc -randkey +requires_preauth -maxlife 0:00:10 brief@$REALM" >>"$DIR/logs/kadmin.log" 2>&1 ||
    die "kadmin addprinc brief"
  kadmin.local -q "ktadd -k $DIR/brief.keytab -norandkey brief@$REALM" >>"$DIR/logs/kadmin.log" 2>&1 || die "ktadd brief"
  wait_for "the KDC (kinit)" kdc_answers
  # kadmin.local -q exits 0 even when a query fails: check the principals by logging in.
  KRB5CCNAME=MEMORY:probe2 kinit -kt "$DIR/brief.keytab" "brief@$REALM" >>"$DIR/logs/kadmin.log" 2>&1 ||
    die "brief@$REALM cannot log in from its keytab (see $DIR/logs/kadmin.log)"
  ! KRB5CCNAME=MEMORY:probe3 kinit -kt "$DIR/stale.keytab" "stale@$REALM" >>"$DIR/logs/kadmin.log" 2>&1 ||
    die "stale.keytab still logs in: the re-key of stale@$REALM failed"
  make_tls || die "making the test CA failed (see $DIR/logs/tls.log)"
  write_conf "${p[@]:0:5}"
  java "${JOPTS[@]}" -cp "$(classpath)" org.apache.hadoop.hdfs.server.namenode.NameNode -format -nonInteractive -force \
    >"$DIR/logs/format.log" 2>&1 || { tail -20 "$DIR/logs/format.log" >&2; die "namenode -format failed"; }
  start_daemon namenode org.apache.hadoop.hdfs.server.namenode.NameNode
  start_daemon datanode org.apache.hadoop.hdfs.server.datanode.DataNode
  wait_for "a SPNEGO CREATE+OPEN round trip over HTTPS" round_trip
  echo "127.0.0.1:$(cat "$DIR/https.port")" >"$SVC/hdfs_secure.addr"
  echo "hdfs_secure.sh: Kerberized HDFS $VER (realm $REALM, HTTPS only) up in $((SECONDS - t0))s" >&2
  cat "$SVC/hdfs_secure.addr"
}

cmd_stop() {
  stop_pid datanode
  stop_pid namenode
  stop_pid kdc
  rm -rf "$DIR" "$SVC/hdfs_secure.addr"
}

cmd_fs() {
  alive namenode || die "not running"
  KRB5CCNAME=FILE:$DIR/fs.cc kinit -kt "$DIR/ecom.keytab" "ecom@$REALM"
  KRB5CCNAME=FILE:$DIR/fs.cc java "${JOPTS[@]}" -Dhadoop.root.logger=WARN,console -cp "$(classpath)" \
    org.apache.hadoop.fs.FsShell "$@"
}

case ${1:-} in
  ensure) cmd_ensure ;;
  stop) cmd_stop ;;
  fs) shift; cmd_fs "$@" ;;
  *) echo "usage: $0 ensure|stop|fs ARGS" >&2; exit 2 ;;
esac
