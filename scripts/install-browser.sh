#!/usr/bin/env bash
# Install what the bedside page's end-to-end test needs: Debian's Chromium (the test drives the
# system browser; Playwright's own browser download is not used, so no binary is fetched from
# outside the package registries) and the Playwright Python package.
# Idempotent: does nothing that is already done. Needs root for apt-get.
set -euo pipefail

PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"

if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "chromium: $(chromium --version 2>/dev/null || echo missing)"

if ! "$PYTHON" -c "import playwright" >/dev/null 2>&1; then
    "$PYTHON" -m pip install --quiet "playwright>=1.45"
fi
echo "playwright: $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("playwright"))')"
