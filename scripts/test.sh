#!/usr/bin/env bash
# Install (if needed) and run the whole test suite. pytest's "no tests collected" (exit 5)
# counts as a failure: a suite that ran nothing proves nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit $?
. .venv/bin/activate
export SYNTHHUMAN_ANNY_CACHE=${SYNTHHUMAN_ANNY_CACHE:-$PWD/.cache/anny}  # Anny model cache, shared across runs
bash scripts/check_wheel.sh || { echo "the built wheel does not work: failing" >&2; exit 1; }
python -m pytest tests -q "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
