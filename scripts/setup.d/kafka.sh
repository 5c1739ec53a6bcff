#!/usr/bin/env bash
# kafka.sh — fetches the pinned Apache Kafka broker jars from Maven Central for the real-broker
# tests and benchmarks, into $ECOM_CACHE/kafka/<version>/libs (never into the repo).
# Idempotent: a stamp named after the pom's hash makes a second run a no-op.
#
# The pom (scripts/kafka/pom.xml) pins org.apache.kafka:kafka_2.13 (broker, controller and
# kafka.tools.StorageTool for KRaft formatting) plus log4j2 with its slf4j 2 binding, so the
# broker logs through a config file that tests/services/kafka.sh writes (quiet: WARN to a file).
set -euo pipefail
cd "$(dirname "$0")/../.."
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
pom=scripts/kafka/pom.xml
ver=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
[ -n "$ver" ] || { echo "kafka.sh: no kafka.version in $pom" >&2; exit 1; }
dest=$ECOM_CACHE/kafka/$ver
stamp=$dest/.stamp-$(sha1sum "$pom" | cut -c1-12)
[ -f "$stamp" ] && exit 0

. scripts/lib/maven.sh
maven_fetch "Apache Kafka $ver" "$pom" "$dest" "kafka_2.13-$ver.jar"
touch "$stamp"
