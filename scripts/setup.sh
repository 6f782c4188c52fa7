#!/usr/bin/env bash
# Set up ingestd on a fresh machine of this image: system packages where missing, a locked virtualenv.
# Idempotent: re-running only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need_apt+=(dovecot-imapd)
# formal replies as PDF letters: a CJK font, HarfBuzz's font subsetter (fast embedding); pdftotext for tests
fc-list :lang=zh family 2>/dev/null | grep -q -e "Noto Serif CJK" -e "WenQuanYi Zen Hei" || need_apt+=(fonts-noto-cjk)
ls /usr/lib/*/libharfbuzz-subset.so.0 >/dev/null 2>&1 || need_apt+=(libharfbuzz-subset0)
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
# Scanned letters: Tesseract (the alternative OCR engine) with Simplified Chinese, and a CJK font for the tests'
# generated letters. RapidOCR, the default engine, comes with its models in its wheel.
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr)
ls /usr/share/tesseract-ocr/*/tessdata/chi_sim.traineddata >/dev/null 2>&1 || need_apt+=(tesseract-ocr-chi-sim)
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || [ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] \
  || need_apt+=(fonts-noto-cjk)
# the monthly report's test opens the HTML in a headless browser
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
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
