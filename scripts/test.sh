#!/usr/bin/env bash
# README's second command: set up (system packages included), lint, check the shipped config, run the
# whole test suite. With CI=true, tests needing PostgreSQL (or other servers) fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
INGESTD_SETUP_TEST=1 scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ingestd --config config/ingestd.toml check-config
exec .venv/bin/pytest "$@"
