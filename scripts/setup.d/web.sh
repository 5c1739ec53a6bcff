#!/usr/bin/env bash
# web.sh — installs the dashboard's npm packages (uPlot, embedded into the binary at build time;
# playwright-core, for the browser tests) into src/dash/web/node_modules (gitignored) from the
# lock file, with npm's download cache under $ECOM_CACHE/npm. Idempotent: a stamp holding the
# lock file's hash skips the install when nothing changed. No browser is downloaded: the tests
# drive Debian's /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/../../src/dash/web"
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
stamp=node_modules/.ecom-lock-$(sha1sum package-lock.json | cut -c1-12)
[ -f "$stamp" ] && exit 0
printf 'setup: installing dashboard npm packages (npm ci)\n' >&2
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --cache "$ECOM_CACHE/npm" --no-audit --no-fund --loglevel=error >&2
touch "$stamp"
