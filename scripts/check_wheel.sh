#!/usr/bin/env bash
# A real install, as a user gets it: build the wheel (not -e), install it into a fresh venv,
# and run the analytic render, inspect and `assets verify` from there, outside the checkout.
# Catches package data (configs/, assets_manifest/ YAML) missing from the wheel.
# The fresh venv borrows the dependencies already in .venv through PYTHONPATH (so no second
# multi-GB install); PYTHONPATH does not run .venv's editable-install hook, and the check below
# proves synthhuman itself is imported from the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" . >/dev/null 2>&1 \
  || { echo "check_wheel: building the wheel failed" >&2; exit 1; }
.venv/bin/python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --no-deps "$work"/dist/synthhuman-*.whl
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cd "$work"
export PYTHONPATH="$site"
"$work/venv/bin/python" - <<PY
import synthhuman, synthhuman.config, synthhuman.assets
assert synthhuman.__file__.startswith("$work/venv/"), f"synthhuman imported from {synthhuman.__file__}, not the wheel"
assert synthhuman.config.DEFAULT_CONFIG.is_file() and "$repo" not in str(synthhuman.config.DEFAULT_CONFIG)
PY
"$work/venv/bin/synthhuman" render --renderer analytic --n 4 --shard-size 2 --resolution 32x24 --samples 1 \
  --workers 0 --out "$work/out" --quiet
"$work/venv/bin/synthhuman" inspect "$work/out" --quiet --contact-rows 0 >/dev/null
"$work/venv/bin/synthhuman" assets verify >/dev/null
echo "check_wheel: wheel install renders, inspects and verifies assets"
