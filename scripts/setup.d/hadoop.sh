#!/usr/bin/env bash
# hadoop.sh — fetches the pinned Apache Hadoop jars (NameNode, DataNode, FsShell) from Maven
# Central for the real-HDFS tests, into $ECOM_CACHE/hadoop/ (never into the repo).
# Idempotent: a stamp named after the pom's hash makes a second run a no-op.
#
#   $ECOM_CACHE/hadoop/<version>-<pom hash>/libs/     every runtime jar (mvn dependency:copy-dependencies)
#   $ECOM_CACHE/hadoop/<version>-<pom hash>/webroot/  webapps/{hdfs,datanode,...}: empty web app dirs
#
# Why webroot: the NameNode and DataNode HTTP servers refuse to start unless "webapps/<name>" is
# on the classpath. The Maven jars do not carry the web UI (only the release tarball does), and
# WebHDFS — the only thing ecom needs — is a REST resource registered in code, so empty
# directories are enough.
set -euo pipefail
cd "$(dirname "$0")/../.."
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
pom=scripts/hadoop/pom.xml
ver=$(sed -n 's:.*<hadoop.version>\(.*\)</hadoop.version>.*:\1:p' "$pom")
[ -n "$ver" ] || { echo "hadoop.sh: no hadoop.version in $pom" >&2; exit 1; }
# One directory per pom content: checkouts with different poms (branches, worktrees) sharing a
# cache never replace each other's jars under a running cluster.
dest=$ECOM_CACHE/hadoop/$ver-$(sha1sum "$pom" | cut -c1-12)
stamp=$dest/.stamp
[ -f "$stamp" ] && exit 0

# the empty web app directories (see above)
webroot() {
  local app
  for app in hdfs datanode static secondary journal; do
    mkdir -p "$1/webroot/webapps/$app"
  done
}
. scripts/lib/maven.sh
maven_fetch "Apache Hadoop $ver" "$pom" "$dest" "hadoop-hdfs-$ver.jar" webroot
touch "$stamp"
