#!/usr/bin/env bash
# Create .venv (Python 3.11) and install synthhuman with render, train and test extras.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "synthhuman needs Python 3.11 (bpy==5.0.1 is built for cp311); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "setuptools>=68"  # scripts/check_wheel.sh builds the wheel without build isolation
# torch first, pinned, so nothing later resolves a CUDA build.
python -m pip install -q -c constraints.txt torch==2.13.0
python -m pip install -q -c constraints.txt -e ".[render,train,test]"
