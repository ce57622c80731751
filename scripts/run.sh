#!/usr/bin/env bash
# Set up, index the shipped knowledge, and start the assistant: Telegram or
# Zalo when their token is in .env, otherwise a console chat.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f .env ] || cp .env.example .env
.venv/bin/hocvuso ingest -q
exec .venv/bin/hocvuso "$@"
