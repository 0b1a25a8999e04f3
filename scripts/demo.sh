#!/usr/bin/env bash
# The main job on the embedded default: install, render a small dataset with local Ray and
# CPU Cycles, then inspect it. Usage: bash scripts/demo.sh [OUT_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo}
N=${2:-30}  # ~10 s a sample at 384x512 on 2 CPU cores: about 6 minutes
bash scripts/install.sh
. .venv/bin/activate
export SYNTHHUMAN_ANNY_CACHE=${SYNTHHUMAN_ANNY_CACHE:-$PWD/.cache/anny}  # Anny model cache, shared across runs
synthhuman render --n "$N" --out "$OUT" --shard-size 10 --workers 1
synthhuman inspect "$OUT" --contact-rows 24  # 8 faces, 8 upper bodies, 8 full bodies where the data has them
echo "shards: $OUT/shards/   report: $OUT/report/index.html   contact sheet: $OUT/report/contact_sheet.png"
