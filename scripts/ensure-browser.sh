#!/usr/bin/env bash
# The web console's browser test drives Debian's Chromium with Playwright (the
# Python package; `playwright install`, which downloads browsers, is never run).
# Install the browser from Debian when it is missing and we are root.
set -uo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "==> Chromium ready ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "warning: Chromium missing and not root: sudo apt-get install chromium fonts-dejavu-core" >&2
  exit 0
fi
echo "==> installing Chromium from Debian (browser test of the web console)"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version 2>/dev/null | head -1 || echo "warning: Chromium did not install" >&2
