#!/usr/bin/env bash
# README's first command: set up, then run the demo on the embedded default (SQLite under ./var).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/ingestd demo "$@"
