#!/usr/bin/env bash
# The main job on the embedded default: install, render a small dataset with local Ray and
# CPU Cycles, then inspect it. Usage: bash scripts/demo.sh [OUT_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo}
N=${2:-6}
bash scripts/install.sh
. .venv/bin/activate
export SYNTHHUMAN_ANNY_CACHE=${SYNTHHUMAN_ANNY_CACHE:-$PWD/.cache/anny}  # Anny model cache, shared across runs
synthhuman render --n "$N" --out "$OUT" --shard-size 3 --workers 1
synthhuman inspect "$OUT"
echo "shards: $OUT/shards/   report: $OUT/report/index.html   contact sheet: $OUT/report/contact_sheet.png"
