#!/usr/bin/env bash
# Set up hocvuso on a fresh Debian machine: system tools for OCR, a virtualenv
# in .venv, and the package. Idempotent: a second run only checks.
#   scripts/setup.sh          runtime
#   scripts/setup.sh --dev    runtime + test tools (+ sentence-transformers backend)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

need_apt=()
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr)
if command -v tesseract >/dev/null 2>&1 && ! tesseract --list-langs 2>/dev/null | grep -qx vie; then
  need_apt+=(tesseract-ocr-vie)
elif ! command -v tesseract >/dev/null 2>&1; then
  need_apt+=(tesseract-ocr-vie)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing ${need_apt[*]} (Debian packages)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "warning: OCR needs: sudo apt-get install ${need_apt[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.hocvuso-installed-$dev
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing Python packages (a few minutes the first time)"
  .venv/bin/pip install -q --upgrade pip
  if [ $dev = 1 ]; then
    # CPU build of torch from the machine's wheel cache; unpinned torch pulls CUDA.
    .venv/bin/pip install -q "torch==2.13.0"
    .venv/bin/pip install -q -e ".[dev,st]"
  else
    .venv/bin/pip install -q -e .
  fi
  touch "$stamp"
fi
echo "==> ready: .venv/bin/hocvuso"
