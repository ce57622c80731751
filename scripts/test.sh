#!/usr/bin/env bash
# Set up (with test tools), make sure PostgreSQL runs, check style and types,
# and run the test suite. With arguments, only pytest runs, with those arguments
# (scripts/test.sh -k ingest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
scripts/ensure-postgres.sh
scripts/ensure-browser.sh
# The web console's browser test must run, not skip, where this script runs (CI).
export HOCVUSO_REQUIRE_BROWSER=${HOCVUSO_REQUIRE_BROWSER:-1}
export HOCVUSO_TEST_PG_URL=${HOCVUSO_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
if [ $# -eq 0 ]; then
  echo "==> ruff check, ruff format --check, mypy"
  .venv/bin/ruff check .
  .venv/bin/ruff format --check .
  .venv/bin/mypy bot ingest
fi
exec .venv/bin/python -m pytest "$@"
