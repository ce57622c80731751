#!/usr/bin/env bash
# Set up, index the shipped knowledge, and start the assistant: Telegram or
# Zalo when their token is in .env, otherwise a console chat.
#
# The web console for managers and admins runs beside it:
#   scripts/run.sh serve web        (listens on WEB_HOST:WEB_PORT, default 127.0.0.1:8080)
# then type /web in the chat (Telegram, Zalo or `scripts/run.sh chat --admin`) for a
# one-time sign-in link, or print one for the first admin with
#   .venv/bin/hocvuso web link [--staff CODE]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f .env ] || cp .env.example .env
.venv/bin/hocvuso ingest -q
exec .venv/bin/hocvuso "$@"
