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

command -v mvn >/dev/null || { echo "hadoop.sh: mvn not found (scripts/setup.sh installs maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "hadoop.sh: java not found" >&2; exit 1; }
echo "setup: fetching Apache Hadoop $ver jars into $dest" >&2
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp/webroot/webapps"
for app in hdfs datanode static secondary journal; do
  mkdir -p "$dest.tmp/webroot/webapps/$app"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$pom" "$work/pom.xml"
if ! (cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$dest.tmp/libs" >"$work/mvn.log" 2>&1); then
  tail -30 "$work/mvn.log" >&2
  echo "hadoop.sh: maven failed" >&2
  exit 1
fi
ls "$dest.tmp/libs"/hadoop-hdfs-"$ver".jar >/dev/null
rm -rf "$dest"
mv "$dest.tmp" "$dest"
touch "$stamp"
