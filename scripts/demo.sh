#!/usr/bin/env bash
# Set everything up and run the main job on embedded defaults: assess the bundled patients.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/vasoguide demo "$@"
