#!/usr/bin/env bash
# Set up (with test tools), make sure PostgreSQL runs, and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
scripts/ensure-postgres.sh
export HOCVUSO_TEST_PG_URL=${HOCVUSO_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
exec .venv/bin/python -m pytest "$@"
