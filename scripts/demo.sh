#!/usr/bin/env bash
# Sets up MCC and runs the demo: bash scripts/demo.sh [mcc demo arguments, e.g. --port 8080]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mcc demo "$@"
