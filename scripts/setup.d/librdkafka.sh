#!/usr/bin/env bash
# librdkafka.sh — builds librdkafka from Debian trixie's source package into $ECOM_CACHE when the
# system's is older than 2.6.1, and ecom links against that build (Makefile: PKG_CONFIG_PATH and an
# rpath into the cache).
#
# Why: Debian bookworm ships librdkafka 2.0.2, whose SCRAM exchange is rejected by Kafka 4.x with
# "invalid credentials" even with the right password (fixed in librdkafka 2.6.1). Trixie's 2.8.0
# source builds unchanged against bookworm's libraries.
#
# What it does, once (a stamp makes later runs a no-op that takes milliseconds):
#   1. a deb-src entry for trixie, source only (Types: deb-src): no binary package comes from trixie;
#   2. bookworm's build dependencies (libssl, libsasl2, liblz4, libzstd, zlib, rapidjson, libcurl);
#   3. `apt-get source librdkafka=2.8.0-1` into $ECOM_CACHE/src (Debian's patches applied);
#   4. ./configure with SSL, SASL (GSSAPI via cyrus-sasl, PLAIN, SCRAM, OAUTHBEARER), zstd, lz4;
#      make; make install into $ECOM_CACHE/librdkafka-2.8.0 (lib/pkgconfig/rdkafka.pc).
#
#   ECOM_CACHE                 default ~/.cache/ecom
#   ECOM_LIBRDKAFKA_FORCE=1    build even when the system's librdkafka is new enough
set -euo pipefail
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
VER=2.8.0
DEBVER=$VER-1
MIN=2.6.1
PREFIX=$ECOM_CACHE/librdkafka-$VER
stamp=$PREFIX/.built
log() { printf 'setup: librdkafka: %s\n' "$*" >&2; }

[ -f "$stamp" ] && exit 0

# A system librdkafka at least $MIN is good enough: nothing to build (the Makefile then uses it).
sys=$(pkg-config --modversion rdkafka 2>/dev/null || echo 0)
if [ "${ECOM_LIBRDKAFKA_FORCE:-0}" != 1 ] &&
   [ "$(printf '%s\n%s\n' "$MIN" "$sys" | sort -V | head -1)" = "$MIN" ]; then
  exit 0
fi
log "system librdkafka $sys is older than $MIN: building $VER from Debian trixie's source package"

SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
src_list=/etc/apt/sources.list.d/ecom-trixie-src.sources
if [ ! -f "$src_list" ]; then
  # deb-src only: apt never installs a binary package from this entry.
  $SUDO tee "$src_list" >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  dpkg-dev build-essential pkg-config python3 libssl-dev libsasl2-dev libsasl2-modules liblz4-dev \
  libzstd-dev zlib1g-dev rapidjson-dev libcurl4-openssl-dev >/dev/null

srcdir=$ECOM_CACHE/src/librdkafka-$DEBVER
if [ ! -f "$srcdir/.unpacked" ]; then
  rm -rf "$srcdir"; mkdir -p "$srcdir"
  (cd "$srcdir" && apt-get source -qq "librdkafka=$DEBVER" >/dev/null)
  touch "$srcdir/.unpacked"
fi
tree=$(find "$srcdir" -mindepth 1 -maxdepth 1 -type d -name 'librdkafka-*' | head -1)
[ -n "$tree" ] && [ -f "$tree/configure" ] || { log "no source tree in $srcdir"; exit 1; }

log "building in $tree (a few minutes, once)"
cd "$tree"
# No --install-deps: mklove then downloads nothing; every dependency comes from Debian.
./configure --prefix="$PREFIX" --disable-debug-symbols \
  --enable-ssl --enable-gssapi --enable-zstd --enable-lz4-ext --enable-zlib --enable-curl \
  >"$srcdir/configure.log" 2>&1 || { log "configure failed: see $srcdir/configure.log"; exit 1; }
nice make -j"$(nproc)" -C src lib >"$srcdir/make.log" 2>&1 || { log "make failed: see $srcdir/make.log"; exit 1; }
rm -rf "$PREFIX"
make -C src install >"$srcdir/install.log" 2>&1 || { log "make install failed: see $srcdir/install.log"; exit 1; }
got=$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --modversion rdkafka)
[ "$got" = "$VER" ] || { log "installed version is '$got', expected $VER"; exit 1; }
touch "$stamp"
log "installed $VER into $PREFIX"
