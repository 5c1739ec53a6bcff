#!/usr/bin/env bash
# setup.sh — installs everything ecom builds, runs and tests with. Idempotent, and quick when
# all is already there (each step checks before it acts). Called by `make run` and `make test`.
#
#   ECOM_CACHE   where fetched pieces live, outside the repo (default ~/.cache/ecom):
#                $ECOM_CACHE/venv  Python venv with pyarrow, duckdb, kafka-python
#                $ECOM_CACHE/kafka Kafka jars from Maven Central (scripts/setup.d/kafka.sh)
#                $ECOM_CACHE/hadoop Hadoop jars from Maven Central (scripts/setup.d/hadoop.sh)
#                $ECOM_CACHE/librdkafka-2.8.0  librdkafka built from Debian trixie's source package
#                                  when the system's is older than 2.6.1 (scripts/setup.d/librdkafka.sh)
#   ECOM_SETUP_MINIMAL=1   only what `make run` needs (Debian build packages), skip test pieces.
set -euo pipefail
cd "$(dirname "$0")/.."
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
mkdir -p "$ECOM_CACHE"

log() { printf 'setup: %s\n' "$*" >&2; }

# ---- Debian packages ----
# nodejs, npm and python3 build the dashboard's embedded files (scripts/setup.d/web.sh, scripts/dash_map.py).
DEB_BUILD=(build-essential pkg-config librdkafka-dev libzstd-dev libsnappy-dev zlib1g-dev liblz4-dev libbrotli-dev
           libmicrohttpd-dev libcurl4-openssl-dev tzdata libkrb5-dev libxxhash-dev nodejs npm python3)
DEB_TEST=(kcat libjansson-dev clang libclang-rt-14-dev python3-venv maven default-jre-headless
          chromium wrk openssl curl krb5-kdc krb5-admin-server krb5-user)
want=("${DEB_BUILD[@]}")
[ "${ECOM_SETUP_MINIMAL:-0}" = 1 ] || want+=("${DEB_TEST[@]}")
missing=()
for p in "${want[@]}"; do
  # A tool already on PATH from elsewhere (node, npm, java, mvn on this image) is good enough.
  case $p in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
    maven) command -v mvn >/dev/null && continue ;;
    default-jre-headless) command -v java >/dev/null && continue ;;
    python3-venv) python3 -c 'import venv, ensurepip' 2>/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# librdkafka >= 2.6.1 is a build need (the Makefile refuses an older one): on bookworm it is built
# from Debian trixie's source package into $ECOM_CACHE, once (scripts/setup.d/librdkafka.sh).
bash scripts/setup.d/librdkafka.sh
# The dashboard's chart library and map data are build needs too (the Makefile refuses to embed none).
bash scripts/setup.d/web.sh
[ "${ECOM_SETUP_MINIMAL:-0}" = 1 ] && exit 0

# ---- Python venv for test oracles and benchmark peers (pinned in scripts/requirements.txt) ----
VENV=$ECOM_CACHE/venv
req=scripts/requirements.txt
stamp=$VENV/.req-$(sha1sum "$req" | cut -c1-12)
if [ ! -f "$stamp" ]; then
  log "creating Python venv in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
  touch "$stamp"
fi

# ---- further pieces: each script installs its own and is idempotent ----
for s in scripts/setup.d/*.sh; do
  [ -e "$s" ] || continue
  case $s in scripts/setup.d/librdkafka.sh|scripts/setup.d/web.sh) continue ;; esac   # done above
  bash "$s"
done
