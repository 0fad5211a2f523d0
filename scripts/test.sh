#!/usr/bin/env bash
# Set everything up and run the whole suite: lint, types, tests (with the shared contract).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f scripts/install-browser.sh ]; then
  bash scripts/install-browser.sh || echo "browser install failed: end-to-end page tests will skip"
fi
export VASOGUIDE_TEST_PG_URL="$(bash scripts/postgres.sh start || true)"  # trail suite on PostgreSQL
echo "== ruff"; .venv/bin/ruff check src tests scripts benchmarks
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest "$@"
