#!/usr/bin/env bash
# Set everything up and run the main job on embedded defaults:
#  1. assess the bundled example patients (decision, target, doses with rates, evidence);
#  2. replay one ICU stay of the bundled CLIF MIMIC-IV demo through the engine, as of each
#     new pressure, and write its timeline chart (PNG), page (HTML) and decisions (CSV) to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/vasoguide demo "$@"
.venv/bin/vasoguide replay --stay 28258130 --out out
