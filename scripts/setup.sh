#!/usr/bin/env bash
# Set up ingestd on a fresh machine of this image: system packages where missing, a locked virtualenv.
# Idempotent: re-running only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need_apt+=(dovecot-imapd)
if [ "${INGESTD_SETUP_TEST:-0}" = 1 ] && [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "missing system packages: ${need_apt[*]} (install them as root)" >&2
  fi
fi

if ! command -v uv >/dev/null 2>&1 && [ ! -x .venv-tools/bin/uv ]; then
  python3 -m venv .venv-tools
  .venv-tools/bin/pip install -q uv
fi
UV=$(command -v uv || echo .venv-tools/bin/uv)
export UV_PYTHON_DOWNLOADS=never
# One environment for the demo and the tests (the test tools are small), so neither removes the other's.
"$UV" sync --locked --extra test -q --python "$(command -v python3)"
